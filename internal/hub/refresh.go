package hub

import (
	"context"
	"fmt"
	"time"

	"payhub/contracts"
	"payhub/internal/render"
)

func (h *Hub) paymentRef(ctx context.Context, p contracts.Payment) contracts.PaymentRef {
	return contracts.PaymentRef{PartnerRef: p.PartnerRef, PartnerPaymentID: p.PartnerPaymentID,
		PartnerActionRef: p.PartnerActionRef, PartnerSecret: h.openSecret(ctx, p), Flow: p.Flow, Amount: p.Amount,
		Status: p.Status, CreatedAt: p.CreatedAt}
}

// refresh asks the partner where a payment waiting for the customer stands and records any
// change. A QR that expired unpaid is withdrawn at the partner (which also fences a payment
// landing at that instant) and the payment fails as expired.
func (h *Hub) refresh(ctx context.Context, p contracts.Payment) (contracts.Payment, error) {
	partner := h.partners[p.Method]
	if partner == nil {
		return p, nil
	}
	return h.recordPartnerView(ctx, p, partner, h.askPartner(ctx, partner, p))
}

// askPartner reads where the partner stands on payment p.
func (h *Hub) askPartner(ctx context.Context, partner contracts.Partner, p contracts.Payment) contracts.PaymentResult {
	start := time.Now()
	res := partner.GetPayment(ctx, h.paymentRef(ctx, p))
	h.metrics.partnerCall(p.Method, "get_payment", res.Outcome, time.Since(start))
	return res
}

// changesNothing reports whether the partner's answer res about waiting payment p leaves
// it as it is: the customer has not paid yet and the code has not expired.
func (h *Hub) changesNothing(p contracts.Payment, res contracts.PaymentResult) bool {
	switch res.Outcome {
	case contracts.OutcomePending, contracts.OutcomeNotFound:
		return !h.qrExpired(p)
	case contracts.OutcomeSucceeded, contracts.OutcomeAuthorized, contracts.OutcomeFailed, contracts.OutcomeCanceled:
		return false
	}
	return true // unknown: nothing learned
}

// recordPartnerView records the partner's answer res about payment p, read in its
// current status: a final outcome, or an expired code withdrawn.
func (h *Hub) recordPartnerView(ctx context.Context, p contracts.Payment, partner contracts.Partner, res contracts.PaymentResult) (contracts.Payment, error) {
	switch res.Outcome {
	case contracts.OutcomeSucceeded, contracts.OutcomeAuthorized, contracts.OutcomeFailed, contracts.OutcomeCanceled:
		q, err := h.applyRefresh(ctx, p, res)
		if err == nil && q.CancelRequested && (q.Status == contracts.StatusSucceeded || q.Status == contracts.StatusAuthorized) {
			h.honorCancelRequest(context.WithoutCancel(ctx), q) // abandoned while open, paid since: reverse it
			return h.store.GetPayment(ctx, q.StoreID, q.ID)
		}
		return q, err
	case contracts.OutcomePending, contracts.OutcomeNotFound:
		if h.qrExpired(p) {
			return h.expire(ctx, p, partner)
		}
	}
	return p, nil
}

func (h *Hub) qrExpired(p contracts.Payment) bool {
	return p.NextAction != nil && p.NextAction.ExpiresAt != nil && !h.now().Before(*p.NextAction.ExpiresAt)
}

// expire withdraws an unpaid, expired customer action. Only an accepted cancel fails the
// payment: if the partner cannot confirm it, the payment stays as it is and is retried.
func (h *Hub) expire(ctx context.Context, p contracts.Payment, partner contracts.Partner) (contracts.Payment, error) {
	res := partner.CancelPayment(ctx, h.paymentRef(ctx, p))
	if res.Outcome != contracts.OutcomeSucceeded {
		h.log.WarnContext(ctx, "withdrawing an expired customer action was not confirmed", "payment_id", p.ID, "outcome", res.Outcome)
		return p, nil
	}
	return h.applyRefresh(ctx, p, contracts.PaymentResult{Outcome: contracts.OutcomeFailed,
		PartnerCode: res.PartnerCode, FailureCode: contracts.FailureExpired,
		FailureMessage: "The customer did not pay before the code expired."})
}

// applyRefresh records a partner's answer about a payment read in status p.Status. When
// another refresh got there first, the stored payment is returned unchanged.
func (h *Hub) applyRefresh(ctx context.Context, seen contracts.Payment, res contracts.PaymentResult) (contracts.Payment, error) {
	var out contracts.Payment
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, seen.ID)
		if err != nil {
			return err
		}
		out = p
		if p.Status != seen.Status || !contracts.CanTransition(p.Status, statusFor(res.Outcome)) {
			return nil
		}
		now := h.now()
		h.applyPaymentResult(ctx, &p, res, now)
		ev := h.event(&p, "", contracts.PaymentEventType(p.Status), render.Payment(p), now)
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		out = p
		return tx.AppendEvent(ctx, ev)
	})
	return out, err
}

// PollOnce refreshes every payment waiting for the customer (up to limit), oldest first, and
// returns how many changed status. The background poller calls it on a ticker; tests call
// it directly instead of sleeping.
func (h *Hub) PollOnce(ctx context.Context, limit int) (int, error) {
	return h.poll(ctx, limit, 0)
}

// poll is PollOnce; with every > 0 it polls only the payments due (ListPaymentsDueForPoll),
// each under a marker until its next poll (dueForPoll), whichever instance polls it.
func (h *Hub) poll(ctx context.Context, limit int, every time.Duration) (int, error) {
	var waiting []contracts.Payment
	var err error
	if every > 0 && !h.noLeases {
		now := h.now()
		waiting, err = h.store.ListPaymentsDueForPoll(ctx, now, now.Add(-h.instance.Lease), limit)
	} else {
		waiting, err = h.store.ListPaymentsByStatus(ctx, contracts.StatusRequiresAction, limit)
	}
	if err != nil {
		return 0, err
	}
	pass := h.pollPasses.Add(1)
	changed := 0
	for _, p := range waiting {
		if stopping(ctx) {
			break
		}
		if every > 0 && !h.dueForPoll(ctx, p, pass, every) {
			continue
		}
		q, err := h.pollOne(context.WithoutCancel(ctx), p)
		if err != nil {
			h.log.ErrorContext(ctx, "refresh payment", "payment_id", p.ID, "err", err)
			continue
		}
		if q.Status != p.Status {
			changed++
		}
	}
	return changed, nil
}

// pollOne asks the partner about waiting payment p and records what changed. Most polls
// find the customer has not paid yet, and those write nothing (their poll marker aside);
// the payment's lease is taken only to record a change, and the payment read again under
// it: should it have changed meanwhile (another instance, the resolver, the till's
// cancel), the answer is dropped and the next poll asks again. An answer read before the
// lease is still good after it: the outcomes it records are final at the partner.
func (h *Hub) pollOne(ctx context.Context, p contracts.Payment) (contracts.Payment, error) {
	partner := h.partners[p.Method]
	if partner == nil {
		return p, nil
	}
	res := h.askPartner(ctx, partner, p)
	if h.changesNothing(p, res) {
		return p, nil
	}
	work, cur, release, ok := h.leasedPayment(ctx, workerPoller, p)
	if !ok {
		return p, nil // another instance (or the resolver) works on it, or it changed
	}
	defer release()
	return h.recordPartnerView(work, cur, partner, res)
}

// RunPoller polls payments waiting for the customer every interval until ctx ends. PayPay
// asks merchants to poll QR payments every few seconds. Several instances share one
// schedule (dueForPoll): each payment is asked about about once an interval, not once per
// instance.
func (h *Hub) RunPoller(ctx context.Context, interval time.Duration) {
	h.repeat(ctx, interval, false, "poll payments", func(ctx context.Context) error {
		_, err := h.poll(ctx, 200, interval)
		return err
	})
}

// dueForPoll takes payment p's poll marker (LeasePolled) until its next poll is due
// (pollInterval), and reports whether it was free: no instance polled the payment lately
// (or the one that did is gone). The marker is never released; it expires. Its owner names
// the pass, so that this instance's next pass does not count as its holder.
func (h *Hub) dueForPoll(ctx context.Context, p contracts.Payment, pass int64, every time.Duration) bool {
	if h.noLeases {
		return true
	}
	id := p.ID
	now := h.now()
	// A hair under the interval: the pass one interval on finds the marker expired.
	next := pollInterval(now.Sub(p.CreatedAt), every)
	until := now.Add(next - every/10)
	owner := fmt.Sprintf("%s/%s-%d", h.instanceID, workerPoller, pass)
	taken, err := h.store.TakeLease(ctx, contracts.WorkLease{Kind: contracts.LeasePolled, Object: id, Owner: owner,
		Instance: h.instanceID, ExpiresAt: until}, now, now.Add(-h.instance.Lease))
	if err != nil {
		if ctx.Err() == nil {
			h.log.ErrorContext(ctx, "take poll marker", "payment_id", id, "err", err)
		}
		return false
	}
	return taken
}

// Poll intervals. PayPay asks for a poll every 2–3 s while a customer is expected to pay
// (docs/partners/paypay.md §4.3): a QR code shown at a till is scanned within a minute or
// not at all, and a later payment reaches payhub by the partner's callback and by the
// till's own lookup as well. So a payment is polled every interval for its first
// pollEagerFor, then every tenth of its age, at most every pollSlowest. A QR code left
// waiting five minutes is asked about ~36 times, not 100; a till's abandoned codes no
// longer cost as much partner traffic as its payments.
const (
	pollEagerFor = time.Minute
	pollSlowest  = 30 * time.Second
)

// pollInterval is how long after a poll a payment of the given age is polled again.
func pollInterval(age, every time.Duration) time.Duration {
	if age < pollEagerFor {
		return every
	}
	return min(max(age/10, every), max(pollSlowest, every))
}
