package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"payhub/contracts"
)

// The tamper-evident audit log (docs/security.md §9): the store keeps the entries that
// internal/audit chains and verifies. It never sees the audit key.

// auditColumns are audit_log's columns in scan order.
const auditColumns = "seq, at, actor, action, target, params, request_id, prev_hash, hash"

// LockAuditHead serialises appends to the audit log until the transaction ends and reads
// the head. On PostgreSQL a transaction-scoped advisory lock, named after the schema's
// audit_log, serialises the appenders (it needs no privilege on the table, whose role may
// only insert and select); the head is read after the lock is taken, so under READ
// COMMITTED it sees the previous appender's commit. On SQLite the transaction holds the
// database's write lock from BEGIN IMMEDIATE.
func (t *tx) LockAuditHead(ctx context.Context) (contracts.AuditHead, error) {
	if t.d.postgres {
		if _, err := t.tx.ExecContext(ctx,
			"SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.audit_log'))"); err != nil {
			return contracts.AuditHead{}, t.d.wrap("lock audit log", err)
		}
	}
	return auditHead(ctx, t.tx, t.d)
}

// InsertAuditEntry writes e as it is; a taken seq is ErrConflict.
func (t *tx) InsertAuditEntry(ctx context.Context, e contracts.AuditEntry) error {
	if e.Seq < 1 {
		return fmt.Errorf("store: append audit entry: seq %d", e.Seq)
	}
	_, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO audit_log ("+auditColumns+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		e.Seq, t.d.ts(e.At), e.Actor, e.Action, e.Target, string(e.Params), e.RequestID, e.PrevHash, e.Hash)
	return t.d.wrap(fmt.Sprintf("append audit entry %d", e.Seq), err)
}

// GetAuditHead reads the last entry's seq and hash; zero while the log is empty.
func (s *DB) GetAuditHead(ctx context.Context) (contracts.AuditHead, error) {
	return auditHead(ctx, s.r(), s.d)
}

func auditHead(ctx context.Context, q querier, d dialect) (contracts.AuditHead, error) {
	var h contracts.AuditHead
	err := q.QueryRowContext(ctx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&h.Seq, &h.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return contracts.AuditHead{}, nil
	}
	return h, d.wrap("read audit head", err)
}

// ListAuditEntries reads up to limit entries above afterSeq in seq order (limit ≤ 0: all).
func (s *DB) ListAuditEntries(ctx context.Context, afterSeq int64, limit int) ([]contracts.AuditEntry, error) {
	query := "SELECT " + auditColumns + " FROM audit_log WHERE seq > ? ORDER BY seq"
	args := []any{afterSeq}
	if limit > 0 {
		query += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := s.r().QueryContext(ctx, s.d.q(query), args...)
	if err != nil {
		return nil, s.d.wrap("list audit entries", err)
	}
	defer rows.Close()
	var out []contracts.AuditEntry
	for rows.Next() {
		var (
			e      contracts.AuditEntry
			params string
		)
		if err := rows.Scan(&e.Seq, timeCol{&e.At}, &e.Actor, &e.Action, &e.Target, &params,
			&e.RequestID, &e.PrevHash, &e.Hash); err != nil {
			return nil, s.d.wrap("list audit entries", err)
		}
		e.Params = []byte(params)
		out = append(out, e)
	}
	return out, s.d.wrap("list audit entries", rows.Err())
}
