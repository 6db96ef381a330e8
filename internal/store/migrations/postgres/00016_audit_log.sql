-- Keep in step with ../sqlite/00016_audit_log.sql.

-- +goose Up
-- The tamper-evident audit log (docs/security.md §9): append-only, seq contiguous from 1,
-- each entry's hash = HMAC-SHA256(audit key, prev_hash ‖ canonical entry) (internal/audit).
-- The key is configuration (PAYHUB_AUDIT_KEY), never in the database. params is the
-- redacted, canonical JSON exactly as hashed: TEXT, not JSONB (which would reorder it).
-- Appends are serialised by a transaction-scoped advisory lock (store/audit.go), which needs
-- no privilege on the table.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT        NOT NULL,
    action     TEXT        NOT NULL,
    target     TEXT        NOT NULL,
    params     TEXT        NOT NULL,
    request_id TEXT        NOT NULL,
    prev_hash  TEXT        NOT NULL,
    hash       TEXT        NOT NULL
);

-- Entries are never changed or removed: the trigger refuses UPDATE, DELETE and TRUNCATE
-- for every role. In production the application's role should also hold only INSERT and
-- SELECT on audit_log (REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM <app role>), and
-- not own the table, so that it can neither disable the trigger nor drop it. An owner can;
-- the chain's keyed hashes and the exported anchor are what detect that.
-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
