-- +goose Up
-- Instances: every payhub process sharing the database registers itself and heartbeats, so
-- the claim on an Idempotency-Key it held when it died can be taken over within seconds
-- (its heartbeat stops) rather than after the resolver's minutes-long stuck rule.
CREATE TABLE instances (
    id           TEXT        PRIMARY KEY,
    version      TEXT        NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL,
    stopped_at   TIMESTAMPTZ
);

-- A key's claim names the instance that runs its request, and the partner attempt its
-- request wrote with its intent, so that whoever takes the claim over knows what the
-- request was doing. Claims from before this migration have no owner: they are left to
-- the resolver's stuck rule as before.
ALTER TABLE idempotency_keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN attempt_id TEXT NOT NULL DEFAULT '';

-- A cancel request is never dropped: it stands until the payment is canceled or refunded
-- in full, so a succeeded payment with a cancel request is open only while money remains
-- captured. (Keep in step with openPayment in payments.go.)
DROP INDEX payments_to_resolve;
CREATE INDEX payments_to_resolve ON payments (id)
    WHERE needs_attention = FALSE AND (status IN ('unknown', 'processing') OR (cancel_requested AND (status IN ('authorized', 'requires_action') OR (status = 'succeeded' AND amount_refunded < amount_captured))));
-- Operators list what the resolver handed to them.
CREATE INDEX payments_needing_attention ON payments (created_at) WHERE needs_attention = TRUE;

-- +goose Down
DROP INDEX payments_needing_attention;
DROP INDEX payments_to_resolve;
CREATE INDEX payments_to_resolve ON payments (id)
    WHERE needs_attention = FALSE AND (status IN ('unknown', 'processing') OR (cancel_requested AND status IN ('succeeded', 'authorized', 'requires_action')));
ALTER TABLE idempotency_keys DROP COLUMN attempt_id;
ALTER TABLE idempotency_keys DROP COLUMN owner;
DROP TABLE instances;
