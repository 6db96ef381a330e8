package migrate

import (
	"context"
	"fmt"
	"time"

	"payhub/contracts"
	"payhub/internal/ledger"
	"payhub/internal/migration"
)

// Ledger postings of a move (each in the transaction of the state change it records; ids
// derived from the run, the row and the destination, so that a replay posts nothing more):
//
//   - written, to a partner: debit migration_in_transit:<partner>, credit
//     retired_wallet_liability — the wallet's liability for the amount is taken on as the
//     funds set off to the partner;
//   - succeeded: debit retired_wallet_liability, credit migration_in_transit:<partner> by
//     what was credited (the liability is discharged: the partner holds it for the user);
//   - failed, deferred, or the part of a partial credit not credited: the same, as
//     "returned" (the funds come back; the amount is still owed in the retired wallet);
//   - a bank refund: debit migration_in_transit:bank, credit bank_refund_payable.
//
// After a finished run migration_in_transit of the partners is back at zero for the run,
// and the "moved" postings sum to the report's moved yen per destination.

// Ledger kinds of the migration.
const (
	// KindMoveSent: a move written, its amount on its way to a partner.
	KindMoveSent contracts.LedgerKind = "migration.sent"
	// KindMoveMoved: a partner credited the user.
	KindMoveMoved contracts.LedgerKind = "migration.moved"
	// KindMoveReturned: what a partner did not credit comes back.
	KindMoveReturned contracts.LedgerKind = "migration.returned"
	// KindBankRefund: a balance (or what the total cap leaves over) queued for a bank refund.
	KindBankRefund contracts.LedgerKind = "migration.bank_refund"
)

// ledgerPrefix prefixes the ids of a run's ledger transactions.
func ledgerPrefix(runID string) string { return "migration:" + runID + ":" }

func ledgerID(m contracts.MigrationMove, event string) string {
	return fmt.Sprintf("%s%012d:%s:%s", ledgerPrefix(m.RunID), m.Line, m.Kind, event)
}

func posting(m contracts.MigrationMove, event string, kind contracts.LedgerKind, debit, credit string, amount int64, at time.Time) contracts.LedgerTransaction {
	return contracts.LedgerTransaction{ID: ledgerID(m, event), Kind: kind, ObjectType: contracts.LedgerObjectMigration,
		ObjectID: fmt.Sprintf("%s/%d/%s", m.RunID, m.Line, m.Kind), CreatedAt: at,
		Entries: []contracts.LedgerEntry{
			{Account: debit, Debit: amount, Currency: contracts.JPY},
			{Account: credit, Credit: amount, Currency: contracts.JPY},
		}}
}

// postingOnWrite is the posting of a move as it is written.
func postingOnWrite(m contracts.MigrationMove, at time.Time) (contracts.LedgerTransaction, bool) {
	switch {
	case m.Amount <= 0:
		return contracts.LedgerTransaction{}, false
	case m.Kind == string(migration.KindBank) && m.Status == contracts.MoveBankRefund:
		return posting(m, "bank_refund", KindBankRefund, ledger.MigrationInTransit(m.Kind), ledger.BankRefundPayable, m.Amount, at), true
	case m.Status == contracts.MovePending:
		return posting(m, "sent", KindMoveSent, ledger.MigrationInTransit(m.Kind), ledger.RetiredWalletLiability, m.Amount, at), true
	}
	return contracts.LedgerTransaction{}, false // refused at once: nothing set off
}

// postingsOnSettle are the postings of a move settling (succeeded, failed or deferred).
func postingsOnSettle(m contracts.MigrationMove, at time.Time) []contracts.LedgerTransaction {
	var out []contracts.LedgerTransaction
	if m.Credited > 0 {
		out = append(out, posting(m, "moved", KindMoveMoved, ledger.RetiredWalletLiability, ledger.MigrationInTransit(m.Kind), m.Credited, at))
	}
	if rest := m.Amount - m.Credited; rest > 0 {
		out = append(out, posting(m, "returned", KindMoveReturned, ledger.RetiredWalletLiability, ledger.MigrationInTransit(m.Kind), rest, at))
	}
	return out
}

// record writes m's new state (and, when it settles, its postings) unless the stored move
// is final already. It reports whether it wrote.
func (e *engine) record(db context.Context, m contracts.MigrationMove) bool {
	m.UpdatedAt = e.cfg.Now().UTC()
	wrote := false
	err := e.cfg.Store.InTx(db, func(tx contracts.Tx) error {
		cur, err := tx.GetMigrationMoveForUpdate(db, m.RunID, m.Line, m.Kind)
		if err != nil {
			return err
		}
		if cur.Status.Final() {
			return nil
		}
		if err := tx.UpdateMigrationMove(db, m); err != nil {
			return err
		}
		if m.Status.Final() {
			for _, t := range postingsOnSettle(m, m.UpdatedAt) {
				if err := ledger.Post(db, tx, t); err != nil {
					return err
				}
			}
		}
		wrote = true
		return nil
	})
	if err != nil {
		e.fail(fmt.Errorf("migrate: record move %d (%s): %w", m.Line, m.Kind, err))
		return false
	}
	return wrote
}

func (e *engine) process(ctx, db context.Context, j job) {
	if ctx.Err() != nil {
		return // stopping: the move stays as written, and the next run settles it
	}
	switch j.m.Kind {
	case string(migration.KindNanaco):
		e.nanaco(ctx, db, j)
	case string(migration.KindPayPay):
		e.paypay(ctx, db, j)
	}
}

// nanaco sends (or, settling, inquires about) a transfer into centre-held and records the
// outcome. An unknown outcome is inquired about under the same key; only an inquiry's
// found:false (the key fenced: nothing moved, nothing will) allows a new attempt, under a
// new derived key.
func (e *engine) nanaco(ctx, db context.Context, j job) {
	m := j.m
	var res contracts.TransferResult
	if j.settle {
		res = e.inquireTransfer(ctx, m)
	} else {
		res = e.transfer(ctx, m, j.row)
		if res.Outcome == contracts.OutcomeUnknown {
			m.Status, m.PartnerTxnID, m.Detail = contracts.MoveUnknown, res.PartnerTxnID, truncate(res.FailureMessage)
			if !e.record(db, m) {
				return
			}
			res = e.inquireTransfer(ctx, m)
		}
	}
	for {
		switch res.Outcome {
		case contracts.OutcomeSucceeded:
			m.Status, m.Credited, m.PartnerTxnID, m.Detail = contracts.MoveSucceeded, min(res.Credited.Amount, m.Amount), res.PartnerTxnID, ""
			if m.Credited < m.Amount {
				m.Detail = fmt.Sprintf("the card's centre-held room took %d of %d yen; the rest is deferred", m.Credited, m.Amount)
			}
		case contracts.OutcomeFailed:
			if res.FailureCode == "not_processed" {
				// Proven not moved: a new attempt, if the run goes on.
				if ctx.Err() != nil || m.Attempt >= maxAttempts {
					if m.Attempt >= maxAttempts {
						m.Status, m.Detail = contracts.MoveFailed, "no attempt reached nanaco: "+truncate(res.FailureMessage)
						e.record(db, m)
					}
					return
				}
				m.Attempt++
				m.PartnerRef, m.Status, m.Detail = e.nanacoRef(m.Line, m.Attempt), contracts.MovePending, ""
				if !e.record(db, m) {
					return
				}
				res = e.transfer(ctx, m, j.row)
				if res.Outcome == contracts.OutcomeUnknown {
					m.Status, m.Detail = contracts.MoveUnknown, truncate(res.FailureMessage)
					if !e.record(db, m) {
						return
					}
					res = e.inquireTransfer(ctx, m)
				}
				continue
			}
			m.Status, m.Detail = contracts.MoveFailed, truncate(res.PartnerCode+": "+res.FailureMessage)
			if res.PartnerCode == "BALANCE_CAP_EXCEEDED" {
				m.Status, m.Detail = contracts.MoveDeferred, "the card's centre-held value is full: deferred to a later run"
			}
		case contracts.OutcomeCanceled:
			m.Status, m.Detail = contracts.MoveFailed, "the transfer was cancelled at nanaco"
		default:
			m.Status, m.Detail = contracts.MoveUnknown, truncate(res.FailureMessage)
		}
		break
	}
	if e.record(db, m) && j.settle && m.Status.Final() {
		e.settled.Add(1)
	}
}

func (e *engine) transfer(ctx context.Context, m contracts.MigrationMove, row migration.Row) contracts.TransferResult {
	if err := e.limiters[m.Kind].Wait(ctx); err != nil {
		return contracts.TransferResult{Outcome: contracts.OutcomeFailed, FailureCode: "not_processed", FailureMessage: "not sent: the run stopped"}
	}
	e.sent.Add(1)
	return e.cfg.Nanaco.TransferIn(ctx, contracts.TransferRequest{PartnerRef: m.PartnerRef, NanacoNumber: row.Destination.NanacoNumber,
		Amount: contracts.Money{Amount: m.Amount, Currency: contracts.JPY}, SourceRef: e.sourceRef(m), AllowPartial: true})
}

// inquireTransfer asks nanaco about m's key until it answers something other than unknown,
// for at most SettleWait and no longer than the run goes on; the first inquiry is made
// even when the run is stopping (an answer lost to the stop is only asked again next time).
func (e *engine) inquireTransfer(ctx context.Context, m contracts.MigrationMove) contracts.TransferResult {
	qctx, cancel := context.WithTimeout(ctx, e.cfg.SettleWait)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		e.inquiries.Add(1)
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.SettleWait)
		res := e.cfg.Nanaco.InquireTransfer(cctx, m.PartnerRef)
		ccancel()
		if res.Outcome != contracts.OutcomeUnknown || !sleep(qctx, wait) {
			return res
		}
		wait = min(2*wait, time.Second)
	}
}

// paypay gives (or, settling, asks about) a cashback to the linked account and records the
// outcome. The cashback is idempotent on its derived id, so after a "not found" the same
// request may be sent again; PayPay's acceptance is followed by its details until it
// succeeds or fails.
func (e *engine) paypay(ctx, db context.Context, j job) {
	m := j.m
	ua, why, err := e.userAuthorization(db, j.row.Destination.PayPayAccount)
	if err != nil {
		e.fail(err)
		return
	}
	unsent := false
	give := func() contracts.CashbackResult {
		if err := e.limiters[m.Kind].Wait(ctx); err != nil {
			unsent = true
			return contracts.CashbackResult{Outcome: contracts.OutcomeUnknown, FailureMessage: "not sent: the run stopped"}
		}
		e.sent.Add(1)
		return e.cfg.PayPay.GiveCashback(ctx, contracts.CashbackRequest{MerchantCashbackID: m.PartnerRef, UserAuthorizationID: ua,
			Amount: contracts.Money{Amount: m.Amount, Currency: contracts.JPY}, Description: "retired wallet balance"})
	}
	var res contracts.CashbackResult
	if j.settle {
		e.inquiries.Add(1)
		res = e.cfg.PayPay.GetCashback(context.WithoutCancel(ctx), m.PartnerRef)
		switch {
		case res.Outcome != contracts.OutcomeNotFound:
		case why != "":
			res = contracts.CashbackResult{Outcome: contracts.OutcomeFailed, FailureMessage: why} // never given, and now cannot be
		case ctx.Err() == nil:
			res = give() // the same idempotent request: PayPay answers the original if it had it
		}
	} else {
		res = give()
	}
	if unsent {
		return // as written (pending): the next run asks PayPay first
	}
	if res.Outcome != contracts.OutcomeSucceeded && res.Outcome != contracts.OutcomeFailed {
		// Accepted (or unknown): PayPay's details say how it ends. Asked at once, then
		// backing off, for at most SettleWait and no longer than the run goes on.
		qctx, cancel := context.WithTimeout(ctx, e.cfg.SettleWait)
		defer cancel()
		wait := 50 * time.Millisecond
		for first := true; res.Outcome != contracts.OutcomeSucceeded && res.Outcome != contracts.OutcomeFailed; first = false {
			if !first && !sleep(qctx, wait) {
				break
			}
			e.inquiries.Add(1)
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.SettleWait)
			res = e.cfg.PayPay.GetCashback(cctx, m.PartnerRef)
			ccancel()
			if !first {
				wait = min(2*wait, time.Second)
			}
		}
	}
	switch res.Outcome {
	case contracts.OutcomeSucceeded:
		m.Status, m.Credited, m.PartnerTxnID, m.Detail = contracts.MoveSucceeded, m.Amount, res.PartnerID, ""
		if res.Amount.Amount > 0 && res.Amount.Amount < m.Amount {
			m.Credited = res.Amount.Amount
		}
	case contracts.OutcomeFailed:
		m.Status, m.Detail = contracts.MoveFailed, truncate(res.PartnerCode+": "+res.FailureMessage)
	default:
		// Pending, not found right after a give, or unknown: the next run asks again.
		m.Status, m.Detail = contracts.MoveUnknown, truncate(string(res.Outcome)+": "+res.FailureMessage)
	}
	if e.record(db, m) && j.settle && m.Status.Final() {
		e.settled.Add(1)
	}
}

func truncate(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	return s[:max]
}
