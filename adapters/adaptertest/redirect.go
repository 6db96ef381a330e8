package adaptertest

import (
	"testing"

	"payhub/contracts"
)

// redirectRequest is a FlowRedirect payment request, paid with a card token in situation
// when the partner takes card tokens.
func (s *suite) redirectRequest(t *testing.T, situation string, capture contracts.CaptureMethod) (contracts.PaymentRequest, bool) {
	req := s.request(contracts.FlowRedirect)
	req.CaptureMethod = capture
	if s.h.CardToken != nil {
		if req.CardToken = s.h.CardToken(t, situation); req.CardToken == "" {
			return req, false
		}
	}
	return req, true
}

// want is the outcome a completed payment of capture method c has.
func want(c contracts.CaptureMethod) contracts.Outcome {
	if c == contracts.CaptureManual {
		return contracts.OutcomeAuthorized
	}
	return contracts.OutcomeSucceeded
}

// completeRedirect plays the customer on the partner's page (approving or not) and hands
// what the browser brings back to the adapter's CompleteReturn.
func (s *suite) completeRedirect(t *testing.T, req contracts.PaymentRequest, res contracts.PaymentResult, approve bool) contracts.PaymentResult {
	t.Helper()
	na := res.NextAction
	if na == nil || na.Type != contracts.NextActionRedirect || na.RedirectURL == "" {
		t.Fatalf("pending redirect payment has next action %+v, want redirect with a URL", na)
	}
	handler, ok := s.h.Partner.(contracts.ReturnHandler)
	if !ok {
		t.Fatal("partner has a redirect flow but does not implement contracts.ReturnHandler")
	}
	pending := ref(req, res, contracts.StatusRequiresAction)
	query := s.h.CustomerReturns(t, res, pending, approve)
	return handler.CompleteReturn(s.ctx(t), pending, query)
}

// paidByRedirect makes a completed redirect payment (approving any challenge).
func (s *suite) paidByRedirect(t *testing.T, capture contracts.CaptureMethod) (contracts.PaymentRequest, contracts.PaymentResult) {
	t.Helper()
	req, ok := s.redirectRequest(t, OK, capture)
	if !ok {
		t.Skip("harness has no payable card token")
	}
	res := s.h.Partner.CreatePayment(s.ctx(t), req)
	if res.Outcome == contracts.OutcomePending {
		res = s.completeRedirect(t, req, res, true)
	}
	if res.Outcome != want(capture) {
		t.Fatalf("redirect payment outcome %q, want %q (code %q: %s)", res.Outcome, want(capture), res.PartnerCode, res.FailureMessage)
	}
	return req, res
}

func (s *suite) testRedirect(t *testing.T) {
	if s.h.CustomerReturns == nil {
		t.Skip("partner has no redirect flow")
	}
	t.Run("Approved", func(t *testing.T) {
		req, ok := s.redirectRequest(t, Challenge, contracts.CaptureAutomatic)
		if !ok {
			t.Skip("harness has no token that asks for a challenge")
		}
		res := s.create(t, req, contracts.OutcomePending)
		if res.PartnerSecret == "" && s.h.CardToken != nil {
			t.Log("partner hands out no per-payment credential")
		}
		done := s.completeRedirect(t, req, res, true)
		if done.Outcome != contracts.OutcomeSucceeded {
			t.Fatalf("after approval: outcome %q (code %q: %s)", done.Outcome, done.PartnerCode, done.FailureMessage)
		}
		r := ref(req, done, contracts.StatusSucceeded)
		if done.PartnerSecret == "" {
			r.PartnerSecret = res.PartnerSecret
		}
		s.get(t, r, contracts.OutcomeSucceeded)
		// The browser coming back twice moves no money twice.
		again := s.h.Partner.(contracts.ReturnHandler).CompleteReturn(s.ctx(t), r, nil)
		if again.Outcome != contracts.OutcomeSucceeded {
			t.Errorf("second return outcome %q", again.Outcome)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		req, ok := s.redirectRequest(t, Challenge, contracts.CaptureAutomatic)
		if !ok {
			t.Skip("harness has no token that asks for a challenge")
		}
		res := s.create(t, req, contracts.OutcomePending)
		done := s.completeRedirect(t, req, res, false)
		switch done.Outcome {
		case contracts.OutcomeSucceeded, contracts.OutcomeAuthorized, contracts.OutcomeUnknown:
			t.Fatalf("after the customer refused: outcome %q (%s)", done.Outcome, done.FailureMessage)
		case contracts.OutcomeFailed:
			if s.h.CardToken != nil && done.FailureCode != contracts.FailureAuthenticationFailed {
				t.Errorf("FailureCode %q, want %q", done.FailureCode, contracts.FailureAuthenticationFailed)
			}
		}
	})
	if s.h.CardToken == nil {
		return
	}
	s.declineCases(t, []string{InsufficientFunds, CardDeclined, TokenInvalid},
		func(o string) string { return s.h.CardToken(t, o) },
		func(t *testing.T, token, failure string) {
			req := s.request(contracts.FlowRedirect)
			req.CardToken = token
			res := s.h.Partner.CreatePayment(s.ctx(t), req)
			if res.Outcome == contracts.OutcomePending {
				// Some issuers authenticate first and decline after.
				res = s.completeRedirect(t, req, res, true)
			}
			if res.Outcome != contracts.OutcomeFailed || res.FailureCode != failure {
				t.Fatalf("outcome %q code %q, want failed %q (%s)", res.Outcome, res.FailureCode, failure, res.FailureMessage)
			}
			if len(token) >= 8 && (containsCode(res, token) || res.PartnerSecret == token) {
				t.Error("result repeats the card token")
			}
		})
}
