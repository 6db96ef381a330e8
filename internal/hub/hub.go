// Package hub is payhub's engine: it takes a store's payment commands, applies idempotency,
// routes them to the partner for the payment method, and records every state change with its
// outbox event and idempotent response in one transaction. It speaks contracts only; HTTP
// lives in internal/httpapi, persistence in internal/store, partners in adapters/.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"payhub/contracts"
	"payhub/internal/ids"
	"payhub/internal/secrets"
	"payhub/internal/webhooks"
)

// Renderer turns domain objects into the API's JSON bodies. internal/httpapi implements it;
// the hub stores the rendered bytes as the idempotent response and as event payloads, so a
// replay is byte-for-byte the first response.
type Renderer interface {
	// Payment renders a payment as the API's Payment object.
	Payment(p contracts.Payment) []byte
	// Refund renders a refund as the API's Refund object.
	Refund(r contracts.Refund) []byte
	// Problem renders a refusal as an application/problem+json body.
	Problem(ctx context.Context, e *contracts.Error) []byte
	// WebhookEndpoint renders an endpoint, with its signing secret when secret is set.
	WebhookEndpoint(e contracts.WebhookEndpoint, secret string) []byte
	// Redelivery renders a queued redelivery of n deliveries.
	Redelivery(id string, n int) []byte
}

// Config wires a Hub.
type Config struct {
	// Store is the persistence.
	Store contracts.Store
	// Partners maps each offered method to its partner adapter (the registry cmd/payhub fills).
	Partners map[contracts.Method]contracts.Partner
	// Clock tells the time.
	Clock contracts.Clock
	// IDs mints ids.
	IDs *ids.Generator
	// Render renders API bodies.
	Render Renderer
	// APIVersion is stamped on event payloads.
	APIVersion string
	// Logger receives engine logs; never secrets, tokens or barcodes.
	Logger *slog.Logger
	// Metrics records engine metrics; nil disables them.
	Metrics *Metrics
	// BarcodeRules route method auto by the scanned code's prefix; nil means
	// DefaultBarcodeRules.
	BarcodeRules []BarcodeRule
	// Breaker tunes the per-partner circuit breakers; zero means DefaultBreakerConfig.
	Breaker BreakerConfig
	// Resolver tunes the resolver; zero means DefaultResolverConfig.
	Resolver ResolverConfig
	// EndpointGuard checks webhook endpoint URLs (loopback only in demo and tests).
	EndpointGuard webhooks.Guard
	// Callbacks says which partner callbacks are accepted.
	Callbacks CallbackConfig
	// Secrets seals the partner credentials payhub keeps per payment (GMO-PG AccessID and
	// AccessPass). Nil: a partner that hands out such a credential cannot be used (its
	// payments fail to record, and the engine logs why), since it is never kept in clear.
	Secrets *secrets.Box
	// PublicURL is payhub's address as customers' browsers reach it (e.g.
	// https://pay.example.com), for the return URLs of redirect payments; empty refuses
	// flow redirect.
	PublicURL string
	// Instance tunes this process's identity among the instances sharing the database;
	// zero means DefaultInstanceConfig.
	Instance InstanceConfig
}

// Hub executes payment commands.
type Hub struct {
	store    contracts.Store
	partners map[contracts.Method]contracts.Partner
	clock    contracts.Clock
	ids      *ids.Generator
	render   Renderer
	version  string
	log      *slog.Logger
	metrics  *Metrics
	// barcodeRules route method auto.
	barcodeRules []BarcodeRule
	// breakers guard new payments per partner.
	breakers map[contracts.Method]*breaker
	// resolver tunes the resolver.
	resolver ResolverConfig
	// endpointGuard checks webhook endpoint URLs.
	endpointGuard webhooks.Guard
	// callbacks says which partner callbacks are accepted.
	callbacks CallbackConfig
	// secrets seals partner credentials; nil refuses to keep any.
	secrets *secrets.Box
	// publicURL is payhub's address for customers' browsers.
	publicURL string
	// instance is this process among those sharing the database: the owner of the
	// Idempotency-Key claims it makes.
	instance   InstanceConfig
	instanceID string
}

// New returns a Hub.
func New(cfg Config) *Hub {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = contracts.SystemClock{}
	}
	if cfg.BarcodeRules == nil {
		cfg.BarcodeRules = DefaultBarcodeRules
	}
	if cfg.Resolver == (ResolverConfig{}) {
		cfg.Resolver = DefaultResolverConfig
	}
	if cfg.Callbacks.Tolerance <= 0 {
		cfg.Callbacks.Tolerance = DefaultCallbackTolerance
	}
	if cfg.Breaker == (BreakerConfig{}) {
		cfg.Breaker = DefaultBreakerConfig
	}
	cfg.Instance = cfg.Instance.withDefaults()
	return &Hub{store: cfg.Store, partners: cfg.Partners, clock: cfg.Clock, ids: cfg.IDs,
		render: cfg.Render, version: cfg.APIVersion, log: cfg.Logger, metrics: cfg.Metrics,
		barcodeRules: cfg.BarcodeRules, breakers: newBreakers(cfg.Partners, cfg.Breaker, cfg.Metrics),
		resolver: cfg.Resolver, endpointGuard: cfg.EndpointGuard, callbacks: cfg.Callbacks,
		secrets: cfg.Secrets, publicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		instance: cfg.Instance, instanceID: cfg.IDs.New(contracts.PrefixInstance)}
}

// Caller is the authenticated store client and the one store its token acts for.
type Caller struct {
	// ClientID is the store client (scopes idempotency keys).
	ClientID string
	// StoreID is the store; every read and write is limited to it.
	StoreID string
}

// Response is an API response produced by a mutating command: stored with its idempotency
// key and replayed byte-for-byte on a retry.
type Response struct {
	// Status is the HTTP status.
	Status int
	// Body is the JSON body.
	Body []byte
	// Problem marks Body as application/problem+json.
	Problem bool
	// Replayed is true when Body is the stored first response.
	Replayed bool
}

// Idempotency identifies a mutating request for replay.
type Idempotency struct {
	// Key is the caller's Idempotency-Key.
	Key string
	// Fingerprint is the request's SHA-256 fingerprint (method, route, params, canonical body).
	Fingerprint string
}

// now returns the clock's time in UTC at microsecond precision, which both databases keep.
func (h *Hub) now() time.Time { return h.clock.Now().UTC().Truncate(time.Microsecond) }

func notFound() *contracts.Error {
	return &contracts.Error{Code: contracts.CodeNotFound, Status: http.StatusNotFound, Detail: "No such object."}
}

// storedRefusals are refusals decided after execution began: they are stored with the key
// and replayed (docs/api.md §3). Every other refusal frees the key.
var storedRefusals = map[contracts.ErrorCode]bool{
	contracts.CodeInvalidState:          true,
	contracts.CodeRefundExceedsCaptured: true,
	contracts.CodeCancelWindowPassed:    true,
}

// idempotent runs exec once per (client, key): a finished first response is replayed,
// another request under the same key answers 422. A retry of a request still running
// waits a little for its answer (awaitRequest); one whose instance died is taken over, so
// a till never waits minutes after a crash. exec stores its own response in the
// transaction that makes its state change; refusals it returns are stored here when they
// are the replayable kind and otherwise free the key.
func (h *Hub) idempotent(ctx context.Context, c Caller, idem Idempotency, exec func(ctx context.Context) (Response, error)) (Response, error) {
	rec, created, err := h.store.BeginIdempotency(ctx, contracts.IdempotencyKey{
		ClientID: c.ClientID, Key: idem.Key, Fingerprint: idem.Fingerprint, CreatedAt: h.now(), Owner: h.instanceID})
	if err != nil {
		return Response{}, fmt.Errorf("begin idempotency: %w", err)
	}
	if !created {
		resp, rerun, err := h.awaitRequest(ctx, c, idem, rec)
		if !rerun {
			return resp, err
		}
		// The request died before it reached a partner and its claim is now this
		// instance's: run it afresh.
	}
	return h.execute(ctx, c, idem, exec)
}

// execute runs a request under a claimed key and decides what the key remembers of a
// refusal or a fault.
func (h *Hub) execute(ctx context.Context, c Caller, idem Idempotency, exec func(ctx context.Context) (Response, error)) (Response, error) {
	resp, err := exec(ctx)
	if err == nil {
		return resp, nil
	}
	// The request ran into a refusal or a fault; decide what the key remembers.
	ctx = context.WithoutCancel(ctx)
	if pe, ok := contracts.AsError(err); ok && storedRefusals[pe.Code] {
		body := h.render.Problem(ctx, pe)
		if serr := h.store.InTx(ctx, func(tx contracts.Tx) error {
			return tx.CompleteIdempotency(ctx, c.ClientID, idem.Key, pe.Status, body, h.now())
		}); serr != nil {
			return Response{}, fmt.Errorf("store refusal: %w", serr)
		}
		return Response{Status: pe.Status, Body: body, Problem: true}, nil
	}
	var inFlight *partnerCalledError
	if errors.As(err, &inFlight) {
		// The partner was called but the outcome could not be recorded: the key stays in
		// use until the payment is settled, so a retry cannot charge twice.
		return Response{}, err
	}
	if aerr := h.store.AbandonIdempotency(ctx, c.ClientID, idem.Key, h.instanceID); aerr != nil {
		h.log.Error("abandon idempotency key", "err", aerr)
	}
	return Response{}, err
}

func replay(rec contracts.IdempotencyRecord, idem Idempotency) (Response, error) {
	if rec.Fingerprint != idem.Fingerprint {
		return Response{}, &contracts.Error{Code: contracts.CodeIdempotencyKeyReused, Status: http.StatusUnprocessableEntity,
			Detail: "This Idempotency-Key was used with a different request; use a new key for a new request."}
	}
	if !rec.Completed {
		return Response{}, &contracts.Error{Code: contracts.CodeIdempotencyKeyInUse, Status: http.StatusConflict,
			Detail: "A request with this Idempotency-Key is still running; retry later."}
	}
	return Response{Status: rec.ResponseStatus, Body: rec.ResponseBody, Replayed: true,
		Problem: rec.ResponseStatus >= 400}, nil
}

// markIntent notes, in the transaction that writes a request's intent, that the request
// under idem is about to reach a partner with attempt attemptID: its key is then answered,
// never released as orphaned, and a takeover knows what to settle. It fails when this
// instance no longer holds the claim (another took it over, believing this one dead), so
// no partner ever hears twice of one request. Calls without a store request (the
// resolver's own) have no key.
func (h *Hub) markIntent(ctx context.Context, tx contracts.Tx, clientID string, idem *Idempotency, attemptID string) error {
	if idem == nil || idem.Key == "" {
		return nil
	}
	return tx.MarkIdempotencyIntent(ctx, clientID, idem.Key, h.instanceID, attemptID)
}

// idemKey is the key of idem, or "" without a store request.
func idemKey(idem *Idempotency) string {
	if idem == nil {
		return ""
	}
	return idem.Key
}

// partnerCalledError marks a failure after a partner call began: the key must stay in use.
type partnerCalledError struct{ err error }

func (e *partnerCalledError) Error() string { return e.err.Error() }
func (e *partnerCalledError) Unwrap() error { return e.err }

// event builds the outbox event announcing typ for the payment's next sequence number, and
// advances p.EventSequence. object is the rendered resource the event carries.
func (h *Hub) event(p *contracts.Payment, refundID string, typ contracts.EventType, object []byte, at time.Time) contracts.Event {
	p.EventSequence++
	e := contracts.Event{ID: h.ids.New(contracts.PrefixEvent), Type: typ, StoreID: p.StoreID,
		PaymentID: p.ID, RefundID: refundID, Sequence: p.EventSequence, CreatedAt: at}
	e.Payload, _ = json.Marshal(eventPayload{ID: e.ID, Type: string(typ), Timestamp: at.Format(time.RFC3339),
		APIVersion: h.version, Data: eventData{Sequence: e.Sequence, Object: object}})
	return e
}

type eventPayload struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Timestamp  string    `json:"timestamp"`
	APIVersion string    `json:"api_version"`
	Data       eventData `json:"data"`
}

type eventData struct {
	Sequence int64           `json:"sequence"`
	Object   json.RawMessage `json:"object"`
}
