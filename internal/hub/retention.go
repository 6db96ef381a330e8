package hub

import (
	"context"
	"time"
)

// RetentionConfig says how long payhub keeps the records that only explain the past: once
// older, they are deleted. Zero fields take DefaultRetention's.
//
// Events are not among them: an event is the record of a payment's change (its outbox row,
// what GET /v1/events/{id} and redelivery read) and stays as long as the payment, until the
// ledger defines how long it needs them. Idempotency keys have their own janitor (72 h).
type RetentionConfig struct {
	// Callbacks: partner callbacks that left the inbox (processed, ignored, rejected) are
	// kept this long after they arrived, for audit. Callbacks still waiting are kept.
	Callbacks time.Duration
	// WebhookAttempts: each send of a store notification (GET /v1/events/{id}/attempts) is
	// kept this long; the event and its delivery's state stay.
	WebhookAttempts time.Duration
	// Batch is how many rows one statement deletes, so that no delete holds locks long.
	Batch int
}

// DefaultRetention: callbacks 30 days, delivery attempts 90 days, in batches of 1000.
var DefaultRetention = RetentionConfig{Callbacks: 30 * 24 * time.Hour, WebhookAttempts: 90 * 24 * time.Hour, Batch: 1000}

func (c RetentionConfig) withDefaults() RetentionConfig {
	d := DefaultRetention
	if c.Callbacks > 0 {
		d.Callbacks = c.Callbacks
	}
	if c.WebhookAttempts > 0 {
		d.WebhookAttempts = c.WebhookAttempts
	}
	if c.Batch > 0 {
		d.Batch = c.Batch
	}
	return d
}

// Pruned counts what one retention pass deleted.
type Pruned struct {
	Callbacks, WebhookAttempts int64
}

// PruneOnce deletes the callbacks and delivery attempts older than cfg keeps them, batch by
// batch until none is left or ctx ends (the next pass goes on). One instance runs each
// pass (its task lease, leases.go); the others' passes meanwhile delete nothing.
func (h *Hub) PruneOnce(ctx context.Context, cfg RetentionConfig) (Pruned, error) {
	var out Pruned
	_, err := h.runTask(ctx, taskRetention, func(ctx context.Context) error {
		var err error
		out, err = h.prune(ctx, cfg)
		return err
	})
	return out, err
}

// prune is one retention pass.
func (h *Hub) prune(ctx context.Context, cfg RetentionConfig) (Pruned, error) {
	cfg = cfg.withDefaults()
	now := h.now()
	var out Pruned
	for _, job := range []struct {
		count  *int64
		delete func(context.Context, time.Time, int) (int64, error)
		before time.Time
	}{
		{&out.Callbacks, h.store.DeleteCallbacksBefore, now.Add(-cfg.Callbacks)},
		{&out.WebhookAttempts, h.store.DeleteWebhookAttemptsBefore, now.Add(-cfg.WebhookAttempts)},
	} {
		for !stopping(ctx) {
			n, err := job.delete(ctx, job.before, cfg.Batch)
			*job.count += n
			if err != nil {
				return out, err
			}
			if n < int64(cfg.Batch) {
				break
			}
		}
	}
	return out, nil
}

// RunRetention prunes every interval until ctx ends, first at once.
func (h *Hub) RunRetention(ctx context.Context, interval time.Duration, cfg RetentionConfig) {
	h.repeat(ctx, interval, true, "retention", func(ctx context.Context) error {
		n, err := h.PruneOnce(ctx, cfg)
		if n.Callbacks > 0 || n.WebhookAttempts > 0 {
			h.log.InfoContext(ctx, "retention deleted old records", "partner_callbacks", n.Callbacks, "webhook_attempts", n.WebhookAttempts)
		}
		return err
	})
}
