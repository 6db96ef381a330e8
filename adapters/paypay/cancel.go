package paypay

import (
	"context"
	"net/http"
	"net/url"

	"payhub/contracts"
)

// CancelPayment cancels a payment with DELETE /v2/payments/{merchantPaymentId} (§4.5). For
// a QR payment still waiting for the customer it first deletes the QR code so it cannot be
// paid; the payment cancel then fences a payment that lands anyway, because PayPay applies
// a cancel received before payment right after the payment.
func (a *Adapter) CancelPayment(ctx context.Context, ref contracts.PaymentRef) contracts.CancelResult {
	if ref.PartnerRef == "" {
		return contracts.CancelResult{Outcome: contracts.OutcomeFailed, Message: "no merchantPaymentId (PartnerRef) to cancel"}
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
