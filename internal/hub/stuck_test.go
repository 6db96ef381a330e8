package hub_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/hub"
	"payhub/internal/store/storetest"
)

// crashingStore fails the n-th transaction from when it is told (crashIn = n): payhub
// "dies" before that write, leaving exactly what a SIGKILL leaves.
type crashingStore struct {
	contracts.Store
	crashIn atomic.Int32
}

func (s *crashingStore) InTx(ctx context.Context, fn func(tx contracts.Tx) error) error {
	if s.crashIn.Load() > 0 && s.crashIn.Add(-1) == 0 {
		return errors.New("payhub died here")
	}
	return s.Store.InTx(ctx, fn)
}

func newCrashingFixture(t *testing.T) (*fixture, *crashingStore) {
	cs := &crashingStore{Store: storetest.OpenSQLite(t)}
	return newFixtureOn(t, cs), cs
}

func wantCode(t *testing.T, err error, code contracts.ErrorCode) {
	t.Helper()
	if pe, ok := contracts.AsError(err); !ok || pe.Code != code {
		t.Fatalf("got %v; want %s", err, code)
	}
}

func (f *fixture) attempts(t *testing.T, id string, op contracts.AttemptOperation) []contracts.Attempt {
	t.Helper()
	all, err := f.store.ListAttempts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []contracts.Attempt
	for _, a := range all {
		if a.Operation == op {
			out = append(out, a)
		}
	}
	return out
}

// A capture the partner received but whose answer a crash kept from being written: the
// payment looks authorized and the till's retry gets 409 in use; after StuckAfter the
// resolver asks the partner, records the capture with the amount the partner took, and the
// retry replays the settled payment. When the partner never received it, the retry is
// refused for good and a new capture goes out under a new partner id.
func TestResolverAnswersACaptureCutOffByACrash(t *testing.T) {
	for name, c := range map[string]struct {
		partner    contracts.PaymentResult
		status     contracts.AnswerKind
		payment    contracts.Status
		captured   int64
		attemptOut contracts.Outcome
	}{
		"captured":     {contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, AmountCaptured: 600}, contracts.AnswerDone, contracts.StatusSucceeded, 600, contracts.OutcomeSucceeded},
		"never landed": {contracts.PaymentResult{Outcome: contracts.OutcomeAuthorized}, contracts.AnswerRefused, contracts.StatusAuthorized, 0, contracts.OutcomeFailed},
		"hold expired": {contracts.PaymentResult{Outcome: contracts.OutcomeCanceled}, contracts.AnswerDone, contracts.StatusCanceled, 0, contracts.OutcomeCanceled},
	} {
		t.Run(name, func(t *testing.T) {
			f, cs := newCrashingFixture(t)
			ctx := context.Background()
			id := f.authorize(t, 1000)
			f.partner.capture = func(contracts.CaptureRequest) contracts.PaymentResult {
				cs.crashIn.Store(1)
				return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}
			}
			amount, key := int64(600), idem("cap")
			if _, err := f.hub.CapturePayment(ctx, f.caller, key, id, &amount); err == nil {
				t.Fatal("the crashed capture answered")
			}
			_, err := f.hub.CapturePayment(ctx, f.caller, key, id, &amount)
			wantCode(t, err, contracts.CodeIdempotencyKeyInUse)
			f.partner.get = func(contracts.PaymentRef) contracts.PaymentResult { return c.partner }
			f.resolve(t)
			if f.partner.count("get") != 0 {
				t.Fatal("the resolver took over a capture that may still be running")
			}

			f.clock.Advance(hub.DefaultResolverConfig.StuckAfter + time.Second)
			f.resolve(t)
			p := f.payment(t, id)
			if p.Status != c.payment || p.AmountCaptured != c.captured {
				t.Fatalf("payment %s captured %d; want %s %d", p.Status, p.AmountCaptured, c.payment, c.captured)
			}
			if a := f.attempts(t, id, contracts.OpCapture); len(a) != 1 || a[0].Outcome != c.attemptOut {
				t.Fatalf("capture attempts %+v", a)
			}
			r, err := f.hub.CapturePayment(ctx, f.caller, key, id, &amount)
			if err != nil || !r.Replayed || r.Kind != c.status {
				t.Fatalf("retry after recovery: %v %s %s", err, r.Kind, r.Body)
			}
			if c.status != contracts.AnswerRefused {
				return
			}
			f.partner.capture = func(r contracts.CaptureRequest) contracts.PaymentResult {
				if r.PartnerRef != id+"_c2" {
					t.Errorf("second capture reuses a partner id: %s", r.PartnerRef)
				}
				return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}
			}
			if r, err := f.hub.CapturePayment(ctx, f.caller, idem("cap"), id, &amount); err != nil || decode(t, r)["status"] != "succeeded" {
				t.Fatalf("capture under a new key: %v %s", err, r.Body)
			}
		})
	}
}

// A cancel cut off by a crash: the resolver sees the partner reversed the payment (PayPay
// shows FAILED after a cancel), records it and answers the store's request.
func TestResolverAnswersACancelCutOffByACrash(t *testing.T) {
	f, cs := newCrashingFixture(t)
	ctx := context.Background()
	id := f.pay(t, 800)
	f.partner.cancel = func(contracts.PaymentRef) contracts.CancelResult {
		cs.crashIn.Store(1)
		return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded}
	}
	key := idem("cancel")
	if _, err := f.hub.CancelPayment(ctx, f.caller, key, id, ""); err == nil {
		t.Fatal("the crashed cancel answered")
	}
	f.partner.get = answer(contracts.OutcomeFailed)
	f.clock.Advance(hub.DefaultResolverConfig.StuckAfter + time.Second)
	if n := f.resolve(t); n != 1 {
		t.Fatalf("settled %d", n)
	}
	if p := f.payment(t, id); p.Status != contracts.StatusCanceled || p.CancellationReason != "requested_by_store" {
		t.Fatalf("payment %s (%s)", p.Status, p.CancellationReason)
	}
	r, err := f.hub.CancelPayment(ctx, f.caller, key, id, "")
	if err != nil || !r.Replayed || r.Kind != contracts.AnswerDone || decode(t, r)["status"] != "canceled" {
		t.Fatalf("retry after recovery: %v %s %s", err, r.Kind, r.Body)
	}
	events, _ := f.store.ListEvents(ctx, id)
	if last := events[len(events)-1]; last.Type != contracts.EventPaymentCanceled {
		t.Fatalf("last event %s", last.Type)
	}
}

// A request that died after claiming its key and before writing its intent reached no
// partner: once StuckAfter has passed the key is released and the retry runs afresh.
func TestResolverReleasesTheKeyOfARequestThatNeverReachedAPartner(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key := idem("orphan")
	if _, _, err := f.store.BeginIdempotency(ctx, contracts.IdempotencyKey{ClientID: f.caller.ClientID, Key: key.Key,
		Fingerprint: key.Fingerprint, CreatedAt: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	_, err := f.hub.CreatePayment(ctx, f.caller, key, payment(300))
	wantCode(t, err, contracts.CodeIdempotencyKeyInUse)
	f.resolve(t)
	_, err = f.hub.CreatePayment(ctx, f.caller, key, payment(300))
	wantCode(t, err, contracts.CodeIdempotencyKeyInUse)

	f.clock.Advance(hub.DefaultResolverConfig.StuckAfter + time.Second)
	f.resolve(t)
	r, err := f.hub.CreatePayment(ctx, f.caller, key, payment(300))
	if err != nil || r.Replayed || decode(t, r)["status"] != "succeeded" || f.partner.count("create") != 1 {
		t.Fatalf("retry: %v %+v, partner creates %d", err, r, f.partner.count("create"))
	}
}

// A capture whose answer was lost leaves the payment unknown; the partner's view then
// carries what it took, so a partial capture is recorded as partial.
func TestResolverLearnsTheAmountOfAnUnknownCapture(t *testing.T) {
	f := newFixture(t)
	id := f.authorize(t, 1000)
	f.partner.capture = func(contracts.CaptureRequest) contracts.PaymentResult {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown}
	}
	amount := int64(450)
	if r, err := f.hub.CapturePayment(context.Background(), f.caller, idem("cap"), id, &amount); err != nil || decode(t, r)["status"] != "unknown" {
		t.Fatalf("capture: %v %s", err, r.Body)
	}
	f.partner.get = func(contracts.PaymentRef) contracts.PaymentResult {
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, AmountCaptured: 450}
	}
	if n := f.resolve(t); n != 1 {
		t.Fatalf("settled %d", n)
	}
	if p := f.payment(t, id); p.Status != contracts.StatusSucceeded || p.AmountCaptured != 450 {
		t.Fatalf("payment %s captured %d", p.Status, p.AmountCaptured)
	}
}

// payhub's reversal of a payment past PayPay's cancel cutoff is a refund. A crash after the
// partner refused the cancel and before the refund was reserved must not forget it: the
// cancel request stands (and stays on the payment as its record) until the refund in full
// succeeded.
func TestReversalSurvivesACrashBetweenTheRefusedCancelAndTheRefund(t *testing.T) {
	f, cs := newCrashingFixture(t)
	id := f.unknownPayment(t, 800)
	cancels := 0
	f.partner.cancel = func(contracts.PaymentRef) contracts.CancelResult {
		cancels++
		if cancels == 2 { // the reversal's cancel: die between recording it and the refund
			cs.crashIn.Store(2)
		}
		return contracts.CancelResult{Outcome: contracts.OutcomeWindowPassed, PartnerCode: "ORDER_NOT_REVERSIBLE"}
	}
	f.clock.Advance(hub.DefaultResolverConfig.FenceAfter)
	f.resolve(t) // query unknown, fence refused past the cutoff: reversal requested
	f.partner.get = answer(contracts.OutcomeSucceeded)
	f.clock.Advance(hub.DefaultResolverConfig.MaxBackoff)
	f.resolve(t) // settled succeeded; the reversal's refund dies with payhub
	if p := f.payment(t, id); p.Status != contracts.StatusSucceeded || !p.CancelRequested || p.AmountRefunded != 0 {
		t.Fatalf("after the crash: %s cancel_requested=%v refunded %d", p.Status, p.CancelRequested, p.AmountRefunded)
	}
	f.clock.Advance(hub.DefaultResolverConfig.MaxBackoff)
	f.resolve(t)
	p := f.payment(t, id)
	refunds, _ := f.store.ListRefunds(context.Background(), id)
	if p.AmountRefunded != 800 || !p.CancelRequested || len(refunds) != 1 || refunds[0].Reason != "unknown_outcome_reversed" || f.partner.count("refund") != 1 {
		t.Fatalf("after recovery: refunded %d cancel_requested=%v refunds %+v partner refunds %d",
			p.AmountRefunded, p.CancelRequested, refunds, f.partner.count("refund"))
	}
}
