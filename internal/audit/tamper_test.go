package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/audit"
	"payhub/internal/store"
	"payhub/internal/store/storetest"

	_ "github.com/jackc/pgx/v5/stdlib" // raw access to PostgreSQL, as an attacker would have
	_ "modernc.org/sqlite"             // raw access to the SQLite file
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// tamperDB is a store with raw SQL access to its database, as its owner has.
type tamperDB struct {
	st       contracts.Store
	raw      *sql.DB
	postgres bool
}

// q rebinds "?" placeholders for PostgreSQL.
func (d tamperDB) q(query string) string {
	if !d.postgres {
		return query
	}
	n := 0
	var b strings.Builder
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

func (d tamperDB) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := d.raw.Exec(d.q(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// ts is a timestamp argument as the dialect stores it.
func (d tamperDB) ts(at time.Time) any {
	if d.postgres {
		return at
	}
	return at.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// dropTriggers removes the append-only triggers, as an attacker owning the database can.
func (d tamperDB) dropTriggers(t *testing.T) {
	t.Helper()
	if d.postgres {
		d.exec(t, "ALTER TABLE audit_log DISABLE TRIGGER USER")
		return
	}
	d.exec(t, "DROP TRIGGER audit_log_no_update")
	d.exec(t, "DROP TRIGGER audit_log_no_delete")
}

// eachDatabase runs fn on SQLite and on PostgreSQL (skipped unless configured); fn opens
// what it needs with openDB.
func eachDatabase(t *testing.T, fn func(t *testing.T, postgres bool)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, false) })
	t.Run("postgres", func(t *testing.T) {
		storetest.SkipUnlessPostgres(t)
		fn(t, true)
	})
}

// openDB opens a fresh, migrated store and a raw connection to its database.
func openDB(t *testing.T, postgres bool) tamperDB {
	t.Helper()
	driver, dsn, raw := "sqlite", "", ""
	if postgres {
		driver, dsn = "pgx", storetest.PostgresSchemaURL(t)
		raw = dsn
	} else {
		path := filepath.Join(t.TempDir(), "payhub.db")
		dsn, raw = "sqlite:"+path, "file:"+path+"?_pragma=busy_timeout(15000)"
	}
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := sql.Open(driver, raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return tamperDB{st: st, raw: db, postgres: postgres}
}

const chainLength = 6

// seed appends chainLength entries and returns them with the anchor of the head.
func seed(t *testing.T, st contracts.Store) ([]audit.Entry, audit.Anchor) {
	t.Helper()
	ctx := context.Background()
	var out []audit.Entry
	for i := range chainLength {
		params, err := audit.Params(audit.Change{Before: map[string]any{"n": i}, After: map[string]any{"n": i + 1}, Reason: "test"})
		if err != nil {
			t.Fatal(err)
		}
		err = st.InTx(ctx, func(tx contracts.Tx) error {
			e, err := audit.Append(ctx, tx, testKey, audit.Entry{Actor: "cli:test", Action: "test.change",
				Target: fmt.Sprintf("thing:%d", i), Params: params, RequestID: fmt.Sprintf("req-%d", i)})
			out = append(out, e)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	last := out[len(out)-1]
	return out, audit.Anchor{Seq: last.Seq, Hash: last.Hash}
}

func verify(st contracts.Store, anchor *audit.Anchor) error {
	return audit.Verify(audit.Entries(context.Background(), st, 4), testKey, anchor)
}

// TestTriggersRefuseChanges: UPDATE and DELETE on audit_log are refused by the database.
func TestTriggersRefuseChanges(t *testing.T) {
	eachDatabase(t, func(t *testing.T, postgres bool) {
		d := openDB(t, postgres)
		seed(t, d.st)
		for _, q := range []string{"UPDATE audit_log SET actor = 'evil' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 6"} {
			if _, err := d.raw.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want refused as append-only", q, err)
			}
		}
		if d.postgres {
			if _, err := d.raw.Exec("TRUNCATE audit_log"); err == nil {
				t.Error("TRUNCATE audit_log was allowed")
			}
		}
		if err := verify(d.st, nil); err != nil {
			t.Errorf("after refused changes: %v", err)
		}
	})
}

// TestVerifyDetectsTampering edits, deletes, inserts and swaps rows at the start, in the
// middle and at the end, directly in the database with the triggers dropped, and checks
// that Verify names the right entry (docs/security.md §9).
func TestVerifyDetectsTampering(t *testing.T) {
	const start, middle, end = 1, 3, chainLength
	// shift moves entries from seq k on up by one, freeing k.
	shift := func(t *testing.T, d tamperDB, k int) {
		d.exec(t, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= ?", k)
		d.exec(t, "UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000")
	}
	insert := func(k int) func(t *testing.T, d tamperDB, chain []audit.Entry) {
		return func(t *testing.T, d tamperDB, chain []audit.Entry) {
			prev := audit.GenesisHash
			if k > 1 {
				prev = chain[k-2].Hash
			}
			if k <= len(chain) {
				shift(t, d, k)
			}
			d.exec(t, "INSERT INTO audit_log (seq, at, actor, action, target, params, request_id, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
				k, d.ts(time.Now()), "cli:attacker", "client.register", "client:evil", "{}", "", prev, strings.Repeat("ab", 32))
		}
	}
	swap := func(k int) func(t *testing.T, d tamperDB, chain []audit.Entry) {
		return func(t *testing.T, d tamperDB, _ []audit.Entry) {
			d.exec(t, "UPDATE audit_log SET seq = -1 WHERE seq = ?", k)
			d.exec(t, "UPDATE audit_log SET seq = ? WHERE seq = ?", k, k+1)
			d.exec(t, "UPDATE audit_log SET seq = ? WHERE seq = -1", k+1)
		}
	}
	edit := func(k int, column, value string) func(t *testing.T, d tamperDB, chain []audit.Entry) {
		return func(t *testing.T, d tamperDB, _ []audit.Entry) {
			d.exec(t, "UPDATE audit_log SET "+column+" = ? WHERE seq = ?", value, k)
		}
	}
	del := func(k ...int) func(t *testing.T, d tamperDB, chain []audit.Entry) {
		return func(t *testing.T, d tamperDB, _ []audit.Entry) {
			for _, s := range k {
				d.exec(t, "DELETE FROM audit_log WHERE seq = ?", s)
			}
		}
	}
	cases := []struct {
		name     string
		tamper   func(t *testing.T, d tamperDB, chain []audit.Entry)
		want     int64
		reason   string
		noAnchor bool // detected without an anchor too
	}{
		{"edit start", edit(start, "actor", "cli:someone-else"), start, "hash does not match", true},
		{"edit middle", edit(middle, "params", `{"after":{"n":1000}}`), middle, "hash does not match", true},
		{"edit end", edit(end, "target", "thing:other"), end, "hash does not match", true},
		{"edit hash", edit(middle, "hash", strings.Repeat("cd", 32)), middle, "hash does not match", true},
		{"delete start", del(start), start, "missing", true},
		{"delete middle", del(middle), middle, "missing", true},
		{"delete end", del(end), end, "below the anchor", false},
		{"insert start", insert(start), start, "hash does not match", true},
		{"insert middle", insert(middle), middle, "hash does not match", true},
		{"insert end", insert(end + 1), end + 1, "hash does not match", true},
		{"swap start", swap(start), start, "prev_hash", true},
		{"swap middle", swap(middle), middle, "prev_hash", true},
		{"swap end", swap(end - 1), end - 1, "prev_hash", true},
		{"truncate after anchor", del(end-1, end), end - 1, "truncated", false},
	}
	eachDatabase(t, func(t *testing.T, postgres bool) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				d := openDB(t, postgres)
				chain, anchor := seed(t, d.st)
				if err := verify(d.st, &anchor); err != nil {
					t.Fatalf("intact chain: %v", err)
				}
				d.dropTriggers(t)
				tc.tamper(t, d, chain)
				err := verify(d.st, &anchor)
				var broken *audit.BrokenError
				if !errors.As(err, &broken) || broken.Seq != tc.want || !strings.Contains(broken.Reason, tc.reason) {
					t.Fatalf("Verify = %v, want entry %d: …%s…", err, tc.want, tc.reason)
				}
				err = verify(d.st, nil)
				if tc.noAnchor != (err != nil) {
					t.Errorf("without anchor: Verify = %v, detected want %v", err, tc.noAnchor)
				}
			})
		}
	})
}
