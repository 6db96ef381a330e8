package paypay

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"payhub/mocks/sim"
)

// Simulator is the PayPay OPA simulator: an http.Handler serving the /v2/ API and the
// unauthenticated /_sim/ control endpoints. Its state lives in memory, guarded by mu.
type Simulator struct {
	cfg      Config
	handler  http.Handler   // serve, wrapped by cfg.Faults when set
	webhooks *webhookSender // Transaction notifications: own lock, sends without mu

	mu             sync.Mutex
	payments       map[string]*payment // by merchantPaymentId
	order          []*payment          // creation order, for the ledger
	byPaymentID    map[string]*payment // by PayPay's paymentId
	codes          map[string]*qrCode  // by codeId
	refunds        map[string]*refund  // by merchantRefundId
	captures       map[string]*capture // by merchantCaptureId
	reverts        map[string]*revert  // by merchantRevertId
	pendingCancels map[string]bool     // merchantPaymentIds canceled before any payment existed
	barcodes       map[string]*issuedBarcode

	linkSessions      map[string]*linkSession      // account-link QR sessions by id
	linkedUsers       map[string]*linkedUser       // user authorizations beyond the fixtures
	cashbacks         map[string]*cashback         // by merchantCashbackId
	cashbackOrder     []*cashback                  // acceptance order, for the ledger
	cashbackReversals map[string]*cashbackReversal // by merchantCashbackReversalId
}

// New returns a simulator configured by cfg (empty fields get the documented defaults).
func New(cfg Config) *Simulator {
	s := &Simulator{
		cfg:            cfg.withDefaults(),
		payments:       map[string]*payment{},
		byPaymentID:    map[string]*payment{},
		codes:          map[string]*qrCode{},
		refunds:        map[string]*refund{},
		captures:       map[string]*capture{},
		reverts:        map[string]*revert{},
		pendingCancels: map[string]bool{},
		barcodes:       map[string]*issuedBarcode{},

		linkSessions:      map[string]*linkSession{},
		linkedUsers:       map[string]*linkedUser{},
		cashbacks:         map[string]*cashback{},
		cashbackReversals: map[string]*cashbackReversal{},
	}
	s.webhooks = newWebhookSender(s.cfg)
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

// request is what a handler gets besides the raw http.Request: the body already read
// (the signature covered it) and the path parameters.
type request struct {
	body   []byte
	params map[string]string
}

// apiRoutes are the signed OPA endpoints (docs/partners/paypay.md §4, §4.8 to §4.10).
var apiRoutes = []route{
	{http.MethodPost, "/v2/codes", (*Simulator).createCode},
	{http.MethodDelete, "/v2/codes/{codeId}", (*Simulator).deleteCode},
	{http.MethodGet, "/v2/codes/payments/{merchantPaymentId}", (*Simulator).getCodePayment},
	{http.MethodPost, "/v2/payments", (*Simulator).createPayment},
	{http.MethodPost, "/v2/payments/preauthorize", (*Simulator).preauthorize},
	{http.MethodPost, "/v2/payments/capture", (*Simulator).capturePayment},
	{http.MethodPost, "/v2/payments/preauthorize/revert", (*Simulator).revertAuthorization},
	{http.MethodGet, "/v2/payments/{merchantPaymentId}", (*Simulator).getPayment},
	{http.MethodDelete, "/v2/payments/{merchantPaymentId}", (*Simulator).cancelPayment},
	{http.MethodPost, "/v2/refunds", (*Simulator).createRefund},
	{http.MethodGet, "/v2/refunds/{merchantRefundId}", (*Simulator).getRefund},
	{http.MethodPost, "/v1/qr/sessions", (*Simulator).createLinkSession},
	{http.MethodGet, "/v2/user/authorizations", (*Simulator).getUserAuthorization},
	{http.MethodDelete, "/v2/user/authorizations/{userAuthorizationId}", (*Simulator).unlinkUser},
	{http.MethodPost, "/v2/cashback", (*Simulator).giveCashback},
	{http.MethodGet, "/v2/cashback/{merchantCashbackId}", (*Simulator).getCashback},
	{http.MethodPost, "/v2/cashback_reversal", (*Simulator).reverseCashback},
	{http.MethodGet, "/v2/cashback_reversal/{merchantCashbackReversalId}/{merchantCashbackId}", (*Simulator).getCashbackReversal},
}

// controlRoutes are the unauthenticated /_sim/ inspection and control endpoints.
var controlRoutes = []route{
	{http.MethodPost, "/_sim/barcodes", (*Simulator).simIssueBarcode},
	{http.MethodPost, "/_sim/codes/{codeId}/pay", (*Simulator).simPayCode},
	{http.MethodPost, "/_sim/payments/{merchantPaymentId}/pay", (*Simulator).simPayPayment},
	{http.MethodGet, "/_sim/payments", (*Simulator).simLedger},
	{http.MethodGet, "/_sim/payments/{merchantPaymentId}", (*Simulator).simLedgerPayment},
	{http.MethodGet, "/_sim/notifications", (*Simulator).simNotifications},
	{http.MethodPost, "/_sim/links/{sessionId}/approve", (*Simulator).simApproveLink},
	{http.MethodPost, "/_sim/links/{sessionId}/decline", (*Simulator).simDeclineLink},
	{http.MethodGet, "/_sim/users/{userAuthorizationId}", (*Simulator).simUserAuthorization},
	{http.MethodGet, "/_sim/cashback", (*Simulator).simCashbackAccounts},
	{http.MethodGet, "/_sim/cashback/{userAuthorizationId}", (*Simulator).simCashbackAccount},
	{http.MethodGet, "/_sim/cashbacks/{merchantCashbackId}", (*Simulator).simCashback},
}

// ServeHTTP answers one request. Every response is JSON and carries X-REQUEST-ID, injected
// faults included (save the resets and hangs, which answer nothing).
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-REQUEST-ID", newRequestID())
	if strings.TrimSuffix(r.URL.Path, "/") == "/_sim/faults" {
		s.serveFaults(w, r)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// serve answers one request as PayPay would, faults aside.
func (s *Simulator) serve(w http.ResponseWriter, r *http.Request) {
	body, err := sim.ReadBody(r)
	if err != nil {
		writeError(w, resInvalidRequest, "Unreadable request body")
		return
	}
	// The Python SDK posts /v2/refunds/: route without a trailing slash, but verify the
	// signature over the path as sent.
	path := strings.TrimSuffix(r.URL.Path, "/")
	if strings.HasPrefix(path, "/_sim/") || path == "/_sim" {
		s.dispatch(w, r, path, body, controlRoutes, func(w http.ResponseWriter, rc resultCode) {
			writeControlError(w, rc.status, "no such simulator endpoint")
		})
		return
	}
	if !s.verifyAuth(r, body) {
		writeError(w, resUnauthorized, "Unauthorized request")
		return
	}
	if !s.merchantMatches(r) {
		writeError(w, resOpOutOfScope, "The merchant is out of the credentials' scope")
		return
	}
	s.dispatch(w, r, path, body, apiRoutes, func(w http.ResponseWriter, rc resultCode) {
		writeError(w, rc, "No such resource")
	})
}

// merchantMatches accepts a request naming no merchant or the configured one; the query
// parameter wins over the header (docs/partners/paypay.md §1).
func (s *Simulator) merchantMatches(r *http.Request) bool {
	m := r.URL.Query().Get("assumeMerchant")
	if m == "" {
		m = r.Header.Get("X-ASSUME-MERCHANT")
	}
	return m == "" || m == s.cfg.MerchantID
}

// dispatch finds the route for method and path and runs it; notFound answers 404, or 405
// when the path exists under another method.
func (s *Simulator) dispatch(w http.ResponseWriter, r *http.Request, path string, body []byte, routes []route, notFound func(http.ResponseWriter, resultCode)) {
	pathKnown := false
	for _, rt := range routes {
		params, ok := matchPath(rt.pattern, path)
		if !ok {
			continue
		}
		if rt.method != r.Method {
			pathKnown = true
			continue
		}
		rt.handle(s, w, r, request{body: body, params: params})
		return
	}
	if pathKnown {
		notFound(w, resMethodNotAllow)
		return
	}
	notFound(w, resResourceMissing)
}

// matchPath matches path against a pattern such as /v2/payments/{merchantPaymentId}.
func matchPath(pattern, path string) (map[string]string, bool) {
	want := strings.Split(pattern, "/")
	got := strings.Split(path, "/")
	if len(want) != len(got) {
		return nil, false
	}
	params := map[string]string{}
	for i, seg := range want {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			if got[i] == "" {
				return nil, false
			}
			params[strings.TrimSuffix(name, "}")] = got[i]
			continue
		}
		if seg != got[i] {
			return nil, false
		}
	}
	return params, true
}

// newRequestID returns a fresh X-REQUEST-ID (≤ 64 chars, docs/partners/paypay.md §1).
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// now reads the simulator clock, truncated to whole seconds because OPA speaks epoch
// seconds: a payment accepted at 00:00:00.9 must compare like the 00:00:00 it reports.
func (s *Simulator) now() time.Time { return s.cfg.Clock.Now().Truncate(time.Second) }
