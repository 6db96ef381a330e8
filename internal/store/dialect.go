package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"payhub/contracts"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds what differs between SQLite and PostgreSQL. Queries are written once with
// "?" placeholders and rebound for PostgreSQL.
type dialect struct {
	// name is the dialect's name in errors and the migrations directory.
	name string
	// goose is the migration dialect.
	goose goose.Dialect
	// postgres selects $n placeholders, native timestamps and row locks.
	postgres bool
}

var (
	sqliteDialect   = dialect{name: "sqlite", goose: goose.DialectSQLite3}
	postgresDialect = dialect{name: "postgres", goose: goose.DialectPostgres, postgres: true}
)

// sqliteTimeLayout is how SQLite stores timestamps: UTC, fixed width, microseconds, so that
// comparing the text compares the times.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// q rebinds a query's "?" placeholders to the dialect's. Queries contain no "?" literals.
func (d dialect) q(query string) string {
	if !d.postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// forUpdate is the row-lock clause of the ForUpdate reads. SQLite needs none: a
// transaction holds the database's write lock from BEGIN IMMEDIATE.
func (d dialect) forUpdate() string {
	if d.postgres {
		return " FOR UPDATE"
	}
	return ""
}

// indexedBy pins a query on the table just named to one index where the dialect can: SQLite
// (without ANALYZE statistics) prefers a multi-index OR over a small partial index, and
// fails the query outright should the index stop being usable. PostgreSQL picks by cost.
func (d dialect) indexedBy(index string) string {
	if d.postgres {
		return ""
	}
	return " INDEXED BY " + index
}

// normTime is the stored form of t: UTC at microsecond precision, the finest both
// databases keep.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// ts encodes a timestamp argument.
func (d dialect) ts(t time.Time) any {
	if d.postgres {
		return normTime(t)
	}
	return normTime(t).Format(sqliteTimeLayout)
}

// nullTS encodes an optional timestamp argument; nil is NULL.
func (d dialect) nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.ts(*t)
}

// timeCol scans a timestamp column of either dialect into a UTC time.Time.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(src any) error {
	t, err := parseTime(src)
	if err != nil {
		return err
	}
	if t == nil {
		return errors.New("store: NULL in a NOT NULL timestamp")
	}
	*c.t = *t
	return nil
}

// nullTimeCol scans an optional timestamp column; NULL is nil.
type nullTimeCol struct{ t **time.Time }

// Scan implements sql.Scanner.
func (c nullTimeCol) Scan(src any) error {
	t, err := parseTime(src)
	if err != nil {
		return err
	}
	*c.t = t
	return nil
}

// parseTime reads a driver value: time.Time from pgx, text from SQLite.
func parseTime(src any) (*time.Time, error) {
	var t time.Time
	switch v := src.(type) {
	case nil:
		return nil, nil
	case time.Time:
		t = v
	case string:
		return parseTimeText(v)
	case []byte:
		return parseTimeText(string(v))
	default:
		return nil, fmt.Errorf("store: cannot scan %T as a timestamp", src)
	}
	t = normTime(t)
	return &t, nil
}

// parseTimeText parses SQLite's stored form (and, leniently, RFC 3339).
func parseTimeText(s string) (*time.Time, error) {
	t, err := time.Parse(sqliteTimeLayout, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, fmt.Errorf("store: bad timestamp %q: %w", s, err)
		}
	}
	t = normTime(t)
	return &t, nil
}

// constraint classifies a database error.
type constraint int

const (
	notConstraint constraint = iota
	uniqueViolation
	foreignKeyViolation
)

// classify recognises the constraint violations of both drivers.
func classify(err error) constraint {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return foreignKeyViolation
		}
		return notConstraint
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return uniqueViolation
		case "23503": // foreign_key_violation
			return foreignKeyViolation
		}
	}
	return notConstraint
}

// wrap names the failed operation and maps driver errors to the contracts sentinels: a
// unique violation is ErrConflict, a missing referenced row (or no row) is ErrNotFound.
func (d dialect) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: %s: %w", op, contracts.ErrNotFound)
	case classify(err) == uniqueViolation:
		return fmt.Errorf("store: %s: %w: %w", op, contracts.ErrConflict, err)
	case classify(err) == foreignKeyViolation:
		return fmt.Errorf("store: %s: referenced row missing: %w: %w", op, contracts.ErrNotFound, err)
	}
	return fmt.Errorf("store: %s (%s): %w", op, d.name, err)
}
