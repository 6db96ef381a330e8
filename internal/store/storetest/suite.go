package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
)

// Run is the conformance suite of contracts.Store. open must return a fresh, empty,
// migrated store for each call; every subtest opens its own and runs in parallel.
func Run(t *testing.T, open func(t *testing.T) contracts.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s contracts.Store)
	}{
		{"Ping", testPing},
		{"PaymentRoundTrip", testPaymentRoundTrip},
		{"InsertPaymentNeedsInitialStatus", testInsertPaymentNeedsInitialStatus},
		{"InsertPaymentDuplicate", testInsertPaymentDuplicate},
		{"StoreIsolation", testStoreIsolation},
		{"ListPaymentsPagination", testListPaymentsPagination},
		{"ListPaymentsNeedsStore", testListPaymentsNeedsStore},
		{"ListPaymentsByStatus", testListPaymentsByStatus},
		{"ListPaymentsDueForPoll", testListPaymentsDueForPoll},
		{"UpdatePayment", testUpdatePayment},
		{"TransitionRefusalRollsBack", testTransitionRefusalRollsBack},
		{"UpdatePaymentImmutables", testUpdatePaymentImmutables},
		{"Refunds", testRefunds},
		{"Events", testEvents},
		{"Attempts", testAttempts},
		{"InTxCommitAndRollback", testInTxCommitAndRollback},
		{"InTxPanic", testInTxPanic},
		{"TxReadsItsWritesAndFailsWhole", testTxReadsItsWritesAndFailsWhole},
		{"ConcurrentRefundsNeverExceedAmount", testConcurrentRefunds},
		{"Idempotency", testIdempotency},
		{"IdempotencyExpiry", testIdempotencyExpiry},
		{"IdempotencyRolledBackCompletion", testIdempotencyRolledBackCompletion},
		{"ConcurrentBeginIdempotency", testConcurrentBeginIdempotency},
		{"IdempotencyClaimedWithIntentOrAnswer", testIdempotencyClaimedWithIntentOrAnswer},
		{"ConcurrentIdempotencyClaims", testConcurrentIdempotencyClaims},
		{"StoreClients", testStoreClients},
		{"ResolutionRoundTrip", testResolutionRoundTrip},
		{"ListPaymentsToResolve", testListPaymentsToResolve},
		{"ProvisionalPaymentMayFail", testProvisionalPaymentMayFail},
		{"ListRefundsToResolve", testListRefundsToResolve},
		{"GetRefundForUpdate", testGetRefundForUpdate},
		{"ConcurrentRefundUpdatesSerialize", testConcurrentRefundUpdates},
		{"LookupIdempotency", testLookupIdempotency},
		{"IdempotencyIntentAndOrphans", testIdempotencyIntentAndOrphans},
		{"ListStuckAttempts", testListStuckAttempts},
		{"AllocateSequence", testAllocateSequence},
		{"ConcurrentAllocateSequence", testConcurrentAllocateSequence},
		{"WebhookEndpoints", testWebhookEndpoints},
		{"WebhookFanOut", testWebhookFanOut},
		{"WebhookLeases", testWebhookLeases},
		{"WebhookDisable", testWebhookDisable},
		{"WebhookSuccessAndDisabledEvent", testWebhookSuccessAndDisabledEvent},
		{"WebhookRedelivery", testWebhookRedelivery},
		{"PartnerCallbacks", testPartnerCallbacks},
		{"FindPaymentByPartnerRef", testFindPaymentByPartnerRef},
		{"Instances", testInstances},
		{"WorkLeases", testWorkLeases},
		{"ConcurrentWorkLeases", testConcurrentWorkLeases},
		{"LeaseOfAGoneInstance", testLeaseOfAGoneInstance},
		{"ListInstancesAndSchema", testListInstancesAndSchema},
		{"IdempotencyOwners", testIdempotencyOwners},
		{"GetAttempt", testGetAttempt},
		{"PaymentsNeedingAttention", testPaymentsNeedingAttention},
		{"TopUps", testTopUps},
		{"ListTopUpsToResolve", testListTopUpsToResolve},
		{"AuditLog", testAuditLog},
		{"ConcurrentAuditAppends", testConcurrentAuditAppends},
		{"KillSwitches", testKillSwitches},
		{"Approvals", testApprovals},
		{"ConcurrentApprovalDecisions", testConcurrentApprovalDecisions},
		{"OperatorEnrollments", testOperatorEnrollments},
		{"Ledger", testLedger},
		{"LedgerImmutable", testLedgerImmutable},
		{"LinkedAccounts", testLinkedAccounts},
		{"MigrationRuns", testMigrationRuns},
		{"CompensationClaims", testCompensationClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func testPing(t *testing.T, s contracts.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testPaymentRoundTrip(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	full := newPayment("store-a")
	minimal := contracts.Payment{
		ID: newID("pay_"), StoreID: "store-a", Method: contracts.MethodPayPay, Flow: contracts.FlowBarcode,
		Amount: contracts.Money{Amount: 1, Currency: contracts.JPY}, Status: contracts.StatusRequiresAction,
		CreatedAt: base, UpdatedAt: base,
	}
	emptyMeta := newPayment("store-a")
	emptyMeta.Metadata = map[string]string{}
	emptyMeta.NextAction = &contracts.NextAction{Type: contracts.NextActionDisplayQR}
	for _, p := range []contracts.Payment{full, minimal, emptyMeta} {
		insertPayment(t, s, p)
		got, err := s.GetPayment(ctx, "store-a", p.ID)
		if err != nil {
			t.Fatalf("GetPayment: %v", err)
		}
		if d := diff(got, storedPayment(p)); d != "" {
			t.Errorf("payment %s did not round-trip:%s", p.ID, d)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
		}
		var locked contracts.Payment
		inTx(t, s, func(tx contracts.Tx) error {
			locked, err = tx.GetPaymentForUpdate(ctx, p.ID)
			return err
		})
		if d := diff(locked, storedPayment(p)); d != "" {
			t.Errorf("GetPaymentForUpdate %s:%s", p.ID, d)
		}
	}
	if _, err := s.GetPayment(ctx, "", newID("pay_")); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("GetPayment(unknown) = %v, want ErrNotFound", err)
	}
	err := s.InTx(ctx, func(tx contracts.Tx) error {
		_, err := tx.GetPaymentForUpdate(ctx, newID("pay_"))
		return err
	})
	if !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("GetPaymentForUpdate(unknown) = %v, want ErrNotFound", err)
	}
}

func testInsertPaymentNeedsInitialStatus(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	for _, st := range []contracts.Status{contracts.StatusSucceeded, contracts.StatusAuthorized,
		contracts.StatusFailed, contracts.StatusCanceled, contracts.StatusUnknown, "", "bogus"} {
		p := newPayment("store-a")
		p.Status = st
		err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertPayment(ctx, p) })
		if !errors.Is(err, contracts.ErrInvalidTransition) {
			t.Errorf("InsertPayment(status %q) = %v, want ErrInvalidTransition", st, err)
		}
		if _, err := s.GetPayment(ctx, "", p.ID); !errors.Is(err, contracts.ErrNotFound) {
			t.Errorf("refused payment in status %q was stored (err %v)", st, err)
		}
	}
	for _, st := range contracts.InitialStatuses {
		p := newPayment("store-a")
		p.Status = st
		insertPayment(t, s, p)
	}
}

func testInsertPaymentDuplicate(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	insertPayment(t, s, p)
	dup := newPayment("store-b")
	dup.ID = p.ID
	err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertPayment(ctx, dup) })
	if !errors.Is(err, contracts.ErrConflict) {
		t.Fatalf("duplicate InsertPayment = %v, want ErrConflict", err)
	}
	if got := mustGet(t, s, p.ID); got.StoreID != "store-a" {
		t.Errorf("duplicate insert changed the payment: store %q", got.StoreID)
	}
}

func testStoreIsolation(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	a, b := newPayment("store-a"), newPayment("store-b")
	insertPayment(t, s, a)
	insertPayment(t, s, b)
	ra := newRefund(a, 100)
	inTx(t, s, func(tx contracts.Tx) error { return tx.InsertRefund(ctx, ra) })

	if _, err := s.GetPayment(ctx, "store-b", a.ID); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("GetPayment(other store) = %v, want ErrNotFound", err)
	}
	if got, err := s.GetPayment(ctx, "", a.ID); err != nil || got.ID != a.ID {
		t.Errorf("GetPayment(any store) = %v, %v", got.ID, err)
	}
	if _, err := s.GetRefund(ctx, "store-b", ra.ID); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("GetRefund(other store) = %v, want ErrNotFound", err)
	}
	if got, err := s.GetRefund(ctx, "", ra.ID); err != nil || got.ID != ra.ID {
		t.Errorf("GetRefund(any store) = %v, %v", got.ID, err)
	}
	list, err := s.ListPayments(ctx, contracts.PaymentFilter{StoreID: "store-b", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("ListPayments(store-b) = %v, want only %s", ids(list), b.ID)
	}
}

// ids lists the payments' ids.
func ids(ps []contracts.Payment) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

// seedPayments writes 30 payments of store-a with varied statuses, tills, methods, orders and
// creation times (payment i created at base+i minutes), and 5 of store-b. It returns
// store-a's payments as stored, oldest first.
func seedPayments(t *testing.T, s contracts.Store) []contracts.Payment {
	ctx := context.Background()
	var out []contracts.Payment
	for i := range 35 {
		store := "store-a"
		if i >= 30 {
			store = "store-b"
		}
		p := newPayment(store)
		p.CreatedAt, p.UpdatedAt = at(time.Duration(i)*time.Minute), at(time.Duration(i)*time.Minute)
		p.TerminalID = fmt.Sprintf("till-%d", i%2)
		p.OrderID = fmt.Sprintf("order-%d", i%5)
		if i%4 == 0 {
			p.Method = "linepay"
		}
		p.Status = contracts.StatusProcessing
		if i%3 == 2 {
			p.Status = contracts.StatusRequiresAction
		}
		insertPayment(t, s, p)
		if i%3 == 0 {
			p.Status = contracts.StatusSucceeded
			inTx(t, s, func(tx contracts.Tx) error { return tx.UpdatePayment(ctx, p) })
		}
		if store == "store-a" {
			out = append(out, storedPayment(p))
		}
	}
	return out
}

func testListPaymentsPagination(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	all := seedPayments(t, s)
	filters := map[string]contracts.PaymentFilter{
		"none":     {},
		"status":   {Status: contracts.StatusSucceeded},
		"terminal": {TerminalID: "till-1"},
		"method":   {Method: "linepay"},
		"order":    {OrderID: "order-2"},
		"created":  {CreatedGTE: at(5 * time.Minute), CreatedLT: at(20 * time.Minute)},
		"combined": {Status: contracts.StatusProcessing, TerminalID: "till-1", CreatedGTE: at(3 * time.Minute)},
		"nothing":  {OrderID: "no-such-order"},
	}
	for name, f := range filters {
		f.StoreID = "store-a"
		var want []contracts.Payment
		for _, p := range slices.Backward(all) {
			if matches(f, p) {
				want = append(want, p)
			}
		}
		const pageSize = 4
		var got []contracts.Payment
		for page := 0; ; page++ {
			f.Limit = pageSize
			ps, err := s.ListPayments(ctx, f)
			if err != nil {
				t.Fatalf("%s: ListPayments: %v", name, err)
			}
			if len(ps) > pageSize {
				t.Fatalf("%s: page %d has %d payments, limit %d", name, page, len(ps), pageSize)
			}
			got = append(got, ps...)
			if len(ps) < pageSize || page > len(all) {
				break
			}
			f.BeforeID = ps[len(ps)-1].ID
		}
		if !slices.Equal(ids(got), ids(want)) {
			t.Errorf("%s: pages = %v\nwant %v", name, ids(got), ids(want))
			continue
		}
		for i := range got {
			if d := diff(got[i], want[i]); d != "" {
				t.Errorf("%s: listed payment %s:%s", name, got[i].ID, d)
			}
		}
	}
	// BeforeID is exclusive, and a listing without limit returns everything.
	rest, err := s.ListPayments(ctx, contracts.PaymentFilter{StoreID: "store-a", BeforeID: all[10].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 10 || rest[0].ID != all[9].ID {
		t.Errorf("BeforeID %s: got %v, want the 10 older payments from %s", all[10].ID, ids(rest), all[9].ID)
	}
}

// matches is the Go statement of a PaymentFilter's meaning.
func matches(f contracts.PaymentFilter, p contracts.Payment) bool {
	return p.StoreID == f.StoreID &&
		(f.Status == "" || p.Status == f.Status) &&
		(f.TerminalID == "" || p.TerminalID == f.TerminalID) &&
		(f.Method == "" || p.Method == f.Method) &&
		(f.OrderID == "" || p.OrderID == f.OrderID) &&
		(f.CreatedGTE.IsZero() || !p.CreatedAt.Before(stored(f.CreatedGTE))) &&
		(f.CreatedLT.IsZero() || p.CreatedAt.Before(stored(f.CreatedLT)))
}

func testListPaymentsNeedsStore(t *testing.T, s contracts.Store) {
	insertPayment(t, s, newPayment("store-a"))
	if ps, err := s.ListPayments(context.Background(), contracts.PaymentFilter{Limit: 10}); err == nil {
		t.Errorf("ListPayments without StoreID = %d payments, want an error", len(ps))
	}
}

// testListPaymentsDueForPoll: a waiting payment is due unless its poll marker is in force
// and its holder alive, exactly as TakeLease would refuse the marker; the never polled
// come first, then the longest overdue.
func testListPaymentsDueForPoll(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	now := at(time.Hour)
	aliveAfter := now.Add(-time.Minute)
	alive := contracts.Instance{ID: "ins_alive", Version: "v", StartedAt: at(0), HeartbeatAt: now.Add(-time.Second)}
	gone := contracts.Instance{ID: "ins_gone", Version: "v", StartedAt: at(0), HeartbeatAt: aliveAfter.Add(-time.Second)}
	for _, i := range []contracts.Instance{alive, gone} {
		if err := s.RegisterInstance(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	var waiting []contracts.Payment
	for i := range 5 {
		p := newPayment("store-0")
		p.CreatedAt = at(time.Duration(i) * time.Minute)
		p.Status = contracts.StatusRequiresAction
		insertPayment(t, s, p)
		waiting = append(waiting, p)
	}
	insertPayment(t, s, newPayment("store-0")) // processing: never due
	marker := func(p contracts.Payment, instance string, until time.Time) {
		t.Helper()
		taken, err := s.TakeLease(ctx, contracts.WorkLease{Kind: contracts.LeasePolled, Object: p.ID, Owner: instance + "/poller",
			Instance: instance, ExpiresAt: until}, at(0), at(0))
		if err != nil || !taken {
			t.Fatalf("take the marker on %s: %v %v", p.ID, taken, err)
		}
	}
	marker(waiting[0], alive.ID, now.Add(time.Second)) // in force, alive holder: not due
	marker(waiting[1], alive.ID, now)                  // expired at now: due
	marker(waiting[2], gone.ID, now.Add(time.Minute))  // in force, but its holder is gone: due
	marker(waiting[3], "", now.Add(time.Second))       // in force, no instance named: not due
	// A lease of another kind on the payment does not hold its poll.
	if _, err := s.TakeLease(ctx, contracts.WorkLease{Kind: contracts.LeasePayment, Object: waiting[4].ID, Owner: "x",
		Instance: alive.ID, ExpiresAt: now.Add(time.Minute)}, at(0), at(0)); err != nil {
		t.Fatal(err)
	}
	// Never polled first, then the longest overdue: 4 (never), 1 (expired at now), 2 (a
	// gone holder's, expiring later).
	want := []string{waiting[4].ID, waiting[1].ID, waiting[2].ID}
	got, err := s.ListPaymentsDueForPoll(ctx, now, aliveAfter, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), want) {
		t.Errorf("ListPaymentsDueForPoll = %v, want %v (never polled, then longest overdue)", ids(got), want)
	}
	got, err = s.ListPaymentsDueForPoll(ctx, now, aliveAfter, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), want[:2]) {
		t.Errorf("ListPaymentsDueForPoll(limit 2) = %v, want %v", ids(got), want[:2])
	}
	for _, p := range got {
		if d := diff(p, mustGet(t, s, p.ID)); d != "" {
			t.Errorf("ListPaymentsDueForPoll read %s unlike GetPayment:%s", p.ID, d)
		}
	}
}

func testListPaymentsByStatus(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	// Created newest-id-first, so that "oldest first" cannot be satisfied by id order.
	var want []string
	for i := range 5 {
		p := newPayment(fmt.Sprintf("store-%d", i%2))
		p.CreatedAt = at(-time.Duration(i) * time.Minute)
		p.Status = contracts.StatusRequiresAction
		insertPayment(t, s, p)
		want = append([]string{p.ID}, want...)
	}
	insertPayment(t, s, newPayment("store-0")) // processing: not listed
	got, err := s.ListPaymentsByStatus(ctx, contracts.StatusRequiresAction, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), want[:3]) {
		t.Errorf("ListPaymentsByStatus(limit 3) = %v, want %v", ids(got), want[:3])
	}
	got, err = s.ListPaymentsByStatus(ctx, contracts.StatusRequiresAction, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), want) {
		t.Errorf("ListPaymentsByStatus = %v, want %v", ids(got), want)
	}
	for _, p := range got {
		if d := diff(p, mustGet(t, s, p.ID)); d != "" {
			t.Errorf("ListPaymentsByStatus read %s unlike GetPayment:%s", p.ID, d)
		}
	}
}

func testUpdatePayment(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	insertPayment(t, s, p)
	next := p
	next.ClientID = "cli_other"
	next.TerminalID = "till-9"
	next.OrderID = "order-9"
	next.Flow = contracts.FlowBarcode
	next.Amount = contracts.Money{Amount: 999, Currency: contracts.TWD}
	next.AmountRefunded = 100
	next.Status = contracts.StatusSucceeded
	next.UserAuthorizationID = "uaid-2"
	next.Metadata = map[string]string{"k": "v"}
	next.NextAction = nil
	next.FailureCode = "x"
	next.FailureMessage = "y"
	next.PartnerCode = "COMPLETED"
	next.Attempt = 2
	next.PartnerRef = p.ID + "-2"
	next.PartnerPaymentID = "pp-456"
	next.PartnerActionRef = ""
	next.CancelRequested = false
	next.CancellationReason = ""
	next.EventSequence = 8
	next.IdempotencyKey = "idem-other"
	next.Resolution = contracts.Resolution{Attempts: 4, NextAt: nil, NotFoundSeen: 2}
	next.PaidAt = ptr(at(2 * time.Minute))
	next.UpdatedAt = at(3 * time.Minute)
	inTx(t, s, func(tx contracts.Tx) error { return tx.UpdatePayment(ctx, next) })
	if d := diff(mustGet(t, s, p.ID), storedPayment(next)); d != "" {
		t.Errorf("updated payment:%s", d)
	}
	// Staying in a status is a write, not a transition.
	next.AmountRefunded = 200
	next.PaidAt = nil
	next.Resolution = contracts.Resolution{Attempts: 5, NextAt: ptr(at(4 * time.Minute)), NeedsAttention: true}
	inTx(t, s, func(tx contracts.Tx) error { return tx.UpdatePayment(ctx, next) })
	if d := diff(mustGet(t, s, p.ID), storedPayment(next)); d != "" {
		t.Errorf("same-status update:%s", d)
	}
	unknown := newPayment("store-a")
	err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.UpdatePayment(ctx, unknown) })
	if !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("UpdatePayment(unknown) = %v, want ErrNotFound", err)
	}
}

func testTransitionRefusalRollsBack(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a") // processing
	insertPayment(t, s, p)

	// processing → canceled is not in the table.
	bad := p
	bad.Status = contracts.StatusCanceled
	bad.FailureMessage = "must not be written"
	err := s.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.AppendEvent(ctx, contracts.Event{ID: newID("evt_"), Type: contracts.EventPaymentCanceled,
			StoreID: p.StoreID, PaymentID: p.ID, Sequence: 1, Payload: []byte(`{}`), CreatedAt: base}); err != nil {
			return err
		}
		return tx.UpdatePayment(ctx, bad)
	})
	if !errors.Is(err, contracts.ErrInvalidTransition) {
		t.Fatalf("UpdatePayment(processing → canceled) = %v, want ErrInvalidTransition", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "processing") || !strings.Contains(msg, "canceled") {
		t.Errorf("error %q does not name both statuses", msg)
	}
	if d := diff(mustGet(t, s, p.ID), storedPayment(p)); d != "" {
		t.Errorf("refused update changed the payment:%s", d)
	}
	if evs, err := s.ListEvents(ctx, p.ID); err != nil || len(evs) != 0 {
		t.Errorf("events after rollback = %d (err %v), want none", len(evs), err)
	}

	// A refusal writes nothing even when the caller ignores it and commits.
	inTx(t, s, func(tx contracts.Tx) error {
		_ = tx.UpdatePayment(ctx, bad)
		return nil
	})
	if d := diff(mustGet(t, s, p.ID), storedPayment(p)); d != "" {
		t.Errorf("refused update changed the payment after commit:%s", d)
	}

	// A final status allows no way back.
	done := p
	done.Status = contracts.StatusSucceeded
	inTx(t, s, func(tx contracts.Tx) error { return tx.UpdatePayment(ctx, done) })
	back := done
	back.Status = contracts.StatusProcessing
	err = s.InTx(ctx, func(tx contracts.Tx) error { return tx.UpdatePayment(ctx, back) })
	if !errors.Is(err, contracts.ErrInvalidTransition) {
		t.Errorf("UpdatePayment(succeeded → processing) = %v, want ErrInvalidTransition", err)
	}
}

func testUpdatePaymentImmutables(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	insertPayment(t, s, p)
	moved := p
	moved.StoreID = "store-b"
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.UpdatePayment(ctx, moved) }); err == nil {
		t.Error("UpdatePayment moved a payment to another store")
	}
	if got := mustGet(t, s, p.ID); got.StoreID != "store-a" {
		t.Errorf("store_id = %q, want store-a", got.StoreID)
	}
}

func testRefunds(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	insertPayment(t, s, p)
	r1, r2 := newRefund(p, 100), newRefund(p, 200)
	r2.CreatedAt = at(2 * time.Hour)
	inTx(t, s, func(tx contracts.Tx) error {
		if err := tx.InsertRefund(ctx, r2); err != nil {
			return err
		}
		if err := tx.InsertRefund(ctx, r1); err != nil {
			return err
		}
		// The transaction sees its own refunds, oldest first.
		got, err := tx.ListRefunds(ctx, p.ID)
		if err != nil {
			return err
		}
		if len(got) != 2 || got[0].ID != r1.ID || got[1].ID != r2.ID {
			t.Errorf("tx.ListRefunds = %v, want [%s %s]", got, r1.ID, r2.ID)
		}
		return nil
	})
	got, err := s.GetRefund(ctx, "store-a", r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(got, storedRefund(r1)); d != "" {
		t.Errorf("refund did not round-trip:%s", d)
	}
	list, err := s.ListRefunds(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || diff(list[0], storedRefund(r1)) != "" || diff(list[1], storedRefund(r2)) != "" {
		t.Errorf("ListRefunds = %+v, want r1 then r2", list)
	}

	done := r1
	done.Status = contracts.RefundSucceeded
	done.PartnerRefundID = "pr-2"
	done.PartnerCode = "COMPLETED"
	done.ClientID, done.IdempotencyKey = "cli_other", "idem-other"
	done.Resolution = contracts.Resolution{Attempts: 7, NextAt: nil, NotFoundSeen: 0, NeedsAttention: false}
	done.UpdatedAt = at(3 * time.Hour)
	inTx(t, s, func(tx contracts.Tx) error { return tx.UpdateRefund(ctx, done) })
	if got, _ := s.GetRefund(ctx, "", r1.ID); diff(got, storedRefund(done)) != "" {
		t.Errorf("updated refund:%s", diff(got, storedRefund(done)))
	}
	back := done
	back.Status = contracts.RefundPending
	err = s.InTx(ctx, func(tx contracts.Tx) error { return tx.UpdateRefund(ctx, back) })
	if !errors.Is(err, contracts.ErrInvalidTransition) ||
		!strings.Contains(err.Error(), "succeeded") || !strings.Contains(err.Error(), "pending") {
		t.Errorf("UpdateRefund(succeeded → pending) = %v, want ErrInvalidTransition naming both", err)
	}
	if got, _ := s.GetRefund(ctx, "", r1.ID); got.Status != contracts.RefundSucceeded {
		t.Errorf("refused refund update left status %q", got.Status)
	}

	dup := newRefund(p, 1)
	dup.ID = r1.ID
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertRefund(ctx, dup) }); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("duplicate InsertRefund = %v, want ErrConflict", err)
	}
	orphan := newRefund(newPayment("store-a"), 1)
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertRefund(ctx, orphan) }); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("InsertRefund(unknown payment) = %v, want ErrNotFound", err)
	}
	missing := newRefund(p, 1)
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.UpdateRefund(ctx, missing) }); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("UpdateRefund(unknown) = %v, want ErrNotFound", err)
	}
}

func testEvents(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	insertPayment(t, s, p)
	r := newRefund(p, 10)
	e1 := contracts.Event{ID: newID("evt_"), Type: contracts.EventPaymentProcessing, StoreID: p.StoreID,
		PaymentID: p.ID, Sequence: 1, Payload: []byte(`{"type":"payment.processing"}`), CreatedAt: base}
	e2 := contracts.Event{ID: newID("evt_"), Type: contracts.EventRefundPending, StoreID: p.StoreID,
		PaymentID: p.ID, RefundID: r.ID, Sequence: 2, Payload: []byte(`{"type":"refund.pending","x":[1,2]}`),
		CreatedAt: at(time.Millisecond + 7*time.Nanosecond)}
	inTx(t, s, func(tx contracts.Tx) error {
		if err := tx.InsertRefund(ctx, r); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, e2); err != nil { // out of order on purpose
			return err
		}
		return tx.AppendEvent(ctx, e1)
	})
	got, err := s.ListEvents(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("ListEvents = %d events, want 2", len(got))
	}
	for i, want := range []contracts.Event{e1, e2} {
		want.CreatedAt = stored(want.CreatedAt)
		if d := diff(got[i], want); d != "" {
			t.Errorf("event %d did not round-trip:%s", i, d)
		}
	}
	dupSeq := e1
	dupSeq.ID = newID("evt_")
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.AppendEvent(ctx, dupSeq) }); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("AppendEvent(duplicate sequence) = %v, want ErrConflict", err)
	}
	dupID := e1
	dupID.Sequence = 3
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.AppendEvent(ctx, dupID) }); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("AppendEvent(duplicate id) = %v, want ErrConflict", err)
	}
	if got, _ := s.ListEvents(ctx, p.ID); len(got) != 2 {
		t.Errorf("after refused appends: %d events, want 2", len(got))
	}
}

func testAttempts(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	insertPayment(t, s, p)
	r := newRefund(p, 10)
	pay := contracts.Attempt{ID: newID("att_"), PaymentID: p.ID, Operation: contracts.OpPay,
		PartnerRef: p.ID + "-1", StartedAt: base}
	refund := contracts.Attempt{ID: newID("att_"), PaymentID: p.ID, RefundID: r.ID, Operation: contracts.OpRefund,
		PartnerRef: r.ID, StartedAt: at(time.Second)}
	inTx(t, s, func(tx contracts.Tx) error {
		if err := tx.InsertRefund(ctx, r); err != nil {
			return err
		}
		if err := tx.InsertAttempt(ctx, refund); err != nil {
			return err
		}
		return tx.InsertAttempt(ctx, pay)
	})
	finished := at(1500 * time.Millisecond)
	inTx(t, s, func(tx contracts.Tx) error {
		return tx.FinishAttempt(ctx, pay.ID, contracts.OutcomeSucceeded, "COMPLETED", finished)
	})
	got, err := s.ListAttempts(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantPay := pay
	wantPay.StartedAt = stored(pay.StartedAt)
	wantPay.Outcome, wantPay.PartnerCode, wantPay.FinishedAt = contracts.OutcomeSucceeded, "COMPLETED", ptr(stored(finished))
	wantRefund := refund
	wantRefund.StartedAt = stored(refund.StartedAt)
	if len(got) != 2 {
		t.Fatalf("ListAttempts = %d attempts, want 2", len(got))
	}
	if d := diff(got[0], wantPay); d != "" {
		t.Errorf("finished attempt:%s", d)
	}
	if d := diff(got[1], wantRefund); d != "" {
		t.Errorf("in-flight attempt:%s", d)
	}
	inTx(t, s, func(tx contracts.Tx) error {
		inTxGot, err := tx.ListAttempts(ctx, p.ID)
		if err != nil {
			return err
		}
		if len(inTxGot) != 2 || diff(inTxGot[0], wantPay) != "" || diff(inTxGot[1], wantRefund) != "" {
			t.Errorf("Tx.ListAttempts = %+v, want what Store.ListAttempts reads", inTxGot)
		}
		return nil
	})
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		return tx.FinishAttempt(ctx, pay.ID, contracts.OutcomeFailed, "X", finished)
	})
	if !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("FinishAttempt twice = %v, want ErrConflict", err)
	}
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		return tx.FinishAttempt(ctx, newID("att_"), contracts.OutcomeFailed, "X", finished)
	})
	if !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("FinishAttempt(unknown) = %v, want ErrNotFound", err)
	}
}

func testInTxCommitAndRollback(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	kept, dropped := newPayment("store-a"), newPayment("store-a")
	insertPayment(t, s, kept)
	errBoom := errors.New("boom")
	err := s.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.InsertPayment(ctx, dropped); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("InTx = %v, want fn's error", err)
	}
	if _, err := s.GetPayment(ctx, "", dropped.ID); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("payment of a failed transaction: %v, want ErrNotFound", err)
	}
	mustGet(t, s, kept.ID)
}

// testTxReadsItsWritesAndFailsWhole: a transaction reads its own writes, and a write that
// fails fails the whole transaction with its own error, whether the transaction goes on to
// read or to commit — also where the store sends writes whose result is never read with
// the next round trip (PostgreSQL's pipelined transactions).
func testTxReadsItsWritesAndFailsWhole(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	a := contracts.Attempt{ID: newID("att_"), PaymentID: p.ID, Operation: contracts.OpPay, PartnerRef: p.ID + "-1", StartedAt: base}
	e := contracts.Event{ID: newID("evt_"), Type: contracts.EventPaymentProcessing, StoreID: p.StoreID,
		PaymentID: p.ID, Sequence: 1, Payload: []byte(`{}`), CreatedAt: base}
	inTx(t, s, func(tx contracts.Tx) error {
		if err := tx.InsertPayment(ctx, p); err != nil {
			return err
		}
		if err := tx.InsertAttempt(ctx, a); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
		got, err := tx.ListAttempts(ctx, p.ID)
		if err != nil || len(got) != 1 || got[0].ID != a.ID {
			t.Errorf("the transaction's own attempt: %v, %v", got, err)
		}
		return err
	})

	for _, then := range []string{"reads", "commits"} {
		q := newPayment("store-a")
		again := e // the event id is taken: the write fails
		again.PaymentID, again.Sequence = q.ID, 1
		err := s.InTx(ctx, func(tx contracts.Tx) error {
			if err := tx.InsertPayment(ctx, q); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, again); err != nil {
				return err
			}
			if then == "reads" {
				_, err := tx.ListAttempts(ctx, q.ID)
				return err
			}
			return nil
		})
		if !errors.Is(err, contracts.ErrConflict) || !strings.Contains(err.Error(), e.ID) {
			t.Errorf("a duplicate event, then the transaction %s: %v, want ErrConflict naming %s", then, err, e.ID)
		}
		if _, err := s.GetPayment(ctx, "", q.ID); !errors.Is(err, contracts.ErrNotFound) {
			t.Errorf("the payment of the failed transaction that %s: %v, want ErrNotFound", then, err)
		}
	}
}

func testInTxPanic(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic to continue", r)
			}
		}()
		_ = s.InTx(ctx, func(tx contracts.Tx) error {
			if err := tx.InsertPayment(ctx, p); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if _, err := s.GetPayment(ctx, "", p.ID); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("payment of a panicked transaction: %v, want ErrNotFound", err)
	}
	// The store still takes writes: the panicked transaction released its connection and locks.
	insertPayment(t, s, newPayment("store-a"))
}

// errExceeds refuses a refund that would pass the payment's amount.
var errExceeds = errors.New("refund exceeds captured amount")

func testConcurrentRefunds(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	p.Amount.Amount = 1000
	insertPayment(t, s, p)
	p.Status = contracts.StatusSucceeded
	inTx(t, s, func(tx contracts.Tx) error { return tx.UpdatePayment(ctx, p) })

	const workers, each = 20, 150
	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		accepted, refused int
	)
	for i := range workers {
		wg.Go(func() {
			err := s.InTx(ctx, func(tx contracts.Tx) error {
				cur, err := tx.GetPaymentForUpdate(ctx, p.ID)
				if err != nil {
					return err
				}
				refunds, err := tx.ListRefunds(ctx, p.ID)
				if err != nil {
					return err
				}
				var reserved int64
				for _, r := range refunds {
					reserved += r.Amount.Amount
				}
				if reserved+each > cur.Amount.Amount {
					return errExceeds
				}
				r := newRefund(cur, each)
				r.CreatedAt = at(time.Duration(i) * time.Second)
				if err := tx.InsertRefund(ctx, r); err != nil {
					return err
				}
				cur.AmountRefunded += each
				return tx.UpdatePayment(ctx, cur)
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case errors.Is(err, errExceeds):
				refused++
			default:
				t.Errorf("worker %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	refunds, err := s.ListRefunds(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, r := range refunds {
		sum += r.Amount.Amount
	}
	if sum > p.Amount.Amount {
		t.Fatalf("refunds sum to %d, over the amount %d", sum, p.Amount.Amount)
	}
	const fit = 1000 / each
	if accepted != fit || refused != workers-fit || len(refunds) != fit {
		t.Errorf("accepted %d, refused %d, stored %d; want %d, %d, %d",
			accepted, refused, len(refunds), fit, workers-fit, fit)
	}
	if got := mustGet(t, s, p.ID); got.AmountRefunded != sum {
		t.Errorf("AmountRefunded = %d, want the refunds' sum %d", got.AmountRefunded, sum)
	}
}

func testIdempotency(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	k := contracts.IdempotencyKey{ClientID: "cli_a", Key: "8e03978e-40d5-43e8-bc93-6894a57f9324",
		Fingerprint: "sha256:aaaa", CreatedAt: base}
	rec, created, err := s.BeginIdempotency(ctx, k)
	if err != nil || !created {
		t.Fatalf("first BeginIdempotency = created %v, %v; want created", created, err)
	}
	wantKey := k
	wantKey.CreatedAt = stored(k.CreatedAt)
	if d := diff(rec, contracts.IdempotencyRecord{IdempotencyKey: wantKey}); d != "" {
		t.Errorf("new record:%s", d)
	}

	// A retry while in flight sees the first request's record, not its own fingerprint.
	retry := k
	retry.Fingerprint, retry.CreatedAt = "sha256:bbbb", at(time.Second)
	rec, created, err = s.BeginIdempotency(ctx, retry)
	if err != nil || created {
		t.Fatalf("second BeginIdempotency = created %v, %v; want existing", created, err)
	}
	if rec.Completed || rec.Fingerprint != k.Fingerprint || !rec.CreatedAt.Equal(stored(k.CreatedAt)) {
		t.Errorf("in-flight record = %+v", rec)
	}
	// Keys are scoped by client.
	other := k
	other.ClientID = "cli_b"
	if _, created, err := s.BeginIdempotency(ctx, other); err != nil || !created {
		t.Errorf("same key of another client: created %v, %v; want created", created, err)
	}

	body := []byte(`{"id":"pay_1","status":"succeeded"}`)
	done := at(2 * time.Second)
	inTx(t, s, func(tx contracts.Tx) error {
		return tx.CompleteIdempotency(ctx, k.ClientID, k.Key, contracts.Answer{Kind: contracts.AnswerCreated, Body: body}, done)
	})
	rec, created, err = s.BeginIdempotency(ctx, retry)
	if err != nil || created {
		t.Fatalf("BeginIdempotency after completion = created %v, %v", created, err)
	}
	want := contracts.IdempotencyRecord{IdempotencyKey: wantKey, Completed: true, Answer: contracts.Answer{Kind: contracts.AnswerCreated, Body: body},
		CompletedAt: ptr(stored(done))}
	if d := diff(rec, want); d != "" {
		t.Errorf("completed record:%s", d)
	}

	err = s.InTx(ctx, func(tx contracts.Tx) error {
		return tx.CompleteIdempotency(ctx, k.ClientID, k.Key, contracts.Answer{Kind: contracts.AnswerRefused, Code: contracts.CodeInternalError}, done)
	})
	if !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("CompleteIdempotency twice = %v, want ErrConflict", err)
	}
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		return tx.CompleteIdempotency(ctx, k.ClientID, "nope", contracts.Answer{Kind: contracts.AnswerRefused, Code: contracts.CodeInternalError}, done)
	})
	if !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("CompleteIdempotency(unknown) = %v, want ErrNotFound", err)
	}

	// Abandon deletes only keys in flight.
	if err := s.AbandonIdempotency(ctx, k.ClientID, k.Key, k.Owner); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("AbandonIdempotency(completed) = %v, want ErrConflict", err)
	}
	if rec, _, _ := s.BeginIdempotency(ctx, k); !rec.Completed {
		t.Error("abandoning a completed key deleted it")
	}
	if err := s.AbandonIdempotency(ctx, other.ClientID, other.Key, other.Owner); err != nil {
		t.Errorf("AbandonIdempotency(in flight) = %v", err)
	}
	if _, created, err := s.BeginIdempotency(ctx, other); err != nil || !created {
		t.Errorf("BeginIdempotency after abandon = created %v, %v; want created", created, err)
	}
	if err := s.AbandonIdempotency(ctx, "cli_a", "never-used", ""); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("AbandonIdempotency(unknown) = %v, want ErrNotFound", err)
	}
}

func testIdempotencyExpiry(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	begin := func(key string) contracts.IdempotencyKey {
		k := contracts.IdempotencyKey{ClientID: "cli_a", Key: key, Fingerprint: "f-" + key, CreatedAt: at(-10 * time.Hour)}
		if _, created, err := s.BeginIdempotency(ctx, k); err != nil || !created {
			t.Fatalf("BeginIdempotency(%s) = %v, %v", key, created, err)
		}
		return k
	}
	old, recent, inflight := begin("old"), begin("recent"), begin("inflight")
	inTx(t, s, func(tx contracts.Tx) error {
		if err := tx.CompleteIdempotency(ctx, "cli_a", old.Key, contracts.Answer{Kind: contracts.AnswerDone, Body: []byte("{}")}, base); err != nil {
			return err
		}
		return tx.CompleteIdempotency(ctx, "cli_a", recent.Key, contracts.Answer{Kind: contracts.AnswerDone, Body: []byte("{}")}, at(2*time.Hour))
	})
	n, err := s.DeleteExpiredIdempotency(ctx, at(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpiredIdempotency = %d, %v; want 1", n, err)
	}
	for _, c := range []struct {
		k       contracts.IdempotencyKey
		created bool
	}{{old, true}, {recent, false}, {inflight, false}} {
		if _, created, err := s.BeginIdempotency(ctx, c.k); err != nil || created != c.created {
			t.Errorf("key %s after expiry: created %v, %v; want %v", c.k.Key, created, err, c.created)
		}
	}
	// completed_at is exclusive.
	if n, err := s.DeleteExpiredIdempotency(ctx, at(2*time.Hour)); err != nil || n != 0 {
		t.Errorf("DeleteExpiredIdempotency(at completion) = %d, %v; want 0", n, err)
	}
}

func testIdempotencyRolledBackCompletion(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	k := contracts.IdempotencyKey{ClientID: "cli_a", Key: "k", Fingerprint: "f", CreatedAt: base}
	if _, _, err := s.BeginIdempotency(ctx, k); err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	_ = s.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.CompleteIdempotency(ctx, k.ClientID, k.Key, contracts.Answer{Kind: contracts.AnswerCreated, Body: []byte("{}")}, base); err != nil {
			return err
		}
		return errBoom
	})
	rec, created, err := s.BeginIdempotency(ctx, k)
	if err != nil || created || rec.Completed {
		t.Errorf("after a rolled-back completion: %+v created %v, %v; want in flight", rec, created, err)
	}
}

func testConcurrentBeginIdempotency(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	const n = 12
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		prints  = map[string]bool{}
	)
	for i := range n {
		wg.Go(func() {
			k := contracts.IdempotencyKey{ClientID: "cli_a", Key: "shared", Fingerprint: fmt.Sprintf("f%d", i), CreatedAt: base}
			rec, c, err := s.BeginIdempotency(ctx, k)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("BeginIdempotency %d: %v", i, err)
				return
			}
			if c {
				created++
			}
			prints[rec.Fingerprint] = true
		})
	}
	wg.Wait()
	if created != 1 || len(prints) != 1 {
		t.Errorf("%d of %d concurrent begins created the key, %d fingerprints seen; want exactly 1 and 1",
			created, n, len(prints))
	}
}

func testStoreClients(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	pemA := []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n")
	c := contracts.StoreClient{
		ID: "cli_pos", Name: "POS backend", Stores: []string{"store-b", "store-a", "store-c"}, CreatedAt: base,
		Keys: []contracts.ClientKey{
			{KID: "kid-1", Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pemA, CreatedAt: base},
			{KID: "kid-old", Algorithm: contracts.AlgES256, PublicKeyPEM: []byte("old"), CreatedAt: at(-time.Hour),
				RevokedAt: ptr(at(-time.Minute))},
		},
	}
	if err := s.CreateStoreClient(ctx, c); err != nil {
		t.Fatalf("CreateStoreClient: %v", err)
	}
	key, client, err := s.LookupClientKey(ctx, "kid-1")
	if err != nil {
		t.Fatalf("LookupClientKey: %v", err)
	}
	wantKey := contracts.ClientKey{KID: "kid-1", ClientID: "cli_pos", Algorithm: contracts.AlgEdDSA,
		PublicKeyPEM: pemA, CreatedAt: stored(base)}
	if d := diff(key, wantKey); d != "" {
		t.Errorf("key:%s", d)
	}
	if client.ID != c.ID || client.Name != c.Name || !client.CreatedAt.Equal(stored(base)) ||
		!slices.Equal(client.Stores, c.Stores) || len(client.Keys) != 2 {
		t.Errorf("client = %+v, want %+v", client, c)
	}
	for _, kid := range []string{"kid-old", "kid-unknown"} {
		if _, _, err := s.LookupClientKey(ctx, kid); !errors.Is(err, contracts.ErrNotFound) {
			t.Errorf("LookupClientKey(%s) = %v, want ErrNotFound", kid, err)
		}
	}

	again := contracts.StoreClient{ID: "cli_pos", Name: "again", CreatedAt: base}
	if err := s.CreateStoreClient(ctx, again); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("CreateStoreClient(existing id) = %v, want ErrConflict", err)
	}
	// A kid is unique across clients, and a refused client leaves nothing behind.
	thief := contracts.StoreClient{ID: "cli_other", Name: "other", Stores: []string{"store-x"}, CreatedAt: base,
		Keys: []contracts.ClientKey{
			{KID: "kid-new", Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pemA, CreatedAt: base},
			{KID: "kid-1", Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pemA, CreatedAt: base},
		}}
	if err := s.CreateStoreClient(ctx, thief); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("CreateStoreClient(taken kid) = %v, want ErrConflict", err)
	}
	if _, _, err := s.LookupClientKey(ctx, "kid-new"); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("key of a refused client: %v, want ErrNotFound", err)
	}
	if _, got, err := s.LookupClientKey(ctx, "kid-1"); err != nil || got.ID != "cli_pos" {
		t.Errorf("kid-1 now belongs to %q (%v)", got.ID, err)
	}
}

// A key whose request wrote its intent is never released nor abandoned; one that never did
// is released once claimed before the cutoff, and can then not be marked any more.
func testIdempotencyIntentAndOrphans(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	begin := func(key string, created time.Time) {
		k := contracts.IdempotencyKey{ClientID: "cli_a", Key: key, Fingerprint: "f-" + key, CreatedAt: created}
		if _, ok, err := s.BeginIdempotency(ctx, k); err != nil || !ok {
			t.Fatalf("BeginIdempotency(%s) = %v, %v", key, ok, err)
		}
	}
	mark := func(key string) error {
		return s.InTx(ctx, func(tx contracts.Tx) error {
			return tx.ClaimIdempotencyIntent(ctx, contracts.IdempotencyKey{ClientID: "cli_a", Key: key,
				Fingerprint: "f-" + key, CreatedAt: base}, "att_"+key)
		})
	}
	begin("orphan", base)
	begin("sent", base)
	begin("young", at(time.Minute))
	begin("answered", base)
	if err := mark("sent"); err != nil {
		t.Fatalf("ClaimIdempotencyIntent = %v", err)
	}
	inTx(t, s, func(tx contracts.Tx) error {
		return tx.CompleteIdempotency(ctx, "cli_a", "answered", contracts.Answer{Kind: contracts.AnswerDone, Body: []byte("{}")}, base)
	})
	if err := mark("answered"); !errors.Is(err, contracts.ErrIdempotencyKeyTaken) {
		t.Errorf("ClaimIdempotencyIntent(completed) = %v, want ErrIdempotencyKeyTaken", err)
	}
	if err := mark("sent"); !errors.Is(err, contracts.ErrIdempotencyKeyTaken) {
		t.Errorf("ClaimIdempotencyIntent(intent written) = %v, want ErrIdempotencyKeyTaken", err)
	}
	if err := s.AbandonIdempotency(ctx, "cli_a", "sent", ""); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("AbandonIdempotency(intent written) = %v, want ErrConflict", err)
	}
	n, err := s.ReleaseOrphanedIdempotency(ctx, at(30*time.Second))
	if err != nil || n != 1 {
		t.Fatalf("ReleaseOrphanedIdempotency = %d, %v; want 1", n, err)
	}
	// The till's retry of a released key is a new request: its intent claims the key anew.
	if err := mark("orphan"); err != nil {
		t.Errorf("ClaimIdempotencyIntent(released) = %v, want a new claim", err)
	}
	inTx(t, s, func(tx contracts.Tx) error {
		for key, want := range map[string]bool{"sent": true, "young": true, "answered": true, "orphan": true} {
			if _, err := tx.LookupIdempotency(ctx, "cli_a", key); (err == nil) != want {
				t.Errorf("key %s after release: %v", key, err)
			}
		}
		return nil
	})
}

// ListStuckAttempts reads unfinished captures and cancels older than the cutoff, with the
// request that sent them, and nothing else.
func testListStuckAttempts(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	insertPayment(t, s, p)
	attempt := func(op contracts.AttemptOperation, started time.Duration) contracts.Attempt {
		return contracts.Attempt{ID: newID("att_"), PaymentID: p.ID, Operation: op, PartnerRef: p.ID + "_" + string(op),
			StartedAt: at(started), ClientID: "cli_a", IdempotencyKey: "key-" + string(op)}
	}
	capture, cancel := attempt(contracts.OpCapture, 0), attempt(contracts.OpCancel, time.Second)
	young, finished, pay := attempt(contracts.OpCapture, time.Hour), attempt(contracts.OpCancel, 0), attempt(contracts.OpPay, 0)
	inTx(t, s, func(tx contracts.Tx) error {
		for _, a := range []contracts.Attempt{capture, cancel, young, finished, pay} {
			if err := tx.InsertAttempt(ctx, a); err != nil {
				return err
			}
		}
		return tx.FinishAttempt(ctx, finished.ID, contracts.OutcomeSucceeded, "", at(time.Second))
	})
	got, err := s.ListStuckAttempts(ctx, at(time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	capture.StartedAt, cancel.StartedAt = stored(capture.StartedAt), stored(cancel.StartedAt)
	if len(got) != 2 || diff(got[0], capture) != "" || diff(got[1], cancel) != "" {
		t.Fatalf("ListStuckAttempts = %+v; want the capture and the cancel", got)
	}
	if got, err := s.ListStuckAttempts(ctx, at(time.Minute), 1); err != nil || len(got) != 1 || got[0].ID != capture.ID {
		t.Errorf("ListStuckAttempts(limit 1) = %+v, %v", got, err)
	}
}
