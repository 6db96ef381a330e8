package nanaco

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"payhub/mocks/sim"
)

// Simulator is the nanaco centre (NCS v1) simulator: an http.Handler serving the API under
// /ncs/v1 and the unauthenticated /_sim/ control endpoints. Its state lives in memory,
// guarded by mu.
type Simulator struct {
	cfg Config
	api http.Handler // serve, wrapped by cfg.Faults when set
	// offset is added to cfg.Clock when it cannot be set (PUT /_sim/clock), in nanoseconds.
	offset atomic.Int64

	mu            sync.Mutex
	flags         Flags
	cards         map[string]*card // by number
	byIDm         map[string]*card // by upper-case IDm
	keys          map[seqKey]*keyRecord
	txns          map[string]*txn // by centerTxnId
	order         []*txn          // commit order: the ledger
	lastTxn       int64           // the last centerTxnId's number
	lastCode      int             // the last transferCode's number
	nonces        map[string]time.Time
	noncesSweptAt time.Time
}

// New returns a simulator configured by cfg (empty fields get the documented defaults),
// holding the seeded cards (docs/partners/nanaco.md §B8).
func New(cfg Config) *Simulator {
	s := &Simulator{cfg: cfg.withDefaults()}
	s.flags = *s.cfg.Flags
	s.reset()
	s.api = http.HandlerFunc(s.serve)
	if s.cfg.Faults != nil {
		s.api = s.cfg.Faults.WrapWith(s.api, FaultErrorBody)
	}
	return s
}

// reset puts the state back to the seeded cards. Needs s.mu (or no concurrent use).
func (s *Simulator) reset() {
	s.cards = seed(s.now())
	s.byIDm = map[string]*card{}
	for _, c := range s.cards {
		s.byIDm[c.idm] = c
	}
	s.keys = map[seqKey]*keyRecord{}
	s.txns = map[string]*txn{}
	s.order = nil
	s.lastTxn, s.lastCode = 0, 0
	s.nonces = map[string]time.Time{}
	s.noncesSweptAt = time.Time{}
}

// A Simulator is served as it is: `payhub sim` and tests mount it directly.
var _ http.Handler = (*Simulator)(nil)

// now reads the centre's clock.
func (s *Simulator) now() time.Time {
	return s.cfg.Clock.Now().Add(time.Duration(s.offset.Load()))
}

// ServeHTTP answers one request. Control paths (/_sim/…) are served unsigned and never
// faulted; API answers go through the fault engines and are then signed (§B2).
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if sim.IsControlPath(r.URL.Path) {
		s.serveControl(w, r)
		return
	}
	sw := &signingWriter{w: w, s: s, path: receivedPath(r), nonce: r.Header.Get(HeaderNonce)}
	handler := s.api
	if v := r.Header.Get(HeaderMockFault); v != "" && s.cfg.AllowFaultHeader {
		h, err := s.headerFault(v)
		if err != nil {
			writeBody(sw, http.StatusBadRequest, renderError(http.StatusBadRequest, CodeInvalidRequest, err.Error(), nil))
			sw.finish()
			return
		}
		handler = h
	}
	handler.ServeHTTP(sw, r)
	sw.finish()
}

// operation is one NCS call.
type operation func(s *Simulator, c *call) reply

// operations are the NCS v1 calls by path below BasePath (docs/partners/nanaco.md §B5).
var operations = map[string]operation{
	"/cards/inquiry":        (*Simulator).cardInquiry,
	"/payments":             (*Simulator).payment,
	"/payments/cancel":      (*Simulator).paymentCancel,
	"/refunds":              (*Simulator).refund,
	"/charges":              (*Simulator).charge,
	"/charges/cancel":       (*Simulator).chargeCancel,
	"/transfers":            (*Simulator).transfer,
	"/transfers/cancel":     (*Simulator).transferCancel,
	"/transactions/inquiry": (*Simulator).txnInquiry,
	"/cards/suspend":        (*Simulator).suspend,
	"/migrations/start":     (*Simulator).migration,
	"/migrations/complete":  (*Simulator).migration,
	"/migrations/abort":     (*Simulator).migration,
}

// call is one authenticated API request.
type call struct {
	path     string // as received: what the signature covers
	terminal string
	body     []byte
	now      time.Time
	today    string // the centre's business date
}

// reply is an answer: status and body; replayed marks an idempotent replay (§B3).
type reply struct {
	status   int
	body     []byte
	replayed bool
}

func ok(v any) reply { return reply{status: http.StatusOK, body: mustJSON(v)} }

func refuse(e *apiError) reply { return reply{status: e.status(), body: e.body()} }

// serve answers one API request as the centre would, faults aside.
func (s *Simulator) serve(w http.ResponseWriter, r *http.Request) {
	path := receivedPath(r)
	op, known := operations[strings.TrimPrefix(path, BasePath)]
	if !known || !strings.HasPrefix(path, BasePath+"/") {
		writeBody(w, http.StatusNotFound, renderError(http.StatusNotFound, CodeInvalidRequest, "no such NCS operation: "+path, nil))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeBody(w, http.StatusMethodNotAllowed, renderError(http.StatusMethodNotAllowed, CodeInvalidRequest, "every NCS call is a POST", nil))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil || len(body) > MaxBodyBytes {
		writeReply(w, refuse(fail(CodeInvalidRequest, "unreadable body, or larger than 64 KiB")))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	terminal, e := s.authenticate(r, path, body, now)
	if e != nil {
		writeReply(w, refuse(e))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeReply(w, refuse(fail(CodeInvalidRequest, "Content-Type must be application/json")))
			return
		}
	}
	writeReply(w, op(s, &call{path: path, terminal: terminal, body: body, now: now, today: businessDate(now)}))
}

func writeReply(w http.ResponseWriter, rp reply) {
	if rp.replayed {
		w.Header().Set(HeaderReplayed, "true")
	}
	writeBody(w, rp.status, rp.body)
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// receivedPath is the request path as the client sent it, percent-encoding kept, without
// scheme, host or query: what the signatures cover (docs/partners/nanaco.md §B2).
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

// signingWriter holds an API answer until the handler is done, then sends it with
// NCS-Timestamp and NCS-Signature over status, path, time, the request's nonce and the
// body (§B2) — errors and replays too, whenever the request had a nonce. 502 and 504 are
// the gateway's answers and go unsigned. 429 and 503 get a Retry-After. A hijacked
// connection (a reset fault) gets nothing.
type signingWriter struct {
	w           http.ResponseWriter
	s           *Simulator
	path, nonce string
	status      int
	buf         bytes.Buffer
	hijacked    bool
}

func (sw *signingWriter) Header() http.Header { return sw.w.Header() }

func (sw *signingWriter) WriteHeader(status int) {
	if sw.status == 0 {
		sw.status = status
	}
}

func (sw *signingWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.buf.Write(b)
}

// Hijack lets the fault engine reset the connection.
func (sw *signingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	sw.hijacked = true
	return http.NewResponseController(sw.w).Hijack()
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (sw *signingWriter) Unwrap() http.ResponseWriter { return sw.w }

func (sw *signingWriter) finish() {
	if sw.hijacked || sw.status == 0 {
		return // reset, or a hang the client gave up on
	}
	h := sw.w.Header()
	if (sw.status == http.StatusTooManyRequests || sw.status == http.StatusServiceUnavailable) && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "1")
	}
	if sw.nonce != "" && sw.status != http.StatusBadGateway && sw.status != http.StatusGatewayTimeout {
		ts := sw.s.now().In(JST).Format(TimestampLayout)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, ResponseSignature(sw.s.cfg.Secret, sw.status, sw.path, ts, sw.nonce, sw.buf.Bytes()))
	}
	h.Set("Content-Length", strconv.Itoa(sw.buf.Len()))
	sw.w.WriteHeader(sw.status)
	_, _ = sw.w.Write(sw.buf.Bytes())
}
