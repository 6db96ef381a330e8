package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
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
