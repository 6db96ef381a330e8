package compensate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"payhub/contracts"
	"payhub/internal/ledger"
)

// The nanaco re-credit route (docs/compensation.md, "How each claim is paid"): a claim the
// original cannot pay back and that names a nanaco card is moved into the card's
// centre-held value by a value transfer (contracts.ValueTransfers, nanaco's /transfers).
//
// Each attempt's partner ref is derived from the claim id and the attempt, never at
// random, and written with the claim (status refunding, route nanaco, ref) and its "sent"
// posting in one transaction before the call; the outcome and its posting are written in
// one transaction after it. An unknown outcome is settled by InquireTransfer under the same
// ref, in this run or the next, never sent again blind; only an inquiry's not_processed
// (found:false: nanaco fences the key, nothing moved and nothing will) allows a new attempt,
// under a new derived ref, at most MaxNanacoAttempts in all.
//
// Ledger (ids "compensation:<claim id>:nanaco:<attempt>:<event>", so a replay posts nothing
// more):
//
//	sent      Dr compensation_expense                Cr compensation_in_transit:nanaco
//	moved     Dr compensation_in_transit:nanaco      Cr compensation_recredited:nanaco
//	returned  Dr compensation_in_transit:nanaco      Cr compensation_expense
//
// so compensation_in_transit:nanaco is back at zero once every re-credit has settled.

// MaxNanacoAttempts bounds the transfer attempts of one claim (each under its own ref);
// after as many proven not to have moved, the claim falls to the bank row.
const MaxNanacoAttempts = 3

// maxSeq bounds the derived sequence: the adapter takes refs up to its MaxSeq (499,999;
// the numbers above are its cancel keys, adapters/nanaco/keys.go).
const maxSeq = 499_999

// nanacoTerminalPrefix starts the compensation's transfer terminals: every MIG-… terminal
// is enabled for transfers at nanaco (docs/partners/nanaco.md §B5).
const nanacoTerminalPrefix = "MIG-CMP-"

// Ledger kinds of the re-credit route.
const (
	KindRecreditSent     contracts.LedgerKind = "compensation.nanaco_sent"
	KindRecreditMoved    contracts.LedgerKind = "compensation.nanaco_moved"
	KindRecreditReturned contracts.LedgerKind = "compensation.nanaco_returned"
)

// NanacoRef is the partner ref of a claim's attempt-th re-credit, on business date day
// (YYYYMMDD, the attempt's): the terminal MIG-CMP-<16 hex of SHA-256(claim id)>-<attempt>
// (one terminal per claim and attempt, so no two claims ever share a key) and a sequence
// from the next bytes of the same hash.
func NanacoRef(claimID string, attempt int, day string) string {
	sum := sha256.Sum256([]byte("payhub-compensation:" + claimID))
	seq := int(binary.BigEndian.Uint32(sum[8:12])%maxSeq) + 1
	return contracts.SequenceRef{Terminal: fmt.Sprintf("%s%s-%d", nanacoTerminalPrefix, hex.EncodeToString(sum[:8]), attempt),
		BusinessDate: day, Seq: seq}.String()
}

// nanacoAttempt is the attempt a ref written by NanacoRef names (0 when it is not one).
func nanacoAttempt(ref string) int {
	r, err := contracts.ParseSequenceRef(ref)
	if err != nil || !strings.HasPrefix(r.Terminal, nanacoTerminalPrefix) {
		return 0
	}
	n, err := strconv.Atoi(r.Terminal[strings.LastIndexByte(r.Terminal, '-')+1:])
	if err != nil {
		return 0
	}
	return n
}

func recreditPosting(c Claim, attempt int, event string, kind contracts.LedgerKind, debit, credit string, amount int64, at contracts.CompensationClaim) contracts.LedgerTransaction {
	return contracts.LedgerTransaction{ID: fmt.Sprintf("compensation:%s:nanaco:%d:%s", c.ClaimID, attempt, event), Kind: kind,
		ObjectType: contracts.LedgerObjectMigration, ObjectID: c.ClaimID, CreatedAt: at.UpdatedAt,
		Entries: []contracts.LedgerEntry{
			{Account: debit, Debit: amount, Currency: contracts.JPY},
			{Account: credit, Credit: amount, Currency: contracts.JPY},
		}}
}

// sourceRef names the claim for nanaco's records (at most 64 characters).
func sourceRef(claimID string) string {
	if s := "compensation/" + claimID; len(s) <= 64 {
		return s
	}
	sum := sha256.Sum256([]byte(claimID))
	return "compensation/" + hex.EncodeToString(sum[:16])
}

// viaNanaco re-credits the claim to its nanaco card. done when the claim is settled or its
// outcome is open (unknown: the next run inquires); not done when nothing moved and
// nothing will (refused, cancelled, or every attempt fenced), with returned the postings
// that give the sent amount back, for the fallback's transaction.
func (e *Engine) viaNanaco(ctx context.Context, c Claim, rec *contracts.CompensationClaim) (done bool, returned []contracts.LedgerTransaction, err error) {
	var (
		res      contracts.TransferResult
		inquired bool
		attempt  = nanacoAttempt(rec.Ref)
	)
	if rec.Route == contracts.RouteNanaco && attempt > 0 {
		// Written (and perhaps sent) by an earlier run: what became of it is asked, never
		// sent again blind.
		res, inquired = e.cfg.Transfers.InquireTransfer(ctx, rec.Ref), true
	} else {
		attempt = 1
		if err := e.writeAttempt(ctx, c, rec, attempt, nil); err != nil {
			return false, nil, err
		}
		res = e.transfer(ctx, c, rec.Ref)
	}
	for {
		switch {
		case res.Outcome == contracts.OutcomeSucceeded && res.Credited.Amount == c.Amount:
			rec.Status, rec.AmountPaid, rec.Detail = contracts.CompensationRecredit, c.Amount, ""
			if res.PartnerTxnID != "" {
				rec.Detail = "nanaco transaction " + truncate(res.PartnerTxnID)
			}
			rec.UpdatedAt = e.now()
			moved := recreditPosting(c, attempt, "moved", KindRecreditMoved, ledger.CompensationInTransit("nanaco"),
				ledger.CompensationRecredited("nanaco"), c.Amount, *rec)
			r, err := e.update(ctx, *rec, moved)
			*rec = r
			return true, nil, err
		case res.Outcome == contracts.OutcomeSucceeded:
			// Not asked for (the transfer is sent without AllowPartial): left open for an
			// operator, its sent amount in transit, rather than guessed at.
			rec.Status = contracts.CompensationUnknown
			rec.Detail = truncate(fmt.Sprintf("nanaco credited %d of %d yen under %s; an operator must settle it", res.Credited.Amount, c.Amount, rec.Ref))
			r, err := e.update(ctx, *rec)
			*rec = r
			return true, nil, err
		case res.Outcome == contracts.OutcomeFailed && res.FailureCode == "not_processed" && !inquired:
			// The centre does not have it; the key is fenced by an inquiry before any new
			// attempt, so that this one can never land later.
			res, inquired = e.cfg.Transfers.InquireTransfer(ctx, rec.Ref), true
			continue
		case res.Outcome == contracts.OutcomeUnknown && !inquired:
			rec.Status, rec.Detail = contracts.CompensationUnknown, truncate("the transfer's outcome is open: "+res.FailureMessage)
			r, err := e.update(ctx, *rec)
			*rec = r
			if err != nil {
				return false, nil, err
			}
			res, inquired = e.cfg.Transfers.InquireTransfer(ctx, rec.Ref), true
			continue
		case res.Outcome == contracts.OutcomeUnknown:
			rec.Status, rec.Detail = contracts.CompensationUnknown, truncate("the transfer's outcome is open; the next run asks nanaco again: "+res.FailureMessage)
			r, err := e.update(ctx, *rec)
			*rec = r
			return true, nil, err
		case res.Outcome == contracts.OutcomeFailed && !inquired && (res.FailureCode == contracts.FailurePartnerUnavailable ||
			res.FailureCode == "partner_config" || res.PartnerCode == "BUSINESS_DATE_INVALID"):
			// Nothing moved, but the refusal says nothing about the claim: nanaco is not
			// taking requests (maintenance, rate limit), payhub's setup is wrong, or the
			// centre's date moved on. The claim stays open; the next run fences this ref by
			// inquiry and makes a new attempt.
			rec.Status = contracts.CompensationUnknown
			rec.Detail = truncate("nanaco did not take the transfer (" + res.PartnerCode + ": " + res.FailureMessage + "); the next run tries again")
			r, err := e.update(ctx, *rec)
			*rec = r
			return true, nil, err
		}
		// Nothing moved and nothing will under this ref: refused, cancelled at nanaco, or
		// fenced by the inquiry.
		rec.UpdatedAt = e.now()
		back := recreditPosting(c, attempt, "returned", KindRecreditReturned, ledger.CompensationInTransit("nanaco"),
			ledger.CompensationExpense, c.Amount, *rec)
		fenced := res.Outcome == contracts.OutcomeFailed && res.FailureCode == "not_processed" && inquired
		if !fenced || attempt >= MaxNanacoAttempts {
			why := res.PartnerCode + ": " + res.FailureMessage
			if fenced {
				why = fmt.Sprintf("no transfer reached nanaco in %d attempts", attempt)
			}
			rec.Detail = truncate("nanaco re-credit refused (" + why + ")")
			return false, []contracts.LedgerTransaction{back}, nil
		}
		attempt++
		if err := e.writeAttempt(ctx, c, rec, attempt, &back); err != nil {
			return false, nil, err
		}
		res, inquired = e.transfer(ctx, c, rec.Ref), false
	}
}

// writeAttempt records the claim's attempt-th re-credit (status refunding, route nanaco,
// its derived ref) with its sent posting, and back (the previous attempt's returned
// posting) when set, in one transaction, before the transfer is sent.
func (e *Engine) writeAttempt(ctx context.Context, c Claim, rec *contracts.CompensationClaim, attempt int, back *contracts.LedgerTransaction) error {
	now := e.now()
	next := *rec
	next.Status, next.Route, next.Ref, next.AmountPaid, next.Detail = contracts.CompensationRefunding, contracts.RouteNanaco,
		NanacoRef(c.ClaimID, attempt, contracts.BusinessDate(now)), 0, ""
	next.UpdatedAt = now
	posts := []contracts.LedgerTransaction{}
	if back != nil {
		posts = append(posts, *back)
	}
	posts = append(posts, recreditPosting(c, attempt, "sent", KindRecreditSent, ledger.CompensationExpense,
		ledger.CompensationInTransit("nanaco"), c.Amount, next))
	r, err := e.update(ctx, next, posts...)
	if err != nil {
		return err
	}
	*rec = r
	return nil
}

// transfer sends the claim's re-credit under ref. AllowPartial is off: a card whose
// centre-held room (¥50,000) is short refuses the whole transfer, so that a claim is paid
// by one route only (one route, one ref, one report line, one bank row or none) and falls
// to the bank row whole, rather than split between a part credited and a part owed.
func (e *Engine) transfer(ctx context.Context, c Claim, ref string) contracts.TransferResult {
	return e.cfg.Transfers.TransferIn(ctx, contracts.TransferRequest{PartnerRef: ref, NanacoNumber: c.NanacoNumber,
		Amount: contracts.Money{Amount: c.Amount, Currency: contracts.JPY}, SourceRef: sourceRef(c.ClaimID)})
}

func truncate(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}
