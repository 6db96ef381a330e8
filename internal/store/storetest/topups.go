package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"payhub/contracts"
)

// The top-ups' part of the suite (contracts.TopUpStore, contracts.TopUpTx).

// newTopUp is a pending cash top-up with every insert-time field set.
func newTopUp(storeID string) contracts.TopUp {
	id := newID("tu_")
	return contracts.TopUp{
		ID: id, StoreID: storeID, ClientID: "cli_pos", Method: contracts.MethodNanaco, TerminalID: "till-1",
		CardLast4: "0002", Amount: contracts.Money{Amount: 3000, Currency: contracts.JPY}, Funding: contracts.FundingCash,
		Status: contracts.TopUpPending, PartnerRef: storeID + "_till-1.20250601." + id[len(id)-6:], EventSequence: 1,
		IdempotencyKey: "key-" + id, CreatedAt: base, UpdatedAt: base,
	}
}

// storedTopUp is t as the store gives it back.
func storedTopUp(t contracts.TopUp) contracts.TopUp {
	t.CreatedAt, t.UpdatedAt = stored(t.CreatedAt), stored(t.UpdatedAt)
	t.Resolution.NextAt = storedPtr(t.Resolution.NextAt)
	t.CancelStartedAt, t.CanceledAt = storedPtr(t.CancelStartedAt), storedPtr(t.CanceledAt)
	return t
}

// putTopUp inserts t as pending and moves it to t.Status through path.
func putTopUp(t *testing.T, s contracts.Store, tu contracts.TopUp, path ...contracts.TopUpStatus) contracts.TopUp {
	t.Helper()
	ctx := context.Background()
	inTx(t, s, func(tx contracts.Tx) error {
		step := tu
		step.Status = contracts.TopUpPending
		if err := tx.InsertTopUp(ctx, step); err != nil {
			return err
		}
		for _, st := range path {
			step.Status = st
			if err := tx.UpdateTopUp(ctx, step); err != nil {
				return err
			}
		}
		return nil
	})
	return storedTopUp(tu)
}

func topUpIDs(ts []contracts.TopUp) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// testTopUps: a top-up round-trips (the store-scoped read, the locked read), its updates
// follow the transition table and never change what it was created as, its partner ref is
// unique per method, and its events go through the outbox without a payment.
func testTopUps(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	tu := newTopUp("store-a")
	putTopUp(t, s, tu)
	got, err := s.GetTopUp(ctx, "store-a", tu.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(got, storedTopUp(tu)); d != "" {
		t.Errorf("top-up did not round-trip:%s", d)
	}
	if _, err := s.GetTopUp(ctx, "store-b", tu.ID); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("another store's top-up: %v, want ErrNotFound", err)
	}
	if _, err := s.GetTopUp(ctx, "", newID("tu_")); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("unknown top-up: %v, want ErrNotFound", err)
	}

	// Every field a settled, cancelled top-up has comes back.
	full := tu
	full.Status, full.PartnerTxnID, full.PartnerCode, full.CreditedTo = contracts.TopUpSucceeded, "NC000000000000000042", "APPROVED", contracts.CreditedBalance
	full.EventSequence, full.UpdatedAt = 2, at(time.Second)
	full.Resolution = contracts.Resolution{Attempts: 3, NextAt: ptr(at(time.Minute)), NeedsAttention: true}
	full.CancelStartedAt, full.CancelClientID, full.CancelIdempotencyKey = ptr(at(2*time.Second)), "cli_other", "cancel-key"
	inTx(t, s, func(tx contracts.Tx) error { return tx.UpdateTopUp(ctx, full) })
	full.Status, full.CancelStartedAt, full.CanceledAt, full.EventSequence = contracts.TopUpCanceled, nil, ptr(at(3*time.Second)), 3
	var locked contracts.TopUp
	inTx(t, s, func(tx contracts.Tx) error {
		if err := tx.UpdateTopUp(ctx, full); err != nil {
			return err
		}
		locked, err = tx.GetTopUpForUpdate(ctx, tu.ID)
		return err
	})
	if d := diff(locked, storedTopUp(full)); d != "" {
		t.Errorf("GetTopUpForUpdate after the updates:%s", d)
	}

	// A canceled top-up is final; a refused update changes nothing.
	back := full
	back.Status = contracts.TopUpSucceeded
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.UpdateTopUp(ctx, back) }); !errors.Is(err, contracts.ErrInvalidTransition) {
		t.Errorf("canceled → succeeded: %v, want ErrInvalidTransition", err)
	}
	for name, change := range map[string]func(*contracts.TopUp){
		"amount":  func(x *contracts.TopUp) { x.Amount.Amount++ },
		"store":   func(x *contracts.TopUp) { x.StoreID = "store-b" },
		"card":    func(x *contracts.TopUp) { x.CardLast4 = "9999" },
		"funding": func(x *contracts.TopUp) { x.Funding = contracts.FundingPoints },
		"ref":     func(x *contracts.TopUp) { x.PartnerRef += "x" },
	} {
		bad := full
		change(&bad)
		if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.UpdateTopUp(ctx, bad) }); !errors.Is(err, contracts.ErrConflict) {
			t.Errorf("changing the %s: %v, want ErrConflict", name, err)
		}
	}
	if got, _ := s.GetTopUp(ctx, "", tu.ID); got.Status != contracts.TopUpCanceled || got.Amount.Amount != 3000 {
		t.Errorf("after refused updates: %+v", got)
	}

	// Inserting: pending only; the id and the partner ref of a method are unique.
	for name, bad := range map[string]func(*contracts.TopUp){
		"succeeded":        func(x *contracts.TopUp) { x.Status = contracts.TopUpSucceeded },
		"the same id":      func(x *contracts.TopUp) { x.ID = tu.ID },
		"the same ref":     func(x *contracts.TopUp) { x.PartnerRef = tu.PartnerRef },
		"another method's": func(x *contracts.TopUp) { x.PartnerRef, x.Method = tu.PartnerRef, "othermethod" },
	} {
		x := newTopUp("store-a")
		bad(&x)
		err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertTopUp(ctx, x) })
		switch name {
		case "another method's":
			if err != nil {
				t.Errorf("the same ref for another method: %v", err)
			}
		case "succeeded":
			if err == nil {
				t.Error("a top-up inserted as succeeded")
			}
		default:
			if !errors.Is(err, contracts.ErrConflict) {
				t.Errorf("insert with %s: %v, want ErrConflict", name, err)
			}
		}
	}

	// Top-up events are outbox events about no payment; two top-ups both have a first one.
	other := putTopUp(t, s, newTopUp("store-a"))
	inTx(t, s, func(tx contracts.Tx) error {
		for _, id := range []string{tu.ID, other.ID} {
			if err := tx.AppendEvent(ctx, contracts.Event{ID: newID("evt_"), Type: contracts.EventTopUpPending, StoreID: "store-a",
				Sequence: 1, Payload: []byte(`{"type":"top_up.pending","id":"` + id + `"}`), CreatedAt: base}); err != nil {
				return err
			}
		}
		return nil
	})
}

// testListTopUpsToResolve: the resolver sees unknown top-ups at once, pending ones and
// cancels in flight once stuck, each only when due and not flagged, in id order.
func testListTopUpsToResolve(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	now := at(time.Hour)
	stuckBefore := now.Add(-2 * time.Minute)
	old, fresh := now.Add(-10*time.Minute), now.Add(-time.Minute)
	mk := func(status contracts.TopUpStatus, updated time.Time, change func(*contracts.TopUp), path ...contracts.TopUpStatus) contracts.TopUp {
		x := newTopUp("store-a")
		x.Status, x.UpdatedAt = status, updated
		if change != nil {
			change(&x)
		}
		return putTopUp(t, s, x, path...)
	}
	unknown := mk(contracts.TopUpUnknown, fresh, nil, contracts.TopUpUnknown)
	stuck := mk(contracts.TopUpPending, old, nil)
	mk(contracts.TopUpPending, fresh, nil) // in flight
	cancelStuck := mk(contracts.TopUpSucceeded, old, func(x *contracts.TopUp) { x.CancelStartedAt = ptr(old) }, contracts.TopUpSucceeded)
	mk(contracts.TopUpSucceeded, fresh, func(x *contracts.TopUp) { x.CancelStartedAt = ptr(fresh) }, contracts.TopUpSucceeded)
	mk(contracts.TopUpSucceeded, old, nil, contracts.TopUpSucceeded)
	mk(contracts.TopUpFailed, old, nil, contracts.TopUpFailed)
	mk(contracts.TopUpUnknown, old, func(x *contracts.TopUp) { x.Resolution.NeedsAttention = true }, contracts.TopUpUnknown)
	mk(contracts.TopUpUnknown, old, func(x *contracts.TopUp) { x.Resolution.NextAt = ptr(now.Add(time.Second)) }, contracts.TopUpUnknown)
	dueNow := mk(contracts.TopUpUnknown, old, func(x *contracts.TopUp) { x.Resolution.NextAt = ptr(now) }, contracts.TopUpUnknown)

	got, err := s.ListTopUpsToResolve(ctx, now, stuckBefore, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{unknown.ID, stuck.ID, cancelStuck.ID, dueNow.ID}
	if !slices.Equal(topUpIDs(got), want) {
		t.Fatalf("ListTopUpsToResolve = %v, want %v", topUpIDs(got), want)
	}
	if d := diff(got[2], cancelStuck); d != "" {
		t.Errorf("the listed top-up:%s", d)
	}
	if got, err := s.ListTopUpsToResolve(ctx, now, stuckBefore, 2); err != nil || !slices.Equal(topUpIDs(got), want[:2]) {
		t.Errorf("limit 2: %v, %v", topUpIDs(got), err)
	}
}
