-- Keep in step with ../postgres/00015_top_ups.sql. Timestamps are TEXT in UTC, booleans
-- INTEGER 0/1 (see 00001_init.sql).

-- +goose Up
-- Top-ups: value a till loads onto a presented stored-value card (nanaco,
-- docs/partners/nanaco.md §B5), paid in cash or with the card's points. The card is kept as
-- its last 4 digits only. partner_ref is the partner's key (terminal, business date,
-- sequence), written before the call and unique per method. The resolve_* columns and
-- needs_attention are the resolver's, as on payments; cancel_* name a same-day cancel whose
-- partner call is in flight or whose outcome is unknown. Events go through the outbox
-- (events, payment_id NULL) with event_sequence as their data.sequence.
CREATE TABLE top_ups (
    id                     TEXT PRIMARY KEY,
    store_id               TEXT        NOT NULL,
    client_id              TEXT        NOT NULL,
    method                 TEXT        NOT NULL,
    terminal_id            TEXT        NOT NULL,
    card_last4             TEXT        NOT NULL,
    amount                 INTEGER     NOT NULL,
    currency               TEXT        NOT NULL,
    funding                TEXT        NOT NULL,
    status                 TEXT        NOT NULL,
    partner_ref            TEXT        NOT NULL,
    partner_txn_id         TEXT        NOT NULL,
    partner_code           TEXT        NOT NULL,
    failure_code           TEXT        NOT NULL,
    failure_message        TEXT        NOT NULL,
    credited_to            TEXT        NOT NULL,
    event_sequence         INTEGER     NOT NULL,
    idempotency_key        TEXT        NOT NULL,
    resolve_attempts       INTEGER     NOT NULL,
    resolve_next_at        TEXT,
    needs_attention        INTEGER     NOT NULL,
    cancel_started_at      TEXT,
    cancel_client_id       TEXT        NOT NULL,
    cancel_idempotency_key TEXT        NOT NULL,
    created_at             TEXT        NOT NULL,
    updated_at             TEXT        NOT NULL,
    canceled_at            TEXT,
    UNIQUE (method, partner_ref)
) STRICT;
CREATE INDEX top_ups_store ON top_ups (store_id, id);
-- The resolver walks only the open top-ups in id order; the predicate is repeated verbatim
-- in topups.go (openTopUp).
CREATE INDEX top_ups_to_resolve ON top_ups (id)
    WHERE needs_attention = FALSE AND (status IN ('unknown', 'pending') OR cancel_started_at IS NOT NULL);

-- +goose Down
DROP TABLE top_ups;
