package nanaco

import (
	"context"
	"fmt"

	"payhub/contracts"
)

// contracts.ValueTransfers over the adapter's own /transfers and inquiry calls (§B5, §B6):
// the partner ref is a SequenceRef the caller derived on a transfer-enabled terminal
// (MIG-…), written before the call; an unknown outcome is settled by InquireTransfer under
// the same key, whose found:false fences it (nothing was credited and nothing will be).

var _ contracts.ValueTransfers = (*Adapter)(nil)

// TransferIn is contracts.ValueTransfers: Transfer (POST /ncs/v1/transfers) keyed by
// req.PartnerRef. A ref that is not a valid SequenceRef, or another currency, is refused
// without a call.
func (a *Adapter) TransferIn(ctx context.Context, req contracts.TransferRequest) contracts.TransferResult {
	key, err := parseRef(req.PartnerRef)
	if err != nil {
		a.logUnsent(ctx, "transfer", FailurePartnerConfig, err.Error())
		return contracts.TransferResult{Outcome: contracts.OutcomeFailed, FailureCode: FailurePartnerConfig, FailureMessage: err.Error()}
	}
	if req.Amount.Currency != contracts.JPY {
		msg := "nanaco takes JPY only, not " + truncate(string(req.Amount.Currency), 10)
		a.logUnsent(ctx, "transfer", contracts.FailurePartnerRejected, msg)
		return contracts.TransferResult{Outcome: contracts.OutcomeFailed, FailureCode: contracts.FailurePartnerRejected, FailureMessage: msg}
	}
	r := a.Transfer(ctx, key, req.NanacoNumber, req.Amount.Amount, req.SourceRef, req.AllowPartial)
	res := contracts.TransferResult{Outcome: r.Outcome, PartnerTxnID: r.CenterTxnID, PartnerCode: r.PartnerCode,
		FailureCode: r.FailureCode, FailureMessage: r.FailureMessage}
	if r.Outcome == contracts.OutcomeSucceeded {
		res.Credited = contracts.Money{Amount: r.Amount, Currency: contracts.JPY}
		res.CreditedTo = creditedTo(r.CreditedTo)
	}
	return res
}

// InquireTransfer is contracts.ValueTransfers: /transactions/inquiry by the transfer's key.
//   - found:false → OutcomeFailed, not_processed: the key is fenced, a late transfer under
//     it is refused (SEQ_FENCED);
//   - a TRANSFER that is APPROVED → OutcomeSucceeded with the amount credited;
//     CANCELLED → OutcomeCanceled;
//   - IN_PROGRESS, another type, a failed or refused query → OutcomeUnknown.
func (a *Adapter) InquireTransfer(ctx context.Context, partnerRef string) contracts.TransferResult {
	key, err := contracts.ParseSequenceRef(partnerRef)
	if err != nil {
		msg := fmt.Sprintf("the partner ref %q is not a sequence ref (terminal.YYYYMMDD.seq): no nanaco transfer was ever sent under it", truncate(partnerRef, 80))
		a.logUnsent(ctx, "transfer_inquiry", FailurePartnerConfig, msg)
		return contracts.TransferResult{Outcome: contracts.OutcomeFailed, FailureCode: FailurePartnerConfig, FailureMessage: msg}
	}
	q, r := a.inquire(ctx, "transfer_inquiry", key)
	if !r.ok() {
		return contracts.TransferResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "transaction inquiry failed: " + a.describe(r, contracts.PresentedCard{})}
	}
	if !*q.Found {
		return contracts.TransferResult{Outcome: contracts.OutcomeFailed, FailureCode: FailureNotProcessed, PartnerCode: "NOT_FOUND",
			FailureMessage: "NCS has no transaction under " + key.String() + "; the inquiry fenced the key, so nothing was credited and nothing will be"}
	}
	res := contracts.TransferResult{PartnerTxnID: q.CenterTxnID, PartnerCode: truncate(q.Status, 40)}
	if q.Type != "" && q.Type != typeTransfer {
		res.Outcome = contracts.OutcomeUnknown
		res.FailureMessage = "the key " + key.String() + " holds a " + truncate(q.Type, 40) + ", not a transfer"
		return res
	}
	switch q.Status {
	case statusApproved:
		if q.Amount == nil || *q.Amount < 1 {
			res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, "NCS reports the transfer APPROVED without its amount"
			return res
		}
		res.Outcome = contracts.OutcomeSucceeded
		res.Credited = contracts.Money{Amount: *q.Amount, Currency: contracts.JPY}
		res.CreditedTo = contracts.CreditedCenterHeld
	case statusCancelled:
		res.Outcome, res.FailureMessage = contracts.OutcomeCanceled, "NCS reports the transfer CANCELLED"
	default:
		res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, "NCS reports the transfer "+truncate(q.Status, 40)+": ask again shortly"
	}
	return res
}
