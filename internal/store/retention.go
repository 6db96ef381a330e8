package store

import (
	"context"
	"time"
)

// DeleteWebhookAttemptsBefore deletes up to limit store-notification attempts made before
// the given time, oldest first (retention: the attempts are the log of each send, shown by
// GET /v1/events/{id}/attempts; the deliveries and events they belong to stay).
func (s *DB) DeleteWebhookAttemptsBefore(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := s.r().ExecContext(ctx, s.d.q(`DELETE FROM webhook_attempts WHERE id IN (
		SELECT id FROM webhook_attempts WHERE attempted_at < ? ORDER BY attempted_at, id LIMIT ?)`),
		s.d.ts(before), limit)
	if err != nil {
		return 0, s.d.wrap("delete old webhook attempts", err)
	}
	n, err := res.RowsAffected()
	return n, s.d.wrap("delete old webhook attempts", err)
}
