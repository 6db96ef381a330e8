package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// A database a newer release migrated past this build's migrations is refused at Open with
// SchemaAheadError naming both versions and the way out, and Open writes nothing: no
// migration runs, even one this build has and the database lacks. On SQLite, and on
// PostgreSQL with PAYHUB_TEST_POSTGRES_URL.
func TestOpenRefusesANewerSchema(t *testing.T) {
	known, err := knownSchemaVersion(sqliteDialect)
	if err != nil {
		t.Fatal(err)
	}
	// At this build's latest (goose alone would start without a word: nothing to apply),
	// and one step short of it (a build that went on migrating would add work_leases).
	for _, at := range []int64{known, known - 1} {
		for name, dsn := range oldSchemaDSNs(t) {
			t.Run(fmt.Sprintf("%s at %d", name, at), func(t *testing.T) { testOpenRefuses(t, dsn, at, known) })
		}
	}
}

func testOpenRefuses(t *testing.T, dsn string, at, known int64) {
	ctx := context.Background()
	sqlDB, d, _ := migratedTo(t, dsn, at)
	if _, err := sqlDB.ExecContext(ctx, d.q(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, ?)`),
		known+1, true); err != nil {
		t.Fatal(err)
	}
	before := schemaSnapshot(t, sqlDB, d)

	s, err := open(ctx, dsn)
	if err == nil {
		_ = s.Close()
		t.Fatal("Open accepted a schema newer than this build's")
	}
	var ahead *SchemaAheadError
	if !errors.As(err, &ahead) || ahead.Applied != known+1 || ahead.Known != known {
		t.Fatalf("Open = %v, want SchemaAheadError{%d, %d}", err, known+1, known)
	}
	for _, want := range []string{fmt.Sprint(known + 1), fmt.Sprint(known), "newer payhub release", "roll forward"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if after := schemaSnapshot(t, sqlDB, d); !slices.Equal(before, after) {
		t.Errorf("Open changed the database:\nbefore %q\nafter  %q", before, after)
	}
}

// A schema at this build's latest opens as before, and Open does not mind running again.
func TestOpenAcceptsItsOwnSchema(t *testing.T) {
	for name, dsn := range oldSchemaDSNs(t) {
		t.Run(name, func(t *testing.T) {
			for range 2 {
				s, err := open(context.Background(), dsn)
				if err != nil {
					t.Fatal(err)
				}
				_ = s.Close()
			}
		})
	}
}

// schemaSnapshot lists the database's tables and goose's version rows.
func schemaSnapshot(t *testing.T, db *sql.DB, d dialect) []string {
	t.Helper()
	tables := `SELECT 'table ' || name FROM sqlite_master WHERE type = 'table' ORDER BY name`
	if d.postgres {
		tables = `SELECT 'table ' || table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`
	}
	var out []string
	for _, q := range []string{tables, `SELECT 'version ' || version_id || ' ' || is_applied FROM goose_db_version ORDER BY id`} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
