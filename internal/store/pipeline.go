package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// pipelinedTx is a PostgreSQL transaction that sends its statements in as few round trips
// as their results allow. Each statement had been a round trip of its own — about 17 for
// a payment's two transactions — and every round trip costs both processes a write and a
// read on the socket and the server a wake-up, which made the client side of the database
// a third of serve's CPU.
//
// A write whose result the transaction never reads (an event, its deliveries, an attempt,
// a payment's new columns, ledger lines) waits in pending (execLater) and goes with the
// next statement whose result is read, in one pipelined batch (SendBatch); BEGIN waits
// the same way for the first statement, and the last writes go with COMMIT. Statements
// run in the order the transaction issued them, so the transaction still reads its own
// writes. A waiting write that fails aborts the transaction on the server; its error is
// kept (err), reported by the statement it rode with or by the commit, and the
// transaction rolls back.
type pipelinedTx struct {
	conn    *sql.Conn
	d       dialect
	pending []pendingExec
	// began: BEGIN reached the server, so ending the transaction needs a ROLLBACK.
	began bool
	// err is the first failure of a waiting write.
	err error
}

// pendingExec is a write waiting for the next batch; what names it in its error.
type pendingExec struct {
	query string
	args  []any
	what  string
}

var _ querier = (*pipelinedTx)(nil)

// beginPipelined takes a pooled connection for a transaction; BEGIN waits for the first
// statement.
func beginPipelined(ctx context.Context, db *sql.DB, d dialect) (*pipelinedTx, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	return &pipelinedTx{conn: conn, d: d, pending: []pendingExec{{query: "BEGIN", what: "begin"}}}, nil
}

// execLater queues a write whose result nobody reads for the next batch.
func (p *pipelinedTx) execLater(query string, args []any, what string) {
	p.pending = append(p.pending, pendingExec{query: query, args: args, what: what})
}

// ExecContext runs query with the waiting writes before it, in one round trip.
func (p *pipelinedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	p.pending = append(p.pending, pendingExec{query: query, args: args})
	tags, err := p.flush(ctx)
	if err != nil {
		return nil, err
	}
	return rowsAffected(tags[len(tags)-1].RowsAffected()), nil
}

// QueryRowContext sends the waiting writes, then runs query.
func (p *pipelinedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	// A failed write aborted the transaction on the server: query fails as well, and the
	// write's own error is the transaction's (end).
	_, _ = p.flush(ctx)
	return p.conn.QueryRowContext(ctx, query, args...)
}

// QueryContext sends the waiting writes, then runs query.
func (p *pipelinedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if _, err := p.flush(ctx); err != nil {
		return nil, err
	}
	return p.conn.QueryContext(ctx, query, args...)
}

// flush sends the waiting statements in one batch and returns their command tags. The
// first failure is returned, and kept when it was a waiting write's.
func (p *pipelinedTx) flush(ctx context.Context) ([]pgconn.CommandTag, error) {
	if p.err != nil {
		p.pending = p.pending[:0]
		return nil, p.err
	}
	if len(p.pending) == 0 {
		return nil, nil
	}
	batch := p.pending
	p.pending = nil
	tags := make([]pgconn.CommandTag, 0, len(batch))
	err := p.conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: pipelined transaction on a %T connection", driverConn)
		}
		b := &pgx.Batch{}
		for _, e := range batch {
			b.Queue(e.query, e.args...)
		}
		results := c.Conn().SendBatch(ctx, b)
		var first error
		for _, e := range batch {
			tag, err := results.Exec()
			if e.query == "BEGIN" && err == nil {
				p.began = true
			}
			if err != nil && first == nil {
				first = err
				if e.what != "" {
					p.err = p.d.wrap(e.what, err)
					first = p.err
				}
			}
			tags = append(tags, tag)
		}
		if err := results.Close(); err != nil && first == nil {
			first = err
		}
		return first
	})
	return tags, err
}

// commit sends the waiting writes and COMMIT in one round trip.
func (p *pipelinedTx) commit(ctx context.Context) error {
	p.pending = append(p.pending, pendingExec{query: "COMMIT"})
	tags, err := p.flush(ctx)
	if err != nil {
		return err
	}
	// A transaction the server had aborted answers COMMIT with ROLLBACK.
	if tag := tags[len(tags)-1].String(); tag != "COMMIT" {
		return fmt.Errorf("store: commit: the server answered %s", tag)
	}
	p.began = false
	return nil
}

// end releases the connection, rolling back what commit did not end. A connection whose
// ROLLBACK failed is closed rather than pooled in a transaction.
func (p *pipelinedTx) end() {
	if p.began {
		if _, err := p.conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			_ = p.conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}
	_ = p.conn.Close()
}

// rowsAffected is a sql.Result from a command tag.
type rowsAffected int64

func (r rowsAffected) LastInsertId() (int64, error) {
	return 0, errors.New("store: PostgreSQL has no LastInsertId")
}

func (r rowsAffected) RowsAffected() (int64, error) { return int64(r), nil }

// execLater runs a write whose result the transaction never reads: on PostgreSQL it waits
// for the transaction's next round trip (pipelinedTx), elsewhere it runs now. Its error,
// wrapped as what, comes from here or from a later statement of the transaction.
func (t *tx) execLater(ctx context.Context, what, query string, args ...any) error {
	if p, ok := t.tx.(*pipelinedTx); ok {
		p.execLater(query, args, what)
		return nil
	}
	_, err := t.tx.ExecContext(ctx, query, args...)
	return t.d.wrap(what, err)
}
