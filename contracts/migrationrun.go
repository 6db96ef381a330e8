package contracts

import (
	"context"
	"time"
)

// The retired wallet's migration runs (docs/migration.md; `payhub migrate run`): one run
// per export file and day, and one move per row that moves money (to a partner, or queued
// as a bank refund). A move is written (pending) before its partner call, with a partner
// ref derived from the run and the row, so a run stopped at any moment and started again
// settles what it sent by inquiry and never moves a user twice.

// PrefixMigrationRun prefixes migration run ids (mr_…).
const PrefixMigrationRun = "mr"

// MigrationRunStatus is where a run stands.
type MigrationRunStatus string

// Migration run statuses.
const (
	// MigrationRunRunning: started, not finished (it may have been stopped or killed:
	// running it again continues from its checkpoint).
	MigrationRunRunning MigrationRunStatus = "running"
	// MigrationRunFinished: every row was read and every move settled; running it again
	// moves nothing.
	MigrationRunFinished MigrationRunStatus = "finished"
)

// MigrationRun is one run of the migration over one export file on one day.
type MigrationRun struct {
	// ID is "mr_" + ULID.
	ID string
	// ExportSHA256 is the hex SHA-256 of the export file.
	ExportSHA256 string
	// Day is the run's day, YYYYMMDD (JST).
	Day string
	// DailyCap, TotalCap and NanacoRoom are the caps the run applies (migration.Caps).
	DailyCap, TotalCap, NanacoRoom int64
	// Status is where the run stands.
	Status MigrationRunStatus
	// ApprovalID is the executed two-person approval (apr_…) the run started under.
	ApprovalID string
	// Checkpoint is the byte offset of the export up to which every row's move is durably
	// written: a run started again reads on from there.
	Checkpoint int64
	// StartedAt is when the run was first started.
	StartedAt time.Time
	// UpdatedAt is the last write.
	UpdatedAt time.Time
	// FinishedAt is when it finished; nil before.
	FinishedAt *time.Time
}

// MigrationMoveStatus is where one user's move stands.
type MigrationMoveStatus string

// Migration move statuses.
const (
	// MovePending: written before the partner call; the call may or may not have been
	// made. Settled by inquiry, never re-sent blind.
	MovePending MigrationMoveStatus = "pending"
	// MoveSucceeded: the partner credited Credited (the rest of Amount is deferred).
	MoveSucceeded MigrationMoveStatus = "succeeded"
	// MoveFailed: definitely nothing moved (Detail says why).
	MoveFailed MigrationMoveStatus = "failed"
	// MoveUnknown: the partner may have credited it; settled by inquiry.
	MoveUnknown MigrationMoveStatus = "unknown"
	// MoveDeferred: nothing moves today (the partner had no room); carried to a later run.
	MoveDeferred MigrationMoveStatus = "deferred"
	// MoveBankRefund: queued for a bank (zengin) refund.
	MoveBankRefund MigrationMoveStatus = "bank_refund"
)

// Final reports whether s needs no more settling.
func (s MigrationMoveStatus) Final() bool {
	return s != MovePending && s != MoveUnknown
}

// MigrationMove is one user's move in a run.
type MigrationMove struct {
	// RunID is the run.
	RunID string
	// Line is the row's line in the export; with Kind, unique within the run.
	Line int64
	// UserID is the retired wallet's user id.
	UserID string
	// Kind is the destination kind the move goes to: "nanaco" or "paypay" (a wallet move),
	// or "bank" (a refund; a nanaco or paypay row's bank refund is a second move).
	Kind string
	// Amount is what the move asks to move (or to refund), in yen.
	Amount int64
	// Credited is what the partner credited (succeeded moves), in yen.
	Credited int64
	// Attempt counts partner attempts, from 1; a new attempt only after the previous one
	// was proven not to have moved anything (nanaco: an inquiry found nothing and fenced
	// the key).
	Attempt int
	// PartnerRef is the partner's idempotency key, derived from the run, the row and the
	// attempt.
	PartnerRef string
	// Status is where the move stands.
	Status MigrationMoveStatus
	// PartnerTxnID is the partner's transaction id, when known.
	PartnerTxnID string
	// Detail explains a failure or a deferral (no card or account numbers).
	Detail string
	// CreatedAt and UpdatedAt date the move.
	CreatedAt, UpdatedAt time.Time
}

// PriorMoves is what one earlier run did for one user: a later day's run of the same export
// moves what is left (the deferred amounts are carried), and another export's run
// (the same users in a re-exported file) means the user is not moved again.
type PriorMoves struct {
	// RunID, ExportSHA256 and Day name the run.
	RunID, ExportSHA256, Day string
	// Credited sums what partners credited (succeeded wallet moves).
	Credited int64
	// BankRefund sums what was queued for bank refunds.
	BankRefund int64
	// Open sums the moves still pending or unknown.
	Open int64
}

// MigrationTx is the part of Tx that writes runs and moves.
type MigrationTx interface {
	// InsertMigrationRun writes a new run; ErrConflict when the export and day have one.
	InsertMigrationRun(ctx context.Context, r MigrationRun) error
	// UpdateMigrationRun writes r's status, checkpoint, approval and dates.
	UpdateMigrationRun(ctx context.Context, r MigrationRun) error
	// InsertMigrationMove writes a new move; ErrConflict when the run has one for the line
	// and kind.
	InsertMigrationMove(ctx context.Context, m MigrationMove) error
	// GetMigrationMoveForUpdate reads a move and locks it; ErrNotFound when there is none.
	GetMigrationMoveForUpdate(ctx context.Context, runID string, line int64, kind string) (MigrationMove, error)
	// UpdateMigrationMove writes m's changing fields; ErrInvalidTransition when the stored
	// move is final and m would change its status.
	UpdateMigrationMove(ctx context.Context, m MigrationMove) error
}

// MigrationStore reads runs and moves.
type MigrationStore interface {
	// GetMigrationRun reads a run; ErrNotFound when there is none.
	GetMigrationRun(ctx context.Context, id string) (MigrationRun, error)
	// FindMigrationRun reads the run of an export (hex SHA-256) on a day; ErrNotFound.
	FindMigrationRun(ctx context.Context, exportSHA256, day string) (MigrationRun, error)
	// PriorMoves reads, for each of userIDs, what the runs other than exceptRunID did
	// for them: one PriorMoves per user and run that has a move that is not failed.
	PriorMoves(ctx context.Context, userIDs []string, exceptRunID string) (map[string][]PriorMoves, error)
	// ListMigrationRuns reads every run of an export (hex SHA-256), by day.
	ListMigrationRuns(ctx context.Context, exportSHA256 string) ([]MigrationRun, error)
	// ListMigrationMoves reads a run's moves with a line above afterLine, by line, at
	// most limit (a full page ends at a line boundary: the next page starts after its
	// last line); only those of statuses when any are given.
	ListMigrationMoves(ctx context.Context, runID string, afterLine int64, limit int, statuses ...MigrationMoveStatus) ([]MigrationMove, error)
}
