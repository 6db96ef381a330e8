package paypay

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
)

// Result codes payhub branches on (docs/partners/paypay.md §3, §4, §6, §11).
const (
	codeSuccess                    = "SUCCESS"
	codeRequestAccepted            = "REQUEST_ACCEPTED"
	codeInvalidParams              = "INVALID_PARAMS"
	codeResourceNotFound           = "RESOURCE_NOT_FOUND"
	codeTransactionFailed          = "TRANSACTION_FAILED"
	codeNoSufficientFund           = "NO_SUFFICIENT_FUND"
	codeUserStateIsNotActive       = "USER_STATE_IS_NOT_ACTIVE"
	codeExpiredUserAuthorizationID = "EXPIRED_USER_AUTHORIZATION_ID"
	codeExpiredAuthorizationCode   = "EXPIRED_AUTHORIZATION_CODE"
	codeInvalidAuthorizationCode   = "INVALID_AUTHORIZATION_CODE"
	codeSuspectedDuplicatePayment  = "SUSPECTED_DUPLICATE_PAYMENT"
	codeOrderNotReversible         = "ORDER_NOT_REVERSIBLE"
	codeDynamicQRNotFound          = "DYNAMIC_QR_NOT_FOUND"
	codeDynamicQRPaymentNotFound   = "DYNAMIC_QR_PAYMENT_NOT_FOUND"
	codeDuplicateDynamicQRRequest  = "DUPLICATE_DYNAMIC_QR_REQUEST"
	codeIDInvalidRefundAmount      = "00200015"
	codeUserConfirmationRequired   = "USER_CONFIRMATION_REQUIRED"
	codeAlreadyCaptured            = "ALREADY_CAPTURED"
	codeOrderNotCapturable         = "ORDER_NOT_CAPTURABLE"
	codeOrderExpired               = "ORDER_EXPIRED"
	codeOrderNotCancelable         = "ORDER_NOT_CANCELABLE"
)

// definiteCodes are the 4xx result codes of docs/partners/paypay.md §4, §6 and §11 that mean "refused,
// nothing moved". A 4xx code outside this set is not recognised, and on a call that moves
// money an unrecognised code is unknown, never a failure or a success.
var definiteCodes = map[string]bool{
	// general (§6)
	"INVALID_REQUEST_PARAMS": true, "MISSING_REQUEST_PARAMS": true, codeInvalidParams: true,
	"UNAUTHORIZED": true, "OP_OUT_OF_SCOPE": true,
	"INVALID_USER_AUTHORIZATION_ID": true, codeExpiredUserAuthorizationID: true,
	codeUserStateIsNotActive: true, codeResourceNotFound: true,
	// create payment (§4.4) and the barcode stand-in (§11)
	codeNoSufficientFund: true, "CANCELED_USER": true, "UNSUPPORTED_PAYMENT_METHOD": true,
	"UNACCEPTABLE_OP": true, codeSuspectedDuplicatePayment: true, "NO_VALID_PAYMENT_METHOD": true,
	"PAYMENT_METHOD_NOT_FOUND": true, codeInvalidAuthorizationCode: true,
	codeExpiredAuthorizationCode: true,
	// dynamic QR (§4.1–4.3)
	"DYNAMIC_QR_BAD_REQUEST": true, codeDynamicQRNotFound: true, "DYNAMIC_QR_ALREADY_PAID": true,
	codeDynamicQRPaymentNotFound: true,
	// cancel (§4.5) and pre-auth (§4.6)
	codeOrderNotReversible: true, "ORDER_NO_LONGER_AVAILABLE": true, codeAlreadyCaptured: true,
	codeOrderNotCapturable: true, codeOrderExpired: true, "HIGHER_CAPTURE_NOT_PERMITTED": true,
	"REAUTHORIZATION_IN_PROGRESS": true, codeOrderNotCancelable: true,
	// refunds (§4.7)
	"REFUND_WINDOW_EXCEED": true, "REFUND_LIMIT_EXCEEDED": true,
	"THROTTLED_MULTIPLE_REFUND_REJECTED": true, "MERCHANT_MULTIPLE_REFUND_REJECTED": true,
	"NO_SUCH_REFUND_ORDER": true,
}

// resultInfo is the envelope's verdict (docs/partners/paypay.md §3).
type resultInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	CodeID  string `json:"codeId"`
}

// envelope is every PayPay response body. Data stays raw until the operation knows its shape.
type envelope struct {
	ResultInfo resultInfo      `json:"resultInfo"`
	Data       json.RawMessage `json:"data"`
}

// errUnreadable marks a response body that is not a PayPay envelope.
var errUnreadable = errors.New("unreadable PayPay response")

// parseEnvelope decodes a response body. A body without resultInfo.code is unreadable: the
// verdict is in the code and nowhere else.
func parseEnvelope(body []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return envelope{}, errUnreadable
	}
	if env.ResultInfo.Code == "" {
		return envelope{}, errUnreadable
	}
	if bytes.Equal(bytes.TrimSpace(env.Data), []byte("null")) {
		env.Data = nil
	}
	return env, nil
}

// decodeData decodes the envelope's data into v. Missing data is an error: an accepted
// answer without the object it promises cannot be acted on.
func (e envelope) decodeData(v any) error {
	if len(e.Data) == 0 {
		return errUnreadable
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return errUnreadable
	}
	return nil
}

// verdict is how payhub reads one PayPay answer (docs/partners/paypay.md §6).
type verdict int

const (
	// verdictUnknown: PayPay may or may not have acted.
	verdictUnknown verdict = iota
	// verdictAccepted: a 2xx with SUCCESS or REQUEST_ACCEPTED.
	verdictAccepted
	// verdictRefused: a recognised refusal; nothing moved.
	verdictRefused
)

// classify reads an HTTP status and result code the way §6 does. It branches on the code,
// guarded by the status class: an error code on a 2xx, a refusal code on a 5xx other than
// TRANSACTION_FAILED, any 429 and any unrecognised code are unknown.
func classify(status int, code string) verdict {
	switch {
	case status >= 200 && status < 300:
		if code == codeSuccess || code == codeRequestAccepted {
			return verdictAccepted
		}
		return verdictUnknown
	case status == http.StatusTooManyRequests:
		return verdictUnknown
	case status >= 400 && status < 500:
		if definiteCodes[code] {
			return verdictRefused
		}
		return verdictUnknown
	case status == http.StatusInternalServerError && code == codeTransactionFailed:
		return verdictRefused
	default:
		return verdictUnknown
	}
}

// money is PayPay's amount object. Amounts are integers; a fractional amount does not decode.
type money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// paymentObject is the part of PayPay's payment object payhub reads (§4.3).
type paymentObject struct {
	PaymentID         string `json:"paymentId"`
	Status            string `json:"status"`
	AcceptedAt        int64  `json:"acceptedAt"`
	MerchantPaymentID string `json:"merchantPaymentId"`
	Amount            money  `json:"amount"`
	Captures          struct {
		Data []captureObject `json:"data"`
	} `json:"captures"`
}

// captured is what a completed payment took: the sum of its captures for a captured
// pre-authorization (whose amount stays the authorized one, §4.6), else its amount.
func (p paymentObject) captured() int64 {
	if len(p.Captures.Data) == 0 {
		return p.Amount.Amount
	}
	var sum int64
	for _, c := range p.Captures.Data {
		sum += c.Amount.Amount
	}
	return sum
}

// capture is the payment's capture with merchantCaptureId id, or nil.
func (p paymentObject) capture(id string) *captureObject {
	for i := range p.Captures.Data {
		if p.Captures.Data[i].MerchantCaptureID == id {
			return &p.Captures.Data[i]
		}
	}
	return nil
}

// captureObject is one entry of a payment's captures.data (§4.3, §4.6).
type captureObject struct {
	MerchantCaptureID string `json:"merchantCaptureId"`
	Status            string `json:"status"`
	AcceptedAt        int64  `json:"acceptedAt"`
	Amount            money  `json:"amount"`
}

// revertObject is the data of an accepted revert (§4.6).
type revertObject struct {
	Status     string `json:"status"`
	PaymentID  string `json:"paymentId"`
	AcceptedAt int64  `json:"acceptedAt"`
}

// qrCode is the data of a created dynamic QR code (§4.1).
type qrCode struct {
	CodeID            string `json:"codeId"`
	URL               string `json:"url"`
	Deeplink          string `json:"deeplink"`
	ExpiryDate        int64  `json:"expiryDate"`
	MerchantPaymentID string `json:"merchantPaymentId"`
}

// refundObject is the data of a refund answer (§4.7).
type refundObject struct {
	Status           string `json:"status"`
	AcceptedAt       int64  `json:"acceptedAt"`
	MerchantRefundID string `json:"merchantRefundId"`
	PaymentID        string `json:"paymentId"`
	Amount           money  `json:"amount"`
}
