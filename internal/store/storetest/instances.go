package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
)

// Instances register, heartbeat (never backwards) and stop; unknown ones are ErrNotFound.
func testInstances(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	id := newID("ins_")
	in := contracts.Instance{ID: id, Version: "2026-11-28", StartedAt: base, HeartbeatAt: base}
	if err := s.RegisterInstance(ctx, in); err != nil {
		t.Fatalf("RegisterInstance: %v", err)
	}
	if err := s.RegisterInstance(ctx, in); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("RegisterInstance twice = %v, want ErrConflict", err)
	}
	get := func() contracts.Instance {
		t.Helper()
		got, err := s.GetInstance(ctx, id)
		if err != nil {
			t.Fatalf("GetInstance: %v", err)
		}
		return got
	}
	want := contracts.Instance{ID: id, Version: in.Version, StartedAt: stored(base), HeartbeatAt: stored(base)}
	if d := diff(get(), want); d != "" {
		t.Errorf("registered instance:%s", d)
	}
	if err := s.HeartbeatInstance(ctx, id, at(3*time.Second)); err != nil {
		t.Fatalf("HeartbeatInstance: %v", err)
	}
	// A heartbeat from a clock behind the latest one changes nothing and is no error.
	if err := s.HeartbeatInstance(ctx, id, at(time.Second)); err != nil {
		t.Errorf("HeartbeatInstance(earlier) = %v", err)
	}
	want.HeartbeatAt = stored(at(3 * time.Second))
	got := get()
	if d := diff(got, want); d != "" {
		t.Errorf("after heartbeats:%s", d)
	}
	if got.Gone(stored(at(8*time.Second)), 5*time.Second) || !got.Gone(stored(at(8*time.Second+time.Millisecond)), 5*time.Second) {
		t.Error("Gone does not count the lease from the latest heartbeat")
	}
	if err := s.StopInstance(ctx, id, at(4*time.Second)); err != nil {
		t.Fatalf("StopInstance: %v", err)
	}
	if err := s.StopInstance(ctx, id, at(9*time.Second)); err != nil {
		t.Errorf("StopInstance twice = %v", err)
	}
	want.StoppedAt = ptr(stored(at(4 * time.Second)))
	if got := get(); diff(got, want) != "" || !got.Gone(at(4*time.Second), time.Hour) {
		t.Errorf("stopped instance = %+v, want %+v and gone at once", got, want)
	}
	// Deleting silent instances keeps those that beat since.
	if n, err := s.DeleteInstancesSilentSince(ctx, at(3*time.Second)); err != nil || n != 0 {
		t.Errorf("DeleteInstancesSilentSince(before its heartbeat) = %d, %v; want 0", n, err)
	}
	if n, err := s.DeleteInstancesSilentSince(ctx, at(3*time.Second+time.Millisecond)); err != nil || n < 1 {
		t.Errorf("DeleteInstancesSilentSince(after its heartbeat) = %d, %v; want it deleted", n, err)
	}
	if _, err := s.GetInstance(ctx, id); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("GetInstance(deleted) = %v, want ErrNotFound", err)
	}
	unknown := newID("ins_")
	if _, err := s.GetInstance(ctx, unknown); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("GetInstance(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.HeartbeatInstance(ctx, unknown, base); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("HeartbeatInstance(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.StopInstance(ctx, unknown, base); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("StopInstance(unknown) = %v, want ErrNotFound", err)
	}
}

// A claim names its owner; only the owner writes the intent (with its attempt) or abandons
// it, and a takeover moves it from one owner to another exactly once.
func testIdempotencyOwners(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	begin := func(key, owner string) contracts.IdempotencyRecord {
		t.Helper()
		rec, ok, err := s.BeginIdempotency(ctx, contracts.IdempotencyKey{ClientID: "cli_a", Key: key,
			Fingerprint: "f-" + key, CreatedAt: base, Owner: owner})
		if err != nil || !ok {
			t.Fatalf("BeginIdempotency(%s) = %v, %v", key, ok, err)
		}
		return rec
	}
	mark := func(key, owner, attempt string) error {
		return s.InTx(ctx, func(tx contracts.Tx) error {
			return tx.ClaimIdempotencyIntent(ctx, contracts.IdempotencyKey{ClientID: "cli_a", Key: key,
				Fingerprint: "f-" + key, CreatedAt: base, Owner: owner}, attempt)
		})
	}
	if rec := begin("k1", "ins_A"); rec.Owner != "ins_A" || rec.IntentWritten || rec.AttemptID != "" {
		t.Errorf("claimed record = %+v", rec)
	}
	if err := mark("k1", "ins_B", "att_1"); !errors.Is(err, contracts.ErrIdempotencyKeyTaken) {
		t.Errorf("ClaimIdempotencyIntent by another owner = %v, want ErrIdempotencyKeyTaken", err)
	}
	if err := s.AbandonIdempotency(ctx, "cli_a", "k1", "ins_B"); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("AbandonIdempotency by another owner = %v, want ErrConflict", err)
	}

	// Takeover: from the named owner only, once; the record then belongs to the new owner,
	// restamped, and the old owner can no longer write an intent under it.
	if ok, err := s.TakeOverIdempotency(ctx, "cli_a", "k1", "ins_X", "ins_B", at(time.Minute)); err != nil || ok {
		t.Errorf("TakeOverIdempotency from a non-owner = %v, %v; want false", ok, err)
	}
	var wg sync.WaitGroup
	wins := make(chan string, 4)
	for _, to := range []string{"ins_B", "ins_C", "ins_D", "ins_E"} {
		wg.Go(func() {
			ok, err := s.TakeOverIdempotency(ctx, "cli_a", "k1", "ins_A", to, at(time.Minute))
			if err != nil {
				t.Errorf("TakeOverIdempotency: %v", err)
			}
			if ok {
				wins <- to
			}
		})
	}
	wg.Wait()
	close(wins)
	var winners []string
	for w := range wins {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("takeover winners %v, want exactly one", winners)
	}
	rec, err := s.GetIdempotency(ctx, "cli_a", "k1")
	if err != nil || rec.Owner != winners[0] || !rec.CreatedAt.Equal(stored(at(time.Minute))) || rec.Completed {
		t.Fatalf("after takeover: %+v, %v", rec, err)
	}
	if err := mark("k1", "ins_A", "att_1"); !errors.Is(err, contracts.ErrIdempotencyKeyTaken) {
		t.Errorf("ClaimIdempotencyIntent by the old owner = %v, want ErrIdempotencyKeyTaken", err)
	}
	if err := mark("k1", winners[0], "att_2"); err != nil {
		t.Fatalf("ClaimIdempotencyIntent by the new owner = %v", err)
	}
	if rec, _ := s.GetIdempotency(ctx, "cli_a", "k1"); !rec.IntentWritten || rec.AttemptID != "att_2" {
		t.Errorf("after intent: %+v", rec)
	}

	// A completed key is never taken over; an unknown key reads ErrNotFound.
	begin("k2", "ins_A")
	inTx(t, s, func(tx contracts.Tx) error {
		return tx.CompleteIdempotency(ctx, "cli_a", "k2", contracts.Answer{Kind: contracts.AnswerCreated, Body: []byte("{}")}, base)
	})
	if ok, err := s.TakeOverIdempotency(ctx, "cli_a", "k2", "ins_A", "ins_B", base); err != nil || ok {
		t.Errorf("TakeOverIdempotency(completed) = %v, %v; want false", ok, err)
	}
	if _, err := s.GetIdempotency(ctx, "cli_a", "never"); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("GetIdempotency(unknown) = %v, want ErrNotFound", err)
	}
	begin("k3", "ins_A")
	if err := s.AbandonIdempotency(ctx, "cli_a", "k3", "ins_A"); err != nil {
		t.Errorf("AbandonIdempotency by its owner = %v", err)
	}
}

// GetAttempt reads one attempt by id.
func testGetAttempt(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	insertPayment(t, s, p)
	a := contracts.Attempt{ID: newID("att_"), PaymentID: p.ID, Operation: contracts.OpCapture, PartnerRef: p.ID + "_c1",
		StartedAt: base, ClientID: "cli_pos", IdempotencyKey: "k-capture"}
	inTx(t, s, func(tx contracts.Tx) error { return tx.InsertAttempt(ctx, a) })
	got, err := s.GetAttempt(ctx, a.ID)
	a.StartedAt = stored(a.StartedAt)
	if err != nil || diff(got, a) != "" {
		t.Errorf("GetAttempt = %+v, %v; want %+v", got, err, a)
	}
	if _, err := s.GetAttempt(ctx, newID("att_")); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("GetAttempt(unknown) = %v, want ErrNotFound", err)
	}
}

// The payments handed to an operator, whatever their status, oldest first.
func testPaymentsNeedingAttention(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	var want []string
	for i, c := range []struct {
		status    contracts.Status
		attention bool
	}{{contracts.StatusUnknown, true}, {contracts.StatusSucceeded, true}, {contracts.StatusUnknown, false}, {contracts.StatusAuthorized, true}} {
		p := newPayment("store-a")
		p.Status, p.Resolution.NeedsAttention = c.status, c.attention
		p.CreatedAt = at(-time.Duration(10-i) * time.Minute)
		putPayment(t, s, p)
		if c.attention {
			want = append(want, p.ID)
		}
	}
	got, err := s.ListPaymentsNeedingAttention(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Other tests of the suite may share the database: keep only this test's payments.
	var mine []string
	for _, p := range got {
		for _, id := range want {
			if p.ID == id {
				mine = append(mine, id)
			}
		}
	}
	if len(mine) != len(want) || mine[0] != want[0] || mine[1] != want[1] || mine[2] != want[2] {
		t.Errorf("ListPaymentsNeedingAttention = %v, want %v in creation order", mine, want)
	}
}
