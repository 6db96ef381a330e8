package adaptertest

import (
	"slices"
	"testing"

	"payhub/contracts"
)

// allFlows are the flows the suite knows.
var allFlows = []contracts.Flow{contracts.FlowBarcode, contracts.FlowLinked, contracts.FlowQR, contracts.FlowRedirect, contracts.FlowCardPresent}

// harnessFlows are the flows the harness can exercise.
func (s *suite) harnessFlows() map[contracts.Flow]bool {
	return map[contracts.Flow]bool{
		contracts.FlowBarcode: s.h.Barcode != nil, contracts.FlowLinked: s.h.LinkedUser != nil,
		contracts.FlowQR: s.h.CustomerPaysQR != nil, contracts.FlowRedirect: s.h.CustomerReturns != nil,
		contracts.FlowCardPresent: s.h.PresentedCard != nil,
	}
}

// testCapabilities checks the partner's declaration against its simulator: the declared
// flows are the ones the harness exercises (so every declared flow is tested, and no flow
// the engine would refuse is), the simulator takes a payment of one step and one at the
// cap, and a currency the partner does not declare is refused.
func (s *suite) testCapabilities(t *testing.T) {
	c := s.caps
	t.Run("Flows", func(t *testing.T) {
		for _, f := range allFlows {
			switch declared, exercised := c.Supports(f), s.harnessFlows()[f]; {
			case declared && !exercised:
				t.Errorf("the partner declares flow %s, which the harness cannot exercise", f)
			case !declared && exercised:
				t.Errorf("the harness exercises flow %s, which the partner does not declare (the engine would never send it)", f)
			}
		}
		if c.CardToken != (s.h.CardToken != nil) {
			t.Errorf("the partner declares CardToken %v, the harness CardToken func is set: %v", c.CardToken, s.h.CardToken != nil)
		}
	})
	t.Run("SmallestAndCap", func(t *testing.T) {
		for _, amount := range []int64{s.h.AmountStep, c.MaxAmount[s.h.Currency]} {
			req, skip := s.probe(t, contracts.Money{Amount: amount, Currency: s.h.Currency})
			if skip != "" {
				t.Skip(skip)
			}
			switch res := s.h.Partner.CreatePayment(s.ctx(t), req); res.Outcome {
			case contracts.OutcomeSucceeded, contracts.OutcomeAuthorized, contracts.OutcomePending:
			default:
				t.Errorf("a %s payment of %s, which the partner declares it takes: outcome %q (code %q, failure %q: %s)",
					req.Flow, req.Amount, res.Outcome, res.PartnerCode, res.FailureCode, res.FailureMessage)
			}
		}
	})
	t.Run("UndeclaredCurrency", func(t *testing.T) {
		// The first of these the partner does not declare: for PayPay and a LINE Pay
		// channel one the wire format carries, so the simulator refuses it (the card
		// adapter refuses any but yen itself: GMO's Amount has no currency).
		candidates := []contracts.Currency{contracts.THB, contracts.TWD, contracts.JPY, "USD"}
		other := candidates[slices.IndexFunc(candidates, func(cur contracts.Currency) bool { return !c.Takes(cur) })]
		// 100.00 in a two-decimal currency, ¥10,000: whole units in either.
		req, skip := s.probe(t, contracts.Money{Amount: 10_000, Currency: other})
		if skip != "" {
			t.Skip(skip)
		}
		res := s.h.Partner.CreatePayment(s.ctx(t), req)
		if res.Outcome != contracts.OutcomeFailed {
			t.Fatalf("a %s payment in %s, which the partner does not declare: outcome %q, want failed (code %q: %s)",
				req.Flow, other, res.Outcome, res.PartnerCode, res.FailureMessage)
		}
		t.Logf("%s refused (partner code %q): %s", other, res.PartnerCode, res.FailureMessage)
	})
}

// probe is a payment request for amount in a declared flow that starts without moving the
// customer's money where the partner has one (QR, redirect), else in a direct flow with a
// payable customer; skip says why none can be built.
func (s *suite) probe(t *testing.T, amount contracts.Money) (req contracts.PaymentRequest, skip string) {
	flows := s.harnessFlows()
	switch {
	case flows[contracts.FlowQR]:
		req = s.request(contracts.FlowQR)
	case flows[contracts.FlowRedirect]:
		var ok bool
		if req, ok = s.redirectRequest(t, OK, contracts.CaptureAutomatic); !ok {
			return req, "harness has no payable card token"
		}
	case flows[contracts.FlowBarcode]:
		req = s.request(contracts.FlowBarcode)
		if req.Barcode = s.h.Barcode(t, OK); req.Barcode == "" {
			return req, "harness has no payable barcode"
		}
	case flows[contracts.FlowCardPresent]:
		req = s.request(contracts.FlowCardPresent)
		if req.Card = s.h.PresentedCard(OK); req.Card == nil {
			return req, "harness has no payable card"
		}
	case flows[contracts.FlowLinked]:
		req = s.request(contracts.FlowLinked)
		if req.UserAuthorizationID = s.h.LinkedUser(OK); req.UserAuthorizationID == "" {
			return req, "harness has no payable linked user"
		}
	default:
		return req, "partner has no flow the suite can exercise"
	}
	req.Amount = amount
	return req, ""
}
