package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// SQLite takes one writer at a time, and a commit's cost is mostly its own: WAL frames for
// every page it dirtied, their checksums, the write. Transactions that each commit on their
// own therefore pay for the same hot pages (the tail of the events table, the indexes'
// last leaves) again and again, and queue on the write lock besides. groupWriter runs every
// transaction of the process on one connection and commits the transactions waiting at
// the same moment together:
//
//	BEGIN IMMEDIATE
//	  SAVEPOINT tx; …first transaction's statements…; RELEASE tx   (or ROLLBACK TO tx)
//	  SAVEPOINT tx; …second transaction's statements…; RELEASE tx
//	  …
//	COMMIT
//
// Each transaction runs in its own savepoint, so one that fails (or panics) is rolled back
// alone and the others commit. Each caller is answered only after the COMMIT that made its
// transaction durable; if that COMMIT fails, every transaction of the batch fails with it.
// The transactions of a batch run one after another, each seeing the ones before it, as
// if they had each taken the write lock in turn: the serial order SQLite gave them before.
//
// The connection also keeps its prepared statements: a statement is parsed once per
// process, not on every call (see stmtCache).
type groupWriter struct {
	d        dialect
	conn     *sql.Conn
	stmts    *stmtCache
	requests chan *writeRequest
	// batchStarted, when set, is told the size of each batch before it commits (tests).
	batchStarted func(size int)
	// ckpt copies the WAL back beside the writer; the writer finishes its copies.
	ckpt    *walCheckpointer
	stop    chan struct{}
	stopped sync.WaitGroup
	// open guards closed: callers queue under its read lock, so that after close has
	// taken it no request can enter the queue unseen.
	open      sync.RWMutex
	closed    bool
	closeOnce sync.Once
	closeErr  error
}

// maxBatch bounds the transactions one commit carries: a batch holds the write lock for as
// long as its transactions run, and the callers that arrive meanwhile wait for the next.
const maxBatch = 64

// writeRequest is one caller's transaction waiting for the writer.
type writeRequest struct {
	ctx  context.Context
	fn   func(t *tx) error
	err  error
	pnc  any // a panic in fn, re-raised in the caller's goroutine
	done chan struct{}
}

// newGroupWriter takes a connection of db for the writer and one for its checkpointer,
// and starts them.
func newGroupWriter(ctx context.Context, db *sql.DB, d dialect) (*groupWriter, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: writer connection: %w", err)
	}
	ckpt, err := newWALCheckpointer(ctx, db)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	w := &groupWriter{d: d, conn: conn, stmts: newStmtCache(conn), ckpt: ckpt, requests: make(chan *writeRequest, maxBatch),
		stop: make(chan struct{})}
	w.stopped.Add(1)
	go w.loop()
	return w, nil
}

// run runs fn in a transaction of the next batch and returns once that batch committed
// (nil) or fn's error once its savepoint was rolled back. A panic in fn is raised again
// here after its rollback.
func (w *groupWriter) run(ctx context.Context, fn func(t *tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	r := &writeRequest{ctx: ctx, fn: fn, done: make(chan struct{})}
	w.open.RLock()
	if w.closed {
		w.open.RUnlock()
		return errClosed
	}
	w.requests <- r // the writer drains the queue until close has the lock
	w.open.RUnlock()
	// Once queued the transaction runs to its end whatever ctx does: its caller learns
	// the outcome (a till that hung up still gets its payment recorded).
	<-r.done
	if r.pnc != nil {
		panic(r.pnc)
	}
	return r.err
}

// errClosed answers a transaction begun on a closed store.
var errClosed = errors.New("store: begin: the store is closed")

// close stops the writer after the batch it is running, fails the transactions still
// queued, and releases its connection. Only the first call does anything (the Store's
// Close may be called more than once).
func (w *groupWriter) close() error {
	w.closeOnce.Do(func() {
		w.open.Lock()
		w.closed = true
		w.open.Unlock()
		close(w.stop)
		w.stopped.Wait()
		for len(w.requests) > 0 {
			r := <-w.requests
			r.err = errClosed
			close(r.done)
		}
		w.stmts.close()
		w.closeErr = w.conn.Close()
		if w.ckpt != nil {
			w.closeErr = errors.Join(w.closeErr, w.ckpt.close())
		}
	})
	return w.closeErr
}

func (w *groupWriter) loop() {
	defer w.stopped.Done()
	batch := make([]*writeRequest, 0, maxBatch)
	var finish chan struct{}
	if w.ckpt != nil {
		finish = w.ckpt.finish
	}
	for {
		select {
		case r := <-w.requests:
			batch = append(batch[:0], r)
		case <-finish:
			w.finishCheckpoint()
			continue
		case <-w.stop:
			return
		}
		// Everyone who queued while the previous batch committed rides on this one.
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-w.requests:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		w.commit(batch)
		clear(batch)
		if w.ckpt != nil {
			w.ckpt.committed()
		}
	}
}

// finishCheckpoint copies what is left of the WAL into the database file, between two
// batches: with no write landing meanwhile, the copy is complete, and the next batch starts
// the WAL over (walCheckpointer).
func (w *groupWriter) finishCheckpoint() {
	busy, log, done, err := checkpoint(context.Background(), w.stmts)
	switch {
	case err != nil:
		w.ckpt.log.Error("store: checkpoint the SQLite WAL", "err", err)
	case !busy && done == log:
		w.ckpt.restarts.Add(1)
	}
	w.ckpt.finished <- struct{}{}
}

// commit runs one batch and answers its callers.
func (w *groupWriter) commit(batch []*writeRequest) {
	// The batch's own statements never take a caller's cancellation: SQLite answers an
	// interrupted write inside a transaction by rolling the whole transaction back, which
	// would take the other callers' work with it.
	ctx := context.Background()
	if _, err := w.stmts.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		w.fail(batch, w.d.wrap("begin", err))
		return
	}
	if len(batch) == 1 {
		w.commitOne(ctx, batch[0])
		return
	}
	ran := 0
	for _, r := range batch {
		if err := w.runOne(ctx, r); err != nil {
			// The savepoint could not be released or rolled back: the transaction is in
			// a state nobody can vouch for. Nothing of the batch is committed.
			w.rollback(ctx)
			w.fail(batch, err)
			return
		}
		if r.err == nil && r.pnc == nil {
			ran++
		}
	}
	if w.batchStarted != nil {
		w.batchStarted(ran)
	}
	if _, err := w.stmts.ExecContext(ctx, "COMMIT"); err != nil {
		w.rollback(ctx)
		w.fail(batch, w.d.wrap("commit", err))
		return
	}
	for _, r := range batch {
		close(r.done)
	}
}

// commitOne runs a batch of one transaction without a savepoint, which would cost a copy
// of every page it changes (SQLite's sub-journal): rolled back whole when fn fails.
func (w *groupWriter) commitOne(ctx context.Context, r *writeRequest) {
	if !w.call(r) {
		w.rollback(ctx)
		close(r.done)
		return
	}
	if w.batchStarted != nil {
		w.batchStarted(1)
	}
	if _, err := w.stmts.ExecContext(ctx, "COMMIT"); err != nil {
		w.rollback(ctx)
		r.err = w.d.wrap("commit", err)
	}
	close(r.done)
}

// call runs the caller's fn on the writer's connection, keeping its error or its panic in
// r; it reports whether fn succeeded.
func (w *groupWriter) call(r *writeRequest) bool {
	defer func() { r.pnc = recover() }()
	r.err = r.fn(&tx{tx: w.stmts, d: w.d})
	return r.err == nil
}

// runOne runs one caller's transaction in a savepoint: released when fn succeeds, rolled
// back when fn fails or panics (r.err, r.pnc). The error is the savepoint's own failure.
func (w *groupWriter) runOne(ctx context.Context, r *writeRequest) error {
	if _, err := w.stmts.ExecContext(ctx, "SAVEPOINT tx"); err != nil {
		return w.d.wrap("savepoint", err)
	}
	if w.call(r) {
		if _, err := w.stmts.ExecContext(ctx, "RELEASE tx"); err != nil {
			return w.d.wrap("release savepoint", err)
		}
		return nil
	}
	if _, err := w.stmts.ExecContext(ctx, "ROLLBACK TO tx"); err != nil {
		return w.d.wrap("rollback to savepoint", err)
	}
	if _, err := w.stmts.ExecContext(ctx, "RELEASE tx"); err != nil {
		return w.d.wrap("release savepoint", err)
	}
	return nil
}

// rollback ends a failed batch; with nothing committed, its error adds nothing.
func (w *groupWriter) rollback(ctx context.Context) {
	_, _ = w.stmts.ExecContext(ctx, "ROLLBACK")
}

// fail answers every caller of a batch that did not commit: those whose transaction had
// succeeded get err; the ones that failed or panicked keep their own outcome.
func (w *groupWriter) fail(batch []*writeRequest, err error) {
	for _, r := range batch {
		if r.err == nil && r.pnc == nil {
			r.err = err
		}
		close(r.done)
	}
}

// stmtCache runs statements on one connection, each prepared once and kept: SQLite's
// parser and planner ran on every call before (15% of the write path's CPU). Only the
// writer's goroutine uses it.
type stmtCache struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

// maxCachedStatements bounds the cache: payhub's statements are a fixed set, but a query
// built from a variable number of parameters would otherwise grow it without end.
const maxCachedStatements = 512

func newStmtCache(conn *sql.Conn) *stmtCache {
	return &stmtCache{conn: conn, stmts: make(map[string]*sql.Stmt)}
}

// stmt is query's prepared statement, prepared now if it is new; nil when the cache is full.
func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	if len(c.stmts) >= maxCachedStatements {
		return nil, nil
	}
	s, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = s
	return s, nil
}

// ExecContext runs a statement, ignoring ctx's cancellation (see groupWriter.commit).
func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.conn.ExecContext(ctx, query, args...)
	}
	return s.ExecContext(ctx, args...)
}

// QueryRowContext runs a query for one row, ignoring ctx's cancellation.
func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	s, err := c.stmt(ctx, query)
	if err != nil || s == nil {
		// The connection prepares it again and reports the error through the Row.
		return c.conn.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// QueryContext runs a query for many rows, ignoring ctx's cancellation. It is not cached:
// a caller may still be reading one query's rows when it runs the same query again, and
// one prepared statement cannot serve both.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.conn.QueryContext(context.WithoutCancel(ctx), query, args...)
}

func (c *stmtCache) close() {
	for _, s := range c.stmts {
		_ = s.Close()
	}
	clear(c.stmts)
}

// pooledStmts runs statements on the connection pool, each prepared once: database/sql
// prepares a statement on each connection the first time it runs there and keeps it. It is
// safe for concurrent use; unlike the writer's cache, a query's rows hold their own
// connection, so one statement serves concurrent queries.
type pooledStmts struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// stmt is query's prepared statement, prepared now if it is new; nil when the cache is full.
func (p *pooledStmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.stmts[query]; ok {
		return s, nil
	}
	if len(p.stmts) >= maxCachedStatements {
		return nil, nil
	}
	s, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if p.stmts == nil {
		p.stmts = make(map[string]*sql.Stmt)
	}
	p.stmts[query] = s
	return s, nil
}

// ExecContext runs a statement.
func (p *pooledStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := p.stmt(ctx, query)
	if err != nil || s == nil {
		return p.db.ExecContext(ctx, query, args...)
	}
	return s.ExecContext(ctx, args...)
}

// QueryRowContext runs a query for one row.
func (p *pooledStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := p.stmt(ctx, query)
	if err != nil || s == nil {
		return p.db.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// QueryContext runs a query for many rows.
func (p *pooledStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := p.stmt(ctx, query)
	if err != nil || s == nil {
		return p.db.QueryContext(ctx, query, args...)
	}
	return s.QueryContext(ctx, args...)
}

func (p *pooledStmts) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.stmts {
		_ = s.Close()
	}
	clear(p.stmts)
}
