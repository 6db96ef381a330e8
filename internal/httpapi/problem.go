package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
)

// problemTitles are the human titles of the stable problem codes.
var problemTitles = map[contracts.ErrorCode]string{
	contracts.CodeInvalidRequest:        "Invalid request",
	contracts.CodeIdempotencyKeyMissing: "Idempotency-Key missing",
	contracts.CodeIdempotencyKeyInvalid: "Idempotency-Key invalid",
	contracts.CodeInvalidCursor:         "Invalid cursor",
	contracts.CodeAPIVersionUnsupported: "API version unsupported",
	contracts.CodeUnauthenticated:       "Unauthenticated",
	contracts.CodeStoreNotGranted:       "Store not granted",
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
}

type problemField struct {
	Pointer string `json:"pointer"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// renderProblem renders e; the request id comes from ctx when the request set one.
func renderProblem(ctx context.Context, e *contracts.Error) []byte {
	p := problem{Type: "urn:payhub:problem:" + string(e.Code), Title: problemTitles[e.Code], Status: e.Status,
		Detail: e.Detail, Code: string(e.Code), RequestID: requestIDFrom(ctx), Errors: []problemField{}}
	if p.Title == "" {
		p.Title = http.StatusText(e.Status)
	}
	if e.Pointer != "" {
		p.Errors = append(p.Errors, problemField{Pointer: e.Pointer, Code: string(e.Code), Message: e.Detail})
	}
	body, _ := json.Marshal(p)
	return body
}

// writeProblem answers the request with e as application/problem+json.
func writeProblem(c *gin.Context, e *contracts.Error) {
	switch e.Status {
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		c.Header("Retry-After", strconv.Itoa(1))
	}
	c.Data(e.Status, "application/problem+json", renderProblem(c.Request.Context(), e))
	c.Abort()
}

// writeError answers with err's problem when it is a refusal, else with a 500 that says
// nothing of the cause (the log does).
func (s *Server) writeError(c *gin.Context, err error) {
	if e, ok := contracts.AsError(err); ok {
		writeProblem(c, e)
		return
	}
	s.log.ErrorContext(c.Request.Context(), "request failed", "err", err)
	writeProblem(c, &contracts.Error{Code: contracts.CodeInternalError, Status: http.StatusInternalServerError,
		Detail: "Something went wrong inside payhub; the request id helps support find it."})
}

func notFound() *contracts.Error {
	return &contracts.Error{Code: contracts.CodeNotFound, Status: http.StatusNotFound, Detail: "No such resource."}
}
