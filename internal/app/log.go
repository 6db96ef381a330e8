package app

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"payhub/contracts"
)

// sensitiveKeys are log attribute names whose values never reach a log.
var sensitiveKeys = []string{"authorization", "token", "secret", "password", "api_key", "apikey", "barcode", "authorization_code", "signature"}

// redact is the one slog ReplaceAttr redactor (docs/security.md §13).
func redact(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range sensitiveKeys {
		if strings.Contains(k, s) {
			return slog.String(a.Key, "***")
		}
	}
	return a
}

// NewLogger is payhub's JSON logger on w, with sensitive attributes redacted. A line logged
// with the context of an API request's work carries its request_id.
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(requestIDHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: redact})})
}

// requestIDHandler adds the request id of the context (contracts.RequestID) to every line.
type requestIDHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := contracts.RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
