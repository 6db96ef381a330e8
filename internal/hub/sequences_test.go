package hub_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/hub"
)

// A partner keyed by terminal, business date and sequence (contracts.Sequenced: nanaco)
// gets PartnerRefs the engine allocated per till and JST business date, recorded with the
// attempt before the call; refunds take the payment's till; a till out of numbers is
// refused with limit_exceeded before anything is written or sent; the next business date
// starts again at 1.
func TestSequencedPartnerRefs(t *testing.T) {
	caps := testCaps()
	caps.Sequenced = &contracts.Sequenced{MaxSeq: 3}
	f := capsFixture(t, caps) // 2026-11-28 03:00 UTC: 12:00 in Tokyo
	var (
		mu   sync.Mutex
		sent []string
	)
	f.partner.create = func(r contracts.PaymentRequest) contracts.PaymentResult {
		mu.Lock()
		sent = append(sent, r.PartnerRef)
		mu.Unlock()
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, PartnerPaymentID: "NC" + r.PartnerRef}
	}
	f.partner.refund = func(r contracts.RefundRequest) contracts.RefundResult {
		mu.Lock()
		sent = append(sent, r.PartnerRef)
		mu.Unlock()
		return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded, PartnerRefundID: "NC" + r.PartnerRef}
	}
	pay := func(till string) (hub.Response, error) {
		cmd := testPayment(300, contracts.JPY)
		cmd.TerminalID = till
		return f.hub.CreatePayment(context.Background(), f.caller, idem("p-"+till), cmd)
	}
	first, err := pay("till-1")
	if err != nil {
		t.Fatal(err)
	}
	firstID := decode(t, first)["id"].(string)
	if _, err := pay("till-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := pay("till-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.hub.CreateRefund(context.Background(), f.caller, idem("r"), firstID, hub.CreateRefund{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"store-1_till-1.20261128.000001", "store-1_till-1.20261128.000002", "store-1_till-2.20261128.000001",
		"store-1_till-1.20261128.000003"}
	if len(sent) != len(want) {
		t.Fatalf("sent %v, want %v", sent, want)
	}
	for i := range want {
		if sent[i] != want[i] {
			t.Errorf("call %d sent %s, want %s", i+1, sent[i], want[i])
		}
	}
	if atts := f.attempts(t, firstID, contracts.OpPay); len(atts) != 1 || atts[0].PartnerRef != want[0] {
		t.Errorf("the attempt records %+v, want the ref sent", atts)
	}

	r, err := pay("till-1")
	if got := refusalOf(t, r, err); got.status != 422 || got.code != "limit_exceeded" {
		t.Errorf("a till out of numbers: %+v, want 422 limit_exceeded", got)
	}
	if n := f.partner.count("create"); n != 3 {
		t.Errorf("the partner was called %d times for creates, want 3", n)
	}
	if ps, _ := f.store.ListPayments(context.Background(), contracts.PaymentFilter{StoreID: "store-1", Limit: 10}); len(ps) != 3 {
		t.Errorf("%d payments written, want 3", len(ps))
	}

	f.clock.Advance(12 * time.Hour) // 00:00 in Tokyo: the next business date
	if _, err := pay("till-1"); err != nil {
		t.Fatal(err)
	}
	if got := sent[len(sent)-1]; got != "store-1_till-1.20261129.000001" {
		t.Errorf("next business date sent %s", got)
	}
}
