-- +goose Up
-- Crash recovery: payments and refunds remember the request that created them (so the
-- resolver can store the settled object as that request's response) and carry the
-- resolver's bookkeeping while their outcome is open.
ALTER TABLE payments ADD COLUMN idempotency_key TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN resolve_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN resolve_next_at TIMESTAMPTZ;
ALTER TABLE payments ADD COLUMN resolve_not_found INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN needs_attention BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE refunds ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE refunds ADD COLUMN idempotency_key TEXT NOT NULL DEFAULT '';
ALTER TABLE refunds ADD COLUMN resolve_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN resolve_next_at TIMESTAMPTZ;
ALTER TABLE refunds ADD COLUMN resolve_not_found INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN needs_attention BOOLEAN NOT NULL DEFAULT FALSE;

-- The resolver's scans walk only the open objects in id order. The predicates are repeated
-- verbatim in payments.go and refunds.go (openPayment, openRefund) so that the planner
-- can prove the query implies them.
CREATE INDEX payments_to_resolve ON payments (id)
    WHERE needs_attention = FALSE AND (status IN ('unknown', 'processing') OR (cancel_requested AND status IN ('succeeded', 'authorized', 'requires_action')));
CREATE INDEX refunds_to_resolve ON refunds (id)
    WHERE needs_attention = FALSE AND status IN ('unknown', 'pending');

-- +goose Down
DROP INDEX refunds_to_resolve;
DROP INDEX payments_to_resolve;
ALTER TABLE refunds DROP COLUMN needs_attention;
ALTER TABLE refunds DROP COLUMN resolve_not_found;
ALTER TABLE refunds DROP COLUMN resolve_next_at;
ALTER TABLE refunds DROP COLUMN resolve_attempts;
ALTER TABLE refunds DROP COLUMN idempotency_key;
ALTER TABLE refunds DROP COLUMN client_id;
ALTER TABLE payments DROP COLUMN needs_attention;
ALTER TABLE payments DROP COLUMN resolve_not_found;
ALTER TABLE payments DROP COLUMN resolve_next_at;
ALTER TABLE payments DROP COLUMN resolve_attempts;
ALTER TABLE payments DROP COLUMN idempotency_key;
