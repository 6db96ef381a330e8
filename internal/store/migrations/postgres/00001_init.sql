-- payhub schema, PostgreSQL dialect. Keep in step with ../sqlite/00001_init.sql.
-- Ids are COLLATE "C" so that ULID order is byte order whatever the database's locale.

-- +goose Up
CREATE TABLE store_clients (
    id         TEXT PRIMARY KEY,
    name       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE client_stores (
    client_id TEXT    NOT NULL REFERENCES store_clients (id) ON DELETE CASCADE,
    store_id  TEXT    NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (client_id, store_id)
);

CREATE TABLE client_keys (
    kid            TEXT PRIMARY KEY,
    client_id      TEXT        NOT NULL REFERENCES store_clients (id) ON DELETE CASCADE,
    algorithm      TEXT        NOT NULL,
    public_key_pem BYTEA       NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    revoked_at     TIMESTAMPTZ
);
CREATE INDEX client_keys_client ON client_keys (client_id);

CREATE TABLE payments (
    id                    TEXT COLLATE "C" PRIMARY KEY,
    store_id              TEXT        NOT NULL,
    client_id             TEXT        NOT NULL,
    terminal_id           TEXT        NOT NULL,
    order_id              TEXT        NOT NULL,
    method                TEXT        NOT NULL,
    flow                  TEXT        NOT NULL,
    amount                BIGINT      NOT NULL,
    currency              TEXT        NOT NULL,
    amount_refunded       BIGINT      NOT NULL,
    status                TEXT        NOT NULL,
    user_authorization_id TEXT        NOT NULL,
    metadata              TEXT,
    next_action           TEXT,
    failure_code          TEXT        NOT NULL,
    failure_message       TEXT        NOT NULL,
    partner_code          TEXT        NOT NULL,
    attempt               INTEGER     NOT NULL,
    partner_ref           TEXT        NOT NULL,
    partner_payment_id    TEXT        NOT NULL,
    partner_action_ref    TEXT        NOT NULL,
    cancel_requested      BOOLEAN     NOT NULL,
    cancellation_reason   TEXT        NOT NULL,
    event_sequence        BIGINT      NOT NULL,
    paid_at               TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX payments_store_id ON payments (store_id, id DESC);
CREATE INDEX payments_store_status ON payments (store_id, status, id DESC);
CREATE INDEX payments_store_terminal ON payments (store_id, terminal_id, id DESC);
CREATE INDEX payments_store_order ON payments (store_id, order_id, id DESC);
CREATE INDEX payments_store_created ON payments (store_id, created_at);
CREATE INDEX payments_status_created ON payments (status, created_at, id);

CREATE TABLE refunds (
    id                TEXT COLLATE "C" PRIMARY KEY,
    payment_id        TEXT        NOT NULL REFERENCES payments (id),
    store_id          TEXT        NOT NULL,
    amount            BIGINT      NOT NULL,
    currency          TEXT        NOT NULL,
    status            TEXT        NOT NULL,
    reason            TEXT        NOT NULL,
    partner_ref       TEXT        NOT NULL,
    partner_refund_id TEXT        NOT NULL,
    partner_code      TEXT        NOT NULL,
    failure_code      TEXT        NOT NULL,
    failure_message   TEXT        NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id, created_at, id);

CREATE TABLE attempts (
    id           TEXT COLLATE "C" PRIMARY KEY,
    payment_id   TEXT        NOT NULL REFERENCES payments (id),
    refund_id    TEXT        NOT NULL,
    operation    TEXT        NOT NULL,
    partner_ref  TEXT        NOT NULL,
    outcome      TEXT        NOT NULL,
    partner_code TEXT        NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE INDEX attempts_payment ON attempts (payment_id, started_at, id);

-- events is the transactional outbox.
CREATE TABLE events (
    id         TEXT COLLATE "C" PRIMARY KEY,
    type       TEXT        NOT NULL,
    store_id   TEXT        NOT NULL,
    payment_id TEXT        NOT NULL REFERENCES payments (id),
    refund_id  TEXT        NOT NULL,
    sequence   BIGINT      NOT NULL,
    payload    BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (payment_id, sequence)
);
-- Delivery walks a store's events in id (ULID, so creation) order.
CREATE INDEX events_store ON events (store_id, id);
CREATE INDEX events_created ON events (created_at, id);

CREATE TABLE idempotency_keys (
    client_id       TEXT        NOT NULL,
    key             TEXT        NOT NULL,
    fingerprint     TEXT        NOT NULL,
    completed       BOOLEAN     NOT NULL DEFAULT FALSE,
    response_status INTEGER     NOT NULL DEFAULT 0,
    response_body   BYTEA,
    created_at      TIMESTAMPTZ NOT NULL,
    completed_at    TIMESTAMPTZ,
    PRIMARY KEY (client_id, key)
);
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
