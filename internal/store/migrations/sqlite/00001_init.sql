-- payhub schema, SQLite dialect. Keep in step with ../postgres/00001_init.sql.
-- Timestamps are TEXT in UTC, fixed width "2006-01-02T15:04:05.000000Z", so that text order is
-- time order; booleans are INTEGER 0/1. STRICT tables refuse values of the wrong type.

-- +goose Up
CREATE TABLE store_clients (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE client_stores (
    client_id TEXT    NOT NULL REFERENCES store_clients (id) ON DELETE CASCADE,
    store_id  TEXT    NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (client_id, store_id)
) STRICT;

CREATE TABLE client_keys (
    kid            TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES store_clients (id) ON DELETE CASCADE,
    algorithm      TEXT NOT NULL,
    public_key_pem BLOB NOT NULL,
    created_at     TEXT NOT NULL,
    revoked_at     TEXT
) STRICT;
CREATE INDEX client_keys_client ON client_keys (client_id);

CREATE TABLE payments (
    id                    TEXT PRIMARY KEY,
    store_id              TEXT    NOT NULL,
    client_id             TEXT    NOT NULL,
    terminal_id           TEXT    NOT NULL,
    order_id              TEXT    NOT NULL,
    method                TEXT    NOT NULL,
    flow                  TEXT    NOT NULL,
    amount                INTEGER NOT NULL,
    currency              TEXT    NOT NULL,
    amount_refunded       INTEGER NOT NULL,
    status                TEXT    NOT NULL,
    user_authorization_id TEXT    NOT NULL,
    metadata              TEXT,
    next_action           TEXT,
    failure_code          TEXT    NOT NULL,
    failure_message       TEXT    NOT NULL,
    partner_code          TEXT    NOT NULL,
    attempt               INTEGER NOT NULL,
    partner_ref           TEXT    NOT NULL,
    partner_payment_id    TEXT    NOT NULL,
    partner_action_ref    TEXT    NOT NULL,
    cancel_requested      INTEGER NOT NULL,
    cancellation_reason   TEXT    NOT NULL,
    event_sequence        INTEGER NOT NULL,
    paid_at               TEXT,
    created_at            TEXT    NOT NULL,
    updated_at            TEXT    NOT NULL
) STRICT;
CREATE INDEX payments_store_id ON payments (store_id, id DESC);
CREATE INDEX payments_store_status ON payments (store_id, status, id DESC);
CREATE INDEX payments_store_terminal ON payments (store_id, terminal_id, id DESC);
CREATE INDEX payments_store_order ON payments (store_id, order_id, id DESC);
CREATE INDEX payments_store_created ON payments (store_id, created_at);
CREATE INDEX payments_status_created ON payments (status, created_at, id);

CREATE TABLE refunds (
    id                TEXT PRIMARY KEY,
    payment_id        TEXT    NOT NULL REFERENCES payments (id),
    store_id          TEXT    NOT NULL,
    amount            INTEGER NOT NULL,
    currency          TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    reason            TEXT    NOT NULL,
    partner_ref       TEXT    NOT NULL,
    partner_refund_id TEXT    NOT NULL,
    partner_code      TEXT    NOT NULL,
    failure_code      TEXT    NOT NULL,
    failure_message   TEXT    NOT NULL,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
) STRICT;
CREATE INDEX refunds_payment ON refunds (payment_id, created_at, id);

CREATE TABLE attempts (
    id           TEXT PRIMARY KEY,
    payment_id   TEXT NOT NULL REFERENCES payments (id),
    refund_id    TEXT NOT NULL,
    operation    TEXT NOT NULL,
    partner_ref  TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    partner_code TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT
) STRICT;
CREATE INDEX attempts_payment ON attempts (payment_id, started_at, id);

-- events is the transactional outbox.
CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    type       TEXT    NOT NULL,
    store_id   TEXT    NOT NULL,
    payment_id TEXT    NOT NULL REFERENCES payments (id),
    refund_id  TEXT    NOT NULL,
    sequence   INTEGER NOT NULL,
    payload    BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (payment_id, sequence)
) STRICT;
-- Delivery walks a store's events in id (ULID, so creation) order.
CREATE INDEX events_store ON events (store_id, id);
CREATE INDEX events_created ON events (created_at, id);

CREATE TABLE idempotency_keys (
    client_id       TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    fingerprint     TEXT    NOT NULL,
    completed       INTEGER NOT NULL DEFAULT 0,
    response_status INTEGER NOT NULL DEFAULT 0,
    response_body   BLOB,
    created_at      TEXT    NOT NULL,
    completed_at    TEXT,
    PRIMARY KEY (client_id, key)
) STRICT;
-- Only completed keys have completed_at, so expiry needs no other column.
CREATE INDEX idempotency_keys_completed ON idempotency_keys (completed_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE events;
DROP TABLE attempts;
DROP TABLE refunds;
DROP TABLE payments;
DROP TABLE client_keys;
DROP TABLE client_stores;
DROP TABLE store_clients;
