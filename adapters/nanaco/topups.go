package nanaco

import (
	"context"
	"encoding/json"
	"fmt"

	"payhub/contracts"
)

// contracts.StoredValueTopUps over the adapter's own top-up calls: the engine's string
// refs are the SequenceRefs it allocated (terminal.YYYYMMDD.seq, §B3), its funding sources
// map onto NCS's CASH and POINTS (§B5 /charges; CREDIT is never sent), and the inquiry
// settles lost answers (§B6).

var _ contracts.StoredValueTopUps = (*Adapter)(nil)

// fundingSources maps payhub's funding onto NCS's fundingSource. Credit is absent: payhub
// does not offer credit-card top-ups.
var fundingSources = map[contracts.TopUpFunding]FundingSource{
	contracts.FundingCash:   FundingCash,
	contracts.FundingPoints: FundingPoints,
}

// creditedTo maps NCS's creditedTo onto payhub's ("" for anything else).
func creditedTo(ncs string) string {
	switch ncs {
	case CreditedToBalance:
		return contracts.CreditedBalance
	case CreditedToCenterHeld:
		return contracts.CreditedCenterHeld
	}
	return ""
}

// CreateTopUp is contracts.StoredValueTopUps: TopUp (POST /ncs/v1/charges) keyed by ref.
// A ref that is not an engine-allocated SequenceRef, another currency or an unoffered
// funding source is refused without a call.
func (a *Adapter) CreateTopUp(ctx context.Context, ref string, card contracts.PresentedCard, amount contracts.Money, funding contracts.TopUpFunding) contracts.TopUpResult {
	refuse := func(code, msg string) contracts.TopUpResult {
		a.logUnsent(ctx, "charge", code, msg)
		return contracts.TopUpResult{Outcome: contracts.OutcomeFailed, FailureCode: code, FailureMessage: msg}
	}
	key, err := parseRef(ref)
	if err != nil {
		return refuse(FailurePartnerConfig, err.Error())
	}
	if amount.Currency != contracts.JPY {
		return refuse(contracts.FailurePartnerRejected, "nanaco takes JPY only, not "+truncate(string(amount.Currency), 10))
	}
	source, ok := fundingSources[funding]
	if !ok {
		return refuse(contracts.FailurePartnerRejected, "payhub offers cash and points top-ups only, not "+truncate(string(funding), 20))
	}
	r := a.TopUp(ctx, key, card, amount.Amount, source)
	return contracts.TopUpResult{Outcome: r.Outcome, PartnerTxnID: r.CenterTxnID, CreditedTo: creditedTo(r.CreditedTo),
		PartnerCode: r.PartnerCode, FailureCode: r.FailureCode, FailureMessage: r.FailureMessage}
}

// CancelTopUpByRef is contracts.StoredValueTopUps: CancelTopUp (POST /ncs/v1/charges/cancel,
// keyed by the top-up's sequence plus CancelSeqOffset, so a resend is replayed). Another
// terminal, another business date, or after the cutoff is OutcomeWindowPassed; the value
// no longer on the card (INSUFFICIENT_BALANCE) is OutcomeFailed.
func (a *Adapter) CancelTopUpByRef(ctx context.Context, ref, partnerTxnID string) contracts.CancelResult {
	key, err := parseRef(ref)
	if err != nil {
		a.logUnsent(ctx, chargeCancel.op, FailurePartnerConfig, err.Error())
		return contracts.CancelResult{Outcome: contracts.OutcomeFailed, Message: FailurePartnerConfig + ": " + err.Error()}
	}
	r := a.CancelTopUp(ctx, key, partnerTxnID)
	msg := r.Message
	if r.FailureCode != "" {
		msg = r.FailureCode + ": " + msg
	}
	return contracts.CancelResult{Outcome: r.Outcome, PartnerCode: r.PartnerCode, Message: msg}
}

// GetTopUp is contracts.StoredValueTopUps: /transactions/inquiry by the top-up's key (§B6).
//   - found:false → OutcomeFailed, not_processed: the inquiry fenced the key, so a late
//     charge under it is refused (SEQ_FENCED): nothing happened and nothing will;
//   - a CHARGE that is APPROVED → OutcomeSucceeded, with its centerTxnId and where it was
//     credited (from the original answer); CANCELLED → OutcomeCanceled;
//   - IN_PROGRESS, another type, a failed or refused query → OutcomeUnknown.
func (a *Adapter) GetTopUp(ctx context.Context, ref string) contracts.TopUpResult {
	key, err := contracts.ParseSequenceRef(ref)
	if err != nil {
		msg := fmt.Sprintf("the partner ref %q is not a sequence ref (terminal.YYYYMMDD.seq): no nanaco top-up was ever sent under it", truncate(ref, 80))
		a.logUnsent(ctx, "charge_inquiry", FailurePartnerConfig, msg)
		return contracts.TopUpResult{Outcome: contracts.OutcomeFailed, FailureCode: FailurePartnerConfig, FailureMessage: msg}
	}
	q, r := a.inquire(ctx, "charge_inquiry", key)
	if !r.ok() {
		return contracts.TopUpResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "transaction inquiry failed: " + a.describe(r, contracts.PresentedCard{})}
	}
	if !*q.Found {
		return contracts.TopUpResult{Outcome: contracts.OutcomeFailed, FailureCode: FailureNotProcessed, PartnerCode: "NOT_FOUND",
			FailureMessage: "NCS has no transaction under " + key.String() + "; the inquiry fenced the key, so nothing was credited and nothing will be"}
	}
	res := contracts.TopUpResult{PartnerTxnID: q.CenterTxnID, PartnerCode: truncate(q.Status, 40)}
	if q.Type != "" && q.Type != typeCharge {
		res.Outcome = contracts.OutcomeUnknown
		res.FailureMessage = "the key " + key.String() + " holds a " + truncate(q.Type, 40) + ", not a top-up"
		return res
	}
	switch q.Status {
	case statusApproved:
		res.Outcome = contracts.OutcomeSucceeded
		var o struct {
			CreditedTo string `json:"creditedTo"`
		}
		if len(q.Original) > 0 && json.Unmarshal(q.Original, &o) == nil {
			res.CreditedTo = creditedTo(o.CreditedTo)
		}
	case statusCancelled:
		res.Outcome, res.FailureMessage = contracts.OutcomeCanceled, "NCS reports the top-up CANCELLED"
	default:
		res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, "NCS reports the top-up "+truncate(q.Status, 40)+": ask again shortly"
	}
	return res
}
