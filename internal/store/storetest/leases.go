package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"payhub/contracts"
)

// Work leases: one owner at a time; the owner renews; an expired lease goes to the next
// taker; a transaction holding a lease fails with ErrLeaseLost once it is not its owner's;
// release frees it for others, and only its owner's release counts.
func testWorkLeases(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	obj := newID("pay_")
	lease := func(owner string, until time.Duration) contracts.WorkLease {
		return contracts.WorkLease{Kind: contracts.LeasePayment, Object: obj, Owner: owner, ExpiresAt: at(until)}
	}
	take := func(l contracts.WorkLease, now time.Duration) bool {
		t.Helper()
		ok, err := s.TakeLease(ctx, l, at(now), at(now-5*time.Second))
		if err != nil {
			t.Fatalf("TakeLease %s: %v", l.Owner, err)
		}
		return ok
	}
	hold := func(owner string, now time.Duration) error {
		return s.InTx(ctx, func(tx contracts.Tx) error {
			return tx.HoldLease(ctx, contracts.LeasePayment, obj, owner, at(now))
		})
	}
	if err := hold("a", 0); !errors.Is(err, contracts.ErrLeaseLost) {
		t.Fatalf("HoldLease without a lease = %v, want ErrLeaseLost", err)
	}
	if !take(lease("a", time.Minute), 0) {
		t.Fatal("a could not take a free lease")
	}
	if take(lease("b", time.Minute), 30*time.Second) {
		t.Fatal("b took a's lease in force")
	}
	if err := hold("a", 30*time.Second); err != nil {
		t.Fatalf("a's HoldLease in force: %v", err)
	}
	if err := hold("b", 30*time.Second); !errors.Is(err, contracts.ErrLeaseLost) {
		t.Fatalf("b's HoldLease on a's lease = %v, want ErrLeaseLost", err)
	}
	// a renews; b still cannot take it past the first expiry.
	if !take(lease("a", 2*time.Minute), 50*time.Second) {
		t.Fatal("a could not renew its lease")
	}
	if take(lease("b", 3*time.Minute), 90*time.Second) {
		t.Fatal("b took a's renewed lease")
	}
	// Expired: a's late write is refused, and b takes it over.
	if err := hold("a", 2*time.Minute); !errors.Is(err, contracts.ErrLeaseLost) {
		t.Fatalf("a's HoldLease at expiry = %v, want ErrLeaseLost", err)
	}
	if !take(lease("b", 3*time.Minute), 2*time.Minute) {
		t.Fatal("b could not take the expired lease")
	}
	if err := hold("a", 2*time.Minute); !errors.Is(err, contracts.ErrLeaseLost) {
		t.Fatalf("a's HoldLease after b took over = %v, want ErrLeaseLost", err)
	}
	leases, err := s.ListLeases(ctx, at(2*time.Minute))
	if err != nil || len(leases) != 1 || leases[0].Owner != "b" || !leases[0].ExpiresAt.Equal(stored(at(3*time.Minute))) {
		t.Fatalf("ListLeases = %+v, %v", leases, err)
	}
	// Only the owner's release counts.
	if err := s.ReleaseLease(ctx, contracts.LeasePayment, obj, "a"); err != nil {
		t.Fatal(err)
	}
	if take(lease("c", 4*time.Minute), 2*time.Minute) {
		t.Fatal("a's release freed b's lease")
	}
	if err := s.ReleaseLease(ctx, contracts.LeasePayment, obj, "b"); err != nil {
		t.Fatal(err)
	}
	if !take(lease("c", 4*time.Minute), 2*time.Minute) {
		t.Fatal("c could not take the released lease")
	}
	// Another kind of the same id is another lease.
	if ok, err := s.TakeLease(ctx, contracts.WorkLease{Kind: contracts.LeaseRefund, Object: obj, Owner: "d", ExpiresAt: at(time.Hour)}, at(2*time.Minute), at(2*time.Minute-5*time.Second)); err != nil || !ok {
		t.Fatalf("a refund lease of the same id: %v %v", ok, err)
	}
	if leases, _ := s.ListLeases(ctx, at(5*time.Minute)); len(leases) != 1 || leases[0].Kind != contracts.LeaseRefund {
		t.Fatalf("leases in force after c's expired: %+v", leases)
	}
	// c's lease expired at 4 min; d's is in force until 1 h.
	if n, err := s.DeleteLeasesExpiredBefore(ctx, at(5*time.Minute)); err != nil || n != 1 {
		t.Fatalf("DeleteLeasesExpiredBefore = %d, %v; want 1", n, err)
	}
	if !take(lease("e", 6*time.Minute), 5*time.Minute) {
		t.Fatal("e could not take the deleted lease")
	}
}

// Many owners racing for one expired lease: exactly one wins each round.
func testConcurrentWorkLeases(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	obj := newID("re_")
	for round := range 5 {
		now := at(time.Duration(round) * time.Hour)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				ok, err := s.TakeLease(ctx, contracts.WorkLease{Kind: contracts.LeaseRefund, Object: obj,
					Owner: string(rune('a'+i)) + "/" + string(rune('0'+round)), ExpiresAt: now.Add(time.Minute)}, now, now.Add(-5*time.Second))
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("round %d: %d owners took the lease", round, won.Load())
		}
	}
}

// ListInstances reads every instance, the latest started first; SchemaVersion shows a
// database migrated by this build as up to date.
func testListInstancesAndSchema(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	a, b := newID("ins_"), newID("ins_")
	for i, id := range []string{a, b} {
		started := at(time.Duration(i) * time.Minute)
		if err := s.RegisterInstance(ctx, contracts.Instance{ID: id, Version: "v", StartedAt: started, HeartbeatAt: started}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.StopInstance(ctx, a, at(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListInstances(ctx)
	if err != nil || len(got) != 2 || got[0].ID != b || got[1].ID != a || got[1].StoppedAt == nil || got[0].StoppedAt != nil {
		t.Fatalf("ListInstances = %+v, %v", got, err)
	}
	applied, known, err := s.SchemaVersion(ctx)
	if err != nil || known < 26 || applied != known {
		t.Fatalf("SchemaVersion = %d, %d, %v", applied, known, err)
	}
}

// testLeaseOfAGoneInstance: a lease held for an instance is taken over before it expires
// once that instance is gone — its heartbeat older than aliveAfter, stopped, or never
// registered — and not while it heartbeats.
func testLeaseOfAGoneInstance(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	inst := newID("ins_")
	if err := s.RegisterInstance(ctx, contracts.Instance{ID: inst, Version: "test", StartedAt: at(0), HeartbeatAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		instance  string
		aliveFrom time.Duration // the taker's aliveAfter
		taken     bool
	}{
		{"its instance heartbeats", inst, -5 * time.Second, false},
		{"its instance is silent", inst, 5 * time.Second, true},
		{"its instance never registered", newID("ins_"), -5 * time.Second, true},
		{"no instance: only expiry ends it", "", 5 * time.Second, false},
	} {
		obj := newID("pay_")
		if ok, err := s.TakeLease(ctx, contracts.WorkLease{Kind: contracts.LeasePayment, Object: obj, Owner: c.instance + "/resolver",
			Instance: c.instance, ExpiresAt: at(time.Hour)}, at(0), at(-5*time.Second)); err != nil || !ok {
			t.Fatalf("%s: first take: %v %v", c.name, ok, err)
		}
		ok, err := s.TakeLease(ctx, contracts.WorkLease{Kind: contracts.LeasePayment, Object: obj, Owner: "other/resolver",
			Instance: "other", ExpiresAt: at(time.Hour)}, at(10*time.Second), at(c.aliveFrom))
		if err != nil || ok != c.taken {
			t.Fatalf("%s: taken over = %v (%v), want %v", c.name, ok, err, c.taken)
		}
	}
}
