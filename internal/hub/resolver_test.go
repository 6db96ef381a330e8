package hub_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/hub"
	"payhub/internal/ids"
)

// answer is a scripted partner answer of one outcome.
func answer(o contracts.Outcome) func(contracts.PaymentRef) contracts.PaymentResult {
	return func(contracts.PaymentRef) contracts.PaymentResult { return contracts.PaymentResult{Outcome: o} }
}

// unknownPayment creates a payment whose create answer was lost.
func (f *fixture) unknownPayment(t *testing.T, amount int64) string {
	t.Helper()
	f.partner.create = func(contracts.PaymentRequest) contracts.PaymentResult {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown}
	}
	r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("u"), payment(amount))
	if err != nil || decode(t, r)["status"] != "unknown" {
		t.Fatalf("unknown payment: %v %s", err, r.Body)
	}
	f.partner.create = nil
	return decode(t, r)["id"].(string)
}

func (f *fixture) resolve(t *testing.T) int {
	t.Helper()
	n, err := f.hub.ResolveOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) payment(t *testing.T, id string) contracts.Payment {
	t.Helper()
	p, err := f.store.GetPayment(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// PayPay rule step 1: the query decides when it can.
func TestResolverQueryDecides(t *testing.T) {
	for outcome, want := range map[contracts.Outcome]contracts.Status{
		contracts.OutcomeSucceeded: contracts.StatusSucceeded,
		contracts.OutcomeFailed:    contracts.StatusFailed,
		contracts.OutcomeCanceled:  contracts.StatusCanceled,
	} {
		t.Run(string(outcome), func(t *testing.T) {
			f := newFixture(t)
			id := f.unknownPayment(t, 500)
			f.partner.get = answer(outcome)
			if n := f.resolve(t); n != 1 {
				t.Fatalf("settled %d", n)
			}
			p := f.payment(t, id)
			if p.Status != want || (want == contracts.StatusSucceeded && p.AmountCaptured != 500) || f.partner.count("cancel") != 0 {
				t.Fatalf("status %s captured %d cancels %d", p.Status, p.AmountCaptured, f.partner.count("cancel"))
			}
			events, _ := f.store.ListEvents(context.Background(), id)
			if last := events[len(events)-1]; last.Type != contracts.PaymentEventType(want) || last.Sequence != int64(len(events)) {
				t.Fatalf("last event %+v", last)
			}
		})
	}
}

// Between passes the resolver backs off; it asks again once the backoff is over.
func TestResolverBacksOff(t *testing.T) {
	f := newFixture(t)
	f.unknownPayment(t, 500)
	f.resolve(t)
	if f.partner.count("get") != 1 {
		t.Fatalf("queries %d", f.partner.count("get"))
	}
	f.resolve(t)
	if f.partner.count("get") != 1 {
		t.Fatal("queried again before the backoff was over")
	}
	f.clock.Advance(hub.DefaultResolverConfig.FirstBackoff)
	f.resolve(t)
	if f.partner.count("get") != 2 {
		t.Fatalf("queries %d after the backoff", f.partner.count("get"))
	}
}

// PayPay rule: "not found" decides only when seen twice after the read timeout; then the
// payment is fenced with a cancel and ends canceled.
func TestResolverNotFoundTwiceFences(t *testing.T) {
	f := newFixture(t)
	id := f.unknownPayment(t, 500)
	f.partner.get = answer(contracts.OutcomeNotFound)
	f.resolve(t)
	if f.partner.count("cancel") != 0 || f.payment(t, id).Status != contracts.StatusUnknown {
		t.Fatal("one not-found answer was taken as decisive")
	}
	f.clock.Advance(time.Minute)
	f.resolve(t)
	p := f.payment(t, id)
	if f.partner.count("cancel") != 1 || p.Status != contracts.StatusCanceled || p.CancellationReason != "unknown_outcome_reversed" {
		t.Fatalf("status %s reason %q cancels %d", p.Status, p.CancellationReason, f.partner.count("cancel"))
	}
}

// PayPay rule step 2: still unknown past the fence time and before the cutoff → cancel.
func TestResolverCancelsWhatStaysOpen(t *testing.T) {
	f := newFixture(t)
	id := f.unknownPayment(t, 500)
	f.partner.get = answer(contracts.OutcomeUnknown)
	f.resolve(t)
	f.clock.Advance(hub.DefaultResolverConfig.FenceAfter)
	f.resolve(t)
	if p := f.payment(t, id); p.Status != contracts.StatusCanceled || f.partner.count("cancel") != 1 {
		t.Fatalf("status %s cancels %d", p.Status, f.partner.count("cancel"))
	}
}

// PayPay rule step 3: the cancel is refused after the cutoff; once the query shows the
// payment completed, the resolver refunds it in full.
func TestResolverRefundsAfterTheCancelCutoff(t *testing.T) {
	f := newFixture(t)
	id := f.unknownPayment(t, 800)
	f.partner.get = answer(contracts.OutcomeUnknown)
	f.partner.cancel = func(contracts.PaymentRef) contracts.CancelResult {
		return contracts.CancelResult{Outcome: contracts.OutcomeWindowPassed, PartnerCode: "ORDER_NOT_REVERSIBLE"}
	}
	f.clock.Advance(hub.DefaultResolverConfig.FenceAfter)
	f.resolve(t)
	if p := f.payment(t, id); p.Status != contracts.StatusUnknown || !p.CancelRequested {
		t.Fatalf("after the refused cancel: %s cancel_requested=%v", p.Status, p.CancelRequested)
	}
	f.partner.get = answer(contracts.OutcomeSucceeded)
	f.clock.Advance(hub.DefaultResolverConfig.MaxBackoff)
	f.resolve(t)
	p := f.payment(t, id)
	refunds, _ := f.store.ListRefunds(context.Background(), id)
	if p.Status != contracts.StatusSucceeded || p.AmountRefunded != 800 || len(refunds) != 1 ||
		refunds[0].Reason != "unknown_outcome_reversed" || f.partner.count("refund") != 1 {
		t.Fatalf("status %s refunded %d refunds %+v", p.Status, p.AmountRefunded, refunds)
	}
}

// Past its budget a payment goes to an operator, with an event; the status stays unknown.
func TestResolverHandsOverAfterItsBudget(t *testing.T) {
	f := newFixture(t)
	f.partner.cancel = func(contracts.PaymentRef) contracts.CancelResult {
		return contracts.CancelResult{Outcome: contracts.OutcomeUnknown}
	}
	id := f.unknownPayment(t, 500)
	f.clock.Advance(hub.DefaultResolverConfig.Budget + time.Minute)
	f.resolve(t)
	p := f.payment(t, id)
	events, _ := f.store.ListEvents(context.Background(), id)
	if !p.Resolution.NeedsAttention || p.Status != contracts.StatusUnknown || events[len(events)-1].Type != contracts.EventPaymentNeedsAttention {
		t.Fatalf("payment %+v, last event %s", p.Resolution, events[len(events)-1].Type)
	}
	before := f.partner.count("get")
	f.clock.Advance(time.Hour)
	f.resolve(t)
	if f.partner.count("get") != before {
		t.Fatal("the resolver kept working on a payment handed to an operator")
	}
}

// After a crash mid-call the payment stays processing and its key in use; the resolver
// settles both, so the till's retry gets the payment.
func TestResolverRecoversACrashedCreate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key := idem("crashed")
	now := f.clock.Now()
	p := contracts.Payment{ID: "pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AB", StoreID: f.caller.StoreID, ClientID: f.caller.ClientID,
		Method: contracts.MethodPayPay, Flow: contracts.FlowBarcode, Amount: contracts.Money{Amount: 700, Currency: contracts.JPY},
		Status: contracts.StatusProcessing, CaptureMethod: contracts.CaptureAutomatic, Attempt: 1,
		PartnerRef: "pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AB_1", IdempotencyKey: key.Key, EventSequence: 1, CreatedAt: now, UpdatedAt: now}
	if err := f.store.InTx(ctx, func(tx contracts.Tx) error {
		claim := contracts.IdempotencyKey{ClientID: f.caller.ClientID, Key: key.Key, Fingerprint: key.Fingerprint, CreatedAt: now}
		if err := tx.ClaimIdempotencyIntent(ctx, claim, "att_01JDQ5Y7R3M2K8T4V6W9X0Z1AB"); err != nil {
			return err
		}
		if err := tx.InsertPayment(ctx, p); err != nil {
			return err
		}
		return tx.InsertAttempt(ctx, contracts.Attempt{ID: "att_01JDQ5Y7R3M2K8T4V6W9X0Z1AB", PaymentID: p.ID, Operation: contracts.OpPay, PartnerRef: p.PartnerRef, StartedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.hub.CreatePayment(ctx, f.caller, key, payment(700)); err == nil {
		t.Fatal("a request still in flight was answered")
	}
	f.partner.get = answer(contracts.OutcomeSucceeded)
	f.resolve(t)
	if f.partner.count("get") != 0 {
		t.Fatal("the resolver took over a call that may still be running")
	}
	f.clock.Advance(hub.DefaultResolverConfig.StuckAfter + time.Second)
	if n := f.resolve(t); n != 1 {
		t.Fatalf("settled %d", n)
	}
	r, err := f.hub.CreatePayment(ctx, f.caller, key, payment(700))
	if err != nil || !r.Replayed || r.Kind != contracts.AnswerCreated || decode(t, r)["status"] != "succeeded" {
		t.Fatalf("retry after recovery: %v %+v", err, r)
	}
	attempts, _ := f.store.ListAttempts(ctx, p.ID)
	if attempts[0].Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("attempt left open: %+v", attempts[0])
	}
}

// A refund whose answer was lost is sent again under the same id and settled.
func TestResolverSettlesAnUnknownRefund(t *testing.T) {
	f := newFixture(t)
	id := f.pay(t, 1000)
	outcome := contracts.OutcomeUnknown
	f.partner.refund = func(r contracts.RefundRequest) contracts.RefundResult {
		return contracts.RefundResult{Outcome: outcome}
	}
	amount := int64(400)
	r, _ := f.hub.CreateRefund(context.Background(), f.caller, idem("r"), id, hub.CreateRefund{Amount: &amount})
	refundID := decode(t, r)["id"].(string)
	outcome = contracts.OutcomeSucceeded
	if n := f.resolve(t); n != 1 {
		t.Fatalf("settled %d", n)
	}
	got, _ := f.store.GetRefund(context.Background(), "", refundID)
	if got.Status != contracts.RefundSucceeded || f.payment(t, id).AmountRefunded != 400 || f.partner.count("refund") != 2 {
		t.Fatalf("refund %s, refunded %d, partner refunds %d", got.Status, f.payment(t, id).AmountRefunded, f.partner.count("refund"))
	}
}

// LINE Pay has no refund id: refunds of a payment go one at a time, and each send (and a
// resend after a lost answer) tells the partner what was refunded before it.
func TestLinePayRefundsGoOneAtATime(t *testing.T) {
	f := newFixture(t)
	linepay := &scriptedPartner{}
	// What LINE Pay declares (adapters/linepay): TWD in whole dollars, refunds one at a time.
	lineCaps := contracts.Capabilities{Currencies: []contracts.Currency{contracts.TWD},
		Flows: []contracts.Flow{contracts.FlowBarcode}, MaxAmount: map[contracts.Currency]int64{contracts.TWD: 10_000_000},
		Step: map[contracts.Currency]int64{contracts.TWD: 100}, SerialRefunds: true}
	f.hub = hub.New(hub.Config{Store: f.store, Partners: map[contracts.Method]contracts.Partner{contracts.MethodLinePay: declaredPartner{linepay, lineCaps}},
		Clock: f.clock, IDs: ids.New(f.clock), APIVersion: contracts.APIVersion})
	ctx := context.Background()
	r, err := f.hub.CreatePayment(ctx, f.caller, idem("lp"), hub.CreatePayment{Amount: contracts.Money{Amount: 10000, Currency: contracts.TWD},
		Method: contracts.MethodLinePay, Flow: contracts.FlowBarcode, Barcode: "123456789012345678"})
	if err != nil || decode(t, r)["status"] != "succeeded" {
		t.Fatalf("create: %v %s", err, r.Body)
	}
	id := decode(t, r)["id"].(string)
	var priors []int64
	outcome := contracts.OutcomeUnknown
	linepay.refund = func(req contracts.RefundRequest) contracts.RefundResult {
		priors = append(priors, req.PriorRefunded)
		return contracts.RefundResult{Outcome: outcome}
	}
	amount := int64(1000)
	if r, _ := f.hub.CreateRefund(ctx, f.caller, idem("r1"), id, hub.CreateRefund{Amount: &amount}); decode(t, r)["status"] != "unknown" {
		t.Fatalf("first refund: %s", r.Body)
	}
	if r, err := f.hub.CreateRefund(ctx, f.caller, idem("r2"), id, hub.CreateRefund{Amount: &amount}); err != nil ||
		r.Kind != contracts.AnswerRefused || decode(t, r)["code"] != "invalid_state" {
		t.Fatalf("a second refund while the first is open: %v %s", err, r.Body)
	}
	outcome = contracts.OutcomeSucceeded
	f.resolve(t)
	if r, err := f.hub.CreateRefund(ctx, f.caller, idem("r3"), id, hub.CreateRefund{Amount: &amount}); err != nil || decode(t, r)["status"] != "succeeded" {
		t.Fatalf("the next refund: %v %s", err, r.Body)
	}
	if !slices.Equal(priors, []int64{0, 0, 1000}) {
		t.Fatalf("PriorRefunded sent %v, want [0 0 1000] (the resend as the first send)", priors)
	}
}
