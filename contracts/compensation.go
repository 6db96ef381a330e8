package contracts

import (
	"context"
	"time"
)

// Compensation of the retired wallet's victims (issue 18, docs/compensation.md): each claim
// (a victim's case, an original payhub payment or top-up, an amount) is recorded once ever
// under its claim id, then paid back through the original method where it still can be
// (a payhub refund, or a cancel before the card is billed), else by a nanaco re-credit,
// else by a bank refund row.

// CompensationStatus is where a claim stands.
type CompensationStatus string

// Claim statuses.
const (
	// CompensationPending: recorded, not routed yet.
	CompensationPending CompensationStatus = "pending"
	// CompensationRefunding: a payhub refund or cancel for it, or (route nanaco) a re-credit
	// under Ref, was (or is about to be) sent.
	CompensationRefunding CompensationStatus = "refunding"
	// CompensationRefunded: paid back through the original method (refund or cancel).
	CompensationRefunded CompensationStatus = "refunded"
	// CompensationRecredit: re-credited to a nanaco card.
	CompensationRecredit CompensationStatus = "recredit"
	// CompensationBankRefund: queued as a bank refund row (and posted to the ledger).
	CompensationBankRefund CompensationStatus = "bank_refund"
	// CompensationRejected: refused (Reason says why); nothing was paid.
	CompensationRejected CompensationStatus = "rejected"
	// CompensationUnknown: the refund's or cancel's outcome is open (the resolver settles
	// it and a re-run reads where it stands), or a re-credit's (a re-run asks nanaco).
	CompensationUnknown CompensationStatus = "unknown"
)

// Final reports whether a claim in status s is settled: a re-run changes nothing.
func (s CompensationStatus) Final() bool {
	switch s {
	case CompensationRefunded, CompensationRecredit, CompensationBankRefund, CompensationRejected:
		return true
	}
	return false
}

// CompensationRoute is how a claim is (being) paid.
type CompensationRoute string

// Claim routes.
const (
	// RouteNone: not routed (yet, or rejected).
	RouteNone CompensationRoute = ""
	// RouteRefund: a payhub refund of the original payment.
	RouteRefund CompensationRoute = "refund"
	// RouteCancel: a cancel of the original payment before it was billed.
	RouteCancel CompensationRoute = "cancel"
	// RouteNanaco: a nanaco value transfer to the victim's card.
	RouteNanaco CompensationRoute = "nanaco"
	// RouteBank: a bank refund row.
	RouteBank CompensationRoute = "bank"
)

// CompensationClaim is payhub's record of one claim, keyed by its claim id: a claim pays
// once ever.
type CompensationClaim struct {
	// ClaimID is the victim's case number.
	ClaimID string
	// VictimID is the victim's user id in the retired wallet.
	VictimID string
	// OriginalID is the disputed payhub payment (pay_…) or top-up (tu_…).
	OriginalID string
	// Amount is the claimed amount in yen.
	Amount int64
	// BodyHash is the hex SHA-256 of the claim's canonical body: a claim id seen again with
	// another body is refused.
	BodyHash string
	// Status is where the claim stands.
	Status CompensationStatus
	// Route is how it is (being) paid.
	Route CompensationRoute
	// Ref is the payhub refund id (re_…), the canceled payment's id, the partner's
	// reference of a re-credit or the bank row's id.
	Ref string
	// AmountPaid is what was paid back, in yen (Amount once settled, 0 when rejected).
	AmountPaid int64
	// Reason is a rejection's stable reason; Detail explains it.
	Reason string
	// Detail explains Reason (or an open outcome).
	Detail string
	// CreatedAt and UpdatedAt are when it was recorded and last changed.
	CreatedAt, UpdatedAt time.Time
}

// CompensationTx changes claims inside a transaction (part of Tx).
type CompensationTx interface {
	// InsertCompensationClaim records a new claim; ErrConflict when its claim id exists.
	InsertCompensationClaim(ctx context.Context, c CompensationClaim) error
	// GetCompensationClaimForUpdate reads a claim and locks it until the transaction ends;
	// ErrNotFound when there is none.
	GetCompensationClaimForUpdate(ctx context.Context, claimID string) (CompensationClaim, error)
	// UpdateCompensationClaim writes c's status, route, ref, amount paid, reason, detail
	// and update time over the stored claim; ErrNotFound without it, ErrInvalidTransition
	// when the stored claim is already final (a claim never moves after it settled).
	UpdateCompensationClaim(ctx context.Context, c CompensationClaim) error
	// ListCompensationClaimsByOriginal reads the claims against one payment or top-up,
	// oldest first.
	ListCompensationClaimsByOriginal(ctx context.Context, originalID string) ([]CompensationClaim, error)
}

// CompensationStore reads claims (part of Store).
type CompensationStore interface {
	// GetCompensationClaim reads one claim; ErrNotFound when there is none.
	GetCompensationClaim(ctx context.Context, claimID string) (CompensationClaim, error)
	// ListCompensationClaims reads up to limit claims whose id is above afterID, by id;
	// limit ≤ 0 reads all.
	ListCompensationClaims(ctx context.Context, afterID string, limit int) ([]CompensationClaim, error)
}
