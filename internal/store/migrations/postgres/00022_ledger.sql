-- Keep in step with ../sqlite/00022_ledger.sql.

-- +goose Up
-- The double-entry ledger (internal/ledger): every money movement posts one balanced
-- transaction in the database transaction of its state change. A transaction's id is
-- derived from its object and event ("payment:<id>:captured"), so the primary key refuses
-- a second posting of the same state change. Entries are one side each (debit or credit,
-- a positive amount in the currency's minor unit); that every transaction balances per
-- currency is checked by the store before it writes (contracts.LedgerTransaction.Validate)
-- and by `payhub ledger check` after.
CREATE TABLE ledger_transactions (
    id          TEXT COLLATE "C" PRIMARY KEY,
    kind        TEXT        NOT NULL,
    object_type TEXT        NOT NULL,
    object_id   TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_transactions_object ON ledger_transactions (object_id);

CREATE TABLE ledger_entries (
    id             TEXT COLLATE "C" PRIMARY KEY,
    transaction_id TEXT COLLATE "C" NOT NULL REFERENCES ledger_transactions (id),
    line           INTEGER NOT NULL CHECK (line > 0),
    account        TEXT COLLATE "C" NOT NULL CHECK (account <> ''),
    currency       TEXT COLLATE "C" NOT NULL CHECK (currency <> ''),
    debit          BIGINT  NOT NULL CHECK (debit >= 0),
    credit         BIGINT  NOT NULL CHECK (credit >= 0),
    CHECK ((debit > 0) <> (credit > 0)),
    UNIQUE (transaction_id, line)
);
CREATE INDEX ledger_entries_account ON ledger_entries (account, currency);

-- Payments, refunds and top-ups that moved money before the ledger existed post what they
-- would have posted, under the same ids, so the ledger agrees with them from the start.
INSERT INTO ledger_transactions (id, kind, object_type, object_id, created_at)
SELECT 'payment:' || id || ':captured', 'payment.captured', 'payment', id, updated_at
FROM payments WHERE status = 'succeeded' AND amount_captured > 0;
INSERT INTO ledger_entries (id, transaction_id, line, account, currency, debit, credit)
SELECT 'payment:' || id || ':captured#1', 'payment:' || id || ':captured', 1,
       'partner_clearing:' || CASE method WHEN 'card' THEN 'gmopg' ELSE method END, currency, amount_captured, 0
FROM payments WHERE status = 'succeeded' AND amount_captured > 0;
INSERT INTO ledger_entries (id, transaction_id, line, account, currency, debit, credit)
SELECT 'payment:' || id || ':captured#2', 'payment:' || id || ':captured', 2,
       'store_receivable:' || store_id, currency, 0, amount_captured
FROM payments WHERE status = 'succeeded' AND amount_captured > 0;

INSERT INTO ledger_transactions (id, kind, object_type, object_id, created_at)
SELECT 'refund:' || id || ':succeeded', 'refund.succeeded', 'refund', id, updated_at
FROM refunds WHERE status = 'succeeded' AND amount > 0;
INSERT INTO ledger_entries (id, transaction_id, line, account, currency, debit, credit)
SELECT 'refund:' || r.id || ':succeeded#1', 'refund:' || r.id || ':succeeded', 1,
       'store_receivable:' || r.store_id, r.currency, r.amount, 0
FROM refunds r WHERE r.status = 'succeeded' AND r.amount > 0;
INSERT INTO ledger_entries (id, transaction_id, line, account, currency, debit, credit)
SELECT 'refund:' || r.id || ':succeeded#2', 'refund:' || r.id || ':succeeded', 2,
       'partner_clearing:' || CASE p.method WHEN 'card' THEN 'gmopg' ELSE p.method END, r.currency, 0, r.amount
FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.status = 'succeeded' AND r.amount > 0;

INSERT INTO ledger_transactions (id, kind, object_type, object_id, created_at)
SELECT 'top_up:' || id || ':succeeded', 'top_up.succeeded', 'top_up', id, updated_at
FROM top_ups WHERE status = 'succeeded' AND amount > 0;
INSERT INTO ledger_entries (id, transaction_id, line, account, currency, debit, credit)
SELECT 'top_up:' || id || ':succeeded#1', 'top_up:' || id || ':succeeded', 1,
       CASE funding WHEN 'points' THEN 'points_redeemed:' || method ELSE 'store_receivable:' || store_id END,
       currency, amount, 0
FROM top_ups WHERE status = 'succeeded' AND amount > 0;
INSERT INTO ledger_entries (id, transaction_id, line, account, currency, debit, credit)
SELECT 'top_up:' || id || ':succeeded#2', 'top_up:' || id || ':succeeded', 2,
       'stored_value_issued:' || method, currency, 0, amount
FROM top_ups WHERE status = 'succeeded' AND amount > 0;

-- Entries are never changed or removed; corrections are new transactions. The triggers
-- refuse UPDATE, DELETE and TRUNCATE for every role; in production the application's role
-- should also hold only INSERT and SELECT on both tables and not own them (as for
-- audit_log), so that it can neither disable the triggers nor drop them. `payhub ledger
-- check` finds what an owner changes behind them.
-- +goose StatementBegin
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- +goose Down
DROP TABLE ledger_entries;
DROP TABLE ledger_transactions;
DROP FUNCTION ledger_append_only();
