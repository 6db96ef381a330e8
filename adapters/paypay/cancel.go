package paypay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"

	"payhub/contracts"
)

// CancelPayment cancels a payment with DELETE /v2/payments/{merchantPaymentId} (§4.5). For
// a QR payment still waiting for the customer it first deletes the QR code so it cannot be
// paid; the payment cancel then fences a payment that lands anyway, because PayPay applies
// a cancel received before payment right after the payment. An authorized payment
// (ref.Status authorized) is reverted instead, releasing the hold (see revert).
func (a *Adapter) CancelPayment(ctx context.Context, ref contracts.PaymentRef) contracts.CancelResult {
	if ref.PartnerRef == "" {
		return contracts.CancelResult{Outcome: contracts.OutcomeFailed, Message: "no merchantPaymentId (PartnerRef) to cancel"}
	}
	if ref.Status == contracts.StatusAuthorized {
		return a.revert(ctx, ref)
	}
	withdrawingQR := ref.PartnerActionRef != "" && ref.Status == contracts.StatusRequiresAction
	qrGone := false
	if withdrawingQR {
		qr := a.call(ctx, a.cfg.Timeouts.Read, http.MethodDelete, "/v2/codes/"+url.PathEscape(ref.PartnerActionRef), nil, nil)
		qrGone = qr.verdict() == verdictAccepted || (qr.verdict() == verdictRefused && qr.code() == codeDynamicQRNotFound)
	}

	r := a.call(ctx, a.cfg.Timeouts.Read, http.MethodDelete, "/v2/payments/"+url.PathEscape(ref.PartnerRef), nil, nil)
	res := contracts.CancelResult{PartnerCode: r.code()}
	switch r.verdict() {
	case verdictAccepted:
		res.Outcome = contracts.OutcomeSucceeded
	case verdictUnknown:
		res.Outcome, res.Message = contracts.OutcomeUnknown, a.describe(r)
	default:
		switch {
		case r.code() == codeOrderNotReversible:
			res.Outcome, res.Message = contracts.OutcomeWindowPassed, a.describe(r)
		case r.code() == codeResourceNotFound && withdrawingQR && qrGone:
			// The customer never paid and the code can no longer be paid: nothing to fence.
			res.Outcome = contracts.OutcomeSucceeded
		case r.code() == codeResourceNotFound && withdrawingQR:
			// PayPay keeps no cancel for a payment it does not know, and the code may still
			// be payable: whether a payment can still land is open.
			res.Outcome = contracts.OutcomeUnknown
			res.Message = "QR code deletion was not confirmed and PayPay recorded no cancel: " + a.describe(r)
		default:
			res.Outcome, res.Message = contracts.OutcomeFailed, a.describe(r)
		}
	}
	return res
}

// revertReason is the reason sent with every revert; payhub reverts only on the store's
// cancel or the resolver's decision.
const revertReason = "authorization canceled by the merchant"

// revertBody is POST /v2/payments/preauthorize/revert (§4.6).
type revertBody struct {
	MerchantRevertID string `json:"merchantRevertId"`
	PaymentID        string `json:"paymentId"`
	RequestedAt      int64  `json:"requestedAt"`
	Reason           string `json:"reason,omitempty"`
}

// revert releases an authorization with POST /v2/payments/preauthorize/revert (§4.6). The
// revert needs PayPay's paymentId; when payhub does not know it the adapter asks PayPay
// first, and sends nothing if that fails.
func (a *Adapter) revert(ctx context.Context, ref contracts.PaymentRef) contracts.CancelResult {
	paymentID := ref.PartnerPaymentID
	if paymentID == "" {
		p := a.GetPayment(ctx, ref)
		if p.PartnerPaymentID == "" {
			return contracts.CancelResult{Outcome: contracts.OutcomeUnknown, PartnerCode: p.PartnerCode,
				Message: "could not learn PayPay's paymentId, so no revert was sent (" + string(p.Outcome) + "): " + p.FailureMessage}
		}
		paymentID = p.PartnerPaymentID
	}
	r := a.call(ctx, a.cfg.Timeouts.ValueMoving, http.MethodPost, "/v2/payments/preauthorize/revert", nil, revertBody{
		MerchantRevertID: revertID(ref.PartnerRef), PaymentID: paymentID,
		RequestedAt: a.cfg.Now().Unix(), Reason: revertReason,
	})
	res := contracts.CancelResult{PartnerCode: r.code()}
	switch r.verdict() {
	case verdictUnknown:
		res.Outcome, res.Message = contracts.OutcomeUnknown, a.describe(r)
		return res
	case verdictRefused:
		if r.code() == codeOrderNotCancelable {
			return a.notCancelable(ctx, ref, r)
		}
		res.Outcome, res.Message = contracts.OutcomeFailed, a.describe(r)
		return res
	}
	var rv revertObject
	if err := r.env.decodeData(&rv); err != nil || rv.Status != statusCanceled {
		res.Outcome = contracts.OutcomeUnknown
		res.Message = "PayPay accepted the revert but did not report the authorization CANCELED: " + a.describe(r)
		return res
	}
	res.Outcome = contracts.OutcomeSucceeded
	return res
}

// notCancelable reads a revert refused with ORDER_NOT_CANCELABLE. PayPay refuses to revert
// what is no longer AUTHORIZED, which includes an authorization an earlier revert (whose
// answer was lost) already released; the resolver repeats cancels, so ask PayPay which.
func (a *Adapter) notCancelable(ctx context.Context, ref contracts.PaymentRef, r reply) contracts.CancelResult {
	res := contracts.CancelResult{PartnerCode: r.code()}
	switch p := a.GetPayment(ctx, ref); p.Outcome {
	case contracts.OutcomeCanceled:
		res.Outcome, res.Message = contracts.OutcomeSucceeded, "the authorization is already released: "+p.FailureMessage
	case contracts.OutcomeUnknown:
		res.Outcome = contracts.OutcomeUnknown
		res.Message = "PayPay refused the revert and payhub could not check whether the authorization is already released: " + a.describe(r)
	default:
		res.Outcome, res.Message = contracts.OutcomeFailed, a.describe(r)+" (payment "+string(p.Outcome)+")"
	}
	return res
}

// revertID is the merchantRevertId for the payment partnerRef: derived, so a repeated
// revert carries the same id, and within PayPay's 64 characters of [A-Za-z0-9_-].
func revertID(partnerRef string) string {
	if id := partnerRef + "_revert"; merchantIDPattern.MatchString(id) {
		return id
	}
	sum := sha256.Sum256([]byte(partnerRef))
	return "revert_" + hex.EncodeToString(sum[:20])
}
