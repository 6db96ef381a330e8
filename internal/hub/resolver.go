package hub

import (
	"context"
	"math/rand/v2"
	"time"

	"payhub/contracts"
	"payhub/internal/idempotency"
	"payhub/internal/render"
)

// ResolverConfig tunes the resolver, the background worker that owns every payment and
// refund whose outcome is open (docs/api.md §4.1, docs/partners/paypay.md §8).
type ResolverConfig struct {
	// StuckAfter: a payment still processing (or a refund still pending) this long after
	// its last write lost its partner call to a crash or a failed write; the resolver takes
	// it over. Longer than the slowest partner call (30 s).
	StuckAfter time.Duration
	// ReadTimeout is the partner's read timeout for the original call: "no such payment" is
	// decisive only after it has passed (docs/partners/paypay.md §8).
	ReadTimeout time.Duration
	// FenceAfter: an outcome still open this long after creation is reversed at the partner
	// (a cancel, which also fences a payment landing late).
	FenceAfter time.Duration
	// Budget: an outcome still open this long after creation needs an operator.
	Budget time.Duration
	// FirstBackoff and MaxBackoff bound the exponential backoff between passes.
	FirstBackoff, MaxBackoff time.Duration
	// Batch caps the objects taken per pass.
	Batch int
}

// DefaultResolverConfig follows PayPay's guidance: query every few seconds, reverse what
// stays open, give up to an operator after a day.
var DefaultResolverConfig = ResolverConfig{
	StuckAfter: 2 * time.Minute, ReadTimeout: 30 * time.Second, FenceAfter: 5 * time.Minute,
	Budget: 24 * time.Hour, FirstBackoff: 3 * time.Second, MaxBackoff: 10 * time.Minute, Batch: 100,
}

// reversalReason is the cancellation or refund reason of a payment payhub reversed because
// its outcome stayed unknown or the store had abandoned it.
const reversalReason = "unknown_outcome_reversed"

// ResolveOnce makes one pass over the payments and refunds whose outcome is open and
// returns how many it settled. RunResolver calls it on a ticker; tests call it directly
// with an injected clock.
func (h *Hub) ResolveOnce(ctx context.Context) (int, error) {
	now := h.now()
	cfg := h.resolver
	if _, err := h.runTask(ctx, taskReleaseOrphanedKeys, func(ctx context.Context) error {
		return h.releaseOrphanedKeys(ctx, now)
	}); err != nil {
		return 0, err
	}
	settled, err := h.resolveStuckAttempts(ctx, now)
	if err != nil {
		return settled, err
	}
	payments, err := h.store.ListPaymentsToResolve(ctx, now, now.Add(-cfg.StuckAfter), cfg.Batch)
	if err != nil {
		return settled, err
	}
	for _, p := range payments {
		if stopping(ctx) {
			return settled, nil
		}
		if h.resolveLeasedPayment(context.WithoutCancel(ctx), p) {
			settled++
		}
	}
	refunds, err := h.store.ListRefundsToResolve(ctx, now, now.Add(-cfg.StuckAfter), cfg.Batch)
	if err != nil {
		return settled, err
	}
	for _, r := range refunds {
		if stopping(ctx) {
			return settled, nil
		}
		if h.resolveLeasedRefund(context.WithoutCancel(ctx), r) {
			settled++
		}
	}
	topUps, err := h.resolveTopUps(ctx, now)
	return settled + topUps, err
}

// RunResolver resolves every interval until ctx ends. Its partner calls bypass the circuit
// breakers: inquiries and reversals only reduce exposure.
func (h *Hub) RunResolver(ctx context.Context, interval time.Duration) {
	h.repeat(ctx, interval, true, "resolve open outcomes", func(ctx context.Context) error {
		_, err := h.ResolveOnce(ctx)
		return err
	})
}

// resolveLeasedPayment resolves the listed payment under the resolver's lease on it, if
// the lease is free and the payment unchanged since it was listed (leases.go).
func (h *Hub) resolveLeasedPayment(ctx context.Context, listed contracts.Payment) bool {
	ctx, p, release, ok := h.leasedPayment(ctx, workerResolver, listed)
	if !ok {
		return false
	}
	defer release()
	return h.resolvePayment(ctx, p)
}

// resolveLeasedRefund resolves the listed refund under the resolver's lease on it, if the
// lease is free and the refund unchanged since it was listed.
func (h *Hub) resolveLeasedRefund(ctx context.Context, listed contracts.Refund) bool {
	ctx, release, ok := h.takeLease(ctx, workerResolver, contracts.LeaseRefund, listed.ID)
	if !ok {
		return false
	}
	defer release()
	cur, err := h.store.GetRefund(ctx, "", listed.ID)
	if err != nil || !sameRefund(listed, cur) {
		return false
	}
	return h.resolveRefund(ctx, cur)
}

// resolvePayment applies the partner's unknown-outcome rule to one payment and reports
// whether it reached a settled state.
func (h *Hub) resolvePayment(ctx context.Context, p contracts.Payment) bool {
	partner := h.partners[p.Method]
	if partner == nil {
		return false
	}
	if h.now().Sub(p.CreatedAt) > h.resolver.Budget {
		h.flagPayment(ctx, p)
		return false
	}
	if p.Status == contracts.StatusSucceeded && p.Provisional {
		// Confirmed or reversed first: a reversal of a sale the partner may yet undo could
		// give back money that never left the customer.
		return h.confirmProvisional(ctx, p, partner)
	}
	if p.Status != contracts.StatusProcessing && p.Status != contracts.StatusUnknown {
		// The outcome is known but a reversal stands (the store abandoned the payment, or
		// payhub fenced it past the partner's cancel window): reverse it.
		return h.reverse(ctx, p, reversalReason)
	}
	res := partner.GetPayment(ctx, h.paymentRef(ctx, p))
	switch res.Outcome {
	case contracts.OutcomeSucceeded, contracts.OutcomeAuthorized, contracts.OutcomeFailed, contracts.OutcomeCanceled:
		q, err := h.settlePayment(ctx, p, res)
		if err != nil {
			h.logWriteError(ctx, "settle payment", err, "payment_id", p.ID)
			return false
		}
		if q.CancelRequested && (q.Status == contracts.StatusSucceeded || q.Status == contracts.StatusAuthorized) {
			h.reverse(ctx, q, reversalReason)
		}
		return true
	case contracts.OutcomeNotFound:
		p.Resolution.NotFoundSeen++
		if p.Resolution.NotFoundSeen >= 2 && h.now().Sub(p.UpdatedAt) >= h.resolver.ReadTimeout {
			return h.fence(ctx, p) // never arrived: fence a late landing, then it is over
		}
	}
	if h.now().Sub(p.CreatedAt) >= h.resolver.FenceAfter {
		return h.fence(ctx, p)
	}
	h.reschedulePayment(ctx, p)
	return false
}

// settlePayment records the partner's definite answer about a payment whose outcome was
// open, finishes its open attempt and, when the till's request never got its answer (a
// crash), stores the settled payment as that request's response.
func (h *Hub) settlePayment(ctx context.Context, seen contracts.Payment, res contracts.PaymentResult) (contracts.Payment, error) {
	var out contracts.Payment
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, seen.ID)
		if err != nil {
			return err
		}
		out = p
		if p.Status != seen.Status {
			return nil // someone else settled it
		}
		now := h.now()
		if statusFor(res.Outcome) == contracts.StatusCanceled && p.Status == contracts.StatusProcessing {
			// A processing payment learns its outcome only through unknown: record that
			// step first, so the events tell the whole story.
			if err := h.markUnknown(ctx, tx, &p, now); err != nil {
				return err
			}
		}
		h.applyPaymentResult(ctx, &p, res, now)
		p.Resolution = contracts.Resolution{}
		body := render.Payment(p)
		ev := h.event(&p, "", contracts.PaymentEventType(p.Status), body, now)
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, ev); err != nil {
			return err
		}
		if err := h.finishOpenAttempts(ctx, tx, p.ID, "", contracts.OpPay, res.Outcome, res.PartnerCode, now); err != nil {
			return err
		}
		out = p
		return idempotency.AnswerOpen(ctx, tx, p.ClientID, p.IdempotencyKey, contracts.Answer{Kind: contracts.AnswerCreated, Body: body}, now)
	})
	return out, err
}

// finishOpenAttempts records the outcome of the payment's attempts of operation op (for
// refundID; "" for the payment's own calls) still in flight.
func (h *Hub) finishOpenAttempts(ctx context.Context, tx contracts.Tx, paymentID, refundID string, op contracts.AttemptOperation, o contracts.Outcome, code string, now time.Time) error {
	attempts, err := tx.ListAttempts(ctx, paymentID)
	if err != nil {
		return err
	}
	for _, a := range attempts {
		if a.Operation == op && a.RefundID == refundID && a.Outcome == "" {
			if err := tx.FinishAttempt(ctx, a.ID, o, code, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// fence cancels a payment whose outcome stays open. Accepted: the payment ends canceled
// (a cancel before the customer paid is applied when they pay, so nothing can land late).
// Past the partner's cancel window: the payment is marked for reversal, and once the
// partner shows it completed, the resolver refunds it.
func (h *Hub) fence(ctx context.Context, p contracts.Payment) bool {
	partner := h.partners[p.Method]
	res := partner.CancelPayment(ctx, h.paymentRef(ctx, p))
	switch res.Outcome {
	case contracts.OutcomeSucceeded:
		_, err := h.settlePayment(ctx, p, contracts.PaymentResult{Outcome: contracts.OutcomeCanceled, PartnerCode: res.PartnerCode})
		if err == nil {
			h.setCancellationReason(ctx, p.ID)
		}
		return err == nil
	case contracts.OutcomeWindowPassed:
		p.CancelRequested = true // reverse by refund as soon as the partner shows it paid
	}
	h.reschedulePayment(ctx, p)
	return false
}

// setCancellationReason notes why payhub canceled a payment it reversed.
func (h *Hub) setCancellationReason(ctx context.Context, id string) {
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, id)
		if err != nil || p.Status != contracts.StatusCanceled || p.CancellationReason != "" {
			return err
		}
		p.CancellationReason = reversalReason
		return tx.UpdatePayment(ctx, p)
	})
	if err != nil {
		h.log.ErrorContext(ctx, "note cancellation reason", "payment_id", id, "err", err)
	}
}

// reverse gives back the money of a payment whose cancel request stands: the partner's
// cancel (or void, or withdrawal) while the partner allows one, else a refund of everything
// captured. The request is never dropped: until the partner confirmed a reversal — the
// payment canceled, or refunded in full — the resolver comes back to it. It reports
// whether the payment is reversed or its reversal refund was sent.
func (h *Hub) reverse(ctx context.Context, p contracts.Payment, reason string) bool {
	if !holdsLease(ctx, contracts.LeasePayment, p.ID) {
		// A store request or a refresh reverses too (the till abandoned the payment, or
		// asked again): under the payment's lease as the resolver does, or not at all when
		// another instance or worker is at it (the resolver finishes the reversal).
		leased, cur, release, ok := h.leasedReversal(ctx, p)
		if !ok {
			return false
		}
		defer release()
		ctx, p = leased, cur
	}
	caller := Caller{ClientID: p.ClientID, StoreID: p.StoreID}
	refunds, err := h.store.ListRefunds(ctx, p.ID)
	if err != nil {
		h.log.ErrorContext(ctx, "read refunds of a payment to reverse", "payment_id", p.ID, "err", err)
		return false
	}
	if refundOpen(refunds) {
		// The reversal's refund is under way; the refund's own resolution finishes it.
		h.reschedulePayment(ctx, p)
		return false
	}
	if !refunded(refunds) {
		// Nothing refunded yet: a cancel reverses the whole payment where the partner
		// still takes one.
		resp, err := h.cancelAtPartner(ctx, caller, nil, p, reason)
		if err != nil {
			h.reschedulePayment(ctx, p)
			return false
		}
		cur, err := h.store.GetPayment(ctx, "", p.ID)
		if err != nil {
			return false
		}
		if cur.Status == contracts.StatusCanceled {
			return true
		}
		if resp.Kind != contracts.AnswerRefused || cur.Status != contracts.StatusSucceeded {
			// The cancel's outcome is open, or the partner refused to release a hold or a
			// customer action: try again later.
			h.reschedulePayment(ctx, cur)
			return false
		}
	}
	// The partner takes no cancel any more (its window passed, LINE Pay after capture) or
	// the payment has refunds: refund everything still captured.
	if _, err := h.refund(ctx, caller, nil, p.ID, CreateRefund{Reason: reason, reversal: true}); err != nil {
		h.log.ErrorContext(ctx, "refund a payment to reverse it", "payment_id", p.ID, "err", err)
		h.reschedulePayment(ctx, p)
		return false
	}
	if after, err := h.store.ListRefunds(ctx, p.ID); err == nil && len(after) > 0 && after[len(after)-1].Status == contracts.RefundFailed {
		// The partner refused the refund: the request still stands; try again later, and
		// hand it to an operator once the budget runs out.
		h.log.WarnContext(ctx, "partner refused the refund that reverses a payment", "payment_id", p.ID)
		h.reschedulePayment(ctx, p)
		return false
	}
	return true
}

// refundOpen reports whether a refund's outcome is still open.
func refundOpen(refunds []contracts.Refund) bool {
	for _, r := range refunds {
		if r.Status == contracts.RefundPending || r.Status == contracts.RefundUnknown {
			return true
		}
	}
	return false
}

// refunded reports whether any refund took money back.
func refunded(refunds []contracts.Refund) bool {
	for _, r := range refunds {
		if r.Status == contracts.RefundSucceeded {
			return true
		}
	}
	return false
}

// reschedulePayment counts a pass and sets when the resolver looks again.
func (h *Hub) reschedulePayment(ctx context.Context, seen contracts.Payment) {
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, seen.ID)
		if err != nil || p.Status != seen.Status {
			return err
		}
		p.Resolution.Attempts++
		p.Resolution.NotFoundSeen = seen.Resolution.NotFoundSeen
		p.CancelRequested = p.CancelRequested || seen.CancelRequested
		next := h.now().Add(h.backoff(p.Resolution.Attempts))
		p.Resolution.NextAt = &next
		return tx.UpdatePayment(ctx, p)
	})
	if err != nil {
		h.logWriteError(ctx, "reschedule payment", err, "payment_id", seen.ID)
	}
}

// backoff is exponential with full jitter in its upper half, capped at MaxBackoff.
func (h *Hub) backoff(attempts int) time.Duration {
	d := h.resolver.FirstBackoff << min(attempts-1, 20)
	if d <= 0 || d > h.resolver.MaxBackoff {
		d = h.resolver.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// flagPayment hands a payment whose budget ran out to an operator.
func (h *Hub) flagPayment(ctx context.Context, seen contracts.Payment) {
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, seen.ID)
		if err != nil || p.Resolution.NeedsAttention {
			return err
		}
		now := h.now()
		p.Resolution.NeedsAttention, p.UpdatedAt = true, now
		ev := h.event(&p, "", contracts.EventPaymentNeedsAttention, render.Payment(p), now)
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, ev)
	})
	if err != nil {
		h.log.ErrorContext(ctx, "flag payment for an operator", "payment_id", seen.ID, "err", err)
		return
	}
	h.metrics.needsAttention("payment")
	h.log.WarnContext(ctx, "payment needs an operator", "payment_id", seen.ID, "status", seen.Status)
}

// resolveRefund settles a refund whose outcome was lost by sending the same refund again:
// partners replay the first result for a repeated refund id (Partner.Refund's contract).
func (h *Hub) resolveRefund(ctx context.Context, r contracts.Refund) bool {
	p, err := h.store.GetPayment(ctx, "", r.PaymentID)
	if err != nil {
		return false
	}
	partner := h.partners[p.Method]
	if partner == nil {
		return false
	}
	if h.now().Sub(r.CreatedAt) > h.resolver.Budget {
		h.flagRefund(ctx, r)
		return false
	}
	// p.AmountRefunded is what succeeded before this refund (it is added only when this one
	// settles), so the resend carries the PriorRefunded of its first send.
	res := partner.Refund(ctx, contracts.RefundRequest{PartnerRef: r.PartnerRef, Payment: h.paymentRef(ctx, p),
		Amount: r.Amount, PriorRefunded: p.AmountRefunded, Reason: r.Reason, RequestedAt: r.CreatedAt})
	if res.Outcome != contracts.OutcomeSucceeded && res.Outcome != contracts.OutcomeFailed {
		h.rescheduleRefund(ctx, r)
		return false
	}
	err = h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, r.PaymentID)
		if err != nil {
			return err
		}
		cur, err := tx.GetRefundForUpdate(ctx, r.ID)
		if err != nil || cur.Status != r.Status {
			return err
		}
		now := h.now()
		applyRefundResult(&cur, res, now)
		cur.Resolution = contracts.Resolution{}
		if cur.Status == contracts.RefundSucceeded {
			p.AmountRefunded += cur.Amount.Amount
		}
		p.UpdatedAt = now
		body := render.Refund(cur)
		ev := h.event(&p, cur.ID, contracts.RefundEventType(cur.Status), body, now)
		if err := tx.UpdateRefund(ctx, cur); err != nil {
			return err
		}
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, ev); err != nil {
			return err
		}
		if err := h.finishOpenAttempts(ctx, tx, p.ID, cur.ID, contracts.OpRefund, res.Outcome, res.PartnerCode, now); err != nil {
			return err
		}
		return idempotency.AnswerOpen(ctx, tx, cur.ClientID, cur.IdempotencyKey, contracts.Answer{Kind: contracts.AnswerCreated, Body: body}, now)
	})
	if err != nil {
		h.logWriteError(ctx, "settle refund", err, "refund_id", r.ID)
		return false
	}
	return true
}

func (h *Hub) rescheduleRefund(ctx context.Context, seen contracts.Refund) {
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		r, err := tx.GetRefundForUpdate(ctx, seen.ID)
		if err != nil || r.Status != seen.Status {
			return err
		}
		r.Resolution.Attempts++
		next := h.now().Add(h.backoff(r.Resolution.Attempts))
		r.Resolution.NextAt = &next
		return tx.UpdateRefund(ctx, r)
	})
	if err != nil {
		h.logWriteError(ctx, "reschedule refund", err, "refund_id", seen.ID)
	}
}

func (h *Hub) flagRefund(ctx context.Context, seen contracts.Refund) {
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		r, err := tx.GetRefundForUpdate(ctx, seen.ID)
		if err != nil || r.Resolution.NeedsAttention {
			return err
		}
		r.Resolution.NeedsAttention = true
		return tx.UpdateRefund(ctx, r)
	})
	if err != nil {
		h.log.ErrorContext(ctx, "flag refund for an operator", "refund_id", seen.ID, "err", err)
		return
	}
	h.metrics.needsAttention("refund")
	h.log.WarnContext(ctx, "refund needs an operator", "refund_id", seen.ID, "status", seen.Status)
}

// markUnknown moves a processing payment to unknown, with its event.
func (h *Hub) markUnknown(ctx context.Context, tx contracts.Tx, p *contracts.Payment, now time.Time) error {
	p.Status, p.UpdatedAt = contracts.StatusUnknown, now
	ev := h.event(p, "", contracts.EventPaymentUnknown, render.Payment(*p), now)
	if err := tx.UpdatePayment(ctx, *p); err != nil {
		return err
	}
	return tx.AppendEvent(ctx, ev)
}

// inquire asks the partner about a payment whose outcome is unknown and records a definite
// answer at once, so a till polling GET sees the result as soon as the partner knows it.
// Reversals stay the resolver's: a read never cancels.
func (h *Hub) inquire(ctx context.Context, p contracts.Payment) (contracts.Payment, error) {
	partner := h.partners[p.Method]
	if partner == nil {
		return p, nil
	}
	res := partner.GetPayment(ctx, h.paymentRef(ctx, p))
	switch res.Outcome {
	case contracts.OutcomeSucceeded, contracts.OutcomeAuthorized, contracts.OutcomeFailed, contracts.OutcomeCanceled:
		return h.settlePayment(ctx, p, res)
	}
	return p, nil
}

// NeedingAttention lists the payments of every store that the resolver handed to an
// operator, oldest first: outcomes it could not settle, and reversals it could not finish.
func (h *Hub) NeedingAttention(ctx context.Context) ([]contracts.Payment, error) {
	return h.store.ListPaymentsNeedingAttention(ctx, 0)
}
