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

// CancelPayment cancels one of the caller's payments as far as the partner allows in its
// state (docs/api.md §4.1): a payment waiting for the customer is withdrawn; a
// succeeded one is reversed while the partner's cancel window is open (409
// cancel_window_passed after it: refund instead); one whose outcome is still open is marked
// cancel_requested (202) for the resolver to reverse if it went through.
func (h *Hub) CancelPayment(ctx context.Context, c Caller, idem idempotency.Key, id, reason string) (Response, error) {
	if !contracts.ValidID(contracts.PrefixPayment, id) {
		return Response{}, notFound()
	}
	// A store's cancel; the resolver's reversals call cancelAtPartner and are never stopped.
	if err := h.checkPaymentControls(ctx, c, contracts.OperationCancel, id); err != nil {
		return Response{}, err
	}
	return h.run(ctx, c, idem, func(ctx context.Context) (contracts.Answer, error) {
		return h.cancel(ctx, c, idem, id, reason)
	})
}

func (h *Hub) cancel(ctx context.Context, c Caller, idem idempotency.Key, id, reason string) (contracts.Answer, error) {
	p, err := h.store.GetPayment(ctx, c.StoreID, id)
	if errors.Is(err, contracts.ErrNotFound) {
		return contracts.Answer{}, notFound()
	}
	if err != nil {
		return contracts.Answer{}, err
	}
	if p.Status == contracts.StatusRequiresAction {
		// Learn whether the customer paid meanwhile; the cancel below covers both cases.
		if p, err = h.refresh(ctx, p); err != nil {
			return contracts.Answer{}, err
		}
	}
	if p.CancelRequested && reversible(p.Status) {
		// The store asked before, while the outcome was open; the money moved since and
		// its reversal is payhub's to finish. Finish it now and answer with where it stands.
		return h.answerStandingCancel(ctx, c, idem, p)
	}
	switch p.Status {
	case contracts.StatusProcessing, contracts.StatusUnknown:
		resp, err := h.requestCancel(ctx, c, idem, p.ID)
		if !errors.Is(err, errOutcomeArrived) {
			return resp, err
		}
		if p, err = h.store.GetPayment(ctx, c.StoreID, id); err != nil {
			return contracts.Answer{}, err
		}
		if reversible(p.Status) {
			return h.cancelAtPartner(ctx, c, &idem, p, reason)
		}
	case contracts.StatusSucceeded:
		if p.CaptureMethod == contracts.CaptureManual {
			// A captured authorization cannot be canceled at the partner (PayPay: only
			// while AUTHORIZED); its money goes back by refund.
			return contracts.Answer{}, contracts.Errorf(contracts.CodeInvalidState, "A captured payment cannot be canceled; refund it instead.")
		}
		return h.cancelAtPartner(ctx, c, &idem, p, reason)
	case contracts.StatusRequiresAction, contracts.StatusAuthorized:
		return h.cancelAtPartner(ctx, c, &idem, p, reason)
	}
	return contracts.Answer{}, contracts.Errorf(contracts.CodeInvalidState, "A %s payment cannot be canceled.", p.Status)
}

// errOutcomeArrived: a payment whose outcome was open when read has one now.
var errOutcomeArrived = errors.New("payment outcome arrived")

// checkCancelable refuses to cancel a payment that has refunds — the partner's cancel
// reverses the whole payment, which would return money twice — or while a cancel or capture
// of it is in flight. It runs under the payment's row lock, as reserveRefund does, so a
// cancel and a refund (or a capture) can never both be sent.
func (h *Hub) checkCancelable(ctx context.Context, tx contracts.Tx, p contracts.Payment) error {
	refunds, err := tx.ListRefunds(ctx, p.ID)
	if err != nil {
		return err
	}
	for _, r := range refunds {
		if r.Status.Reserves() {
			return contracts.Errorf(contracts.CodeInvalidState, "The payment has refunds; refund the rest instead of canceling.")
		}
	}
	for _, op := range []contracts.AttemptOperation{contracts.OpCancel, contracts.OpCapture} {
		if inFlight, err := attemptInFlight(ctx, tx, p.ID, op); err != nil || inFlight {
			if err == nil {
				err = contracts.Errorf(contracts.CodeInvalidState, "A %s of this payment is already in progress.", op)
			}
			return err
		}
	}
	return nil
}

// attemptInFlight reports whether a partner call of operation op for the payment was sent
// and its outcome is not recorded yet. While a cancel or capture is in flight, no other
// money-moving call may be sent for the payment.
func attemptInFlight(ctx context.Context, tx contracts.Tx, paymentID string, op contracts.AttemptOperation) (bool, error) {
	attempts, err := tx.ListAttempts(ctx, paymentID)
	if err != nil {
		return false, err
	}
	for _, a := range attempts {
		if a.Operation == op && a.Outcome == "" {
			return true, nil
		}
	}
	return false, nil
}

// requestCancel records the store's wish to abandon a payment whose outcome is open.
func (h *Hub) requestCancel(ctx context.Context, c Caller, idem idempotency.Key, id string) (contracts.Answer, error) {
	var resp contracts.Answer
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if p.Status != contracts.StatusProcessing && p.Status != contracts.StatusUnknown {
			// The outcome arrived meanwhile: cancel what is there instead of a wish.
			return errOutcomeArrived
		}
		now := h.now()
		var ev *contracts.Event
		if !p.CancelRequested {
			p.CancelRequested, p.UpdatedAt = true, now
			e := h.event(&p, "", contracts.EventPaymentCancelRequested, render.Payment(p), now)
			ev = &e
			if err := tx.UpdatePayment(ctx, p); err != nil {
				return err
			}
		}
		if ev != nil {
			if err := tx.AppendEvent(ctx, *ev); err != nil {
				return err
			}
		}
		resp = contracts.Answer{Kind: contracts.AnswerAccepted, Body: render.Payment(p)}
		return h.guard.Answer(ctx, tx, c.ClientID, &idem, resp, now)
	})
	return resp, err
}

// cancelAtPartner sends the partner's cancel and records its answer. With idem set, the
// answer is also the idempotent response of the store's cancel request.
func (h *Hub) cancelAtPartner(ctx context.Context, c Caller, idem *idempotency.Key, p contracts.Payment, reason string) (contracts.Answer, error) {
	partner := h.partners[p.Method]
	if partner == nil {
		return contracts.Answer{}, contracts.Errorf(contracts.CodePartnerUnavailable, "The partner for %s is not configured.", p.Method)
	}
	now := h.now()
	att := contracts.Attempt{ID: h.ids.New(contracts.PrefixAttempt), PaymentID: p.ID, Operation: contracts.OpCancel,
		PartnerRef: p.PartnerRef, StartedAt: now, ClientID: c.ClientID, IdempotencyKey: idemKey(idem)}
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		cur, err := tx.GetPaymentForUpdate(ctx, p.ID)
		if err != nil {
			return err
		}
		if cur.Status != p.Status {
			return contracts.Errorf(contracts.CodeInvalidState, "The payment changed to %s meanwhile; retry the cancel.", cur.Status)
		}
		if err := h.checkCancelable(ctx, tx, cur); err != nil {
			return err
		}
		if err := h.guard.MarkIntent(ctx, tx, c.ClientID, idem, att.ID); err != nil {
			return err
		}
		return tx.InsertAttempt(ctx, att)
	})
	if err != nil {
		return contracts.Answer{}, err
	}
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	res := partner.CancelPayment(ctx, h.paymentRef(ctx, p))
	h.metrics.partnerCall(p.Method, "cancel_payment", res.Outcome, time.Since(start))

	var resp contracts.Answer
	err = h.store.InTx(ctx, func(tx contracts.Tx) error {
		cur, err := tx.GetPaymentForUpdate(ctx, p.ID)
		if err != nil {
			return err
		}
		now := h.now()
		if err := tx.FinishAttempt(ctx, att.ID, res.Outcome, res.PartnerCode, now); err != nil {
			return err
		}
		resp, err = h.applyCancel(ctx, tx, cur, res, reason, now)
		if err != nil || idem == nil {
			return err
		}
		return tx.CompleteIdempotency(ctx, c.ClientID, idem.Key, resp, now)
	})
	if err != nil {
		return contracts.Answer{}, idempotency.PartnerCalled(fmt.Errorf("record cancel outcome: %w", err))
	}
	return resp, nil
}

// applyCancel turns the partner's answer to a cancel into the payment's new state and the
// response; it runs inside the transaction that also stores the idempotent response.
func (h *Hub) applyCancel(ctx context.Context, tx contracts.Tx, p contracts.Payment, res contracts.CancelResult, reason string, now time.Time) (contracts.Answer, error) {
	problem := func(e *contracts.Error) contracts.Answer { return idempotency.Refusal(ctx, e) }
	switch res.Outcome {
	case contracts.OutcomeSucceeded:
		if p.Status == contracts.StatusCanceled || p.Status == contracts.StatusFailed {
			// A refresh recorded the partner's view of this very cancel (PayPay: FAILED).
			return contracts.Answer{Kind: contracts.AnswerDone, Body: render.Payment(p)}, nil
		}
		if !contracts.CanTransition(p.Status, contracts.StatusCanceled) {
			return problem(contracts.Errorf(contracts.CodeInvalidState, "A %s payment cannot be canceled.", p.Status)), nil
		}
		p.Status, p.UpdatedAt, p.NextAction = contracts.StatusCanceled, now, nil
		p.CancellationReason = cancellationReason(reason)
		p.PartnerCode = res.PartnerCode
		body := render.Payment(p)
		ev := h.event(&p, "", contracts.EventPaymentCanceled, body, now)
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return contracts.Answer{}, err
		}
		return contracts.Answer{Kind: contracts.AnswerDone, Body: body}, tx.AppendEvent(ctx, ev)
	case contracts.OutcomeWindowPassed:
		// A standing cancel request is not ended by this refusal: payhub reverses the
		// payment by refund instead (reverse), so the customer never pays for a payment
		// the store abandoned.
		return problem(contracts.Errorf(contracts.CodeCancelWindowPassed,
			"The partner's cancel window for this payment has passed; refund it instead.")), nil
	case contracts.OutcomeFailed:
		h.log.WarnContext(ctx, "partner refused a cancel", "payment_id", p.ID, "partner_code", res.PartnerCode)
		return problem(contracts.Errorf(contracts.CodeInvalidState,
			"The partner refused to cancel this payment.")), nil
	}
	// The partner may or may not have accepted: remember the wish; the resolver finishes it.
	p.CancelRequested, p.UpdatedAt = true, now
	body := render.Payment(p)
	ev := h.event(&p, "", contracts.EventPaymentCancelRequested, body, now)
	if err := tx.UpdatePayment(ctx, p); err != nil {
		return contracts.Answer{}, err
	}
	return contracts.Answer{Kind: contracts.AnswerAccepted, Body: body}, tx.AppendEvent(ctx, ev)
}

func cancellationReason(reason string) string {
	if reason == "" {
		return "requested_by_store"
	}
	return reason
}

// abandonedReason is the cancellation or refund reason of a payment payhub reversed because
// the store abandoned it while its outcome was open.
const abandonedReason = "abandoned_by_store"

// reversible reports whether a payment in status s holds or took the customer's money (or
// may still take it), so that a standing cancel request must reverse it.
func reversible(s contracts.Status) bool {
	return s == contracts.StatusSucceeded || s == contracts.StatusAuthorized || s == contracts.StatusRequiresAction
}

// honorCancelRequest reverses a payment the store asked to abandon while its outcome was
// open, once the outcome shows money moved (or a customer action waits). Whatever the
// partner answers, the request stands until a reversal is confirmed: the resolver goes on
// where this attempt stops.
func (h *Hub) honorCancelRequest(ctx context.Context, p contracts.Payment) {
	if !p.CancelRequested || !reversible(p.Status) {
		return
	}
	h.reverse(ctx, p, abandonedReason)
}

// answerStandingCancel answers a store's cancel of a payment whose earlier cancel request
// still stands: payhub reverses it now, and the answer is the payment as it then stands:
// 200 once canceled, else 202 (reversed by refund, or the reversal still under way).
func (h *Hub) answerStandingCancel(ctx context.Context, c Caller, idem idempotency.Key, p contracts.Payment) (contracts.Answer, error) {
	h.reverse(context.WithoutCancel(ctx), p, abandonedReason)
	ctx = context.WithoutCancel(ctx)
	var resp contracts.Answer
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		cur, err := tx.GetPaymentForUpdate(ctx, p.ID)
		if err != nil {
			return err
		}
		resp = contracts.Answer{Kind: contracts.AnswerAccepted, Body: render.Payment(cur)}
		if cur.Status == contracts.StatusCanceled {
			resp.Kind = contracts.AnswerDone
		}
		return h.guard.Answer(ctx, tx, c.ClientID, &idem, resp, h.now())
	})
	return resp, err
}
