package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// migrations holds one goose directory per dialect; the two are kept in step by hand.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// migrate brings the schema up to date. On PostgreSQL, several payhub instances may start
// at once: a session advisory lock (one per schema) lets one migrate while the others wait.
func migrate(ctx context.Context, db *sql.DB, d dialect) error {
	dir, err := fs.Sub(migrations, "migrations/"+d.name)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	provider, err := goose.NewProvider(d.goose, db, dir, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if d.postgres {
		unlock, err := lockMigrations(ctx, db)
		if err != nil {
			return err
		}
		defer unlock()
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate %s: %w", d.name, err)
	}
	return nil
}

// lockMigrations takes PostgreSQL's session advisory lock for migrating the current schema.
// pg_advisory_lock blocks until granted, so waiting instances do not poll.
func lockMigrations(ctx context.Context, db *sql.DB) (unlock func(), err error) {
	const key = "hashtext('payhub.migrate:' || current_schema())"
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+key+")"); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("store: migration lock: %w", err)
	}
	return func() {
		// Closing the session would release the lock too; unlocking returns the pooled
		// connection clean.
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock("+key+")")
		_ = conn.Close()
	}, nil
}
