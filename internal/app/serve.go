package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	gmopgadapter "payhub/adapters/gmopg"
	linepayadapter "payhub/adapters/linepay"
	nanacoadapter "payhub/adapters/nanaco"
	paypayadapter "payhub/adapters/paypay"
	"payhub/internal/approvals"
	"payhub/internal/auth"
	"payhub/internal/config"
	"payhub/internal/httpapi"
	"payhub/internal/hub"
	"payhub/internal/store"
)

const defaultAddr = "127.0.0.1:7100"

// defaultMetricsAddr is where /metrics is served: loopback, apart from the API, so that an
// outsider who reaches the API never reads payhub's internals.
const defaultMetricsAddr = "127.0.0.1:7109"

func ServeCommand(logOut io.Writer) *cobra.Command {
	var addr, dbURL, metricsAddr string
	var poll, drain, deliverEvery time.Duration
	var approvalTTL time.Duration
	var trustedProxies []string
	var clientRate float64
	var clientBurst, maxInFlight, maxConns int
	var webhookLoopback, noDefaultLimits bool
	resolver := hub.DefaultResolverConfig
	var resolveEvery, partnerTimeout, linepayLateWindow, instanceLease time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the payhub API against the configured partners",
		Long: `Run the payhub API. Partners are configured only through the environment
(PAYHUB_PAYPAY_BASE_URL, PAYHUB_PAYPAY_API_KEY, PAYHUB_PAYPAY_API_SECRET,
PAYHUB_PAYPAY_MERCHANT_ID; secrets may come from files named by the same variable with
_FILE appended). serve refuses to start while a partner is unconfigured.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tuneServeGC()
			paypay, err := config.PayPay()
			if err != nil {
				return err
			}
			linepay, err := config.LinePay()
			if err != nil {
				return err
			}
			nanaco, err := config.Nanaco()
			if err != nil {
				return err
			}
			secretKeys, err := config.SecretKeys()
			if err != nil {
				return err
			}
			var secretKey []byte // the sealing key, if any
			if len(secretKeys) > 0 {
				secretKey = secretKeys[0]
			}
			publicURL := config.EnvOr("PAYHUB_PUBLIC_URL", "")
			cards, err := config.GMOPG(secretKey, publicURL)
			if err != nil {
				return err
			}
			rules, err := config.BarcodeRules()
			if err != nil {
				return err
			}
			operators, err := config.OperatorKeys()
			if err != nil {
				return err
			}
			if len(secretKeys) == 0 {
				// Webhook signing secrets and partner credentials are sealed under it: a key
				// that lived only as long as this process would leave every store's
				// notifications unsignable after a restart.
				return errors.New("serve needs PAYHUB_SECRET_KEYS (or PAYHUB_SECRET_KEY): base64 of 32 bytes, e.g. openssl rand -base64 32; it seals webhook secrets and partner credentials at rest")
			}
			auditKey, err := config.AuditKey()
			if err != nil {
				return err
			} else if auditKey == nil {
				return errors.New("serve needs PAYHUB_AUDIT_KEY: base64 of 32 bytes, e.g. openssl rand -base64 32; it keys the audit log's hash chain (docs/security.md §9) and must not be kept in the database")
			}
			log := NewLogger(logOut)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if partnerTimeout > 0 {
				paypay.Timeouts = paypayadapter.Timeouts{ValueMoving: partnerTimeout, Read: partnerTimeout}
				if linepay != nil {
					linepay.Timeouts = linepayadapter.UniformTimeouts(partnerTimeout)
				}
				if cards != nil {
					cards.Timeouts = gmopgadapter.UniformTimeouts(partnerTimeout)
				}
				if nanaco != nil {
					nanaco.Timeouts = nanacoadapter.UniformTimeouts(partnerTimeout)
				}
			}
			if linepay != nil {
				linepay.LateLandingWindow = linepayLateWindow
			}
			callbacks, err := config.CallbackAllowlist()
			if err != nil {
				return err
			}
			webhookPolicy, err := config.Webhooks()
			if err != nil {
				return err
			}
			cfg := Config{DatabaseURL: config.DatabaseURL(dbURL), PayPay: paypay, LinePay: linepay, Nanaco: nanaco, Card: cards, SecretKeys: secretKeys, PublicURL: publicURL, KeyTTL: auth.DefaultKeyTTL, Logger: log, PollInterval: poll,
				BarcodeRules: rules, Resolver: resolver, ResolveInterval: resolveEvery, OperatorKeys: operators,
				WebhookLoopback: webhookLoopback, Webhooks: webhookPolicy, DeliverInterval: deliverEvery, Callbacks: callbacks,
				Instance: hub.InstanceConfig{Lease: instanceLease}, AuditKey: auditKey, DefaultLimits: !noDefaultLimits,
				ApprovalTTL: approvalTTL}
			network, err := networkPolicy(trustedProxies, clientRate, clientBurst)
			network.MaxInFlight = maxInFlight
			if err != nil {
				return err
			}
			cfg.Network = network
			conns := httpapi.NewConnBound(maxConns)
			cfg.Collectors = conns.Collectors()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			log.Info("payhub listening", "addr", ln.Addr().String())
			return serveWhenReady(ctx, ln, drain, conns, log, func(ctx context.Context) (*App, error) {
				a, err := Build(ctx, cfg)
				if err == nil {
					err = serveMetrics(ctx, metricsAddr, a, log)
				}
				return a, err
			})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", config.EnvOr("PAYHUB_ADDR", defaultAddr), "listen address (PAYHUB_ADDR)")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", config.EnvOr("PAYHUB_METRICS_ADDR", defaultMetricsAddr), "Prometheus /metrics listen address, apart from the API (PAYHUB_METRICS_ADDR; empty: no metrics listener)")
	cmd.Flags().StringVar(&dbURL, "db", "", "database: sqlite:<file> or postgres://… (default $PAYHUB_DATABASE_URL, else sqlite:payhub.db)")
	cmd.Flags().BoolVar(&webhookLoopback, "webhook-allow-loopback", false, "let webhook endpoints be http://127.0.0.1 (local testing only)")
	cmd.Flags().DurationVar(&deliverEvery, "deliver-interval", time.Second, "how often idle deliverers look for due store notifications")
	cmd.Flags().DurationVar(&poll, "poll-interval", 3*time.Second, "how often payments waiting for the customer are refreshed from the partner")
	cmd.Flags().DurationVar(&drain, "drain-timeout", 35*time.Second, "how long SIGTERM waits for in-flight requests")
	cmd.Flags().StringSliceVar(&trustedProxies, "trusted-proxy", nil, "a load balancer's address or network whose X-Forwarded-For is believed (repeatable; default none: the TCP peer is the source, docs/security.md §6)")
	cmd.Flags().Float64Var(&clientRate, "client-rate", float64(httpapi.DefaultNetworkPolicy.ClientRate), "requests a second each store client may make (token bucket; negative: no limit)")
	cmd.Flags().IntVar(&clientBurst, "client-burst", httpapi.DefaultNetworkPolicy.ClientBurst, "the client rate's bucket depth")
	cmd.Flags().IntVar(&maxInFlight, "max-in-flight", httpapi.DefaultNetworkPolicy.MaxInFlight,
		"store API requests in progress at once; past it a request is answered 503 service_unavailable at once (negative: no bound)")
	cmd.Flags().IntVar(&maxConns, "max-connections", httpapi.DefaultMaxConnections,
		"client connections kept open; past it the longest-idle ones are closed (negative: no bound)")
	cmd.Flags().DurationVar(&approvalTTL, "approval-ttl", approvals.DefaultTTL, "how long a two-person approval request may be approved before it expires (docs/security.md §8)")
	cmd.Flags().DurationVar(&resolveEvery, "resolve-interval", 2*time.Second, "how often the resolver looks at open outcomes")
	// Resolver and partner timing: production keeps the defaults; the crash harness
	// shortens them so a run settles in minutes.
	cmd.Flags().DurationVar(&resolver.StuckAfter, "resolver-stuck-after", resolver.StuckAfter, "a payment processing this long is taken over by the resolver")
	cmd.Flags().DurationVar(&resolver.ReadTimeout, "resolver-read-timeout", resolver.ReadTimeout, "after this long, a partner's \"not found\" is decisive (seen twice)")
	cmd.Flags().DurationVar(&resolver.FenceAfter, "resolver-fence-after", resolver.FenceAfter, "an outcome still open this long is reversed at the partner")
	cmd.Flags().BoolVar(&noDefaultLimits, "no-default-limits", false, "do not add the default velocity and amount limits to a database that never had them (README, Limits); load tests use it")
	cmd.Flags().DurationVar(&resolver.Budget, "resolver-budget", resolver.Budget, "an outcome still open this long goes to an operator")
	cmd.Flags().DurationVar(&resolver.FirstBackoff, "resolver-first-backoff", resolver.FirstBackoff, "first wait between resolver passes over one object")
	cmd.Flags().DurationVar(&resolver.MaxBackoff, "resolver-max-backoff", resolver.MaxBackoff, "longest wait between resolver passes over one object")
	cmd.Flags().DurationVar(&linepayLateWindow, "linepay-late-window", linepayadapter.DefaultLateLandingWindow, "how long an in-store LINE Pay order LINE does not know of may still land")
	cmd.Flags().DurationVar(&partnerTimeout, "partner-timeout", 0, "bound every partner call by this (default: the partner's own timeouts, 30 s / 15 s for PayPay)")
	cmd.Flags().DurationVar(&instanceLease, "instance-lease", hub.DefaultInstanceConfig.Lease, "an instance silent this long is gone: another takes over the requests it held")
	for _, f := range []string{"resolver-stuck-after", "resolver-read-timeout", "resolver-fence-after", "resolver-budget", "resolver-first-backoff", "resolver-max-backoff", "partner-timeout", "linepay-late-window", "instance-lease"} {
		_ = cmd.Flags().MarkHidden(f)
	}
	return cmd
}

// serveWhenReady serves on ln from the start — /healthz answers, /readyz and the API say
// "not ready" — while open assembles payhub, retrying with backoff while the database is
// unreachable; then serves the API until ctx ends (SIGINT/SIGTERM). It stops in order:
// in-flight requests drain, the background jobs finish what they began, this instance is
// recorded as stopped, and only then does the database close.
func serveWhenReady(ctx context.Context, ln net.Listener, drain time.Duration, conns *httpapi.ConnBound, log *slog.Logger, open func(context.Context) (*App, error)) error {
	gate := &httpapi.StartupGate{Conns: conns}
	serving, stopServing := context.WithCancel(ctx)
	defer stopServing()
	served := make(chan error, 1)
	go func() { served <- ServeUntilDone(serving, ln, gate, drain) }()
	a, err := openWithRetry(ctx, log, open)
	if err != nil {
		stopServing()
		<-served
		if ctx.Err() != nil {
			return nil // stopped before the database came
		}
		return err
	}
	gate.Ready(a.Handler)
	log.Info("payhub ready", "instance", a.Hub.InstanceID())
	err = <-served
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	if serr := a.Shutdown(stopCtx); serr != nil {
		log.Warn("shutdown", "err", serr)
	}
	return err
}

// serveMetrics serves a's /metrics on addr (nothing when addr is empty) until ctx ends.
func serveMetrics(ctx context.Context, addr string, a *App, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		a.Close()
		return fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.MetricsHandler)
	log.Info("metrics listening", "addr", ln.Addr().String())
	go func() {
		if err := ServeUntilDone(ctx, ln, mux, time.Second); err != nil {
			log.Warn("metrics listener stopped", "err", err)
		}
	}()
	return nil
}

// openWithRetry calls open until it succeeds, fails for a reason waiting cannot cure, or
// ctx ends; an unreachable database is retried with exponential backoff (0.25 s to 5 s).
func openWithRetry(ctx context.Context, log *slog.Logger, open func(context.Context) (*App, error)) (*App, error) {
	backoff := 250 * time.Millisecond
	for {
		a, err := open(ctx)
		if err == nil || !errors.Is(err, store.ErrUnreachable) {
			return a, err
		}
		log.Warn("database unreachable: not ready, retrying", "retry_in", backoff.String(), "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// serveUntilDone serves h on ln until ctx ends (SIGINT/SIGTERM), then drains in-flight
// requests for up to drain before returning.
func ServeUntilDone(ctx context.Context, ln net.Listener, h http.Handler, drain time.Duration) error {
	srv := httpapi.HTTPServer(ln.Addr().String(), h)
	// A handler that keeps count of connections (a StartupGate with a ConnBound) sees
	// every connection's state changes.
	if t, ok := h.(interface {
		ConnState(net.Conn, http.ConnState)
	}); ok {
		srv.ConnState = t.ConnState
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// networkPolicy is serve's network policy for store clients from its flags: the trusted
// proxies (addresses or networks) and the per-client rate.
func networkPolicy(proxies []string, clientRate float64, clientBurst int) (httpapi.NetworkPolicy, error) {
	p := httpapi.NetworkPolicy{ClientRate: rate.Limit(clientRate), ClientBurst: clientBurst}
	if clientRate == 0 || clientBurst <= 0 {
		return p, errors.New("--client-rate must not be 0 (negative turns the limit off) and --client-burst must be positive")
	}
	for _, v := range proxies {
		prefix, err := netip.ParsePrefix(v)
		if err != nil {
			addr, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return p, fmt.Errorf("--trusted-proxy %q is neither an address nor a network", v)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		p.TrustedProxies = append(p.TrustedProxies, prefix.Masked())
	}
	return p, nil
}

// Serve's garbage collector settings. A request's garbage is short-lived and its live heap
// small (tens of MiB), so at Go's default GOGC=100 the collector ran every few megabytes
// and took ~10% of serve's CPU under load. serveGCPercent lets the heap grow five-fold
// between collections, and the soft limit keeps it well under the memory a busy instance
// may use (the bench holds serve's peak RSS under 150 MB): near it the collector runs as
// often as it must. GOGC and GOMEMLIMIT, when set, win.
const (
	serveGCPercent   = 400
	serveMemoryLimit = 96 << 20
)

func tuneServeGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
}
