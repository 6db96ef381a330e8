package nanaco

import (
	"encoding/json"
	"net/http"
)

// Error codes (docs/partners/nanaco.md §B7).
const (
	CodeInvalidRequest          = "INVALID_REQUEST"
	CodeAmountInvalid           = "AMOUNT_INVALID"
	CodeAmountNotMultipleOf1000 = "AMOUNT_NOT_MULTIPLE_OF_1000"
	CodeBusinessDateInvalid     = "BUSINESS_DATE_INVALID"
	CodeAuthFailed              = "AUTH_FAILED"
	CodeSignatureInvalid        = "SIGNATURE_INVALID"
	CodeTimestampSkew           = "TIMESTAMP_SKEW"
	CodeNonceReused             = "NONCE_REUSED"
	CodeTerminalNotAllowed      = "TERMINAL_NOT_ALLOWED"
	CodeCardNotFound            = "CARD_NOT_FOUND"
	CodeTxnNotFound             = "TXN_NOT_FOUND"
	CodeSeqReused               = "SEQ_REUSED"
	CodeSeqFenced               = "SEQ_FENCED"
	CodeAlreadyCancelled        = "ALREADY_CANCELLED"
	CodeAlreadyRefunded         = "ALREADY_REFUNDED"
	CodeAlreadyMigrated         = "ALREADY_MIGRATED"
	CodeInsufficientBalance     = "INSUFFICIENT_BALANCE"
	CodeBalanceCapExceeded      = "BALANCE_CAP_EXCEEDED"
	CodeCapExceeded             = "CAP_EXCEEDED"
	CodeCardSuspended           = "CARD_SUSPENDED"
	CodeCardLost                = "CARD_LOST"
	CodeCardMigrated            = "CARD_MIGRATED"
	CodeCardClosed              = "CARD_CLOSED"
	CodeCancelWindowExpired     = "CANCEL_WINDOW_EXPIRED"
	CodeCancelNotSupported      = "CANCEL_NOT_SUPPORTED"
	CodeTerminalMismatch        = "TERMINAL_MISMATCH"
	CodeRefundExceedsOriginal   = "REFUND_EXCEEDS_ORIGINAL"
	CodeRefundWindowExpired     = "REFUND_WINDOW_EXPIRED"
	CodeChargeLimitExceeded     = "CHARGE_LIMIT_EXCEEDED"
	CodeRateLimited             = "RATE_LIMITED"
	CodeCenterMaintenance       = "CENTER_MAINTENANCE"
	CodeInternal                = "INTERNAL"
	CodeUpstreamTimeout         = "UPSTREAM_TIMEOUT"
)

// Outcomes of an error answer (§B6, §B7).
const (
	OutcomeNotProcessed = "NOT_PROCESSED"
	OutcomeUnknown      = "UNKNOWN"
)

// codeStatus is each code's HTTP status (§B7).
var codeStatus = map[string]int{
	CodeInvalidRequest: 400, CodeAmountInvalid: 400, CodeAmountNotMultipleOf1000: 400, CodeBusinessDateInvalid: 400,
	CodeAuthFailed: 401, CodeSignatureInvalid: 401, CodeTimestampSkew: 401, CodeNonceReused: 401,
	CodeTerminalNotAllowed: 403,
	CodeCardNotFound:       404, CodeTxnNotFound: 404,
	CodeSeqReused: 409, CodeSeqFenced: 409, CodeAlreadyCancelled: 409, CodeAlreadyRefunded: 409, CodeAlreadyMigrated: 409,
	CodeInsufficientBalance: 422, CodeBalanceCapExceeded: 422, CodeCapExceeded: 422,
	CodeCardSuspended: 422, CodeCardLost: 422, CodeCardMigrated: 422, CodeCardClosed: 422,
	CodeCancelWindowExpired: 422, CodeCancelNotSupported: 422, CodeTerminalMismatch: 422,
	CodeRefundExceedsOriginal: 422, CodeRefundWindowExpired: 422, CodeChargeLimitExceeded: 422,
	CodeRateLimited: 429, CodeCenterMaintenance: 503,
	CodeInternal: 500, CodeUpstreamTimeout: 504,
}

// apiError is a refusal: the HTTP status comes from the code.
type apiError struct {
	code    string
	message string
	details map[string]any
}

func fail(code, message string) *apiError { return &apiError{code: code, message: message} }

// with adds a detail.
func (e *apiError) with(key string, value any) *apiError {
	if e.details == nil {
		e.details = map[string]any{}
	}
	e.details[key] = value
	return e
}

// errorBody is the wire form {"error":{"code","message","retryable","outcome","details"}}.
type errorBody struct {
	Error errorInfo `json:"error"`
}

type errorInfo struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	Retryable bool           `json:"retryable"`
	Outcome   string         `json:"outcome"`
	Details   map[string]any `json:"details"`
}

// statusOf is the HTTP status of code; unknown codes are 500.
func statusOf(code string) int {
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// render is an error's status and body. 5xx other than 503 have an UNKNOWN outcome (§B6);
// 429 and 503 are retryable as they are, the unknown ones by an identical re-send or an
// inquiry (§B7).
func renderError(status int, code, message string, details map[string]any) []byte {
	if details == nil {
		details = map[string]any{}
	}
	info := errorInfo{Code: code, Message: message, Outcome: OutcomeNotProcessed, Details: details}
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		info.Retryable = true
	case status >= 500:
		info.Retryable, info.Outcome = true, OutcomeUnknown
	}
	body, _ := json.Marshal(errorBody{Error: info})
	return body
}

func (e *apiError) status() int { return statusOf(e.code) }

func (e *apiError) body() []byte { return renderError(e.status(), e.code, e.message, e.details) }
