// Package storetest owns the conformance suite every contracts.Store implementation passes
// (Run), and helpers that give other packages' tests a fresh, migrated store on SQLite or
// PostgreSQL.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/store"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for creating test schemas
)

// PostgresURLEnv names the environment variable with the PostgreSQL server URL for tests.
// PostgreSQL tests skip when it is unset.
const PostgresURLEnv = "PAYHUB_TEST_POSTGRES_URL"

// Database is one database a test can run against.
type Database struct {
	// Name is "sqlite" or "postgres", fit for t.Run.
	Name string
	// Open returns a fresh, empty store, closed when the test ends. The PostgreSQL one skips
	// the test when PostgresURLEnv is unset.
	Open func(t *testing.T) contracts.Store
}

// Databases lists the databases payhub runs on, SQLite first:
//
//	for _, db := range storetest.Databases() {
//		t.Run(db.Name, func(t *testing.T) { s := db.Open(t); … })
//	}
func Databases() []Database {
	return []Database{
		{Name: "sqlite", Open: func(t *testing.T) contracts.Store { return OpenSQLite(t) }},
		{Name: "postgres", Open: func(t *testing.T) contracts.Store { return OpenPostgres(t) }},
	}
}

// OpenSQLite returns a fresh store on a SQLite file in the test's temporary directory.
func OpenSQLite(t testing.TB) contracts.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "payhub.db")
	s, err := store.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	rememberRaw(t, s, "sqlite", "file:"+path+"?_pragma=busy_timeout(15000)")
	return s
}

// SkipUnlessPostgres skips the test unless PostgresURLEnv is set, and returns the URL.
func SkipUnlessPostgres(t testing.TB) string {
	t.Helper()
	u := os.Getenv(PostgresURLEnv)
	if u == "" {
		t.Skip(PostgresURLEnv + " not set: PostgreSQL conformance skipped")
	}
	return u
}

// OpenPostgres returns a fresh store in a new schema with a random name on the server at
// PostgresURLEnv (the test skips when it is unset). The schema is dropped when the test ends.
func OpenPostgres(t testing.TB) contracts.Store {
	t.Helper()
	dsn := PostgresSchemaURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	rememberRaw(t, s, "pgx", dsn)
	return s
}

// PostgresSchemaURL creates a new schema with a random name on the server at
// PostgresURLEnv (the test skips when it is unset) and returns the URL that uses it, for
// payhub processes a test starts. The schema is dropped when the test ends.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := SkipUnlessPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("connect postgres: %v", err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	schema := "payhub_test_" + randomHex(t, 8)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	// Registered before the users' cleanups so that it runs after them (cleanups run LIFO).
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// randomHex is n random bytes in hex.
func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
