-- Keep in step with ../sqlite/00019_operator_totp.sql.

-- +goose Up
-- Operator step-up (docs/security.md §7). One row per enrolled operator (the subject of
-- their operator tokens): the TOTP secret sealed under the secrets ring (never in clear),
-- who enrolled them, the last accepted time step (a code is accepted once, RFC 6238 §5.2),
-- the wrong codes counted in the current window and the lockout they caused.
CREATE TABLE operator_totp (
    operator       TEXT        PRIMARY KEY,
    sealed_secret  TEXT        NOT NULL CHECK (sealed_secret <> ''),
    enrolled_by    TEXT        NOT NULL,
    enrolled_at    TIMESTAMPTZ NOT NULL,
    last_step      BIGINT      NOT NULL DEFAULT 0,
    failures       INTEGER     NOT NULL DEFAULT 0,
    failures_since TIMESTAMPTZ,
    locked_until   TIMESTAMPTZ
);

-- Accepted codes: an operator's change is allowed for a while after the latest.
CREATE TABLE operator_step_ups (
    id          TEXT        PRIMARY KEY,
    operator    TEXT        NOT NULL REFERENCES operator_totp (operator) ON DELETE CASCADE,
    verified_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX operator_step_ups_latest ON operator_step_ups (operator, verified_at);

-- +goose Down
DROP TABLE operator_step_ups;
DROP TABLE operator_totp;
