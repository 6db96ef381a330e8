package contracts

import "context"

// requestIDKey is the context key of the API request id.
type requestIDKey struct{}

// WithRequestID returns ctx carrying id, the id of the API request whose work ctx does. The
// HTTP layer sets it; every log line of the request's work, from the router through the
// engine to the partner adapters, carries it (the logger reads it from the context), so
// support can follow one till's request end to end.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the id of the API request whose work ctx does, or "" outside a request (the
// resolver, the poller and the other background jobs).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
