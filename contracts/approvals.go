package contracts

import (
	"context"
	"encoding/json"
	"time"
)

// Two-person approval (docs/security.md §8, docs/ops-api.md): a change that loosens a
// control or touches who may call payhub is stored as an approval request with its exact
// parameters and their hash, and runs — exactly those parameters, once — when a different
// operator with the required role approves it.

// ApprovalStatus is where an approval request is.
type ApprovalStatus string

// The statuses of an approval request. Only a pending request moves, and only once.
const (
	// ApprovalPending: waiting for a second operator.
	ApprovalPending ApprovalStatus = "pending"
	// ApprovalExecuted: approved, and the action ran (Result is its answer).
	ApprovalExecuted ApprovalStatus = "executed"
	// ApprovalRejected: a second operator refused it.
	ApprovalRejected ApprovalStatus = "rejected"
	// ApprovalExpired: nobody approved it before ExpiresAt.
	ApprovalExpired ApprovalStatus = "expired"
	// ApprovalFailed: approved, but the action refused (Result says why); nothing changed.
	ApprovalFailed ApprovalStatus = "failed"
)

// ApprovalStatuses lists every ApprovalStatus.
var ApprovalStatuses = []ApprovalStatus{ApprovalPending, ApprovalExecuted, ApprovalRejected, ApprovalExpired, ApprovalFailed}

// Valid reports whether s is one of ApprovalStatuses.
func (s ApprovalStatus) Valid() bool {
	for _, v := range ApprovalStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Approval is one approval request (PrefixApproval).
type Approval struct {
	// ID is the request's id (PrefixApproval).
	ID string
	// Action names what runs when it is approved, e.g. "switch.lift".
	Action string
	// Params are the action's exact parameters, canonical JSON.
	Params json.RawMessage
	// ParamsHash is "sha256:" and the hex SHA-256 of Params as stored: approving re-hashes
	// them and refuses on a mismatch.
	ParamsHash string
	// RequiredRole is the role an approver needs (docs/ops-api.md names the alternatives).
	RequiredRole string
	// Status is where the request is.
	Status ApprovalStatus
	// Reason is the requester's reason.
	Reason string
	// RequestedBy is who asked: an operator's id or "cli:<user>".
	RequestedBy string
	// RequestedAt is when.
	RequestedAt time.Time
	// ExpiresAt is when it can no longer be approved.
	ExpiresAt time.Time
	// DecidedBy is who approved or rejected it ("system" when it expired).
	DecidedBy string
	// DecidedAt is when; nil while pending.
	DecidedAt *time.Time
	// DecisionReason is the rejecter's reason, or why it expired or failed.
	DecisionReason string
	// Result is the action's answer (executed) or its refusal (failed), JSON; nil before.
	Result json.RawMessage
}

// OperatorEnrollment is an operator's new TOTP enrolment waiting to be fetched once by
// that operator (GET /v1/ops/operators/me/enrollment): the otpauth URL, sealed.
type OperatorEnrollment struct {
	// Operator is the enrolled operator.
	Operator string
	// ApprovalID is the approval that enrolled them.
	ApprovalID string
	// SealedURL is the otpauth:// URL sealed under the secrets ring; never in clear.
	SealedURL string
	// CreatedAt is when the enrolment was made.
	CreatedAt time.Time
}

// ApprovalsTx changes approval requests inside a transaction, so that a decision, the
// action it runs and its audit entry commit together. contracts.Tx includes it.
type ApprovalsTx interface {
	// InsertApproval records a new pending request; ErrConflict when its id is taken.
	InsertApproval(ctx context.Context, a Approval) error
	// GetApprovalForUpdate reads a request and locks it until the transaction ends;
	// ErrNotFound when there is none.
	GetApprovalForUpdate(ctx context.Context, id string) (Approval, error)
	// UpdateApprovalDecision writes a's Status, DecidedBy, DecidedAt, DecisionReason and
	// Result over a pending request; ErrNotFound without such a request,
	// ErrInvalidTransition when it is no longer pending (nothing changes).
	UpdateApprovalDecision(ctx context.Context, a Approval) error
	// PutOperatorEnrollment stores e for its operator to fetch, replacing one not fetched.
	PutOperatorEnrollment(ctx context.Context, e OperatorEnrollment) error
	// TakeOperatorEnrollment reads the operator's waiting enrolment and deletes it (it is
	// shown once); ErrNotFound when there is none.
	TakeOperatorEnrollment(ctx context.Context, operator string) (OperatorEnrollment, error)
	// CountEnrolledOperators counts the operators enrolled for step-up (the bootstrap of
	// the two-person rule needs it).
	CountEnrolledOperators(ctx context.Context) (int, error)
}

// ApprovalsStore reads approval requests. contracts.Store includes it.
type ApprovalsStore interface {
	// GetApproval reads one request; ErrNotFound when there is none.
	GetApproval(ctx context.Context, id string) (Approval, error)
	// ListApprovals reads up to limit requests in status (all statuses when ""), newest
	// first; limit ≤ 0 reads all.
	ListApprovals(ctx context.Context, status ApprovalStatus, limit int) ([]Approval, error)
}
