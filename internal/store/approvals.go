package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"payhub/contracts"
)

// Two-person approval (docs/security.md §8): approval requests, decided once, and the
// operator enrolments waiting to be fetched once. Params are kept as TEXT on both
// databases, so the bytes hashed at request time are the bytes read back.

// approvalColumns are approvals' columns in scan order.
const approvalColumns = "id, action, params, params_hash, required_role, status, reason, requested_by, requested_at, " +
	"expires_at, decided_by, decided_at, decision_reason, result"

// InsertApproval records a new pending request.
func (t *tx) InsertApproval(ctx context.Context, a contracts.Approval) error {
	if a.ID == "" || a.Action == "" || a.RequestedBy == "" || len(a.Params) == 0 || a.ParamsHash == "" {
		return errors.New("store: insert approval: id, action, params, their hash and requested_by are required")
	}
	if a.Status != contracts.ApprovalPending {
		return fmt.Errorf("store: insert approval %s: status %q, want pending: %w", a.ID, a.Status, contracts.ErrInvalidTransition)
	}
	_, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO approvals ("+approvalColumns+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', NULL, '', NULL)"),
		a.ID, a.Action, string(a.Params), a.ParamsHash, a.RequiredRole, string(a.Status), a.Reason, a.RequestedBy,
		t.d.ts(a.RequestedAt), t.d.ts(a.ExpiresAt))
	return t.d.wrap("insert approval "+a.ID, err)
}

// GetApprovalForUpdate reads a request and locks it until the transaction ends (on SQLite
// the transaction holds the write lock already).
func (t *tx) GetApprovalForUpdate(ctx context.Context, id string) (contracts.Approval, error) {
	return getApproval(ctx, t.tx, t.d, id, true)
}

// UpdateApprovalDecision decides a pending request.
func (t *tx) UpdateApprovalDecision(ctx context.Context, a contracts.Approval) error {
	if a.Status == contracts.ApprovalPending || !a.Status.Valid() {
		return fmt.Errorf("store: decide approval %s: status %q: %w", a.ID, a.Status, contracts.ErrInvalidTransition)
	}
	var result any
	if a.Result != nil {
		result = string(a.Result)
	}
	res, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?,
		decision_reason = ?, result = ? WHERE id = ? AND status = 'pending'`),
		string(a.Status), a.DecidedBy, t.d.nullTS(a.DecidedAt), a.DecisionReason, result, a.ID)
	if err != nil {
		return t.d.wrap("decide approval "+a.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.d.wrap("decide approval "+a.ID, err)
	}
	if n == 1 {
		return nil
	}
	if _, err := getApproval(ctx, t.tx, t.d, a.ID, false); err != nil {
		return err
	}
	return fmt.Errorf("store: decide approval %s: not pending: %w", a.ID, contracts.ErrInvalidTransition)
}

// PutOperatorEnrollment stores an enrolment for its operator to fetch once.
func (t *tx) PutOperatorEnrollment(ctx context.Context, e contracts.OperatorEnrollment) error {
	if e.Operator == "" || e.SealedURL == "" {
		return errors.New("store: put operator enrolment: an operator and a sealed URL are required")
	}
	_, err := t.tx.ExecContext(ctx, t.d.q(`INSERT INTO operator_enrollments (operator, approval_id, sealed_url, created_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (operator) DO UPDATE SET approval_id = excluded.approval_id,
		sealed_url = excluded.sealed_url, created_at = excluded.created_at`),
		e.Operator, e.ApprovalID, e.SealedURL, t.d.ts(e.CreatedAt))
	return t.d.wrap("put operator enrolment "+e.Operator, err)
}

// TakeOperatorEnrollment reads the operator's waiting enrolment and deletes it.
func (t *tx) TakeOperatorEnrollment(ctx context.Context, operator string) (contracts.OperatorEnrollment, error) {
	var e contracts.OperatorEnrollment
	err := t.tx.QueryRowContext(ctx, t.d.q("SELECT operator, approval_id, sealed_url, created_at FROM operator_enrollments WHERE operator = ?"+
		t.d.forUpdate()), operator).Scan(&e.Operator, &e.ApprovalID, &e.SealedURL, timeCol{&e.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return contracts.OperatorEnrollment{}, fmt.Errorf("store: enrolment of operator %q: %w", operator, contracts.ErrNotFound)
	}
	if err != nil {
		return contracts.OperatorEnrollment{}, t.d.wrap("read enrolment of operator "+operator, err)
	}
	if _, err := t.tx.ExecContext(ctx, t.d.q("DELETE FROM operator_enrollments WHERE operator = ?"), operator); err != nil {
		return contracts.OperatorEnrollment{}, t.d.wrap("delete enrolment of operator "+operator, err)
	}
	return e, nil
}

// CountEnrolledOperators counts the operators enrolled for step-up.
func (t *tx) CountEnrolledOperators(ctx context.Context) (int, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM operator_totp").Scan(&n)
	return n, t.d.wrap("count enrolled operators", err)
}

// GetApproval reads one request.
func (s *DB) GetApproval(ctx context.Context, id string) (contracts.Approval, error) {
	return getApproval(ctx, s.r(), s.d, id, false)
}

// ListApprovals reads requests in status ("" all), newest first.
func (s *DB) ListApprovals(ctx context.Context, status contracts.ApprovalStatus, limit int) ([]contracts.Approval, error) {
	query := "SELECT " + approvalColumns + " FROM approvals"
	var args []any
	if status != "" {
		query += " WHERE status = ?"
		args = append(args, string(status))
	}
	query += " ORDER BY id DESC"
	if limit > 0 {
		query += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := s.r().QueryContext(ctx, s.d.q(query), args...)
	if err != nil {
		return nil, s.d.wrap("list approvals", err)
	}
	defer rows.Close()
	var out []contracts.Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, s.d.wrap("list approvals", err)
		}
		out = append(out, a)
	}
	return out, s.d.wrap("list approvals", rows.Err())
}

func getApproval(ctx context.Context, q querier, d dialect, id string, lock bool) (contracts.Approval, error) {
	query := d.q("SELECT " + approvalColumns + " FROM approvals WHERE id = ?")
	if lock {
		query += d.forUpdate()
	}
	a, err := scanApproval(q.QueryRowContext(ctx, query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return contracts.Approval{}, fmt.Errorf("store: approval %s: %w", id, contracts.ErrNotFound)
	}
	return a, d.wrap("read approval "+id, err)
}

func scanApproval(r scanner) (contracts.Approval, error) {
	var (
		a              contracts.Approval
		params, status string
		result         sql.NullString
	)
	err := r.Scan(&a.ID, &a.Action, &params, &a.ParamsHash, &a.RequiredRole, &status, &a.Reason, &a.RequestedBy,
		timeCol{&a.RequestedAt}, timeCol{&a.ExpiresAt}, &a.DecidedBy, nullTimeCol{&a.DecidedAt}, &a.DecisionReason, &result)
	a.Params, a.Status = []byte(params), contracts.ApprovalStatus(status)
	if result.Valid {
		a.Result = []byte(result.String)
	}
	return a, err
}
