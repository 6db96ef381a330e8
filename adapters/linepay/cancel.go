package linepay

import (
	"context"
	"net/http"

	"payhub/contracts"
)

// CancelPayment releases or withdraws a payment. LINE Pay has no cancel of a captured
// payment, only refunds, so:
//
//   - an authorization (ref.Status authorized) is voided: Online v3 POST
//     /v3/payments/authorizations/{transactionId}/void, Offline v4 POST
//     /v4/payments/orders/{orderId}/void, no body (§4.2, §5). 1165 (already voided) is a
//     success; 1155/1179 (captured meanwhile) is OutcomeWindowPassed.
//   - a succeeded payment answers OutcomeWindowPassed without a call: the engine refunds.
//   - a QR payment still waiting for the customer (requires_action) answers OutcomeSucceeded
//     without a call. LINE moves money only when the merchant confirms an approved request,
//     and payhub never confirms a request it withdrew (GetPayment of a canceled QR payment
//     reports it canceled instead of confirming); LINE expires the request after 20 min.
//   - any other status (unknown, processing) asks LINE first, without confirming anything:
//     captured → OutcomeWindowPassed, authorized → void, nothing moved → OutcomeSucceeded.
//     An in-store order LINE does not know is OutcomeUnknown until Config.LateLandingWindow
//     after ref.CreatedAt (no pay can land once the customer's code expired), then
//     OutcomeSucceeded: LINE has no cancel that would fence a late pay (§5.1 step 4).
func (a *Adapter) CancelPayment(ctx context.Context, ref contracts.PaymentRef) contracts.CancelResult {
	switch {
	case ref.Status == contracts.StatusAuthorized:
		return a.void(ctx, ref)
	case ref.Status == contracts.StatusSucceeded:
		return contracts.CancelResult{Outcome: contracts.OutcomeWindowPassed,
			Message: "LINE Pay reverses a captured payment only by refund"}
	case online(ref.Flow) && ref.Status == contracts.StatusRequiresAction:
		return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded,
			Message: "withdrawn: payhub never confirms this request, so LINE Pay moves no money and expires it"}
	}
	var p contracts.PaymentResult
	if online(ref.Flow) {
		p = a.getOnline(ctx, ref, false)
	} else {
		p = a.getOffline(ctx, ref)
	}
	res := contracts.CancelResult{PartnerCode: p.PartnerCode}
	switch p.Outcome {
	case contracts.OutcomeAuthorized:
		if ref.PartnerPaymentID == "" {
			ref.PartnerPaymentID = p.PartnerPaymentID
		}
		return a.void(ctx, ref)
	case contracts.OutcomeSucceeded:
		res.Outcome, res.Message = contracts.OutcomeWindowPassed, "LINE Pay reports the payment captured; only a refund reverses it"
	case contracts.OutcomePending, contracts.OutcomeCanceled, contracts.OutcomeFailed:
		res.Outcome, res.Message = contracts.OutcomeSucceeded, "nothing moved at LINE Pay ("+string(p.Outcome)+")"
	case contracts.OutcomeNotFound:
		if online(ref.Flow) {
			// No confirmed payment and no transactionId payhub could ever confirm.
			res.Outcome, res.Message = contracts.OutcomeSucceeded, "LINE Pay has no payment for this orderId and none can be confirmed"
			break
		}
		// LINE keeps no cancel for an order it does not know, so a late pay cannot be
		// fenced; it can only be waited out (the customer's code expires).
		window := a.cfg.LateLandingWindow
		if window <= 0 {
			window = DefaultLateLandingWindow
		}
		if !ref.CreatedAt.IsZero() && a.cfg.Now().Sub(ref.CreatedAt) >= window {
			res.Outcome, res.Message = contracts.OutcomeSucceeded, "LINE Pay has no such order and the customer's code has expired: nothing moved and nothing can"
			break
		}
		res.Outcome, res.Message = contracts.OutcomeUnknown, "LINE Pay has no such order yet; a late pay could still land until the customer's code expires: "+p.FailureMessage
	default:
		res.Outcome, res.Message = contracts.OutcomeUnknown, "could not learn where the payment stands, so nothing was voided: "+p.FailureMessage
	}
	return res
}

// void releases an authorization (§4.2, §5). The resolver repeats voids until accepted; a
// repeat answers 1165, which is a success.
func (a *Adapter) void(ctx context.Context, ref contracts.PaymentRef) contracts.CancelResult {
	var path string
	if online(ref.Flow) {
		tx, ok := txOf(ref)
		if !ok {
			return contracts.CancelResult{Outcome: contracts.OutcomeFailed, Message: "no transactionId (PartnerPaymentID) to void"}
		}
		path = "/v3/payments/authorizations/" + tx.String() + "/void"
	} else {
		if !orderIDPattern.MatchString(ref.PartnerRef) {
			return contracts.CancelResult{Outcome: contracts.OutcomeFailed, Message: "no valid orderId (PartnerRef) to void"}
		}
		path = offlineOrderPath(ref.PartnerRef, "void")
	}
	r := a.call(ctx, a.cfg.Timeouts.Void, http.MethodPost, path, "", nil, nil)
	res := contracts.CancelResult{PartnerCode: r.code()}
	switch v := r.verdict(); {
	case v == verdictSuccess:
		res.Outcome = contracts.OutcomeSucceeded
	case r.code() == codeAlreadyDone:
		res.Outcome, res.Message = contracts.OutcomeSucceeded, "already voided (1165)"
	case r.code() == codeNotRefundable || r.code() == codeWrongStatus:
		// Captured ones need a refund (§4.2).
		res.Outcome, res.Message = contracts.OutcomeWindowPassed, a.describe(r)
	case v == verdictFailed || v == verdictConfig:
		res.Outcome, res.Message = contracts.OutcomeFailed, a.describe(r)
	default:
		res.Outcome, res.Message = contracts.OutcomeUnknown, a.describe(r)
	}
	return res
}
