package hub

import (
	"context"
	"time"
)

// ExpireIdempotencyKeys deletes keys whose request finished more than retention ago; after
// that the key is a new request. It returns how many were deleted. Instances silent for as
// long go too: no claim of theirs can be left that a retry would still take over; and work
// leases expired for longer than a lease (leases.go). One instance runs each pass (its task lease, leases.go); the others' passes meanwhile
// delete nothing.
func (h *Hub) ExpireIdempotencyKeys(ctx context.Context, retention time.Duration) (int64, error) {
	var n int64
	_, err := h.runTask(ctx, taskIdempotencyJanitor, func(ctx context.Context) error {
		if _, err := h.store.DeleteInstancesSilentSince(ctx, h.now().Add(-retention)); err != nil {
			return err
		}
		// An expired lease is no lease; what a killed instance left is dropped here.
		if _, err := h.store.DeleteLeasesExpiredBefore(ctx, h.now().Add(-h.instance.WorkLease)); err != nil {
			return err
		}
		var err error
		n, err = h.guard.Expire(ctx, retention)
		return err
	})
	return n, err
}

// RunIdempotencyJanitor expires keys every interval until ctx ends.
func (h *Hub) RunIdempotencyJanitor(ctx context.Context, interval, retention time.Duration) {
	h.repeat(ctx, interval, false, "expire idempotency keys", func(ctx context.Context) error {
		n, err := h.ExpireIdempotencyKeys(ctx, retention)
		if n > 0 {
			h.log.InfoContext(ctx, "expired idempotency keys", "count", n)
		}
		return err
	})
}
