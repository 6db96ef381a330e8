package paypay

import (
	"context"
	"fmt"
	"net/http"
	"regexp"

	"payhub/contracts"
)

// merchantIDPattern is PayPay's rule for merchant ids (merchantCaptureId, merchantRevertId…).
var merchantIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// PayPay capture statuses (§5).
const (
	captureStatusUserRequested = "USER_REQUESTED"
	captureStatusCompleted     = "COMPLETED"
)

// captureBody is POST /v2/payments/capture (§4.6); PayPay requires every field.
type captureBody struct {
	MerchantPaymentID string `json:"merchantPaymentId"`
	Amount            money  `json:"amount"`
	MerchantCaptureID string `json:"merchantCaptureId"`
	RequestedAt       int64  `json:"requestedAt"`
	OrderDescription  string `json:"orderDescription"`
}

// CapturePayment takes (part of) an authorized payment with POST /v2/payments/capture
// (§4.6). PayPay wants a new merchantCaptureId after a timeout and does not promise to
// replay a repeated one, so the adapter queries the payment first: a capture under this
// merchantCaptureId that already went through is reported, not sent again.
func (a *Adapter) CapturePayment(ctx context.Context, req contracts.CaptureRequest) contracts.PaymentResult {
	if res, ok := checkCaptureRequest(req); !ok {
		return res
	}
	prior, found, checked := a.priorCapture(ctx, req)
	if found {
		return prior
	}
	requestedAt := req.RequestedAt
	if requestedAt.IsZero() {
		requestedAt = a.cfg.Now()
	}
	// orderDescription is required; the payment's own id is the fallback the customer can
	// match against the authorization.
	desc := truncate(req.Description, 255)
	if desc == "" {
		desc = req.Payment.PartnerRef
	}
	r := a.call(ctx, a.cfg.Timeouts.ValueMoving, http.MethodPost, "/v2/payments/capture", nil, captureBody{
		MerchantPaymentID: req.Payment.PartnerRef, MerchantCaptureID: req.PartnerRef,
		Amount:      money{Amount: req.Amount.Amount, Currency: string(req.Amount.Currency)},
		RequestedAt: requestedAt.Unix(), OrderDescription: desc,
	})
	return a.captureResult(r, req, checked)
}

// checkCaptureRequest refuses, without calling PayPay, captures it could not build and
// captures above the authorization (which PayPay would put to the customer, §4.6). The
// currency is the payment's, which the engine checked against Capabilities.
func checkCaptureRequest(req contracts.CaptureRequest) (contracts.PaymentResult, bool) {
	refuse := func(msg string) (contracts.PaymentResult, bool) {
		return contracts.PaymentResult{Outcome: contracts.OutcomeFailed, FailureCode: contracts.FailurePartnerRejected, FailureMessage: msg}, false
	}
	switch {
	case !merchantIDPattern.MatchString(req.PartnerRef):
		return refuse("merchantCaptureId (PartnerRef) must be 1-64 characters of [A-Za-z0-9_-]")
	case req.Payment.PartnerRef == "":
		return refuse("no merchantPaymentId (Payment.PartnerRef) to capture")
	case req.Amount.Amount <= 0:
		return refuse("capture amount must be positive")
	case req.Payment.Amount.Amount > 0 && req.Amount.Amount > req.Payment.Amount.Amount:
		return refuse(fmt.Sprintf("capture of %s exceeds the authorized %s", req.Amount, req.Payment.Amount))
	}
	return contracts.PaymentResult{}, true
}

// priorCapture looks for a capture under req's merchantCaptureId that already went through
// (an earlier call whose answer was lost). found: res is that capture's result. checked:
// PayPay answered the lookup, so a refusal of the capture that follows is about this call.
func (a *Adapter) priorCapture(ctx context.Context, req contracts.CaptureRequest) (res contracts.PaymentResult, found, checked bool) {
	r := a.queryPayment(ctx, req.Payment)
	if r.notFound() {
		return contracts.PaymentResult{}, false, true
	}
	if r.verdict() != verdictAccepted {
		return contracts.PaymentResult{}, false, false
	}
	var p paymentObject
	if err := r.env.decodeData(&p); err != nil {
		return contracts.PaymentResult{}, false, false
	}
	c := p.capture(req.PartnerRef)
	if c == nil {
		return contracts.PaymentResult{}, false, true
	}
	return a.captured(r, p, *c, req), true, true
}

// captureResult reads PayPay's answer to a capture.
func (a *Adapter) captureResult(r reply, req contracts.CaptureRequest, checked bool) contracts.PaymentResult {
	if r.err == nil && r.code() == codeUserConfirmationRequired {
		// PayPay asks the customer only for a capture above the authorization, which payhub
		// never sends: something is off, and the capture completes only if the customer agrees.
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "PayPay asked the customer to approve this capture (USER_CONFIRMATION_REQUIRED, meant for " +
				"captures above the authorized amount); it completes only if the customer approves, so query the payment: " + a.describe(r)}
	}
	switch r.verdict() {
	case verdictUnknown:
		return a.unknownPayment(r)
	case verdictRefused:
		if r.code() == codeAlreadyCaptured {
			// Money of this payment was taken by some capture: not by this call, but the
			// payment is no longer merely authorized, so the engine must look, not believe.
			return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
				FailureMessage: "PayPay says the payment was already captured (not under merchantCaptureId " +
					req.PartnerRef + "); query it to learn what was taken: " + a.describe(r)}
		}
		if !checked && r.code() == codeOrderNotCapturable {
			return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
				FailureMessage: "PayPay refused the capture, but payhub could not check first whether an earlier capture " +
					"with merchantCaptureId " + req.PartnerRef + " went through: " + a.describe(r)}
		}
		return contracts.PaymentResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(),
			FailureCode: captureFailureCode(r.code()), FailureMessage: a.describe(r)}
	}
	var p paymentObject
	if err := r.env.decodeData(&p); err != nil {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "PayPay accepted the capture but its payment object is unreadable"}
	}
	if p.Status != statusCompleted {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerPaymentID: p.PaymentID, PartnerCode: r.code(),
			FailureMessage: "PayPay accepted the capture but reports the payment " + truncate(p.Status, 40) + ", not COMPLETED"}
	}
	if c := p.capture(req.PartnerRef); c != nil {
		return a.captured(r, p, *c, req)
	}
	if len(p.Captures.Data) > 0 {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerPaymentID: p.PaymentID, PartnerCode: r.code(),
			FailureMessage: "PayPay answered the capture with a payment that lists no capture " + req.PartnerRef}
	}
	return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, PartnerPaymentID: p.PaymentID, PartnerCode: r.code()}
}

// captured is the result for capture c of payment p, which carries req's merchantCaptureId:
// a success if it took what req asks, else the id was used before for another capture.
func (a *Adapter) captured(r reply, p paymentObject, c captureObject, req contracts.CaptureRequest) contracts.PaymentResult {
	if c.Amount.Amount != req.Amount.Amount || (c.Amount.Currency != "" && c.Amount.Currency != string(req.Amount.Currency)) {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerPaymentID: p.PaymentID, PartnerCode: r.code(),
			FailureMessage: fmt.Sprintf("PayPay holds a capture %s of %d %s, but payhub asked for %s: the id was used before for a different capture",
				req.PartnerRef, c.Amount.Amount, c.Amount.Currency, req.Amount)}
	}
	switch c.Status {
	case captureStatusCompleted, "":
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, PartnerPaymentID: p.PaymentID,
			PartnerCode: r.code(), PaidAt: epoch(c.AcceptedAt)}
	case captureStatusUserRequested:
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerPaymentID: p.PaymentID, PartnerCode: r.code(),
			FailureMessage: "capture " + req.PartnerRef + " waits for the customer's approval (USER_REQUESTED)"}
	default:
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerPaymentID: p.PaymentID, PartnerCode: r.code(),
			FailureMessage: "capture " + req.PartnerRef + " has an unrecognised status " + truncate(c.Status, 40)}
	}
}

// captureFailureCode maps PayPay's capture refusals to payhub's failure codes.
func captureFailureCode(code string) string {
	if code == codeOrderExpired {
		return contracts.FailureExpired
	}
	return contracts.FailurePartnerRejected
}
