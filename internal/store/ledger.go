package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"payhub/contracts"
)

// The double-entry ledger (internal/ledger): the store keeps the transactions and their
// entries append-only (triggers refuse UPDATE and DELETE, migration 00022) and refuses a
// transaction that does not balance before writing anything.

const (
	ledgerTxColumns    = "id, kind, object_type, object_id, created_at"
	ledgerEntryColumns = "id, transaction_id, line, account, currency, debit, credit"
)

// PostLedger writes t and its entries, or nothing: a t that does not balance is
// ErrLedgerUnbalanced; a t posted before is nil when identical (a replay) and ErrConflict
// when it differs. The transaction's row is claimed with ON CONFLICT DO NOTHING, so a
// replay does not abort a PostgreSQL transaction.
func (t *tx) PostLedger(ctx context.Context, lt contracts.LedgerTransaction) error {
	if err := lt.Validate(); err != nil {
		return fmt.Errorf("store: post ledger transaction: %w", err)
	}
	lt = numberEntries(lt)
	res, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO ledger_transactions ("+ledgerTxColumns+
		") VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"),
		lt.ID, string(lt.Kind), string(lt.ObjectType), lt.ObjectID, t.d.ts(lt.CreatedAt))
	if err != nil {
		return t.d.wrap("post ledger transaction "+lt.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.d.wrap("post ledger transaction "+lt.ID, err)
	}
	if n == 0 {
		stored, err := getLedgerTransaction(ctx, t.tx, t.d, lt.ID)
		if err != nil {
			return err
		}
		if !sameLedgerTransaction(stored, lt) {
			return fmt.Errorf("store: post ledger transaction %s: posted before with other entries: %w",
				lt.ID, contracts.ErrConflict)
		}
		return nil
	}
	// The entries go in one statement: one round trip on PostgreSQL, one statement step on
	// SQLite, however many lines the transaction has.
	values := make([]string, len(lt.Entries))
	args := make([]any, 0, 7*len(lt.Entries))
	for i, e := range lt.Entries {
		values[i] = "(?, ?, ?, ?, ?, ?, ?)"
		args = append(args, e.ID, e.TransactionID, e.Line, e.Account, string(e.Currency), e.Debit, e.Credit)
	}
	return t.execLater(ctx, "post ledger entries of "+lt.ID, t.d.q("INSERT INTO ledger_entries ("+ledgerEntryColumns+
		") VALUES "+strings.Join(values, ", ")), args...)
}

// numberEntries sets the entries' ids, transaction and lines from lt and their order, and
// repeats the transaction's kind, object and time on them.
func numberEntries(lt contracts.LedgerTransaction) contracts.LedgerTransaction {
	entries := slices.Clone(lt.Entries)
	for i := range entries {
		e := &entries[i]
		e.Line = i + 1
		e.TransactionID = lt.ID
		e.ID = lt.ID + "#" + strconv.Itoa(e.Line)
		e.Kind, e.ObjectType, e.ObjectID, e.CreatedAt = lt.Kind, lt.ObjectType, lt.ObjectID, normTime(lt.CreatedAt)
	}
	lt.Entries = entries
	lt.CreatedAt = normTime(lt.CreatedAt)
	return lt
}

// sameLedgerTransaction reports whether a replayed posting says what the stored one says
// (its time aside: a replay happens later).
func sameLedgerTransaction(stored, lt contracts.LedgerTransaction) bool {
	if stored.Kind != lt.Kind || stored.ObjectType != lt.ObjectType || stored.ObjectID != lt.ObjectID ||
		len(stored.Entries) != len(lt.Entries) {
		return false
	}
	for i, e := range stored.Entries {
		w := lt.Entries[i]
		if e.Account != w.Account || e.Currency != w.Currency || e.Debit != w.Debit || e.Credit != w.Credit {
			return false
		}
	}
	return true
}

// GetLedgerTransaction reads one transaction with its entries.
func (s *DB) GetLedgerTransaction(ctx context.Context, id string) (contracts.LedgerTransaction, error) {
	return getLedgerTransaction(ctx, s.r(), s.d, id)
}

func getLedgerTransaction(ctx context.Context, q querier, d dialect, id string) (contracts.LedgerTransaction, error) {
	var lt contracts.LedgerTransaction
	err := q.QueryRowContext(ctx, d.q("SELECT "+ledgerTxColumns+" FROM ledger_transactions WHERE id = ?"), id).
		Scan(&lt.ID, &lt.Kind, &lt.ObjectType, &lt.ObjectID, timeCol{&lt.CreatedAt})
	if err != nil {
		return lt, d.wrap("read ledger transaction "+id, err)
	}
	out := []contracts.LedgerTransaction{lt}
	if err := fillLedgerEntries(ctx, q, d, out, "transaction_id = ?", id); err != nil {
		return lt, err
	}
	return out[0], nil
}

// ListLedgerTransactions reads up to limit transactions above afterID, by id, with their
// entries (two queries: the page of transactions, then the entries of that id range).
func (s *DB) ListLedgerTransactions(ctx context.Context, afterID string, limit int) ([]contracts.LedgerTransaction, error) {
	lim, args := limitClause(limit, []any{afterID})
	rows, err := s.r().QueryContext(ctx, s.d.q("SELECT "+ledgerTxColumns+
		" FROM ledger_transactions WHERE id > ? ORDER BY id"+lim), args...)
	if err != nil {
		return nil, s.d.wrap("list ledger transactions", err)
	}
	var out []contracts.LedgerTransaction
	for rows.Next() {
		var lt contracts.LedgerTransaction
		if err := rows.Scan(&lt.ID, &lt.Kind, &lt.ObjectType, &lt.ObjectID, timeCol{&lt.CreatedAt}); err != nil {
			_ = rows.Close()
			return nil, s.d.wrap("list ledger transactions", err)
		}
		out = append(out, lt)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, s.d.wrap("list ledger transactions", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, fillLedgerEntries(ctx, s.r(), s.d, out, "transaction_id > ? AND transaction_id <= ?", afterID, out[len(out)-1].ID)
}

// fillLedgerEntries reads the entries selected by where (in transaction and line order)
// onto txs, which are in id order. An entry of a transaction not in txs is an error: the
// foreign key forbids it.
func fillLedgerEntries(ctx context.Context, q querier, d dialect, txs []contracts.LedgerTransaction, where string, args ...any) error {
	rows, err := q.QueryContext(ctx, d.q("SELECT "+ledgerEntryColumns+" FROM ledger_entries WHERE "+where+
		" ORDER BY transaction_id, line"), args...)
	if err != nil {
		return d.wrap("list ledger entries", err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var e contracts.LedgerEntry
		if err := rows.Scan(&e.ID, &e.TransactionID, &e.Line, &e.Account, &e.Currency, &e.Debit, &e.Credit); err != nil {
			return d.wrap("list ledger entries", err)
		}
		for i < len(txs) && txs[i].ID < e.TransactionID {
			i++
		}
		if i == len(txs) || txs[i].ID != e.TransactionID {
			return fmt.Errorf("store: ledger entry %s names no listed transaction", e.ID)
		}
		lt := &txs[i]
		e.Kind, e.ObjectType, e.ObjectID, e.CreatedAt = lt.Kind, lt.ObjectType, lt.ObjectID, lt.CreatedAt
		lt.Entries = append(lt.Entries, e)
	}
	return d.wrap("list ledger entries", rows.Err())
}

// ListLedgerBalances sums every account's entries per currency.
func (s *DB) ListLedgerBalances(ctx context.Context) ([]contracts.LedgerBalance, error) {
	rows, err := s.r().QueryContext(ctx, "SELECT account, currency, CAST(COALESCE(SUM(debit), 0) AS BIGINT),"+
		" CAST(COALESCE(SUM(credit), 0) AS BIGINT) FROM ledger_entries GROUP BY account, currency ORDER BY account, currency")
	if err != nil {
		return nil, s.d.wrap("list ledger balances", err)
	}
	defer rows.Close()
	var out []contracts.LedgerBalance
	for rows.Next() {
		var b contracts.LedgerBalance
		if err := rows.Scan(&b.Account, &b.Currency, &b.Debit, &b.Credit); err != nil {
			return nil, s.d.wrap("list ledger balances", err)
		}
		out = append(out, b)
	}
	return out, s.d.wrap("list ledger balances", rows.Err())
}

// movementQueries sum what the payments, refunds and top-ups tables say moved; each
// selects kind, store, method, funding, currency, sum and count.
var movementQueries = []string{
	"SELECT 'captured', store_id, method, '', currency, CAST(SUM(amount_captured) AS BIGINT), COUNT(*)" +
		" FROM payments WHERE status = 'succeeded' GROUP BY store_id, method, currency",
	"SELECT 'refunded', p.store_id, p.method, '', r.currency, CAST(SUM(r.amount) AS BIGINT), COUNT(*)" +
		" FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.status = 'succeeded'" +
		" GROUP BY p.store_id, p.method, r.currency",
	"SELECT 'topped_up', store_id, method, funding, currency, CAST(SUM(amount) AS BIGINT), COUNT(*)" +
		" FROM top_ups WHERE status = 'succeeded' GROUP BY store_id, method, funding, currency",
}

// ListMovementTotals sums the succeeded payments' captures, the succeeded refunds and the
// succeeded top-ups per store, method, funding and currency.
func (s *DB) ListMovementTotals(ctx context.Context) ([]contracts.MovementTotal, error) {
	var out []contracts.MovementTotal
	for _, query := range movementQueries {
		rows, err := s.r().QueryContext(ctx, query)
		if err != nil {
			return nil, s.d.wrap("sum money movements", err)
		}
		for rows.Next() {
			var m contracts.MovementTotal
			if err := rows.Scan(&m.Kind, &m.StoreID, &m.Method, &m.Funding, &m.Amount.Currency, &m.Amount.Amount, &m.Count); err != nil {
				_ = rows.Close()
				return nil, s.d.wrap("sum money movements", err)
			}
			out = append(out, m)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, s.d.wrap("sum money movements", err)
		}
	}
	return out, nil
}
