// Package render is the API's representation of payhub's domain: payments, refunds,
// webhook endpoints and redeliveries as the contract's JSON objects (contracts/api),
// refusals as RFC 9457 problem documents, and the one table from answers and error codes
// to HTTP statuses. The HTTP layer answers with it, and the engine renders with it the
// answers it stores with Idempotency-Keys and the payloads of its events, so that a
// replay and a store notification carry byte for byte what the API shows.
package render

import (
	"context"
	"encoding/json"
	"net/http"

	"payhub/contracts"
	"payhub/contracts/api"
)

// Payment renders p as an api.Payment.
func Payment(p contracts.Payment) []byte {
	b, _ := json.Marshal(APIPayment(p))
	return b
}

// Refund renders r as an api.Refund.
func Refund(r contracts.Refund) []byte {
	b, _ := json.Marshal(APIRefund(r))
	return b
}

// Optional is s as an optional JSON field: absent when empty.
func Optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// APIPayment is p as the contract's Payment object.
func APIPayment(p contracts.Payment) api.Payment {
	out := api.Payment{
		Object: api.PaymentObjectPayment, Id: p.ID, Status: api.PaymentStatus(p.Status),
		Amount: p.Amount.Amount, Currency: string(p.Amount.Currency), AmountRefunded: p.AmountRefunded,
		AmountCaptured: p.AmountCaptured, CaptureMethod: api.CaptureMethod(p.CaptureMethod),
		Method: api.PaymentMethod(p.Method), Flow: api.PaymentFlow(p.Flow), StoreId: p.StoreID,
		TerminalId: Optional(p.TerminalID), OrderId: Optional(p.OrderID),
		FailureCode: Optional(p.FailureCode), FailureMessage: Optional(p.FailureMessage),
		PartnerCode: Optional(p.PartnerCode), PartnerReference: Optional(p.PartnerPaymentID), CancelRequested: p.CancelRequested,
		CancellationReason: Optional(p.CancellationReason), PaidAt: p.PaidAt,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if len(p.Metadata) > 0 {
		m := api.Metadata(p.Metadata)
		out.Metadata = &m
	}
	if p.CaptureMethod != contracts.CaptureManual && p.AmountCaptured > 0 && p.AmountCaptured < p.Amount.Amount {
		// An automatic payment takes less than its amount only as a split tender.
		received := p.AmountCaptured
		out.AmountReceived = &received
	}
	if p.Status == contracts.StatusUnknown {
		out.Resolution = &api.Resolution{State: api.Resolving,
			Message: "The partner's answer did not arrive. Do not charge the customer again by any method; payhub settles it and the result follows."}
		if p.Resolution.NeedsAttention {
			out.Resolution.State = api.NeedsAttention
			out.Resolution.Message = "payhub could not settle this payment with the partner; an operator will. Do not charge the customer again."
		}
	}
	if na := p.NextAction; na != nil && p.Status == contracts.StatusRequiresAction {
		out.NextAction = &api.NextAction{Type: api.NextActionType(na.Type), QrCodeUrl: Optional(na.QRCodeURL),
			Deeplink: Optional(na.Deeplink), RedirectUrl: Optional(na.RedirectURL), ExpiresAt: na.ExpiresAt}
	}
	if c := p.Card; c != nil {
		out.Card = &api.CardDetails{Brand: Optional(c.Brand), Last4: Optional(c.Last4), Expiry: Optional(c.Expiry)}
	}
	return out
}

// refundReference is the partner's own id for a refund, for reconciliation with its
// records: LINE Pay's refundTransactionId, GMO-PG's TranID of the return; PayPay names a
// refund by the merchantRefundId payhub gave it (the refund's PartnerRef).
func refundReference(r contracts.Refund) string {
	if r.PartnerRefundID != "" {
		return r.PartnerRefundID
	}
	return r.PartnerRef
}

// APIRefund is r as the contract's Refund object.
func APIRefund(r contracts.Refund) api.Refund {
	return api.Refund{
		Object: api.RefundObjectRefund, Id: r.ID, PaymentId: r.PaymentID, Amount: r.Amount.Amount,
		Currency: string(r.Amount.Currency), Status: api.RefundStatus(r.Status), Reason: Optional(r.Reason),
		FailureCode: Optional(r.FailureCode), FailureMessage: Optional(r.FailureMessage),
		PartnerCode: Optional(r.PartnerCode), PartnerReference: Optional(refundReference(r)),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// WebhookEndpoint renders an endpoint as api.WebhookEndpoint, or as
// api.WebhookEndpointWithSecret when secret is set (create and rotate only).
func WebhookEndpoint(e contracts.WebhookEndpoint, secret string) []byte {
	out := APIEndpoint(e)
	if secret == "" {
		b, _ := json.Marshal(out)
		return b
	}
	b, _ := json.Marshal(api.WebhookEndpointWithSecret{Object: api.WebhookEndpointWithSecretObject(out.Object), Id: out.Id,
		Url: out.Url, Description: out.Description, EventTypes: out.EventTypes, Status: api.WebhookEndpointWithSecretStatus(out.Status),
		DisabledReason: out.DisabledReason, CreatedAt: out.CreatedAt, UpdatedAt: out.UpdatedAt, Secret: secret})
	return b
}

// WebhookEndpointSecretWithheld renders an endpoint as api.WebhookEndpointSecretWithheld:
// the stored answer of a create or rotation, replayed without the secret the first answer
// showed (docs/security.md §13).
func WebhookEndpointSecretWithheld(e contracts.WebhookEndpoint) []byte {
	out := APIEndpoint(e)
	b, _ := json.Marshal(api.WebhookEndpointSecretWithheld{Object: api.WebhookEndpointSecretWithheldObject(out.Object), Id: out.Id,
		Url: out.Url, Description: out.Description, EventTypes: out.EventTypes, Status: api.WebhookEndpointSecretWithheldStatus(out.Status),
		DisabledReason: out.DisabledReason, CreatedAt: out.CreatedAt, UpdatedAt: out.UpdatedAt, SecretWithheld: true})
	return b
}

// Redelivery renders a queued redelivery.
func Redelivery(id string, n int) []byte {
	b, _ := json.Marshal(api.Redelivery{Object: api.RedeliveryObjectRedelivery, Id: id, Deliveries: n})
	return b
}

// APIEndpoint is e as the contract's WebhookEndpoint object.
func APIEndpoint(e contracts.WebhookEndpoint) api.WebhookEndpoint {
	types := make([]api.EventType, len(e.EventTypes))
	for i, t := range e.EventTypes {
		types[i] = api.EventType(t)
	}
	return api.WebhookEndpoint{Object: api.WebhookEndpointObjectWebhookEndpoint, Id: e.ID, Url: e.URL,
		Description: Optional(e.Description), EventTypes: types, Status: api.WebhookEndpointStatus(e.Status),
		DisabledReason: Optional(e.DisabledReason), CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
}

// problemTitles are the human titles of the stable problem codes.
var problemTitles = map[contracts.ErrorCode]string{
	contracts.CodeInvalidRequest:        "Invalid request",
	contracts.CodeIdempotencyKeyMissing: "Idempotency-Key missing",
	contracts.CodeIdempotencyKeyInvalid: "Idempotency-Key invalid",
	contracts.CodeInvalidCursor:         "Invalid cursor",
	contracts.CodeAPIVersionUnsupported: "API version unsupported",
	contracts.CodeUnauthenticated:       "Unauthenticated",
	contracts.CodeStoreNotGranted:       "Store not granted",
	contracts.CodeIPNotAllowed:          "Source address not allowed",
	contracts.CodeForbidden:             "Forbidden",
	contracts.CodeNotFound:              "Not found",
	contracts.CodeIdempotencyKeyInUse:   "Idempotency-Key in use",
	contracts.CodeInvalidState:          "Invalid state",
	contracts.CodeCancelWindowPassed:    "Cancel window passed",
	contracts.CodeBodyTooLarge:          "Body too large",
	contracts.CodeUnsupportedMediaType:  "Unsupported media type",
	contracts.CodeIdempotencyKeyReused:  "Idempotency-Key reused",
	contracts.CodeRefundExceedsCaptured: "Refund exceeds captured amount",
	contracts.CodeAmountOutOfRange:      "Amount out of range",
	contracts.CodeCurrencyNotSupported:  "Currency not supported",
	contracts.CodeMethodNotSupported:    "Method not supported",
	contracts.CodeRateLimited:           "Rate limited",
	contracts.CodeInternalError:         "Internal error",
	contracts.CodePartnerUnavailable:    "Partner unavailable",
	contracts.CodeServiceUnavailable:    "Service unavailable",
	contracts.CodeLimitExceeded:         "Limit exceeded",
	contracts.CodeOperationDisabled:     "Operation disabled",
	contracts.CodeControlsUnavailable:   "Controls unavailable",
}

// problem is an RFC 9457 problem document (docs/api.md §5).
type problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Code      string         `json:"code"`
	RequestID string         `json:"request_id"`
	Errors    []problemField `json:"errors"`
	// Limit is the velocity or amount limit a limit_exceeded refusal hit.
	Limit *contracts.LimitBreach `json:"limit,omitempty"`
}

type problemField struct {
	Pointer string `json:"pointer"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Problem renders e as an RFC 9457 problem document with e's status (ErrorStatus); the
// request id comes from ctx when a request set one (contracts.WithRequestID).
func Problem(ctx context.Context, e *contracts.Error) []byte {
	return ProblemAt(ctx, e, ErrorStatus(e))
}

// ProblemAt renders e with an HTTP status of the HTTP layer's own (405 for a method the
// path does not take).
func ProblemAt(ctx context.Context, e *contracts.Error, status int) []byte {
	p := problem{Type: "urn:payhub:problem:" + string(e.Code), Title: problemTitles[e.Code], Status: status,
		Detail: e.Detail, Code: string(e.Code), RequestID: contracts.RequestID(ctx), Errors: []problemField{}}
	if p.Title == "" {
		p.Title = http.StatusText(status)
	}
	if e.Pointer != "" {
		p.Errors = append(p.Errors, problemField{Pointer: e.Pointer, Code: string(e.Code), Message: e.Detail})
	}
	p.Limit = e.Limit
	body, _ := json.Marshal(p)
	return body
}

// errorStatus is the one table from a refusal's code to its HTTP status.
var errorStatus = map[contracts.ErrorCode]int{
	contracts.CodeInvalidRequest:        http.StatusBadRequest,
	contracts.CodeIdempotencyKeyMissing: http.StatusBadRequest,
	contracts.CodeIdempotencyKeyInvalid: http.StatusBadRequest,
	contracts.CodeInvalidCursor:         http.StatusBadRequest,
	contracts.CodeAPIVersionUnsupported: http.StatusBadRequest,
	contracts.CodeUnauthenticated:       http.StatusUnauthorized,
	contracts.CodeStoreNotGranted:       http.StatusForbidden,
	contracts.CodeIPNotAllowed:          http.StatusForbidden,
	contracts.CodeForbidden:             http.StatusForbidden,
	contracts.CodeNotFound:              http.StatusNotFound,
	contracts.CodeIdempotencyKeyInUse:   http.StatusConflict,
	contracts.CodeInvalidState:          http.StatusConflict,
	contracts.CodeCancelWindowPassed:    http.StatusConflict,
	contracts.CodeBodyTooLarge:          http.StatusRequestEntityTooLarge,
	contracts.CodeUnsupportedMediaType:  http.StatusUnsupportedMediaType,
	contracts.CodeIdempotencyKeyReused:  http.StatusUnprocessableEntity,
	contracts.CodeRefundExceedsCaptured: http.StatusUnprocessableEntity,
	contracts.CodeAmountOutOfRange:      http.StatusUnprocessableEntity,
	contracts.CodeCurrencyNotSupported:  http.StatusUnprocessableEntity,
	contracts.CodeMethodNotSupported:    http.StatusUnprocessableEntity,
	contracts.CodeUnsupportedBarcode:    http.StatusUnprocessableEntity,
	contracts.CodeCardDataNotAccepted:   http.StatusUnprocessableEntity,
	contracts.CodeRateLimited:           http.StatusTooManyRequests,
	contracts.CodeInternalError:         http.StatusInternalServerError,
	contracts.CodePartnerUnavailable:    http.StatusServiceUnavailable,
	contracts.CodeServiceUnavailable:    http.StatusServiceUnavailable,
	contracts.CodeLimitExceeded:         http.StatusUnprocessableEntity,
	// A kill switch is temporary and not the caller's fault: 503 with Retry-After, like an
	// open circuit breaker (docs/api.md §5).
	contracts.CodeOperationDisabled:   http.StatusServiceUnavailable,
	contracts.CodeControlsUnavailable: http.StatusServiceUnavailable,
}

// Status is the HTTP status of a refusal with code; an unknown code is a 500.
func Status(code contracts.ErrorCode) int {
	if s, ok := errorStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorStatus is the HTTP status of e: its code's, except that an Unacceptable
// invalid_request (well formed, but not something payhub will do) is a 422.
func ErrorStatus(e *contracts.Error) int {
	if e.Unacceptable && e.Code == contracts.CodeInvalidRequest {
		return http.StatusUnprocessableEntity
	}
	if e.Limit != nil && e.Code == contracts.CodeLimitExceeded {
		// A velocity or amount limit: the same request may pass later (Retry-After).
		return http.StatusTooManyRequests
	}
	return Status(e.Code)
}

// answerStatus are the HTTP statuses of what a command did.
var answerStatus = map[contracts.AnswerKind]int{
	contracts.AnswerCreated:  http.StatusCreated,
	contracts.AnswerDone:     http.StatusOK,
	contracts.AnswerAccepted: http.StatusAccepted,
}

// AnswerStatus is the HTTP status of a command's answer: created 201, done 200, accepted
// 202, a refusal its code's.
func AnswerStatus(a contracts.Answer) int {
	if a.Kind == contracts.AnswerRefused {
		return Status(a.Code)
	}
	if s, ok := answerStatus[a.Kind]; ok {
		return s
	}
	return http.StatusInternalServerError
}
