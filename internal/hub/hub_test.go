package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/hub"
	"payhub/internal/idempotency"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// scriptedPartner answers each call as the test says and counts the calls.
type scriptedPartner struct {
	create  func(contracts.PaymentRequest) contracts.PaymentResult
	cancel  func(contracts.PaymentRef) contracts.CancelResult
	refund  func(contracts.RefundRequest) contracts.RefundResult
	capture func(contracts.CaptureRequest) contracts.PaymentResult
	get     func(contracts.PaymentRef) contracts.PaymentResult
	calls   sync.Map // operation → *atomic.Int64
}

func (p *scriptedPartner) count(op string) int64 {
	v, _ := p.calls.LoadOrStore(op, new(atomic.Int64))
	return v.(*atomic.Int64).Add(0)
}

func (p *scriptedPartner) called(op string) {
	v, _ := p.calls.LoadOrStore(op, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (p *scriptedPartner) Method() contracts.Method { return contracts.MethodPayPay }

func (p *scriptedPartner) CreatePayment(_ context.Context, r contracts.PaymentRequest) contracts.PaymentResult {
	p.called("create")
	if p.create == nil {
		if r.CaptureMethod == contracts.CaptureManual {
			return contracts.PaymentResult{Outcome: contracts.OutcomeAuthorized, PartnerPaymentID: "pp-" + r.PartnerRef}
		}
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, PartnerPaymentID: "pp-" + r.PartnerRef}
	}
	return p.create(r)
}

func (p *scriptedPartner) GetPayment(_ context.Context, ref contracts.PaymentRef) contracts.PaymentResult {
	p.called("get")
	if p.get == nil {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown}
	}
	return p.get(ref)
}

func (p *scriptedPartner) CancelPayment(_ context.Context, ref contracts.PaymentRef) contracts.CancelResult {
	p.called("cancel")
	if p.cancel == nil {
		return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded}
	}
	return p.cancel(ref)
}

func (p *scriptedPartner) CapturePayment(_ context.Context, r contracts.CaptureRequest) contracts.PaymentResult {
	p.called("capture")
	if p.capture == nil {
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}
	}
	return p.capture(r)
}

func (p *scriptedPartner) Refund(_ context.Context, r contracts.RefundRequest) contracts.RefundResult {
	p.called("refund")
	if p.refund == nil {
		return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded}
	}
	return p.refund(r)
}

type fixture struct {
	clock   *clock.Manual
	hub     *hub.Hub
	store   contracts.Store
	partner *scriptedPartner
	caller  hub.Caller
}

func newFixture(t *testing.T) *fixture { return newFixtureOn(t, storetest.OpenSQLite(t)) }

func newFixtureOn(t *testing.T, st contracts.Store) *fixture {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	p := &scriptedPartner{}
	h := hub.New(hub.Config{Store: st, Partners: map[contracts.Method]contracts.Partner{contracts.MethodPayPay: p},
		Clock: clk, IDs: ids.New(clk), APIVersion: contracts.APIVersion,
		Metrics: hub.NewMetrics(prometheus.NewRegistry())})
	return &fixture{clock: clk, hub: h, store: st, partner: p, caller: hub.Caller{ClientID: "pos-1", StoreID: "store-1"}}
}

var keyN atomic.Int64

func idem(fp string) idempotency.Key {
	return idempotency.Key{Key: fmt.Sprintf("k-%d", keyN.Add(1)), Fingerprint: fp}
}

func payment(amount int64) hub.CreatePayment {
	return hub.CreatePayment{Amount: contracts.Money{Amount: amount, Currency: contracts.JPY},
		Method: contracts.MethodPayPay, Flow: contracts.FlowBarcode, Barcode: "900081818800000000"}
}

func decode(t *testing.T, r hub.Response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return m
}

func (f *fixture) pay(t *testing.T, amount int64) string {
	t.Helper()
	r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("pay"), payment(amount))
	if err != nil || r.Kind != contracts.AnswerCreated {
		t.Fatalf("create: %v %+v", err, r)
	}
	return decode(t, r)["id"].(string)
}

func TestUnknownOutcomeIsReportedNeverGuessed(t *testing.T) {
	f := newFixture(t)
	f.partner.create = func(contracts.PaymentRequest) contracts.PaymentResult {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, FailureMessage: "read timeout"}
	}
	key := idem("x")
	r, err := f.hub.CreatePayment(context.Background(), f.caller, key, payment(100))
	if err != nil || r.Kind != contracts.AnswerCreated || decode(t, r)["status"] != "unknown" {
		t.Fatalf("want 201 unknown: %v %s", err, r.Body)
	}
	id := decode(t, r)["id"].(string)
	events, _ := f.store.ListEvents(context.Background(), id)
	if len(events) != 2 || events[1].Type != contracts.EventPaymentUnknown {
		t.Fatalf("events: %+v", events)
	}
	again, _ := f.hub.CreatePayment(context.Background(), f.caller, key, payment(100))
	if !again.Replayed || string(again.Body) != string(r.Body) || f.partner.count("create") != 1 {
		t.Fatalf("replay: %+v, partner calls %d", again, f.partner.count("create"))
	}
	// A payment whose outcome is open can only be abandoned, not canceled.
	c, err := f.hub.CancelPayment(context.Background(), f.caller, idem("c"), id, "")
	if err != nil || c.Kind != contracts.AnswerAccepted || decode(t, c)["cancel_requested"] != true || f.partner.count("cancel") != 0 {
		t.Fatalf("abandon: %v %s", err, c.Body)
	}
}

func TestConcurrentRequestWithKeyInFlight(t *testing.T) {
	f := newFixture(t)
	entered, release := make(chan struct{}), make(chan struct{})
	f.partner.create = func(r contracts.PaymentRequest) contracts.PaymentResult {
		close(entered)
		<-release
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}
	}
	key := idem("same")
	done := make(chan hub.Response)
	go func() {
		r, err := f.hub.CreatePayment(context.Background(), f.caller, key, payment(100))
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	<-entered
	_, err := f.hub.CreatePayment(context.Background(), f.caller, key, payment(100))
	if e, ok := contracts.AsError(err); !ok || e.Code != contracts.CodeIdempotencyKeyInUse {
		t.Fatalf("in flight: want 409 idempotency_key_in_use, got %v", err)
	}
	other := key
	other.Fingerprint = "other"
	_, err = f.hub.CreatePayment(context.Background(), f.caller, other, payment(101))
	if e, ok := contracts.AsError(err); !ok || e.Code != contracts.CodeIdempotencyKeyReused {
		t.Fatalf("other body: want 422 idempotency_key_reused, got %v", err)
	}
	close(release)
	first := <-done
	replay, err := f.hub.CreatePayment(context.Background(), f.caller, key, payment(100))
	if err != nil || !replay.Replayed || string(replay.Body) != string(first.Body) || f.partner.count("create") != 1 {
		t.Fatalf("after finish: %v %+v calls=%d", err, replay, f.partner.count("create"))
	}
}

func TestCancelWindowPassedIsStoredAndReplayed(t *testing.T) {
	f := newFixture(t)
	id := f.pay(t, 500)
	f.partner.cancel = func(contracts.PaymentRef) contracts.CancelResult {
		return contracts.CancelResult{Outcome: contracts.OutcomeWindowPassed, PartnerCode: "ORDER_NOT_REVERSIBLE"}
	}
	key := idem("cancel")
	r, err := f.hub.CancelPayment(context.Background(), f.caller, key, id, "")
	if err != nil || r.Kind != contracts.AnswerRefused || decode(t, r)["code"] != "cancel_window_passed" {
		t.Fatalf("want 409 cancel_window_passed: %v %s", err, r.Body)
	}
	again, err := f.hub.CancelPayment(context.Background(), f.caller, key, id, "")
	if err != nil || !again.Replayed || again.Kind != contracts.AnswerRefused || f.partner.count("cancel") != 1 {
		t.Fatalf("replay: %v %+v calls=%d", err, again, f.partner.count("cancel"))
	}
	p, _ := f.store.GetPayment(context.Background(), "store-1", id)
	if p.Status != contracts.StatusSucceeded {
		t.Fatalf("status %s after refused cancel", p.Status)
	}
}

func TestCancelWithUnknownOutcomeKeepsTheWish(t *testing.T) {
	f := newFixture(t)
	id := f.pay(t, 500)
	f.partner.cancel = func(contracts.PaymentRef) contracts.CancelResult {
		return contracts.CancelResult{Outcome: contracts.OutcomeUnknown}
	}
	r, err := f.hub.CancelPayment(context.Background(), f.caller, idem("c"), id, "")
	if err != nil || r.Kind != contracts.AnswerAccepted {
		t.Fatalf("want 202: %v %s", err, r.Body)
	}
	if m := decode(t, r); m["status"] != "succeeded" || m["cancel_requested"] != true {
		t.Fatalf("payment: %s", r.Body)
	}
}

func TestUnknownRefundStillReservesItsAmount(t *testing.T) {
	f := newFixture(t)
	id := f.pay(t, 1000)
	f.partner.refund = func(contracts.RefundRequest) contracts.RefundResult {
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown}
	}
	amount := int64(600)
	r, err := f.hub.CreateRefund(context.Background(), f.caller, idem("r1"), id, hub.CreateRefund{Amount: &amount})
	if err != nil || decode(t, r)["status"] != "unknown" {
		t.Fatalf("want unknown refund: %v %s", err, r.Body)
	}
	amount = 500
	r, err = f.hub.CreateRefund(context.Background(), f.caller, idem("r2"), id, hub.CreateRefund{Amount: &amount})
	if err != nil || r.Kind != contracts.AnswerRefused || decode(t, r)["code"] != "refund_exceeds_captured" {
		t.Fatalf("want 422: %v %s", err, r.Body)
	}
	p, _ := f.store.GetPayment(context.Background(), "store-1", id)
	if p.AmountRefunded != 0 {
		t.Fatalf("an unknown refund moved amount_refunded to %d", p.AmountRefunded)
	}
}

func TestConcurrentRefundsNeverExceedCaptured(t *testing.T) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) { concurrentRefunds(t, newFixtureOn(t, db.Open(t))) })
	}
}

func concurrentRefunds(t *testing.T, f *fixture) {
	id := f.pay(t, 1000)
	var wg sync.WaitGroup
	var ok, refused atomic.Int64
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			amount := int64(150)
			r, err := f.hub.CreateRefund(context.Background(), f.caller, idem("r"), id, hub.CreateRefund{Amount: &amount})
			switch {
			case err != nil:
				t.Error(err)
			case r.Kind == contracts.AnswerCreated:
				ok.Add(1)
			case r.Kind == contracts.AnswerRefused:
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	p, _ := f.store.GetPayment(context.Background(), "store-1", id)
	if ok.Load() != 6 || refused.Load() != 14 || p.AmountRefunded != 900 || f.partner.count("refund") != 6 {
		t.Fatalf("ok=%d refused=%d refunded=%d partner=%d", ok.Load(), refused.Load(), p.AmountRefunded, f.partner.count("refund"))
	}
}

func TestRefusalsBeforeExecutionFreeTheKey(t *testing.T) {
	f := newFixture(t)
	key := idem("v")
	bad := payment(100)
	bad.Amount.Currency = "USD"
	if _, err := f.hub.CreatePayment(context.Background(), f.caller, key, bad); err == nil {
		t.Fatal("USD accepted for PayPay")
	}
	if _, err := f.hub.CancelPayment(context.Background(), f.caller, key, "pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AB", ""); err == nil {
		t.Fatal("cancel of a missing payment accepted")
	}
	if r, err := f.hub.CreatePayment(context.Background(), f.caller, key, payment(100)); err != nil || r.Kind != contracts.AnswerCreated {
		t.Fatalf("key not usable after refusals: %v %+v", err, r)
	}
}

// A till that gives up on a payment in flight asks to cancel it; when the payment then goes
// through, payhub reverses it at once.
func TestAbandonedPaymentThatWentThroughIsReversed(t *testing.T) {
	f := newFixture(t)
	entered, release := make(chan struct{}), make(chan struct{})
	f.partner.create = func(contracts.PaymentRequest) contracts.PaymentResult {
		close(entered)
		<-release
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}
	}
	done := make(chan string)
	go func() {
		r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), payment(300))
		if err != nil {
			t.Error(err)
		}
		done <- decode(t, r)["id"].(string)
	}()
	<-entered
	waiting, err := f.store.ListPaymentsByStatus(context.Background(), contracts.StatusProcessing, 1)
	if err != nil || len(waiting) != 1 {
		t.Fatalf("payment in flight: %v %v", waiting, err)
	}
	c, err := f.hub.CancelPayment(context.Background(), f.caller, idem("c"), waiting[0].ID, "")
	if err != nil || c.Kind != contracts.AnswerAccepted {
		t.Fatalf("abandon: %v %s", err, c.Body)
	}
	close(release)
	id := <-done
	p, _ := f.store.GetPayment(context.Background(), "store-1", id)
	if p.Status != contracts.StatusCanceled || f.partner.count("cancel") != 1 {
		t.Fatalf("status %s, partner cancels %d; want canceled after one cancel", p.Status, f.partner.count("cancel"))
	}
}

// While a cancel is at the partner, no refund is sent: both would return the money.
func TestNoRefundWhileACancelIsInFlight(t *testing.T) {
	f := newFixture(t)
	id := f.pay(t, 1000)
	entered, release := make(chan struct{}), make(chan struct{})
	f.partner.cancel = func(contracts.PaymentRef) contracts.CancelResult {
		close(entered)
		<-release
		return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded}
	}
	done := make(chan hub.Response)
	go func() {
		r, err := f.hub.CancelPayment(context.Background(), f.caller, idem("c"), id, "")
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	<-entered
	amount := int64(400)
	r, err := f.hub.CreateRefund(context.Background(), f.caller, idem("r"), id, hub.CreateRefund{Amount: &amount})
	if err != nil || r.Kind != contracts.AnswerRefused || decode(t, r)["code"] != "invalid_state" {
		t.Fatalf("refund during cancel: %v %s", err, r.Body)
	}
	close(release)
	if c := <-done; decode(t, c)["status"] != "canceled" {
		t.Fatalf("cancel: %s", c.Body)
	}
	p, _ := f.store.GetPayment(context.Background(), "store-1", id)
	if p.AmountRefunded != 0 || f.partner.count("refund") != 0 {
		t.Fatalf("refunded %d with %d partner refunds", p.AmountRefunded, f.partner.count("refund"))
	}
}

// A partner that answers a create with "canceled" has refused it: the payment fails and the
// response is stored, so the key never hangs.
func TestCreateAnsweredCanceledFails(t *testing.T) {
	f := newFixture(t)
	f.partner.create = func(contracts.PaymentRequest) contracts.PaymentResult {
		return contracts.PaymentResult{Outcome: contracts.OutcomeCanceled, PartnerCode: "EXPIRED"}
	}
	key := idem("x")
	r, err := f.hub.CreatePayment(context.Background(), f.caller, key, payment(100))
	if err != nil || decode(t, r)["status"] != "failed" {
		t.Fatalf("want failed: %v %s", err, r.Body)
	}
	if again, err := f.hub.CreatePayment(context.Background(), f.caller, key, payment(100)); err != nil || !again.Replayed {
		t.Fatalf("replay: %v %+v", err, again)
	}
}

func TestKeysExpireAfterTheirRetention(t *testing.T) {
	f := newFixture(t)
	key := idem("x")
	first, _ := f.hub.CreatePayment(context.Background(), f.caller, key, payment(100))
	f.clock.Advance(idempotency.DefaultRetention - time.Minute)
	if n, err := f.hub.ExpireIdempotencyKeys(context.Background(), idempotency.DefaultRetention); err != nil || n != 0 {
		t.Fatalf("expired too early: %d %v", n, err)
	}
	if r, _ := f.hub.CreatePayment(context.Background(), f.caller, key, payment(100)); !r.Replayed {
		t.Fatal("key not replayed within its retention")
	}
	f.clock.Advance(2 * time.Minute)
	if n, err := f.hub.ExpireIdempotencyKeys(context.Background(), idempotency.DefaultRetention); err != nil || n != 1 {
		t.Fatalf("expired %d keys, err %v; want 1", n, err)
	}
	r, err := f.hub.CreatePayment(context.Background(), f.caller, key, payment(100))
	if err != nil || r.Replayed || decode(t, r)["id"] == decode(t, first)["id"] {
		t.Fatalf("an expired key must be a new request: %v %+v", err, r)
	}
}

func (f *fixture) authorize(t *testing.T, amount int64) string {
	t.Helper()
	cmd := payment(amount)
	cmd.CaptureMethod = contracts.CaptureManual
	r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("auth"), cmd)
	if err != nil || decode(t, r)["status"] != "authorized" {
		t.Fatalf("authorize: %v %s", err, r.Body)
	}
	return decode(t, r)["id"].(string)
}

func TestCaptureOutcomes(t *testing.T) {
	for name, c := range map[string]struct {
		res          contracts.PaymentResult
		status       contracts.AnswerKind
		paymentState string
		captured     int64
	}{
		"captured":        {contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}, contracts.AnswerDone, "succeeded", 700},
		"answer lost":     {contracts.PaymentResult{Outcome: contracts.OutcomeUnknown}, contracts.AnswerDone, "unknown", 0},
		"hold expired":    {contracts.PaymentResult{Outcome: contracts.OutcomeFailed, FailureCode: contracts.FailureExpired}, contracts.AnswerDone, "canceled", 0},
		"partner refuses": {contracts.PaymentResult{Outcome: contracts.OutcomeFailed, FailureCode: contracts.FailurePartnerRejected}, contracts.AnswerRefused, "authorized", 0},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			id := f.authorize(t, 1000)
			f.partner.capture = func(r contracts.CaptureRequest) contracts.PaymentResult {
				if r.Amount.Amount != 700 || r.PartnerRef != id+"_c1" {
					t.Errorf("capture request %+v", r)
				}
				return c.res
			}
			amount := int64(700)
			key := idem("cap")
			r, err := f.hub.CapturePayment(context.Background(), f.caller, key, id, &amount)
			if err != nil || r.Kind != c.status {
				t.Fatalf("capture: %v %s %s", err, r.Kind, r.Body)
			}
			p, _ := f.store.GetPayment(context.Background(), "store-1", id)
			if string(p.Status) != c.paymentState || p.AmountCaptured != c.captured {
				t.Fatalf("payment %s captured %d; want %s %d", p.Status, p.AmountCaptured, c.paymentState, c.captured)
			}
			if again, _ := f.hub.CapturePayment(context.Background(), f.caller, key, id, &amount); !again.Replayed || f.partner.count("capture") != 1 {
				t.Fatalf("replay: %+v, partner captures %d", again, f.partner.count("capture"))
			}
		})
	}
}

// A cancel whose answer was lost stands as a cancel request; when the partner then refuses
// the cancel for good (its window passed), the request is not dropped: payhub refunds the
// payment in full, and the store's own refund finds nothing left.
func TestRefusedCancelOfAStandingRequestIsReversedByRefund(t *testing.T) {
	f := newFixture(t)
	id := f.pay(t, 500)
	outcome := contracts.OutcomeUnknown
	f.partner.cancel = func(contracts.PaymentRef) contracts.CancelResult { return contracts.CancelResult{Outcome: outcome} }
	if r, _ := f.hub.CancelPayment(context.Background(), f.caller, idem("c1"), id, ""); r.Kind != contracts.AnswerAccepted {
		t.Fatalf("first cancel: %s", r.Body)
	}
	outcome = contracts.OutcomeWindowPassed
	r, err := f.hub.CancelPayment(context.Background(), f.caller, idem("c2"), id, "")
	if m := decode(t, r); err != nil || r.Kind != contracts.AnswerAccepted || m["status"] != "succeeded" ||
		m["amount_refunded"] != 500.0 || m["cancel_requested"] != true {
		t.Fatalf("second cancel: %v %s %s", err, r.Kind, r.Body)
	}
	refunds, _ := f.store.ListRefunds(context.Background(), id)
	if len(refunds) != 1 || refunds[0].Status != contracts.RefundSucceeded || refunds[0].Reason != "abandoned_by_store" || f.partner.count("refund") != 1 {
		t.Fatalf("refunds %+v, partner refunds %d", refunds, f.partner.count("refund"))
	}
	amount := int64(500)
	r, err = f.hub.CreateRefund(context.Background(), f.caller, idem("r"), id, hub.CreateRefund{Amount: &amount})
	if err != nil || r.Kind != contracts.AnswerRefused || decode(t, r)["code"] != "refund_exceeds_captured" {
		t.Fatalf("the store's refund after the reversal: %v %s %s", err, r.Kind, r.Body)
	}
	events, _ := f.store.ListEvents(context.Background(), id)
	for _, e := range events {
		if e.Type == contracts.EventPaymentCancelRefused {
			t.Fatalf("the cancel request was dropped: %+v", events)
		}
	}
	// Nothing is left for the resolver: the reversal is done.
	if n := f.resolve(t); n != 0 || f.partner.count("refund") != 1 {
		t.Fatalf("resolver settled %d more, partner refunds %d", n, f.partner.count("refund"))
	}
}

// A QR payment abandoned while its create was in flight is withdrawn as soon as the QR
// exists, so the customer can no longer pay it.
func TestAbandonedQRIsWithdrawn(t *testing.T) {
	f := newFixture(t)
	entered, release := make(chan struct{}), make(chan struct{})
	f.partner.create = func(contracts.PaymentRequest) contracts.PaymentResult {
		close(entered)
		<-release
		return contracts.PaymentResult{Outcome: contracts.OutcomePending, PartnerActionRef: "code-1",
			NextAction: &contracts.NextAction{Type: contracts.NextActionDisplayQR, QRCodeURL: "https://qr"}}
	}
	done := make(chan string)
	go func() {
		cmd := payment(300)
		cmd.Flow, cmd.Barcode = contracts.FlowQR, ""
		r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), cmd)
		if err != nil {
			t.Error(err)
		}
		done <- decode(t, r)["id"].(string)
	}()
	<-entered
	waiting, _ := f.store.ListPaymentsByStatus(context.Background(), contracts.StatusProcessing, 1)
	if c, err := f.hub.CancelPayment(context.Background(), f.caller, idem("c"), waiting[0].ID, ""); err != nil || c.Kind != contracts.AnswerAccepted {
		t.Fatalf("abandon: %v %s", err, c.Body)
	}
	close(release)
	p, _ := f.store.GetPayment(context.Background(), "store-1", <-done)
	if p.Status != contracts.StatusCanceled || f.partner.count("cancel") != 1 {
		t.Fatalf("status %s with %d partner cancels; want the QR withdrawn", p.Status, f.partner.count("cancel"))
	}
}
