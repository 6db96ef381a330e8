package adaptertest

import (
	"strings"
	"testing"

	"payhub/contracts"
)

// testCardPresent pays with a card the till's reader read, and checks the declines the
// harness can produce, like testBarcode.
func (s *suite) testCardPresent(t *testing.T) {
	if s.h.PresentedCard == nil {
		t.Skip("partner has no card_present flow")
	}
	t.Run(OK, func(t *testing.T) {
		req := s.request(contracts.FlowCardPresent)
		if req.Card = s.h.PresentedCard(OK); req.Card == nil {
			t.Skip("harness has no payable card")
		}
		res := s.create(t, req, contracts.OutcomeSucceeded)
		if res.PartnerPaymentID == "" {
			t.Error("succeeded payment has no PartnerPaymentID")
		}
		if res.AmountReceived != 0 {
			t.Errorf("a payment of %s taken in full reports AmountReceived %d", req.Amount, res.AmountReceived)
		}
		s.get(t, ref(req, res, contracts.StatusSucceeded), contracts.OutcomeSucceeded)
	})
	cards := map[string]*contracts.PresentedCard{}
	s.declineCases(t, []string{InsufficientFunds, UserNotActive, Expired, BarcodeInvalid},
		func(o string) string {
			c := s.h.PresentedCard(o)
			if c == nil {
				return ""
			}
			cards[o] = c
			return o
		},
		func(t *testing.T, situation, failure string) {
			req := s.request(contracts.FlowCardPresent)
			req.Card = cards[situation]
			res := s.create(t, req, contracts.OutcomeFailed)
			if res.FailureCode != failure {
				t.Errorf("FailureCode %q, want %q (%s)", res.FailureCode, failure, res.FailureMessage)
			}
			for _, secret := range []string{req.Card.Number, req.Card.IDm} {
				if containsCode(res, secret) {
					t.Error("result repeats the card's number or IDm")
				}
			}
		})
}

// testSplitTender pays more than a card holds with AllowPartial: the partner takes what
// the card holds (AmountReceived, less than asked), GetPayment agrees, and exactly that
// can be refunded.
func (s *suite) testSplitTender(t *testing.T) {
	if !s.h.SplitTender {
		t.Skip("partner has no split tender")
	}
	var req contracts.PaymentRequest
	switch {
	case s.h.PresentedCard != nil:
		req = s.request(contracts.FlowCardPresent)
		req.Card = s.h.PresentedCard(InsufficientFunds)
		if req.Card == nil {
			t.Skip("harness has no card with too little value")
		}
	case s.h.Barcode != nil:
		req = s.request(contracts.FlowBarcode)
		if req.Barcode = s.h.Barcode(t, InsufficientFunds); req.Barcode == "" {
			t.Skip("harness has no barcode with too little value")
		}
	default:
		t.Fatal("Harness.SplitTender needs PresentedCard or Barcode")
	}
	req.AllowPartial = true
	res := s.create(t, req, contracts.OutcomeSucceeded)
	got := res.AmountReceived
	if got <= 0 || got >= req.Amount.Amount {
		t.Fatalf("split tender of %s: AmountReceived %d, want more than 0 and less than asked", req.Amount, got)
	}
	if res.AmountCaptured != 0 && res.AmountCaptured != got {
		t.Errorf("AmountCaptured %d, AmountReceived %d", res.AmountCaptured, got)
	}
	p := ref(req, res, contracts.StatusSucceeded)
	if again := s.get(t, p, contracts.OutcomeSucceeded); again.AmountReceived != got {
		t.Errorf("GetPayment says AmountReceived %d, CreatePayment said %d", again.AmountReceived, got)
	}
	// Exactly what was taken is refundable: one step more is refused, all of it accepted.
	over := s.refund(t, s.refundOf(p, got+s.h.AmountStep), contracts.OutcomeFailed)
	if strings.TrimSpace(over.FailureMessage) == "" {
		t.Error("over-refund failed without a FailureMessage")
	}
	s.refund(t, s.refundOf(p, got), contracts.OutcomeSucceeded)
}
