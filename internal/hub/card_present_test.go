package hub_test

import (
	"context"
	"testing"

	"payhub/contracts"
	"payhub/internal/hub"
)

// Flow card_present takes what the reader read, and only it does; a split tender is asked
// only of a partner that declares PartialDebit. A partner that debited less than asked
// leaves the payment succeeded with amount_captured and amount_received at what it took, and
// refunds stop there.
func TestCardPresentAndSplitTender(t *testing.T) {
	caps := testCaps()
	caps.Flows = append(caps.Flows, contracts.FlowCardPresent)
	card := &contracts.PresentedCard{Number: "7000000000000001"}
	present := func(amount int64) hub.CreatePayment {
		return hub.CreatePayment{Amount: contracts.Money{Amount: amount, Currency: contracts.JPY}, Method: testMethod,
			Flow: contracts.FlowCardPresent, Card: card, TerminalID: "till-1"}
	}
	for name, tc := range map[string]struct {
		caps func(*contracts.Capabilities)
		cmd  hub.CreatePayment
		want refusal
	}{
		"card_present without the card": {nil, func() hub.CreatePayment { c := present(300); c.Card = nil; return c }(),
			refusal{400, "invalid_request", "/presented_card", "presented_card is required for flow card_present and not allowed otherwise."}},
		"a card with another flow": {nil, func() hub.CreatePayment { c := testPayment(300, contracts.JPY); c.Card = card; return c }(),
			refusal{400, "invalid_request", "/presented_card", "presented_card is required for flow card_present and not allowed otherwise."}},
		"split tender undeclared": {nil, func() hub.CreatePayment { c := present(300); c.AllowPartial = true; return c }(),
			refusal{422, "method_not_supported", "/allow_partial", `Method "testpay" does not take a split tender (allow_partial).`}},
	} {
		t.Run(name, func(t *testing.T) {
			c := caps
			if tc.caps != nil {
				tc.caps(&c)
			}
			f := capsFixture(t, c)
			r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), tc.cmd)
			if got := refusalOf(t, r, err); got != tc.want {
				t.Errorf("refusal %+v, want %+v", got, tc.want)
			}
			if n := f.partner.count("create"); n != 0 {
				t.Errorf("the partner was called %d times", n)
			}
		})
	}

	caps.PartialDebit = true
	f := capsFixture(t, caps)
	var got contracts.PaymentRequest
	f.partner.create = func(r contracts.PaymentRequest) contracts.PaymentResult {
		got = r
		res := contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, PartnerPaymentID: "NC-" + r.PartnerRef}
		if r.AllowPartial { // the card holds ¥200
			res.AmountReceived = 200
		}
		return res
	}
	cmd := present(300)
	cmd.AllowPartial = true
	r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("split"), cmd)
	if err != nil {
		t.Fatal(err)
	}
	body := decode(t, r)
	if body["status"] != "succeeded" || body["amount"] != 300.0 || body["amount_captured"] != 200.0 || body["amount_received"] != 200.0 {
		t.Fatalf("split tender answered %s", r.Body)
	}
	if got.Card == nil || got.Card.Number != card.Number || !got.AllowPartial || got.Flow != contracts.FlowCardPresent {
		t.Errorf("the partner got %+v", got)
	}
	over := int64(250)
	r, err = f.hub.CreateRefund(context.Background(), f.caller, idem("r"), body["id"].(string), hub.CreateRefund{Amount: &over})
	if ref := refusalOf(t, r, err); ref.code != "refund_exceeds_captured" {
		t.Errorf("refund beyond what the split tender took: %+v", ref)
	}
	whole, err := f.hub.CreatePayment(context.Background(), f.caller, idem("whole"), present(150))
	if err != nil {
		t.Fatal(err)
	}
	if _, has := decode(t, whole)["amount_received"]; has {
		t.Errorf("a payment the partner took whole shows amount_received: %s", whole.Body)
	}
}
