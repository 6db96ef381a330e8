package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"payhub/contracts"

	"github.com/pressly/goose/v3"
)

// TestResolutionMigrationKeepsRows writes a payment and a refund under schema version 2,
// migrates to the latest version, reads them back with the resolver's fields at their zero
// values (both due for resolution), and migrates back down.
func TestResolutionMigrationKeepsRows(t *testing.T) {
	dsns := oldSchemaDSNs(t)
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) { testResolutionMigration(t, dsn) })
	}
}

func testResolutionMigration(t *testing.T, dsn string) {
	ctx := context.Background()
	sqlDB, d := openRaw(t, dsn)
	dir, err := fs.Sub(migrations, "migrations/"+d.name)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := goose.NewProvider(d.goose, sqlDB, dir, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.UpTo(ctx, 2); err != nil {
		t.Fatalf("migrate to version 2: %v", err)
	}

	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	p := contracts.Payment{ID: "pay_01OLD", StoreID: "store-a", ClientID: "cli_pos", Method: contracts.MethodPayPay,
		Flow: contracts.FlowBarcode, Amount: contracts.Money{Amount: 500, Currency: contracts.JPY},
		CaptureMethod: contracts.CaptureAutomatic, Status: contracts.StatusUnknown, Attempt: 1,
		PartnerRef: "pay_01OLD-1", CreatedAt: at, UpdatedAt: at}
	r := contracts.Refund{ID: "re_01OLD", PaymentID: p.ID, StoreID: p.StoreID,
		Amount: contracts.Money{Amount: 100, Currency: contracts.JPY}, Status: contracts.RefundUnknown,
		PartnerRef: "re_01OLD", CreatedAt: at, UpdatedAt: at}
	// Version 2 has the columns before the resolver's, which come last.
	const paymentV2, refundV2 = 29, 14
	pArgs, err := d.paymentArgs(p)
	if err != nil {
		t.Fatal(err)
	}
	insert := func(table string, cols []string, args []any) {
		t.Helper()
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + placeholders(len(cols)) + ")"
		if _, err := sqlDB.ExecContext(ctx, d.q(q), args...); err != nil {
			t.Fatalf("insert into %s at version 2: %v", table, err)
		}
	}
	insert("payments", paymentColumns[:paymentV2], pArgs[:paymentV2])
	insert("refunds", refundColumns[:refundV2], d.refundArgs(r)[:refundV2])

	if err := migrate(ctx, sqlDB, d); err != nil {
		t.Fatalf("migrate to latest: %v", err)
	}
	s := &DB{db: sqlDB, d: d}
	got, err := s.GetPayment(ctx, "", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.IdempotencyKey != "" || got.Resolution != (contracts.Resolution{}) || got.Amount != p.Amount {
		t.Errorf("migrated payment = %+v, want the old row with a zero Resolution", got)
	}
	gotR, err := s.GetRefund(ctx, "", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if gotR.ClientID != "" || gotR.IdempotencyKey != "" || gotR.Resolution != (contracts.Resolution{}) {
		t.Errorf("migrated refund = %+v, want the old row with empty request and Resolution", gotR)
	}
	due, err := s.ListPaymentsToResolve(ctx, at, at, 0)
	if err != nil || len(due) != 1 || due[0].ID != p.ID {
		t.Errorf("ListPaymentsToResolve after migration = %v, %v; want the unknown payment", due, err)
	}
	dueR, err := s.ListRefundsToResolve(ctx, at, at, 0)
	if err != nil || len(dueR) != 1 || dueR[0].ID != r.ID {
		t.Errorf("ListRefundsToResolve after migration = %v, %v; want the unknown refund", dueR, err)
	}
	// The way back works too, keeping the rows.
	if _, err := provider.DownTo(ctx, 2); err != nil {
		t.Fatalf("migrate down to version 2: %v", err)
	}
	var n int
	if err := sqlDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM refunds").Scan(&n); err != nil || n != 1 {
		t.Errorf("refunds after migrating down = %d, %v; want 1", n, err)
	}
}

// openRaw opens dsn without migrating, closed when the test ends.
func openRaw(t *testing.T, dsn string) (*sql.DB, dialect) {
	t.Helper()
	driver, source, d := "sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:")+"?"+sqliteParams, sqliteDialect
	if strings.HasPrefix(dsn, "postgres://") {
		driver, source, d = "pgx", dsn, postgresDialect
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, d
}

// postgresSchemaDSN creates a fresh schema on the server at base, dropped when the test
// ends, and returns base with search_path set to it.
func postgresSchemaDSN(t *testing.T, base string) string {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "payhub_migrate_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestAnswerMigrationKeepsStoredAnswers writes completed keys under schema version 8 (HTTP
// statuses) and migrates: each keeps its answer as a kind, a refusal its code from the
// problem document, and every body byte for byte.
func TestAnswerMigrationKeepsStoredAnswers(t *testing.T) {
	dsns := oldSchemaDSNs(t)
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sqlDB, d, _ := migratedTo(t, dsn, 8)
			at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
			rows := map[string]struct {
				status int
				body   string
				want   contracts.Answer
			}{
				"created":  {201, `{"id":"pay_1"}`, contracts.Answer{Kind: contracts.AnswerCreated}},
				"done":     {200, `{"id":"pay_2"}`, contracts.Answer{Kind: contracts.AnswerDone}},
				"accepted": {202, `{"id":"pay_3"}`, contracts.Answer{Kind: contracts.AnswerAccepted}},
				"refused":  {409, `{"type":"urn:payhub:problem:cancel_window_passed","status":409,"code":"cancel_window_passed"}`, contracts.Answer{Kind: contracts.AnswerRefused, Code: contracts.CodeCancelWindowPassed}},
			}
			for key, r := range rows {
				if _, err := sqlDB.ExecContext(ctx, d.q(`INSERT INTO idempotency_keys
					(client_id, key, fingerprint, completed, response_status, response_body, created_at, completed_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), "cli", key, "f", true, r.status, []byte(r.body), d.ts(at), d.ts(at)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := sqlDB.ExecContext(ctx, d.q(`INSERT INTO idempotency_keys (client_id, key, fingerprint, completed, created_at)
				VALUES (?, ?, ?, ?, ?)`), "cli", "running", "f", false, d.ts(at)); err != nil {
				t.Fatal(err)
			}
			if err := migrate(ctx, sqlDB, d); err != nil {
				t.Fatalf("migrate to latest: %v", err)
			}
			s := &DB{db: sqlDB, d: d}
			for key, r := range rows {
				rec, err := s.GetIdempotency(ctx, "cli", key)
				r.want.Body = []byte(r.body)
				if err != nil || rec.Answer.Kind != r.want.Kind || rec.Answer.Code != r.want.Code || string(rec.Answer.Body) != r.body {
					t.Errorf("%s: %+v, %v; want %+v", key, rec.Answer, err, r.want)
				}
			}
			if rec, err := s.GetIdempotency(ctx, "cli", "running"); err != nil || rec.Completed || rec.Answer.Kind != "" {
				t.Errorf("running: %+v, %v", rec, err)
			}
		})
	}
}

// oldSchemaDSNs are where a migration test builds an old schema: a fresh SQLite file and,
// with PAYHUB_TEST_POSTGRES_URL, a fresh PostgreSQL schema, by database name.
func oldSchemaDSNs(t *testing.T) map[string]string {
	dsns := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "old.db")}
	if u := os.Getenv("PAYHUB_TEST_POSTGRES_URL"); u != "" {
		dsns["postgres"] = postgresSchemaDSN(t, u)
	}
	return dsns
}

// migratedTo opens dsn without payhub's own migration and brings it up to version: the
// database, its dialect and the provider, to go on up or down.
func migratedTo(t *testing.T, dsn string, version int64) (*sql.DB, dialect, *goose.Provider) {
	t.Helper()
	sqlDB, d := openRaw(t, dsn)
	dir, err := fs.Sub(migrations, "migrations/"+d.name)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := goose.NewProvider(d.goose, sqlDB, dir, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.UpTo(context.Background(), version); err != nil {
		t.Fatalf("migrate to version %d: %v", version, err)
	}
	return sqlDB, d, provider
}
