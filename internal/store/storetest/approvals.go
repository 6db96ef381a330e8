package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
)

// The two-person approval part of the suite (contracts.ApprovalsStore,
// contracts.ApprovalsTx; docs/security.md §8).

// testApprovals: a request round-trips byte for byte (params kept as written); it is
// decided once — a second decision, even in a later transaction, is refused and changes
// nothing; a rolled-back decision leaves it pending; lists filter by status, newest first.
func testApprovals(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	a := contracts.Approval{ID: newID("apr_"), Action: "switch.lift", Params: json.RawMessage(`{"reason":"over","switch_id":"ks_1"}`),
		ParamsHash: "sha256:abc", RequiredRole: "operator", Status: contracts.ApprovalPending, Reason: "over",
		RequestedBy: "op-alice", RequestedAt: base, ExpiresAt: at(24 * time.Hour)}
	inTx(t, s, func(tx contracts.Tx) error { return tx.InsertApproval(ctx, a) })
	want := a
	want.RequestedAt, want.ExpiresAt = stored(a.RequestedAt), stored(a.ExpiresAt)
	got, err := s.GetApproval(ctx, a.ID)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetApproval = %+v, %v\nwant %+v", got, err, want)
	}
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertApproval(ctx, a) }); !errors.Is(err, contracts.ErrConflict) {
		t.Fatalf("duplicate id: %v, want ErrConflict", err)
	}
	if _, err := s.GetApproval(ctx, newID("apr_")); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("unknown approval: %v", err)
	}

	// A rolled-back decision leaves it pending.
	rollback := errors.New("roll back")
	decided := want
	decided.Status, decided.DecidedBy, decided.DecidedAt, decided.Result = contracts.ApprovalExecuted, "op-bob", ptr(at(time.Hour)), json.RawMessage(`{"lifted":true}`)
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		locked, err := tx.GetApprovalForUpdate(ctx, a.ID)
		if err != nil || !reflect.DeepEqual(locked, want) {
			t.Errorf("for update = %+v, %v", locked, err)
		}
		if err := tx.UpdateApprovalDecision(ctx, decided); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	if got, _ := s.GetApproval(ctx, a.ID); got.Status != contracts.ApprovalPending || got.DecidedAt != nil {
		t.Fatalf("after a rolled-back decision: %+v", got)
	}
	inTx(t, s, func(tx contracts.Tx) error { return tx.UpdateApprovalDecision(ctx, decided) })
	decided.DecidedAt = storedPtr(decided.DecidedAt)
	if got, _ := s.GetApproval(ctx, a.ID); !reflect.DeepEqual(got, decided) {
		t.Fatalf("decided = %+v\nwant %+v", got, decided)
	}
	again := decided
	again.Status, again.DecidedBy = contracts.ApprovalRejected, "op-carol"
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.UpdateApprovalDecision(ctx, again) }); !errors.Is(err, contracts.ErrInvalidTransition) {
		t.Fatalf("second decision: %v, want ErrInvalidTransition", err)
	}
	if got, _ := s.GetApproval(ctx, a.ID); got.DecidedBy != "op-bob" {
		t.Fatalf("a refused decision changed the request: %+v", got)
	}
	unknown := again
	unknown.ID = newID("apr_")
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.UpdateApprovalDecision(ctx, unknown) }); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("decision on an unknown request: %v, want ErrNotFound", err)
	}

	b := a
	b.ID, b.Action = newID("apr_"), "client.revoke"
	inTx(t, s, func(tx contracts.Tx) error { return tx.InsertApproval(ctx, b) })
	all, err := s.ListApprovals(ctx, "", 0)
	if err != nil || len(all) != 2 || all[0].ID != b.ID || all[1].ID != a.ID {
		t.Fatalf("all = %+v, %v", all, err)
	}
	if pending, _ := s.ListApprovals(ctx, contracts.ApprovalPending, 0); len(pending) != 1 || pending[0].ID != b.ID {
		t.Fatalf("pending = %+v", pending)
	}
	if one, _ := s.ListApprovals(ctx, "", 1); len(one) != 1 || one[0].ID != b.ID {
		t.Fatalf("limit 1 = %+v", one)
	}
}

// testConcurrentApprovalDecisions: of many transactions deciding one request under its
// row lock, exactly one decides it.
func testConcurrentApprovalDecisions(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	a := contracts.Approval{ID: newID("apr_"), Action: "switch.lift", Params: json.RawMessage(`{}`), ParamsHash: "sha256:x",
		RequiredRole: "operator", Status: contracts.ApprovalPending, RequestedBy: "op-alice", RequestedAt: base, ExpiresAt: at(time.Hour)}
	inTx(t, s, func(tx contracts.Tx) error { return tx.InsertApproval(ctx, a) })
	const n = 8
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		won int
	)
	for range n {
		wg.Go(func() {
			err := s.InTx(ctx, func(tx contracts.Tx) error {
				got, err := tx.GetApprovalForUpdate(ctx, a.ID)
				if err != nil {
					return err
				}
				if got.Status != contracts.ApprovalPending {
					return contracts.ErrInvalidTransition
				}
				got.Status, got.DecidedBy, got.DecidedAt = contracts.ApprovalExecuted, "op-bob", ptr(at(time.Minute))
				return tx.UpdateApprovalDecision(ctx, got)
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case !errors.Is(err, contracts.ErrInvalidTransition):
				t.Errorf("decision: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of %d concurrent decisions won, want 1", won, n)
	}
}

// testOperatorEnrollments: an enrolment waits for its operator, is taken once (a second
// take finds nothing), a newer one replaces one not taken, and a rolled-back take leaves
// it; enrolled operators are counted.
func testOperatorEnrollments(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	take := func(op string) (contracts.OperatorEnrollment, error) {
		var e contracts.OperatorEnrollment
		err := s.InTx(ctx, func(tx contracts.Tx) error {
			var err error
			e, err = tx.TakeOperatorEnrollment(ctx, op)
			return err
		})
		return e, err
	}
	if _, err := take("op-dave"); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("nothing waiting: %v", err)
	}
	e := contracts.OperatorEnrollment{Operator: "op-dave", ApprovalID: newID("apr_"), SealedURL: "v1.sealed-a", CreatedAt: base}
	inTx(t, s, func(tx contracts.Tx) error { return tx.PutOperatorEnrollment(ctx, e) })
	newer := e
	newer.ApprovalID, newer.SealedURL, newer.CreatedAt = newID("apr_"), "v1.sealed-b", at(time.Minute)
	inTx(t, s, func(tx contracts.Tx) error { return tx.PutOperatorEnrollment(ctx, newer) })
	rollback := errors.New("roll back")
	if err := s.InTx(ctx, func(tx contracts.Tx) error {
		if _, err := tx.TakeOperatorEnrollment(ctx, "op-dave"); err != nil {
			return err
		}
		return rollback
	}); !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	got, err := take("op-dave")
	newer.CreatedAt = stored(newer.CreatedAt)
	if err != nil || !reflect.DeepEqual(got, newer) {
		t.Fatalf("take = %+v, %v; want %+v", got, err, newer)
	}
	if _, err := take("op-dave"); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("second take: %v, want ErrNotFound", err)
	}

	count := func() int {
		var n int
		inTx(t, s, func(tx contracts.Tx) error {
			var err error
			n, err = tx.CountEnrolledOperators(ctx)
			return err
		})
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("enrolled = %d, want 0", n)
	}
	for _, op := range []string{"op-alice", "op-bob"} {
		inTx(t, s, func(tx contracts.Tx) error {
			return tx.PutOperatorTOTP(ctx, contracts.OperatorTOTP{Operator: op, SealedSecret: "v1.x", EnrolledBy: "cli:root", EnrolledAt: base})
		})
	}
	if n := count(); n != 2 {
		t.Fatalf("enrolled = %d, want 2", n)
	}
}
