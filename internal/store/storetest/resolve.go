package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
)

// The resolver's part of the suite: the fields it keeps on payments and refunds, the scans
// that find open outcomes, and the transaction reads it settles them with.

// statusPath is how a payment reaches each status from an initial one.
var statusPath = map[contracts.Status][]contracts.Status{
	contracts.StatusRequiresAction: {contracts.StatusRequiresAction},
	contracts.StatusProcessing:     {contracts.StatusProcessing},
	contracts.StatusUnknown:        {contracts.StatusProcessing, contracts.StatusUnknown},
	contracts.StatusAuthorized:     {contracts.StatusProcessing, contracts.StatusAuthorized},
	contracts.StatusSucceeded:      {contracts.StatusProcessing, contracts.StatusSucceeded},
	contracts.StatusFailed:         {contracts.StatusProcessing, contracts.StatusFailed},
	contracts.StatusCanceled:       {contracts.StatusProcessing, contracts.StatusSucceeded, contracts.StatusCanceled},
}

// putPayment stores p in p.Status, inserting it in an initial status and moving it along
// statusPath, and returns it as the store gives it back.
func putPayment(t *testing.T, s contracts.Store, p contracts.Payment) contracts.Payment {
	t.Helper()
	ctx := context.Background()
	path, ok := statusPath[p.Status]
	if !ok {
		t.Fatalf("no path to status %q", p.Status)
	}
	inTx(t, s, func(tx contracts.Tx) error {
		step := p
		step.Status = path[0]
		if err := tx.InsertPayment(ctx, step); err != nil {
			return err
		}
		for _, st := range path[1:] {
			step.Status = st
			if err := tx.UpdatePayment(ctx, step); err != nil {
				return err
			}
		}
		return nil
	})
	return storedPayment(p)
}

// refundIDs lists the refunds' ids.
func refundIDs(rs []contracts.Refund) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func testResolutionRoundTrip(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	p.Status = contracts.StatusUnknown
	p = putPayment(t, s, p)
	r := newRefund(p, 100)
	inTx(t, s, func(tx contracts.Tx) error { return tx.InsertRefund(ctx, r) })
	wantR := storedRefund(r)

	check := func(what string, got, want any) {
		t.Helper()
		if d := diff(got, want); d != "" {
			t.Errorf("%s:%s", what, d)
		}
	}
	check("GetPayment", mustGet(t, s, p.ID), p)
	list, err := s.ListPayments(ctx, contracts.PaymentFilter{StoreID: "store-a", Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("ListPayments = %d payments, %v; want 1", len(list), err)
	}
	check("ListPayments", list[0], p)
	list, err = s.ListPaymentsByStatus(ctx, contracts.StatusUnknown, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListPaymentsByStatus = %d payments, %v; want 1", len(list), err)
	}
	check("ListPaymentsByStatus", list[0], p)
	gotR, err := s.GetRefund(ctx, "store-a", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("GetRefund", gotR, wantR)
	refunds, err := s.ListRefunds(ctx, p.ID)
	if err != nil || len(refunds) != 1 {
		t.Fatalf("ListRefunds = %d refunds, %v; want 1", len(refunds), err)
	}
	check("ListRefunds", refunds[0], wantR)
	inTx(t, s, func(tx contracts.Tx) error {
		locked, err := tx.GetPaymentForUpdate(ctx, p.ID)
		if err != nil {
			return err
		}
		check("GetPaymentForUpdate", locked, p)
		lockedR, err := tx.GetRefundForUpdate(ctx, r.ID)
		if err != nil {
			return err
		}
		check("GetRefundForUpdate", lockedR, wantR)
		txRefunds, err := tx.ListRefunds(ctx, p.ID)
		if err != nil {
			return err
		}
		if len(txRefunds) != 1 {
			t.Fatalf("Tx.ListRefunds = %d refunds, want 1", len(txRefunds))
		}
		check("Tx.ListRefunds", txRefunds[0], wantR)
		return nil
	})

	// The resolver's scans read every field too, once the objects are due.
	p.Resolution = contracts.Resolution{Attempts: 9, NextAt: ptr(stored(at(-time.Hour))), NotFoundSeen: 2}
	r.Resolution = contracts.Resolution{Attempts: 8, NextAt: ptr(at(-time.Hour)), NotFoundSeen: 1}
	r.Status = contracts.RefundUnknown
	inTx(t, s, func(tx contracts.Tx) error {
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		return tx.UpdateRefund(ctx, r)
	})
	due, err := s.ListPaymentsToResolve(ctx, base, base, 0)
	if err != nil || len(due) != 1 {
		t.Fatalf("ListPaymentsToResolve = %d payments, %v; want 1", len(due), err)
	}
	check("ListPaymentsToResolve", due[0], p)
	dueR, err := s.ListRefundsToResolve(ctx, base, base, 0)
	if err != nil || len(dueR) != 1 {
		t.Fatalf("ListRefundsToResolve = %d refunds, %v; want 1", len(dueR), err)
	}
	check("ListRefundsToResolve", dueR[0], storedRefund(r))
}

func testListPaymentsToResolve(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	now, stuckBefore := at(time.Hour), at(30*time.Minute)
	old, fresh := at(29*time.Minute), at(45*time.Minute)
	// justAfter is due a microsecond after now; future is due much later.
	past, justAfter, future := ptr(at(59*time.Minute)), ptr(now.Add(time.Microsecond)), ptr(at(2*time.Hour))
	type payCase struct {
		name      string
		status    contracts.Status
		cancel    bool
		updated   time.Time
		next      *time.Time
		attention bool
		want      bool
	}
	cases := []payCase{
		{"unknown", contracts.StatusUnknown, false, fresh, nil, false, true},
		{"unknown due now", contracts.StatusUnknown, false, fresh, ptr(now), false, true},
		{"unknown due earlier", contracts.StatusUnknown, false, fresh, past, false, true},
		{"unknown not due", contracts.StatusUnknown, false, fresh, justAfter, false, false},
		{"unknown needs attention", contracts.StatusUnknown, false, old, nil, true, false},
		{"unknown cancel requested", contracts.StatusUnknown, true, fresh, nil, false, true},
		{"processing stuck", contracts.StatusProcessing, false, old, nil, false, true},
		{"processing stuck due earlier", contracts.StatusProcessing, false, old, past, false, true},
		{"processing updated at stuckBefore", contracts.StatusProcessing, false, stuckBefore, nil, false, false},
		{"processing fresh", contracts.StatusProcessing, false, fresh, nil, false, false},
		{"processing stuck not due", contracts.StatusProcessing, false, old, future, false, false},
		{"processing stuck needs attention", contracts.StatusProcessing, false, old, nil, true, false},
		{"processing fresh cancel requested", contracts.StatusProcessing, true, fresh, nil, false, false},
		{"processing stuck cancel requested", contracts.StatusProcessing, true, old, nil, false, true},
		{"canceled cancel requested", contracts.StatusCanceled, true, old, nil, false, false},
		{"failed cancel requested", contracts.StatusFailed, true, old, nil, false, false},
	}
	for _, st := range []contracts.Status{contracts.StatusSucceeded, contracts.StatusAuthorized, contracts.StatusRequiresAction} {
		n := string(st)
		cases = append(cases,
			payCase{n + " cancel requested", st, true, fresh, nil, false, true},
			payCase{n + " cancel requested due now", st, true, fresh, ptr(now), false, true},
			payCase{n + " cancel requested not due", st, true, fresh, future, false, false},
			payCase{n + " cancel requested needs attention", st, true, fresh, nil, true, false},
			payCase{n + " without cancel", st, false, old, nil, false, false},
		)
	}
	// A cancel request stands on a succeeded payment until it is refunded in full (700 is
	// what newPayment captured).
	refunded := map[string]int64{"succeeded cancel requested refunded in full": 700,
		"succeeded cancel requested refunded in part": 300, "succeeded refunded in part without cancel": 300}
	cases = append(cases,
		payCase{"succeeded cancel requested refunded in full", contracts.StatusSucceeded, true, fresh, nil, false, false},
		payCase{"succeeded cancel requested refunded in part", contracts.StatusSucceeded, true, fresh, nil, false, true},
		payCase{"succeeded refunded in part without cancel", contracts.StatusSucceeded, false, fresh, nil, false, false},
	)
	// A provisional success is open until the partner confirms or reverses it.
	provisional := map[string]bool{"succeeded provisional": true, "succeeded provisional not due": true,
		"succeeded provisional needs attention": true, "succeeded provisional cancel requested": true}
	cases = append(cases,
		payCase{"succeeded provisional", contracts.StatusSucceeded, false, fresh, nil, false, true},
		payCase{"succeeded provisional not due", contracts.StatusSucceeded, false, fresh, future, false, false},
		payCase{"succeeded provisional needs attention", contracts.StatusSucceeded, false, fresh, nil, true, false},
		payCase{"succeeded provisional cancel requested", contracts.StatusSucceeded, true, fresh, nil, false, true},
	)
	// Ids are made in case order; the payments are written in reverse, created newest
	// first, so that neither insertion nor creation order can pass for id order.
	ps := make([]contracts.Payment, len(cases))
	for i, c := range cases {
		p := newPayment([]string{"store-a", "store-b"}[i%2])
		p.Status, p.CancelRequested, p.UpdatedAt = c.status, c.cancel, c.updated
		p.AmountRefunded = refunded[c.name]
		p.Provisional = provisional[c.name]
		p.CreatedAt = at(-time.Duration(i) * time.Minute)
		p.Resolution = contracts.Resolution{Attempts: i, NextAt: c.next, NeedsAttention: c.attention}
		ps[i] = p
	}
	byID := map[string]string{}
	for i := len(ps) - 1; i >= 0; i-- {
		ps[i] = putPayment(t, s, ps[i])
		byID[ps[i].ID] = cases[i].name
	}
	list := func(now, stuckBefore time.Time, limit int) []contracts.Payment {
		t.Helper()
		got, err := s.ListPaymentsToResolve(ctx, now, stuckBefore, limit)
		if err != nil {
			t.Fatalf("ListPaymentsToResolve: %v", err)
		}
		return got
	}
	names := func(idList []string) []string {
		out := make([]string, len(idList))
		for i, id := range idList {
			out[i] = byID[id]
		}
		return out
	}
	var want []string
	for i, c := range cases {
		if c.want {
			want = append(want, ps[i].ID)
		}
	}
	got := list(now, stuckBefore, 0)
	if !slices.Equal(ids(got), want) {
		t.Fatalf("ListPaymentsToResolve = %q\nwant %q", names(ids(got)), names(want))
	}
	for _, p := range got {
		i := slices.IndexFunc(ps, func(q contracts.Payment) bool { return q.ID == p.ID })
		if d := diff(p, ps[i]); d != "" {
			t.Errorf("listed payment %q:%s", cases[i].name, d)
		}
	}
	if got := ids(list(now, stuckBefore, -1)); !slices.Equal(got, want) {
		t.Errorf("limit -1 = %q, want all %q", names(got), names(want))
	}
	if got := ids(list(now, stuckBefore, 3)); !slices.Equal(got, want[:3]) {
		t.Errorf("limit 3 = %q, want %q", names(got), names(want[:3]))
	}
	// A microsecond later the payment due then is due too, and the one updated at
	// stuckBefore counts as stuck.
	later := list(now.Add(time.Microsecond), stuckBefore.Add(time.Microsecond), 0)
	extra := map[string]bool{}
	for _, id := range ids(later) {
		if !slices.Contains(want, id) {
			extra[byID[id]] = true
		}
	}
	if len(later) != len(want)+2 || !extra["unknown not due"] || !extra["processing updated at stuckBefore"] {
		t.Errorf("a microsecond later = %q, want %q plus the not-due unknown and the processing at stuckBefore",
			names(ids(later)), names(want))
	}
}

func testListRefundsToResolve(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	now, stuckBefore := at(time.Hour), at(30*time.Minute)
	old, fresh := at(29*time.Minute), at(45*time.Minute)
	// justAfter is due a microsecond after now; future is due much later.
	past, justAfter, future := ptr(at(59*time.Minute)), ptr(now.Add(time.Microsecond)), ptr(at(2*time.Hour))
	cases := []struct {
		name      string
		status    contracts.RefundStatus
		updated   time.Time
		next      *time.Time
		attention bool
		want      bool
	}{
		{"unknown", contracts.RefundUnknown, fresh, nil, false, true},
		{"unknown due now", contracts.RefundUnknown, fresh, ptr(now), false, true},
		{"unknown due earlier", contracts.RefundUnknown, old, past, false, true},
		{"unknown not due", contracts.RefundUnknown, fresh, justAfter, false, false},
		{"unknown needs attention", contracts.RefundUnknown, old, nil, true, false},
		{"pending stuck", contracts.RefundPending, old, nil, false, true},
		{"pending stuck due now", contracts.RefundPending, old, ptr(now), false, true},
		{"pending updated at stuckBefore", contracts.RefundPending, stuckBefore, nil, false, false},
		{"pending fresh", contracts.RefundPending, fresh, nil, false, false},
		{"pending stuck not due", contracts.RefundPending, old, future, false, false},
		{"pending stuck needs attention", contracts.RefundPending, old, nil, true, false},
		{"succeeded", contracts.RefundSucceeded, old, nil, false, false},
		{"failed", contracts.RefundFailed, old, nil, false, false},
	}
	pays := []contracts.Payment{newPayment("store-a"), newPayment("store-b")}
	for i := range pays {
		pays[i].Status = contracts.StatusSucceeded
		putPayment(t, s, pays[i])
	}
	rs := make([]contracts.Refund, len(cases))
	byID := map[string]string{}
	for i, c := range cases {
		r := newRefund(pays[i%2], 10)
		r.Status, r.UpdatedAt = c.status, c.updated
		r.CreatedAt = at(-time.Duration(i) * time.Minute)
		r.Resolution = contracts.Resolution{Attempts: i, NextAt: c.next, NeedsAttention: c.attention}
		rs[i] = r
		byID[r.ID] = c.name
	}
	inTx(t, s, func(tx contracts.Tx) error {
		for _, r := range slices.Backward(rs) {
			if err := tx.InsertRefund(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	names := func(idList []string) []string {
		out := make([]string, len(idList))
		for i, id := range idList {
			out[i] = byID[id]
		}
		return out
	}
	list := func(now, stuckBefore time.Time, limit int) []contracts.Refund {
		t.Helper()
		got, err := s.ListRefundsToResolve(ctx, now, stuckBefore, limit)
		if err != nil {
			t.Fatalf("ListRefundsToResolve: %v", err)
		}
		return got
	}
	var want []string
	for i, c := range cases {
		if c.want {
			want = append(want, rs[i].ID)
		}
	}
	got := list(now, stuckBefore, 0)
	if !slices.Equal(refundIDs(got), want) {
		t.Fatalf("ListRefundsToResolve = %q\nwant %q", names(refundIDs(got)), names(want))
	}
	for _, r := range got {
		i := slices.IndexFunc(rs, func(q contracts.Refund) bool { return q.ID == r.ID })
		if d := diff(r, storedRefund(rs[i])); d != "" {
			t.Errorf("listed refund %q:%s", cases[i].name, d)
		}
	}
	if got := refundIDs(list(now, stuckBefore, -1)); !slices.Equal(got, want) {
		t.Errorf("limit -1 = %q, want all %q", names(got), names(want))
	}
	if got := refundIDs(list(now, stuckBefore, 2)); !slices.Equal(got, want[:2]) {
		t.Errorf("limit 2 = %q, want %q", names(got), names(want[:2]))
	}
	later := names(refundIDs(list(now.Add(time.Microsecond), stuckBefore.Add(time.Microsecond), 0)))
	if len(later) != len(want)+2 || !slices.Contains(later, "unknown not due") ||
		!slices.Contains(later, "pending updated at stuckBefore") {
		t.Errorf("a microsecond later = %q, want %q plus the not-due unknown and the pending at stuckBefore",
			later, names(want))
	}
}

func testGetRefundForUpdate(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	insertPayment(t, s, p)
	r := newRefund(p, 100)
	inTx(t, s, func(tx contracts.Tx) error { return tx.InsertRefund(ctx, r) })
	inTx(t, s, func(tx contracts.Tx) error {
		got, err := tx.GetRefundForUpdate(ctx, r.ID)
		if err != nil {
			return err
		}
		if d := diff(got, storedRefund(r)); d != "" {
			t.Errorf("GetRefundForUpdate:%s", d)
		}
		return nil
	})
	err := s.InTx(ctx, func(tx contracts.Tx) error {
		_, err := tx.GetRefundForUpdate(ctx, newID("re_"))
		return err
	})
	if !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("GetRefundForUpdate(unknown) = %v, want ErrNotFound", err)
	}
	// The transaction sees the refund it inserted.
	fresh := newRefund(p, 5)
	inTx(t, s, func(tx contracts.Tx) error {
		if err := tx.InsertRefund(ctx, fresh); err != nil {
			return err
		}
		got, err := tx.GetRefundForUpdate(ctx, fresh.ID)
		if err != nil {
			return err
		}
		if d := diff(got, storedRefund(fresh)); d != "" {
			t.Errorf("GetRefundForUpdate of an uncommitted refund:%s", d)
		}
		return nil
	})
}

// testConcurrentRefundUpdates checks the lock: read-modify-write transactions on one refund
// must not lose each other's writes.
func testConcurrentRefundUpdates(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	insertPayment(t, s, p)
	r := newRefund(p, 100)
	r.Status, r.Resolution = contracts.RefundUnknown, contracts.Resolution{}
	inTx(t, s, func(tx contracts.Tx) error { return tx.InsertRefund(ctx, r) })
	const workers = 12
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			err := s.InTx(ctx, func(tx contracts.Tx) error {
				cur, err := tx.GetRefundForUpdate(ctx, r.ID)
				if err != nil {
					return err
				}
				cur.Resolution.Attempts++
				return tx.UpdateRefund(ctx, cur)
			})
			if err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetRefund(ctx, "", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Resolution.Attempts != workers {
		t.Errorf("Attempts = %d after %d locked increments, want %d", got.Resolution.Attempts, workers, workers)
	}
}

func testLookupIdempotency(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	k := contracts.IdempotencyKey{ClientID: "cli_a", Key: "k-1", Fingerprint: "sha256:aaaa", CreatedAt: base}
	if _, created, err := s.BeginIdempotency(ctx, k); err != nil || !created {
		t.Fatalf("BeginIdempotency = created %v, %v", created, err)
	}
	wantKey := k
	wantKey.CreatedAt = stored(k.CreatedAt)
	inFlight := contracts.IdempotencyRecord{IdempotencyKey: wantKey}
	lookup := func(tx contracts.Tx, clientID, key string) (contracts.IdempotencyRecord, error) {
		return tx.LookupIdempotency(ctx, clientID, key)
	}
	inTx(t, s, func(tx contracts.Tx) error {
		rec, err := lookup(tx, k.ClientID, k.Key)
		if err != nil {
			return err
		}
		if d := diff(rec, inFlight); d != "" {
			t.Errorf("in-flight record:%s", d)
		}
		for _, miss := range [][2]string{{"cli_b", k.Key}, {k.ClientID, "k-2"}} {
			if _, err := lookup(tx, miss[0], miss[1]); !errors.Is(err, contracts.ErrNotFound) {
				t.Errorf("LookupIdempotency(%s, %s) = %v, want ErrNotFound", miss[0], miss[1], err)
			}
		}
		return nil
	})

	// The transaction sees its own uncommitted completion; a rollback takes it back.
	body := []byte(`{"id":"pay_1"}`)
	done := at(time.Second)
	completed := contracts.IdempotencyRecord{IdempotencyKey: wantKey, Completed: true, Answer: contracts.Answer{Kind: contracts.AnswerCreated, Body: body},
		CompletedAt: ptr(stored(done))}
	errBoom := errors.New("boom")
	err := s.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.CompleteIdempotency(ctx, k.ClientID, k.Key, contracts.Answer{Kind: contracts.AnswerCreated, Body: body}, done); err != nil {
			return err
		}
		rec, err := lookup(tx, k.ClientID, k.Key)
		if err != nil {
			return err
		}
		if d := diff(rec, completed); d != "" {
			t.Errorf("record after an uncommitted completion:%s", d)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	inTx(t, s, func(tx contracts.Tx) error {
		rec, err := lookup(tx, k.ClientID, k.Key)
		if err != nil {
			return err
		}
		if d := diff(rec, inFlight); d != "" {
			t.Errorf("record after a rolled-back completion:%s", d)
		}
		return tx.CompleteIdempotency(ctx, k.ClientID, k.Key, contracts.Answer{Kind: contracts.AnswerCreated, Body: body}, done)
	})
	inTx(t, s, func(tx contracts.Tx) error {
		rec, err := lookup(tx, k.ClientID, k.Key)
		if err != nil {
			return err
		}
		if d := diff(rec, completed); d != "" {
			t.Errorf("committed record:%s", d)
		}
		return nil
	})
}

// A succeeded payment may fail only while provisional (a sale the partner reverses before
// confirming it); the flag round-trips.
func testProvisionalPaymentMayFail(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	for _, provisional := range []bool{true, false} {
		p := newPayment("store-a")
		p.Status, p.Provisional = contracts.StatusSucceeded, provisional
		p = putPayment(t, s, p)
		got, err := s.GetPayment(ctx, "", p.ID)
		if err != nil || got.Provisional != provisional {
			t.Fatalf("provisional %v read back as %v (%v)", provisional, got.Provisional, err)
		}
		p.Status = contracts.StatusFailed
		err = s.InTx(ctx, func(tx contracts.Tx) error { return tx.UpdatePayment(ctx, p) })
		if provisional && err != nil {
			t.Errorf("a provisional success could not fail: %v", err)
		}
		if !provisional && !errors.Is(err, contracts.ErrInvalidTransition) {
			t.Errorf("a confirmed success failed: %v, want ErrInvalidTransition", err)
		}
	}
}
