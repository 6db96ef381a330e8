package hub_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// renewals steps a hub's work-lease renewals (InstanceConfig.RenewWait): each wait of the
// renewer shows on waits, and ends when the test sends on next or the work ends.
type renewals struct {
	waits chan time.Duration
	next  chan struct{}
}

func newRenewals() *renewals {
	return &renewals{waits: make(chan time.Duration), next: make(chan struct{})}
}

func (r *renewals) wait(ctx context.Context, d time.Duration) error {
	select {
	case r.waits <- d:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.next:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// slowPartner answers an inquiry only when the test says so, or gives up when the call's
// context ends: a chain of partner timeouts and retries that outlasts the work lease.
type slowPartner struct {
	*scriptedPartner
	inquiring chan struct{}
	answer    chan contracts.Outcome
	cut       chan error // the context's cause, when the call was cut
}

func newSlowPartner() *slowPartner {
	return &slowPartner{scriptedPartner: &scriptedPartner{}, inquiring: make(chan struct{}, 1),
		answer: make(chan contracts.Outcome), cut: make(chan error, 1)}
}

func (p *slowPartner) GetPayment(ctx context.Context, _ contracts.PaymentRef) contracts.PaymentResult {
	p.called("get")
	p.inquiring <- struct{}{}
	select {
	case o := <-p.answer:
		return contracts.PaymentResult{Outcome: o}
	case <-ctx.Done():
		p.cut <- context.Cause(ctx)
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown}
	}
}

// renewalRig is instance A, whose resolver asks the slow partner under a lease it renews
// when the test steps it, and instance B, ready to take the work over, on one database.
type renewalRig struct {
	f        *fixture
	a, b     *hub.Hub
	slow     *slowPartner
	renewals *renewals
	id       string
	resolved chan int // A's ResolveOnce: how many it settled
}

func newRenewalRig(t *testing.T, st contracts.Store) *renewalRig {
	t.Helper()
	f := newFixtureOn(t, st)
	r := &renewalRig{f: f, slow: newSlowPartner(), renewals: newRenewals(), id: f.unknownPayment(t, 700), resolved: make(chan int, 1)}
	r.a = hub.New(hub.Config{Store: st, Partners: map[contracts.Method]contracts.Partner{contracts.MethodPayPay: r.slow},
		Clock: f.clock, IDs: ids.New(f.clock), APIVersion: contracts.APIVersion, Metrics: hub.NewMetrics(prometheus.NewRegistry()),
		Instance: hub.InstanceConfig{RenewWait: r.renewals.wait}})
	r.b = hub.New(hub.Config{Store: st, Partners: map[contracts.Method]contracts.Partner{contracts.MethodPayPay: f.partner},
		Clock: f.clock, IDs: ids.New(f.clock), APIVersion: contracts.APIVersion, Metrics: hub.NewMetrics(prometheus.NewRegistry())})
	for _, h := range []*hub.Hub{r.a, r.b} {
		if err := h.RegisterInstance(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// startA runs A's resolver pass until it is inside the partner call, under its lease, and
// its renewer waits for the first third of the lease.
func (r *renewalRig) startA(t *testing.T) {
	t.Helper()
	go func() {
		n, _ := r.a.ResolveOnce(context.Background())
		r.resolved <- n
	}()
	receive(t, r.slow.inquiring, "A's inquiry")
	if d := receive(t, r.renewals.waits, "A's first renewal wait"); d != hub.DefaultWorkLease/3 {
		t.Fatalf("renewal every %s, want a third of %s", d, hub.DefaultWorkLease)
	}
}

func (r *renewalRig) heartbeat(t *testing.T, hubs ...*hub.Hub) {
	t.Helper()
	for _, h := range hubs {
		if err := h.Heartbeat(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// receive takes one value from ch; a watchdog fails the test rather than hang it when the
// hub never gets there.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

// TestLeaseRenewedThroughASlowPartnerChain: A's resolver waits on a partner for twice the
// work lease (a chain of timeouts and retries). Alive and renewing its lease every third,
// A keeps it: instance B can neither take it nor resolve the payment at any step, and A's
// answer, when it comes, is written. On both databases.
func TestLeaseRenewedThroughASlowPartnerChain(t *testing.T) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			ctx := context.Background()
			r := newRenewalRig(t, db.Open(t))
			r.startA(t)
			third := hub.DefaultWorkLease / 3
			for step := 1; step <= 6; step++ { // two leases' length
				r.f.clock.Advance(third)
				r.heartbeat(t, r.a, r.b)
				r.renewals.next <- struct{}{}
				receive(t, r.renewals.waits, "renewal") // renewed; waiting for the next third
				if n, err := r.b.ResolveOnce(ctx); err != nil || n != 0 {
					t.Fatalf("after %s B resolved %d, %v", time.Duration(step)*third, n, err)
				}
				if _, ok := hub.TakeResolverLease(ctx, r.b, r.id); ok {
					t.Fatalf("after %s B took A's lease", time.Duration(step)*third)
				}
			}
			if r.f.partner.count("get") != 0 {
				t.Fatalf("B asked the partner %d times", r.f.partner.count("get"))
			}
			r.slow.answer <- contracts.OutcomeSucceeded
			if n := receive(t, r.resolved, "end of A's pass"); n != 1 {
				t.Fatalf("A settled %d", n)
			}
			if p := r.f.payment(t, r.id); p.Status != contracts.StatusSucceeded {
				t.Fatalf("A's answer after two leases: payment %s, want succeeded", p.Status)
			}
			if leases, err := r.f.store.ListLeases(ctx, r.f.clock.Now()); err != nil || len(leases) != 0 {
				t.Fatalf("leases after A's pass: %v, %v; want none (released)", leases, err)
			}
		})
	}
}

// TestLostLeaseCancelsTheWork: A's heartbeat stalls while its resolver waits on a partner;
// B takes the lease over. A's next renewal finds the lease lost and cancels the work (cause
// ErrLeaseLost): the partner call ends at once, and A writes nothing. On both databases.
func TestLostLeaseCancelsTheWork(t *testing.T) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			ctx := context.Background()
			r := newRenewalRig(t, db.Open(t))
			r.startA(t)
			seen := r.f.payment(t, r.id)

			// A stalls: no heartbeat. Once it is taken for gone, B takes the work over.
			r.f.clock.Advance(hub.DefaultInstanceConfig.Lease + time.Second)
			r.heartbeat(t, r.b)
			if _, ok := hub.TakeResolverLease(ctx, r.b, r.id); !ok {
				t.Fatal("B could not take over the lease of a gone instance")
			}
			r.f.clock.Advance(hub.DefaultWorkLease/3 - hub.DefaultInstanceConfig.Lease - time.Second)
			r.renewals.next <- struct{}{}

			if cause := receive(t, r.slow.cut, "cut of A's partner call"); !errors.Is(cause, contracts.ErrLeaseLost) {
				t.Fatalf("A's partner call ended by %v, want ErrLeaseLost", cause)
			}
			if n := receive(t, r.resolved, "end of A's pass"); n != 0 {
				t.Fatalf("A settled %d after losing its lease", n)
			}
			if p := r.f.payment(t, r.id); !samePaymentRow(seen, p) {
				t.Fatalf("A wrote after losing its lease:\n%+v\nwas\n%+v", p, seen)
			}
			leases, err := r.f.store.ListLeases(ctx, r.f.clock.Now())
			if err != nil || len(leases) != 1 || !strings.HasPrefix(leases[0].Owner, r.b.InstanceID()+"/") {
				t.Fatalf("leases: %v, %v; want B's alone", leases, err)
			}
		})
	}
}

// samePaymentRow reports whether nothing wrote to the payment between two reads.
func samePaymentRow(a, b contracts.Payment) bool {
	return a.Status == b.Status && a.EventSequence == b.EventSequence && a.UpdatedAt.Equal(b.UpdatedAt) &&
		a.Resolution.Attempts == b.Resolution.Attempts && a.Resolution.NotFoundSeen == b.Resolution.NotFoundSeen
}
