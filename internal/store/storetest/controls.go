package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/audit"
)

// The kill switches' part of the suite (contracts.ControlsStore, contracts.ControlsTx).

// testKillSwitches: a switch round-trips with its scope and expiry; every set and lift
// bumps the version, in the change's transaction (a rolled-back change bumps nothing);
// a lifted switch leaves the active list but stays on record; lifting twice or an unknown
// id is refused; the audit entry written in the same transaction commits with it.
func testKillSwitches(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	v0, err := s.GetControlsVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListKillSwitches(ctx, true); err != nil || len(list) != 0 {
		t.Fatalf("empty list = %v, %v", list, err)
	}
	k := contracts.KillSwitch{ID: newID("ks_"), Scope: contracts.ControlScope{Partner: contracts.PartnerGMOPG,
		Method: contracts.MethodCard, Operation: contracts.OperationRefund, StoreID: "store-1", TerminalID: "till-1",
		ClientID: "pos-1"}, PublicReason: "Card refunds are paused.", InternalNote: "incident 42",
		SetBy: "cli:alice", SetAt: base, ExpiresAt: ptr(at(2 * time.Hour))}
	inTx(t, s, func(tx contracts.Tx) error {
		if err := tx.InsertKillSwitch(ctx, k); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, auditTestKey, audit.Entry{Actor: "cli:alice", Action: "switch.set", Target: "switch:" + k.ID})
		return err
	})
	want := k
	want.SetAt, want.ExpiresAt = stored(k.SetAt), storedPtr(k.ExpiresAt)
	got, err := s.GetKillSwitch(ctx, k.ID)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetKillSwitch = %+v, %v\nwant %+v", got, err, want)
	}
	v1, _ := s.GetControlsVersion(ctx)
	if v1 <= v0 {
		t.Fatalf("version %d after a set, was %d", v1, v0)
	}
	if h, _ := s.GetAuditHead(ctx); h.Seq != 1 {
		t.Fatalf("audit head %d after a set, want 1", h.Seq)
	}
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertKillSwitch(ctx, k) }); !errors.Is(err, contracts.ErrConflict) {
		t.Fatalf("duplicate id: %v, want ErrConflict", err)
	}

	// A rolled-back set leaves neither the switch nor a new version.
	rollback := errors.New("roll back")
	other := contracts.KillSwitch{ID: newID("ks_"), Scope: contracts.ControlScope{Partner: contracts.PartnerPayPay},
		PublicReason: "PayPay is paused.", SetBy: "cli:bob", SetAt: at(time.Minute)}
	if err := s.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.InsertKillSwitch(ctx, other); err != nil {
			return err
		}
		return rollback
	}); !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	if v, _ := s.GetControlsVersion(ctx); v != v1 {
		t.Fatalf("version %d after a rolled-back set, want %d", v, v1)
	}
	inTx(t, s, func(tx contracts.Tx) error { return tx.InsertKillSwitch(ctx, other) })
	active, err := s.ListKillSwitches(ctx, false)
	if err != nil || len(active) != 2 || active[0].ID != k.ID || active[1].ID != other.ID {
		t.Fatalf("active = %+v, %v", active, err)
	}

	var lifted contracts.KillSwitch
	inTx(t, s, func(tx contracts.Tx) error {
		var err error
		lifted, err = tx.LiftKillSwitch(ctx, k.ID, "cli:carol", "fixed", at(time.Hour))
		return err
	})
	if lifted.LiftedAt == nil || !lifted.LiftedAt.Equal(stored(at(time.Hour))) || lifted.LiftedBy != "cli:carol" || lifted.LiftReason != "fixed" {
		t.Fatalf("lifted = %+v", lifted)
	}
	v2, _ := s.GetControlsVersion(ctx)
	if v2 <= v1 {
		t.Fatalf("version %d after a lift, was %d", v2, v1)
	}
	if got, _ := s.GetKillSwitch(ctx, k.ID); !reflect.DeepEqual(got, lifted) {
		t.Fatalf("stored lifted switch = %+v, want %+v", got, lifted)
	}
	if active, _ := s.ListKillSwitches(ctx, false); len(active) != 1 || active[0].ID != other.ID {
		t.Fatalf("active after lift = %+v", active)
	}
	if all, _ := s.ListKillSwitches(ctx, true); len(all) != 2 {
		t.Fatalf("all after lift = %+v", all)
	}
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		_, err := tx.LiftKillSwitch(ctx, k.ID, "cli:carol", "again", at(2*time.Hour))
		return err
	})
	if !errors.Is(err, contracts.ErrInvalidTransition) {
		t.Fatalf("lift twice: %v, want ErrInvalidTransition", err)
	}
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		_, err := tx.LiftKillSwitch(ctx, newID("ks_"), "cli:carol", "x", at(2*time.Hour))
		return err
	})
	if !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("lift unknown: %v, want ErrNotFound", err)
	}
	if _, err := s.GetKillSwitch(ctx, newID("ks_")); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
	if v, _ := s.GetControlsVersion(ctx); v != v2 {
		t.Fatalf("version %d after refused lifts, want %d", v, v2)
	}
}
