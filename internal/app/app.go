// Package app assembles payhub: it wires the store, the partner adapters (the registry the
// engine reads), the engine, the HTTP API and the background jobs, and provides the
// commands of the payhub binary (serve, demo, sim, token, client) over that wiring. It is
// the only place, with internal/config, that knows how the parts fit together.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	gmopgadapter "payhub/adapters/gmopg"
	linepayadapter "payhub/adapters/linepay"
	nanacoadapter "payhub/adapters/nanaco"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/auth"
	"payhub/internal/compensate"
	"payhub/internal/config"
	"payhub/internal/httpapi"
	"payhub/internal/hub"
	"payhub/internal/idempotency"
	"payhub/internal/ids"
	"payhub/internal/migrate"
	"payhub/internal/operators"
	"payhub/internal/render"
	"payhub/internal/secrets"
	"payhub/internal/store"
	"payhub/internal/webhooks"
)

// Config is everything an assembled payhub needs.
type Config struct {
	DatabaseURL string
	// Store, when set, is used instead of opening DatabaseURL (tests hand in a fresh one).
	Store contracts.Store
	// BarcodeRules route method auto; nil means hub.DefaultBarcodeRules.
	BarcodeRules []hub.BarcodeRule
	PayPay       paypayadapter.Config
	// LinePay configures LINE Pay; nil leaves the method unoffered (method_not_supported).
	LinePay *linepayadapter.Config
	// Nanaco configures nanaco e-money through NCS; nil leaves the method unoffered.
	Nanaco *nanacoadapter.Config
	// Card configures cards through GMO-PG; nil leaves the method unoffered.
	Card   *gmopgadapter.Config
	Clock  contracts.Clock
	Logger *slog.Logger
	// OperatorKeys verify operator tokens for /v1/ops; nil leaves /v1/ops closed.
	OperatorKeys auth.KeySource
	// Resolver tunes the resolver; zero means hub.DefaultResolverConfig.
	Resolver hub.ResolverConfig
	// ResolveInterval is how often the resolver runs (with the other background jobs).
	ResolveInterval time.Duration
	// WebhookLoopback lets webhook endpoints be http://127.0.0.1 (demo and tests only).
	WebhookLoopback bool
	// Webhooks is what store notifications may reach and how much of the deliverers one
	// store may hold (ports, endpoints per store, sends in flight); zero fields mean the
	// defaults of internal/webhooks (docs/api.md §8.4, §8.6).
	Webhooks config.WebhookPolicy
	// Callbacks says which partner callbacks are accepted.
	Callbacks hub.CallbackConfig
	// Retention says how long callbacks that left the inbox and store-notification
	// attempts are kept; zero fields mean hub.DefaultRetention (30 and 90 days).
	Retention hub.RetentionConfig
	// SecretKeys is the key ring that seals the secrets kept at rest (GMO-PG's credentials
	// per payment, webhook signing secrets), newest first: the first seals, all open
	// (PAYHUB_SECRET_KEYS). Empty: SecretKey alone.
	SecretKeys [][]byte
	// SecretKey is a ring of one key (PAYHUB_SECRET_KEY), when SecretKeys is empty; both
	// nil means a fresh key for this process only (fine for tests and one-process demos:
	// what it seals does not open after a restart).
	SecretKey []byte
	// PublicURL is payhub's address for customers' browsers (redirect payments).
	PublicURL string
	// KeyTTL is how long a store key read from the registry is trusted (0: every request
	// asks; serve and demo use auth.DefaultKeyTTL).
	KeyTTL time.Duration
	// UnknownKeyTTL is how long a kid the registry does not know is remembered as unknown
	// (0: KeyTTL; negative: never), so a flood of made-up kids costs no query each.
	UnknownKeyTTL time.Duration
	// Network is the network policy for store clients (docs/security.md §6): bad-token
	// throttling per address, the per-client rate limit, trusted proxies; zero fields take
	// httpapi.DefaultNetworkPolicy's.
	Network httpapi.NetworkPolicy
	// Collectors are metrics of parts outside the App (serve's connection bound), served
	// on its /metrics with the rest.
	Collectors []prometheus.Collector
	// DeliverInterval is how often the deliverer looks for due deliveries when idle.
	DeliverInterval time.Duration
	// PollInterval is how often payments waiting for the customer are refreshed; 0 disables
	// the background jobs (tests call Hub.PollOnce and Hub.ExpireIdempotencyKeys themselves).
	PollInterval time.Duration
	// Instance tunes how instances sharing the database tell each other alive or gone; zero
	// means hub.DefaultInstanceConfig.
	Instance hub.InstanceConfig
	// AuditKey is PAYHUB_AUDIT_KEY: it keys the audit chain (docs/security.md §9) and, for
	// the limits, the hashes that name customers' instruments (§5). Nil in tests that write
	// no audit entries.
	AuditKey []byte
	// DefaultLimits seeds hub.DefaultLimitRules into a database that never had them (serve
	// and demo; docs/security.md §5). Needs AuditKey.
	DefaultLimits bool
	// ApprovalTTL is how long a two-person approval request may be approved (--approval-ttl;
	// approvals.DefaultTTL when 0; docs/security.md §8).
	ApprovalTTL time.Duration
}

// App is an assembled payhub: the engine, its store and its HTTP handler.
type App struct {
	Store contracts.Store
	Hub   *hub.Hub
	// Deliverer sends store notifications (tests call DeliverOnce).
	Deliverer *webhooks.Deliverer
	Handler   http.Handler
	// Approvals is two-person approval (docs/security.md §8): the CLI asks through it, and
	// other code registers its own actions (limit.remove).
	Approvals *approvals.Service
	// MetricsHandler serves the Prometheus metrics; serve and demo put it on its own
	// listener (--metrics-addr, loopback by default), never on the API's port.
	MetricsHandler http.Handler
	// workers are the background jobs, stopped before the database closes.
	workers *workers
	log     *slog.Logger
}

// Build wires the store, the partner registry, the engine and the HTTP API.
func Build(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Clock == nil {
		cfg.Clock = contracts.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	st := cfg.Store
	if st == nil {
		var err error
		if st, err = store.Open(ctx, cfg.DatabaseURL); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	if cfg.PayPay.Now == nil {
		cfg.PayPay.Now = cfg.Clock.Now
	}
	partnerHTTP := PartnerHTTPClient()
	if cfg.PayPay.HTTPClient == nil {
		cfg.PayPay.HTTPClient = partnerHTTP
	}
	if cfg.PayPay.Logger == nil {
		cfg.PayPay.Logger = cfg.Logger
	}
	paypay, err := paypayadapter.New(cfg.PayPay)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("paypay adapter: %w", err)
	}
	partners := map[contracts.Method]contracts.Partner{contracts.MethodPayPay: paypay}
	if cfg.LinePay != nil {
		lp := *cfg.LinePay
		if lp.Now == nil {
			lp.Now = cfg.Clock.Now
		}
		if lp.HTTPClient == nil {
			lp.HTTPClient = partnerHTTP
		}
		if lp.Logger == nil {
			lp.Logger = cfg.Logger
		}
		linepay, err := linepayadapter.New(lp)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("linepay adapter: %w", err)
		}
		partners[contracts.MethodLinePay] = linepay
	}
	if cfg.Nanaco != nil {
		nc := *cfg.Nanaco
		if nc.Now == nil {
			nc.Now = cfg.Clock.Now
		}
		if nc.HTTPClient == nil {
			nc.HTTPClient = partnerHTTP
		}
		if nc.Logger == nil {
			nc.Logger = cfg.Logger
		}
		nanaco, err := nanacoadapter.New(nc)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("nanaco adapter: %w", err)
		}
		partners[contracts.MethodNanaco] = nanaco
	}
	if cfg.Card != nil {
		cc := *cfg.Card
		if cc.Now == nil {
			cc.Now = cfg.Clock.Now
		}
		if cc.HTTPClient == nil {
			cc.HTTPClient = partnerHTTP
		}
		if cc.Logger == nil {
			cc.Logger = cfg.Logger
		}
		cards, err := gmopgadapter.New(cc)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("card adapter: %w", err)
		}
		partners[contracts.MethodCard] = cards
	}
	keys := cfg.SecretKeys
	if len(keys) == 0 && cfg.SecretKey != nil {
		keys = [][]byte{cfg.SecretKey}
	}
	if len(keys) == 0 {
		keys = [][]byte{secrets.NewKey()}
	}
	box, err := secrets.NewRing(keys...)
	if err != nil {
		st.Close()
		return nil, err
	}
	// Webhook signing secrets are sealed at rest under the ring (docs/security.md §13):
	// everything below uses the sealing store.
	st = store.SealWebhookSecrets(st, box)
	idGen := ids.New(cfg.Clock)
	reg := prometheus.NewRegistry()
	reg.MustRegister(cfg.Collectors...)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	instance := cfg.Instance
	if instance.Version == "" {
		instance.Version = contracts.APIVersion
	}
	guard := webhooks.Guard{AllowLoopback: cfg.WebhookLoopback, Ports: cfg.Webhooks.Ports, MaxEndpointsPerStore: cfg.Webhooks.MaxEndpointsPerStore}
	h := hub.New(hub.Config{
		Store:         st,
		Partners:      partners,
		Clock:         cfg.Clock,
		IDs:           idGen,
		APIVersion:    contracts.APIVersion,
		Logger:        cfg.Logger,
		Metrics:       hub.NewMetrics(reg),
		BarcodeRules:  cfg.BarcodeRules,
		Resolver:      cfg.Resolver,
		EndpointGuard: guard,
		Callbacks:     cfg.Callbacks,
		Secrets:       box,
		PublicURL:     cfg.PublicURL,
		Instance:      instance,
		InstrumentKey: instrumentKey(cfg.AuditKey),
	})
	if cfg.DefaultLimits {
		if _, err := hub.SeedDefaultLimits(ctx, st, cfg.AuditKey, func() string { return idGen.New(contracts.PrefixLimitRule) }, h.Now()); err != nil {
			st.Close()
			return nil, fmt.Errorf("seed default limits: %w", err)
		}
	}
	// The instance is on record before it claims any request, so that another instance
	// can tell when it is gone and take its requests over.
	if err := h.RegisterInstance(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("register instance: %w", err)
	}
	deliverer := webhooks.NewDeliverer(webhooks.DelivererConfig{Store: st, Clock: cfg.Clock, IDs: idGen,
		Owner: deliveryOwner(), Client: webhooks.NewClient(guard),
		PerEndpoint: cfg.Webhooks.PerEndpoint, PerStore: cfg.Webhooks.PerStore,
		APIVersion: contracts.APIVersion, Logger: cfg.Logger, Metrics: webhooks.NewMetrics(reg),
		RenderEndpoint: func(e contracts.WebhookEndpoint) []byte { return render.WebhookEndpoint(e, "") }})
	approvalService := approvals.New(approvals.Config{Store: st, AuditKey: cfg.AuditKey, Secrets: box, Clock: cfg.Clock,
		TTL: cfg.ApprovalTTL, Logger: cfg.Logger})
	compensate.RegisterApproval(approvalService) // compensation.run (docs/compensation.md)
	migrate.RegisterApproval(approvalService)    // migration.run (docs/migration.md)
	srv := httpapi.New(httpapi.Config{
		Hub: h, Store: st, Registry: reg, APIVersion: contracts.APIVersion, Logger: cfg.Logger,
		Verifier:  auth.NewVerifier(st, auth.VerifierOptions{Clock: cfg.Clock, KeyTTL: cfg.KeyTTL, UnknownKeyTTL: cfg.UnknownKeyTTL}),
		Network:   cfg.Network,
		Operators: operatorVerifier(cfg.OperatorKeys, cfg.Clock),
		StepUps:   operators.New(st, box, cfg.Clock),
		Approvals: approvalService,
		AuditKey:  cfg.AuditKey,
		Clock:     cfg.Clock,
	})
	w := newWorkers(ctx)
	// The kill switches are re-read every 500 ms whatever else runs (docs/security.md §4).
	w.start(h.RunControls)
	if cfg.PollInterval > 0 {
		resolveEvery := cfg.ResolveInterval
		if resolveEvery <= 0 {
			resolveEvery = 2 * time.Second
		}
		deliverEvery := cfg.DeliverInterval
		if deliverEvery <= 0 {
			deliverEvery = time.Second
		}
		w.start(h.RunHeartbeat)
		w.start(func(ctx context.Context) { h.RunPoller(ctx, cfg.PollInterval) })
		w.start(func(ctx context.Context) { h.RunIdempotencyJanitor(ctx, time.Hour, idempotency.DefaultRetention) })
		w.start(func(ctx context.Context) { h.RunResolver(ctx, resolveEvery) })
		w.start(func(ctx context.Context) { deliverer.Run(ctx, deliverEvery) })
		w.start(func(ctx context.Context) { h.RunCallbackProcessor(ctx, time.Second) })
		w.start(func(ctx context.Context) { h.RunRetention(ctx, time.Hour, cfg.Retention) })
	}
	return &App{Store: st, Hub: h, Deliverer: deliverer, Handler: srv, Approvals: approvalService, workers: w, log: cfg.Logger,
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}, nil
}

// workers runs the background jobs and stops them: each job returns once its context
// ends, after finishing the item it was working on.
type workers struct {
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

func newWorkers(parent context.Context) *workers {
	ctx, stop := context.WithCancel(context.WithoutCancel(parent))
	return &workers{ctx: ctx, stop: stop}
}

func (w *workers) start(job func(ctx context.Context)) { w.wg.Go(func() { job(w.ctx) }) }

// halt stops the jobs and waits for them until ctx ends; false when some still run.
func (w *workers) halt(ctx context.Context) bool {
	w.stop()
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// deliveryOwner names this process's delivery leases: unique among the payhub processes
// sharing a database.
func deliveryOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8])
}

// Shutdown stops the background jobs, waiting for each to finish what it began (until ctx
// ends), records that this instance stopped (its requests can be taken over at once) and
// closes the database. Jobs still running when ctx ends keep the database open: the
// process is about to exit anyway, and a write cut by a closed database helps no one.
func (a *App) Shutdown(ctx context.Context) error {
	if !a.workers.halt(ctx) {
		a.log.Warn("background jobs still running at shutdown; leaving the database open for them")
		return errors.New("background jobs did not stop in time")
	}
	if err := a.Hub.StopInstance(context.WithoutCancel(ctx)); err != nil {
		a.log.Warn("record this instance's stop", "err", err)
	}
	return a.Store.Close()
}

// Close is Shutdown waiting at most shutdownWait.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	return a.Shutdown(ctx)
}

// shutdownWait bounds how long Close waits for background jobs: longer than the slowest
// partner call (30 s).
const shutdownWait = 45 * time.Second

func operatorVerifier(keys auth.KeySource, clock contracts.Clock) *auth.Verifier {
	if keys == nil {
		return nil
	}
	return auth.NewVerifier(keys, auth.VerifierOptions{Clock: clock, Operators: true})
}

// instrumentKey derives the key of the instruments' hashes from the audit key (its own
// label, so neither value says anything about the other); nil without an audit key.
func instrumentKey(auditKey []byte) []byte {
	if len(auditKey) == 0 {
		return nil
	}
	m := hmac.New(sha256.New, auditKey)
	m.Write([]byte("payhub limits: instrument key v1"))
	return m.Sum(nil)
}
