// Package hub is payhub's engine: it takes a store's payment commands, applies idempotency,
// routes them to the partner for the payment method, and records every state change with its
// outbox event and idempotent response in one transaction. It speaks contracts only; HTTP
// lives in internal/httpapi, persistence in internal/store, partners in adapters/.
package hub

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"payhub/contracts"
	"payhub/internal/idempotency"
	"payhub/internal/ids"
	"payhub/internal/secrets"
	"payhub/internal/webhooks"
)

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
	// Returns bounds the customers' returns from partners' pages; zero means
	// DefaultReturnConfig.
	Returns ReturnConfig
	// BalanceRate and BalanceBurst bound each store's stored-value balance inquiries;
	// zero means DefaultBalanceRate and DefaultBalanceBurst.
	BalanceRate  rate.Limit
	BalanceBurst int
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
	// Controls tunes the kill switches' refresh; zero means DefaultControlsConfig.
	Controls ControlsConfig
	// InstrumentKey keys the hashes that name customers' instruments in the limits'
	// usage (docs/security.md §5), so the database holds no nanaco number or partner user
	// reference; every instance sharing a database needs the same key. serve and demo
	// derive it from PAYHUB_AUDIT_KEY. Empty: an unkeyed hash (tests).
	InstrumentKey []byte
}

// Hub executes payment commands.
type Hub struct {
	store    contracts.Store
	partners map[contracts.Method]contracts.Partner
	clock    contracts.Clock
	ids      *ids.Generator
	// guard runs each store command once per Idempotency-Key.
	guard   *idempotency.Guard
	version string
	log     *slog.Logger
	metrics *Metrics
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
	// returns bounds the customers' returns from partners' pages.
	returns *returnLimits
	// balances bounds the stores' balance inquiries.
	balances *balanceLimits
	// secrets seals partner credentials; nil refuses to keep any.
	secrets *secrets.Box
	// publicURL is payhub's address for customers' browsers.
	publicURL string
	// instance is this process among those sharing the database: the owner of the
	// Idempotency-Key claims it makes.
	instance   InstanceConfig
	instanceID string
	// noLeases turns the work leases off (tests only: export_test.go), to show what they
	// prevent.
	noLeases bool
	// reversals numbers the reversals made outside the resolver, each under its own lease.
	reversals atomic.Int64
	// pollPasses numbers the poller's passes (dueForPoll's marker owners).
	pollPasses atomic.Int64
	// controls are the kill switches and limit rules in force (controls.go, limits.go).
	controls *controls
	// instrumentMAC keys instrumentKey; limitEvents throttles the limit.exceeded events.
	instrumentMAC []byte
	limitEvents   eventThrottle
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
	h := &Hub{store: withLedger(cfg.Store), partners: cfg.Partners, clock: cfg.Clock, ids: cfg.IDs,
		version: cfg.APIVersion, log: cfg.Logger, metrics: cfg.Metrics,
		barcodeRules: cfg.BarcodeRules, breakers: newBreakers(cfg.Partners, cfg.Breaker, cfg.Metrics),
		resolver: cfg.Resolver, endpointGuard: cfg.EndpointGuard, callbacks: cfg.Callbacks, returns: newReturnLimits(cfg.Returns),
		balances: newBalanceLimits(cfg.BalanceRate, cfg.BalanceBurst),
		secrets:  cfg.Secrets, publicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		instance: cfg.Instance, instanceID: cfg.IDs.New(contracts.PrefixInstance),
		controls: &controls{cfg: cfg.Controls.withDefaults()}, instrumentMAC: cfg.InstrumentKey}
	h.guard = idempotency.New(idempotency.Config{Store: cfg.Store, Clock: cfg.Clock, Instance: h.instanceID,
		Gone: h.instanceGone, Wait: cfg.Instance.Lease + cfg.Instance.HeartbeatEvery, AwaitEvery: cfg.Instance.AwaitEvery,
		Sleep: cfg.Instance.Sleep, Logger: cfg.Logger})
	return h
}

// Response is a command's answer, and whether it is the stored answer replayed.
type Response = idempotency.Response

// run runs a store command once per Idempotency-Key (idempotency.Guard.Run); the request
// of a dead instance is settled by finishTakenOver.
func (h *Hub) run(ctx context.Context, c Caller, idem idempotency.Key, exec idempotency.Exec) (Response, error) {
	return h.guard.Run(ctx, c.ClientID, idem, exec, func(ctx context.Context, attemptID string) error {
		return h.finishTakenOver(ctx, c.ClientID, idem.Key, attemptID)
	})
}

// Caller is the authenticated store client and the one store its token acts for.
type Caller struct {
	// ClientID is the store client (scopes idempotency keys).
	ClientID string
	// StoreID is the store; every read and write is limited to it.
	StoreID string
}

// now returns the clock's time in UTC at microsecond precision, which both databases keep.
func (h *Hub) now() time.Time { return h.clock.Now().UTC().Truncate(time.Microsecond) }

func notFound() *contracts.Error {
	return &contracts.Error{Code: contracts.CodeNotFound, Detail: "No such object."}
}

// idemKey is the key of idem, or "" without a store request.
func idemKey(idem *idempotency.Key) string {
	if idem == nil {
		return ""
	}
	return idem.Key
}

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

// Now is the engine's clock, as it stamps what it stores.
func (h *Hub) Now() time.Time { return h.now() }
