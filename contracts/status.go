package contracts

// Status is where a payment stands. See docs/api.md §4.1.
type Status string

// Payment statuses.
const (
	// StatusRequiresAction waits for the customer (QR shown, redirect); NextAction says what.
	StatusRequiresAction Status = "requires_action"
	// StatusProcessing means payhub wrote its intent and the partner call is in flight.
	StatusProcessing Status = "processing"
	// StatusAuthorized means funds are held (manual capture); capture or cancel next.
	StatusAuthorized Status = "authorized"
	// StatusSucceeded means money was taken; refunds change AmountRefunded, not the status.
	StatusSucceeded Status = "succeeded"
	// StatusFailed means definitely no money moved.
	StatusFailed Status = "failed"
	// StatusCanceled means stopped before capture, or reversed at the partner.
	StatusCanceled Status = "canceled"
	// StatusUnknown means the partner may or may not have moved money. The till must not
	// charge again; the resolver settles it by the partner's rules.
	StatusUnknown Status = "unknown"
)

// transitions is the allowed-transition table of docs/api.md §4.1. A status absent
// from the map's keys allows no transition at all (it is final).
var transitions = map[Status][]Status{
	StatusRequiresAction: {StatusProcessing, StatusAuthorized, StatusSucceeded, StatusFailed, StatusCanceled, StatusUnknown},
	StatusProcessing:     {StatusRequiresAction, StatusAuthorized, StatusSucceeded, StatusFailed, StatusUnknown},
	StatusAuthorized:     {StatusSucceeded, StatusCanceled, StatusUnknown},
	StatusUnknown:        {StatusAuthorized, StatusSucceeded, StatusFailed, StatusCanceled},
	// A succeeded payment is reversed whole by the partner's cancel while its cancel window
	// is open (PayPay: until 00:14:59 JST the next day) and no refund was made; after that
	// only refunds, which change AmountRefunded, not the status. (A provisional success
	// may also fail: CanTransitionPayment.)
	StatusSucceeded: {StatusCanceled},
}

// InitialStatuses are the statuses a payment may be created in.
var InitialStatuses = []Status{StatusRequiresAction, StatusProcessing}

// CanTransition reports whether a payment may move from one status to another. Staying in
// the same status is allowed (a write that changes other fields, e.g. AmountRefunded).
func CanTransition(from, to Status) bool {
	if from == to {
		return from.Valid()
	}
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CanTransitionPayment is CanTransition for a stored payment: beyond the table, a
// provisional success (Payment.Provisional) may fail, when the partner reverses a sale it
// never confirmed — no money moved after all.
func CanTransitionPayment(stored Payment, to Status) bool {
	return CanTransition(stored.Status, to) || stored.Status == StatusSucceeded && stored.Provisional && to == StatusFailed
}

// Final reports whether no further status change is possible. A succeeded payment is not
// final in this sense: the partner's same-day cancel can still reverse it to canceled.
func (s Status) Final() bool {
	return s == StatusFailed || s == StatusCanceled
}

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusRequiresAction, StatusProcessing, StatusAuthorized, StatusSucceeded,
		StatusFailed, StatusCanceled, StatusUnknown:
		return true
	}
	return false
}

// RefundStatus is where a refund stands. See docs/api.md §4.2.
type RefundStatus string

// Refund statuses.
const (
	// RefundPending means the refund is written and the partner call is in flight.
	RefundPending RefundStatus = "pending"
	// RefundSucceeded means the partner accepted the refund.
	RefundSucceeded RefundStatus = "succeeded"
	// RefundFailed means the partner definitely refused it; nothing moved.
	RefundFailed RefundStatus = "failed"
	// RefundUnknown means the partner may or may not have accepted it.
	RefundUnknown RefundStatus = "unknown"
)

// refundTransitions is the refund state machine.
var refundTransitions = map[RefundStatus][]RefundStatus{
	RefundPending: {RefundSucceeded, RefundFailed, RefundUnknown},
	RefundUnknown: {RefundSucceeded, RefundFailed},
}

// CanTransitionRefund reports whether a refund may move from one status to another.
func CanTransitionRefund(from, to RefundStatus) bool {
	if from == to {
		return true
	}
	for _, s := range refundTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Reserves reports whether a refund in this status counts against the refundable amount:
// succeeded, pending and unknown refunds all may have moved (or will move) money.
func (s RefundStatus) Reserves() bool { return s != RefundFailed }
