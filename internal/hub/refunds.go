package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"payhub/contracts"
	"payhub/internal/idempotency"
	"payhub/internal/render"
)

// CreateRefund is a store's request to refund (part of) a payment.
type CreateRefund struct {
	// Amount is how much to refund; nil refunds everything still refundable.
	Amount *int64
	// Reason is the store's reason.
	Reason string
	// reversal marks payhub's own refund in full of a payment whose cancel request stands
	// (the store abandoned it, or payhub could not settle its outcome in time).
	reversal bool
}

// CreateRefund refunds part or all of one of the caller's succeeded payments. The sum of
// succeeded, pending and unknown refunds never exceeds the captured amount: the check and
// the new refund are written under the payment's row lock, before the partner is called.
func (h *Hub) CreateRefund(ctx context.Context, c Caller, idem idempotency.Key, paymentID string, cmd CreateRefund) (Response, error) {
	if !contracts.ValidID(contracts.PrefixPayment, paymentID) {
		return Response{}, notFound()
	}
	if cmd.Amount != nil && *cmd.Amount < 1 {
		return Response{}, fieldError(contracts.CodeAmountOutOfRange, "/amount", "A refund amount must be at least 1.")
	}
	// A store's refund; payhub's own reversal refunds (reverse) call refund and are never
	// stopped.
	if err := h.checkPaymentControls(ctx, c, contracts.OperationRefund, paymentID); err != nil {
		return Response{}, err
	}
	return h.run(ctx, c, idem, func(ctx context.Context) (contracts.Answer, error) {
		return h.refund(ctx, c, &idem, paymentID, cmd)
	})
}

// refund reserves, sends and records a refund. With idem set, the answer is also the
// idempotent response of the store's request.
func (h *Hub) refund(ctx context.Context, c Caller, idem *idempotency.Key, paymentID string, cmd CreateRefund) (contracts.Answer, error) {
	p, r, att, err := h.reserveRefund(ctx, c, idem, paymentID, cmd)
	if err != nil {
		return contracts.Answer{}, err
	}
	partner := h.partners[p.Method]
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	res := partner.Refund(ctx, contracts.RefundRequest{PartnerRef: r.PartnerRef, Payment: h.paymentRef(ctx, p),
		Amount: r.Amount, PriorRefunded: p.AmountRefunded, Reason: r.Reason, RequestedAt: r.CreatedAt})
	h.metrics.partnerCall(p.Method, "refund", res.Outcome, time.Since(start))

	if res.Outcome == contracts.OutcomeUnknown {
		h.log.WarnContext(ctx, "refund outcome unknown", "refund_id", r.ID, "detail", res.FailureMessage)
	}
	var resp contracts.Answer
	err = h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, p.ID)
		if err != nil {
			return err
		}
		now := h.now()
		applyRefundResult(&r, res, now)
		if r.Status == contracts.RefundSucceeded {
			p.AmountRefunded += r.Amount.Amount
		}
		p.UpdatedAt = now
		body := render.Refund(r)
		ev := h.event(&p, r.ID, contracts.RefundEventType(r.Status), body, now)
		for _, step := range []func() error{
			func() error { return tx.UpdateRefund(ctx, r) },
			func() error { return tx.UpdatePayment(ctx, p) },
			func() error { return tx.FinishAttempt(ctx, att.ID, res.Outcome, res.PartnerCode, now) },
			func() error { return tx.AppendEvent(ctx, ev) },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		resp = contracts.Answer{Kind: contracts.AnswerCreated, Body: body}
		if idem == nil {
			return nil
		}
		return tx.CompleteIdempotency(ctx, c.ClientID, idem.Key, resp, now)
	})
	if err != nil {
		return contracts.Answer{}, idempotency.PartnerCalled(fmt.Errorf("record refund outcome: %w", err))
	}
	h.metrics.refundCreated(res.Outcome)
	return resp, nil
}

// reserveRefund checks the refundable amount and writes the pending refund, its attempt and
// its event under the payment's row lock, so concurrent refunds cannot oversubscribe it.
func (h *Hub) reserveRefund(ctx context.Context, c Caller, idem *idempotency.Key, paymentID string, cmd CreateRefund) (contracts.Payment, contracts.Refund, contracts.Attempt, error) {
	var (
		p   contracts.Payment
		r   contracts.Refund
		att contracts.Attempt
	)
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		var err error
		p, err = tx.GetPaymentForUpdate(ctx, paymentID)
		if errors.Is(err, contracts.ErrNotFound) || (err == nil && p.StoreID != c.StoreID) {
			return notFound()
		}
		if err != nil {
			return err
		}
		if p.Status != contracts.StatusSucceeded {
			return contracts.Errorf(contracts.CodeInvalidState, "Only succeeded payments can be refunded; this one is %s.", p.Status)
		}
		if p.Provisional {
			// Were it reversed after a refund, the refund would have given back money that
			// never left the card.
			return contracts.Errorf(contracts.CodeInvalidState, "%s has not confirmed this payment yet (it may still reverse it); refund it once it has.", p.Method)
		}
		if p.CancelRequested && !cmd.reversal && p.AmountRefunded < p.AmountCaptured {
			// payhub refunds it in full itself (reverse): a store refund would race it.
			return contracts.Errorf(contracts.CodeInvalidState, "A cancel of this payment was requested; payhub reverses it, so it cannot be refunded meanwhile.")
		}
		if inFlight, err := attemptInFlight(ctx, tx, p.ID, contracts.OpCancel); err != nil || inFlight {
			if err == nil {
				err = contracts.Errorf(contracts.CodeInvalidState, "A cancel of this payment is in progress; it cannot be refunded meanwhile.")
			}
			return err
		}
		caps, ok := h.capabilitiesOf(p.Method)
		if !ok {
			return contracts.Errorf(contracts.CodePartnerUnavailable, "The partner for %s is not configured.", p.Method)
		}
		if err := checkSerialRefund(ctx, tx, caps, p); err != nil {
			return err
		}
		amount, err := h.refundAmount(ctx, tx, caps, p, cmd.Amount)
		if err != nil {
			return err
		}
		now := h.now()
		r = contracts.Refund{ID: h.ids.New(contracts.PrefixRefund), PaymentID: p.ID, StoreID: p.StoreID,
			Amount: contracts.Money{Amount: amount, Currency: p.Amount.Currency}, Status: contracts.RefundPending,
			Reason: cmd.Reason, CreatedAt: now, UpdatedAt: now}
		r.PartnerRef = r.ID // a refund has one partner attempt: its id is the partner's key
		if ref, ok, err := h.sequencedRef(ctx, tx, p.Method, p.StoreID, p.TerminalID, now); err != nil {
			return err
		} else if ok {
			r.PartnerRef = ref
		}
		if idem != nil {
			r.ClientID, r.IdempotencyKey = c.ClientID, idem.Key
		}
		att = contracts.Attempt{ID: h.ids.New(contracts.PrefixAttempt), PaymentID: p.ID, RefundID: r.ID,
			Operation: contracts.OpRefund, PartnerRef: r.PartnerRef, StartedAt: now, ClientID: c.ClientID, IdempotencyKey: idemKey(idem)}
		p.UpdatedAt = now
		ev := h.event(&p, r.ID, contracts.EventRefundPending, render.Refund(r), now)
		for _, step := range []func() error{
			func() error { return h.guard.MarkIntent(ctx, tx, c.ClientID, idem, att.ID) },
			func() error { return tx.InsertRefund(ctx, r) },
			func() error { return tx.InsertAttempt(ctx, att) },
			func() error { return tx.UpdatePayment(ctx, p) },
			func() error { return tx.AppendEvent(ctx, ev) },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	return p, r, att, err
}

// refundAmount is the requested amount, or all that remains when none was requested,
// refused when it exceeds what remains after succeeded, pending and unknown refunds or is a
// fraction of the smallest unit the partner moves.
func (h *Hub) refundAmount(ctx context.Context, tx contracts.Tx, caps contracts.Capabilities, p contracts.Payment, requested *int64) (int64, error) {
	refunds, err := tx.ListRefunds(ctx, p.ID)
	if err != nil {
		return 0, err
	}
	var reserved int64
	for _, r := range refunds {
		if r.Status.Reserves() {
			reserved += r.Amount.Amount
		}
	}
	remaining := p.RefundableAmount(reserved)
	amount := remaining
	if requested != nil {
		amount = *requested
	}
	if amount > remaining || amount < 1 {
		return 0, contracts.Errorf(contracts.CodeRefundExceedsCaptured,
			"Requested %d %s; %d %s remains refundable.", amount, p.Amount.Currency, remaining, p.Amount.Currency)
	}
	if err := checkStep(caps, p.Method, contracts.Money{Amount: amount, Currency: p.Amount.Currency}); err != nil {
		return 0, err
	}
	return amount, nil
}

func applyRefundResult(r *contracts.Refund, res contracts.RefundResult, now time.Time) {
	r.UpdatedAt = now
	r.PartnerCode = res.PartnerCode
	r.PartnerRefundID = res.PartnerRefundID
	switch res.Outcome {
	case contracts.OutcomeSucceeded:
		r.Status = contracts.RefundSucceeded
	case contracts.OutcomeFailed:
		r.Status = contracts.RefundFailed
		r.FailureCode, r.FailureMessage = res.FailureCode, res.FailureMessage
		if r.FailureCode == "" {
			r.FailureCode = contracts.FailurePartnerRejected
		}
	default:
		// The partner's detail (a transport error, say) stays in payhub's logs; the store
		// learns only that the outcome is open.
		r.Status = contracts.RefundUnknown
		r.FailureMessage = "The partner's answer did not arrive; the refund's outcome will follow."
	}
}

// GetRefund reads one of the caller's refunds.
func (h *Hub) GetRefund(ctx context.Context, c Caller, id string) (contracts.Refund, error) {
	if !contracts.ValidID(contracts.PrefixRefund, id) {
		return contracts.Refund{}, notFound()
	}
	r, err := h.store.GetRefund(ctx, c.StoreID, id)
	if errors.Is(err, contracts.ErrNotFound) {
		return contracts.Refund{}, notFound()
	}
	return r, err
}

// ListRefunds reads the refunds of one of the caller's payments, oldest first.
func (h *Hub) ListRefunds(ctx context.Context, c Caller, paymentID string) ([]contracts.Refund, error) {
	if _, err := h.GetPaymentRecord(ctx, c, paymentID); err != nil {
		return nil, err
	}
	return h.store.ListRefunds(ctx, paymentID)
}

// GetPaymentRecord reads one of the caller's payments as stored, without asking the partner.
func (h *Hub) GetPaymentRecord(ctx context.Context, c Caller, id string) (contracts.Payment, error) {
	if !contracts.ValidID(contracts.PrefixPayment, id) {
		return contracts.Payment{}, notFound()
	}
	p, err := h.store.GetPayment(ctx, c.StoreID, id)
	if errors.Is(err, contracts.ErrNotFound) {
		return contracts.Payment{}, notFound()
	}
	return p, err
}
