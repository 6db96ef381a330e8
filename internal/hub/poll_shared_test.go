package hub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// Two instances' pollers share one schedule: a payment waiting for the customer is asked
// about once per poll interval, whichever instance's pass comes first, not once per
// instance. A killed instance's marker does not hold the payment back. On both databases.
func TestPollersOfTwoInstancesAskOncePerInterval(t *testing.T) {
	const every = 3 * time.Second
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			f := newFixtureOn(t, db.Open(t))
			ctx := context.Background()
			f.partner.create = func(r contracts.PaymentRequest) contracts.PaymentResult {
				return contracts.PaymentResult{Outcome: contracts.OutcomePending, PartnerPaymentID: "pp-" + r.PartnerRef}
			}
			f.partner.get = answer(contracts.OutcomePending)
			a := f.hub
			b := hub.New(hub.Config{Store: f.store, Partners: map[contracts.Method]contracts.Partner{contracts.MethodPayPay: f.partner},
				Clock: f.clock, IDs: ids.New(f.clock), APIVersion: contracts.APIVersion})
			for _, h := range []*hub.Hub{a, b} {
				if err := h.RegisterInstance(ctx); err != nil {
					t.Fatal(err)
				}
			}
			const waiting = 10
			for i := range waiting {
				cmd := payment(700)
				cmd.Flow, cmd.Barcode = contracts.FlowQR, ""
				if r, err := a.CreatePayment(ctx, f.caller, idem(fmt.Sprintf("qr-%d", i)), cmd); err != nil || decode(t, r)["status"] != "requires_action" {
					t.Fatalf("create: %v %s", err, r.Body)
				}
			}
			asked := func() int64 { return f.partner.count("get") }
			pass := func(h *hub.Hub) {
				t.Helper()
				if _, err := hub.PollEvery(ctx, h, 200, every); err != nil {
					t.Fatal(err)
				}
			}
			heartbeat := func(hs ...*hub.Hub) {
				for _, h := range hs {
					if err := h.Heartbeat(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}

			pass(a)
			pass(b) // the same moment: A has just asked
			if got := asked(); got != waiting {
				t.Fatalf("after A's and B's passes at once: %d partner reads, want %d", got, waiting)
			}
			f.clock.Advance(time.Second)
			heartbeat(a, b)
			pass(a)
			pass(b)
			if got := asked(); got != waiting {
				t.Fatalf("a second later: %d partner reads, want still %d", got, waiting)
			}
			f.clock.Advance(every - time.Second)
			heartbeat(a, b)
			pass(b)
			pass(a)
			if got := asked(); got != 2*waiting {
				t.Fatalf("an interval on: %d partner reads, want %d (B's pass, then none from A)", got, 2*waiting)
			}

			// A polls with a long interval and dies at once: B need not wait out A's marker
			// (a minute), only A's instance lease.
			f.clock.Advance(every)
			heartbeat(a, b)
			if _, err := hub.PollEvery(ctx, a, 200, time.Minute); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(hub.DefaultInstanceConfig.Lease + time.Second)
			heartbeat(b)
			pass(b)
			if got := asked(); got != 4*waiting {
				t.Fatalf("after A died: %d partner reads, want %d", got, 4*waiting)
			}
		})
	}
}
