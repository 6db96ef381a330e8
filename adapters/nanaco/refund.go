package nanaco

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"payhub/contracts"
)

// refundBody is the /refunds request (§B5). pointEligibleAmount is not sent (0), as for
// payments (see payBody).
type refundBody struct {
	TerminalSeq   int    `json:"terminalSeq"`
	BusinessDate  string `json:"businessDate"`
	OriginalTxnID string `json:"originalTxnId"`
	Amount        int64  `json:"amount"`
	Reason        string `json:"reason,omitempty"`
	MerchantRef   string `json:"merchantRef,omitempty"`
}

// maxReason bounds the refund reason sent (payhub's choice; NCS names no limit).
const maxReason = 64

// Refund re-credits (part of) a payment into nanaco: POST /ncs/v1/refunds keyed by the
// SequenceRef in req.PartnerRef, from that ref's terminal, with originalTxnId =
// req.Payment.PartnerPaymentID (asked of the inquiry when empty). The value goes back
// into the card or its centre-held balance, never out as cash (§B5). Each refund has its
// own key, so a resent refund is replayed, never refunded twice, and refunds of one
// payment may run in parallel. PartnerRefundID is the refund's centerTxnId.
func (a *Adapter) Refund(ctx context.Context, req contracts.RefundRequest) contracts.RefundResult {
	key, err := parseRef(req.PartnerRef)
	if err != nil {
		return a.unsentRefund(ctx, FailurePartnerConfig, err.Error())
	}
	switch {
	case req.Amount.Currency != contracts.JPY:
		return a.unsentRefund(ctx, contracts.FailurePartnerRejected, "nanaco takes JPY only, not "+string(req.Amount.Currency))
	case req.Amount.Amount < 1:
		return a.unsentRefund(ctx, contracts.FailurePartnerRejected, "the refund amount must be at least ¥1")
	}
	txn := req.Payment.PartnerPaymentID
	switch {
	case txn != "" && !centerTxnPattern.MatchString(txn):
		return a.unsentRefund(ctx, FailurePartnerConfig, "the payment's id "+truncate(txn, 40)+" is not a centerTxnId (NC + 18 digits)")
	case txn == "":
		pk, err := contracts.ParseSequenceRef(req.Payment.PartnerRef)
		if err != nil {
			return a.unsentRefund(ctx, FailurePartnerConfig, "the payment's partner ref is not a sequence ref: "+err.Error())
		}
		var res contracts.RefundResult
		var settled bool
		if txn, res, settled = a.refundable(ctx, pk); settled {
			return res
		}
	}
	r := a.send(ctx, call{op: "refund", path: pathRefunds, terminal: key.Terminal, key: &key, timeout: a.cfg.Timeouts.Refund,
		body: refundBody{TerminalSeq: key.Seq, BusinessDate: key.BusinessDate, OriginalTxnID: txn, Amount: req.Amount.Amount,
			Reason: reasonText(req.Reason), MerchantRef: key.String()}})
	switch {
	case r.ok():
	case r.definite():
		res := contracts.RefundResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(), FailureCode: failureCode(r.code()),
			FailureMessage: a.describe(r, contracts.PresentedCard{})}
		if room, ok := r.ncs.Details["centerHeldRoom"]; ok {
			res.FailureMessage += fmt.Sprintf(" (centre-held room ¥%d)", room)
		}
		return res
	default:
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: a.describe(r, contracts.PresentedCard{})}
	}
	t, err := parseTxn(r.body, key)
	switch {
	case err != nil:
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown,
			FailureMessage: "NCS answered the refund with HTTP 200 but the answer is unreadable: " + err.Error()}
	case t.OriginalTxnID != "" && t.OriginalTxnID != txn:
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerRefundID: t.CenterTxnID,
			FailureMessage: "NCS answered the refund about " + t.OriginalTxnID + ", not " + txn}
	case t.Amount != nil && *t.Amount != req.Amount.Amount:
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerRefundID: t.CenterTxnID,
			FailureMessage: fmt.Sprintf("NCS re-credited ¥%d for a refund of ¥%d", *t.Amount, req.Amount.Amount)}
	}
	code := "REFUNDED"
	if t.CreditedTo != "" {
		code = "CREDITED_TO_" + truncate(t.CreditedTo, 20)
	}
	return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded, PartnerRefundID: t.CenterTxnID, PartnerCode: code}
}

// refundable learns the centerTxnId of the payment keyed by pk from the inquiry, or
// settles the refund without sending it (settled): the payment never happened, was
// cancelled or reversed (OutcomeFailed), or cannot be told yet (OutcomeUnknown).
func (a *Adapter) refundable(ctx context.Context, pk contracts.SequenceRef) (string, contracts.RefundResult, bool) {
	settle := func(o contracts.Outcome, code, failure, msg string) (string, contracts.RefundResult, bool) {
		return "", contracts.RefundResult{Outcome: o, PartnerCode: code, FailureCode: failure, FailureMessage: msg}, true
	}
	q, r := a.inquire(ctx, "refund_payment_inquiry", pk)
	switch {
	case !r.ok():
		return settle(contracts.OutcomeUnknown, r.code(), "",
			"could not learn the payment's centerTxnId, so nothing was sent: "+a.describe(r, contracts.PresentedCard{}))
	case !*q.Found:
		return settle(contracts.OutcomeFailed, "NOT_FOUND", FailureNotProcessed,
			"NCS has no payment under "+pk.String()+" (the inquiry fenced the key): nothing to refund")
	case q.Type != "" && q.Type != typePayment:
		return settle(contracts.OutcomeUnknown, truncate(q.Status, 40), "", "the key "+pk.String()+" holds a "+truncate(q.Type, 40)+", not a payment")
	}
	switch q.Status {
	case statusApproved, statusPending, statusRefundedPartial, statusRefunded:
		return q.CenterTxnID, contracts.RefundResult{}, false
	case statusCancelled:
		return settle(contracts.OutcomeFailed, q.Status, contracts.FailurePartnerRejected, "the payment was cancelled: nothing to refund")
	case statusReversed:
		return settle(contracts.OutcomeFailed, q.Status, FailureChipWriteFailed, "the payment was reversed (the chip write never completed): nothing to refund")
	default:
		return settle(contracts.OutcomeUnknown, truncate(q.Status, 40), "", "NCS reports the payment "+truncate(q.Status, 40)+": ask again shortly")
	}
}

// reasonText is the refund reason as sent: control characters (which NCS refuses) become
// spaces, and it is cut to maxReason characters. It depends on the reason alone, so a
// resent refund carries the same bytes.
func reasonText(reason string) string {
	return truncate(strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(reason, ""))), maxReason)
}

// unsentRefund is a refund refused before any call.
func (a *Adapter) unsentRefund(ctx context.Context, code, msg string) contracts.RefundResult {
	a.logUnsent(ctx, "refund", code, msg)
	return contracts.RefundResult{Outcome: contracts.OutcomeFailed, FailureCode: code, FailureMessage: msg}
}
