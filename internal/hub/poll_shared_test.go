package hub_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// waitingQRFixture is a fixture on st whose partner leaves every payment pending.
func waitingQRFixture(t *testing.T, st contracts.Store) *fixture {
	t.Helper()
	f := newFixtureOn(t, st)
	f.partner.create = func(r contracts.PaymentRequest) contracts.PaymentResult {
		return contracts.PaymentResult{Outcome: contracts.OutcomePending, PartnerPaymentID: "pp-" + r.PartnerRef}
	}
	return f
}

// createWaitingQRs creates n QR payments through h, each left waiting for the customer.
func createWaitingQRs(t *testing.T, f *fixture, h *hub.Hub, n int) {
	t.Helper()
	for i := range n {
		cmd := payment(700)
		cmd.Flow, cmd.Barcode = contracts.FlowQR, ""
		if r, err := h.CreatePayment(context.Background(), f.caller, idem(fmt.Sprintf("qr-%d", i)), cmd); err != nil || decode(t, r)["status"] != "requires_action" {
			t.Fatalf("create: %v %s", err, r.Body)
		}
	}
}

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
			f := waitingQRFixture(t, db.Open(t))
			ctx := context.Background()
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
			createWaitingQRs(t, f, a, waiting)
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

// TestPollerReachesEveryWaitingPaymentAndBacksOff: a poller that may take two payments a
// pass reaches all five waiting ones within three passes (the oldest two had been polled
// every pass and the others never), and a payment waiting for ten minutes is asked about
// every 30 s, not every interval.
func TestPollerReachesEveryWaitingPaymentAndBacksOff(t *testing.T) {
	const every = 3 * time.Second
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			f := waitingQRFixture(t, db.Open(t))
			ctx := context.Background()
			asked := map[string]int{}
			var mu sync.Mutex
			f.partner.get = func(ref contracts.PaymentRef) contracts.PaymentResult {
				mu.Lock()
				defer mu.Unlock()
				asked[ref.PartnerRef]++
				return contracts.PaymentResult{Outcome: contracts.OutcomePending}
			}
			if err := f.hub.RegisterInstance(ctx); err != nil {
				t.Fatal(err)
			}
			const waiting = 5
			createWaitingQRs(t, f, f.hub, waiting)
			pass := func(limit int) {
				t.Helper()
				if err := f.hub.Heartbeat(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := hub.PollEvery(ctx, f.hub, limit, every); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				pass(2)
				f.clock.Advance(every)
			}
			if len(asked) != waiting {
				t.Fatalf("three passes of two reached %d of %d waiting payments: %v", len(asked), waiting, asked)
			}

			f.clock.Advance(10 * time.Minute)
			clear(asked)
			pass(200) // all overdue
			if len(asked) != waiting {
				t.Fatalf("after ten minutes: %d of %d asked about", len(asked), waiting)
			}
			total := func() (n int) {
				for _, c := range asked {
					n += c
				}
				return n
			}
			for range 9 { // 27 s: none due again
				f.clock.Advance(every)
				pass(200)
			}
			if total() != waiting {
				t.Fatalf("within 27 s of a poll at ten minutes' age: %d reads, want %d", total(), waiting)
			}
			f.clock.Advance(every)
			pass(200)
			if total() != 2*waiting {
				t.Fatalf("30 s after it: %d reads, want %d", total(), 2*waiting)
			}
		})
	}
}

// A poll asks the partner without holding the payment's lease, and writes nothing but its
// poll marker when the customer has not paid yet; an answer that changes the payment is
// recorded under the lease, taken then. On both databases.
func TestAPollTakesThePaymentLeaseOnlyToRecordAChange(t *testing.T) {
	const every = 3 * time.Second
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			f := waitingQRFixture(t, db.Open(t))
			ctx := context.Background()
			if err := f.hub.RegisterInstance(ctx); err != nil {
				t.Fatal(err)
			}
			createWaitingQRs(t, f, f.hub, 2)
			var mu sync.Mutex
			paid := ""                    // the partner ref the customer paid
			var leasedWhileAsked []string // payment leases in force during a partner read
			f.partner.get = func(ref contracts.PaymentRef) contracts.PaymentResult {
				leases, err := f.store.ListLeases(ctx, f.clock.Now())
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, l := range leases {
					if l.Kind == contracts.LeasePayment {
						leasedWhileAsked = append(leasedWhileAsked, l.Object)
					}
				}
				if paid == "" {
					paid = ref.PartnerRef
					return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, PartnerPaymentID: "pp-" + ref.PartnerRef}
				}
				return contracts.PaymentResult{Outcome: contracts.OutcomePending}
			}
			changed, err := hub.PollEvery(ctx, f.hub, 10, every)
			if err != nil || changed != 1 {
				t.Fatalf("poll: %d changed, %v; want 1", changed, err)
			}
			if len(leasedWhileAsked) != 0 {
				t.Errorf("payment leases held while the partner was asked: %v", leasedWhileAsked)
			}
			list, err := f.store.ListPaymentsByStatus(ctx, contracts.StatusSucceeded, 10)
			if err != nil || len(list) != 1 || list[0].PartnerRef != paid {
				t.Fatalf("succeeded payments = %v, %v; want the one paid (%s)", list, err, paid)
			}
			leases, err := f.store.ListLeases(ctx, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range leases {
				if l.Kind == contracts.LeasePayment {
					t.Errorf("a payment lease outlived the poll: %+v", l)
				}
			}
		})
	}
}
