package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"payhub/contracts"
)

// Operator step-up (docs/security.md §7): operators' sealed TOTP secrets, the state that
// makes each code count once and bounds guessing, and the accepted codes. The store never
// sees a secret in clear: internal/operators seals it before it gets here.

// operatorTOTPColumns are operator_totp's columns in scan order.
const operatorTOTPColumns = "operator, sealed_secret, enrolled_by, enrolled_at, last_step, failures, failures_since, locked_until"

// PutOperatorTOTP enrols o.Operator, replacing any earlier enrolment and its state.
func (t *tx) PutOperatorTOTP(ctx context.Context, o contracts.OperatorTOTP) error {
	if o.Operator == "" || o.SealedSecret == "" {
		return errors.New("store: enrol operator: an operator and a sealed secret are required")
	}
	_, err := t.tx.ExecContext(ctx, t.d.q(`INSERT INTO operator_totp (`+operatorTOTPColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (operator) DO UPDATE SET sealed_secret = excluded.sealed_secret,
			enrolled_by = excluded.enrolled_by, enrolled_at = excluded.enrolled_at,
			last_step = excluded.last_step, failures = excluded.failures,
			failures_since = excluded.failures_since, locked_until = excluded.locked_until`),
		o.Operator, o.SealedSecret, o.EnrolledBy, t.d.ts(o.EnrolledAt), o.LastStep, o.Failures,
		t.d.nullTS(o.FailuresSince), t.d.nullTS(o.LockedUntil))
	return t.d.wrap("enrol operator "+o.Operator, err)
}

// GetOperatorTOTPForUpdate reads an operator's enrolment and locks it until the
// transaction ends (on SQLite the transaction holds the write lock already).
func (t *tx) GetOperatorTOTPForUpdate(ctx context.Context, operator string) (contracts.OperatorTOTP, error) {
	return getOperatorTOTP(ctx, t.tx, t.d, operator, t.d.forUpdate())
}

// UpdateOperatorTOTPState writes the step-up state of o.Operator.
func (t *tx) UpdateOperatorTOTPState(ctx context.Context, o contracts.OperatorTOTP) error {
	res, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE operator_totp SET last_step = ?, failures = ?,
		failures_since = ?, locked_until = ? WHERE operator = ?`),
		o.LastStep, o.Failures, t.d.nullTS(o.FailuresSince), t.d.nullTS(o.LockedUntil), o.Operator)
	if err != nil {
		return t.d.wrap("update operator "+o.Operator, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return t.d.wrap("update operator "+o.Operator, err)
	} else if n == 0 {
		return fmt.Errorf("operator %q: %w", o.Operator, contracts.ErrNotFound)
	}
	return nil
}

// InsertStepUp records an accepted code.
func (t *tx) InsertStepUp(ctx context.Context, s contracts.StepUp) error {
	_, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO operator_step_ups (id, operator, verified_at) VALUES (?, ?, ?)"),
		s.ID, s.Operator, t.d.ts(s.VerifiedAt))
	return t.d.wrap("record step-up "+s.ID, err)
}

// GetOperatorTOTP reads an operator's enrolment.
func (s *DB) GetOperatorTOTP(ctx context.Context, operator string) (contracts.OperatorTOTP, error) {
	return getOperatorTOTP(ctx, s.r(), s.d, operator, "")
}

// LatestStepUp reads the operator's most recent step-up.
func (s *DB) LatestStepUp(ctx context.Context, operator string) (contracts.StepUp, error) {
	var su contracts.StepUp
	err := s.r().QueryRowContext(ctx, s.d.q(`SELECT id, operator, verified_at FROM operator_step_ups
		WHERE operator = ? ORDER BY verified_at DESC, id DESC LIMIT 1`), operator).
		Scan(&su.ID, &su.Operator, timeCol{&su.VerifiedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return contracts.StepUp{}, fmt.Errorf("step-up of operator %q: %w", operator, contracts.ErrNotFound)
	}
	return su, s.d.wrap("read step-up of operator "+operator, err)
}

func getOperatorTOTP(ctx context.Context, q querier, d dialect, operator, suffix string) (contracts.OperatorTOTP, error) {
	var o contracts.OperatorTOTP
	err := q.QueryRowContext(ctx, d.q("SELECT "+operatorTOTPColumns+" FROM operator_totp WHERE operator = ?"+suffix), operator).
		Scan(&o.Operator, &o.SealedSecret, &o.EnrolledBy, timeCol{&o.EnrolledAt}, &o.LastStep, &o.Failures,
			nullTimeCol{&o.FailuresSince}, nullTimeCol{&o.LockedUntil})
	if errors.Is(err, sql.ErrNoRows) {
		return contracts.OperatorTOTP{}, fmt.Errorf("operator %q: %w", operator, contracts.ErrNotFound)
	}
	return o, d.wrap("read operator "+operator, err)
}
