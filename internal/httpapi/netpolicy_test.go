package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/httpapi"
)

// countingStore counts the key lookups of kids starting with "bad-": the database reads a
// flood of made-up kids would cost.
type countingStore struct {
	contracts.Store
	badLookups atomic.Int64
}

func (s *countingStore) LookupClientKey(ctx context.Context, kid string) (contracts.ClientKey, contracts.StoreClient, error) {
	if strings.HasPrefix(kid, "bad-") {
		s.badLookups.Add(1)
	}
	return s.Store.LookupClientKey(ctx, kid)
}

// badToken is a well-formed token naming a made-up kid, with a random signature: it passes
// every check before the key lookup.
func badToken(i int) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString(fmt.Appendf(nil, `{"alg":"EdDSA","kid":"bad-%d","typ":"JWT"}`, i))
	payload := enc.EncodeToString(fmt.Appendf(nil, `{"iss":"attacker","aud":"payhub","iat":%d,"exp":%d,"jti":"j%d","store":"store-a"}`,
		time.Now().Unix(), time.Now().Add(time.Minute).Unix(), i))
	sig := make([]byte, 64)
	_, _ = rand.Read(sig)
	return header + "." + payload + "." + enc.EncodeToString(sig)
}

// clientFrom is an HTTP client whose connections leave from the loopback address local
// (Linux routes all of 127/8 to lo).
func clientFrom(local string, conns int) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext,
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns}}
}

// get sends GET path with token and reads the answer.
func get(t *testing.T, c *http.Client, url, token string) (int, http.Header, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// TestBadTokenFloodIsThrottled is issue 17's measurement (docs/security.md §6): a bounded
// burst of 10,000 bad tokens with made-up kids from 127.0.0.2, 16 connections at once, is
// throttled after the first failures without a key lookup per request, while a good client
// on 127.0.0.3 keeps getting 2xx with p99 under 50 ms. Everything is at serve's defaults
// (KeyTTL, the bad-token throttle) but the per-client limit, raised so the good client can
// send back to back and its p99 rests on hundreds of samples; all through real HTTP and the
// real router.
func TestBadTokenFloodIsThrottled(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		counting := &countingStore{Store: st}
		e := newEnvWith(t, counting, nil, func(c *app.Config) {
			c.KeyTTL = auth.DefaultKeyTTL
			c.Network = httpapi.NetworkPolicy{ClientRate: 10_000, ClientBurst: 10_000}
		})
		const burst, workers = 10_000, 16
		tokens := make([]string, burst+1) // minted beforehand: the flood's CPU is payhub's
		for i := range tokens {
			tokens[i] = badToken(i)
		}
		listURL := e.url + "/v1/payments"
		good := clientFrom("127.0.0.3", 1)
		goodToken := e.token(e.a)

		var statuses sync.Map // status → *atomic.Int64
		count := func(status int) {
			v, _ := statuses.LoadOrStore(status, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		}
		var missingRetryAfter atomic.Int64
		next := atomic.Int64{}
		bad := clientFrom("127.0.0.2", workers)
		start := time.Now()
		var flood sync.WaitGroup
		for range workers {
			flood.Go(func() {
				for {
					i := int(next.Add(1))
					if i > burst {
						return
					}
					status, h, err := get(t, bad, listURL, tokens[i])
					if err != nil {
						count(-1)
						continue
					}
					count(status)
					if status == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
						missingRetryAfter.Add(1)
					}
				}
			})
		}
		floodDone := make(chan struct{})
		go func() { flood.Wait(); close(floodDone) }()

		// The good client, back to back, until the flood is over and at least 500 requests
		// were timed.
		var latencies []time.Duration
		goodFailures, duringFlood := 0, 0
		for done := false; !done || len(latencies) < 500; {
			select {
			case <-floodDone:
				done = true
			default:
				duringFlood++
			}
			t0 := time.Now()
			status, _, err := get(t, good, listURL, goodToken)
			latencies = append(latencies, time.Since(t0))
			if err != nil || status/100 != 2 {
				goodFailures++
				t.Errorf("good client: status %d, %v", status, err)
			}
		}
		floodTime := time.Since(start)
		slices.Sort(latencies)
		p50, p99 := latencies[len(latencies)/2], latencies[len(latencies)*99/100]
		got := map[int]int64{}
		statuses.Range(func(k, v any) bool { got[k.(int)] = v.(*atomic.Int64).Load(); return true })
		t.Logf("bad tokens: %d from 127.0.0.2 over %d connections in %s: %v (status → count); key lookups for their kids: %d",
			burst, workers, floodTime.Round(time.Millisecond), got, counting.badLookups.Load())
		t.Logf("good client on 127.0.0.3: %d requests (%d during the flood), %d not 2xx, p50 %s, p99 %s, max %s",
			len(latencies), duringFlood, goodFailures, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), latencies[len(latencies)-1].Round(10*time.Microsecond))

		// Each 401 cost one lookup (every kid is new); the throttle stops them after the
		// burst of failures (20), give or take the requests in flight when it closed.
		maxLookups := int64(httpapi.DefaultNetworkPolicy.FailureBurst + workers)
		if n := counting.badLookups.Load(); n > maxLookups {
			t.Errorf("%d key lookups for %d bad tokens, want at most %d", n, burst, maxLookups)
		}
		if got[http.StatusUnauthorized] > maxLookups || got[http.StatusTooManyRequests] < burst-maxLookups {
			t.Errorf("statuses %v: want at most %d × 401 and the rest 429", got, maxLookups)
		}
		if n := missingRetryAfter.Load(); n > 0 {
			t.Errorf("%d × 429 without Retry-After", n)
		}
		// The bound is a measurement of this machine's speed: checked without the race
		// detector (go test -count=1 -run TestBadTokenFloodIsThrottled ./internal/httpapi/),
		// logged under it, where every request costs several times the CPU.
		if p99 >= 50*time.Millisecond && !raceEnabled {
			t.Errorf("good client's p99 %s, want under 50 ms", p99)
		}
		// The throttled address is refused even with a good token, before it is parsed.
		status, h, err := get(t, bad, listURL, goodToken)
		if err != nil || status != http.StatusTooManyRequests {
			t.Fatalf("a good token from the throttled address: %d, %v; want 429", status, err)
		}
		if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra < 1 || ra > 60 {
			t.Errorf("Retry-After %q, want 1..60 s (the cool-down's rest)", h.Get("Retry-After"))
		}
		if m := e.metrics(); !strings.Contains(m, "payhub_auth_throttled_total") {
			t.Error("payhub_auth_throttled_total is not exported")
		}
	})
}

// TestClientRateLimit: a store client past its token bucket gets 429 rate_limited with
// Retry-After; another client is not affected (docs/security.md §6).
func TestClientRateLimit(t *testing.T) {
	e := newEnvWith(t, nil, nil, func(c *app.Config) {
		c.Network = httpapi.NetworkPolicy{ClientRate: 0.5, ClientBurst: 3}
	})
	tok := e.token(e.a)
	for range 3 {
		expectStatus(t, e.do(http.MethodGet, "/v1/payments", tok, "", nil), http.StatusOK, "")
	}
	r := e.do(http.MethodGet, "/v1/payments", tok, "", nil)
	expectStatus(t, r, http.StatusTooManyRequests, "rate_limited")
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 || ra > 2 {
		t.Errorf("Retry-After %q, want 1..2 (one request every 2 s)", r.header.Get("Retry-After"))
	}
	expectStatus(t, e.do(http.MethodGet, "/v1/payments", e.token(e.b), "", nil), http.StatusOK, "")
	if m := e.metrics(); !strings.Contains(m, `payhub_client_rate_limited_total{client_id="pos-a"} 1`) {
		t.Errorf("the refusal is not counted:\n%s", grepLines(m, "rate_limited"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// serveFrom sends GET /v1/payments through the real router as if from remote (host:port),
// with an optional X-Forwarded-For.
func serveFrom(e *testEnv, token, remote, xff string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/v1/payments", nil)
	req.RemoteAddr = remote
	req.Header.Set("Authorization", "Bearer "+token)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	rec := httptest.NewRecorder()
	e.app.Handler.ServeHTTP(rec, req)
	return rec
}

// TestSourceAllowlist: a client with an allowlist is served from inside it only, IPv4 and
// IPv6; outside → 403 ip_not_allowed, counted; a client without one is served from
// anywhere (docs/security.md §6).
func TestSourceAllowlist(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		if err := e.app.Store.SetClientSourceAllowlist(ctx, "pos-a", []netip.Prefix{
			netip.MustParsePrefix("127.0.0.2/32"), netip.MustParsePrefix("2001:db8:1::/48")}); err != nil {
			t.Fatal(err)
		}
		tok := e.token(e.a)
		// Real HTTP over loopback: 127.0.0.1 (the default) is outside, 127.0.0.2 inside.
		expectStatus(t, e.do(http.MethodGet, "/v1/payments", tok, "", nil), http.StatusForbidden, "ip_not_allowed")
		if status, _, err := get(t, clientFrom("127.0.0.2", 1), e.url+"/v1/payments", tok); err != nil || status != http.StatusOK {
			t.Fatalf("from 127.0.0.2: %d, %v; want 200", status, err)
		}
		for _, c := range []struct {
			remote string
			want   int
		}{
			{"[2001:db8:1:ffff::5]:40000", http.StatusOK},
			{"[2001:db8:2::5]:40000", http.StatusForbidden},
			{"[::ffff:127.0.0.2]:40000", http.StatusOK}, // a v4-mapped peer is its v4 address
			{"192.0.2.1:40000", http.StatusForbidden},
		} {
			if rec := serveFrom(e, tok, c.remote, ""); rec.Code != c.want {
				t.Errorf("from %s: %d, want %d: %s", c.remote, rec.Code, c.want, rec.Body)
			}
		}
		// pos-b has no allowlist: any source.
		if rec := serveFrom(e, e.token(e.b), "[2001:db8:2::5]:40000", ""); rec.Code != http.StatusOK {
			t.Errorf("pos-b from anywhere: %d: %s", rec.Code, rec.Body)
		}
		// No proxy is trusted: X-Forwarded-For is ignored.
		if rec := serveFrom(e, tok, "192.0.2.1:40000", "127.0.0.2"); rec.Code != http.StatusForbidden {
			t.Errorf("an untrusted X-Forwarded-For was believed: %d", rec.Code)
		}
		if m := e.metrics(); !strings.Contains(m, `payhub_client_source_refused_total{client_id="pos-a"} 4`) {
			t.Errorf("refusals not counted:\n%s", grepLines(m, "source_refused"))
		}
		// Clearing the list serves any source again.
		if err := e.app.Store.SetClientSourceAllowlist(ctx, "pos-a", nil); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, e.do(http.MethodGet, "/v1/payments", tok, "", nil), http.StatusOK, "")
	})
}

// TestSourceBehindTrustedProxy: behind a configured trusted proxy the source is the
// right-most X-Forwarded-For hop that is not a trusted proxy; a peer that is not trusted
// is the source whatever it forwards (docs/security.md §6).
func TestSourceBehindTrustedProxy(t *testing.T) {
	e := newEnvWith(t, nil, nil, func(c *app.Config) {
		c.Network.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")}
	})
	if err := e.app.Store.SetClientSourceAllowlist(context.Background(), "pos-a", []netip.Prefix{
		netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:1::/48")}); err != nil {
		t.Fatal(err)
	}
	tok := e.token(e.a)
	for _, c := range []struct {
		remote, xff string
		want        int
	}{
		{"10.0.0.5:1234", "203.0.113.9", http.StatusOK},
		{"10.0.0.5:1234", "198.51.100.1, 203.0.113.9, 10.0.0.7", http.StatusOK}, // a chain of trusted proxies
		{"10.0.0.5:1234", "203.0.113.9, 198.51.100.1", http.StatusForbidden},    // the right-most untrusted hop
		{"[fd00::1]:1234", "2001:db8:1::9", http.StatusOK},
		{"[fd00::1]:1234", "2001:db8:2::9", http.StatusForbidden},
		{"198.51.100.1:1234", "203.0.113.9", http.StatusForbidden}, // not a trusted proxy
		{"10.0.0.5:1234", "", http.StatusForbidden},                // the proxy itself is not allowed
	} {
		if rec := serveFrom(e, tok, c.remote, c.xff); rec.Code != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %d, want %d: %s", c.remote, c.xff, rec.Code, c.want, rec.Body)
		}
	}
}

// TestBadTokenThrottleIsPerAddress: past the failure bound an address (an IPv6 /64) gets
// 429 while another address, and another /64, are still served and still get 401 for bad
// tokens.
func TestBadTokenThrottleIsPerAddress(t *testing.T) {
	e := newEnvWith(t, nil, nil, func(c *app.Config) {
		c.Network = httpapi.NetworkPolicy{FailuresPerMinute: 5, FailureBurst: 5, Cooldown: 30 * time.Second}
	})
	bad := badToken(1)
	for i := range 5 {
		if rec := serveFrom(e, bad, fmt.Sprintf("[2001:db8:7::%x]:1", i+1), ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, rec.Code)
		}
	}
	rec := serveFrom(e, bad, "[2001:db8:7::99]:1", "") // same /64: the sixth failure starts the cool-down
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("sixth failure: %d, want 401", rec.Code)
	}
	rec = serveFrom(e, e.token(e.a), "[2001:db8:7::1]:1", "")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "30" {
		t.Fatalf("throttled /64 with a good token: %d, Retry-After %q; want 429, 30", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := serveFrom(e, e.token(e.a), "[2001:db8:8::1]:1", ""); rec.Code != http.StatusOK {
		t.Errorf("another /64: %d, want 200", rec.Code)
	}
	if rec := serveFrom(e, bad, "192.0.2.1:1", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("another address with a bad token: %d, want 401", rec.Code)
	}
}

// TestAtCapacityARequestIsShedAtOnce: with as many store API requests in progress as
// MaxInFlight, the next one is answered 503 service_unavailable with Retry-After at once,
// before anything is done with it (its Idempotency-Key stays unused), and counted; once
// the request in progress ends, requests are served again.
func TestAtCapacityARequestIsShedAtOnce(t *testing.T) {
	gate := newPartnerGate()
	e := newEnvWithPartner(t, nil, gate.wrap, func(c *app.Config) { c.Network = httpapi.NetworkPolicy{MaxInFlight: 1} })
	releaseOnce := sync.OnceFunc(func() { close(gate.release) })
	defer releaseOnce() // never leave the partner blocked: the servers' Close waits for it
	tok := e.token(e.a)
	held := make(chan response, 1)
	go func() { held <- e.do(http.MethodPost, "/v1/payments", tok, "held-1", barcodePayment(500, barcodeOK)) }()
	<-gate.arrived

	second := barcodePayment(700, barcodeOK)
	second["order_id"] = "order-2"
	r := e.do(http.MethodPost, "/v1/payments", tok, "shed-1", second)
	expectStatus(t, r, http.StatusServiceUnavailable, "service_unavailable")
	if ra := r.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	releaseOnce()
	expectStatus(t, <-held, http.StatusCreated, "")
	// The shed request did nothing: its key is a first attempt now.
	if r := e.do(http.MethodPost, "/v1/payments", tok, "shed-1", second); r.status != http.StatusCreated || replayed(r) {
		t.Errorf("the shed request again: %d (replayed %v) %s, want a first 201", r.status, replayed(r), r.body)
	}
	if m := e.metrics(); !strings.Contains(m, "payhub_requests_shed_total 1") {
		t.Errorf("the shed request is not counted:\n%s", grepLines(m, "shed"))
	}
}
