package hub_test

import (
	"context"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/hub"
)

// A payment the partner counted as a sale without confirming it (nanaco's
// PENDING_CONFIRMATION) is succeeded and takes no refund; the resolver asks until the
// partner confirms it (an ordinary success, off the resolver's queue) or reverses it (the
// payment fails, with its event, and took nothing).
func TestProvisionalPaymentIsConfirmedOrReversed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		later contracts.PaymentResult
		want  contracts.Status
	}{
		{"confirmed", contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}, contracts.StatusSucceeded},
		{"reversed", contracts.PaymentResult{Outcome: contracts.OutcomeFailed, FailureCode: "chip_write_failed"}, contracts.StatusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := capsFixture(t, testCaps())
			f.partner.create = func(r contracts.PaymentRequest) contracts.PaymentResult {
				return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, Provisional: true, PartnerPaymentID: "NC1"}
			}
			r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), testPayment(300, contracts.JPY))
			if err != nil || decode(t, r)["status"] != "succeeded" {
				t.Fatalf("create: %v %s", err, r.Body)
			}
			id := decode(t, r)["id"].(string)
			if p := f.payment(t, id); !p.Provisional {
				t.Fatal("not recorded as provisional")
			}
			r, err = f.hub.CreateRefund(context.Background(), f.caller, idem("r"), id, hub.CreateRefund{})
			if ref := refusalOf(t, r, err); ref.code != "invalid_state" {
				t.Errorf("a refund of a provisional payment: %+v", ref)
			}
			// Still pending confirmation at the first look: asked again later.
			f.partner.get = func(contracts.PaymentRef) contracts.PaymentResult {
				return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, Provisional: true}
			}
			f.resolve(t)
			if p := f.payment(t, id); !p.Provisional || p.Status != contracts.StatusSucceeded || p.Resolution.NextAt == nil {
				t.Fatalf("still provisional: %+v", p)
			}
			f.partner.get = func(contracts.PaymentRef) contracts.PaymentResult { return tc.later }
			f.clock.Advance(time.Hour)
			f.resolve(t)
			p := f.payment(t, id)
			if p.Status != tc.want || p.Provisional {
				t.Fatalf("after the partner's word: %s, provisional %v", p.Status, p.Provisional)
			}
			evs, err := f.store.ListEvents(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			failedEvents := 0
			for _, e := range evs {
				if e.Type == contracts.EventPaymentFailed {
					failedEvents++
				}
			}
			if want := map[contracts.Status]int{contracts.StatusFailed: 1}[tc.want]; failedEvents != want {
				t.Errorf("%d payment.failed events, want %d", failedEvents, want)
			}
			if tc.want == contracts.StatusFailed && (p.AmountCaptured != 0 || p.FailureCode != "chip_write_failed") {
				t.Errorf("reversed payment: captured %d, failure %q", p.AmountCaptured, p.FailureCode)
			}
			f.clock.Advance(time.Hour)
			before := f.partner.count("get")
			f.resolve(t)
			if f.partner.count("get") != before {
				t.Error("a settled payment is still asked about")
			}
			if tc.want == contracts.StatusSucceeded {
				if _, err := f.hub.CreateRefund(context.Background(), f.caller, idem("r2"), id, hub.CreateRefund{}); err != nil {
					t.Errorf("a refund after confirmation: %v", err)
				}
			}
		})
	}
}
