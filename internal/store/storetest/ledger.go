package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"payhub/contracts"

	_ "modernc.org/sqlite" // the "sqlite" driver, for raw access to a test's SQLite file
)

// The ledger's part of the suite (contracts.LedgerStore, contracts.LedgerTx).

// rawAccess is how to reach a store's database with raw SQL, as its owner can.
type rawAccess struct {
	driver, dsn string
}

// raws maps the stores OpenSQLite and OpenPostgres opened to their raw access.
var raws sync.Map

// rememberRaw notes how to reach s's database with raw SQL, until the test ends.
func rememberRaw(t testing.TB, s contracts.Store, driver, dsn string) {
	raws.Store(s, rawAccess{driver: driver, dsn: dsn})
	t.Cleanup(func() { raws.Delete(s) })
}

// RawSQL is a raw connection to the database of s (a store OpenSQLite or OpenPostgres
// opened), closed when the test ends, and whether it is PostgreSQL; ok is false for any
// other store. Tests use it to do what only the database's owner can: tamper.
func RawSQL(t testing.TB, s contracts.Store) (db *sql.DB, postgres, ok bool) {
	t.Helper()
	v, found := raws.Load(s)
	if !found {
		return nil, false, false
	}
	ra := v.(rawAccess)
	db, err := sql.Open(ra.driver, ra.dsn)
	if err != nil {
		t.Fatalf("raw connection: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, ra.driver == "pgx", true
}

// Rebind rewrites a query's "?" placeholders as PostgreSQL's $n when postgres.
func Rebind(query string, postgres bool) string {
	if !postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ledgerTransfer is a balanced transaction moving amount JPY from credit to debit.
func ledgerTransfer(id, debit, credit string, amount int64) contracts.LedgerTransaction {
	return contracts.LedgerTransaction{ID: id, Kind: "test.transfer", ObjectType: contracts.LedgerObjectPayment,
		ObjectID: "pay_" + id, CreatedAt: base, Entries: []contracts.LedgerEntry{
			{Account: debit, Debit: amount, Currency: contracts.JPY},
			{Account: credit, Credit: amount, Currency: contracts.JPY},
		}}
}

func postLedger(ctx context.Context, s contracts.Store, lt contracts.LedgerTransaction) error {
	return s.InTx(ctx, func(tx contracts.Tx) error { return tx.PostLedger(ctx, lt) })
}

// testLedger: balanced transactions round-trip with their entries numbered; one that does
// not balance (in any currency) or is malformed is refused and writes nothing; a replay
// posts nothing (nil when identical, ErrConflict when not); a rolled-back posting leaves
// nothing; paging and balances add up; the movement totals sum the tables.
func testLedger(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	a := ledgerTransfer("t:a", "partner_clearing:paypay", "store_receivable:s1", 1200)
	if err := postLedger(ctx, s, a); err != nil {
		t.Fatalf("post balanced: %v", err)
	}
	got, err := s.GetLedgerTransaction(ctx, "t:a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != a.Kind || got.ObjectID != a.ObjectID || !got.CreatedAt.Equal(stored(base)) || len(got.Entries) != 2 {
		t.Fatalf("read back %+v", got)
	}
	e := got.Entries[1]
	if e.ID != "t:a#2" || e.TransactionID != "t:a" || e.Line != 2 || e.Account != "store_receivable:s1" ||
		e.Credit != 1200 || e.Debit != 0 || e.Currency != contracts.JPY || e.Kind != a.Kind || e.ObjectID != a.ObjectID {
		t.Errorf("entry 2 = %+v", e)
	}

	// Refused: debits and credits differ; two currencies each unbalanced although the
	// totals match; a two-sided entry; a single entry.
	unbalanced := ledgerTransfer("t:bad1", "x", "y", 100)
	unbalanced.Entries[1].Credit = 99
	mixed := ledgerTransfer("t:bad2", "x", "y", 100)
	mixed.Entries[1].Currency = contracts.TWD
	twoSided := ledgerTransfer("t:bad3", "x", "y", 100)
	twoSided.Entries[0].Credit = 100
	twoSided.Entries[1].Debit = 100
	single := ledgerTransfer("t:bad4", "x", "y", 100)
	single.Entries = single.Entries[:1]
	for _, bad := range []contracts.LedgerTransaction{unbalanced, mixed, twoSided, single} {
		if err := postLedger(ctx, s, bad); !errors.Is(err, contracts.ErrLedgerUnbalanced) {
			t.Errorf("post %s = %v, want ErrLedgerUnbalanced", bad.ID, err)
		}
		if _, err := s.GetLedgerTransaction(ctx, bad.ID); !errors.Is(err, contracts.ErrNotFound) {
			t.Errorf("refused %s was written: %v", bad.ID, err)
		}
	}

	// A replay posts nothing; a different posting under a taken id is a conflict. Neither
	// aborts the transaction it runs in.
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.PostLedger(ctx, a); err != nil {
			return fmt.Errorf("identical replay: %w", err)
		}
		other := ledgerTransfer("t:a", "partner_clearing:paypay", "store_receivable:s1", 1300)
		if err := tx.PostLedger(ctx, other); !errors.Is(err, contracts.ErrConflict) {
			return fmt.Errorf("different replay = %v, want ErrConflict", err)
		}
		return tx.PostLedger(ctx, ledgerTransfer("t:b", "store_receivable:s1", "partner_clearing:paypay", 200))
	})
	if err != nil {
		t.Fatal(err)
	}
	rollback := errors.New("roll back")
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.PostLedger(ctx, ledgerTransfer("t:rolled", "x", "y", 5)); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	if err := postLedger(ctx, s, ledgerTransfer("t:c", "partner_clearing:linepay", "store_receivable:s2", 300)); err != nil {
		t.Fatal(err)
	}

	all, err := s.ListLedgerTransactions(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, lt := range all {
		ids = append(ids, fmt.Sprintf("%s/%d", lt.ID, len(lt.Entries)))
	}
	if strings.Join(ids, " ") != "t:a/2 t:b/2 t:c/2" {
		t.Errorf("transactions = %v", ids)
	}
	page, err := s.ListLedgerTransactions(ctx, "t:a", 1)
	if err != nil || len(page) != 1 || page[0].ID != "t:b" || len(page[0].Entries) != 2 || page[0].Entries[0].Account != "store_receivable:s1" {
		t.Errorf("page after t:a = %+v, %v", page, err)
	}
	balances, err := s.ListLedgerBalances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []contracts.LedgerBalance{
		{Account: "partner_clearing:linepay", Currency: contracts.JPY, Debit: 300},
		{Account: "partner_clearing:paypay", Currency: contracts.JPY, Debit: 1200, Credit: 200},
		{Account: "store_receivable:s1", Currency: contracts.JPY, Debit: 200, Credit: 1200},
		{Account: "store_receivable:s2", Currency: contracts.JPY, Credit: 300},
	}
	if d := diff(balances, want); d != "" {
		t.Errorf("balances:%s", d)
	}

	// The movement totals sum what the tables say moved.
	p := newPayment("store-l")
	insertPayment(t, s, p)
	p.Status, p.AmountCaptured = contracts.StatusSucceeded, 700
	inTx(t, s, func(tx contracts.Tx) error { return tx.UpdatePayment(ctx, p) })
	r := newRefund(p, 200)
	inTx(t, s, func(tx contracts.Tx) error {
		if err := tx.InsertRefund(ctx, r); err != nil {
			return err
		}
		r.Status = contracts.RefundSucceeded
		return tx.UpdateRefund(ctx, r)
	})
	pending := newRefund(p, 100)
	inTx(t, s, func(tx contracts.Tx) error { return tx.InsertRefund(ctx, pending) })
	putTopUp(t, s, newTopUp("store-l"), contracts.TopUpSucceeded)
	putTopUp(t, s, newTopUp("store-l"), contracts.TopUpFailed)
	totals, err := s.ListMovementTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantTotals := []contracts.MovementTotal{
		{Kind: contracts.MovementCaptured, StoreID: "store-l", Method: contracts.MethodPayPay, Amount: contracts.Money{Amount: 700, Currency: contracts.JPY}, Count: 1},
		{Kind: contracts.MovementRefunded, StoreID: "store-l", Method: contracts.MethodPayPay, Amount: contracts.Money{Amount: 200, Currency: contracts.JPY}, Count: 1},
		{Kind: contracts.MovementToppedUp, StoreID: "store-l", Method: contracts.MethodNanaco, Funding: contracts.FundingCash, Amount: contracts.Money{Amount: 3000, Currency: contracts.JPY}, Count: 1},
	}
	if d := diff(totals, wantTotals); d != "" {
		t.Errorf("movement totals:%s", d)
	}
}

// testLedgerImmutable: the database refuses UPDATE and DELETE of ledger entries and
// transactions, whoever asks (raw SQL, as the database's owner could send).
func testLedgerImmutable(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	if err := postLedger(ctx, s, ledgerTransfer("t:x", "partner_clearing:paypay", "store_receivable:s1", 1200)); err != nil {
		t.Fatal(err)
	}
	raw, postgres, ok := RawSQL(t, s)
	if !ok {
		t.Skip("no raw access to this store's database")
	}
	for _, query := range []string{
		"UPDATE ledger_entries SET debit = 1 WHERE id = 't:x#1'",
		"UPDATE ledger_entries SET account = 'partner_clearing:linepay' WHERE transaction_id = 't:x'",
		"DELETE FROM ledger_entries WHERE id = 't:x#2'",
		"UPDATE ledger_transactions SET object_id = 'pay_other' WHERE id = 't:x'",
		"DELETE FROM ledger_transactions WHERE id = 't:x'",
	} {
		if _, err := raw.ExecContext(ctx, Rebind(query, postgres)); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", query, err)
		}
	}
	if postgres {
		if _, err := raw.ExecContext(ctx, "TRUNCATE ledger_entries"); err == nil {
			t.Error("TRUNCATE ledger_entries was not refused")
		}
	}
	got, err := s.GetLedgerTransaction(ctx, "t:x")
	if err != nil || len(got.Entries) != 2 || got.Entries[0].Debit != 1200 || got.Entries[1].Credit != 1200 {
		t.Errorf("after the refused changes: %+v, %v", got, err)
	}
}
