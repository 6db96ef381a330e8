package lab

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/auth"
)

// Several serve processes need a database they can share: SQLite is refused.
func TestCrashConfigRefusesSeveralInstancesWithoutPostgres(t *testing.T) {
	base := crashConfig{Payments: 1, Workers: 1, AbandonAfter: crashAbandonAfter}
	several := base
	several.Instances = 3
	if err := several.validate(); err == nil || !strings.Contains(err.Error(), "--instances 3 needs --db postgres://") {
		t.Fatalf("3 instances on SQLite: %v, want a refusal naming --db", err)
	}
	several.DB = "postgres://127.0.0.1/x"
	if err := several.validate(); err != nil {
		t.Fatalf("3 instances on PostgreSQL: %v", err)
	}
	for _, n := range []int{0, 1} { // 0: a config made without the flag
		one := base
		one.Instances = n
		if err := one.validate(); err != nil {
			t.Fatalf("%d instance(s) on SQLite: %v", n, err)
		}
	}
	negative := base
	negative.Instances = -1
	if err := negative.validate(); err == nil {
		t.Fatal("--instances -1 accepted")
	}
}

// The proxy spreads requests round-robin over the instances that are up, and answers a
// request it could not forward with a 5xx a till sends again.
func TestInstanceProxySpreadsOverLiveInstancesOnly(t *testing.T) {
	var slots []*serveSlot
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"instance": i + 1, "key": r.Header.Get("Idempotency-Key")})
		}))
		t.Cleanup(srv.Close)
		u, err := url.Parse(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		slot := &serveSlot{n: i + 1}
		slot.target.Store(u)
		slot.up.Store(true)
		slots = append(slots, slot)
	}
	p, err := startInstanceProxy(slots, filepath.Join(t.TempDir(), "proxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	tl := &till{baseURL: p.url, key: key, kid: "k", clientID: "c", storeID: "s", http: &http.Client{Timeout: 5 * time.Second}}
	ctx := context.Background()
	send := func() apiAnswer {
		t.Helper()
		ans, err := tl.once(ctx, http.MethodPost, "/v1/payments", "KEY1", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		return ans
	}

	slots[1].up.Store(false) // instance 2 is down: the others take every request
	seen := map[int64]int{}
	for range 6 {
		ans := send()
		if ans.status != http.StatusOK || ans.str("key") != "KEY1" {
			t.Fatalf("answer %d %v, want 200 with the Idempotency-Key passed on", ans.status, ans.body)
		}
		seen[ans.int64("instance")]++
	}
	if seen[1] != 3 || seen[3] != 3 || slots[1].requests.Load() != 0 {
		t.Fatalf("requests per instance %v (instance 2: %d), want 3 each to 1 and 3", seen, slots[1].requests.Load())
	}

	// Instance 3 dies without the proxy knowing yet: its share fails at the proxy.
	dead, _ := url.Parse("http://" + closedLoopbackAddr(t))
	slots[2].target.Store(dead)
	failed := 0
	for range 4 {
		if ans := send(); ans.status == http.StatusBadGateway {
			if !ans.retryable() || ans.str("code") != "proxy_error" {
				t.Fatalf("502 %v: a till must send it again", ans.body)
			}
			failed++
		}
	}
	if failed != 2 || p.failed.Load() != 2 {
		t.Fatalf("%d of 4 requests failed (proxy counted %d), want 2: every other one went to the dead instance", failed, p.failed.Load())
	}

	for _, s := range slots {
		s.up.Store(false)
	}
	if ans := send(); ans.status != http.StatusServiceUnavailable || !ans.retryable() {
		t.Fatalf("no instance up: %d %v, want a retryable 503", ans.status, ans.body)
	}
}

// closedLoopbackAddr is a loopback address nothing listens on.
func closedLoopbackAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestCrashHarnessThreeInstancesOnPostgres runs the crash harness with three serve
// processes on one PostgreSQL behind its proxy: real processes, SIGKILLs of seeded
// instances while the others serve, faults on a tenth of the partner calls.
func TestCrashHarnessThreeInstancesOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and kills them; skipped with -short")
	}
	dbURL := os.Getenv("PAYHUB_TEST_POSTGRES_URL")
	if dbURL == "" {
		t.Skip("PAYHUB_TEST_POSTGRES_URL not set")
	}
	bin := buildLab(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	report := runCrashHarness(t, ctx, bin, 6, "--instances", "3", "--payments", "200", "--refunds", "50", "--kills", "6",
		"--workers", "6", "--seed", "17", "--window", "90s", "--db", dbURL)
	// Every instance took requests; the kills hit instances while the others served, and
	// some requests in flight to a killed one failed at the proxy.
	m := regexp.MustCompile(`(?m)^instances:\s+3 behind the harness's proxy; requests (\d+) / (\d+) / (\d+); kills (\d+) / (\d+) / (\d+); (\d+) requests failed`).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("no instances line in the report")
	}
	kills := 0
	for i := 1; i <= 3; i++ {
		if m[i] == "0" {
			t.Errorf("instance %d took no request: %s", i, m[0])
		}
		k, _ := strconv.Atoi(m[3+i])
		kills += k
	}
	if kills != 6 {
		t.Errorf("kills per instance %v, want 6 in all", m[4:7])
	}
	m = regexp.MustCompile(`(?m)^payments created:\s+(\d+)`).FindStringSubmatch(report)
	if m == nil || m[1] == "0" {
		t.Errorf("payments created: got %v, want some", m)
	}
}
