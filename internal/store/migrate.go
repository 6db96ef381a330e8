package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/pressly/goose/v3"
)

// migrations holds one goose directory per dialect; the two are kept in step by hand.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// SchemaAheadError: the database carries migrations newer than any this build embeds — a
// newer payhub release migrated it (docs/design.md, "Rolling upgrades (expand, then
// contract)"). This build refuses to open it: it cannot know whether those migrations only
// added to the schema or changed what it reads, and the way out is forward, not back.
type SchemaAheadError struct {
	// Applied is the database's latest goose version; Known the latest this build embeds.
	Applied, Known int64
}

func (e *SchemaAheadError) Error() string {
	return fmt.Sprintf("store: database schema is at version %d, newer than this build's %d: "+
		"a newer payhub release migrated it; run that release (or a later one) instead of this one — "+
		"roll forward, never back (docs/design.md, \"Rolling upgrades (expand, then contract)\")", e.Applied, e.Known)
}

// migrate brings the schema up to date, or refuses (SchemaAheadError, nothing written) when
// a newer release already took it past this build's migrations. On PostgreSQL, several
// payhub instances may start at once: a session advisory lock (one per schema) lets one
// migrate while the others wait, and each looks at the version only once it holds the lock.
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
	if err := refuseNewerSchema(ctx, provider, d); err != nil {
		return err
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate %s: %w", d.name, err)
	}
	return nil
}

// refuseNewerSchema fails with SchemaAheadError when the database's latest applied version
// is above the latest migration this build embeds. goose alone would start such a build
// without a word: it has nothing to apply.
func refuseNewerSchema(ctx context.Context, provider *goose.Provider, d dialect) error {
	known, err := knownSchemaVersion(d)
	if err != nil {
		return err
	}
	// GetDBVersion creates goose's version table on a fresh database, as Up would.
	applied, err := provider.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if applied > known {
		return &SchemaAheadError{Applied: applied, Known: known}
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

var knownVersions sync.Map // dialect name → int64

// knownSchemaVersion is the number of the latest embedded migration of d.
func knownSchemaVersion(d dialect) (int64, error) {
	if v, ok := knownVersions.Load(d.name); ok {
		return v.(int64), nil
	}
	entries, err := fs.ReadDir(migrations, "migrations/"+d.name)
	if err != nil {
		return 0, fmt.Errorf("store: migrations: %w", err)
	}
	var latest int64
	for _, e := range entries {
		num, _, ok := strings.Cut(path.Base(e.Name()), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		if n, err := strconv.ParseInt(num, 10, 64); err == nil && n > latest {
			latest = n
		}
	}
	knownVersions.Store(d.name, latest)
	return latest, nil
}
