package contracts

import (
	"context"
	"time"
)

// OperatorTOTP is one operator's TOTP enrolment and step-up state (docs/security.md §7):
// the sealed secret and what makes each code count once and bounds guessing.
type OperatorTOTP struct {
	// Operator is the operator's id, the subject (iss) of their operator tokens.
	Operator string
	// SealedSecret is the base32 TOTP secret sealed under the secrets ring; the store never
	// sees it in clear.
	SealedSecret string
	// EnrolledBy is who enrolled the operator (an audit actor, "cli:<user>").
	EnrolledBy string
	// EnrolledAt is when.
	EnrolledAt time.Time
	// LastStep is the last accepted TOTP time step (unix time / 30 s); 0 before any. A code
	// of this step or an earlier one is refused (RFC 6238 §5.2).
	LastStep int64
	// Failures counts wrong codes since FailuresSince.
	Failures int
	// FailuresSince starts the window Failures counts in; nil without failures.
	FailuresSince *time.Time
	// LockedUntil refuses every code (right ones too) until then; nil when not locked.
	LockedUntil *time.Time
}

// StepUp is one accepted TOTP code: the operator's changes are allowed for a while after
// VerifiedAt.
type StepUp struct {
	// ID names the step-up (stp_…).
	ID string
	// Operator is who stepped up.
	Operator string
	// VerifiedAt is when the code was accepted.
	VerifiedAt time.Time
}

// OperatorTx changes operators' TOTP state inside a transaction, so that a check and its
// outcome commit together and an enrolment commits with its audit entry. contracts.Tx
// includes it.
type OperatorTx interface {
	// PutOperatorTOTP enrols o.Operator, replacing any earlier enrolment (and its state)
	// with o.
	PutOperatorTOTP(ctx context.Context, o OperatorTOTP) error
	// GetOperatorTOTPForUpdate reads an operator's enrolment and locks it until the
	// transaction ends; ErrNotFound when the operator is not enrolled.
	GetOperatorTOTPForUpdate(ctx context.Context, operator string) (OperatorTOTP, error)
	// UpdateOperatorTOTPState writes o's LastStep, Failures, FailuresSince and LockedUntil;
	// ErrNotFound when the operator is not enrolled.
	UpdateOperatorTOTPState(ctx context.Context, o OperatorTOTP) error
	// InsertStepUp records an accepted code; ErrConflict when its ID is taken.
	InsertStepUp(ctx context.Context, s StepUp) error
}

// OperatorStore reads operators' TOTP state. contracts.Store includes it.
type OperatorStore interface {
	// GetOperatorTOTP reads an operator's enrolment; ErrNotFound when there is none.
	GetOperatorTOTP(ctx context.Context, operator string) (OperatorTOTP, error)
	// LatestStepUp reads the operator's most recent step-up; ErrNotFound when there is none.
	LatestStepUp(ctx context.Context, operator string) (StepUp, error)
}
