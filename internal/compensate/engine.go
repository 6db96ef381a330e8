package compensate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"payhub/contracts"
	"payhub/internal/hub"
	"payhub/internal/idempotency"
	"payhub/internal/ledger"
)

// Hub is what the engine needs of the payments engine: the stores' own refund and cancel,
// so that a compensation's refund is checked, reserved, sent, resolved and posted exactly as
// a store's is (hub.Hub implements it).
type Hub interface {
	CreateRefund(ctx context.Context, c hub.Caller, idem idempotency.Key, paymentID string, cmd hub.CreateRefund) (hub.Response, error)
	CancelPayment(ctx context.Context, c hub.Caller, idem idempotency.Key, id, reason string) (hub.Response, error)
}

// Config wires an Engine.
type Config struct {
	Store contracts.Store
	Hub   Hub
	Clock contracts.Clock
	// Transfers is the nanaco partner's value transfers, for the re-credit route; nil
	// leaves a claim that only a re-credit could pay open (pending) for a run that has it.
	Transfers contracts.ValueTransfers
	// BankRow receives each new bank refund row after its claim is recorded bank_refund (and
	// posted to the ledger); nil drops them. The bank file is rewritten from the claims
	// table at the end of a run (BankRows), so this is a notification only.
	BankRow func(c Claim) error
}

// Engine pays claims.
type Engine struct{ cfg Config }

// New returns an Engine.
func New(cfg Config) *Engine {
	if cfg.Clock == nil {
		cfg.Clock = contracts.SystemClock{}
	}
	return &Engine{cfg: cfg}
}

// Outcome is what became of one claim in a run.
type Outcome struct {
	Claim  Claim
	Status contracts.CompensationStatus
	Route  contracts.CompensationRoute
	Ref    string
	Paid   int64
	Reason string
	Detail string
	// Already is set when the claim was settled by an earlier run (this run paid nothing).
	Already bool
}

// IdempotencyKey is the Idempotency-Key of a claim's hub request for route: derived from the
// claim id alone, so no re-run can ever refund or cancel twice.
func IdempotencyKey(claimID string, route contracts.CompensationRoute) idempotency.Key {
	key := "payhub-compensation:" + claimID + ":" + string(route)
	sum := sha256.Sum256([]byte(key))
	return idempotency.Key{Key: key, Fingerprint: hex.EncodeToString(sum[:])}
}

func (e *Engine) now() time.Time { return e.cfg.Clock.Now().UTC().Truncate(time.Microsecond) }

// Pay records the claim (once ever) and routes it. A Go error means the claim could not be
// handled now (a database error); run again.
func (e *Engine) Pay(ctx context.Context, c Claim) (Outcome, error) {
	rec, fresh, err := e.record(ctx, c)
	if err != nil {
		return Outcome{}, err
	}
	out := func(r contracts.CompensationClaim, already bool) Outcome {
		return Outcome{Claim: c, Status: r.Status, Route: r.Route, Ref: r.Ref, Paid: r.AmountPaid, Reason: r.Reason, Detail: r.Detail, Already: already}
	}
	if rec.Status.Final() {
		return out(rec, !fresh), nil
	}
	rec, err = e.route(ctx, c, rec)
	if err != nil {
		return Outcome{}, err
	}
	return out(rec, false), nil
}

// record writes the claim, checked against its original, in one transaction; a claim
// recorded before with the same body is returned as it stands, with another body refused.
func (e *Engine) record(ctx context.Context, c Claim) (contracts.CompensationClaim, bool, error) {
	var (
		rec   contracts.CompensationClaim
		fresh bool
	)
	err := e.cfg.Store.InTx(ctx, func(tx contracts.Tx) error {
		cur, err := tx.GetCompensationClaimForUpdate(ctx, c.ClaimID)
		if err == nil {
			rec = cur
			if cur.BodyHash != c.BodyHash() {
				rec = contracts.CompensationClaim{ClaimID: c.ClaimID, Amount: c.Amount, Status: contracts.CompensationRejected,
					Reason: string(ReasonDuplicateConflict), Detail: "the claim id was recorded before with another body"}
			}
			return nil
		}
		if !errors.Is(err, contracts.ErrNotFound) {
			return err
		}
		now := e.now()
		fresh = true
		rec = contracts.CompensationClaim{ClaimID: c.ClaimID, VictimID: c.VictimID, OriginalID: c.OriginalID, Amount: c.Amount,
			BodyHash: c.BodyHash(), Status: contracts.CompensationPending, CreatedAt: now, UpdatedAt: now}
		if reason, detail, err := e.check(ctx, tx, c); err != nil {
			return err
		} else if reason != "" {
			rec.Status, rec.Reason, rec.Detail = contracts.CompensationRejected, string(reason), detail
		}
		return tx.InsertCompensationClaim(ctx, rec)
	})
	return rec, fresh, err
}

// check refuses a claim whose original is unknown, not paid, or smaller than what it and
// the other claims against it ask.
func (e *Engine) check(ctx context.Context, tx contracts.Tx, c Claim) (Reason, string, error) {
	others, err := tx.ListCompensationClaimsByOriginal(ctx, c.OriginalID)
	if err != nil {
		return "", "", err
	}
	var claimed int64
	for _, o := range others {
		if o.Status != contracts.CompensationRejected {
			claimed += o.Amount
		}
	}
	var open int64
	if contracts.ValidID(contracts.PrefixTopUp, c.OriginalID) {
		t, err := e.cfg.Store.GetTopUp(ctx, "", c.OriginalID)
		if errors.Is(err, contracts.ErrNotFound) {
			return ReasonUnknownOriginal, "no such top-up", nil
		} else if err != nil {
			return "", "", err
		}
		if t.Status != contracts.TopUpSucceeded {
			return ReasonNotPaid, fmt.Sprintf("the top-up is %s", t.Status), nil
		}
		open = t.Amount.Amount - claimed
	} else {
		p, err := e.cfg.Store.GetPayment(ctx, "", c.OriginalID)
		if errors.Is(err, contracts.ErrNotFound) {
			return ReasonUnknownOriginal, "no such payment", nil
		} else if err != nil {
			return "", "", err
		}
		switch p.Status {
		case contracts.StatusSucceeded:
			refunds, err := e.cfg.Store.ListRefunds(ctx, p.ID)
			if err != nil {
				return "", "", err
			}
			var reserved int64
			for _, r := range refunds {
				if r.Status.Reserves() {
					reserved += r.Amount.Amount
				}
			}
			// Claims whose payhub refund exists are among the refunds already.
			for _, o := range others {
				if o.Status != contracts.CompensationRejected && o.Route == contracts.RouteRefund && o.Ref != "" {
					claimed -= o.Amount
				}
			}
			open = p.RefundableAmount(reserved) - claimed
		case contracts.StatusAuthorized:
			open = p.Amount.Amount - claimed
		default:
			return ReasonNotPaid, fmt.Sprintf("the payment is %s", p.Status), nil
		}
	}
	if c.Amount > open {
		return ReasonOverRefundable, fmt.Sprintf("claimed %d yen; %d yen remains refundable", c.Amount, max(open, 0)), nil
	}
	return "", "", nil
}

// update moves the claim (not final) to rec's status, with posts posted in the same
// transaction.
func (e *Engine) update(ctx context.Context, rec contracts.CompensationClaim, posts ...contracts.LedgerTransaction) (contracts.CompensationClaim, error) {
	rec.UpdatedAt = e.now()
	err := e.cfg.Store.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.UpdateCompensationClaim(ctx, rec); err != nil {
			return err
		}
		for _, p := range posts {
			if err := ledger.Post(ctx, tx, p); err != nil {
				return err
			}
		}
		return nil
	})
	return rec, err
}

// route pays an open claim: through the original payment (cancel or refund) while it can
// be, else by a nanaco re-credit, else by a bank refund row. A claim whose re-credit was
// written before goes on with it (its original is not asked again).
func (e *Engine) route(ctx context.Context, c Claim, rec contracts.CompensationClaim) (contracts.CompensationClaim, error) {
	if rec.Route != contracts.RouteNanaco && contracts.ValidID(contracts.PrefixPayment, c.OriginalID) {
		p, err := e.cfg.Store.GetPayment(ctx, "", c.OriginalID)
		if err != nil {
			return rec, err
		}
		done, err := e.viaPayment(ctx, c, &rec, p)
		if err != nil || done {
			return rec, err
		}
	}
	return e.fallback(ctx, c, rec)
}

// viaPayment tries the original payment; done when the claim is settled or its outcome is
// open (unknown), not done when the payment can no longer pay it back.
func (e *Engine) viaPayment(ctx context.Context, c Claim, rec *contracts.CompensationClaim, p contracts.Payment) (bool, error) {
	caller := hub.Caller{ClientID: p.ClientID, StoreID: p.StoreID}
	// A cancel before billing: an authorization never captured, or a card payment taken in
	// full and claimed in full, not refunded in part (the partner's cancel voids it whole).
	tryCancel := rec.Route != contracts.RouteRefund && (p.Status == contracts.StatusAuthorized ||
		p.Status == contracts.StatusCanceled && rec.Route == contracts.RouteCancel ||
		p.Method == contracts.MethodCard && p.Status == contracts.StatusSucceeded && p.AmountRefunded == 0 && c.Amount == p.AmountCaptured)
	if tryCancel {
		if rec.Route != contracts.RouteCancel {
			rec.Status, rec.Route, rec.Ref = contracts.CompensationRefunding, contracts.RouteCancel, p.ID
			if r, err := e.update(ctx, *rec); err != nil {
				return false, err
			} else {
				*rec = r
			}
		}
		var cerr error
		if p.Status != contracts.StatusCanceled {
			_, cerr = e.cfg.Hub.CancelPayment(ctx, caller, IdempotencyKey(c.ClaimID, contracts.RouteCancel), p.ID, "compensation")
		}
		cur, err := e.cfg.Store.GetPayment(ctx, "", p.ID)
		if err != nil {
			return false, err
		}
		switch {
		case cur.Status == contracts.StatusCanceled:
			rec.Status, rec.AmountPaid, rec.Detail = contracts.CompensationRefunded, c.Amount, ""
			r, err := e.update(ctx, *rec)
			*rec = r
			return true, err
		case cur.CancelRequested:
			rec.Status, rec.Detail = contracts.CompensationUnknown, "the cancel's outcome is open; the resolver settles it"
			r, err := e.update(ctx, *rec)
			*rec = r
			return true, err
		case cur.Status != contracts.StatusSucceeded:
			// The cancel was refused and nothing can be refunded: pay it another way.
			rec.Detail = fmt.Sprintf("cancel refused: %v", cerr)
			return false, nil
		}
		p = cur // the cancel window passed: refund instead
	}
	if p.Status != contracts.StatusSucceeded {
		return false, nil
	}
	key := IdempotencyKey(c.ClaimID, contracts.RouteRefund)
	if rec.Route != contracts.RouteRefund {
		rec.Status, rec.Route, rec.Ref = contracts.CompensationRefunding, contracts.RouteRefund, ""
		r, err := e.update(ctx, *rec)
		if err != nil {
			return false, err
		}
		*rec = r
	}
	// A refund sent under the claim's key before (whatever became of its idempotency
	// record) is the claim's refund: it is never sent again.
	ref, err := e.refundOf(ctx, p, key.Key)
	if err != nil {
		return false, err
	}
	var herr error
	if ref == nil {
		amount := c.Amount
		_, herr = e.cfg.Hub.CreateRefund(ctx, caller, key, p.ID, hub.CreateRefund{Amount: &amount, Reason: "compensation"})
		if ref, err = e.refundOf(ctx, p, key.Key); err != nil {
			return false, err
		}
	}
	if ref == nil {
		// Refused before anything was reserved (the partner's refund window, a control):
		// pay it another way.
		rec.Detail = fmt.Sprintf("refund refused: %v", herr)
		return false, nil
	}
	rec.Ref = ref.ID
	switch ref.Status {
	case contracts.RefundSucceeded:
		rec.Status, rec.AmountPaid, rec.Detail = contracts.CompensationRefunded, ref.Amount.Amount, ""
	case contracts.RefundFailed:
		rec.Detail = "refund " + ref.ID + " failed: " + ref.FailureCode
		return false, nil
	default:
		rec.Status, rec.Detail = contracts.CompensationUnknown, "refund "+ref.ID+" is "+string(ref.Status)+"; the resolver settles it"
	}
	r, err := e.update(ctx, *rec)
	*rec = r
	return true, err
}

func (e *Engine) refundOf(ctx context.Context, p contracts.Payment, key string) (*contracts.Refund, error) {
	refunds, err := e.cfg.Store.ListRefunds(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range refunds {
		if r.ClientID == p.ClientID && r.IdempotencyKey == key {
			return &r, nil
		}
	}
	return nil, nil
}

// BankRowID is the id of a claim's bank refund row and ledger transaction.
func BankRowID(claimID string) string { return "compensation:" + claimID + ":bank_refund" }

// fallback pays a claim the original cannot: by a nanaco re-credit when the claim names a
// card (nanaco.go), else (or when nanaco refuses it) by a bank refund row; without a bank
// account the claim is rejected as no_route.
func (e *Engine) fallback(ctx context.Context, c Claim, rec contracts.CompensationClaim) (contracts.CompensationClaim, error) {
	var posts []contracts.LedgerTransaction
	if c.NanacoNumber != "" || rec.Route == contracts.RouteNanaco {
		if e.cfg.Transfers == nil {
			rec.Status, rec.Detail = contracts.CompensationPending, "a nanaco re-credit is due but nanaco is not configured for this run; run again with it"
			if rec.Route == contracts.RouteNanaco {
				rec.Status = contracts.CompensationUnknown
			}
			return e.update(ctx, rec)
		}
		done, returned, err := e.viaNanaco(ctx, c, &rec)
		if err != nil || done {
			return rec, err
		}
		posts = returned
	}
	return e.bank(ctx, c, rec, posts)
}

// bank queues a bank refund row, posting it (and posts, what an earlier route gave back) in
// the claim's transaction; without a bank account the claim is rejected as no_route.
func (e *Engine) bank(ctx context.Context, c Claim, rec contracts.CompensationClaim, posts []contracts.LedgerTransaction) (contracts.CompensationClaim, error) {
	if c.Bank == nil {
		rec.Status, rec.Route, rec.Reason, rec.AmountPaid = contracts.CompensationRejected, contracts.RouteNone, string(ReasonNoRoute), 0
		rec.Detail = "the original cannot pay it back and no bank account is given; " + rec.Detail
		return e.update(ctx, rec, posts...)
	}
	id := BankRowID(c.ClaimID)
	at := e.now()
	post := contracts.LedgerTransaction{ID: id, Kind: "compensation.bank_refund", ObjectType: contracts.LedgerObjectMigration,
		ObjectID: c.ClaimID, CreatedAt: at, Entries: []contracts.LedgerEntry{
			{Account: ledger.CompensationExpense, Debit: c.Amount, Currency: contracts.JPY},
			{Account: ledger.BankRefundPayable, Credit: c.Amount, Currency: contracts.JPY},
		}}
	rec.Status, rec.Route, rec.Ref, rec.AmountPaid = contracts.CompensationBankRefund, contracts.RouteBank, id, c.Amount
	rec, err := e.update(ctx, rec, append(posts, post)...)
	if err != nil {
		return rec, err
	}
	if e.cfg.BankRow != nil {
		if err := e.cfg.BankRow(c); err != nil {
			return rec, fmt.Errorf("compensate: write the bank row of %s (recorded; rewrite it from the claims table): %w", c.ClaimID, err)
		}
	}
	return rec, nil
}
