package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
)

// The SQLite database, its WAL and its SHM are the owner's only (0600): created so by
// payhub, and narrowed so when an earlier payhub made them 0644. serve's default database
// is sqlite:payhub.db in the working directory.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	check := func(t *testing.T, db string) {
		t.Helper()
		for _, name := range []string{db, db + "-wal", db + "-shm"} {
			info, err := os.Stat(name)
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(name), err)
			}
			if got := info.Mode().Perm(); got != 0o600 {
				t.Errorf("%s has mode %04o, want 0600", filepath.Base(name), got)
			}
		}
	}
	// write makes SQLite create the WAL and SHM (a write in WAL mode).
	write := func(t *testing.T, s *DB, id string) {
		t.Helper()
		now := time.Now().UTC()
		if err := s.CreateStoreClient(ctx, contracts.StoreClient{ID: id, Name: id, Stores: []string{"store-1"}, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	for name, dsnPath := range map[string]string{
		"new":        filepath.Join(dir, "payhub.db"),
		"with query": filepath.Join(dir, "query.db") + "?_pragma=cache_size(100)",
	} {
		t.Run(name, func(t *testing.T) {
			s, err := open(ctx, "sqlite:"+dsnPath)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			write(t, s, "cli_perm")
			db, _, _ := strings.Cut(dsnPath, "?")
			check(t, db)
		})
	}
	t.Run("made 0644 before", func(t *testing.T) {
		db := filepath.Join(dir, "old.db")
		s, err := open(ctx, "sqlite:"+db)
		if err != nil {
			t.Fatal(err)
		}
		write(t, s, "cli_old")
		for _, name := range []string{db, db + "-wal", db + "-shm"} {
			if err := os.Chmod(name, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		if err := os.WriteFile(db+"-wal", nil, 0o644); err != nil { // a WAL left behind, world-readable
			t.Fatal(err)
		}
		if s, err = open(ctx, "sqlite:"+db); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		write(t, s, "cli_again")
		check(t, db)
	})
	t.Run("no directory", func(t *testing.T) {
		if _, err := open(ctx, "sqlite:"+filepath.Join(dir, "missing", "payhub.db")); err == nil {
			t.Fatal("opened a database in a directory that does not exist")
		}
		if _, err := os.Stat(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
			t.Errorf("the directory was made: %v", err)
		}
	})
}
