package contracts

import "context"

// Value transfers: payhub moves value into a customer's stored-value card without the card
// being present (nanaco's /transfers, docs/partners/nanaco.md §B5): the retired wallet's
// migration and, later, compensation. The value lands in what the partner holds for the
// card (nanaco: centre-held, at most ¥50,000), which the customer collects with a
// balance-check tap.

// ValueTransfers is implemented by partners that take value transfers in. Like Partner, its
// methods never return a Go error for a partner-side problem: they classify it as an
// Outcome. A transfer whose Outcome is OutcomeUnknown may have credited the card: it is
// settled by InquireTransfer under the same PartnerRef, never sent again blind.
type ValueTransfers interface {
	// TransferIn credits req.Amount (or, with AllowPartial, as much of it as fits) to the
	// card, keyed by req.PartnerRef: the partner's idempotency key, derived by the caller
	// and written before the call, so that a resend can never move twice.
	TransferIn(ctx context.Context, req TransferRequest) TransferResult
	// InquireTransfer asks where the transfer sent under partnerRef stands:
	// OutcomeSucceeded (with what was credited), OutcomeFailed (nothing was or will be
	// credited: nanaco fences the key), OutcomeCanceled, or OutcomeUnknown (ask again).
	InquireTransfer(ctx context.Context, partnerRef string) TransferResult
}

// TransferRequest asks a partner to credit a card.
type TransferRequest struct {
	// PartnerRef is the partner's idempotency key (nanaco: a SequenceRef on a terminal
	// enabled for transfers, MIG-…). The caller derives it from what it moves (the
	// migration run and the row), never at random.
	PartnerRef string
	// NanacoNumber is the card's 16-digit number. It is never logged in full.
	NanacoNumber string
	// Amount is what to credit (JPY).
	Amount Money
	// SourceRef names the source for the partner's records (at most 64 characters; never
	// personal data), e.g. the migration run and row.
	SourceRef string
	// AllowPartial lets the partner credit less than Amount when the card's room is short
	// (TransferResult.Credited says how much); otherwise such a transfer fails.
	AllowPartial bool
}

// TransferResult is a partner's answer about a transfer.
type TransferResult struct {
	// Outcome is OutcomeSucceeded, OutcomeFailed, OutcomeCanceled or OutcomeUnknown.
	Outcome Outcome
	// Credited is what the partner credited (succeeded only; ≤ the amount asked).
	Credited Money
	// CreditedTo is where the value landed (CreditedCenterHeld for nanaco).
	CreditedTo string
	// PartnerTxnID is the partner's transaction id, when it says.
	PartnerTxnID string
	// PartnerCode is the partner's result code or the transaction's status.
	PartnerCode string
	// FailureCode is payhub's failure code when Outcome is OutcomeFailed.
	FailureCode string
	// FailureMessage explains a refusal or an unknown outcome (no card number).
	FailureMessage string
}
