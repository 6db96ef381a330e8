package webhooks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
	"payhub/internal/webhooks"
)

// hangingServer is a server that answers nothing: every request waits until the test ends
// (or the deliverer gives up on it). It counts the requests it holds at once.
type hangingServer struct {
	release chan struct{}

	mu            sync.Mutex
	held, maxHeld int
	total         int
}

func (h *hangingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Reading the body to its end lets the server notice when the deliverer hangs up.
	_, _ = io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	h.held++
	h.total++
	h.maxHeld = max(h.maxHeld, h.held)
	h.mu.Unlock()
	select {
	case <-h.release:
	case <-r.Context().Done():
	}
	h.mu.Lock()
	h.held--
	h.mu.Unlock()
	w.WriteHeader(http.StatusServiceUnavailable)
}

func (h *hangingServer) stats() (maxHeld, total int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxHeld, h.total
}

// arrivals is a healthy store's receiver: it notes when each event first arrived, and
// signals each arrival on got.
type arrivals struct {
	got chan struct{}

	mu      sync.Mutex
	at      map[string]time.Time
	repeats int
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	id := r.Header.Get(webhooks.HeaderID)
	a.mu.Lock()
	if _, seen := a.at[id]; seen {
		a.repeats++
	} else {
		a.at[id] = now
	}
	a.mu.Unlock()
	select {
	case a.got <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

// attackStore is a store for the fairness tests: its endpoints and a payment its events
// are about.
type attackStore struct {
	st      contracts.Store
	gen     *ids.Generator
	storeID string
	payment string
	seq     int64
}

func newAttackStore(t *testing.T, st contracts.Store, storeID string, urls []string) *attackStore {
	t.Helper()
	ctx := context.Background()
	a := &attackStore{st: st, gen: ids.New(contracts.SystemClock{}), storeID: storeID}
	now := time.Now().UTC()
	p := contracts.Payment{ID: a.gen.New(contracts.PrefixPayment), StoreID: storeID, ClientID: "pos-" + storeID,
		Method: contracts.MethodPayPay, Flow: contracts.FlowBarcode, Amount: contracts.Money{Amount: 500, Currency: contracts.JPY},
		Status: contracts.StatusProcessing, CaptureMethod: contracts.CaptureAutomatic, Attempt: 1, PartnerRef: storeID + "_1",
		CreatedAt: now, UpdatedAt: now}
	a.payment = p.ID
	err := st.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.InsertPayment(ctx, p); err != nil {
			return err
		}
		// Written directly, as endpoints made before the per-store limit existed: the
		// deliverer must hold even past the limit the API now enforces.
		for _, u := range urls {
			secret, err := webhooks.NewSecret()
			if err != nil {
				return err
			}
			ep := contracts.WebhookEndpoint{ID: a.gen.New(contracts.PrefixWebhookEndpoint), StoreID: storeID, ClientID: "pos-" + storeID,
				URL: u, Status: contracts.EndpointEnabled, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateWebhookEndpoint(ctx, ep, contracts.WebhookSecret{EndpointID: ep.ID, Secret: string(secret), CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// event appends one event (fanned out to every endpoint of the store) and returns its id
// and when it was committed.
func (a *attackStore) event(t *testing.T) (string, time.Time) {
	a.seq++
	e := contracts.Event{ID: a.gen.New(contracts.PrefixEvent), Type: contracts.EventPaymentProcessing, StoreID: a.storeID,
		PaymentID: a.payment, Sequence: a.seq, CreatedAt: time.Now().UTC()}
	e.Payload = fmt.Appendf(nil, `{"id":%q,"type":"payment.processing","data":{"sequence":%d,"object":{}}}`, e.ID, a.seq)
	if err := a.st.InTx(context.Background(), func(tx contracts.Tx) error { return tx.AppendEvent(context.Background(), e) }); err != nil {
		t.Error(err)
	}
	return e.ID, time.Now()
}

// attack is one run of issue 15's attack: a store with 48 endpoints on a server that
// hangs, a queue already full of its deliveries, and its events and a healthy store's
// arriving together.
type attack struct {
	cfg      webhooks.DelivererConfig
	interval time.Duration
	// load is how long both stores keep sending events; wait how long the healthy store's
	// events may take to arrive after that.
	load, wait time.Duration
}

type attackResult struct {
	latencies []time.Duration // of the healthy store's events, sorted; missing ones count as the whole run
	missing   int
	repeats   int
	maxHeld   int // the most requests the hanging server held at once
	hostile   int // requests the hanging server got
}

func (r attackResult) p99() time.Duration {
	return r.latencies[(len(r.latencies)*99+99)/100-1]
}

func runAttack(t *testing.T, st contracts.Store, at attack) attackResult {
	hang := &hangingServer{release: make(chan struct{})}
	hangSrv := httptest.NewServer(hang)
	rcv := &arrivals{at: map[string]time.Time{}, got: make(chan struct{}, 1)}
	rcvSrv := httptest.NewServer(rcv)
	var urls []string
	for i := range 48 {
		urls = append(urls, fmt.Sprintf("%s/hook/%d", hangSrv.URL, i))
	}
	hostile := newAttackStore(t, st, "store-hostile", urls)
	healthy := newAttackStore(t, st, "store-healthy", []string{rcvSrv.URL + "/hooks"})
	for range 20 { // a queue already holding 960 of the hostile store's deliveries
		hostile.event(t)
	}

	cfg := at.cfg
	cfg.Store, cfg.Clock, cfg.IDs, cfg.Owner = st, contracts.SystemClock{}, ids.New(contracts.SystemClock{}), "fairness-test"
	cfg.Client, cfg.APIVersion = webhooks.NewClient(webhooks.Guard{AllowLoopback: true}), contracts.APIVersion
	d := webhooks.NewDeliverer(cfg)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx, at.interval) }()
	defer func() {
		stop()
		close(hang.release)
		<-done
		hangSrv.Close()
		rcvSrv.Close()
	}()

	start := time.Now()
	sent := map[string]time.Time{}
	tick := time.NewTicker(50 * time.Millisecond)
	for n := 0; time.Since(start) < at.load; n++ {
		<-tick.C
		if n%2 == 0 {
			hostile.event(t) // 10 events a second, 480 deliveries
		}
		id, when := healthy.event(t) // 20 events a second
		sent[id] = when
	}
	tick.Stop()
	// Wait for the rest, each arrival waking the check, at most at.wait.
	deadline := time.NewTimer(at.wait)
	defer deadline.Stop()
	for waiting := true; waiting; {
		rcv.mu.Lock()
		n := len(rcv.at)
		rcv.mu.Unlock()
		if n >= len(sent) {
			break
		}
		select {
		case <-rcv.got:
		case <-deadline.C:
			waiting = false
		}
	}
	end := time.Now()
	var res attackResult
	rcv.mu.Lock()
	for id, when := range sent {
		arrived, ok := rcv.at[id]
		if !ok {
			res.missing++
			arrived = end
		}
		res.latencies = append(res.latencies, arrived.Sub(when))
	}
	res.repeats = rcv.repeats
	rcv.mu.Unlock()
	slices.Sort(res.latencies)
	res.maxHeld, res.hostile = hang.stats()
	return res
}

// Issue 15's attack: a store with 48 endpoints on a server that hangs must not delay
// another store's notifications. With the default bounds (4 sends in flight per endpoint, 8
// per store, 16 workers), the deliverer polling every second as `payhub serve` does, the
// hanging store holds at most 8 workers and the healthy store's notifications arrive within
// 2 s at the 99th percentile (real time: each event is timed from its commit to its
// arrival). Without the bounds, the same attack holds them back until the hanging sends
// time out (15 s).
func TestHangingStoreDoesNotDelayAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the attack for several seconds of real time")
	}
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			st := db.Open(t)
			res := runAttack(t, st, attack{interval: time.Second, load: 5 * time.Second, wait: 5 * time.Second})
			t.Logf("healthy store: %d events, p50 %s, p99 %s, max %s; hanging server: %d requests, at most %d at once",
				len(res.latencies), res.latencies[len(res.latencies)/2].Round(time.Millisecond), res.p99().Round(time.Millisecond),
				res.latencies[len(res.latencies)-1].Round(time.Millisecond), res.hostile, res.maxHeld)
			if res.missing > 0 || res.repeats > 0 {
				t.Errorf("healthy store: %d of %d events missing, %d sent twice", res.missing, len(res.latencies), res.repeats)
			}
			if p99 := res.p99(); p99 >= 2*time.Second {
				t.Errorf("healthy store's p99 is %s, want under 2 s", p99)
			}
			if res.maxHeld > webhooks.DefaultPerStore {
				t.Errorf("the hanging store had %d sends in flight at once, want at most %d", res.maxHeld, webhooks.DefaultPerStore)
			}
		})
	}
	t.Run("unbounded, as before the fix", func(t *testing.T) {
		st := storetest.OpenSQLite(t)
		res := runAttack(t, st, attack{cfg: webhooks.DelivererConfig{PerEndpoint: 1000, PerStore: 1000}, interval: time.Second,
			load: 2 * time.Second, wait: time.Second})
		t.Logf("without bounds: healthy p99 %s (%d of %d missing), hanging server held %d at once",
			res.p99().Round(time.Millisecond), res.missing, len(res.latencies), res.maxHeld)
		if res.p99() < 2*time.Second || res.maxHeld < 16 {
			t.Errorf("without bounds the attack should hold every worker and delay the healthy store: p99 %s, %d held", res.p99(), res.maxHeld)
		}
	})
}
