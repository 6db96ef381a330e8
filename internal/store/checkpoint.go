package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// SQLite appends every commit to the WAL and copies the WAL back into the database file
// (a checkpoint) once it holds enough pages; after a checkpoint that copied all of it, the
// next write starts the WAL over from its beginning. Left to SQLite, the checkpoint runs
// inside the COMMIT that crosses the mark, on the group writer: it copies about 1,000
// pages and fsyncs the WAL and the database, 10–30 ms on this kind of disk, while every
// transaction queued behind it waits. That was payhub's p90 on SQLite: 36 ms against 25
// with checkpoints off, in the same bench.
//
// walCheckpointer does the copying on a connection of its own, beside the writer (SQLite's
// PASSIVE checkpoint never blocks a writer or a reader). Copying beside the writer alone
// never lets the WAL start over: by the time a checkpoint has copied what it saw, the
// writer has appended more, so the WAL only grows. So once the WAL holds walRestartPages,
// the checkpointer copies it, copies once more what arrived meanwhile, and hands the last
// few pages to the writer, which copies them between two batches (finishCheckpoint): no
// write can land during that copy, so it copies everything, and the writer's next batch
// starts the WAL over. The writer waits for a few dozen pages, not thousands.
//
// Each copy writes every page that changed since the one before, however often it
// changed, so a page written by every transaction (a table's last leaf, an index's) costs
// one write per copy. The checkpointer therefore copies only when the WAL is expected to
// have reached the mark, from the pages per batch it saw so far (walGrowth): three copies
// per walRestartPages (4,000), where SQLite's own checkpoint at 1,000 would have made four.
type walCheckpointer struct {
	conn *sql.Conn
	log  *slog.Logger
	// batches is the writer's count of committed batches; kick wakes the checkpointer
	// after each.
	batches atomic.Int64
	kick    chan struct{}
	// finish asks the writer to copy the rest of the WAL between two batches; finished is
	// its answer.
	finish, finished chan struct{}
	// restarts counts the writer's copies that left nothing in the WAL to copy: the next
	// batch starts it over (tests).
	restarts atomic.Int64
	// restartPages is walRestartPages when the store opened.
	restartPages int
	stop         chan struct{}
	stopped      sync.WaitGroup
}

// walRestartPages is the WAL length, in pages, at which it is copied back and made to
// start over (16 MiB of 4 KiB pages). A variable for tests, read when a store opens.
var walRestartPages = 4000

const (
	// firstPagesPerBatch is the checkpointer's guess of the pages a batch adds to the WAL
	// before it has measured any.
	firstPagesPerBatch = 30
	// maxBatchesUnseen bounds the batches between two looks at the WAL, should the
	// estimate be wrong.
	maxBatchesUnseen = 256
	// walSafetyPages is SQLite's own checkpoint mark on every connection (sqliteParams):
	// should the checkpointer fail, the WAL still does not grow without bound.
	walSafetyPages = "20000"
)

// newWALCheckpointer takes a connection of db for the checkpointer and starts it.
func newWALCheckpointer(ctx context.Context, db *sql.DB) (*walCheckpointer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: checkpointer connection: %w", err)
	}
	c := &walCheckpointer{conn: conn, log: slog.Default(), restartPages: walRestartPages, kick: make(chan struct{}, 1),
		finish: make(chan struct{}, 1), finished: make(chan struct{}, 1), stop: make(chan struct{})}
	c.stopped.Add(1)
	go c.loop()
	return c, nil
}

// committed is the writer telling it committed a batch.
func (c *walCheckpointer) committed() {
	c.batches.Add(1)
	select {
	case c.kick <- struct{}{}:
	default: // already awake
	}
}

func (c *walCheckpointer) loop() {
	defer c.stopped.Done()
	// since is the batch count when the WAL last started over; perBatch the pages a batch
	// added to it on average.
	g := walGrowth{perBatch: firstPagesPerBatch}
	for {
		select {
		case <-c.kick:
		case <-c.stop:
			return
		}
		batches := c.batches.Load()
		if g.expected(batches) < float64(c.restartPages) && batches-g.seenAt < maxBatchesUnseen {
			continue
		}
		log, err := c.copy()
		if err != nil {
			continue
		}
		g.saw(batches, log)
		if log < c.restartPages {
			continue
		}
		// What the writer appended while that copy ran, copied too, so that the writer's
		// own share stays small; unless the copies fall behind the writer (a burst), when
		// the writer copies the rest now rather than let the WAL grow.
		if log < 2*c.restartPages {
			if _, err := c.copy(); err != nil {
				continue
			}
		}
		// The next copy waits for the writer's: a copy of ours running meanwhile would
		// hold the checkpoint lock and turn the writer's away.
		c.finish <- struct{}{}
		select {
		case <-c.finished:
			g.restarted(c.batches.Load())
		case <-c.stop:
			return
		}
	}
}

// walGrowth estimates the WAL's length from the batches committed since the checkpointer
// last saw it.
type walGrowth struct {
	seenAt   int64   // the writer's batch count at the last look
	seenLog  int     // the WAL's length then, in pages
	perBatch float64 // the pages a batch adds, as last measured
}

// expected is the WAL's length once the writer has committed batches.
func (g *walGrowth) expected(batches int64) float64 {
	return float64(g.seenLog) + float64(batches-g.seenAt)*g.perBatch
}

// saw records a copy's look at the WAL: log pages after batches. A WAL shorter than at
// the last look started over meanwhile without the writer's finish (its transaction
// found everything copied); its growth since is not a measure of a batch.
func (g *walGrowth) saw(batches int64, log int) {
	if log >= g.seenLog && batches > g.seenAt {
		// At least a page a batch: a tiny measure must not stop the copies for good.
		g.perBatch = max(float64(log-g.seenLog)/float64(batches-g.seenAt), 1)
	}
	g.seenAt, g.seenLog = batches, log
}

// restarted records the WAL starting over after the writer's finish, at batches.
func (g *walGrowth) restarted(batches int64) { g.seenAt, g.seenLog = batches, 0 }

// copy runs a PASSIVE checkpoint and returns the WAL's length in pages.
func (c *walCheckpointer) copy() (int, error) {
	_, log, _, err := checkpoint(context.Background(), c.conn)
	if err != nil {
		c.log.Error("store: checkpoint the SQLite WAL", "err", err)
	}
	return log, err
}

// checkpoint runs a PASSIVE checkpoint on conn: busy is set when another checkpoint held
// the lock, log is the WAL's length in pages and done how many of them are in the
// database file now.
func checkpoint(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (busy bool, log, done int, err error) {
	var b int
	if err := q.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&b, &log, &done); err != nil {
		return false, 0, 0, err
	}
	return b != 0, log, done, nil
}

// close stops the checkpointer and releases its connection.
func (c *walCheckpointer) close() error {
	close(c.stop)
	c.stopped.Wait()
	return c.conn.Close()
}
