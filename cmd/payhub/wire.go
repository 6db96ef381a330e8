package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	cardadapter "payhub/adapters/card"
	linepayadapter "payhub/adapters/linepay"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/httpapi"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/secrets"
	"payhub/internal/store"
	"payhub/internal/webhooks"
)

// appConfig is everything an assembled payhub needs.
type appConfig struct {
	DatabaseURL string
	// Store, when set, is used instead of opening DatabaseURL (tests hand in a fresh one).
	Store contracts.Store
	// BarcodeRules route method auto; nil means hub.DefaultBarcodeRules.
	BarcodeRules []hub.BarcodeRule
	PayPay       paypayadapter.Config
	// LinePay configures LINE Pay; nil leaves the method unoffered (method_not_supported).
	LinePay *linepayadapter.Config
	// Card configures cards through GMO-PG; nil leaves the method unoffered.
	Card   *cardadapter.Config
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
	// Callbacks says which partner callbacks are accepted.
	Callbacks hub.CallbackConfig
	// SecretKey seals partner credentials kept per payment (secrets.KeySize bytes); nil
	// means a fresh key for this process only (fine while no partner hands any out).
	SecretKey []byte
	// PublicURL is payhub's address for customers' browsers (redirect payments).
	PublicURL string
	// KeyTTL is how long a store key read from the registry is trusted (0: every request
	// asks; serve and demo use auth.DefaultKeyTTL).
	KeyTTL time.Duration
	// DeliverInterval is how often the deliverer looks for due deliveries when idle.
	DeliverInterval time.Duration
	// PollInterval is how often payments waiting for the customer are refreshed; 0 disables
	// the background jobs (tests call Hub.PollOnce and Hub.ExpireIdempotencyKeys themselves).
	PollInterval time.Duration
}

// app is an assembled payhub: the engine, its store and its HTTP handler.
type app struct {
	Store contracts.Store
	Hub   *hub.Hub
	// Deliverer sends store notifications (tests call DeliverOnce).
	Deliverer *webhooks.Deliverer
	Handler   http.Handler
	stop      context.CancelFunc
}

// buildApp wires the store, the partner registry, the engine and the HTTP API.
func buildApp(ctx context.Context, cfg appConfig) (*app, error) {
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
	partnerHTTP := partnerHTTPClient()
	if cfg.PayPay.HTTPClient == nil {
		cfg.PayPay.HTTPClient = partnerHTTP
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
		linepay, err := linepayadapter.New(lp)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("linepay adapter: %w", err)
		}
		partners[contracts.MethodLinePay] = linepay
	}
	if cfg.Card != nil {
		cc := *cfg.Card
		if cc.Now == nil {
			cc.Now = cfg.Clock.Now
		}
		if cc.HTTPClient == nil {
			cc.HTTPClient = partnerHTTP
		}
		cards, err := cardadapter.New(cc)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("card adapter: %w", err)
		}
		partners[contracts.MethodCard] = cards
	}
	if cfg.SecretKey == nil {
		cfg.SecretKey = secrets.NewKey()
	}
	box, err := secrets.NewBox(cfg.SecretKey)
	if err != nil {
		st.Close()
		return nil, err
	}
	idGen := ids.New(cfg.Clock)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := hub.New(hub.Config{
		Store:         st,
		Partners:      partners,
		Clock:         cfg.Clock,
		IDs:           idGen,
		Render:        httpapi.Renderer{},
		APIVersion:    contracts.APIVersion,
		Logger:        cfg.Logger,
		Metrics:       hub.NewMetrics(reg),
		BarcodeRules:  cfg.BarcodeRules,
		Resolver:      cfg.Resolver,
		EndpointGuard: webhooks.Guard{AllowLoopback: cfg.WebhookLoopback},
		Callbacks:     cfg.Callbacks,
		Secrets:       box,
		PublicURL:     cfg.PublicURL,
	})
	deliverer := webhooks.NewDeliverer(webhooks.DelivererConfig{Store: st, Clock: cfg.Clock, IDs: idGen,
		Owner: deliveryOwner(), Client: webhooks.NewClient(webhooks.Guard{AllowLoopback: cfg.WebhookLoopback}),
		APIVersion: contracts.APIVersion, Logger: cfg.Logger, Metrics: webhooks.NewMetrics(reg),
		RenderEndpoint: func(e contracts.WebhookEndpoint) []byte { return httpapi.Renderer{}.WebhookEndpoint(e, "") }})
	srv := httpapi.New(httpapi.Config{
		Hub: h, Store: st, Registry: reg, APIVersion: contracts.APIVersion, Logger: cfg.Logger,
		Verifier:  auth.NewVerifier(st, auth.VerifierOptions{Clock: cfg.Clock, KeyTTL: cfg.KeyTTL}),
		Operators: operatorVerifier(cfg.OperatorKeys, cfg.Clock),
	})
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	if cfg.PollInterval > 0 {
		go h.RunPoller(bg, cfg.PollInterval)
		go h.RunIdempotencyJanitor(bg, time.Hour, hub.DefaultIdempotencyRetention)
		resolveEvery := cfg.ResolveInterval
		if resolveEvery <= 0 {
			resolveEvery = 2 * time.Second
		}
		go h.RunResolver(bg, resolveEvery)
		deliverEvery := cfg.DeliverInterval
		if deliverEvery <= 0 {
			deliverEvery = time.Second
		}
		go deliverer.Run(bg, deliverEvery)
		go h.RunCallbackProcessor(bg, time.Second)
	}
	return &app{Store: st, Hub: h, Deliverer: deliverer, Handler: srv, stop: stop}, nil
}

// deliveryOwner names this process's delivery leases: unique among the payhub processes
// sharing a database.
func deliveryOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8])
}

// Close stops background work and closes the database.
func (a *app) Close() error {
	a.stop()
	return a.Store.Close()
}

func operatorVerifier(keys auth.KeySource, clock contracts.Clock) *auth.Verifier {
	if keys == nil {
		return nil
	}
	return auth.NewVerifier(keys, auth.VerifierOptions{Clock: clock, Operators: true})
}
