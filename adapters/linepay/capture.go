package linepay

import (
	"context"
	"fmt"
	"net/http"

	"payhub/contracts"
)

// CapturePayment takes (part of) an authorized payment: Online v3 POST
// /v3/payments/authorizations/{transactionId}/capture for QR payments, Offline v4 POST
// /v4/payments/orders/{orderId}/capture otherwise, with {amount, currency} (§4.2, §5).
//
// LINE has no capture id, and an authorization is captured once. So the adapter reads the
// payment's details first (§6.2 rule 3): an authorization still open is captured; a
// payment already captured is this capture landed earlier when the amount matches (and
// payhub still holds the payment as authorized), else
// OutcomeUnknown (money of the payment was taken, not by this request); a voided or expired
// one is OutcomeFailed. When the details cannot be read nothing is sent (OutcomeUnknown).
func (a *Adapter) CapturePayment(ctx context.Context, req contracts.CaptureRequest) contracts.PaymentResult {
	major, res, ok := a.checkCaptureRequest(req)
	if !ok {
		return res
	}
	online := online(req.Payment.Flow)
	tx, hasTx := txOf(req.Payment)
	var path string
	switch {
	case online && !hasTx:
		return refusedCapture("no transactionId (PartnerPaymentID) to capture")
	case online:
		path = "/v3/payments/authorizations/" + tx.String() + "/capture"
	case !orderIDPattern.MatchString(req.Payment.PartnerRef):
		return refusedCapture("no valid orderId (Payment.PartnerRef) to capture")
	default:
		path = offlineOrderPath(req.Payment.PartnerRef, "capture")
		tx = TxID{} // offline details go by orderId, as the capture does
	}

	row, dr := a.paymentDetails(ctx, online, tx, req.Payment.PartnerRef)
	if row == nil {
		msg := "no details row for the payment"
		if dr.err != nil || dr.verdict() != verdictSuccess {
			msg = a.describe(dr)
		}
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerPaymentID: req.Payment.PartnerPaymentID,
			PartnerCode: dr.code(), FailureMessage: "could not read the payment's details before capturing, so no capture was sent: " + msg}
	}
	switch row.PayStatus {
	case payStatusAuthorization:
	case payStatusCapture:
		return a.alreadyCaptured(row, req, dr.code())
	case payStatusVoided, payStatusExpired:
		return contracts.PaymentResult{Outcome: contracts.OutcomeFailed, PartnerPaymentID: row.TransactionID.String(),
			PartnerCode: dr.code(), FailureCode: contracts.FailureExpired,
			FailureMessage: "the authorization is " + row.PayStatus + "; nothing to capture"}
	default:
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerPaymentID: row.TransactionID.String(),
			PartnerCode: dr.code(), FailureMessage: "LINE Pay details report payStatus " + truncate(row.PayStatus, 40) + "; no capture was sent"}
	}

	r := a.call(ctx, a.cfg.Timeouts.Capture, http.MethodPost, path, "",
		amountBody{Amount: major, Currency: string(req.Amount.Currency)}, nil)
	out := contracts.PaymentResult{PartnerPaymentID: row.TransactionID.String(), PartnerCode: r.code()}
	switch v := r.verdict(); {
	case v == verdictSuccess:
	case r.code() == codeInternalRequest || r.code() == codeTemporaryCard:
		// On capture these mean LINE cancelled the authorization (§4.2).
		out.Outcome, out.FailureCode, out.FailureMessage = contracts.OutcomeFailed, contracts.FailurePartnerRejected,
			"LINE Pay refused the capture and cancelled the authorization: "+a.describe(r)
		return out
	case r.code() == codeWrongStatus || r.code() == codeAlreadyDone:
		// The payment moved since the details read: look again before believing anything.
		out.Outcome, out.FailureMessage = contracts.OutcomeUnknown, "the payment changed while capturing: "+a.describe(r)
		return out
	case v == verdictFailed || v == verdictConfig:
		out.Outcome, out.FailureCode, out.FailureMessage = contracts.OutcomeFailed, failureCode(r.code()), a.describe(r)
		return out
	default:
		// U, R (1198: LINE is re-authorizing, retry in minutes) and transport problems.
		out.Outcome, out.FailureMessage = contracts.OutcomeUnknown, a.describe(r)
		return out
	}
	var info paymentInfo
	if err := r.env.decodeInfo(&info); err == nil && len(info.PayInfo) > 0 {
		if sum, ok := sumPayInfo(info.PayInfo); !ok || sum != req.Amount.Amount {
			out.Outcome = contracts.OutcomeUnknown
			out.FailureMessage = fmt.Sprintf("LINE Pay accepted the capture but its payInfo adds up to %s, not %s",
				describeSum(info.PayInfo), req.Amount)
			return out
		}
	}
	out.Outcome, out.AmountCaptured, out.PaidAt = contracts.OutcomeSucceeded, req.Amount.Amount, parseTime(info.TransactionDate)
	return out
}

// alreadyCaptured answers a capture of a payment LINE reports captured: the capture landed
// earlier (its answer was lost) if LINE took exactly this amount and payhub does not yet
// hold the payment as succeeded; else it was another capture. LINE keeps no capture id,
// so a new capture of the same amount before payhub recorded the first one cannot be told
// from a replay of it.
func (a *Adapter) alreadyCaptured(row *paymentInfo, req contracts.CaptureRequest, code string) contracts.PaymentResult {
	res := contracts.PaymentResult{PartnerPaymentID: row.TransactionID.String(), PartnerCode: code, PaidAt: parseTime(row.TransactionDate)}
	sum, ok := sumPayInfo(row.PayInfo)
	if ok && sum == req.Amount.Amount && req.Payment.Status != contracts.StatusSucceeded {
		res.Outcome, res.AmountCaptured = contracts.OutcomeSucceeded, sum
		return res
	}
	res.Outcome = contracts.OutcomeUnknown
	res.FailureMessage = fmt.Sprintf("LINE Pay reports the payment already captured for %s, but payhub asked for %s: "+
		"query it to learn what was taken", describeSum(row.PayInfo), req.Amount)
	return res
}

// checkCaptureRequest refuses, without calling LINE, captures it cannot put on the wire (a
// fraction of a unit) and captures above the authorization (1184). The currency is the
// payment's, which the engine checked against Capabilities.
func (a *Adapter) checkCaptureRequest(req contracts.CaptureRequest) (int64, contracts.PaymentResult, bool) {
	major, err := majorUnits(req.Amount)
	if err != nil {
		return 0, refusedCapture(err.Error()), false
	}
	if req.Payment.Amount.Amount > 0 && req.Amount.Amount > req.Payment.Amount.Amount {
		return 0, refusedCapture(fmt.Sprintf("capture of %s exceeds the authorized %s", req.Amount, req.Payment.Amount)), false
	}
	return major, contracts.PaymentResult{}, true
}

// refusedCapture is a capture refused before LINE was called.
func refusedCapture(msg string) contracts.PaymentResult {
	return contracts.PaymentResult{Outcome: contracts.OutcomeFailed, FailureCode: contracts.FailurePartnerRejected, FailureMessage: msg}
}
