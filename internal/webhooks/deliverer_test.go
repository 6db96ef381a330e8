package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
	"payhub/internal/webhooks"
)

// receiver is a store's webhook endpoint: it answers from a script, verifies every
// delivery with payhub's verifier and keeps what it accepted.
type receiver struct {
	t       *testing.T
	clock   *clock.Manual
	secrets []webhooks.Secret
	answer  func(n int) (status int, header http.Header) // n counts requests from 1

	mu       sync.Mutex
	requests int
	accepted map[string]int64 // webhook-id → data.sequence
	ids      []string         // accepted webhook-ids, in arrival order
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := webhooks.Verify(body, req.Header, r.clock.Now(), r.secrets...); err != nil {
		r.t.Errorf("delivery does not verify: %v", err)
	}
	r.mu.Lock()
	r.requests++
	n := r.requests
	r.mu.Unlock()
	status, h := r.answer(n)
	for k, v := range h {
		w.Header()[k] = v
	}
	if status/100 == 2 {
		var ev struct {
			Data struct {
				Sequence int64 `json:"sequence"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			r.t.Errorf("payload: %v", err)
		}
		r.mu.Lock()
		id := req.Header.Get("webhook-id")
		if _, dup := r.accepted[id]; !dup {
			r.ids = append(r.ids, id)
		}
		r.accepted[id] = ev.Data.Sequence
		r.mu.Unlock()
	}
	w.WriteHeader(status)
}

type fixture struct {
	t        *testing.T
	eventIDs []string
	store    contracts.Store
	clock    *clock.Manual
	d        *webhooks.Deliverer
	p        contracts.Payment
}

func newFixture(t *testing.T) *fixture {
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Second))
	st := storetest.OpenSQLite(t)
	f := &fixture{t: t, store: st, clock: clk}
	f.d = webhooks.NewDeliverer(webhooks.DelivererConfig{Store: st, Clock: clk, IDs: ids.New(clk), Owner: "test",
		Client: webhooks.NewClient(webhooks.Guard{AllowLoopback: true}), APIVersion: contracts.APIVersion})
	f.p = contracts.Payment{ID: ids.New(clk).New(contracts.PrefixPayment), StoreID: "store-1", ClientID: "pos-1",
		Method: contracts.MethodPayPay, Flow: contracts.FlowBarcode, Amount: contracts.Money{Amount: 500, Currency: contracts.JPY},
		Status: contracts.StatusProcessing, CaptureMethod: contracts.CaptureAutomatic, Attempt: 1, PartnerRef: "x_1",
		CreatedAt: clk.Now(), UpdatedAt: clk.Now()}
	if err := st.InTx(context.Background(), func(tx contracts.Tx) error { return tx.InsertPayment(context.Background(), f.p) }); err != nil {
		t.Fatal(err)
	}
	return f
}

// endpoint registers a receiver for store-1 and returns it with the endpoint.
func (f *fixture) endpoint(answer func(int) (int, http.Header)) (*receiver, contracts.WebhookEndpoint) {
	secret, err := webhooks.NewSecret()
	if err != nil {
		f.t.Fatal(err)
	}
	r := &receiver{t: f.t, clock: f.clock, secrets: []webhooks.Secret{secret}, answer: answer, accepted: map[string]int64{}}
	srv := httptest.NewServer(r)
	f.t.Cleanup(srv.Close)
	now := f.clock.Now()
	ep := contracts.WebhookEndpoint{ID: ids.New(f.clock).New(contracts.PrefixWebhookEndpoint), StoreID: "store-1", ClientID: "pos-1",
		URL: srv.URL + "/hooks", Status: contracts.EndpointEnabled, CreatedAt: now, UpdatedAt: now}
	if err := f.store.InTx(context.Background(), func(tx contracts.Tx) error {
		return tx.CreateWebhookEndpoint(context.Background(), ep, contracts.WebhookSecret{EndpointID: ep.ID, Secret: string(secret), CreatedAt: now})
	}); err != nil {
		f.t.Fatal(err)
	}
	return r, ep
}

// events appends n more events about the payment, its sequence going on from the last.
func (f *fixture) events(n int) []string {
	var out []string
	for i := len(f.eventIDs) + 1; i <= len(f.eventIDs)+n; i++ {
		e := contracts.Event{ID: ids.New(f.clock).New(contracts.PrefixEvent), Type: contracts.EventPaymentSucceeded,
			StoreID: "store-1", PaymentID: f.p.ID, Sequence: int64(i), CreatedAt: f.clock.Now()}
		e.Payload = fmt.Appendf(nil, `{"id":%q,"type":"payment.succeeded","data":{"sequence":%d,"object":{}}}`, e.ID, i)
		if err := f.store.InTx(context.Background(), func(tx contracts.Tx) error { return tx.AppendEvent(context.Background(), e) }); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, e.ID)
	}
	f.eventIDs = append(f.eventIDs, out...)
	return out
}

// deliverUntilIdle runs passes, moving the clock to the next due delivery of the
// fixture's events each time, until none is pending or maxPasses ran.
func (f *fixture) deliverUntilIdle(maxPasses int) {
	ctx := context.Background()
	for range maxPasses {
		if _, err := f.d.DeliverOnce(ctx); err != nil {
			f.t.Fatal(err)
		}
		var next time.Time
		for _, id := range f.eventIDs {
			ds, err := f.store.ListDeliveries(ctx, id)
			if err != nil {
				f.t.Fatal(err)
			}
			for _, d := range ds {
				if d.Status == contracts.DeliveryPending && (next.IsZero() || d.NextAt.Before(next)) {
					next = d.NextAt
				}
			}
		}
		if next.IsZero() {
			if _, err := f.d.DeliverOnce(ctx); err != nil { // events the test does not know of, due now
				f.t.Fatal(err)
			}
			return
		}
		if next.After(f.clock.Now()) {
			f.clock.Set(next)
		}
	}
	f.t.Fatalf("deliveries still pending after %d passes", maxPasses)
}

// A receiver that fails three times, then succeeds, gets every event; it restores their
// order from data.sequence whatever order they arrived in.
func TestReceiverThatFailsThreeTimesGetsEveryEvent(t *testing.T) {
	f := newFixture(t)
	r, ep := f.endpoint(func(n int) (int, http.Header) {
		if n <= 3 {
			return http.StatusInternalServerError, nil
		}
		return http.StatusNoContent, nil
	})
	ids := f.events(8)
	f.deliverUntilIdle(20)
	if len(r.accepted) != len(ids) {
		t.Fatalf("receiver has %d of %d events", len(r.accepted), len(ids))
	}
	bySeq := slices.Clone(r.ids)
	slices.SortFunc(bySeq, func(a, b string) int { return int(r.accepted[a] - r.accepted[b]) })
	if !slices.Equal(bySeq, ids) {
		t.Fatalf("order restored from sequence %v, want %v", bySeq, ids)
	}
	var failures int
	for _, id := range ids {
		attempts, err := f.store.ListDeliveryAttempts(context.Background(), "store-1", id)
		if err != nil || len(attempts) == 0 || attempts[len(attempts)-1].HTTPStatus != http.StatusNoContent || attempts[0].EndpointID != ep.ID {
			t.Fatalf("attempts of %s: %+v %v", id, attempts, err)
		}
		failures += len(attempts) - 1
		ds, _ := f.store.ListDeliveries(context.Background(), id)
		if ds[0].Status != contracts.DeliverySucceeded {
			t.Fatalf("delivery %+v", ds[0])
		}
	}
	if failures != 3 {
		t.Fatalf("%d failed sends recorded, want 3", failures)
	}
}

// 410 Gone disables the endpoint at once; the store's other endpoints hear of it, and the
// disabled endpoint gets nothing more.
func TestGoneDisablesTheEndpoint(t *testing.T) {
	f := newFixture(t)
	gone, ep := f.endpoint(func(int) (int, http.Header) { return http.StatusGone, nil })
	other, _ := f.endpoint(func(int) (int, http.Header) { return http.StatusOK, nil })
	f.events(2)
	f.deliverUntilIdle(5)
	got, _ := f.store.GetWebhookEndpoint(context.Background(), "store-1", ep.ID)
	if got.Status != contracts.EndpointDisabled || got.DisabledReason == "" {
		t.Fatalf("endpoint %s %q", got.Status, got.DisabledReason)
	}
	if len(other.accepted) != 3 {
		t.Fatalf("the other endpoint got %d events, want the 2 and webhook_endpoint.disabled", len(other.accepted))
	}
	sentBefore := gone.requests // the pass in flight when the 410 came
	f.events(3)
	f.deliverUntilIdle(5)
	if gone.requests != sentBefore || len(other.accepted) != 6 {
		t.Fatalf("after the 410: the disabled endpoint got %d more requests, the other %d events", gone.requests-sentBefore, len(other.accepted))
	}
}

// An endpoint that fails the whole schedule (11 sends over about 3 days) is disabled.
func TestEndpointFailingTheWholeScheduleIsDisabled(t *testing.T) {
	f := newFixture(t)
	r, ep := f.endpoint(func(int) (int, http.Header) { return http.StatusBadGateway, nil })
	id := f.events(1)[0]
	f.deliverUntilIdle(40)
	attempts, _ := f.store.ListDeliveryAttempts(context.Background(), "store-1", id)
	if len(attempts) != len(webhooks.DefaultSchedule)+1 || r.requests != len(attempts) {
		t.Fatalf("%d sends recorded, %d received; want %d", len(attempts), r.requests, len(webhooks.DefaultSchedule)+1)
	}
	if span := attempts[len(attempts)-1].AttemptedAt.Sub(attempts[0].AttemptedAt); span < 68*time.Hour || span > 100*time.Hour {
		t.Fatalf("the schedule spanned %s, want about 75 h", span)
	}
	if got, _ := f.store.GetWebhookEndpoint(context.Background(), "store-1", ep.ID); got.Status != contracts.EndpointDisabled {
		t.Fatalf("endpoint still %s", got.Status)
	}
}

// 503 with Retry-After waits at least that long.
func TestRetryAfterIsHonoured(t *testing.T) {
	f := newFixture(t)
	f.endpoint(func(int) (int, http.Header) {
		return http.StatusServiceUnavailable, http.Header{"Retry-After": {"600"}}
	})
	id := f.events(1)[0]
	if _, err := f.d.DeliverOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	ds, _ := f.store.ListDeliveries(context.Background(), id)
	if wait := ds[0].NextAt.Sub(f.clock.Now()); wait < 10*time.Minute {
		t.Fatalf("next send in %s, want at least Retry-After's 10 min", wait)
	}
}

// Deliveries never follow a redirect: a 3xx is a failure.
func TestRedirectIsAFailure(t *testing.T) {
	f := newFixture(t)
	f.endpoint(func(int) (int, http.Header) {
		return http.StatusTemporaryRedirect, http.Header{"Location": {"http://169.254.169.254/latest/meta-data"}}
	})
	id := f.events(1)[0]
	if _, err := f.d.DeliverOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	attempts, _ := f.store.ListDeliveryAttempts(context.Background(), "store-1", id)
	ds, _ := f.store.ListDeliveries(context.Background(), id)
	if len(attempts) != 1 || attempts[0].HTTPStatus != http.StatusTemporaryRedirect || ds[0].Status != contracts.DeliveryPending {
		t.Fatalf("attempts %+v, delivery %+v", attempts, ds)
	}
}
