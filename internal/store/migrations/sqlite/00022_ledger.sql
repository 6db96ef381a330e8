-- Keep in step with ../postgres/00022_ledger.sql. Timestamps are TEXT in UTC (see
-- 00001_init.sql).

-- +goose Up
-- The double-entry ledger (internal/ledger): every money movement posts one balanced
-- transaction in the database transaction of its state change. A transaction's id is
-- derived from its object and event ("payment:<id>:captured"), so the primary key refuses
-- a second posting of the same state change. Entries are one side each (debit or credit,
-- a positive amount in the currency's minor unit); that every transaction balances per
-- currency is checked by the store before it writes (contracts.LedgerTransaction.Validate)
-- and by `payhub ledger check` after.
CREATE TABLE ledger_transactions (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX ledger_transactions_object ON ledger_transactions (object_id);

CREATE TABLE ledger_entries (
    id             TEXT    PRIMARY KEY,
    transaction_id TEXT    NOT NULL REFERENCES ledger_transactions (id),
    line           INTEGER NOT NULL CHECK (line > 0),
    account        TEXT    NOT NULL CHECK (account <> ''),
    currency       TEXT    NOT NULL CHECK (currency <> ''),
    debit          INTEGER NOT NULL CHECK (debit >= 0),
    credit         INTEGER NOT NULL CHECK (credit >= 0),
    CHECK ((debit > 0) <> (credit > 0)),
    UNIQUE (transaction_id, line)
) STRICT;
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

-- Entries are never changed or removed; corrections are new transactions. Someone with the
-- file can drop these triggers; `payhub ledger check` finds what they change behind them.
-- +goose StatementBegin
CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions
BEGIN
    SELECT RAISE(ABORT, 'ledger_transactions is append-only: transactions are never updated');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions
BEGIN
    SELECT RAISE(ABORT, 'ledger_transactions is append-only: transactions are never deleted');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only: entries are never updated');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only: entries are never deleted');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE ledger_entries;
DROP TABLE ledger_transactions;
