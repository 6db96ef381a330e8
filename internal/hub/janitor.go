package hub

import (
	"context"
	"time"
)

// ExpireIdempotencyKeys deletes keys whose request finished more than retention ago; after
// that the key is a new request. It returns how many were deleted. Instances silent for as
// long go too: no claim of theirs can be left that a retry would still take over.
func (h *Hub) ExpireIdempotencyKeys(ctx context.Context, retention time.Duration) (int64, error) {
	if _, err := h.store.DeleteInstancesSilentSince(ctx, h.now().Add(-retention)); err != nil {
		return 0, err
	}
	return h.guard.Expire(ctx, retention)
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
