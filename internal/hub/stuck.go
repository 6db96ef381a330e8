package hub

import (
	"context"
	"time"

	"payhub/contracts"
	"payhub/internal/idempotency"
	"payhub/internal/render"
)

// A crash can cut a store's request at two more places than a payment's own call, and the
// resolver recovers both:
//
//   - after the request claimed its Idempotency-Key but before it wrote its intent: no
//     partner heard of it, so the key is released and the till's retry runs it afresh;
//   - after a capture or cancel was sent but before its answer was written: the payment
//     itself may look settled (authorized, succeeded), but the call's outcome is open and
//     its request waits. The resolver asks the partner, records what happened and answers
//     the request.

// releaseOrphanedKeys frees the keys of requests that died before writing their intent.
func (h *Hub) releaseOrphanedKeys(ctx context.Context, now time.Time) error {
	n, err := h.guard.ReleaseOrphans(ctx, now.Add(-h.resolver.StuckAfter))
	if err == nil && n > 0 {
		h.log.InfoContext(ctx, "released idempotency keys of requests that died before reaching a partner", "count", n)
	}
	return err
}

// resolveStuckAttempts settles the captures and cancels a crash cut off.
func (h *Hub) resolveStuckAttempts(ctx context.Context, now time.Time) (int, error) {
	attempts, err := h.store.ListStuckAttempts(ctx, now.Add(-h.resolver.StuckAfter), h.resolver.Batch)
	if err != nil {
		return 0, err
	}
	settled := 0
	for _, a := range attempts {
		if stopping(ctx) {
			break
		}
		if h.resolveLeasedAttempt(context.WithoutCancel(ctx), a) {
			settled++
		}
	}
	return settled, nil
}

// definite reports whether a payment query gave a definite answer.
func definite(o contracts.Outcome) bool {
	switch o {
	case contracts.OutcomeSucceeded, contracts.OutcomeAuthorized, contracts.OutcomePending,
		contracts.OutcomeFailed, contracts.OutcomeCanceled:
		return true
	}
	return false
}

// resolveLeasedAttempt resolves a cut-off capture or cancel under the resolver's lease on
// its payment, if the lease is free and the attempt still open.
func (h *Hub) resolveLeasedAttempt(ctx context.Context, listed contracts.Attempt) bool {
	ctx, release, ok := h.takeLease(ctx, workerResolver, contracts.LeasePayment, listed.PaymentID)
	if !ok {
		return false
	}
	defer release()
	if a, err := h.store.GetAttempt(ctx, listed.ID); err != nil || a.Outcome != "" {
		return false
	}
	return h.resolveStuckAttempt(ctx, listed)
}

// resolveStuckAttempt learns from the partner what became of one cut-off capture or
// cancel, records it with the attempt's outcome and answers the request that sent it. An
// open answer leaves it for the next pass.
func (h *Hub) resolveStuckAttempt(ctx context.Context, a contracts.Attempt) bool {
	p, err := h.store.GetPayment(ctx, "", a.PaymentID)
	if err != nil || h.partners[p.Method] == nil {
		return false
	}
	res := h.partners[p.Method].GetPayment(ctx, h.paymentRef(ctx, p))
	if !definite(res.Outcome) {
		return false
	}
	return h.settleCutOffAttempt(ctx, a, p, res)
}

// settleCutOffAttempt records what the partner's answer res says became of the cut-off
// capture or cancel a of payment p (read before asking), with the attempt's outcome, and
// answers the request that sent it.
func (h *Hub) settleCutOffAttempt(ctx context.Context, a contracts.Attempt, p contracts.Payment, res contracts.PaymentResult) bool {
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		cur, err := tx.GetPaymentForUpdate(ctx, p.ID)
		if err != nil {
			return err
		}
		if open, err := attemptStillOpen(ctx, tx, a); err != nil || !open {
			return err
		}
		now := h.now()
		var answer contracts.Answer
		if a.Operation == contracts.OpCapture {
			answer, err = h.settleStuckCapture(ctx, tx, cur, a, res, now)
		} else {
			answer, err = h.settleStuckCancel(ctx, tx, cur, a, res, now)
		}
		if err != nil {
			return err
		}
		return idempotency.AnswerOpen(ctx, tx, a.ClientID, a.IdempotencyKey, answer, now)
	})
	if err != nil {
		h.log.ErrorContext(ctx, "settle a cut-off partner call", "payment_id", a.PaymentID, "attempt_id", a.ID, "err", err)
		return false
	}
	return true
}

// attemptStillOpen re-reads the attempt under the payment's lock.
func attemptStillOpen(ctx context.Context, tx contracts.Tx, a contracts.Attempt) (bool, error) {
	attempts, err := tx.ListAttempts(ctx, a.PaymentID)
	if err != nil {
		return false, err
	}
	for _, x := range attempts {
		if x.ID == a.ID {
			return x.Outcome == "", nil
		}
	}
	return false, nil
}

// settleStuckCapture: the partner shows the payment captured (succeeded, with what it
// took), still authorized (the capture never landed: the request is refused and the till
// captures again under a new key), or released (expired or reverted: canceled).
func (h *Hub) settleStuckCapture(ctx context.Context, tx contracts.Tx, p contracts.Payment, a contracts.Attempt, res contracts.PaymentResult, now time.Time) (contracts.Answer, error) {
	switch res.Outcome {
	case contracts.OutcomeAuthorized, contracts.OutcomePending:
		if err := tx.FinishAttempt(ctx, a.ID, contracts.OutcomeFailed, res.PartnerCode, now); err != nil {
			return contracts.Answer{}, err
		}
		return h.problemResponse(ctx, contracts.Errorf(contracts.CodeInvalidState,
			"The partner never received this capture; the payment stays authorized. Capture again with a new Idempotency-Key.")), nil
	case contracts.OutcomeFailed:
		res.Outcome = contracts.OutcomeCanceled // a released hold: nothing can be captured any more
	}
	if err := tx.FinishAttempt(ctx, a.ID, res.Outcome, res.PartnerCode, now); err != nil {
		return contracts.Answer{}, err
	}
	if res.Outcome == contracts.OutcomeCanceled {
		p.CancellationReason = "authorization_expired"
	}
	return h.moveTo(ctx, tx, p, res, now)
}

// settleStuckCancel: the partner shows the payment reversed (canceled), or unchanged (the
// cancel never landed: the request is refused and the store sends it again; a reversal
// the resolver owes stays requested).
func (h *Hub) settleStuckCancel(ctx context.Context, tx contracts.Tx, p contracts.Payment, a contracts.Attempt, res contracts.PaymentResult, now time.Time) (contracts.Answer, error) {
	if res.Outcome != contracts.OutcomeCanceled && res.Outcome != contracts.OutcomeFailed {
		if err := tx.FinishAttempt(ctx, a.ID, contracts.OutcomeFailed, res.PartnerCode, now); err != nil {
			return contracts.Answer{}, err
		}
		return h.problemResponse(ctx, contracts.Errorf(contracts.CodeInvalidState,
			"The partner never received this cancel; the payment is unchanged. Send the cancel again with a new Idempotency-Key.")), nil
	}
	if err := tx.FinishAttempt(ctx, a.ID, contracts.OutcomeSucceeded, res.PartnerCode, now); err != nil {
		return contracts.Answer{}, err
	}
	p.CancellationReason = cancellationReason("")
	if a.IdempotencyKey == "" {
		p.CancellationReason = reversalReason
	}
	return h.moveTo(ctx, tx, p, contracts.PaymentResult{Outcome: contracts.OutcomeCanceled, PartnerCode: res.PartnerCode}, now)
}

// moveTo records the partner's definite view of p unless p already shows it, and renders
// the payment as the answer.
func (h *Hub) moveTo(ctx context.Context, tx contracts.Tx, p contracts.Payment, res contracts.PaymentResult, now time.Time) (contracts.Answer, error) {
	if target := statusFor(res.Outcome); target != p.Status && contracts.CanTransition(p.Status, target) {
		h.applyPaymentResult(ctx, &p, res, now)
		ev := h.event(&p, "", contracts.PaymentEventType(p.Status), render.Payment(p), now)
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return contracts.Answer{}, err
		}
		if err := tx.AppendEvent(ctx, ev); err != nil {
			return contracts.Answer{}, err
		}
	}
	return contracts.Answer{Kind: contracts.AnswerDone, Body: render.Payment(p)}, nil
}

// problemResponse renders a refusal as a stored response.
func (h *Hub) problemResponse(ctx context.Context, e *contracts.Error) contracts.Answer {
	return idempotency.Refusal(ctx, e)
}
