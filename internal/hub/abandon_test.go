package hub_test

import (
	"context"
	"sync"
	"testing"

	"payhub/contracts"
	"payhub/internal/hub"
)

// windowPassed answers every cancel as a partner without a cancel of a captured payment
// (LINE Pay) does.
func windowPassed(contracts.PaymentRef) contracts.CancelResult {
	return contracts.CancelResult{Outcome: contracts.OutcomeWindowPassed}
}

// abandonInFlight starts a payment whose partner call waits, abandons it with a cancel
// while it is processing (202), then lets the partner answer res; it returns the payment id.
func abandonInFlight(t *testing.T, f *fixture, res contracts.PaymentResult) string {
	t.Helper()
	entered, release := make(chan struct{}), make(chan struct{})
	f.partner.create = func(contracts.PaymentRequest) contracts.PaymentResult {
		close(entered)
		<-release
		return res
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := f.hub.CreatePayment(context.Background(), f.caller, idem("pay"), payment(900)); err != nil {
			t.Error(err)
		}
	})
	<-entered
	waiting, _ := f.store.ListPaymentsByStatus(context.Background(), contracts.StatusProcessing, 1)
	c, err := f.hub.CancelPayment(context.Background(), f.caller, idem("cancel"), waiting[0].ID, "")
	if err != nil || c.Kind != contracts.AnswerAccepted || decode(t, c)["cancel_requested"] != true {
		t.Fatalf("abandon: %v %s %s", err, c.Kind, c.Body)
	}
	close(release)
	wg.Wait()
	return waiting[0].ID
}

// reversedByRefund checks that payment id ended succeeded and refunded in full by payhub,
// the cancel request still recorded, and that the partner refunded it exactly once.
func reversedByRefund(t *testing.T, f *fixture, id string) {
	t.Helper()
	p := f.payment(t, id)
	refunds, _ := f.store.ListRefunds(context.Background(), id)
	if p.Status != contracts.StatusSucceeded || p.AmountRefunded != p.AmountCaptured || p.AmountCaptured != 900 ||
		!p.CancelRequested || len(refunds) != 1 || refunds[0].Status != contracts.RefundSucceeded || f.partner.count("refund") != 1 {
		t.Fatalf("payment %s captured %d refunded %d cancel_requested %v; refunds %+v; partner refunds %d",
			p.Status, p.AmountCaptured, p.AmountRefunded, p.CancelRequested, refunds, f.partner.count("refund"))
	}
	events, _ := f.store.ListEvents(context.Background(), id)
	for _, e := range events {
		if e.Type == contracts.EventPaymentCancelRefused {
			t.Fatalf("the cancel request was dropped: %v", e.Type)
		}
	}
}

// The LINE Pay case: a till abandons a payment in flight; the partner then takes
// the money and has no cancel for a captured payment. payhub refunds it in full at once.
func TestAbandonedPaymentThePartnerCannotCancelIsRefunded(t *testing.T) {
	f := newFixture(t)
	f.partner.cancel = windowPassed
	id := abandonInFlight(t, f, contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded})
	reversedByRefund(t, f, id)
	if n := f.resolve(t); n != 0 || f.partner.count("refund") != 1 {
		t.Fatalf("resolver found %d more to do; partner refunds %d", n, f.partner.count("refund"))
	}
}

// A partner that refuses the cancel outright (not only past a window) is refunded too.
func TestAbandonedPaymentWhoseCancelIsRefusedIsRefunded(t *testing.T) {
	f := newFixture(t)
	f.partner.cancel = func(contracts.PaymentRef) contracts.CancelResult {
		return contracts.CancelResult{Outcome: contracts.OutcomeFailed, PartnerCode: "NOT_CANCELABLE"}
	}
	id := abandonInFlight(t, f, contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded})
	reversedByRefund(t, f, id)
}

// A reversal refund the partner refuses leaves the cancel request standing: the resolver
// refunds again after its backoff, until the partner takes it.
func TestAReversalRefundThePartnerRefusesIsRetried(t *testing.T) {
	f := newFixture(t)
	f.partner.cancel = windowPassed
	refusals := 1
	f.partner.refund = func(contracts.RefundRequest) contracts.RefundResult {
		if refusals > 0 {
			refusals--
			return contracts.RefundResult{Outcome: contracts.OutcomeFailed, FailureCode: "partner_rejected"}
		}
		return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded}
	}
	id := abandonInFlight(t, f, contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded})
	if p := f.payment(t, id); p.AmountRefunded != 0 || !p.CancelRequested || p.Resolution.NextAt == nil {
		t.Fatalf("after the refused refund: refunded %d cancel_requested %v next %v", p.AmountRefunded, p.CancelRequested, p.Resolution.NextAt)
	}
	f.resolve(t) // not due yet
	if f.partner.count("refund") != 1 {
		t.Fatalf("refunded again before the backoff: %d", f.partner.count("refund"))
	}
	f.clock.Advance(hub.DefaultResolverConfig.MaxBackoff)
	f.resolve(t)
	p := f.payment(t, id)
	refunds, _ := f.store.ListRefunds(context.Background(), id)
	if p.AmountRefunded != 900 || len(refunds) != 2 || refunds[0].Status != contracts.RefundFailed || refunds[1].Status != contracts.RefundSucceeded {
		t.Fatalf("refunded %d, refunds %+v", p.AmountRefunded, refunds)
	}
}

// A crash after the partner's answer was recorded and before the reversal was even begun
// loses nothing: the restarted resolver finds the standing request and refunds.
func TestAbandonedPaymentSurvivesACrashBeforeItsReversal(t *testing.T) {
	f, cs := newCrashingFixture(t)
	f.partner.cancel = windowPassed
	entered, release := make(chan struct{}), make(chan struct{})
	f.partner.create = func(contracts.PaymentRequest) contracts.PaymentResult {
		close(entered)
		<-release
		cs.crashIn.Store(2) // the outcome commits; payhub dies at the reversal's first write
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}
	}
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = f.hub.CreatePayment(context.Background(), f.caller, idem("pay"), payment(900)) })
	<-entered
	waiting, _ := f.store.ListPaymentsByStatus(context.Background(), contracts.StatusProcessing, 1)
	if c, _ := f.hub.CancelPayment(context.Background(), f.caller, idem("cancel"), waiting[0].ID, ""); c.Kind != contracts.AnswerAccepted {
		t.Fatalf("abandon: %s %s", c.Kind, c.Body)
	}
	close(release)
	wg.Wait()
	id := waiting[0].ID
	if p := f.payment(t, id); p.Status != contracts.StatusSucceeded || p.AmountRefunded != 0 || f.partner.count("cancel") != 0 {
		t.Fatalf("after the crash: %s refunded %d, partner cancels %d", p.Status, p.AmountRefunded, f.partner.count("cancel"))
	}
	f.clock.Advance(hub.DefaultResolverConfig.MaxBackoff) // past any backoff the dying instance wrote
	f.resolve(t)
	reversedByRefund(t, f, id)
}

// Abandoned while unknown: the resolver learns the payment went through and reverses it by
// refund when the partner takes no cancel.
func TestAbandonedUnknownPaymentIsRefunded(t *testing.T) {
	f := newFixture(t)
	f.partner.cancel = windowPassed
	id := f.unknownPayment(t, 900)
	if c, _ := f.hub.CancelPayment(context.Background(), f.caller, idem("cancel"), id, ""); c.Kind != contracts.AnswerAccepted {
		t.Fatalf("abandon: %s %s", c.Kind, c.Body)
	}
	f.partner.get = answer(contracts.OutcomeSucceeded)
	f.resolve(t)
	reversedByRefund(t, f, id)
}

// Abandoned, then canceled by the partner: the payment ends canceled, nothing refunded.
func TestAbandonedPaymentThePartnerCancelsEndsCanceled(t *testing.T) {
	f := newFixture(t)
	id := abandonInFlight(t, f, contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded})
	p := f.payment(t, id)
	if p.Status != contracts.StatusCanceled || p.CancellationReason != "abandoned_by_store" || f.partner.count("refund") != 0 {
		t.Fatalf("payment %s (%s), partner refunds %d", p.Status, p.CancellationReason, f.partner.count("refund"))
	}
	// The store's second cancel finds it canceled.
	again, err := f.hub.CancelPayment(context.Background(), f.caller, idem("cancel-2"), id, "")
	if err != nil || again.Kind != contracts.AnswerRefused {
		t.Fatalf("second cancel: %v %s %s", err, again.Kind, again.Body)
	}
}

// Abandoned, then authorized (a hold): the hold is voided, nothing captured or refunded.
func TestAbandonedAuthorizationIsVoided(t *testing.T) {
	f := newFixture(t)
	id := abandonInFlight(t, f, contracts.PaymentResult{Outcome: contracts.OutcomeAuthorized})
	p := f.payment(t, id)
	if p.Status != contracts.StatusCanceled || f.partner.count("cancel") != 1 || f.partner.count("refund") != 0 || f.partner.count("capture") != 0 {
		t.Fatalf("payment %s; partner cancels %d refunds %d captures %d", p.Status,
			f.partner.count("cancel"), f.partner.count("refund"), f.partner.count("capture"))
	}
}
