package adaptertest

import (
	"testing"

	"payhub/contracts"
)

// testManualCapture checks authorize-then-capture and authorize-then-release.
func (s *suite) testManualCapture(t *testing.T) {
	if !s.h.ManualCapture {
		t.Skip("partner has no manual capture")
	}
	t.Run("AuthorizeBarcode", func(t *testing.T) { s.testAuthorize(t, contracts.FlowBarcode) })
	t.Run("AuthorizeLinked", func(t *testing.T) { s.testAuthorize(t, contracts.FlowLinked) })
	t.Run("AuthorizeQR", s.testAuthorizeQR)
	t.Run("PartialCapture", s.testPartialCapture)
	t.Run("FullCapture", s.testFullCapture)
	t.Run("CaptureTwice", s.testCaptureTwice)
	t.Run("Release", s.testRelease)
}

// authorizeRequest builds a manual-capture request in flow, or "" reasons why it cannot.
func (s *suite) authorizeRequest(t *testing.T, flow contracts.Flow) (contracts.PaymentRequest, string) {
	req := s.request(flow)
	req.CaptureMethod = contracts.CaptureManual
	switch flow {
	case contracts.FlowBarcode:
		if s.h.Barcode == nil {
			return req, "partner has no barcode flow"
		}
		if req.Barcode = s.h.Barcode(t, OK); req.Barcode == "" {
			return req, "harness has no payable barcode"
		}
	case contracts.FlowLinked:
		if s.h.LinkedUser == nil {
			return req, "partner has no linked-account flow"
		}
		if req.UserAuthorizationID = s.h.LinkedUser(OK); req.UserAuthorizationID == "" {
			return req, "harness has no payable linked user"
		}
	}
	return req, ""
}

func (s *suite) testAuthorize(t *testing.T, flow contracts.Flow) {
	req, skip := s.authorizeRequest(t, flow)
	if skip != "" {
		t.Skip(skip)
	}
	res := s.create(t, req, contracts.OutcomeAuthorized)
	if res.PartnerPaymentID == "" {
		t.Error("authorized payment has no PartnerPaymentID")
	}
	s.get(t, ref(req, res, contracts.StatusAuthorized), contracts.OutcomeAuthorized)
}

func (s *suite) testAuthorizeQR(t *testing.T) {
	if s.h.CustomerPaysQR == nil {
		t.Skip("partner has no QR flow")
	}
	req, _ := s.authorizeRequest(t, contracts.FlowQR)
	res := s.create(t, req, contracts.OutcomePending)
	pending := ref(req, res, contracts.StatusRequiresAction)
	s.h.CustomerPaysQR(t, res, pending)
	s.get(t, pending, contracts.OutcomeAuthorized)
}

// authorized makes an authorized payment through whichever direct flow the partner has
// (a card payment through its redirect flow).
func (s *suite) authorized(t *testing.T) contracts.PaymentRef {
	t.Helper()
	req, skip := s.authorizeRequest(t, contracts.FlowBarcode)
	if skip != "" {
		if req, skip = s.authorizeRequest(t, contracts.FlowLinked); skip != "" {
			if s.h.CardToken == nil {
				t.Skip("partner has no direct flow to authorize with")
			}
			req, res := s.paidByRedirect(t, contracts.CaptureManual)
			return ref(req, res, contracts.StatusAuthorized)
		}
	}
	return ref(req, s.create(t, req, contracts.OutcomeAuthorized), contracts.StatusAuthorized)
}

// captureOf builds a capture request for amount of the payment.
func (s *suite) captureOf(p contracts.PaymentRef, amount int64) contracts.CaptureRequest {
	return contracts.CaptureRequest{
		PartnerRef: s.h.NewRef(), Payment: p, Amount: contracts.Money{Amount: amount, Currency: p.Amount.Currency},
		Description: "conformance", RequestedAt: s.h.Now(),
	}
}

// capture calls CapturePayment and checks the outcome.
func (s *suite) capture(t *testing.T, req contracts.CaptureRequest, want contracts.Outcome) contracts.PaymentResult {
	t.Helper()
	res := s.h.Partner.CapturePayment(s.ctx(t), req)
	if res.Outcome != want {
		t.Fatalf("CapturePayment(%s) of %s outcome %q, want %q (code %q, failure %q: %s)",
			req.PartnerRef, req.Amount, res.Outcome, want, res.PartnerCode, res.FailureCode, res.FailureMessage)
	}
	return res
}

// captured checks that p is succeeded at the partner and holds exactly amount: a refund of
// one more is refused, a refund of all of it is accepted.
func (s *suite) captured(t *testing.T, p contracts.PaymentRef, amount int64) {
	t.Helper()
	p.Status = contracts.StatusSucceeded
	s.get(t, p, contracts.OutcomeSucceeded)
	s.refund(t, s.refundOf(p, amount+s.h.AmountStep), contracts.OutcomeFailed)
	s.refund(t, s.refundOf(p, amount), contracts.OutcomeSucceeded)
}

func (s *suite) testPartialCapture(t *testing.T) {
	p := s.authorized(t)
	part := s.part(p.Amount.Amount, 2, 3)
	res := s.capture(t, s.captureOf(p, part), contracts.OutcomeSucceeded)
	if res.FailureCode != "" {
		t.Errorf("succeeded capture has FailureCode %q", res.FailureCode)
	}
	s.captured(t, p, part)
}

func (s *suite) testFullCapture(t *testing.T) {
	p := s.authorized(t)
	s.capture(t, s.captureOf(p, p.Amount.Amount), contracts.OutcomeSucceeded)
	s.captured(t, p, p.Amount.Amount)
}

func (s *suite) testCaptureTwice(t *testing.T) {
	p := s.authorized(t)
	first := s.captureOf(p, s.part(p.Amount.Amount, 1, 2))
	s.capture(t, first, contracts.OutcomeSucceeded)
	// The engine repeats a capture whose outcome was unknown: the same id is the same capture.
	s.capture(t, first, contracts.OutcomeSucceeded)
	// A second capture under a new id takes nothing more. Its answer is not a plain
	// refusal: the money of this payment was taken (by the first capture), so the engine
	// must look before it believes the payment is still only authorized. A partner without
	// capture ids gets another amount, which no resend of the first could carry.
	second := s.captureOf(p, first.Amount.Amount)
	if !s.h.CaptureIDs {
		second.Amount.Amount += s.h.AmountStep
	}
	s.capture(t, second, contracts.OutcomeUnknown)
	s.captured(t, p, first.Amount.Amount)
}

func (s *suite) testRelease(t *testing.T) {
	p := s.authorized(t)
	if c := s.h.Partner.CancelPayment(s.ctx(t), p); c.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("CancelPayment of an authorization outcome %q, want succeeded (code %q: %s)", c.Outcome, c.PartnerCode, c.Message)
	}
	s.get(t, p, contracts.OutcomeCanceled)
	// The resolver repeats cancels until one is accepted.
	if c := s.h.Partner.CancelPayment(s.ctx(t), p); c.Outcome != contracts.OutcomeSucceeded {
		t.Errorf("repeated CancelPayment outcome %q, want succeeded (code %q: %s)", c.Outcome, c.PartnerCode, c.Message)
	}
	s.capture(t, s.captureOf(p, p.Amount.Amount), contracts.OutcomeFailed)
}
