-- Keep in step with ../sqlite/00025_compensation.sql.

-- +goose Up
-- Compensation claims (docs/compensation.md): one row per claim id, ever, so that a claim
-- listed twice, or a list run twice, pays once. body_hash is the SHA-256 of the claim's
-- canonical body: the same claim id with another body is refused. ref names what paid it
-- (a payhub refund id, the canceled payment, a partner reference, a bank row id).
CREATE TABLE compensation_claims (
    claim_id    TEXT COLLATE "C" PRIMARY KEY,
    victim_id   TEXT        NOT NULL,
    original_id TEXT        NOT NULL,
    amount      BIGINT      NOT NULL CHECK (amount > 0),
    body_hash   TEXT        NOT NULL,
    status      TEXT        NOT NULL CHECK (status IN ('pending', 'refunding', 'refunded', 'recredit', 'bank_refund', 'rejected', 'unknown')),
    route       TEXT        NOT NULL DEFAULT '',
    ref         TEXT        NOT NULL DEFAULT '',
    amount_paid BIGINT      NOT NULL DEFAULT 0 CHECK (amount_paid >= 0 AND amount_paid <= amount),
    reason      TEXT        NOT NULL DEFAULT '',
    detail      TEXT        NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX compensation_claims_original ON compensation_claims (original_id);

-- +goose Down
DROP TABLE compensation_claims;
