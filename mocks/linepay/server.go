package linepay

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"payhub/mocks/sim"
)

// Simulator is the LINE Pay simulator: an http.Handler serving Online v3 and Offline v4
// and the unauthenticated /_sim/ control endpoints. Its state lives in memory, guarded by
// mu.
type Simulator struct {
	cfg     Config
	handler http.Handler // serve, wrapped by cfg.Faults when set
	// sleep waits out OneTimeKeySlow's delay; tests replace it.
	sleep func(time.Duration)

	mu       sync.Mutex
	byOrder  map[string]*payment // by orderId
	byTx     map[txID]*payment   // by transactionId
	refundOf map[txID]*payment   // by refundTransactionId
	order    []*payment          // creation order, for the ledger
	usedIDs  map[txID]bool       // every transactionId and refundTransactionId handed out
	keys     map[string]*issuedKey
	nonces   map[string]time.Time // StrictNonce: nonce → first seen
	sweepAt  time.Time            // when nonces was last swept
}

// New returns a simulator configured by cfg (empty fields get the documented defaults).
func New(cfg Config) *Simulator {
	s := &Simulator{
		cfg:      cfg.withDefaults(),
		sleep:    time.Sleep,
		byOrder:  map[string]*payment{},
		byTx:     map[txID]*payment{},
		refundOf: map[txID]*payment{},
		usedIDs:  map[txID]bool{},
		keys:     map[string]*issuedKey{},
		nonces:   map[string]time.Time{},
	}
	s.handler = http.HandlerFunc(s.serve)
	if s.cfg.Faults != nil {
		s.handler = s.cfg.Faults.WrapWith(s.handler, FaultErrorBody)
	}
	return s
}

// A Simulator is served as it is: `payhub sim` and tests mount it directly.
var _ http.Handler = (*Simulator)(nil)

// route is one endpoint: a method and a path pattern whose {segments} are parameters.
type route struct {
	method  string
	pattern string
	handle  func(s *Simulator, w http.ResponseWriter, r *http.Request, in request)
}

// request is what a handler gets besides the raw http.Request: the body already read (the
// signature covered it), the path parameters (unescaped) and the raw query.
type request struct {
	body     []byte
	params   map[string]string
	rawQuery string
}

// apiRoutes are the signed LINE Pay endpoints (docs/partners/linepay.md §4, §5).
var apiRoutes = []route{
	{http.MethodPost, "/v3/payments/request", (*Simulator).onlineRequest},
	{http.MethodPost, "/v3/payments/{transactionId}/confirm", (*Simulator).onlineConfirm},
	{http.MethodPost, "/v3/payments/authorizations/{transactionId}/capture", (*Simulator).onlineCapture},
	{http.MethodPost, "/v3/payments/authorizations/{transactionId}/void", (*Simulator).onlineVoid},
	{http.MethodPost, "/v3/payments/{transactionId}/refund", (*Simulator).onlineRefund},
	{http.MethodGet, "/v3/payments", (*Simulator).details},
	{http.MethodGet, "/v3/payments/requests/{transactionId}/check", (*Simulator).onlineCheck},

	{http.MethodPost, "/v4/payments/oneTimeKeys/pay", (*Simulator).offlinePay},
	{http.MethodGet, "/v4/payments/orders/{orderId}/check", (*Simulator).offlineCheck},
	{http.MethodPost, "/v4/payments/orders/{orderId}/void", (*Simulator).offlineVoid},
	{http.MethodPost, "/v4/payments/orders/{orderId}/capture", (*Simulator).offlineCapture},
	{http.MethodPost, "/v4/payments/orders/{orderId}/refund", (*Simulator).offlineRefund},
	{http.MethodGet, "/v4/payments/authorizations", (*Simulator).authorizations},
	{http.MethodGet, "/v4/payments", (*Simulator).details},
}

// controlRoutes are the unauthenticated /_sim/ inspection and control endpoints.
var controlRoutes = []route{
	{http.MethodPost, "/_sim/oneTimeKeys", (*Simulator).simIssueKey},
	{http.MethodGet, "/_sim/payments", (*Simulator).simLedger},
	{http.MethodGet, "/_sim/payments/{id}", (*Simulator).simLedgerPayment},
	{http.MethodPost, "/_sim/payments/{id}/approve", (*Simulator).simApprove},
	{http.MethodPost, "/_sim/payments/{id}/cancel", (*Simulator).simCancel},
	{http.MethodPost, "/_sim/payments/{id}/fail", (*Simulator).simFail},
	{http.MethodPost, "/_sim/payments/{id}/expire", (*Simulator).simExpire},
}

// ServeHTTP answers one request. Requests in absolute form (a client behind
// https_proxy=http://127.0.0.1:7102 sends "POST https://sandbox-api-pay.line.me/v3/…")
// are routed by their path.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSuffix(r.URL.Path, "/") == "/_sim/faults" {
		s.serveFaults(w, r)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// serve answers one request as LINE Pay would, faults aside.
func (s *Simulator) serve(w http.ResponseWriter, r *http.Request) {
	path := receivedPath(r)
	body, err := sim.ReadBody(r)
	if err != nil {
		writeCode(w, codeParameterError, "Unreadable request body.")
		return
	}
	if sim.IsControlPath(r.URL.Path) {
		rt, params, known := findRoute(controlRoutes, r.Method, path)
		switch {
		case rt != nil:
			rt.handle(s, w, r, request{body: body, params: params, rawQuery: r.URL.RawQuery})
		case known:
			writeControlError(w, http.StatusMethodNotAllowed, "method not allowed")
		default:
			writeControlError(w, http.StatusNotFound, "no such simulator endpoint")
		}
		return
	}
	rt, params, known := findRoute(apiRoutes, r.Method, path)
	if rt == nil {
		status := http.StatusNotFound
		if known {
			status = http.StatusMethodNotAllowed
		}
		writeControlError(w, status, "no such LINE Pay API: "+r.Method+" "+path)
		return
	}
	if e := s.verifyAuth(r, path, body); e != nil {
		writeError(w, e)
		return
	}
	rt.handle(s, w, r, request{body: body, params: params, rawQuery: r.URL.RawQuery})
}

// receivedPath is the request path exactly as the client sent it, percent-encoding kept,
// without scheme, host, port or query: what LINE's signature covers
// (docs/partners/linepay.md §3.1).
func receivedPath(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" { // a request built in-process
		return r.URL.EscapedPath()
	}
	if i := strings.Index(uri, "://"); i >= 0 && !strings.HasPrefix(uri, "/") {
		rest := uri[i+3:]
		j := strings.IndexAny(rest, "/?")
		if j < 0 || rest[j] == '?' {
			return "/"
		}
		uri = rest[j:]
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

// findRoute returns the route for method and the escaped path, its parameters
// (unescaped), and whether the path exists under another method.
func findRoute(routes []route, method, path string) (*route, map[string]string, bool) {
	known := false
	for i := range routes {
		params, ok := matchPath(routes[i].pattern, path)
		if !ok {
			continue
		}
		if routes[i].method != method {
			known = true
			continue
		}
		return &routes[i], params, true
	}
	return nil, nil, known
}

// matchPath matches an escaped path against a pattern such as /v3/payments/{transactionId}/confirm.
// Literal segments win over parameters only by route order: /v3/payments/request is listed first.
func matchPath(pattern, path string) (map[string]string, bool) {
	want := strings.Split(pattern, "/")
	got := strings.Split(path, "/")
	if len(want) != len(got) {
		return nil, false
	}
	params := map[string]string{}
	for i, seg := range want {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			v, err := url.PathUnescape(got[i])
			if err != nil || v == "" {
				return nil, false
			}
			params[strings.TrimSuffix(name, "}")] = v
			continue
		}
		if seg != got[i] {
			return nil, false
		}
	}
	return params, true
}

// now reads the simulator clock, truncated to whole seconds as LINE's dates are.
func (s *Simulator) now() time.Time { return s.cfg.Clock.Now().Truncate(time.Second) }
