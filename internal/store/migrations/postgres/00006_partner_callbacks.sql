-- +goose Up
-- Partner callbacks (docs/partners/paypay.md §10) land in a durable inbox, raw body kept for
-- audit, and are answered at once; a worker confirms each with the partner before anything
-- changes. (partner, event_id) drops a partner's retries and replays.
CREATE TABLE partner_callbacks (
    id           TEXT COLLATE "C" PRIMARY KEY,
    partner      TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    source_ip    TEXT NOT NULL,
    body         BYTEA NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    status       TEXT NOT NULL,
    note         TEXT NOT NULL,
    lease_until  TIMESTAMPTZ,
    processed_at TIMESTAMPTZ,
    UNIQUE (partner, event_id)
);
CREATE INDEX partner_callbacks_due ON partner_callbacks (received_at, id) WHERE status = 'received';

-- A callback names the payment by its partner-facing id or by the partner's own id.
CREATE INDEX payments_partner_ref ON payments (partner_ref);
CREATE INDEX payments_partner_payment_id ON payments (partner_payment_id) WHERE partner_payment_id <> '';

-- +goose Down
DROP INDEX payments_partner_payment_id;
DROP INDEX payments_partner_ref;
DROP TABLE partner_callbacks;
