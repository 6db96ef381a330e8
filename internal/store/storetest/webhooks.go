package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/webhooks/policy"
)

// newEndpoint is an enabled endpoint of storeID subscribed to types (none: all).
func newEndpoint(storeID string, types ...contracts.EventType) contracts.WebhookEndpoint {
	return contracts.WebhookEndpoint{ID: newID("we_"), StoreID: storeID, ClientID: "cli_a", URL: "http://127.0.0.1:9/hook",
		Description: "till notifications", EventTypes: types, Status: contracts.EndpointEnabled, CreatedAt: base, UpdatedAt: base}
}

// Notification writes run in a transaction (with the request's idempotent answer); these
// run each in its own.
func rotateSecret(s contracts.Store, storeID string, secret contracts.WebhookSecret, oldExpiresAt time.Time) error {
	return s.InTx(context.Background(), func(tx contracts.Tx) error {
		return tx.RotateWebhookSecret(context.Background(), storeID, secret, oldExpiresAt)
	})
}

func redeliverEvent(s contracts.Store, storeID, eventID, endpointID string, now time.Time) (n int, err error) {
	err = s.InTx(context.Background(), func(tx contracts.Tx) error {
		n, err = tx.RedeliverEvent(context.Background(), storeID, eventID, endpointID, now)
		return err
	})
	return n, err
}

func redeliverRange(s contracts.Store, storeID, endpointID string, from, to time.Time, now time.Time) (n int, err error) {
	err = s.InTx(context.Background(), func(tx contracts.Tx) error {
		n, err = tx.RedeliverRange(context.Background(), storeID, endpointID, from, to, nil, now)
		return err
	})
	return n, err
}

func enableEndpoint(s contracts.Store, storeID, id string, at time.Time) error {
	return s.InTx(context.Background(), func(tx contracts.Tx) error {
		return tx.EnableWebhookEndpoint(context.Background(), storeID, id, at)
	})
}

func createEndpoint(t *testing.T, s contracts.Store, e contracts.WebhookEndpoint, secret string) {
	t.Helper()
	if err := s.InTx(context.Background(), func(tx contracts.Tx) error {
		return tx.CreateWebhookEndpoint(context.Background(), e, contracts.WebhookSecret{EndpointID: e.ID, Secret: secret, CreatedAt: base})
	}); err != nil {
		t.Fatalf("CreateWebhookEndpoint: %v", err)
	}
}

// appendEvent writes one event of type typ about p.
func appendEvent(t *testing.T, s contracts.Store, p *contracts.Payment, typ contracts.EventType) contracts.Event {
	t.Helper()
	p.EventSequence++
	e := contracts.Event{ID: newID("evt_"), Type: typ, StoreID: p.StoreID, PaymentID: p.ID, Sequence: p.EventSequence,
		Payload: []byte(`{"type":"` + string(typ) + `"}`), CreatedAt: base}
	inTx(t, s, func(tx contracts.Tx) error { return tx.AppendEvent(context.Background(), e) })
	return e
}

func endpointIDs(ds []contracts.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.EndpointID
	}
	slices.Sort(out)
	return out
}

func testWebhookEndpoints(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	e := newEndpoint("store-a", contracts.EventType("payment.succeeded"), contracts.EventType("refund.failed"))
	createEndpoint(t, s, e, "whsec_first")
	got, err := s.GetWebhookEndpoint(ctx, "store-a", e.ID)
	want := e
	want.CreatedAt, want.UpdatedAt = stored(e.CreatedAt), stored(e.UpdatedAt)
	if err != nil || diff(got, want) != "" {
		t.Fatalf("GetWebhookEndpoint = %v:%s", err, diff(got, want))
	}
	if _, err := s.GetWebhookEndpoint(ctx, "store-b", e.ID); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("another store's endpoint: %v, want ErrNotFound", err)
	}
	other := newEndpoint("store-a")
	createEndpoint(t, s, other, "whsec_other")
	list, err := s.ListWebhookEndpoints(ctx, "store-a")
	if err != nil || len(list) != 2 || list[0].ID != e.ID || len(list[1].EventTypes) != 0 {
		t.Fatalf("ListWebhookEndpoints = %+v, %v", list, err)
	}
	if err := s.DeleteWebhookEndpoint(ctx, "store-b", e.ID); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("delete another store's endpoint: %v, want ErrNotFound", err)
	}
	if err := s.DeleteWebhookEndpoint(ctx, "store-a", e.ID); err != nil {
		t.Fatalf("DeleteWebhookEndpoint: %v", err)
	}
	if list, _ := s.ListWebhookEndpoints(ctx, "store-a"); len(list) != 1 || list[0].ID != other.ID {
		t.Errorf("after delete: %+v", list)
	}
}

// Each event fans out, in its own transaction, to the enabled endpoints of its store that
// subscribe to its type, and nowhere else.
func testWebhookFanOut(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	all, refunds := newEndpoint("store-a"), newEndpoint("store-a", contracts.EventRefundSucceeded)
	disabled, elsewhere := newEndpoint("store-a"), newEndpoint("store-b")
	disabled.Status = contracts.EndpointDisabled
	for _, e := range []contracts.WebhookEndpoint{all, refunds, disabled, elsewhere} {
		createEndpoint(t, s, e, "whsec_x")
	}
	p := newPayment("store-a")
	insertPayment(t, s, p)
	paid := appendEvent(t, s, &p, contracts.EventPaymentSucceeded)
	refunded := appendEvent(t, s, &p, contracts.EventRefundSucceeded)
	for ev, want := range map[string][]string{paid.ID: {all.ID}, refunded.ID: {all.ID, refunds.ID}} {
		ds, err := s.ListDeliveries(ctx, ev)
		slices.Sort(want)
		if err != nil || !slices.Equal(endpointIDs(ds), want) {
			t.Errorf("deliveries of %s = %v, %v; want %v", ev, endpointIDs(ds), err, want)
		}
		for _, d := range ds {
			if d.Status != contracts.DeliveryPending || d.Attempts != 0 || !d.NextAt.Equal(stored(base)) {
				t.Errorf("new delivery %+v", d)
			}
		}
	}
	// An event whose transaction rolls back leaves no delivery behind.
	lost := contracts.Event{ID: newID("evt_"), Type: contracts.EventPaymentFailed, StoreID: "store-a", PaymentID: p.ID, Sequence: 99, Payload: []byte("{}"), CreatedAt: base}
	_ = s.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.AppendEvent(ctx, lost); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if ds, _ := s.ListDeliveries(ctx, lost.ID); len(ds) != 0 {
		t.Errorf("a rolled-back event left %d deliveries", len(ds))
	}
}

// Leases: due deliveries only, each to one deliverer at a time; a finish needs the lease;
// attempts are recorded and listed per store.
func testWebhookLeases(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	ep := newEndpoint("store-a")
	createEndpoint(t, s, ep, "whsec_old")
	p := newPayment("store-a")
	insertPayment(t, s, p)
	var events []contracts.Event
	for range 6 {
		events = append(events, appendEvent(t, s, &p, contracts.EventPaymentSucceeded))
	}
	now := at(time.Second)
	var (
		mu     sync.Mutex
		leased = map[string]string{}
		wg     sync.WaitGroup
	)
	for _, owner := range []string{"d1", "d2", "d3"} {
		wg.Go(func() {
			jobs, err := s.LeaseDeliveries(ctx, owner, now, now.Add(time.Minute), 4)
			if err != nil {
				t.Errorf("LeaseDeliveries(%s): %v", owner, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, j := range jobs {
				if prev, dup := leased[j.Delivery.EventID]; dup {
					t.Errorf("%s leased to %s and %s", j.Delivery.EventID, prev, owner)
				}
				leased[j.Delivery.EventID] = owner
				if j.Endpoint.URL != ep.URL || string(j.Payload) != `{"type":"payment.succeeded"}` || !slices.Equal(j.Secrets, []string{"whsec_old"}) {
					t.Errorf("job %+v", j)
				}
			}
		})
	}
	wg.Wait()
	if len(leased) != 6 {
		t.Fatalf("leased %d of 6 deliveries", len(leased))
	}
	if jobs, _ := s.LeaseDeliveries(ctx, "d4", now, now.Add(time.Minute), 10); len(jobs) != 0 {
		t.Errorf("leased %d deliveries already leased", len(jobs))
	}
	first := events[0].ID
	outcome := contracts.DeliveryOutcome{Attempt: contracts.DeliveryAttempt{ID: newID("wda_"), EventID: first, EndpointID: ep.ID,
		AttemptedAt: now, HTTPStatus: 500, Latency: 1500 * time.Microsecond, Error: "status 500"},
		Status: contracts.DeliveryPending, NextAt: at(time.Hour)}
	wrong := "d1"
	if leased[first] == "d1" {
		wrong = "d2"
	}
	if err := s.FinishDelivery(ctx, wrong, outcome); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("FinishDelivery without the lease = %v, want ErrConflict", err)
	}
	if err := s.FinishDelivery(ctx, leased[first], outcome); err != nil {
		t.Fatalf("FinishDelivery: %v", err)
	}
	if ds, _ := s.ListDeliveries(ctx, first); len(ds) != 1 || ds[0].Attempts != 1 || ds[0].LeaseOwner != "" || !ds[0].NextAt.Equal(stored(at(time.Hour))) {
		t.Errorf("after a failed send: %+v", ds)
	}
	attempts, err := s.ListDeliveryAttempts(ctx, "store-a", first)
	if err != nil || len(attempts) != 1 || attempts[0].HTTPStatus != 500 || attempts[0].Latency != 1500*time.Microsecond {
		t.Errorf("ListDeliveryAttempts = %+v, %v", attempts, err)
	}
	if other, _ := s.ListDeliveryAttempts(ctx, "store-b", first); len(other) != 0 {
		t.Errorf("another store sees %d attempts", len(other))
	}
	// Leases expire: a deliverer that died gives its deliveries back.
	later := at(2 * time.Minute)
	if jobs, _ := s.LeaseDeliveries(ctx, "d5", later, later.Add(time.Minute), 10); len(jobs) != 5 {
		t.Errorf("after the leases expired: %d re-leased, want 5 (one is due in an hour)", len(jobs))
	}
	// A rotation signs with both secrets, newest first, until the old one expires.
	rotated := contracts.WebhookSecret{EndpointID: ep.ID, Secret: "whsec_new", CreatedAt: at(3 * time.Minute)}
	if err := rotateSecret(s, "store-a", rotated, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	jobs, _ := s.LeaseDeliveries(ctx, "d6", at(4*time.Minute), at(5*time.Minute), 1)
	if len(jobs) != 1 || !slices.Equal(jobs[0].Secrets, []string{"whsec_new", "whsec_old"}) {
		t.Errorf("during the rotation: %+v", jobs)
	}
	jobs, _ = s.LeaseDeliveries(ctx, "d7", at(2*time.Hour), at(3*time.Hour), 1)
	if len(jobs) != 1 || !slices.Equal(jobs[0].Secrets, []string{"whsec_new"}) {
		t.Errorf("after the grace period: %+v", jobs)
	}
	if err := rotateSecret(s, "store-b", rotated, at(time.Hour)); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("rotating another store's secret: %v, want ErrNotFound", err)
	}
}

// Disabling an endpoint fails what it had pending and stops the fan-out to it.
func testWebhookDisable(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	ep := newEndpoint("store-a")
	createEndpoint(t, s, ep, "whsec_x")
	p := newPayment("store-a")
	insertPayment(t, s, p)
	e1, e2 := appendEvent(t, s, &p, contracts.EventPaymentSucceeded), appendEvent(t, s, &p, contracts.EventRefundSucceeded)
	jobs, err := s.LeaseDeliveries(ctx, "d1", at(time.Second), at(time.Minute), 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("lease: %v %v", jobs, err)
	}
	gone := contracts.DeliveryOutcome{Attempt: contracts.DeliveryAttempt{ID: newID("wda_"), EventID: jobs[0].Delivery.EventID,
		EndpointID: ep.ID, AttemptedAt: at(time.Second), HTTPStatus: 410, Error: "410 Gone"},
		Status: contracts.DeliveryFailed, NextAt: at(time.Second), DisableEndpoint: "endpoint answered 410 Gone"}
	if err := s.FinishDelivery(ctx, "d1", gone); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetWebhookEndpoint(ctx, "store-a", ep.ID)
	if got.Status != contracts.EndpointDisabled || got.DisabledReason != "endpoint answered 410 Gone" {
		t.Errorf("endpoint %s (%s)", got.Status, got.DisabledReason)
	}
	for _, ev := range []string{e1.ID, e2.ID} {
		if ds, _ := s.ListDeliveries(ctx, ev); len(ds) != 1 || ds[0].Status != contracts.DeliveryFailed {
			t.Errorf("delivery of %s after disable: %+v", ev, ds)
		}
	}
	e3 := appendEvent(t, s, &p, contracts.EventPaymentCanceled)
	if ds, _ := s.ListDeliveries(ctx, e3.ID); len(ds) != 0 {
		t.Errorf("a disabled endpoint got %d new deliveries", len(ds))
	}
}

// A success is noted on the endpoint; a disabling writes its event, which reaches the
// store's other endpoints and concerns no payment.
func testWebhookSuccessAndDisabledEvent(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	failing, other := newEndpoint("store-a"), newEndpoint("store-a")
	createEndpoint(t, s, failing, "whsec_f")
	createEndpoint(t, s, other, "whsec_o")
	p := newPayment("store-a")
	insertPayment(t, s, p)
	appendEvent(t, s, &p, contracts.EventPaymentSucceeded)
	jobs, _ := s.LeaseDeliveries(ctx, "d1", at(time.Second), at(time.Minute), 10)
	if len(jobs) != 2 {
		t.Fatalf("leased %d, want 2", len(jobs))
	}
	for _, j := range jobs {
		o := contracts.DeliveryOutcome{Attempt: contracts.DeliveryAttempt{ID: newID("wda_"), EventID: j.Delivery.EventID,
			EndpointID: j.Endpoint.ID, AttemptedAt: at(time.Second), HTTPStatus: 204}, Status: contracts.DeliverySucceeded, NextAt: at(time.Second)}
		if j.Endpoint.ID == failing.ID {
			o.Attempt.HTTPStatus, o.Status, o.DisableEndpoint = 410, contracts.DeliveryFailed, "410 Gone"
			o.DisabledEvent = &contracts.Event{ID: newID("evt_"), Type: contracts.EventType("webhook_endpoint.disabled"),
				StoreID: "store-a", Payload: []byte(`{"type":"webhook_endpoint.disabled"}`), CreatedAt: at(time.Second)}
		}
		if err := s.FinishDelivery(ctx, "d1", o); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.GetWebhookEndpoint(ctx, "store-a", other.ID); got.LastSuccessAt == nil || !got.LastSuccessAt.Equal(stored(at(time.Second))) {
		t.Errorf("last success of the healthy endpoint: %v", got.LastSuccessAt)
	}
	if got, _ := s.GetWebhookEndpoint(ctx, "store-a", failing.ID); got.LastSuccessAt != nil || got.Status != contracts.EndpointDisabled {
		t.Errorf("failing endpoint %+v", got)
	}
	jobs, _ = s.LeaseDeliveries(ctx, "d2", at(2*time.Second), at(time.Minute), 10)
	if len(jobs) != 1 || jobs[0].Endpoint.ID != other.ID || string(jobs[0].Payload) != `{"type":"webhook_endpoint.disabled"}` {
		t.Fatalf("the disabled event's deliveries: %+v", jobs)
	}
}

// Redelivery resets or creates deliveries: one event to all its subscribers or to one
// endpoint, a time range to one endpoint; never another store's, never a disabled endpoint.
func testWebhookRedelivery(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	a, b := newEndpoint("store-a"), newEndpoint("store-a", contracts.EventRefundSucceeded)
	createEndpoint(t, s, a, "whsec_a")
	createEndpoint(t, s, b, "whsec_b")
	p := newPayment("store-a")
	insertPayment(t, s, p)
	paid := appendEvent(t, s, &p, contracts.EventPaymentSucceeded)
	refunded := appendEvent(t, s, &p, contracts.EventRefundSucceeded)
	jobs, _ := s.LeaseDeliveries(ctx, "d1", at(time.Second), at(time.Minute), 10)
	for _, j := range jobs {
		if err := s.FinishDelivery(ctx, "d1", contracts.DeliveryOutcome{Attempt: contracts.DeliveryAttempt{ID: newID("wda_"),
			EventID: j.Delivery.EventID, EndpointID: j.Endpoint.ID, AttemptedAt: at(time.Second), HTTPStatus: 200},
			Status: contracts.DeliverySucceeded, NextAt: at(time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	now := at(time.Hour)
	if n, err := redeliverEvent(s, "store-a", refunded.ID, "", now); err != nil || n != 2 {
		t.Errorf("RedeliverEvent(all) = %d, %v; want 2", n, err)
	}
	if n, err := redeliverEvent(s, "store-a", paid.ID, b.ID, now); err != nil || n != 1 {
		t.Errorf("RedeliverEvent(one endpoint) = %d, %v; want 1 (an explicit endpoint gets it even unsubscribed)", n, err)
	}
	if _, err := redeliverEvent(s, "store-b", paid.ID, "", now); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("another store's event: %v, want ErrNotFound", err)
	}
	ds, _ := s.ListDeliveries(ctx, refunded.ID)
	for _, d := range ds {
		if d.Status != contracts.DeliveryPending || d.Attempts != 0 || !d.NextAt.Equal(stored(now)) {
			t.Errorf("redelivered %+v", d)
		}
	}
	if n, err := redeliverRange(s, "store-a", a.ID, base, at(time.Minute), now); err != nil || n != 2 {
		t.Errorf("RedeliverRange(a, all types) = %d, %v; want 2", n, err)
	}
	if n, err := redeliverRange(s, "store-a", b.ID, base, at(time.Minute), now); err != nil || n != 1 {
		t.Errorf("RedeliverRange(b, its types) = %d, %v; want 1", n, err)
	}
	if n, err := redeliverRange(s, "store-a", a.ID, at(time.Minute), at(time.Hour), now); err != nil || n != 0 {
		t.Errorf("RedeliverRange(empty window) = %d, %v", n, err)
	}
	if _, err := redeliverRange(s, "store-b", a.ID, base, at(time.Minute), now); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("another store's endpoint: %v, want ErrNotFound", err)
	}
	if err := enableEndpoint(s, "store-b", a.ID, now); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("EnableWebhookEndpoint(other store) = %v", err)
	}
	if err := enableEndpoint(s, "store-a", a.ID, now); err != nil {
		t.Errorf("EnableWebhookEndpoint = %v", err)
	}
}

// WebhookFairness is the conformance suite of what internal/webhooks/policy asks of a
// store beyond contracts.WebhookStore: fair leases, each endpoint's circuit, and the limit
// of endpoints per store (docs/api.md §8.4). open must return a fresh, empty, migrated store
// for each call; every subtest opens its own and runs in parallel.
func WebhookFairness(t *testing.T, open func(t *testing.T) contracts.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s contracts.Store)
	}{
		{"BoundsInFlight", testFairLeaseBounds},
		{"RoundRobinAcrossStores", testFairLeaseRoundRobin},
		{"ConcurrentLessorsKeepTheBounds", testFairLeaseConcurrent},
		{"Circuit", testEndpointCircuit},
		{"OpenCircuitDefersItsDeliveries", testOpenCircuitDefers},
		{"EndpointLimit", testEndpointLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// fairLease leases under a lease policy, as the deliverer does.
func fairLease(t *testing.T, s contracts.Store, owner string, now time.Time, limit int, l policy.Lease) []contracts.DeliveryJob {
	t.Helper()
	jobs, err := s.LeaseDeliveries(policy.WithLease(context.Background(), l), owner, now, now.Add(time.Minute), limit)
	if err != nil {
		t.Fatalf("LeaseDeliveries(%s): %v", owner, err)
	}
	return jobs
}

// countBy counts jobs by endpoint and by store.
func countBy(jobs []contracts.DeliveryJob) (byEndpoint, byStore map[string]int) {
	byEndpoint, byStore = map[string]int{}, map[string]int{}
	for _, j := range jobs {
		byEndpoint[j.Endpoint.ID]++
		byStore[j.Endpoint.StoreID]++
	}
	return byEndpoint, byStore
}

// queue writes a store's endpoints and n events for it, each fanned out to every endpoint.
func queue(t *testing.T, s contracts.Store, storeID string, endpoints, n int) []contracts.WebhookEndpoint {
	t.Helper()
	var eps []contracts.WebhookEndpoint
	for range endpoints {
		e := newEndpoint(storeID)
		createEndpoint(t, s, e, "whsec_"+storeID)
		eps = append(eps, e)
	}
	p := newPayment(storeID)
	insertPayment(t, s, p)
	for range n {
		appendEvent(t, s, &p, contracts.EventPaymentSucceeded)
	}
	return eps
}

// finish records a send of job at at, with the deliverer's circuit policy.
func finish(t *testing.T, s contracts.Store, owner string, j contracts.DeliveryJob, at time.Time, status int, c policy.Circuit) {
	t.Helper()
	o := contracts.DeliveryOutcome{Attempt: contracts.DeliveryAttempt{ID: newID("wda_"), EventID: j.Delivery.EventID,
		EndpointID: j.Endpoint.ID, AttemptedAt: at, HTTPStatus: status}, Status: contracts.DeliverySucceeded, NextAt: at}
	if status/100 != 2 {
		o.Status, o.Attempt.Error = contracts.DeliveryPending, fmt.Sprintf("http_%d", status)
	}
	if err := s.FinishDelivery(policy.WithCircuit(context.Background(), c), owner, o); err != nil {
		t.Fatalf("FinishDelivery: %v", err)
	}
}

// A fair lease never takes an endpoint past PerEndpoint sends in flight nor a store past
// PerStore, counting every lessor's unexpired leases; a finished send frees its place.
func testFairLeaseBounds(t *testing.T, s contracts.Store) {
	queue(t, s, "store-a", 3, 10)
	queue(t, s, "store-b", 1, 3)
	l := policy.Lease{PerEndpoint: 2, PerStore: 4}
	now := at(time.Second)
	first := fairLease(t, s, "d1", now, 100, l)
	byEndpoint, byStore := countBy(first)
	if byStore["store-a"] != 4 || byStore["store-b"] != 2 {
		t.Fatalf("first lease: %v by store, want 4 of store-a and 2 of store-b", byStore)
	}
	for id, n := range byEndpoint {
		if n > 2 {
			t.Errorf("endpoint %s: %d leased, want at most 2", id, n)
		}
	}
	if again := fairLease(t, s, "d2", now, 100, l); len(again) != 0 {
		t.Fatalf("a second lessor leased %d past the bounds", len(again))
	}
	var a contracts.DeliveryJob
	for _, j := range first {
		if j.Endpoint.StoreID == "store-a" {
			a = j
		}
	}
	finish(t, s, "d1", a, now, 204, policy.Circuit{})
	next := fairLease(t, s, "d3", now, 100, l)
	if _, byStore := countBy(next); byStore["store-a"] != 1 || byStore["store-b"] != 0 {
		t.Fatalf("after one of store-a's sends finished: %v, want one more of store-a", byStore)
	}
	// The plain lease, without a policy, is what contracts.WebhookStore says: oldest first.
	if plain, err := s.LeaseDeliveries(context.Background(), "d4", now, now.Add(time.Minute), 5); err != nil || len(plain) != 5 {
		t.Fatalf("plain lease: %d, %v; want 5", len(plain), err)
	}
	// Leases expire: a lessor that died holds no place.
	later := now.Add(2 * time.Minute)
	if _, byStore := countBy(fairLease(t, s, "d5", later, 100, l)); byStore["store-a"] != 4 || byStore["store-b"] != 2 {
		t.Fatalf("after the leases expired: %v, want 4 of store-a and 2 of store-b", byStore)
	}
}

// Round-robin: a lease short of room takes one delivery of each store with some due before
// a second of any, however old one store's queue is.
func testFairLeaseRoundRobin(t *testing.T, s contracts.Store) {
	queue(t, s, "store-a", 2, 30)
	queue(t, s, "store-b", 1, 1)
	queue(t, s, "store-c", 1, 1)
	l := policy.Lease{PerEndpoint: 10, PerStore: 10}
	jobs := fairLease(t, s, "d1", at(time.Second), 3, l)
	if _, byStore := countBy(jobs); len(jobs) != 3 || byStore["store-a"] != 1 || byStore["store-b"] != 1 || byStore["store-c"] != 1 {
		t.Fatalf("a lease of 3: %v by store, want one each", byStore)
	}
	jobs = fairLease(t, s, "d2", at(time.Second), 4, l)
	if byEndpoint, byStore := countBy(jobs); byStore["store-a"] != 4 || len(byEndpoint) != 2 {
		t.Fatalf("then: %v by store over %d endpoints, want 4 of store-a from both its endpoints", byStore, len(byEndpoint))
	}
}

// Lessors leasing at once never take a store past its bound together.
func testFairLeaseConcurrent(t *testing.T, s contracts.Store) {
	queue(t, s, "store-a", 5, 5)
	l := policy.Lease{PerEndpoint: 2, PerStore: 3}
	now := at(time.Second)
	var (
		mu     sync.Mutex
		leased []contracts.DeliveryJob
		wg     sync.WaitGroup
	)
	for round := range 5 {
		for i := range 4 {
			wg.Go(func() {
				jobs, err := s.LeaseDeliveries(policy.WithLease(context.Background(), l), fmt.Sprintf("d%d-%d", round, i), now, now.Add(time.Minute), 10)
				if err != nil {
					t.Errorf("LeaseDeliveries: %v", err)
				}
				mu.Lock()
				leased = append(leased, jobs...)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	if byEndpoint, byStore := countBy(leased); byStore["store-a"] != 3 {
		t.Fatalf("concurrent lessors took %v (by endpoint %v), want exactly 3", byStore, byEndpoint)
	} else {
		for id, n := range byEndpoint {
			if n > 2 {
				t.Errorf("endpoint %s: %d in flight, want at most 2", id, n)
			}
		}
	}
}

// Each endpoint's circuit: Failures failed sends in a row open it; while open its
// deliveries wait (not leased, no attempt counted) and its store's other endpoints go on;
// then one trial at a time, the delivery that failed most; a failed trial opens it again for
// longer (up to MaxOpen), a success closes it, and so does enabling the endpoint.
func testEndpointCircuit(t *testing.T, s contracts.Store) {
	eps := queue(t, s, "store-a", 2, 8)
	failing, healthy := eps[0], eps[1]
	l := policy.Lease{PerEndpoint: 5, PerStore: 10}
	c := policy.Circuit{Failures: 3, Open: time.Minute, MaxOpen: 4 * time.Minute}
	onlyFailing := func(jobs []contracts.DeliveryJob) (out []contracts.DeliveryJob) {
		for _, j := range jobs {
			if j.Endpoint.ID == failing.ID {
				out = append(out, j)
			}
		}
		return out
	}
	t0 := at(time.Second)
	jobs := fairLease(t, s, "d1", t0, 100, l)
	fj := onlyFailing(jobs)
	if len(fj) != 5 {
		t.Fatalf("leased %d of the failing endpoint's, want 5", len(fj))
	}
	for _, j := range jobs {
		if j.Endpoint.ID == healthy.ID {
			finish(t, s, "d1", j, t0, 204, c)
		}
	}
	// The third failure in a row opens the circuit; the two sent with it do not prolong it.
	finish(t, s, "d1", fj[0], t0, 500, c)
	finish(t, s, "d1", fj[1], t0, 500, c)
	finish(t, s, "d1", fj[2], t0, 503, c)
	finish(t, s, "d1", fj[3], t0, 500, c)
	finish(t, s, "d1", fj[4], t0, 500, c)
	if got := onlyFailing(fairLease(t, s, "d2", t0.Add(30*time.Second), 100, l)); len(got) != 0 {
		t.Fatalf("open circuit: leased %d", len(got))
	}
	// Half-open: one trial, the delivery that failed most.
	trial := onlyFailing(fairLease(t, s, "d3", t0.Add(61*time.Second), 100, l))
	if len(trial) != 1 || trial[0].Delivery.Attempts != 1 {
		t.Fatalf("half-open: %d leased (attempts %v), want one trial of a delivery that failed", len(trial), trial)
	}
	if again := onlyFailing(fairLease(t, s, "d4", t0.Add(62*time.Second), 100, l)); len(again) != 0 {
		t.Fatalf("a second trial while the first is in flight: %d", len(again))
	}
	t1 := t0.Add(62 * time.Second)
	finish(t, s, "d3", trial[0], t1, 500, c)
	// Six failures in a row: open for 1 min doubled three times, capped at 4 min.
	if got := onlyFailing(fairLease(t, s, "d5", t1.Add(3*time.Minute), 100, l)); len(got) != 0 {
		t.Fatalf("reopened circuit: leased %d", len(got))
	}
	trial = onlyFailing(fairLease(t, s, "d6", t1.Add(4*time.Minute+time.Second), 100, l))
	if len(trial) != 1 || trial[0].Delivery.Attempts < 1 {
		t.Fatalf("second trial: %+v, want one delivery that failed before", trial)
	}
	t2 := t1.Add(4*time.Minute + time.Second)
	finish(t, s, "d6", trial[0], t2, 204, c)
	if got := onlyFailing(fairLease(t, s, "d7", t2, 100, l)); len(got) != 5 {
		t.Fatalf("closed again: leased %d, want 5", len(got))
	}
	// Enabling an endpoint closes its circuit.
	for _, j := range onlyFailing(fairLease(t, s, "d8", t2.Add(2*time.Minute), 100, l)) {
		finish(t, s, "d8", j, t2.Add(2*time.Minute), 500, c)
	}
	if err := enableEndpoint(s, "store-a", failing.ID, t2.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := onlyFailing(fairLease(t, s, "d9", t2.Add(3*time.Minute), 100, l)); len(got) == 0 {
		t.Fatal("after enabling: nothing leased")
	}
}

// While an endpoint's circuit is open its deliveries are not due: those waiting when it
// opens, and those of events that come meanwhile, are due when it half-opens, so no lease
// reads past a dead endpoint's backlog; deliveries due later keep their time, and enabling
// the endpoint makes the deferred ones due at once.
func testOpenCircuitDefers(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	ep := newEndpoint("store-a")
	createEndpoint(t, s, ep, "whsec_a")
	p := newPayment("store-a")
	insertPayment(t, s, p)
	eventAt := func(created time.Time) string {
		p.EventSequence++
		e := contracts.Event{ID: newID("evt_"), Type: contracts.EventPaymentSucceeded, StoreID: p.StoreID, PaymentID: p.ID,
			Sequence: p.EventSequence, Payload: []byte(`{}`), CreatedAt: created}
		inTx(t, s, func(tx contracts.Tx) error { return tx.AppendEvent(ctx, e) })
		return e.ID
	}
	var waiting []string
	for range 6 {
		waiting = append(waiting, eventAt(base))
	}
	nextAt := func(eventID string) time.Time {
		t.Helper()
		ds, err := s.ListDeliveries(ctx, eventID)
		if err != nil || len(ds) != 1 {
			t.Fatalf("ListDeliveries(%s) = %d, %v", eventID, len(ds), err)
		}
		return ds[0].NextAt
	}
	l := policy.Lease{PerEndpoint: 10, PerStore: 10}
	c := policy.Circuit{Failures: 3, Open: time.Minute, MaxOpen: 4 * time.Minute}
	t0 := at(time.Second)
	jobs := fairLease(t, s, "d1", t0, 3, l)
	if len(jobs) != 3 {
		t.Fatalf("leased %d, want 3", len(jobs))
	}
	for _, j := range jobs {
		finish(t, s, "d1", j, t0, 503, c)
	}
	until := stored(t0.Add(time.Minute))
	for _, id := range waiting {
		if got := nextAt(id); !got.Equal(until) {
			t.Errorf("delivery of %s waiting when the circuit opened: next_at %s, want %s (when it half-opens)", id, got, until)
		}
	}
	during := eventAt(t0.Add(10 * time.Second))
	if got := nextAt(during); !got.Equal(until) {
		t.Errorf("delivery of an event while open: next_at %s, want %s", got, until)
	}
	after := eventAt(t0.Add(2 * time.Minute))
	if got, want := nextAt(after), stored(t0.Add(2*time.Minute)); !got.Equal(want) {
		t.Errorf("delivery of an event after the circuit half-opened: next_at %s, want %s", got, want)
	}
	if got := fairLease(t, s, "d2", t0.Add(30*time.Second), 100, l); len(got) != 0 {
		t.Fatalf("open circuit: leased %d", len(got))
	}
	enabled := t0.Add(20 * time.Second)
	if err := enableEndpoint(s, "store-a", ep.ID, enabled); err != nil {
		t.Fatal(err)
	}
	for _, id := range append(waiting, during) {
		if got := nextAt(id); !got.Equal(stored(enabled)) {
			t.Errorf("after enabling: delivery of %s next_at %s, want %s", id, got, stored(enabled))
		}
	}
	if got, want := nextAt(after), stored(t0.Add(2*time.Minute)); !got.Equal(want) {
		t.Errorf("after enabling, a delivery due later: next_at %s, want %s", got, want)
	}
}

// With an endpoint limit on the context, a store's endpoint beyond it is refused with
// policy.ErrTooManyEndpoints and nothing is written, even when many are created at once;
// other stores are not affected.
func testEndpointLimit(t *testing.T, s contracts.Store) {
	ctx := policy.WithMaxEndpoints(context.Background(), 3)
	create := func(storeID string) error {
		e := newEndpoint(storeID)
		return s.InTx(ctx, func(tx contracts.Tx) error {
			return tx.CreateWebhookEndpoint(ctx, e, contracts.WebhookSecret{EndpointID: e.ID, Secret: "whsec_x", CreatedAt: base})
		})
	}
	var (
		wg            sync.WaitGroup
		mu            sync.Mutex
		made, refused int
	)
	for range 8 {
		wg.Go(func() {
			err := create("store-a")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made++
			case errors.Is(err, policy.ErrTooManyEndpoints):
				refused++
			default:
				t.Errorf("create: %v", err)
			}
		})
	}
	wg.Wait()
	if list, _ := s.ListWebhookEndpoints(context.Background(), "store-a"); made != 3 || refused != 5 || len(list) != 3 {
		t.Fatalf("8 at once under a limit of 3: %d made, %d refused, %d stored", made, refused, len(list))
	}
	if err := create("store-b"); err != nil {
		t.Fatalf("another store: %v", err)
	}
	// Without a limit on the context (the store's own callers), none applies.
	createEndpoint(t, s, newEndpoint("store-a"), "whsec_y")
}
