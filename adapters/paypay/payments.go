package paypay

import (
	"context"
	"net/http"
	"net/url"

	"payhub/contracts"
)

// PayPay payment statuses (docs/partners/paypay.md §5).
const (
	statusCreated       = "CREATED"
	statusAuthorized    = "AUTHORIZED"
	statusReauthorizing = "REAUTHORIZING"
	statusCompleted     = "COMPLETED"
	statusRefunded      = "REFUNDED"
	statusFailed        = "FAILED"
	statusCanceled      = "CANCELED"
	statusExpired       = "EXPIRED"
)

// createPaymentBody is POST /v2/payments (§4.4), or the barcode stand-in (§11) when
// AuthorizationCode is set instead of UserAuthorizationID.
type createPaymentBody struct {
	MerchantPaymentID   string `json:"merchantPaymentId"`
	UserAuthorizationID string `json:"userAuthorizationId,omitempty"`
	AuthorizationCode   string `json:"authorizationCode,omitempty"`
	Amount              money  `json:"amount"`
	RequestedAt         int64  `json:"requestedAt"`
	StoreID             string `json:"storeId,omitempty"`
	TerminalID          string `json:"terminalId,omitempty"`
	OrderDescription    string `json:"orderDescription,omitempty"`
}

// createQRBody is POST /v2/codes (§4.1).
type createQRBody struct {
	MerchantPaymentID string `json:"merchantPaymentId"`
	Amount            money  `json:"amount"`
	CodeType          string `json:"codeType"`
	OrderDescription  string `json:"orderDescription,omitempty"`
	StoreID           string `json:"storeId,omitempty"`
	TerminalID        string `json:"terminalId,omitempty"`
	RequestedAt       int64  `json:"requestedAt"`
	IsAuthorization   bool   `json:"isAuthorization,omitempty"`
}

// CreatePayment charges a scanned barcode (§11 stand-in) or a linked account (§4.4), or
// creates a dynamic QR code (§4.1) and answers OutcomePending with the code to display.
// With contracts.CaptureManual it only authorizes: a pre-authorization (§4.6; the barcode
// one is payhub's stand-in, see the package doc) answers OutcomeAuthorized, and a QR code
// is created with isAuthorization, so the customer's payment ends AUTHORIZED.
func (a *Adapter) CreatePayment(ctx context.Context, req contracts.PaymentRequest) contracts.PaymentResult {
	if res, ok := checkPaymentRequest(req); !ok {
		return res
	}
	requestedAt := req.RequestedAt
	if requestedAt.IsZero() {
		requestedAt = a.cfg.Now()
	}
	amount := money{Amount: req.Amount.Amount, Currency: string(req.Amount.Currency)}
	if req.Flow == contracts.FlowQR {
		return a.createQR(ctx, createQRBody{
			MerchantPaymentID: req.PartnerRef, Amount: amount, CodeType: "ORDER_QR",
			OrderDescription: truncate(req.Description, 255), StoreID: truncate(req.StoreID, 255),
			TerminalID: truncate(req.TerminalID, 255), RequestedAt: requestedAt.Unix(),
			IsAuthorization: req.CaptureMethod == contracts.CaptureManual,
		})
	}
	body := createPaymentBody{
		MerchantPaymentID: req.PartnerRef, Amount: amount, RequestedAt: requestedAt.Unix(),
		StoreID: req.StoreID, TerminalID: req.TerminalID, OrderDescription: truncate(req.Description, 255),
	}
	// A linked charge keeps PayPay's 5-minute duplicate guard; a barcode the customer just
	// presented at the till is the customer's own consent to a similar payment (§11).
	agree := "false"
	if req.Flow == contracts.FlowBarcode {
		body.AuthorizationCode, agree = req.Barcode, "true"
	} else {
		body.UserAuthorizationID = req.UserAuthorizationID
	}
	path := "/v2/payments"
	if req.CaptureMethod == contracts.CaptureManual {
		path = "/v2/payments/preauthorize"
	}
	r := a.call(ctx, a.cfg.Timeouts.ValueMoving, http.MethodPost, path,
		url.Values{"agreeSimilarTransaction": {agree}}, body)
	return a.paymentResult(r, req.Flow, req.Barcode)
}

// checkPaymentRequest refuses, without calling PayPay, a request it could not build: no
// merchantPaymentId, a capture method or flow with no PayPay call, or a flow without the
// field its body needs. What PayPay takes (JPY only, the ¥500,000 cap, the flows) is
// declared in Capabilities and enforced by the engine before the adapter is called; it is
// not checked again here.
func checkPaymentRequest(req contracts.PaymentRequest) (contracts.PaymentResult, bool) {
	refuse := func(code, msg string) (contracts.PaymentResult, bool) {
		return contracts.PaymentResult{Outcome: contracts.OutcomeFailed, FailureCode: code, FailureMessage: msg}, false
	}
	switch {
	case req.PartnerRef == "":
		return refuse(contracts.FailurePartnerRejected, "no merchantPaymentId (PartnerRef) given")
	case req.CaptureMethod != "" && req.CaptureMethod != contracts.CaptureAutomatic && req.CaptureMethod != contracts.CaptureManual:
		return refuse(contracts.FailurePartnerRejected, "PayPay adapter has no call for capture method "+string(req.CaptureMethod))
	}
	switch req.Flow {
	case contracts.FlowQR:
	case contracts.FlowBarcode:
		if req.Barcode == "" {
			return refuse(contracts.FailureBarcodeInvalid, "no barcode was scanned")
		}
	case contracts.FlowLinked:
		if req.UserAuthorizationID == "" {
			return refuse(contracts.FailurePartnerRejected, "no userAuthorizationId for a linked payment")
		}
	default:
		// Unreachable through the engine (the flow is not in Capabilities().Flows): the
		// adapter has no request body for it.
		return refuse(contracts.FailurePartnerRejected, "PayPay adapter has no call for flow "+string(req.Flow))
	}
	return contracts.PaymentResult{}, true
}

// createQR creates the dynamic QR code the customer scans.
func (a *Adapter) createQR(ctx context.Context, body createQRBody) contracts.PaymentResult {
	r := a.call(ctx, a.cfg.Timeouts.ValueMoving, http.MethodPost, "/v2/codes", nil, body)
	switch r.verdict() {
	case verdictRefused:
		if r.code() != codeDuplicateDynamicQRRequest {
			return a.refusedPayment(r)
		}
		// A QR for this merchantPaymentId already exists and may be paid: not "nothing moved".
		fallthrough
	case verdictUnknown:
		return a.unknownPayment(r)
	}
	var qr qrCode
	if err := r.env.decodeData(&qr); err != nil || qr.CodeID == "" || qr.URL == "" {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "PayPay accepted the QR code but did not return its codeId and url"}
	}
	return contracts.PaymentResult{
		Outcome:          contracts.OutcomePending,
		PartnerActionRef: qr.CodeID,
		PartnerCode:      r.code(),
		NextAction: &contracts.NextAction{
			Type: contracts.NextActionDisplayQR, QRCodeURL: qr.URL, Deeplink: qr.Deeplink, ExpiresAt: epoch(qr.ExpiryDate),
		},
	}
}

// GetPayment queries a payment: GET /v2/codes/payments/{id} for QR payments, GET
// /v2/payments/{id} otherwise (§4.3). Only a recognised "not found" is OutcomeNotFound; any
// other failed query is OutcomeUnknown.
func (a *Adapter) GetPayment(ctx context.Context, ref contracts.PaymentRef) contracts.PaymentResult {
	if ref.PartnerRef == "" {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, FailureMessage: "no merchantPaymentId (PartnerRef) to query"}
	}
	r := a.queryPayment(ctx, ref)
	if r.notFound() {
		return contracts.PaymentResult{Outcome: contracts.OutcomeNotFound, PartnerCode: r.code(), FailureMessage: a.describe(r)}
	}
	if r.verdict() != verdictAccepted {
		return a.unknownPayment(r)
	}
	res := a.paymentResult(r, ref.Flow, "")
	if res.PartnerActionRef == "" {
		res.PartnerActionRef = ref.PartnerActionRef
	}
	return res
}

// queryPayment sends the payment query of §4.3 that fits the payment's flow.
func (a *Adapter) queryPayment(ctx context.Context, ref contracts.PaymentRef) reply {
	path := "/v2/payments/" + url.PathEscape(ref.PartnerRef)
	if ref.Flow == contracts.FlowQR {
		path = "/v2/codes/payments/" + url.PathEscape(ref.PartnerRef)
	}
	return a.call(ctx, a.cfg.Timeouts.Read, http.MethodGet, path, nil, nil)
}

// notFound reports whether a payment query answered a recognised "no such payment".
func (r reply) notFound() bool {
	return r.err == nil && (r.code() == codeResourceNotFound || r.code() == codeDynamicQRPaymentNotFound) &&
		r.status >= 400 && r.status < 500
}

// paymentResult reads the answer of a create payment or a payment query.
func (a *Adapter) paymentResult(r reply, flow contracts.Flow, barcode string) contracts.PaymentResult {
	switch r.verdict() {
	case verdictUnknown:
		return a.unknownPayment(r, barcode)
	case verdictRefused:
		return a.refusedPayment(r, barcode)
	}
	var p paymentObject
	if err := r.env.decodeData(&p); err != nil {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "PayPay accepted the call but its payment object is unreadable"}
	}
	res := contracts.PaymentResult{PartnerPaymentID: p.PaymentID, PartnerCode: r.code()}
	switch p.Status {
	case statusCompleted, statusRefunded:
		res.Outcome, res.PaidAt, res.AmountCaptured = contracts.OutcomeSucceeded, epoch(p.AcceptedAt), p.captured()
	case statusAuthorized, statusReauthorizing:
		res.Outcome, res.PaidAt = contracts.OutcomeAuthorized, epoch(p.AcceptedAt)
	case statusCreated:
		if flow == contracts.FlowQR {
			res.Outcome = contracts.OutcomePending
		} else {
			// A direct payment still being processed (§5, §9): not decided yet.
			res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, "PayPay is still processing the payment (status CREATED)"
		}
	case statusFailed:
		res.Outcome, res.FailureCode = contracts.OutcomeFailed, contracts.FailurePartnerRejected
		res.FailureMessage = "PayPay reports the payment FAILED (also the state after an accepted cancel)"
	case statusCanceled, statusExpired:
		res.Outcome, res.FailureMessage = contracts.OutcomeCanceled, "PayPay reports the payment "+p.Status
	default:
		res.Outcome = contracts.OutcomeUnknown
		res.FailureMessage = a.redact("PayPay reports an unrecognised payment status "+truncate(p.Status, 40), barcode)
	}
	return res
}

// unknownPayment is a payment answer payhub cannot be sure of.
func (a *Adapter) unknownPayment(r reply, hide ...string) contracts.PaymentResult {
	return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: a.describe(r, hide...)}
}

// refusedPayment is a definite refusal, with payhub's failure code for it.
func (a *Adapter) refusedPayment(r reply, hide ...string) contracts.PaymentResult {
	return contracts.PaymentResult{
		Outcome: contracts.OutcomeFailed, PartnerCode: r.code(),
		FailureCode: paymentFailureCode(r.code()), FailureMessage: a.describe(r, hide...),
	}
}

// paymentFailureCode maps PayPay's refusal codes to payhub's failure codes.
func paymentFailureCode(code string) string {
	switch code {
	case codeNoSufficientFund:
		return contracts.FailureInsufficientFunds
	case codeUserStateIsNotActive:
		return contracts.FailureUserNotActive
	case codeExpiredUserAuthorizationID, codeExpiredAuthorizationCode:
		return contracts.FailureExpired
	case codeInvalidAuthorizationCode:
		return contracts.FailureBarcodeInvalid
	case codeSuspectedDuplicatePayment:
		return contracts.FailureDuplicateSuspected
	default:
		return contracts.FailurePartnerRejected
	}
}

// truncate shortens s to at most n runes.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
