package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The WAL starts over each time it has grown to about walRestartPages, although SQLite's own
// checkpoint mark is higher than all this test writes: the checkpointer copies it back
// beside the writer, and the writer copies the rest between two batches. Without them the
// WAL of this test would grow to every page it writes (about 18,000); with them it never
// holds a third of that, though the test writes far faster than payhub does.
func TestWALStartsOverBesideTheWriter(t *testing.T) {
	restart := walRestartPages
	walRestartPages = 500
	t.Cleanup(func() { walRestartPages = restart })
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	s, err := open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.db.Exec("CREATE TABLE w (id INTEGER PRIMARY KEY, pad BLOB NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	pad := []byte(strings.Repeat("p", 3000))
	const txs, rows = 3000, 6 // ~6 pages a transaction
	for i := range txs {
		err := s.inTx(ctx, func(t *tx) error {
			for j := range rows {
				if _, err := t.tx.ExecContext(ctx, "INSERT INTO w (id, pad) VALUES (?, ?)", i*rows+j, pad); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM w").Scan(&n); err != nil || n != txs*rows {
		t.Fatalf("rows = %d, %v; want %d", n, err, txs*rows)
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	pages := fi.Size() / 4096
	if finished := s.writer.ckpt.restarts.Load(); finished < 5 || pages > 6000 {
		t.Errorf("the writer finished %d checkpoints and the WAL holds %d pages; want ≥ 5 and ≤ 6000", finished, pages)
	}
	t.Logf("the writer finished %d checkpoints; the WAL file is %d pages", s.writer.ckpt.restarts.Load(), pages)
}
