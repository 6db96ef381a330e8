// Package policy is what store notifications ask of the store beyond
// contracts.WebhookStore: fair leases, each endpoint's circuit, and the number of endpoints a
// store may have (docs/api.md §8.4, §8.6).
//
// The deliverer and the engine put a policy on the context of the store call it concerns
// (LeaseDeliveries, FinishDelivery, CreateWebhookEndpoint), so it passes unchanged through
// any wrapper of the store (the one that seals signing secrets, for one). A store that finds
// none behaves as contracts.WebhookStore documents: leases oldest due first, no circuit, no
// endpoint limit. internal/store honours all three.
package policy

import (
	"context"
	"errors"
	"time"
)

// Lease bounds the sends in flight, counted over every deliverer sharing the database: a
// lease takes a due delivery only while its endpoint has fewer than PerEndpoint (one while
// its circuit is half-open) and its store fewer than PerStore leased, takes nothing of an
// endpoint whose circuit is open, and takes round-robin across stores, each store's endpoints
// in turn, so that one store cannot hold every deliverer's workers.
type Lease struct {
	// PerEndpoint and PerStore are the in-flight bounds; each at least 1.
	PerEndpoint, PerStore int
}

// Circuit is each endpoint's circuit breaker: Failures consecutive failed sends open it for
// Open, doubled at each further failure up to MaxOpen; while open its deliveries wait (they
// are not sent, nor counted as attempts); then one trial send goes (the delivery that failed
// most, so a dead endpoint still runs out its schedule and gets disabled); a success closes
// it. The state is kept with the endpoint, so every deliverer agrees.
type Circuit struct {
	Failures      int
	Open, MaxOpen time.Duration
}

// OpenFor is how long the circuit stays open after failures consecutive failures (at
// least Failures).
func (c Circuit) OpenFor(failures int) time.Duration {
	d := c.Open
	for i := c.Failures; i < failures && d < c.MaxOpen; i++ {
		d *= 2
	}
	return min(d, c.MaxOpen)
}

// ErrTooManyEndpoints is what CreateWebhookEndpoint answers when the store already has
// MaxEndpoints endpoints; nothing is written.
var ErrTooManyEndpoints = errors.New("the store has as many webhook endpoints as it may")

type key int

const (
	leaseKey key = iota
	circuitKey
	maxEndpointsKey
)

// WithLease asks LeaseDeliveries for a fair lease bounded by l.
func WithLease(ctx context.Context, l Lease) context.Context {
	return context.WithValue(ctx, leaseKey, l)
}

// LeaseFrom returns the lease policy on ctx, if any.
func LeaseFrom(ctx context.Context) (Lease, bool) {
	l, ok := ctx.Value(leaseKey).(Lease)
	return l, ok && l.PerEndpoint > 0 && l.PerStore > 0
}

// WithCircuit asks FinishDelivery to count a failed send towards c (a success always
// closes the endpoint's circuit).
func WithCircuit(ctx context.Context, c Circuit) context.Context {
	return context.WithValue(ctx, circuitKey, c)
}

// CircuitFrom returns the circuit policy on ctx, if any.
func CircuitFrom(ctx context.Context) (Circuit, bool) {
	c, ok := ctx.Value(circuitKey).(Circuit)
	return c, ok && c.Failures > 0 && c.Open > 0 && c.MaxOpen >= c.Open
}

// WithMaxEndpoints asks CreateWebhookEndpoint to refuse, with ErrTooManyEndpoints, a
// store's endpoint beyond n.
func WithMaxEndpoints(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, maxEndpointsKey, n)
}

// MaxEndpointsFrom returns the endpoint limit on ctx, if any.
func MaxEndpointsFrom(ctx context.Context) (int, bool) {
	n, ok := ctx.Value(maxEndpointsKey).(int)
	return n, ok && n > 0
}
