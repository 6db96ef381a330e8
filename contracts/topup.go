package contracts

import (
	"context"
	"time"
)

// Top-ups: a till loads value onto a stored-value card the customer presents (nanaco:
// docs/partners/nanaco.md §B5 /charges), paid in cash at the till or with the card's own
// points. Credit-card top-ups are not offered. A top-up is never paid back in cash: a
// succeeded one can only be cancelled on the same terminal the same business day.

// TopUpFunding is where a top-up's value comes from.
type TopUpFunding string

// Top-up funding sources.
const (
	// FundingCash: cash handed over at the till.
	FundingCash TopUpFunding = "cash"
	// FundingPoints: the card's own loyalty points, exchanged 1 point = 1 yen.
	FundingPoints TopUpFunding = "points"
	// FundingCredit: a credit card. Not offered: the engine refuses it before anything is
	// written or sent. The value exists so that the refusal can name it.
	FundingCredit TopUpFunding = "credit"
)

// Valid reports whether f is a funding source payhub offers (cash or points).
func (f TopUpFunding) Valid() bool { return f == FundingCash || f == FundingPoints }

// TopUpStatus is where a top-up stands.
type TopUpStatus string

// Top-up statuses.
const (
	// TopUpPending: written, and the partner call is in flight.
	TopUpPending TopUpStatus = "pending"
	// TopUpSucceeded: the value was credited to the card (or to what the partner holds for it).
	TopUpSucceeded TopUpStatus = "succeeded"
	// TopUpFailed: definitely nothing was credited; give the customer's cash back.
	TopUpFailed TopUpStatus = "failed"
	// TopUpUnknown: the partner may or may not have credited the value. Do not top up
	// again; the resolver settles it.
	TopUpUnknown TopUpStatus = "unknown"
	// TopUpCanceled: a succeeded top-up reversed the same day on the same terminal.
	TopUpCanceled TopUpStatus = "canceled"
)

// topUpTransitions is the top-up state machine. A status absent from the keys is final.
var topUpTransitions = map[TopUpStatus][]TopUpStatus{
	TopUpPending: {TopUpSucceeded, TopUpFailed, TopUpUnknown},
	// The partner's inquiry may also find the top-up already cancelled.
	TopUpUnknown:   {TopUpSucceeded, TopUpFailed, TopUpCanceled},
	TopUpSucceeded: {TopUpCanceled},
}

// Valid reports whether s is one of the defined statuses.
func (s TopUpStatus) Valid() bool {
	switch s {
	case TopUpPending, TopUpSucceeded, TopUpFailed, TopUpUnknown, TopUpCanceled:
		return true
	}
	return false
}

// CanTransitionTopUp reports whether a top-up may move from one status to another; staying
// in the same status is allowed (a write that changes other fields).
func CanTransitionTopUp(from, to TopUpStatus) bool {
	if from == to {
		return from.Valid()
	}
	for _, s := range topUpTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Where a succeeded top-up's value landed (TopUp.CreditedTo).
const (
	// CreditedBalance: on the card, spendable at once.
	CreditedBalance = "balance"
	// CreditedCenterHeld: held by the partner for the card until its next balance-check tap.
	CreditedCenterHeld = "center_held"
)

// TopUpEventType is the event that announces a top-up entering status s.
func TopUpEventType(s TopUpStatus) EventType { return EventType("top_up." + string(s)) }

// Top-up event types.
const (
	// EventTopUpPending: a top-up was written and its partner call is in flight.
	EventTopUpPending EventType = "top_up.pending"
	// EventTopUpSucceeded: the value was credited.
	EventTopUpSucceeded EventType = "top_up.succeeded"
	// EventTopUpFailed: nothing was credited.
	EventTopUpFailed EventType = "top_up.failed"
	// EventTopUpUnknown: the outcome is unknown; do not top up again.
	EventTopUpUnknown EventType = "top_up.unknown"
	// EventTopUpCanceled: a succeeded top-up was cancelled.
	EventTopUpCanceled EventType = "top_up.canceled"
)

// TopUp is payhub's record of one top-up.
type TopUp struct {
	// ID is "tu_" + ULID.
	ID string
	// StoreID is the store; it comes only from the caller's token.
	StoreID string
	// ClientID is the store client (POS system) that asked.
	ClientID string
	// Method is the stored-value method (nanaco).
	Method Method
	// TerminalID is the till; the partner's same-terminal cancel rule is about it.
	TerminalID string
	// CardLast4 is the last 4 digits of the card's number, when the reader gave the number.
	// The full number is never stored.
	CardLast4 string
	// Amount is the value loaded.
	Amount Money
	// Funding is where the value came from.
	Funding TopUpFunding
	// Status is where the top-up stands.
	Status TopUpStatus
	// PartnerRef is the partner's key for the top-up (a SequenceRef for sequenced
	// partners), written before the call; unique per method.
	PartnerRef string
	// PartnerTxnID is the partner's own id of the top-up (nanaco's centerTxnId), once known.
	PartnerTxnID string
	// PartnerCode is the partner's code of the last call, for support.
	PartnerCode string
	// FailureCode is payhub's stable reason when Status is failed.
	FailureCode string
	// FailureMessage explains FailureCode.
	FailureMessage string
	// CreditedTo is CreditedBalance or CreditedCenterHeld once succeeded.
	CreditedTo string
	// EventSequence is the sequence number of the top-up's latest event.
	EventSequence int64
	// IdempotencyKey is the Idempotency-Key (of ClientID) of the request that created it.
	IdempotencyKey string
	// Resolution is the resolver's bookkeeping while an outcome is open (NotFoundSeen is
	// not kept).
	Resolution Resolution
	// CancelStartedAt is set while a cancel's partner call is in flight or its outcome is
	// unknown; the resolver finishes it.
	CancelStartedAt *time.Time
	// CancelClientID and CancelIdempotencyKey name the request of that cancel.
	CancelClientID, CancelIdempotencyKey string
	// CreatedAt and UpdatedAt are when payhub wrote and last changed it.
	CreatedAt, UpdatedAt time.Time
	// CanceledAt is when it was cancelled.
	CanceledAt *time.Time
}

// TopUpResult is a stored-value partner's answer about a top-up.
type TopUpResult struct {
	// Outcome is OutcomeSucceeded (credited), OutcomeFailed (definitely not: FailureCode),
	// OutcomeCanceled (an inquiry found it cancelled) or OutcomeUnknown.
	Outcome Outcome
	// PartnerTxnID is the partner's id of the top-up, when known.
	PartnerTxnID string
	// CreditedTo is CreditedBalance or CreditedCenterHeld, when the partner says.
	CreditedTo string
	// PartnerCode is the partner's result code.
	PartnerCode string
	// FailureCode is payhub's failure code when Outcome is OutcomeFailed.
	FailureCode string
	// FailureMessage explains a failure or an unknown outcome; never the card's number.
	FailureMessage string
}

// StoredValueTopUps is implemented by stored-value partners that load value onto a card
// at the till. The engine finds it on the method's partner; a partner without it offers
// no top-ups.
type StoredValueTopUps interface {
	// CreateTopUp loads amount onto card under the partner key ref (allocated and written
	// by the engine before the call): retrying with the same arguments must not credit
	// twice.
	CreateTopUp(ctx context.Context, ref string, card PresentedCard, amount Money, funding TopUpFunding) TopUpResult
	// CancelTopUpByRef cancels the top-up made under ref (partnerTxnID is the partner's id
	// of it, "" when unknown). OutcomeSucceeded: cancelled (or already); OutcomeWindowPassed:
	// the partner's same-terminal, same-day window is over; OutcomeFailed: refused (the
	// value is gone from the card, say); OutcomeUnknown: send it again later (idempotent).
	CancelTopUpByRef(ctx context.Context, ref, partnerTxnID string) CancelResult
	// GetTopUp asks where the top-up made under ref stands. "Never received" is final and
	// is OutcomeFailed with FailureCode "not_processed" (the partner then refuses a late
	// request under ref); a failed query is OutcomeUnknown.
	GetTopUp(ctx context.Context, ref string) TopUpResult
}

// TopUpStore is the persistence of top-ups (part of Store).
type TopUpStore interface {
	// GetTopUp reads a top-up of a store; storeID "" reads any store's. ErrNotFound when
	// there is none.
	GetTopUp(ctx context.Context, storeID, id string) (TopUp, error)
	// ListTopUpsToResolve reads top-ups of any store whose outcome is open, due at now
	// (Resolution.NextAt nil or not after now) and not flagged for attention, oldest first:
	// status unknown; status pending last updated before stuckBefore; status succeeded
	// with a cancel started and last updated before stuckBefore. limit ≤ 0 reads all.
	ListTopUpsToResolve(ctx context.Context, now, stuckBefore time.Time, limit int) ([]TopUp, error)
}

// TopUpTx is the transactional part of TopUpStore (part of Tx).
type TopUpTx interface {
	// InsertTopUp writes a new top-up in status pending; ErrConflict when its id, or its
	// PartnerRef for its method, exists.
	InsertTopUp(ctx context.Context, t TopUp) error
	// GetTopUpForUpdate reads a top-up of any store and locks it until the transaction ends.
	GetTopUpForUpdate(ctx context.Context, id string) (TopUp, error)
	// UpdateTopUp writes t over the stored top-up: ErrInvalidTransition when the stored
	// status may not move to t.Status, ErrConflict when an immutable field (store, client,
	// method, terminal, card, amount, funding, partner ref) differs.
	UpdateTopUp(ctx context.Context, t TopUp) error
}
