package hub

import (
	"context"
	"time"

	"payhub/contracts"
)

// DisableWorkLeases turns the hub's work leases off, so that a test can show what they
// prevent.
func DisableWorkLeases(h *Hub) { h.noLeases = true }

// TakeResolverLease takes h's resolver lease on the payment and never releases it: an
// instance that took the work and died (or stalled). The context carries the lease.
func TakeResolverLease(ctx context.Context, h *Hub, paymentID string) (context.Context, bool) {
	leased, _, ok := h.takeLease(ctx, workerResolver, contracts.LeasePayment, paymentID)
	return leased, ok
}

// TakeJanitorLease takes h's lease on the idempotency janitor's pass and never releases it.
func TakeJanitorLease(ctx context.Context, h *Hub) bool {
	_, _, ok := h.takeLease(ctx, workerMaintenance, contracts.LeaseTask, taskIdempotencyJanitor)
	return ok
}

// SettlePayment writes the resolver's settlement of seen with outcome o, under whatever
// lease ctx carries: the late write of a worker that lost its lease.
func SettlePayment(ctx context.Context, h *Hub, seen contracts.Payment, o contracts.Outcome) error {
	_, err := h.settlePayment(ctx, seen, contracts.PaymentResult{Outcome: o})
	return err
}

// PollEvery runs one pass of h's background poller, which polls a payment only when no
// instance did within every.
func PollEvery(ctx context.Context, h *Hub, limit int, every time.Duration) (int, error) {
	return h.poll(ctx, limit, every)
}
