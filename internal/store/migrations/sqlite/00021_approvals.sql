-- Keep in step with ../postgres/00021_approvals.sql. Timestamps are TEXT in UTC (see
-- 00001_init.sql).

-- +goose Up
-- Two-person approval (docs/security.md §8): a request stores the action's exact
-- parameters (canonical JSON) and their SHA-256; it is decided once (pending → executed,
-- rejected, expired or failed).
CREATE TABLE approvals (
    id              TEXT PRIMARY KEY,
    action          TEXT NOT NULL,
    params          TEXT NOT NULL,
    params_hash     TEXT NOT NULL,
    required_role   TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'executed', 'rejected', 'expired', 'failed')),
    reason          TEXT NOT NULL DEFAULT '',
    requested_by    TEXT NOT NULL,
    requested_at    TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    decided_by      TEXT NOT NULL DEFAULT '',
    decided_at      TEXT,
    decision_reason TEXT NOT NULL DEFAULT '',
    result          TEXT
) STRICT;
CREATE INDEX approvals_status ON approvals (status, id);

-- An operator's new TOTP enrolment, waiting to be fetched once by that operator: the
-- otpauth URL sealed under the secrets ring, deleted when fetched.
CREATE TABLE operator_enrollments (
    operator    TEXT PRIMARY KEY,
    approval_id TEXT NOT NULL,
    sealed_url  TEXT NOT NULL CHECK (sealed_url <> ''),
    created_at  TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE operator_enrollments;
DROP TABLE approvals;
