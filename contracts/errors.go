package contracts

import (
	"errors"
	"fmt"
	"time"
)

// ErrorCode is a stable, machine-readable problem code (docs/api.md §5). Codes are
// never renamed; they are listed in contracts/openapi.yaml.
type ErrorCode string

// Problem codes of the store API.
const (
	// CodeInvalidRequest: malformed JSON, unknown field, duplicate key or schema violation.
	CodeInvalidRequest ErrorCode = "invalid_request"
	// CodeIdempotencyKeyMissing: a POST without Idempotency-Key.
	CodeIdempotencyKeyMissing ErrorCode = "idempotency_key_missing"
	// CodeIdempotencyKeyInvalid: an empty, too long or non-printable Idempotency-Key.
	CodeIdempotencyKeyInvalid ErrorCode = "idempotency_key_invalid"
	// CodeInvalidCursor: a cursor that is malformed or was made for other filters.
	CodeInvalidCursor ErrorCode = "invalid_cursor"
	// CodeAPIVersionUnsupported: an API-Version header naming no known version.
	CodeAPIVersionUnsupported ErrorCode = "api_version_unsupported"
	// CodeUnauthenticated: token missing, invalid or expired.
	CodeUnauthenticated ErrorCode = "unauthenticated"
	// CodeStoreNotGranted: the token's store is not one of the client's stores.
	CodeStoreNotGranted ErrorCode = "store_not_granted"
	// CodeIPNotAllowed: the request's source address is outside the store client's CIDR
	// allowlist (docs/security.md §6).
	CodeIPNotAllowed ErrorCode = "ip_not_allowed"
	// CodeForbidden: the caller's role does not allow the operation.
	CodeForbidden ErrorCode = "forbidden"
	// CodeNotFound: unknown id, malformed id, or another store's object.
	CodeNotFound ErrorCode = "not_found"
	// CodeIdempotencyKeyInUse: the key's first request is still running.
	CodeIdempotencyKeyInUse ErrorCode = "idempotency_key_in_use"
	// CodeInvalidState: the operation is not allowed in the object's current status.
	CodeInvalidState ErrorCode = "invalid_state"
	// CodeCancelWindowPassed: the partner's cancel window is over; refund instead.
	CodeCancelWindowPassed ErrorCode = "cancel_window_passed"
	// CodeBodyTooLarge: the request body is over the limit.
	CodeBodyTooLarge ErrorCode = "body_too_large"
	// CodeUnsupportedMediaType: a body that is not application/json.
	CodeUnsupportedMediaType ErrorCode = "unsupported_media_type"
	// CodeIdempotencyKeyReused: the key was used before with a different request.
	CodeIdempotencyKeyReused ErrorCode = "idempotency_key_reused"
	// CodeRefundExceedsCaptured: the refund would take the refunds past the captured amount.
	CodeRefundExceedsCaptured ErrorCode = "refund_exceeds_captured"
	// CodeAmountOutOfRange: the amount is not positive or over the method's limit.
	CodeAmountOutOfRange ErrorCode = "amount_out_of_range"
	// CodeCurrencyNotSupported: the method does not take this currency.
	CodeCurrencyNotSupported ErrorCode = "currency_not_supported"
	// CodeMethodNotSupported: the method or flow is not offered.
	CodeMethodNotSupported ErrorCode = "method_not_supported"
	// CodeUnsupportedBarcode: a scanned code whose provider prefix payhub does not know.
	CodeUnsupportedBarcode ErrorCode = "unsupported_barcode"
	// CodeCardDataNotAccepted: the request carries something that looks like a card number
	// or security code; payhub takes card tokens only and never keeps such data.
	CodeCardDataNotAccepted ErrorCode = "card_data_not_accepted"
	// CodeRateLimited: too many requests.
	CodeRateLimited ErrorCode = "rate_limited"
	// CodeInternalError: a fault inside payhub.
	CodeInternalError ErrorCode = "internal_error"
	// CodePartnerUnavailable: the partner cannot be reached right now; nothing was done.
	CodePartnerUnavailable ErrorCode = "partner_unavailable"
	// CodeLimitExceeded: the request would take the store past a limit payhub sets: a
	// velocity or amount limit (429 with Retry-After and the limit, docs/security.md §5) or
	// a fixed bound such as webhook endpoints per store (422); nothing was done.
	CodeLimitExceeded ErrorCode = "limit_exceeded"
	// CodeServiceUnavailable: payhub cannot take requests right now (it is starting and its
	// database is not reachable yet, or it is at capacity); nothing was done.
	CodeServiceUnavailable ErrorCode = "service_unavailable"
	// CodeOperationDisabled: a kill switch stops this operation for this scope right now
	// (docs/security.md §4); the detail is the switch's public reason. Nothing was done and
	// the Idempotency-Key is not used up: retry with it once the switch is lifted.
	CodeOperationDisabled ErrorCode = "operation_disabled"
	// CodeControlsUnavailable: this payhub instance could not read the kill switches
	// recently enough to trust them, so it refuses money-moving operations (fail closed);
	// nothing was done.
	CodeControlsUnavailable ErrorCode = "controls_unavailable"
)

// Payment and refund failure codes (on failed objects, not HTTP errors).
const (
	// FailureInsufficientFunds: the customer's balance or limit is too low.
	FailureInsufficientFunds = "insufficient_funds"
	// FailureExpired: the code, authorization or QR expired.
	FailureExpired = "expired"
	// FailureBarcodeInvalid: the scanned code is malformed, unknown or already used.
	FailureBarcodeInvalid = "barcode_invalid"
	// FailureUserNotActive: the customer's partner account cannot pay.
	FailureUserNotActive = "user_not_active"
	// FailureDuplicateSuspected: the partner suspects a duplicate of a recent payment.
	FailureDuplicateSuspected = "duplicate_suspected"
	// FailurePartnerRejected: the partner refused for another reason.
	FailurePartnerRejected = "partner_rejected"
	// FailurePartnerUnavailable: the partner was not answering reliably; nothing was sent.
	FailurePartnerUnavailable = "partner_unavailable"
	// FailureAuthenticationFailed: the customer did not authenticate.
	FailureAuthenticationFailed = "authentication_failed"
	// FailureCardDeclined: the card issuer declined the card (another card may work).
	FailureCardDeclined = "card_declined"
	// FailureCardTokenInvalid: the card token is unknown, used or expired; the customer's
	// browser must tokenize the card again.
	FailureCardTokenInvalid = "card_token_invalid"
)

// Error is a refusal with a stable code. The HTTP layer renders it as
// application/problem+json, with the status its code maps to (internal/render).
type Error struct {
	// Code is the stable problem code.
	Code ErrorCode
	// Detail is a human-readable explanation; it never contains secrets.
	Detail string
	// Pointer is the JSON pointer of the offending field, if any.
	Pointer string
	// Unacceptable marks an invalid_request whose request is well formed but asks for
	// something payhub will not do (a webhook URL it refuses to call, a range too long):
	// unprocessable rather than malformed.
	Unacceptable bool
	// RetryAfter, when positive, is when the same request may succeed (the Retry-After
	// header).
	RetryAfter time.Duration
	// Limit names the velocity or amount limit a limit_exceeded refusal hit (docs/security.md
	// §5); such a refusal is a 429.
	Limit *LimitBreach
}

// LimitBreach is the limit a request would have passed, as the refusal tells the store.
type LimitBreach struct {
	// RuleID is the limit rule's id.
	RuleID string `json:"rule_id"`
	// Subject is what the rule counts per (store, terminal, client, instrument).
	Subject string `json:"subject"`
	// Operation is the operation it caps.
	Operation string `json:"operation"`
	// WindowSeconds is its sliding window.
	WindowSeconds int64 `json:"window_seconds"`
	// MaxCount and MaxAmount are its caps (0: none), MaxAmount in minor units of Currency.
	MaxCount  int64  `json:"max_count"`
	MaxAmount int64  `json:"max_amount"`
	Currency  string `json:"currency,omitempty"`
}

// Error implements error.
func (e *Error) Error() string {
	if e.Detail == "" {
		return string(e.Code)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Detail)
}

// Errorf builds an *Error with a formatted detail.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Sentinel errors shared by Store implementations.
var (
	// ErrNotFound: no such object (in the caller's store).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness rule was violated (e.g. an id or key that exists).
	ErrConflict = errors.New("conflict")
	// ErrInvalidTransition: a write would break the transition table.
	ErrInvalidTransition = errors.New("invalid status transition")
	// ErrStaleWrite: the object changed since it was read (optimistic concurrency).
	ErrStaleWrite = errors.New("stale write")
	// ErrSequenceExhausted: a terminal has used every sequence number of its business
	// date (Tx.AllocateSequence).
	ErrSequenceExhausted = errors.New("sequence numbers exhausted")
	// ErrIdempotencyKeyTaken: another request claimed or answered the Idempotency-Key
	// first (Tx.ClaimIdempotencyIntent, Tx.AnswerIdempotency); the transaction must roll
	// back and the request be answered from the key's record.
	ErrIdempotencyKeyTaken = errors.New("idempotency key taken")
)
