package contracts

import (
	"context"
	"time"
)

// CallbackStatus is where a partner callback stands in payhub's inbox.
type CallbackStatus string

const (
	// CallbackReceived callbacks wait for the worker that confirms them.
	CallbackReceived CallbackStatus = "received"
	// CallbackProcessed callbacks were confirmed with the partner; whatever the partner
	// said was recorded.
	CallbackProcessed CallbackStatus = "processed"
	// CallbackIgnored callbacks changed nothing: stale, about no known payment, or about
	// a payment whose state the partner's answer does not move.
	CallbackIgnored CallbackStatus = "ignored"
	// CallbackRejected callbacks could not be read (kept for audit only).
	CallbackRejected CallbackStatus = "rejected"
)

// PartnerCallback is one callback as it arrived: kept raw for audit, processed at most
// once per (Partner, EventID).
type PartnerCallback struct {
	// ID is "pcb_" + ULID.
	ID string
	// Partner is the method whose partner sent it.
	Partner Method
	// EventID is the partner's dedupe key; a callback that names none (unreadable, or
	// about no payment) is identified by a digest of its body, so a replay is dropped too.
	EventID string
	// SourceIP is the TCP peer it came from.
	SourceIP string
	// Body is the raw body; empty for an unreadable one, of which only metadata (size,
	// digest, source, time) is kept.
	Body []byte
	// ReceivedAt is when it arrived.
	ReceivedAt time.Time
	// Status says where it stands; Note why.
	Status CallbackStatus
	// Note explains the status, for audit.
	Note string
	// ProcessedAt is when it left the inbox.
	ProcessedAt *time.Time
}

// CallbackStore is the inbox of partner callbacks; contracts.Store includes it.
type CallbackStore interface {
	// RecordCallback writes a callback; false (and no error) when one with the same
	// (Partner, EventID) exists: a retry or a replay, dropped.
	RecordCallback(ctx context.Context, cb PartnerCallback) (bool, error)
	// ClaimCallbacks leases up to limit received callbacks whose lease is free, oldest
	// first, until leaseUntil.
	ClaimCallbacks(ctx context.Context, now, leaseUntil time.Time, limit int) ([]PartnerCallback, error)
	// FinishCallback records a claimed callback's outcome.
	FinishCallback(ctx context.Context, id string, status CallbackStatus, note string, at time.Time) error
	// ListCallbacks reads a partner's callbacks, oldest first (audit and tests).
	ListCallbacks(ctx context.Context, partner Method) ([]PartnerCallback, error)
	// CountWaitingCallbacks counts a partner's callbacks still waiting in the inbox
	// (CallbackReceived), counting no further than limit: the inbox's bound.
	CountWaitingCallbacks(ctx context.Context, partner Method, limit int) (int, error)
	// DeleteCallbacksBefore deletes up to limit callbacks received before the given time
	// that have left the inbox (any status but CallbackReceived), oldest first, and says
	// how many (retention).
	DeleteCallbacksBefore(ctx context.Context, before time.Time, limit int) (int64, error)
	// FindPaymentByPartnerRef reads the payment of a method whose partner-facing id is
	// partnerRef or, when that is empty, whose partner id is partnerPaymentID.
	FindPaymentByPartnerRef(ctx context.Context, method Method, partnerRef, partnerPaymentID string) (Payment, error)
}
