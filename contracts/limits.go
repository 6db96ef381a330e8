package contracts

import (
	"context"
	"time"
)

// Velocity and amount limits (docs/security.md §5): a rule caps how many operations, and
// how much money, a subject — a store, a terminal, a store client or a customer's instrument
// — may move within a sliding window. Every admitted operation reserves its share of each
// rule that covers it in the transaction of its intent, under a lock per subject, so
// concurrent requests cannot together overshoot a budget; a definite failure gives the
// share back, success and unknown keep it.

// LimitSubject is what a limit rule counts per.
type LimitSubject string

// The subjects a limit rule may count per.
const (
	// LimitStore counts per store.
	LimitStore LimitSubject = "store"
	// LimitTerminal counts per terminal (a store's till).
	LimitTerminal LimitSubject = "terminal"
	// LimitClient counts per store client (one checkout system's credentials).
	LimitClient LimitSubject = "client"
	// LimitInstrument counts per customer instrument, across stores: the partner's user
	// reference (a linked PayPay account), the nanaco number, or the card as GMO-PG
	// reports it (brand, last four digits and expiry). payhub keeps only a keyed hash of it.
	LimitInstrument LimitSubject = "instrument"
)

// LimitSubjects lists every LimitSubject.
var LimitSubjects = []LimitSubject{LimitStore, LimitTerminal, LimitClient, LimitInstrument}

// LimitOperations are the operations a limit rule may cap: the ones that take money in.
var LimitOperations = []ControlOperation{OperationPay, OperationTopUp}

// LimitRule caps Operation for each subject of kind Subject (or for the one SubjectID
// names) within Window: at most MaxCount operations and at most MaxAmount (minor units of
// Currency) in any Window-long stretch. Zero means no cap of that kind; a rule has at
// least one.
type LimitRule struct {
	// ID is the rule's id (PrefixLimitRule).
	ID string
	// Subject is what the rule counts per.
	Subject LimitSubject
	// SubjectID, when set, restricts the rule to one subject (a store id, "store/terminal",
	// a client id); empty applies it to each subject of its kind. Instrument rules apply to
	// each instrument.
	SubjectID string
	// Operation is the operation capped (LimitOperations).
	Operation ControlOperation
	// Method, when set, restricts the rule to one payment method.
	Method Method
	// Window is the sliding window's length.
	Window time.Duration
	// MaxCount is the most operations in a window (0: no count cap).
	MaxCount int64
	// MaxAmount is the most money in a window, in minor units of Currency (0: no cap).
	MaxAmount int64
	// Currency is MaxAmount's currency; operations in other currencies do not count.
	Currency Currency
	// Reason says why the rule exists.
	Reason string
	// SetBy and SetAt record who added it and when.
	SetBy string
	SetAt time.Time
	// RemovedBy, RemovedAt and RemoveReason record who removed it, when and why.
	RemovedBy    string
	RemovedAt    *time.Time
	RemoveReason string
}

// Active reports whether the rule is in force (not removed).
func (r LimitRule) Active() bool { return r.RemovedAt == nil }

// LimitUsage is one operation's share of a subject's budget.
type LimitUsage struct {
	// SubjectKey names the subject: "store:<id>", "terminal:<store>/<terminal>",
	// "client:<id>", "instrument:<kind>:<keyed hash>".
	SubjectKey string
	// Operation and Method are the operation's.
	Operation ControlOperation
	Method    Method
	// Amount is what it moved.
	Amount Money
	// At is when it was admitted.
	At time.Time
	// ObjectID is the payment or top-up it belongs to.
	ObjectID string
}

// LimitWindowUse is what a subject used of an operation within a window.
type LimitWindowUse struct {
	// Count is how many operations.
	Count int64
	// Amount is their total, in minor units of the currency asked for.
	Amount int64
}

// LimitUse is one operation's use in a window, for working out when a breached budget has
// room again.
type LimitUse struct {
	// At is when it was admitted.
	At time.Time
	// Amount is what it moved, in minor units.
	Amount int64
}

// LimitsTx reserves and records limit usage, and adds and removes rules, in a transaction.
// contracts.Tx includes it.
type LimitsTx interface {
	// LockLimitSubjects serialises the transactions that reserve against the same subjects
	// until this one ends (PostgreSQL: transaction advisory locks, taken in the order
	// given; SQLite: the write lock the transaction already holds).
	LockLimitSubjects(ctx context.Context, keys []string) error
	// LimitWindowUse sums the unreleased usage of key for op (and method and currency, when
	// not empty) at or after since.
	LimitWindowUse(ctx context.Context, key string, op ControlOperation, method Method, currency string, since time.Time) (LimitWindowUse, error)
	// LimitUses lists that usage, oldest first.
	LimitUses(ctx context.Context, key string, op ControlOperation, method Method, currency string, since time.Time) ([]LimitUse, error)
	// InsertLimitUsage records usage.
	InsertLimitUsage(ctx context.Context, u []LimitUsage) error
	// ReleaseLimitUsage gives back the usage of an operation that definitely failed.
	ReleaseLimitUsage(ctx context.Context, objectID string) error
	// InsertLimitRule adds a rule and bumps the controls version.
	InsertLimitRule(ctx context.Context, r LimitRule) error
	// RemoveLimitRule removes the rule id and returns it as removed; ErrNotFound without
	// such a rule, ErrInvalidTransition when it was removed before.
	RemoveLimitRule(ctx context.Context, id, by, reason string, at time.Time) (LimitRule, error)
	// MarkLimitDefaultsSeeded records that the default rules were added; false when they
	// were before (nothing changes).
	MarkLimitDefaultsSeeded(ctx context.Context, at time.Time) (bool, error)
}

// LimitsStore reads the limit rules. contracts.Store includes it.
type LimitsStore interface {
	// ListLimitRules reads the rules in force (with removed ones when includeRemoved), by id.
	ListLimitRules(ctx context.Context, includeRemoved bool) ([]LimitRule, error)
	// GetLimitRule reads one rule; ErrNotFound when there is none.
	GetLimitRule(ctx context.Context, id string) (LimitRule, error)
}
