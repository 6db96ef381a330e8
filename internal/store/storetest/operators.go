package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"payhub/contracts"
)

// RunOperators is the conformance suite of operator step-up state (docs/security.md §7):
// enrolments round-trip and are replaced whole, the step-up state is written back, and the
// latest step-up is found. open must return a fresh, empty, migrated store.
func RunOperators(t *testing.T, open func(t *testing.T) contracts.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s contracts.Store)
	}{
		{"OperatorTOTP", testOperatorTOTP},
		{"StepUps", testStepUps},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func testOperatorTOTP(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	if _, err := s.GetOperatorTOTP(ctx, "op-alice"); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("unknown operator: %v, want ErrNotFound", err)
	}
	err := s.InTx(ctx, func(tx contracts.Tx) error {
		_, err := tx.GetOperatorTOTPForUpdate(ctx, "op-alice")
		return err
	})
	if !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("unknown operator for update: %v, want ErrNotFound", err)
	}
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		return tx.UpdateOperatorTOTPState(ctx, contracts.OperatorTOTP{Operator: "op-alice", LastStep: 3})
	})
	if !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("update of an unknown operator: %v, want ErrNotFound", err)
	}

	enrolled := contracts.OperatorTOTP{Operator: "op-alice", SealedSecret: "v2.sealed-1", EnrolledBy: "cli:sec", EnrolledAt: base}
	inTx(t, s, func(tx contracts.Tx) error { return tx.PutOperatorTOTP(ctx, enrolled) })
	got, err := s.GetOperatorTOTP(ctx, "op-alice")
	want := enrolled
	want.EnrolledAt = stored(base)
	if err != nil || !equalTOTP(got, want) {
		t.Fatalf("enrolment = %+v, %v; want %+v", got, err, want)
	}

	// The state is written back, times as UTC microseconds, and nil times as NULL.
	state := want
	state.LastStep, state.Failures, state.FailuresSince, state.LockedUntil = 58_000_123, 3, ptr(at(time.Minute)), ptr(at(time.Hour))
	inTx(t, s, func(tx contracts.Tx) error {
		locked, err := tx.GetOperatorTOTPForUpdate(ctx, "op-alice")
		if err != nil || !equalTOTP(locked, want) {
			t.Errorf("for update = %+v, %v", locked, err)
		}
		return tx.UpdateOperatorTOTPState(ctx, state)
	})
	got, _ = s.GetOperatorTOTP(ctx, "op-alice")
	state.FailuresSince, state.LockedUntil = storedPtr(state.FailuresSince), storedPtr(state.LockedUntil)
	if !equalTOTP(got, state) {
		t.Fatalf("after update = %+v, want %+v", got, state)
	}
	// The update changes the state only, never the secret.
	inTx(t, s, func(tx contracts.Tx) error {
		return tx.UpdateOperatorTOTPState(ctx, contracts.OperatorTOTP{Operator: "op-alice", SealedSecret: "other", LastStep: 7})
	})
	got, _ = s.GetOperatorTOTP(ctx, "op-alice")
	if got.SealedSecret != "v2.sealed-1" || got.LastStep != 7 || got.FailuresSince != nil || got.LockedUntil != nil {
		t.Fatalf("after clearing = %+v", got)
	}

	// A new enrolment replaces the secret and resets the state.
	inTx(t, s, func(tx contracts.Tx) error {
		return tx.PutOperatorTOTP(ctx, contracts.OperatorTOTP{Operator: "op-alice", SealedSecret: "v2.sealed-2", EnrolledBy: "cli:sec2", EnrolledAt: at(time.Hour)})
	})
	got, _ = s.GetOperatorTOTP(ctx, "op-alice")
	if got.SealedSecret != "v2.sealed-2" || got.EnrolledBy != "cli:sec2" || got.LastStep != 0 || !got.EnrolledAt.Equal(stored(at(time.Hour))) {
		t.Fatalf("re-enrolment = %+v", got)
	}
	// An empty secret is never stored.
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		return tx.PutOperatorTOTP(ctx, contracts.OperatorTOTP{Operator: "op-bob", EnrolledAt: base})
	})
	if err == nil {
		t.Fatal("an enrolment without a secret was stored")
	}
}

func testStepUps(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	if _, err := s.LatestStepUp(ctx, "op-alice"); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("no step-up: %v, want ErrNotFound", err)
	}
	for _, op := range []string{"op-alice", "op-bob"} {
		inTx(t, s, func(tx contracts.Tx) error {
			return tx.PutOperatorTOTP(ctx, contracts.OperatorTOTP{Operator: op, SealedSecret: "v2.x", EnrolledBy: "cli:sec", EnrolledAt: base})
		})
	}
	// A step-up of an operator who is not enrolled is refused.
	if err := s.InTx(ctx, func(tx contracts.Tx) error {
		return tx.InsertStepUp(ctx, contracts.StepUp{ID: newID("stp_"), Operator: "op-nobody", VerifiedAt: base})
	}); err == nil {
		t.Fatal("step-up of an unknown operator stored")
	}
	first := contracts.StepUp{ID: newID("stp_"), Operator: "op-alice", VerifiedAt: at(time.Minute)}
	later := contracts.StepUp{ID: newID("stp_"), Operator: "op-alice", VerifiedAt: at(2 * time.Minute)}
	bobs := contracts.StepUp{ID: newID("stp_"), Operator: "op-bob", VerifiedAt: at(time.Hour)}
	for _, su := range []contracts.StepUp{later, first, bobs} {
		inTx(t, s, func(tx contracts.Tx) error { return tx.InsertStepUp(ctx, su) })
	}
	got, err := s.LatestStepUp(ctx, "op-alice")
	later.VerifiedAt = stored(later.VerifiedAt)
	if err != nil || got != later {
		t.Fatalf("latest = %+v, %v; want %+v", got, err, later)
	}
	err = s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertStepUp(ctx, first) })
	if !errors.Is(err, contracts.ErrConflict) {
		t.Fatalf("a taken step-up id: %v, want ErrConflict", err)
	}
}

func equalTOTP(a, b contracts.OperatorTOTP) bool {
	eqPtr := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.Operator == b.Operator && a.SealedSecret == b.SealedSecret && a.EnrolledBy == b.EnrolledBy &&
		a.EnrolledAt.Equal(b.EnrolledAt) && a.LastStep == b.LastStep && a.Failures == b.Failures &&
		eqPtr(a.FailuresSince, b.FailuresSince) && eqPtr(a.LockedUntil, b.LockedUntil)
}
