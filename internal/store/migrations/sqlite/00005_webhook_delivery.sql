-- +goose Up
-- Store notifications (docs/api.md §8). An endpoint subscribes a store's URL to event
-- types; each event appended for the store fans out, in the event's own transaction, to one
-- delivery per subscribed endpoint, which the deliverers lease, send and retry.
-- Events about an endpoint (webhook_endpoint.disabled) concern no payment: payment_id
-- becomes nullable. SQLite alters a column only by rebuilding the table.
CREATE TABLE events_new (
    id         TEXT PRIMARY KEY,
    type       TEXT    NOT NULL,
    store_id   TEXT    NOT NULL,
    payment_id TEXT    REFERENCES payments (id),
    refund_id  TEXT    NOT NULL,
    sequence   INTEGER NOT NULL,
    payload    BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (payment_id, sequence)
) STRICT;
INSERT INTO events_new SELECT id, type, store_id, payment_id, refund_id, sequence, payload, created_at FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_store ON events (store_id, id);
CREATE INDEX events_created ON events (created_at, id);

CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
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
    last_success_at TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_store ON webhook_endpoints (store_id, id);

-- Signing secrets: the newest signs; during a rotation the previous one signs too until it
-- expires.
CREATE TABLE webhook_secrets (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    secret      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    PRIMARY KEY (endpoint_id, created_at)
) STRICT;

CREATE TABLE webhook_deliveries (
    event_id    TEXT NOT NULL REFERENCES events (id),
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    next_at     TEXT NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_until TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (event_id, endpoint_id)
) STRICT;
-- Deliverers walk only what is still to send, in due order.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, event_id, endpoint_id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id);

CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    event_id     TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    attempted_at TEXT NOT NULL,
    http_status  INTEGER NOT NULL,
    latency_us   INTEGER NOT NULL,
    error        TEXT NOT NULL,
    -- The deliverer (process) that sent it.
    sent_by      TEXT NOT NULL
) STRICT;
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id, attempted_at, id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_secrets;
DROP TABLE webhook_endpoints;
DELETE FROM events WHERE payment_id IS NULL;
