package hub

import (
	"context"

	"payhub/contracts"
	"payhub/internal/idempotency"
	"payhub/internal/render"
)

// A retry that takes over the request of a dead instance (internal/idempotency) asks the
// engine to finish it when the request had written its intent: the engine settles what the
// partner already decided about the dead request's call and otherwise records the open
// state the lost call leaves, exactly as if the partner's answer had been lost, then
// answers the request. It never sends the partner call again: the resolver does what
// remains by the partner's rules, and the dead call's attempt stays open until then so
// nothing else can race it.

// finishTakenOver settles what the partner already decided about the dead request's call
// (attempt attemptID) and answers the request (clientID, key) with its object as it then
// stands.
func (h *Hub) finishTakenOver(ctx context.Context, clientID, key, attemptID string) error {
	if _, _, ok := topUpIntent(attemptID); ok {
		return h.finishTopUpTakenOver(ctx, clientID, key, attemptID)
	}
	a, err := h.store.GetAttempt(ctx, attemptID)
	if err != nil {
		return err
	}
	p, err := h.store.GetPayment(ctx, "", a.PaymentID)
	if err != nil {
		return err
	}
	if a.Outcome == "" {
		if err := h.settleTakenOver(ctx, a, p); err != nil {
			return err
		}
	}
	return h.answerTakenOver(ctx, clientID, key, a)
}

// settleTakenOver records the partner's decided answer about the open call a, or the open
// state the call leaves behind. Only answers the partner cannot take back count here: the
// dead instance's call may still be on its way, so "not there yet" proves nothing until
// the resolver's stuck rule says so.
func (h *Hub) settleTakenOver(ctx context.Context, a contracts.Attempt, p contracts.Payment) error {
	if a.Operation == contracts.OpRefund {
		return h.markRefundTakenOver(ctx, a)
	}
	partner := h.partners[p.Method]
	res := contracts.PaymentResult{Outcome: contracts.OutcomeUnknown}
	if partner != nil {
		res = partner.GetPayment(ctx, h.paymentRef(ctx, p))
	}
	switch a.Operation {
	case contracts.OpPay:
		if settled(res.Outcome) && (p.Status == contracts.StatusProcessing || p.Status == contracts.StatusUnknown) {
			q, err := h.settlePayment(ctx, p, res)
			if err == nil {
				h.honorCancelRequest(ctx, q)
			}
			return err
		}
	case contracts.OpCapture:
		if res.Outcome == contracts.OutcomeSucceeded || res.Outcome == contracts.OutcomeFailed || res.Outcome == contracts.OutcomeCanceled {
			h.settleCutOffAttempt(ctx, a, p, res)
			return nil
		}
	case contracts.OpCancel:
		if res.Outcome == contracts.OutcomeCanceled || res.Outcome == contracts.OutcomeFailed {
			h.settleCutOffAttempt(ctx, a, p, res)
			return nil
		}
	}
	return h.markTakenOverOpen(ctx, a)
}

// settled reports whether a payment query answered with a status the partner cannot take
// back for a payment being created.
func settled(o contracts.Outcome) bool {
	switch o {
	case contracts.OutcomeSucceeded, contracts.OutcomeAuthorized, contracts.OutcomeFailed, contracts.OutcomeCanceled:
		return true
	}
	return false
}

// markTakenOverOpen records the open state a lost payment, capture or cancel call leaves,
// as the request would have had the partner's answer been lost: the payment unknown (do not
// charge again), or for a cancel, the cancel requested (payhub reverses it). The attempt
// stays open for the resolver.
func (h *Hub) markTakenOverOpen(ctx context.Context, a contracts.Attempt) error {
	return h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, a.PaymentID)
		if err != nil {
			return err
		}
		now := h.now()
		switch {
		case a.Operation == contracts.OpCancel:
			if p.CancelRequested || !reversible(p.Status) {
				return nil
			}
			p.CancelRequested, p.UpdatedAt = true, now
			ev := h.event(&p, "", contracts.EventPaymentCancelRequested, render.Payment(p), now)
			if err := tx.UpdatePayment(ctx, p); err != nil {
				return err
			}
			return tx.AppendEvent(ctx, ev)
		case a.Operation == contracts.OpPay && p.Status == contracts.StatusProcessing,
			a.Operation == contracts.OpCapture && p.Status == contracts.StatusAuthorized:
			return h.markUnknown(ctx, tx, &p, now)
		}
		return nil
	})
}

// markRefundTakenOver makes a dead request's pending refund unknown. It is not sent again
// before the resolver's stuck rule: a partner without refund ids (LINE Pay) tells a resend
// from a new refund only by the refunded total, which the dead call may still change.
func (h *Hub) markRefundTakenOver(ctx context.Context, a contracts.Attempt) error {
	return h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, a.PaymentID)
		if err != nil {
			return err
		}
		r, err := tx.GetRefundForUpdate(ctx, a.RefundID)
		if err != nil || r.Status != contracts.RefundPending {
			return err
		}
		now := h.now()
		next := a.StartedAt.Add(h.resolver.StuckAfter)
		r.Status, r.UpdatedAt, r.Resolution.NextAt = contracts.RefundUnknown, now, &next
		r.FailureMessage = "The partner's answer did not arrive; the refund's outcome will follow."
		p.UpdatedAt = now
		ev := h.event(&p, r.ID, contracts.EventRefundUnknown, render.Refund(r), now)
		if err := tx.UpdateRefund(ctx, r); err != nil {
			return err
		}
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, ev)
	})
}

// answerTakenOver stores the answer of the dead request (clientID, key) that made call a,
// unless one was stored meanwhile: the object as it now stands, as the request would have
// answered it.
func (h *Hub) answerTakenOver(ctx context.Context, clientID, key string, a contracts.Attempt) error {
	return h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, a.PaymentID)
		if err != nil {
			return err
		}
		answer := contracts.Answer{Kind: contracts.AnswerDone, Body: render.Payment(p)}
		switch a.Operation {
		case contracts.OpPay:
			answer.Kind = contracts.AnswerCreated
		case contracts.OpCancel:
			if p.Status != contracts.StatusCanceled {
				answer.Kind = contracts.AnswerAccepted
			}
		case contracts.OpRefund:
			r, err := tx.GetRefundForUpdate(ctx, a.RefundID)
			if err != nil {
				return err
			}
			answer = contracts.Answer{Kind: contracts.AnswerCreated, Body: render.Refund(r)}
		}
		return idempotency.AnswerOpen(ctx, tx, clientID, key, answer, h.now())
	})
}
