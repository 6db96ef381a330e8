package paypay

import (
	"context"
	"fmt"
	"net/http"

	"payhub/contracts"
)

// PayPay refund statuses (§5); both mean PayPay accepted the refund.
const (
	refundStatusCreated  = "CREATED"
	refundStatusRefunded = "REFUNDED"
)

// refundBody is POST /v2/refunds (§4.7).
type refundBody struct {
	MerchantRefundID string `json:"merchantRefundId"`
	PaymentID        string `json:"paymentId"`
	Amount           money  `json:"amount"`
	RequestedAt      int64  `json:"requestedAt"`
	Reason           string `json:"reason,omitempty"`
}

// Refund refunds part or all of a payment with POST /v2/refunds (§4.7). PayPay replays the
// first answer for a repeated merchantRefundId, so resending after an unknown outcome is
// safe; a replay whose amount differs from this request is reported as unknown. The
// currency is the payment's, which the engine checked against Capabilities.
func (a *Adapter) Refund(ctx context.Context, req contracts.RefundRequest) contracts.RefundResult {
	switch {
	case req.PartnerRef == "":
		return refusedRefund("no merchantRefundId (PartnerRef) given")
	case req.Amount.Amount <= 0:
		return refusedRefund("refund amount must be positive")
	}
	paymentID, res, ok := a.paypayPaymentID(ctx, req.Payment)
	if !ok {
		return res
	}
	requestedAt := req.RequestedAt
	if requestedAt.IsZero() {
		requestedAt = a.cfg.Now()
	}
	r := a.call(ctx, a.cfg.Timeouts.ValueMoving, http.MethodPost, "/v2/refunds", nil, refundBody{
		MerchantRefundID: req.PartnerRef, PaymentID: paymentID,
		Amount:      money{Amount: req.Amount.Amount, Currency: string(req.Amount.Currency)},
		RequestedAt: requestedAt.Unix(), Reason: truncate(req.Reason, 255),
	})
	switch r.verdict() {
	case verdictUnknown:
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: a.describe(r)}
	case verdictRefused:
		msg := a.describe(r)
		if r.code() == codeInvalidParams {
			msg = "PayPay refused the refund amount or parameters (the amount may exceed what is still refundable): " + msg
			if r.env.ResultInfo.CodeID == codeIDInvalidRefundAmount {
				msg = "refund amount exceeds what is still refundable on this payment: " + a.describe(r)
			}
		}
		return contracts.RefundResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(),
			FailureCode: contracts.FailurePartnerRejected, FailureMessage: msg}
	}
	return a.acceptedRefund(r, req, paymentID)
}

// acceptedRefund checks that an accepted answer is about this very refund: PayPay replays
// the first answer for a merchantRefundId, so a mismatch means the id was reused.
func (a *Adapter) acceptedRefund(r reply, req contracts.RefundRequest, paymentID string) contracts.RefundResult {
	unknown := func(msg string) contracts.RefundResult {
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: msg}
	}
	var rf refundObject
	if err := r.env.decodeData(&rf); err != nil {
		return unknown("PayPay accepted the refund but its refund object is unreadable")
	}
	if rf.Status != refundStatusCreated && rf.Status != refundStatusRefunded {
		return unknown("PayPay answered the refund with an unrecognised status " + truncate(rf.Status, 40))
	}
	switch {
	case rf.Amount.Amount != req.Amount.Amount || (rf.Amount.Currency != "" && rf.Amount.Currency != string(req.Amount.Currency)):
		return unknown(fmt.Sprintf("PayPay answered merchantRefundId %s with a refund of %d %s, but payhub asked for %s: "+
			"the id was used before for a different refund", req.PartnerRef, rf.Amount.Amount, rf.Amount.Currency, req.Amount))
	case rf.MerchantRefundID != "" && rf.MerchantRefundID != req.PartnerRef:
		return unknown("PayPay answered with a different merchantRefundId " + truncate(rf.MerchantRefundID, 64))
	case rf.PaymentID != "" && rf.PaymentID != paymentID:
		return unknown("PayPay answered merchantRefundId " + req.PartnerRef + " with a refund of another payment")
	}
	return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded, PartnerRefundID: rf.MerchantRefundID, PartnerCode: r.code()}
}

// paypayPaymentID is PayPay's paymentId for the refunded payment, which a refund needs
// (not the merchantPaymentId). When payhub does not know it yet it asks PayPay.
func (a *Adapter) paypayPaymentID(ctx context.Context, ref contracts.PaymentRef) (string, contracts.RefundResult, bool) {
	if ref.PartnerPaymentID != "" {
		return ref.PartnerPaymentID, contracts.RefundResult{}, true
	}
	p := a.GetPayment(ctx, ref)
	switch {
	case p.PartnerPaymentID != "":
		return p.PartnerPaymentID, contracts.RefundResult{}, true
	case p.Outcome == contracts.OutcomeUnknown:
		// Nothing was sent, but the refund may be retried with the same merchantRefundId.
		return "", contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: p.PartnerCode,
			FailureMessage: "could not learn PayPay's paymentId before refunding: " + p.FailureMessage}, false
	default:
		return "", refusedRefund(fmt.Sprintf("PayPay has no paid payment %s to refund (%s)", ref.PartnerRef, p.Outcome)), false
	}
}

// refusedRefund is a refund refused before PayPay was called.
func refusedRefund(msg string) contracts.RefundResult {
	return contracts.RefundResult{Outcome: contracts.OutcomeFailed, FailureCode: contracts.FailurePartnerRejected, FailureMessage: msg}
}
