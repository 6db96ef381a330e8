package httpapi

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/render"
)

// NetworkPolicy is the network policy for store clients (docs/security.md §6): the
// throttling of bad tokens per source address, the request-rate limit per client and the
// proxies whose X-Forwarded-For is believed. The CIDR allowlists are per client, in the
// registry (contracts.StoreClient.SourceAllowlist). Zero fields take
// DefaultNetworkPolicy's. The state is in memory: each payhub instance enforces its own
// share.
type NetworkPolicy struct {
	// FailuresPerMinute and FailureBurst bound the authentication failures (401) of one
	// source address (an IPv6 address's /64): a token bucket refilled at FailuresPerMinute
	// and FailureBurst deep. The failure that finds it empty starts a cool-down. Negative
	// FailuresPerMinute turns the throttling off.
	FailuresPerMinute int
	FailureBurst      int
	// Cooldown is how long an address past the bound is answered 429 rate_limited, before
	// its token is parsed or any key looked up: no database read at all.
	Cooldown time.Duration
	// ClientRate (requests per second) and ClientBurst bound each authenticated store
	// client: a token bucket. Negative ClientRate turns the limit off.
	ClientRate  rate.Limit
	ClientBurst int
	// TrustedProxies are the peers whose X-Forwarded-For is believed: the source is then
	// the right-most hop that is not a trusted proxy. None (the default): the TCP peer.
	TrustedProxies []netip.Prefix
	// MaxInFlight bounds the store API requests in progress at once; one past it is
	// answered 503 service_unavailable at once (shedLoad). Negative: no bound.
	MaxInFlight int
}

// DefaultNetworkPolicy: 20 bad tokens a minute per address (burst 20), then 60 s of 429;
// 50 requests a second per client (burst 100), generous for a chain's checkout system;
// 512 store API requests in progress at once.
var DefaultNetworkPolicy = NetworkPolicy{FailuresPerMinute: 20, FailureBurst: 20, Cooldown: time.Minute,
	ClientRate: 50, ClientBurst: 100, MaxInFlight: 512}

func (p NetworkPolicy) withDefaults() NetworkPolicy {
	d := DefaultNetworkPolicy
	if p.FailuresPerMinute != 0 {
		d.FailuresPerMinute = p.FailuresPerMinute
	}
	if p.FailureBurst > 0 {
		d.FailureBurst = p.FailureBurst
	}
	if p.Cooldown > 0 {
		d.Cooldown = p.Cooldown
	}
	if p.ClientRate != 0 {
		d.ClientRate = p.ClientRate
	}
	if p.ClientBurst > 0 {
		d.ClientBurst = p.ClientBurst
	}
	if p.MaxInFlight != 0 {
		d.MaxInFlight = p.MaxInFlight
	}
	d.TrustedProxies = p.TrustedProxies
	return d
}

// limiterEntries bounds each limiter table. Past it, idle entries go; should that not be
// enough (a flood from as many addresses), the table starts over: crude, but memory stays
// bounded.
const limiterEntries = 10_000

// limiterTable is a bounded table of token buckets by key, each with an optional
// cool-down (the idea of internal/hub's returnLimits).
type limiterTable[K comparable] struct {
	limit   rate.Limit
	burst   int
	mu      sync.Mutex
	entries map[K]*limiterEntry
}

type limiterEntry struct {
	lim *rate.Limiter
	// used is when the entry was last touched; blockedUntil ends a cool-down.
	used, blockedUntil time.Time
}

func newLimiterTable[K comparable](limit rate.Limit, burst int) *limiterTable[K] {
	return &limiterTable[K]{limit: limit, burst: burst, entries: map[K]*limiterEntry{}}
}

// entry is key's entry, made when missing; the caller holds mu.
func (t *limiterTable[K]) entry(key K, now time.Time) *limiterEntry {
	e := t.entries[key]
	if e == nil {
		if len(t.entries) >= limiterEntries {
			idle := time.Duration(float64(t.burst) / float64(t.limit) * float64(time.Second))
			for k, v := range t.entries {
				if now.Sub(v.used) > idle && !now.Before(v.blockedUntil) {
					delete(t.entries, k)
				}
			}
			if len(t.entries) >= limiterEntries {
				clear(t.entries)
			}
		}
		e = &limiterEntry{lim: rate.NewLimiter(t.limit, t.burst)}
		t.entries[key] = e
	}
	e.used = now
	return e
}

// take takes a token of key's bucket, or says how long until one is there.
func (t *limiterTable[K]) take(key K, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return takeToken(t.entry(key, now).lim, now)
}

// blocked says whether key is cooling down at now, and for how much longer. It reads
// only: an unknown key is not blocked and gets no entry.
func (t *limiterTable[K]) blocked(key K, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.entries[key]; e != nil && now.Before(e.blockedUntil) {
		return e.blockedUntil.Sub(now), true
	}
	return 0, false
}

// strike takes a token of key's bucket; when there is none, key cools down until now +
// cooldown. It reports whether the cool-down began.
func (t *limiterTable[K]) strike(key K, now time.Time, cooldown time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(key, now)
	if _, ok := takeToken(e.lim, now); ok {
		return false
	}
	e.blockedUntil = now.Add(cooldown)
	return true
}

// takeToken takes a token from lim at now, or says how long until one is there.
func takeToken(lim *rate.Limiter, now time.Time) (time.Duration, bool) {
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

// sourcePrefix is the bucket of an address: itself, or its /64 for IPv6 (one subscriber's
// usual share). An unknown address is the zero prefix, one bucket for all of them.
func sourcePrefix(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// netPolicy is a Server's enforcement of NetworkPolicy.
type netPolicy struct {
	cfg      NetworkPolicy
	now      func() time.Time
	failures *limiterTable[netip.Prefix] // nil: throttling off
	clients  *limiterTable[string]       // nil: no per-client limit
	// throttled counts requests refused by the address throttle; limited, by client, those
	// refused by the client's rate; refusedSource, by client, those from outside its list.
	throttled     prometheus.Counter
	limited       *prometheus.CounterVec
	refusedSource *prometheus.CounterVec
	// inFlight holds a slot per store API request in progress (nil: no bound); shed counts
	// the requests refused for want of one.
	inFlight chan struct{}
	shed     prometheus.Counter
}

func newNetPolicy(cfg NetworkPolicy, reg prometheus.Registerer) *netPolicy {
	cfg = cfg.withDefaults()
	n := &netPolicy{cfg: cfg, now: time.Now,
		throttled: prometheus.NewCounter(prometheus.CounterOpts{Name: "payhub_auth_throttled_total",
			Help: "Requests refused 429 before authentication because their source address sent too many bad tokens."}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "payhub_client_rate_limited_total",
			Help: "Requests refused 429 by the store client's request-rate limit, by client."}, []string{"client_id"}),
		refusedSource: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "payhub_client_source_refused_total",
			Help: "Requests refused 403 ip_not_allowed: the source is outside the client's allowlist, by client."}, []string{"client_id"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{Name: "payhub_requests_shed_total",
			Help: "Store API requests refused 503 service_unavailable because as many as --max-in-flight were in progress."}),
	}
	if cfg.MaxInFlight > 0 {
		n.inFlight = make(chan struct{}, cfg.MaxInFlight)
	}
	if cfg.FailuresPerMinute > 0 {
		n.failures = newLimiterTable[netip.Prefix](rate.Limit(float64(cfg.FailuresPerMinute)/60), cfg.FailureBurst)
	}
	if cfg.ClientRate > 0 {
		n.clients = newLimiterTable[string](cfg.ClientRate, cfg.ClientBurst)
	}
	reg.MustRegister(n.throttled, n.limited, n.refusedSource, n.shed)
	return n
}

// shedLoad refuses a store API request at once, 503 service_unavailable with Retry-After,
// when MaxInFlight are already in progress: before its token is read, its key claimed or
// anything written, so the till's retry with the same Idempotency-Key is a first attempt.
// Past its capacity payhub had queued every request: each held its memory while it
// waited, the collector ran harder under the soft memory limit the fuller the heap, and
// the instance served ever fewer — at 1,900 req/s on SQLite, 480 with 8 s answers, and it
// stayed slow after the load fell back to half. Shed, it serves its capacity and answers
// the rest in microseconds.
func (n *netPolicy) shedLoad() gin.HandlerFunc {
	if n.inFlight == nil {
		return func(c *gin.Context) { c.Next() }
	}
	return func(c *gin.Context) {
		select {
		case n.inFlight <- struct{}{}:
			defer func() { <-n.inFlight }()
			c.Next()
		default:
			n.shed.Inc()
			writeProblem(c, &contracts.Error{Code: contracts.CodeServiceUnavailable, RetryAfter: time.Second,
				Detail: "payhub is at capacity right now and did nothing with this request; retry after Retry-After seconds with the same Idempotency-Key."})
		}
	}
}

// trustedProxies are the policy's trusted proxies as gin takes them.
func (n *netPolicy) trustedProxies() []string {
	var out []string
	for _, p := range n.cfg.TrustedProxies {
		out = append(out, p.Masked().String())
	}
	return out
}

// source is the request's source address: the TCP peer, or, behind a trusted proxy, the
// right-most X-Forwarded-For hop that is not one (gin's ClientIP with the engine's
// trusted-proxy list, set explicitly in New).
func source(c *gin.Context) netip.Addr {
	a, err := netip.ParseAddr(c.ClientIP())
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// sourceAllowed reports whether a is inside one of networks; no networks allow any source.
func sourceAllowed(networks []netip.Prefix, a netip.Addr) bool {
	if len(networks) == 0 {
		return true
	}
	for _, p := range networks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// writeRetryLater answers 429 rate_limited with Retry-After: the wait, in whole seconds,
// at least one.
func writeRetryLater(c *gin.Context, detail string, wait time.Duration) {
	c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	e := &contracts.Error{Code: contracts.CodeRateLimited, Detail: detail}
	c.Data(http.StatusTooManyRequests, "application/problem+json", render.ProblemAt(c.Request.Context(), e, http.StatusTooManyRequests))
	c.Abort()
}

// beforeAuth refuses a source address cooling down after too many bad tokens, before the
// token is parsed or any key is looked up (docs/security.md §2 and §6). It reports whether
// the request may go on.
func (n *netPolicy) beforeAuth(c *gin.Context, src netip.Addr) bool {
	if n.failures == nil {
		return true
	}
	if wait, blocked := n.failures.blocked(sourcePrefix(src), n.now()); blocked {
		n.throttled.Inc()
		writeRetryLater(c, "Too many failed authentications from this address; try again later.", wait)
		return false
	}
	return true
}

// authFailed counts a refused token (401) against its source address.
func (n *netPolicy) authFailed(src netip.Addr) bool {
	if n.failures == nil {
		return false
	}
	return n.failures.strike(sourcePrefix(src), n.now(), n.cfg.Cooldown)
}

// afterAuth applies the client's allowlist (403 ip_not_allowed) and then its rate limit
// (429 rate_limited): a refused source does not spend the client's requests. It reports
// whether the request may go on.
func (n *netPolicy) afterAuth(c *gin.Context, src netip.Addr, p auth.Principal) bool {
	if !sourceAllowed(p.SourceAllowlist, src) {
		n.refusedSource.WithLabelValues(p.ClientID).Inc()
		writeProblem(c, contracts.Errorf(contracts.CodeIPNotAllowed, "This client may not call payhub from this address."))
		return false
	}
	if n.clients == nil {
		return true
	}
	if wait, ok := n.clients.take(p.ClientID, n.now()); !ok {
		n.limited.WithLabelValues(p.ClientID).Inc()
		writeRetryLater(c, "Too many requests from this client; slow down.", wait)
		return false
	}
	return true
}
