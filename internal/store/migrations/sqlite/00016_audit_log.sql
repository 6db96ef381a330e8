-- Keep in step with ../postgres/00016_audit_log.sql. Timestamps are TEXT in UTC (see
-- 00001_init.sql).

-- +goose Up
-- The tamper-evident audit log (docs/security.md §9): append-only, seq contiguous from 1,
-- each entry's hash = HMAC-SHA256(audit key, prev_hash ‖ canonical entry) (internal/audit).
-- The key is configuration (PAYHUB_AUDIT_KEY), never in the database. params is the
-- redacted, canonical JSON exactly as hashed: TEXT, never reformatted.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    params     TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
) STRICT;

-- Entries are never changed or removed. Someone with the file can drop these triggers;
-- the chain's keyed hashes and the exported anchor are what detect that.
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: entries are never updated');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: entries are never deleted');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_log;
