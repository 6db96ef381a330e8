// Package store owns payhub's persistence: the schema (goose migrations per dialect), and
// contracts.Store on embedded SQLite (modernc.org/sqlite, no cgo) and on PostgreSQL (pgx).
//
// Both databases run the same SQL where they can; what differs (placeholders, column types,
// timestamps, row locks, error codes) lives in dialect.go and in the per-dialect migrations.
// Every state change runs in one transaction (InTx) so that a payment, its outbox event and
// the idempotent response commit together.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"payhub/contracts"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// SQLite connection settings. The immediate transaction lock makes every transaction take
// the single write lock at BEGIN, so read-then-write transactions queue on busy_timeout
// instead of failing with SQLITE_BUSY when they upgrade from reader to writer. Temporary
// files stay in memory: the group writer's savepoints keep a copy of each page they change
// (the sub-journal), which was otherwise a file opened, written and closed per batch.
//
// The WAL is copied back into the database file by walCheckpointer, beside the writer;
// SQLite's own checkpoint on commit is only a safety net, at walSafetyPages.
const (
	sqliteParams = "_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_txlock=immediate" +
		"&_pragma=wal_autocheckpoint(" + walSafetyPages + ")"
	// sqliteMaxOpenConns: the group writer's connection, the checkpointer's, and 8 for reads
	// and single-statement writes.
	sqliteMaxOpenConns = 10
	// postgresMaxOpenConns bounds one payhub instance's share of the server's connections.
	postgresMaxOpenConns = 16
	// postgresIdleTime is how long a PostgreSQL connection nobody used stays open.
	postgresIdleTime = 5 * time.Minute
)

// ErrUnreachable marks an Open that could not reach a PostgreSQL server: it may be starting
// or restarting, so the caller may try again (serve does, reporting not ready meanwhile).
// A SQLite file that cannot be opened is not this error: no waiting brings it.
var ErrUnreachable = errors.New("database unreachable")

// DB is contracts.Store on a SQL database. It is safe for concurrent use.
type DB struct {
	db *sql.DB
	d  dialect
	// writer runs the transactions on SQLite, committing those that wait together (nil on
	// PostgreSQL, whose server commits concurrent transactions together by itself).
	writer *groupWriter
	// reads runs the statements outside transactions on SQLite, each prepared once per
	// connection (nil on PostgreSQL, where pgx caches its prepared statements itself).
	reads *pooledStmts
}

// r is what runs the Store's statements outside transactions.
func (s *DB) r() querier {
	if s.reads != nil {
		return s.reads
	}
	return s.db
}

var _ contracts.Store = (*DB)(nil)

// Open connects to the database named by dsn and brings its schema up to date.
//
// dsn is "sqlite:<file path>" for embedded SQLite, or a "postgres://…" / "postgresql://…"
// URL for PostgreSQL (pgx connection parameters, such as search_path, go in the query).
func Open(ctx context.Context, dsn string) (contracts.Store, error) {
	db, err := open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// open is Open returning the concrete type.
func open(ctx context.Context, dsn string) (*DB, error) {
	var (
		sqlDB *sql.DB
		d     dialect
		err   error
	)
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("store: sqlite dsn names no file")
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		d = sqliteDialect
		if err := ownerOnlySQLiteFiles(path); err != nil {
			return nil, err
		}
		sqlDB, err = sql.Open("sqlite", "file:"+path+sep+sqliteParams)
		if err == nil {
			sqlDB.SetMaxOpenConns(sqliteMaxOpenConns)
			sqlDB.SetMaxIdleConns(sqliteMaxOpenConns)
		}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		d = postgresDialect
		sqlDB, err = sql.Open("pgx", dsn)
		if err == nil {
			sqlDB.SetMaxOpenConns(postgresMaxOpenConns)
			// Every connection stays open while it is used now and then: a connection closed
			// on its way back to a full idle pool is a new backend the next moment (a fork,
			// authentication, a cold catalog cache, every statement prepared again). One idle
			// for postgresIdleTime is closed, so a quiet instance gives its backends back.
			sqlDB.SetMaxIdleConns(postgresMaxOpenConns)
			sqlDB.SetConnMaxIdleTime(postgresIdleTime)
		}
	default:
		// The dsn may carry a password: name only its scheme.
		scheme, _, _ := strings.Cut(dsn, ":")
		return nil, fmt.Errorf("store: unsupported dsn scheme %q (want sqlite: or postgres://)", scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", d.name, err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		if d.postgres {
			return nil, fmt.Errorf("store: connect %s: %w: %w", d.name, ErrUnreachable, err)
		}
		return nil, fmt.Errorf("store: connect %s: %w", d.name, err)
	}
	if err := migrate(ctx, sqlDB, d); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	s := &DB{db: sqlDB, d: d}
	if !d.postgres {
		if s.writer, err = newGroupWriter(ctx, sqlDB, d); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
		s.reads = &pooledStmts{db: sqlDB}
	}
	return s, nil
}

// Ping checks the database is reachable.
func (s *DB) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close releases the database.
func (s *DB) Close() error {
	if s.reads != nil {
		s.reads.close()
	}
	if s.writer != nil {
		if err := s.writer.close(); err != nil {
			return errors.Join(fmt.Errorf("store: close writer: %w", err), s.db.Close())
		}
	}
	return s.db.Close()
}

// InTx runs fn in one transaction: committed when fn returns nil, rolled back when it
// returns an error or panics (the panic continues after the rollback).
//
// On SQLite the transaction holds the database's write lock from its start, so fn must not
// call the Store's own writing methods (they would wait for the lock fn holds), nor InTx:
// fn runs on the group writer, which would wait for itself.
func (s *DB) InTx(ctx context.Context, fn func(tx contracts.Tx) error) error {
	return s.inTx(ctx, func(t *tx) error { return fn(t) })
}

// inTx is InTx for the store's own multi-statement writes.
func (s *DB) inTx(ctx context.Context, fn func(t *tx) error) (err error) {
	if s.writer != nil {
		return s.writer.run(ctx, fn)
	}
	if s.d.postgres {
		return s.pipelinedTx(ctx, fn)
	}
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		// Runs on error and on panic alike; a panic keeps unwinding afterwards.
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) && err != nil {
			err = errors.Join(err, fmt.Errorf("store: rollback: %w", rbErr))
		}
	}()
	if err := fn(&tx{tx: sqlTx, d: s.d}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return s.d.wrap("commit", err)
	}
	committed = true
	return nil
}

// pipelinedTx is inTx on PostgreSQL: one connection, the statements pipelined.
func (s *DB) pipelinedTx(ctx context.Context, fn func(t *tx) error) error {
	p, err := beginPipelined(ctx, s.db, s.d)
	if err != nil {
		return err
	}
	defer p.end() // rolls back unless committed, on error and on panic alike
	if err := fn(&tx{tx: p, d: s.d}); err != nil {
		if p.err != nil && !errors.Is(err, p.err) {
			// A waiting write failed first; the statement that reported it was refused
			// because of it.
			return errors.Join(p.err, err)
		}
		return err
	}
	if err := p.commit(ctx); err != nil {
		return s.d.wrap("commit", err)
	}
	return nil
}

// tx is contracts.Tx on one database transaction: a *sql.Tx, or on SQLite a savepoint of
// the group writer's batch.
type tx struct {
	tx querier
	d  dialect
	// locked are the payments this transaction read for update or wrote, as it last saw
	// them: no other transaction can change them before it ends (PostgreSQL holds their row
	// locks, SQLite its write lock), so UpdatePayment need not read them again.
	locked map[string]contracts.Payment
}

// lockedPayment is payment id as this transaction last read for update or wrote it.
func (t *tx) lockedPayment(id string) (contracts.Payment, bool) {
	p, ok := t.locked[id]
	return p, ok
}

// lock remembers p as this transaction's latest view of its row.
func (t *tx) lock(p contracts.Payment) {
	if t.locked == nil {
		t.locked = make(map[string]contracts.Payment, 1)
	}
	t.locked[p.ID] = p
}

var _ contracts.Tx = (*tx)(nil)

// querier is what *sql.DB and *sql.Tx have in common, so reads serve both Store and Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
