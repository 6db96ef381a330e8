package hub

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"payhub/contracts"
)

// ReturnPath is where the partner sends the customer's browser back for a redirect
// payment: ReturnPath + payment id, under the configured public URL.
const ReturnPath = "/v1/payment-returns/"

// sealSecret seals a partner credential for payment id. Without a key it is dropped, never
// kept in clear; the adapter must then recover it from the partner (GMO: SearchTrade).
func (h *Hub) sealSecret(ctx context.Context, paymentID, secret string) string {
	if h.secrets == nil {
		h.log.ErrorContext(ctx, "no secrets key configured: a partner credential of the payment is not kept", "payment_id", paymentID)
		return ""
	}
	return h.secrets.Seal(paymentID, secret)
}

// openSecret opens p's sealed partner credential; "" when there is none or it cannot be
// opened (the adapter recovers it from the partner).
func (h *Hub) openSecret(ctx context.Context, p contracts.Payment) string {
	if p.PartnerSecret == "" || h.secrets == nil {
		return ""
	}
	s, err := h.secrets.Open(p.ID, p.PartnerSecret)
	if err != nil {
		h.log.ErrorContext(ctx, "partner credential of the payment does not open (another key?)", "payment_id", p.ID)
		return ""
	}
	return s
}

// returnURLFor is the URL the partner sends the browser back to for a redirect payment;
// "" for other flows.
func (h *Hub) returnURLFor(p contracts.Payment) string {
	if p.Flow != contracts.FlowRedirect {
		return ""
	}
	return h.publicURL + ReturnPath + p.ID
}

// checkReturnURL checks the store's return_url of a redirect payment: an absolute https URL
// (http only to loopback, for demos and tests), without credentials or a fragment. Where it
// may point is checkReturnOrigin's business.
func (h *Hub) checkReturnURL(cmd CreatePayment) error {
	if cmd.Flow != contracts.FlowRedirect {
		if cmd.ReturnURL != "" {
			return fieldError(contracts.CodeInvalidRequest, "/return_url", "return_url is for flow redirect only.")
		}
		return nil
	}
	if h.publicURL == "" {
		return fieldError(contracts.CodeMethodNotSupported, "/flow", "Flow redirect is not available: payhub has no public URL configured.")
	}
	u, err := url.Parse(cmd.ReturnURL)
	bad := err != nil || cmd.ReturnURL == "" || len(cmd.ReturnURL) > 2048 || u.User != nil || u.Fragment != "" || u.Host == ""
	if !bad {
		switch u.Scheme {
		case "https":
		case "http":
			bad = !isLoopbackHost(strings.TrimSuffix(strings.ToLower(u.Hostname()), "."))
		default:
			bad = true
		}
	}
	if bad {
		return fieldError(contracts.CodeInvalidRequest, "/return_url", "return_url must be an absolute https URL without credentials or fragment (required for flow redirect).")
	}
	return nil
}

// checkReturnOrigin refuses a redirect payment whose return_url points anywhere but an
// origin registered for the calling client (`payhub client register --return-origin`):
// otherwise payhub would send customers' browsers wherever a request says, an open
// redirect under payhub's name. A loopback origin counts only while payhub's own public
// URL is loopback (the demo, tests): no customer of a real deployment can be sent to their
// own machine. The client is read from the store: one indexed read, for redirect payments
// only, so an origin removed is refused at once.
func (h *Hub) checkReturnOrigin(ctx context.Context, c Caller, cmd CreatePayment) error {
	if cmd.Flow != contracts.FlowRedirect {
		return nil
	}
	u, err := url.Parse(cmd.ReturnURL)
	if err != nil {
		return fieldError(contracts.CodeInvalidRequest, "/return_url", "return_url must be an absolute https URL without credentials or fragment (required for flow redirect).")
	}
	origin, host, ok := originOf(u)
	if ok && isLoopbackHost(host) && !h.loopbackReturns() {
		return unacceptableField("/return_url", "return_url may not point to a loopback address: only payhub demo sends browsers back to this machine.")
	}
	client, err := h.store.GetStoreClient(ctx, c.ClientID)
	if err != nil && !errors.Is(err, contracts.ErrNotFound) {
		return err
	}
	if ok {
		for _, registered := range client.ReturnOrigins {
			if r, err := ParseReturnOrigin(registered); err == nil && r == origin {
				return nil
			}
		}
	}
	if len(client.ReturnOrigins) == 0 {
		return unacceptableField("/return_url", "This client has no return origin registered, so it cannot make redirect payments; an operator registers the shop's origin with payhub client set-return-origins.")
	}
	return unacceptableField("/return_url", "return_url's origin (scheme, host and port) is not registered for this client.")
}

// loopbackReturns reports whether browsers may be sent back to loopback addresses: only
// when customers reach payhub itself on loopback (payhub demo, tests).
func (h *Hub) loopbackReturns() bool {
	u, err := url.Parse(h.publicURL)
	return err == nil && isLoopbackHost(strings.ToLower(u.Hostname()))
}

// ParseReturnOrigin checks and normalises a return origin as `payhub client register
// --return-origin` takes it: https://host[:port] — http only for a loopback host — with no
// path, query, fragment or credentials. The result is lower case, without a trailing dot
// on the host and without the scheme's default port: "https://shop.example",
// "https://shop.example:8443", "http://127.0.0.1:8080".
func ParseReturnOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("return origin %q: want scheme://host[:port] with nothing after it", s)
	}
	origin, host, ok := originOf(u)
	if !ok {
		return "", fmt.Errorf("return origin %q: want https://host[:port] (http only for localhost, 127.0.0.1 or [::1])", s)
	}
	if u.Scheme == "http" && !isLoopbackHost(host) {
		return "", fmt.Errorf("return origin %q: http is for loopback hosts only; use https", s)
	}
	return origin, nil
}

// LoopbackOrigin reports whether a return origin names this machine (localhost,
// 127.0.0.0/8, [::1]): such an origin serves only while payhub's own public URL is
// loopback.
func LoopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && isLoopbackHost(strings.TrimSuffix(strings.ToLower(u.Hostname()), "."))
}

// originOf is u's origin in ParseReturnOrigin's form, and its host; false when the scheme
// is not http(s), or the host or port is not one a browser would be sent to as written.
func originOf(u *url.URL) (origin, host string, ok bool) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", "", false
	}
	if u.Host == "" || strings.ContainsAny(u.Host, "%\\") || strings.HasSuffix(u.Host, ":") {
		return "", "", false
	}
	host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", "", false
		}
		host = a.Unmap().String()
		if a.Unmap().Is6() {
			host = "[" + host + "]"
		}
	} else if !dnsName(host) {
		return "", "", false
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", "", false
		}
		port = strconv.Itoa(n)
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			port = ""
		}
	}
	origin = scheme + "://" + host
	if port != "" {
		origin += ":" + port
	}
	return origin, strings.Trim(host, "[]"), true
}

// dnsName reports whether s is a lower-case host name of letters, digits and hyphens
// (IDNs in their xn-- form).
func dnsName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// isLoopbackHost reports whether a lower-case host (no brackets) names this machine:
// localhost and its subdomains, 127.0.0.0/8, ::1 and the unspecified addresses.
func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	return a.IsLoopback() || a.IsUnspecified()
}

// storeReturnURL is where the browser goes after the return: the store's page with the
// payment's id added.
func storeReturnURL(p contracts.Payment) string {
	u, err := url.Parse(p.ReturnURL)
	if err != nil {
		return p.ReturnURL // checked at create; cannot happen
	}
	q := u.Query()
	q.Set("payment_id", p.ID)
	u.RawQuery = q.Encode()
	return u.String()
}

// CompleteReturn handles the customer's browser coming back from the partner's page for a
// redirect payment: the partner completes the payment (LINE Pay confirm, GMO SecureTran2)
// and payhub records the answer like any other, in one transaction with its event. It
// returns where to send the browser next (the store's return_url). The return proves
// nothing by itself; the adapter checks what the browser brought, and only the partner's
// answer moves the payment. A payment no longer waiting for the customer is not touched
// again: the browser just goes on.
//
// Anyone may call it, so it is bounded (ReturnConfig): returns per source address, partner
// calls per payment, and a partner's "still waiting" answer is reused while fresh for a
// return that brings the same query. Past a bound the answer is a *RetryLater
// (rate_limited).
func (h *Hub) CompleteReturn(ctx context.Context, paymentID string, source netip.Addr, query url.Values) (string, error) {
	if wait, ok := h.returns.admitAddress(source, h.clock.Now()); !ok {
		return "", retryLater("Too many returns from this address; try again shortly.", wait)
	}
	if !contracts.ValidID(contracts.PrefixPayment, paymentID) {
		return "", notFound()
	}
	p, err := h.store.GetPayment(ctx, "", paymentID)
	if errors.Is(err, contracts.ErrNotFound) {
		return "", notFound()
	}
	if err != nil {
		return "", err
	}
	if p.Flow != contracts.FlowRedirect || p.ReturnURL == "" {
		return "", notFound()
	}
	if p.Status != contracts.StatusRequiresAction {
		return storeReturnURL(p), nil
	}
	handler, ok := h.partners[p.Method].(contracts.ReturnHandler)
	if !ok {
		return "", contracts.Errorf(contracts.CodePartnerUnavailable, "The partner for %s is not configured.", p.Method)
	}
	seen := queryDigest(query)
	if h.returns.fresh(p.ID, seen, h.clock.Now()) {
		return storeReturnURL(p), nil // the partner said "still waiting" a moment ago
	}
	if wait, ok := h.returns.admitPartnerCall(p.ID, h.clock.Now()); !ok {
		return "", retryLater("This payment's return was tried too often; try again shortly.", wait)
	}
	res := handler.CompleteReturn(context.WithoutCancel(ctx), h.paymentRef(ctx, p), query)
	if res.Outcome == contracts.OutcomePending {
		h.returns.notePending(p.ID, seen, h.clock.Now())
		return storeReturnURL(p), nil // still with the customer; the poller keeps looking
	}
	if _, err := h.applyRefresh(ctx, p, res); err != nil {
		return "", err
	}
	return storeReturnURL(p), nil
}

// ReturnConfig bounds what browsers coming back from a partner's page can make payhub do:
// the return endpoint takes no token, and each return may cost a partner call. Zero
// fields take DefaultReturnConfig's.
type ReturnConfig struct {
	// AddressRate and AddressBurst bound the returns of one source address (an IPv6
	// address's /64), whatever payment they name: a token bucket.
	AddressRate  rate.Limit
	AddressBurst int
	// PaymentRate and PaymentBurst bound the partner calls the returns of one payment
	// may cause, from any number of addresses.
	PaymentRate  rate.Limit
	PaymentBurst int
	// Fresh is how long a partner's "still waiting for the customer" answer stands for
	// another return of the payment that brings the same query: it is answered without
	// asking the partner again (a reload, a replay).
	Fresh time.Duration
}

// DefaultReturnConfig: a customer comes back once or twice; 30 returns from one address
// and then one a second leave room for a shop's customers behind one NAT, and 5 partner
// calls per payment and then one every 10 s for a customer who reloads.
var DefaultReturnConfig = ReturnConfig{AddressRate: 1, AddressBurst: 30, PaymentRate: 0.1, PaymentBurst: 5, Fresh: 5 * time.Second}

func (c ReturnConfig) withDefaults() ReturnConfig {
	d := DefaultReturnConfig
	if c.AddressRate > 0 {
		d.AddressRate = c.AddressRate
	}
	if c.AddressBurst > 0 {
		d.AddressBurst = c.AddressBurst
	}
	if c.PaymentRate > 0 {
		d.PaymentRate = c.PaymentRate
	}
	if c.PaymentBurst > 0 {
		d.PaymentBurst = c.PaymentBurst
	}
	if c.Fresh > 0 {
		d.Fresh = c.Fresh
	}
	return d
}

// RetryLater is a refusal to be retried after After: 429 rate_limited with Retry-After.
type RetryLater struct {
	// Problem is the refusal (code rate_limited).
	Problem *contracts.Error
	// After is how long to wait.
	After time.Duration
}

func (e *RetryLater) Error() string { return e.Problem.Error() }

// Unwrap lets contracts.AsError find the problem.
func (e *RetryLater) Unwrap() error { return e.Problem }

func retryLater(detail string, after time.Duration) *RetryLater {
	return &RetryLater{Problem: &contracts.Error{Code: contracts.CodeRateLimited, Detail: detail}, After: after}
}

// queryDigest identifies what a browser brought back, for the freshness of answers.
func queryDigest(q url.Values) string {
	sum := sha256.Sum256([]byte(q.Encode()))
	return string(sum[:16])
}

// returnLimitEntries bounds each table of returnLimits. Past it, idle entries go; should
// that not be enough (a flood from as many addresses), the table starts over: crude, but
// memory stays bounded and the partner calls stay bounded per payment.
const returnLimitEntries = 10_000

// returnLimits keeps the buckets and fresh answers of returns, in memory: each payhub
// instance bounds its own share.
type returnLimits struct {
	cfg       ReturnConfig
	mu        sync.Mutex
	addresses map[netip.Prefix]*addressEntry
	payments  map[string]*paymentEntry
}

type addressEntry struct {
	lim  *rate.Limiter
	used time.Time
}

type paymentEntry struct {
	lim  *rate.Limiter
	used time.Time
	// pending holds when the partner last said "still waiting", per query digest.
	pending map[string]time.Time
}

func newReturnLimits(cfg ReturnConfig) *returnLimits {
	return &returnLimits{cfg: cfg.withDefaults(), addresses: map[netip.Prefix]*addressEntry{}, payments: map[string]*paymentEntry{}}
}

// sourceKey is the bucket of an address: itself, or its /64 for IPv6 (one subscriber's
// usual share).
func sourceKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// admitAddress takes one return of source from its bucket; false and the wait when empty.
func (l *returnLimits) admitAddress(source netip.Addr, now time.Time) (time.Duration, bool) {
	key := sourceKey(source)
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.addresses[key]
	if e == nil {
		if len(l.addresses) >= returnLimitEntries {
			idle := idleTime(l.cfg.AddressRate, l.cfg.AddressBurst)
			for k, v := range l.addresses {
				if now.Sub(v.used) > idle {
					delete(l.addresses, k)
				}
			}
			if len(l.addresses) >= returnLimitEntries {
				clear(l.addresses)
			}
		}
		e = &addressEntry{lim: rate.NewLimiter(l.cfg.AddressRate, l.cfg.AddressBurst)}
		l.addresses[key] = e
	}
	e.used = now
	return take(e.lim, now)
}

// payment is the entry of payment id, made when missing.
func (l *returnLimits) payment(id string, now time.Time) *paymentEntry {
	e := l.payments[id]
	if e == nil {
		if len(l.payments) >= returnLimitEntries {
			idle := max(idleTime(l.cfg.PaymentRate, l.cfg.PaymentBurst), l.cfg.Fresh)
			for k, v := range l.payments {
				if now.Sub(v.used) > idle {
					delete(l.payments, k)
				}
			}
			if len(l.payments) >= returnLimitEntries {
				clear(l.payments)
			}
		}
		e = &paymentEntry{lim: rate.NewLimiter(l.cfg.PaymentRate, l.cfg.PaymentBurst), pending: map[string]time.Time{}}
		l.payments[id] = e
	}
	e.used = now
	return e
}

// admitPartnerCall takes one partner call of payment id from its bucket.
func (l *returnLimits) admitPartnerCall(id string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return take(l.payment(id, now).lim, now)
}

// fresh reports whether the partner said "still waiting" about payment id, for a return
// that brought the same query, less than Fresh ago.
func (l *returnLimits) fresh(id, digest string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.payments[id]
	if e == nil {
		return false
	}
	at, ok := e.pending[digest]
	return ok && now.Sub(at) < l.cfg.Fresh && !now.Before(at)
}

// notePending records the partner's "still waiting" about payment id for digest.
func (l *returnLimits) notePending(id, digest string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.payment(id, now)
	for k, at := range e.pending {
		if now.Sub(at) >= l.cfg.Fresh {
			delete(e.pending, k)
		}
	}
	e.pending[digest] = now
}

// take takes a token from lim at now, or says how long until one is there.
func take(lim *rate.Limiter, now time.Time) (time.Duration, bool) {
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Minute, false
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return wait, false
	}
	return 0, true
}

// idleTime is how long a bucket takes to fill up again: an entry idle that long is as good
// as new.
func idleTime(r rate.Limit, burst int) time.Duration {
	if r <= 0 {
		return time.Hour
	}
	return time.Duration(float64(burst) / float64(r) * float64(time.Second))
}
