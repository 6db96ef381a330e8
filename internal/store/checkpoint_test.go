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

// The checkpointer's estimate of the WAL follows it through a start-over it did not cause:
// a WAL seen shorter than before grows from there at the measured pace, and a tiny pace
// (the last look measured a start-over) cannot stop the copies. A run's estimate had once
// stayed under the mark for good, and the WAL grew to SQLite's own mark, whose copies in
// the COMMIT held the writer for 100–230 ms.
func TestWALGrowthFollowsAStartOver(t *testing.T) {
	g := walGrowth{perBatch: firstPagesPerBatch}
	g.saw(100, 3000) // 30 pages a batch
	if got := g.expected(130); got != 3900 {
		t.Fatalf("expected after 30 more batches = %v, want 3900", got)
	}
	g.saw(133, 25) // started over meanwhile
	if got := g.expected(133 + 130); got != 25+130*30 {
		t.Errorf("expected 130 batches after a start-over = %v, want %d", got, 25+130*30)
	}
	g.saw(200, 26) // a batch of 0.015 pages, as measured
	if got := g.expected(200 + 4000); got < 4000 {
		t.Errorf("expected 4,000 batches on = %v pages; a batch adds at least one", got)
	}
	g.restarted(300)
	if got := g.expected(300); got != 0 {
		t.Errorf("expected right after the writer's finish = %v, want 0", got)
	}
}
