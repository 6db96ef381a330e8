// Package httpapi is payhub's HTTP face for store checkout systems: the gin router that
// implements contracts/api's generated ServerInterface, with strict bearer tokens, body
// limits, strict JSON decoding, idempotency keys, problem+json errors, request ids, health
// and Prometheus metrics. The engine behind it is internal/hub.
package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/contracts/api"
	"payhub/internal/approvals"
	"payhub/internal/auth"
	"payhub/internal/hub"
	"payhub/internal/operators"
)

// MaxBodyBytes limits API request bodies (docs/security.md §12).
const MaxBodyBytes = 64 << 10

// Config wires a Server.
type Config struct {
	// Hub executes the commands.
	Hub *hub.Hub
	// Verifier authenticates store tokens.
	Verifier *auth.Verifier
	// Operators authenticates operator tokens for /v1/ops; nil leaves /v1/ops closed.
	Operators *auth.Verifier
	// Store is pinged by /readyz.
	Store contracts.Store
	// Registry receives the HTTP metrics; they are served on their own listener (the
	// app's MetricsHandler), never on the API's port.
	Registry *prometheus.Registry
	// APIVersion is the contract's version, sent as API-Version.
	APIVersion string
	// Logger receives access and error logs.
	Logger *slog.Logger
	// StepUps checks operators' TOTP step-ups (docs/security.md §7); nil refuses every
	// operator change and answers /v1/ops/step-up with 404.
	StepUps *operators.StepUps
	// Network is the network policy for store clients (docs/security.md §6); zero fields
	// take DefaultNetworkPolicy's.
	Network NetworkPolicy
	// Approvals is two-person approval (docs/security.md §8); nil answers its routes 404.
	Approvals *approvals.Service
	// AuditKey keys the audit entries the operator API writes itself (switch.set).
	AuditKey []byte
	// Clock dates the operator API's changes (contracts.SystemClock when nil).
	Clock contracts.Clock
}

// Server is the HTTP API.
type Server struct {
	hub       *hub.Hub
	verifier  *auth.Verifier
	operators *auth.Verifier
	store     contracts.Store
	version   string
	log       *slog.Logger
	engine    *gin.Engine
	net       *netPolicy
	// opsRoles is the role each operator route requires, by "METHOD /path".
	opsRoles map[string]string
	// stepUps checks operator step-ups; stepUpLockouts counts lockouts.
	stepUps        *operators.StepUps
	stepUpLockouts prometheus.Counter
	// approvals runs two-person approval; auditKey and clock serve the operator API.
	approvals *approvals.Service
	auditKey  []byte
	clock     contracts.Clock
}

// New builds the router.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{hub: cfg.Hub, verifier: cfg.Verifier, operators: cfg.Operators, store: cfg.Store, version: cfg.APIVersion, log: cfg.Logger,
		opsRoles: map[string]string{}, stepUps: cfg.StepUps, approvals: cfg.Approvals, auditKey: cfg.AuditKey, clock: cfg.Clock}
	if s.clock == nil {
		s.clock = contracts.SystemClock{}
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// Every answer of the API is problem+json: no HTML redirect pages for a trailing slash
	// or a "fixed" path (/v1/refunds/re_%2e%2e%2f), only 404 not_found.
	e.RedirectTrailingSlash, e.RedirectFixedPath = false, false
	// The TCP peer is the client; no proxy is trusted unless configured, and then only its
	// X-Forwarded-For counts (docs/security.md §6).
	s.net = newNetPolicy(cfg.Network, cfg.Registry)
	if err := e.SetTrustedProxies(s.net.trustedProxies()); err != nil {
		panic(err) // masked netip.Prefix strings always parse
	}
	e.RemoteIPHeaders = []string{"X-Forwarded-For"}
	metrics := newHTTPMetrics(cfg.Registry)
	e.Use(withRequestID(), s.withRecovery(), metrics.middleware(), s.withAccessLog(), withAPIVersion(cfg.APIVersion), s.refuseCardData())
	e.NoRoute(func(c *gin.Context) { writeProblem(c, notFound()) })
	e.NoMethod(func(c *gin.Context) {
		writeProblemAt(c, http.StatusMethodNotAllowed, contracts.Errorf(contracts.CodeInvalidRequest, "Method not allowed on this path."))
	})

	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	e.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", contracts.OpenAPI) })

	validator, err := newContractValidator()
	if err != nil {
		panic(err) // the embedded contract is checked by tests; it cannot fail at run time
	}
	ops := e.Group("/v1/ops")
	s.opsRoute(ops, http.MethodGet, "/needs-attention", auth.RoleOperator, s.listNeedsAttention)
	s.registerStepUp(ops, cfg.Registry)
	s.registerOpsAPI(ops)
	s.registerOpsLimits(ops)
	s.registerOpsInstances(ops)
	e.POST("/v1/partners/:partner/webhooks", s.partnerCallback)
	e.GET("/v1/link-returns/:id", s.linkReturn)
	e.GET("/v1/payment-returns/:payment_id", s.paymentReturn)
	e.POST("/v1/payment-returns/:payment_id", s.paymentReturn)

	v1 := e.Group("", s.net.shedLoad(), s.authenticate(), requireIdempotencyKey(), validator.middleware())
	api.RegisterHandlersWithOptions(v1, s, api.GinServerOptions{
		BaseURL: "",
		ErrorHandler: func(c *gin.Context, err error, status int) {
			writeProblem(c, &contracts.Error{Code: contracts.CodeInvalidRequest, Detail: err.Error()})
		},
	})
	s.engine = e
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// HTTPServer wraps h in an http.Server with the timeouts of docs/security.md §12:
// the write timeout outlasts the slowest partner call (30 s).
func HTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr: addr, Handler: h,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 32 << 10,
	}
}
