-- Keep in step with ../postgres/00020_limits.sql. Timestamps are TEXT in UTC (see
-- 00001_init.sql).

-- +goose Up
-- Velocity and amount limits (docs/security.md §5). A rule caps the count and/or the amount
-- of an operation (pay, top_up) per subject (store, terminal, store client, customer
-- instrument) over a sliding window. subject_id '' means each subject of its kind; a value
-- means that one subject only. Rules are added and removed, never edited in place; a change
-- bumps controls_version so every instance re-reads them with the kill switches.
CREATE TABLE limit_rules (
    id             TEXT PRIMARY KEY,
    subject        TEXT    NOT NULL,
    subject_id     TEXT    NOT NULL DEFAULT '',
    operation      TEXT    NOT NULL,
    method         TEXT    NOT NULL DEFAULT '',
    window_seconds INTEGER NOT NULL CHECK (window_seconds > 0),
    max_count      INTEGER NOT NULL DEFAULT 0 CHECK (max_count >= 0),
    max_amount     INTEGER NOT NULL DEFAULT 0 CHECK (max_amount >= 0),
    currency       TEXT    NOT NULL DEFAULT '',
    reason         TEXT    NOT NULL DEFAULT '',
    set_by         TEXT    NOT NULL,
    set_at         TEXT    NOT NULL,
    removed_by     TEXT    NOT NULL DEFAULT '',
    removed_at     TEXT,
    remove_reason  TEXT    NOT NULL DEFAULT '',
    CHECK (max_count > 0 OR max_amount > 0)
) STRICT;
CREATE INDEX limit_rules_active ON limit_rules (id) WHERE removed_at IS NULL;

-- What each admitted operation used of each subject's budget, reserved in the transaction
-- of the operation's intent (SQLite's single writer serialises the reservations). A
-- definite failure releases its rows; success and unknown keep them. An instrument learnt
-- only from the partner's answer (a card) is recorded with the outcome.
CREATE TABLE limit_usage (
    id          INTEGER PRIMARY KEY,
    subject_key TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    method      TEXT    NOT NULL DEFAULT '',
    amount      INTEGER NOT NULL CHECK (amount >= 0),
    currency    TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    object_id   TEXT    NOT NULL,
    released    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX limit_usage_window ON limit_usage (subject_key, at) WHERE released = 0;
CREATE INDEX limit_usage_object ON limit_usage (object_id);

-- Whether serve has seeded the documented default rules (once per database).
CREATE TABLE limit_defaults (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    seeded_at TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE limit_defaults;
DROP TABLE limit_usage;
DROP TABLE limit_rules;
