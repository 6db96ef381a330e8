package store_test

import (
	"context"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/store/storetest"
)

// RenewLease extends only a lease in force and its owner's; a lease that lapsed, was taken
// over or released is never brought back — even when nobody holds it now, another instance
// may have worked under it meanwhile. On SQLite, and on PostgreSQL with
// PAYHUB_TEST_POSTGRES_URL.
func TestRenewLease(t *testing.T) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			testRenewLease(t, db.Open(t))
		})
	}
}

func testRenewLease(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	base := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	const obj = "pay_renew"
	take := func(owner string, now, until time.Duration) bool {
		t.Helper()
		ok, err := s.TakeLease(ctx, contracts.WorkLease{Kind: contracts.LeasePayment, Object: obj, Owner: owner, ExpiresAt: at(until)},
			at(now), at(now-5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	renew := func(owner string, now, until time.Duration) bool {
		t.Helper()
		ok, err := s.RenewLease(ctx, contracts.LeasePayment, obj, owner, at(now), at(until))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	if renew("a", 0, time.Minute) {
		t.Fatal("a renewed a lease nobody took")
	}
	if !take("a", 0, time.Minute) {
		t.Fatal("a could not take a free lease")
	}
	// Renewed every 20 s, a keeps it for three times its length.
	for now := 20 * time.Second; now <= 3*time.Minute; now += 20 * time.Second {
		if !renew("a", now, now+time.Minute) {
			t.Fatalf("a could not renew its lease at %s", now)
		}
		if take("b", now, now+time.Minute) {
			t.Fatalf("b took a's renewed lease at %s", now)
		}
	}
	if renew("b", 3*time.Minute, 4*time.Minute) {
		t.Fatal("b renewed a's lease")
	}
	// a stalls past the expiry: its renewal comes too late, though nobody took the lease.
	if renew("a", 4*time.Minute, 5*time.Minute) {
		t.Fatal("a renewed a lease that had lapsed")
	}
	// b takes the work over and finishes it; a's renewal does not bring its lease back.
	if !take("b", 4*time.Minute, 5*time.Minute) {
		t.Fatal("b could not take the lapsed lease")
	}
	if renew("a", 4*time.Minute, 5*time.Minute) {
		t.Fatal("a renewed b's lease")
	}
	if err := s.ReleaseLease(ctx, contracts.LeasePayment, obj, "b"); err != nil {
		t.Fatal(err)
	}
	if renew("a", 4*time.Minute, 5*time.Minute) {
		t.Fatal("a renewed a lease released after another instance worked under it")
	}
}
