-- +goose Up
-- Store notifications (docs/api.md §8). An endpoint subscribes a store's URL to event
-- types; each event appended for the store fans out, in the event's own transaction, to one
-- delivery per subscribed endpoint, which the deliverers lease, send and retry.
-- Events about an endpoint (webhook_endpoint.disabled) concern no payment.
ALTER TABLE events ALTER COLUMN payment_id DROP NOT NULL;

CREATE TABLE webhook_endpoints (
    id              TEXT COLLATE "C" PRIMARY KEY,
    store_id        TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    -- The subscribed types as ",type,type," so a match is one substring test; '' = all.
    event_types     TEXT NOT NULL,
    status          TEXT NOT NULL,
    disabled_reason TEXT NOT NULL,
    -- The last 2xx: an endpoint that exhausts a delivery's schedule with none since is
    -- disabled.
    last_success_at TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_store ON webhook_endpoints (store_id, id);

-- Signing secrets: the newest signs; during a rotation the previous one signs too until it
-- expires.
CREATE TABLE webhook_secrets (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    secret      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ,
    PRIMARY KEY (endpoint_id, created_at)
);

CREATE TABLE webhook_deliveries (
    event_id    TEXT NOT NULL REFERENCES events (id),
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    next_at     TIMESTAMPTZ NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_until TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (event_id, endpoint_id)
);
-- Deliverers walk only what is still to send, in due order.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, event_id, endpoint_id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id);

CREATE TABLE webhook_attempts (
    id           TEXT COLLATE "C" PRIMARY KEY,
    event_id     TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    attempted_at TIMESTAMPTZ NOT NULL,
    http_status  INTEGER NOT NULL,
    latency_us   BIGINT NOT NULL,
    error        TEXT NOT NULL,
    -- The deliverer (process) that sent it.
    sent_by      TEXT NOT NULL
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id, attempted_at, id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_secrets;
DROP TABLE webhook_endpoints;
DELETE FROM events WHERE payment_id IS NULL;
ALTER TABLE events ALTER COLUMN payment_id SET NOT NULL;
