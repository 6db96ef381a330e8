package hub

import (
	"context"

	"payhub/contracts"
)

// confirmProvisional asks the partner about a payment it counted as a sale without
// confirming it (contracts.Payment.Provisional; nanaco's PENDING_CONFIRMATION,
// docs/partners/nanaco.md §B6): confirmed, the flag clears and the payment is an ordinary
// success; reversed (the chip write never completed) or canceled, the payment settles so,
// with its event; still provisional or no answer, the resolver asks again after its
// backoff. It reports whether the payment settled.
func (h *Hub) confirmProvisional(ctx context.Context, p contracts.Payment, partner contracts.Partner) bool {
	res := partner.GetPayment(ctx, h.paymentRef(ctx, p))
	switch {
	case res.Outcome == contracts.OutcomeSucceeded && !res.Provisional:
		err := h.store.InTx(ctx, func(tx contracts.Tx) error {
			q, err := tx.GetPaymentForUpdate(ctx, p.ID)
			if err != nil || q.Status != contracts.StatusSucceeded || !q.Provisional {
				return err
			}
			// Not a change the API shows (the payment was succeeded all along): no event.
			q.Provisional, q.Resolution, q.UpdatedAt = false, contracts.Resolution{}, h.now()
			return tx.UpdatePayment(ctx, q)
		})
		if err != nil {
			h.log.ErrorContext(ctx, "confirm provisional payment", "payment_id", p.ID, "err", err)
			return false
		}
		return true
	case res.Outcome == contracts.OutcomeFailed || res.Outcome == contracts.OutcomeCanceled:
		if _, err := h.settlePayment(ctx, p, res); err != nil {
			h.log.ErrorContext(ctx, "settle reversed payment", "payment_id", p.ID, "err", err)
			return false
		}
		h.log.WarnContext(ctx, "partner reversed a provisional payment", "payment_id", p.ID, "method", p.Method,
			"failure_code", res.FailureCode)
		return true
	}
	h.reschedulePayment(ctx, p)
	return false
}
