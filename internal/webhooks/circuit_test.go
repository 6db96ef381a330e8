package webhooks_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/ids"
	"payhub/internal/webhooks"
)

// An endpoint that keeps failing is backed off by its circuit (on the injected clock): five
// failures in a row open it for 30 s, during which its deliveries wait — not sent, no
// attempt counted — while the store's healthy endpoint gets every event at once; then one
// trial at a time; once the endpoint answers again, everything it missed arrives.
func TestCircuitBacksOffAFailingEndpoint(t *testing.T) {
	f := newFixture(t)
	var down atomic.Bool
	down.Store(true)
	failing, ep := f.endpoint(func(int) (int, http.Header) {
		if down.Load() {
			return http.StatusInternalServerError, nil
		}
		return http.StatusNoContent, nil
	})
	healthy, _ := f.endpoint(func(int) (int, http.Header) { return http.StatusNoContent, nil })
	ctx := context.Background()
	pass := func() {
		t.Helper()
		if _, err := f.d.DeliverOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	requests := func() int {
		failing.mu.Lock()
		defer failing.mu.Unlock()
		return failing.requests
	}

	f.events(10)
	for range 4 {
		pass()
	}
	if n := requests(); n < webhooks.DefaultCircuit.Failures || n > webhooks.DefaultCircuit.Failures+webhooks.DefaultPerEndpoint {
		t.Fatalf("the failing endpoint got %d sends before its circuit opened, want %d and the few in flight with the last",
			n, webhooks.DefaultCircuit.Failures)
	}
	opened := requests()
	f.events(5)
	for range 3 {
		pass()
	}
	if n := requests(); n != opened {
		t.Fatalf("the open circuit let %d sends through", n-opened)
	}
	if len(healthy.accepted) != 15 {
		t.Fatalf("the store's healthy endpoint got %d of 15 events while the other's circuit was open", len(healthy.accepted))
	}
	// The wait is over: one trial, and while it fails the circuit opens again, for longer.
	f.clock.Set(f.clock.Now().Add(webhooks.DefaultCircuit.Open + time.Second))
	pass()
	pass()
	if n := requests(); n != opened+1 {
		t.Fatalf("half-open: %d sends, want one trial", n-opened)
	}
	f.clock.Set(f.clock.Now().Add(webhooks.DefaultCircuit.Open + time.Second))
	pass()
	if n := requests(); n != opened+1 {
		t.Fatalf("the circuit reopened for %s only", webhooks.DefaultCircuit.Open)
	}
	// The endpoint is back: the next trial succeeds, the circuit closes, and every event it
	// missed arrives (once each), the ones that failed on their schedule.
	down.Store(false)
	f.clock.Set(f.clock.Now().Add(webhooks.DefaultCircuit.MaxOpen))
	f.deliverUntilIdle(30)
	if len(failing.accepted) != 15 {
		t.Fatalf("after the outage the endpoint has %d of 15 events", len(failing.accepted))
	}
	got, _ := f.store.GetWebhookEndpoint(ctx, "store-1", ep.ID)
	if got.Status != contracts.EndpointEnabled {
		t.Fatalf("endpoint %s", got.Status)
	}
}

// A dead endpoint's circuit holds its deliveries back, and still the endpoint is disabled
// after about three days, as docs/api.md §8.5 says: each trial is the delivery that failed
// most, so the oldest runs out its schedule however many wait behind it.
func TestDeadEndpointBehindItsCircuitIsStillDisabled(t *testing.T) {
	f := newFixture(t)
	r, ep := f.endpoint(func(int) (int, http.Header) { return http.StatusBadGateway, nil })
	ctx := context.Background()
	start := f.clock.Now()
	var disabledAt time.Time
	for pass := 0; pass < 3000 && disabledAt.IsZero(); pass++ {
		if pass%10 == 0 {
			f.events(1) // the store keeps paying: more deliveries queue behind the circuit
		}
		n, err := f.d.DeliverOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := f.store.GetWebhookEndpoint(ctx, "store-1", ep.ID); got.Status == contracts.EndpointDisabled {
			disabledAt = f.clock.Now()
		}
		if n == 0 {
			f.clock.Set(f.clock.Now().Add(webhooks.DefaultCircuit.MaxOpen))
		}
	}
	if disabledAt.IsZero() {
		t.Fatalf("never disabled after %s", f.clock.Now().Sub(start))
	}
	if d := disabledAt.Sub(start); d < 68*time.Hour || d > 100*time.Hour {
		t.Fatalf("disabled after %s, want about 75 h", d)
	}
	r.mu.Lock()
	sends := r.requests
	r.mu.Unlock()
	if sends > 1500 {
		t.Fatalf("%d sends to a dead endpoint in %s: its circuit did not hold them back", sends, disabledAt.Sub(start))
	}
	t.Logf("%d events queued, %d sends, disabled after %s", len(f.eventIDs), sends, disabledAt.Sub(start).Round(time.Minute))
}

// GET /v1/events/{id}/attempts shows a store coarse classes of failed sends, never the dial
// error itself (payhub's resolver, addresses, the guard's reasons); those go to the log.
func TestAttemptsShowClassesNotDialErrors(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String() + "/hooks"
	closed.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer busy.Close()

	demo := webhooks.NewClient(webhooks.Guard{AllowLoopback: true})
	quick := webhooks.NewClient(webhooks.Guard{AllowLoopback: true})
	quick.Timeout = 200 * time.Millisecond
	for _, c := range []struct {
		name, url string
		client    *http.Client
		want      string
	}{
		{"a URL that resolves inward", "http://localhost:" + strings.TrimPrefix(busy.URL, "http://127.0.0.1:"), webhooks.NewClient(webhooks.Guard{}), "address_refused"},
		{"nothing listening", closedURL, demo, "connection_failed"},
		{"no answer in time", slow.URL, quick, "timeout"},
		{"a certificate payhub does not trust", tlsSrv.URL, demo, "tls_error"},
		{"503", busy.URL, demo, "http_503"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.d = webhooks.NewDeliverer(webhooks.DelivererConfig{Store: f.store, Clock: f.clock, IDs: ids.New(f.clock), Owner: "test",
				Client: c.client, APIVersion: contracts.APIVersion})
			now := f.clock.Now()
			target := contracts.WebhookEndpoint{ID: ids.New(f.clock).New(contracts.PrefixWebhookEndpoint), StoreID: "store-1",
				ClientID: "pos-1", URL: c.url, Status: contracts.EndpointEnabled, CreatedAt: now, UpdatedAt: now}
			secret, _ := webhooks.NewSecret()
			if err := f.store.InTx(context.Background(), func(tx contracts.Tx) error {
				return tx.CreateWebhookEndpoint(context.Background(), target, contracts.WebhookSecret{EndpointID: target.ID, Secret: string(secret), CreatedAt: now})
			}); err != nil {
				t.Fatal(err)
			}
			id := f.events(1)[0]
			if _, err := f.d.DeliverOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			attempts, err := f.store.ListDeliveryAttempts(context.Background(), "store-1", id)
			if err != nil || len(attempts) != 1 {
				t.Fatalf("attempts %+v, %v", attempts, err)
			}
			if got := attempts[0].Error; got != c.want {
				t.Fatalf("the store sees %q, want %q", got, c.want)
			}
		})
	}
}
