package app

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"payhub/adapters/paypay"
	"payhub/contracts"
	simpaypay "payhub/mocks/paypay"
	"payhub/mocks/sim"
)

// TestPayPayAccountLinkAndCashbackAgainstSimulator drives the PayPay adapter's
// AccountLinking and Cashbacks over HTTP against the simulator (docs/partners/paypay.md
// §4.8 to §4.10): link → approve → verify the token → pay with the new user → cashback
// (with a commit-then-drop fault settled by GetCashback) → reversal → unlink → refused.
func TestPayPayAccountLinkAndCashbackAgainstSimulator(t *testing.T) {
	ctx := context.Background()
	clock := sim.NewManualClock(time.Date(2026, 3, 2, 11, 0, 0, 0, contracts.JST))
	faults := sim.NewFaults(1)
	s := simpaypay.New(simpaypay.Config{
		APIKey: "link-key", APISecret: "bGluay1zZWNyZXQtZm9yLXRlc3Rz", MerchantID: "link-merchant",
		Clock: clock, Faults: faults,
	})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	a, err := paypay.New(paypay.Config{
		BaseURL: srv.URL, APIKey: "link-key", APISecret: "bGluay1zZWNyZXQtZm9yLXRlc3Rz", MerchantID: "link-merchant",
		Now: clock.Now, Timeouts: paypay.Timeouts{ValueMoving: 5 * time.Second, Read: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}

	// Link.
	session, err := a.CreateLinkSession(ctx, contracts.LinkSessionRequest{
		Scopes: []string{"direct_debit", "cashback"}, Nonce: "nonce-1", ReferenceID: "la_1",
		RedirectURL: "https://payhub.example/v1/linked-accounts/return",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateLinkSession(ctx, contracts.LinkSessionRequest{
		Scopes: []string{"everything"}, Nonce: "n", ReferenceID: "r", RedirectURL: "https://payhub.example/r",
	}); err == nil {
		t.Fatal("an unknown scope was accepted")
	}
	approval, err := s.ApproveLink(session.URL)
	if err != nil {
		t.Fatal(err)
	}
	back, err := url.Parse(approval.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.VerifyLinkResponse(back.Query().Get("responseToken"), clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Result != contracts.LinkResultSucceeded || resp.Nonce != "nonce-1" || resp.ReferenceID != "la_1" ||
		resp.UserAuthorizationID == "" || resp.UserAuthorizationID != approval.UserAuthorizationID {
		t.Fatalf("link response %+v", resp)
	}
	user := resp.UserAuthorizationID
	if _, err := a.VerifyLinkResponse(approval.ResponseToken, clock.Now().Add(simpaypay.DefaultLinkTokenLifetime)); !errors.Is(err, contracts.ErrLinkTokenInvalid) {
		t.Fatalf("expired token: %v", err)
	}
	other, _ := paypay.New(paypay.Config{BaseURL: srv.URL, APIKey: "link-key", APISecret: "bGluay1zZWNyZXQtZm9yLXRlc3Rz", MerchantID: "another-merchant"})
	if _, err := other.VerifyLinkResponse(approval.ResponseToken, clock.Now()); !errors.Is(err, contracts.ErrLinkTokenInvalid) {
		t.Fatalf("token for another merchant: %v", err)
	}
	declineSession, _ := a.CreateLinkSession(ctx, contracts.LinkSessionRequest{
		Scopes: []string{"cashback"}, Nonce: "nonce-2", ReferenceID: "la_2", RedirectURL: "https://payhub.example/r",
	})
	declined, err := s.DeclineLink(declineSession.URL)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := a.VerifyLinkResponse(declined.ResponseToken, clock.Now()); err != nil || r.Result != contracts.LinkResultDeclined || r.UserAuthorizationID != "" {
		t.Fatalf("declined: %+v %v", r, err)
	}

	st, err := a.UserAuthorization(ctx, user)
	if err != nil || !st.Active || len(st.Scopes) != 2 {
		t.Fatalf("authorization %+v %v", st, err)
	}

	// The new user pays like user-ok.
	pay := a.CreatePayment(ctx, contracts.PaymentRequest{
		PartnerRef: "pay_link_1", Amount: contracts.Money{Amount: 1200, Currency: contracts.JPY}, Flow: contracts.FlowLinked,
		UserAuthorizationID: user, RequestedAt: clock.Now(),
	})
	if pay.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("payment with the linked user: %+v", pay)
	}

	// Cashback, answer lost after commit: unknown, then GetCashback settles it.
	if err := faults.Set([]sim.FaultRule{{Method: "POST", PathPrefix: "/v2/cashback", Probability: 1, Count: 1,
		Fault: sim.Fault{Kind: sim.FaultCommitThenDrop}}}); err != nil {
		t.Fatal(err)
	}
	give := contracts.CashbackRequest{
		MerchantCashbackID: "cb_1", UserAuthorizationID: user, Amount: contracts.Money{Amount: 3000, Currency: contracts.JPY},
		Description: "wallet migration",
	}
	if res := a.GiveCashback(ctx, give); res.Outcome != contracts.OutcomeUnknown {
		t.Fatalf("commit then drop: %+v", res)
	}
	if res := a.GetCashback(ctx, "cb_1"); res.Outcome != contracts.OutcomeSucceeded || res.Amount.Amount != 3000 {
		t.Fatalf("inquiry after the lost answer: %+v", res)
	}
	clock.Advance(time.Second)
	if res := a.GiveCashback(ctx, give); res.Outcome != contracts.OutcomePending {
		t.Fatalf("resent give: %+v", res)
	}
	changed := give
	changed.Amount.Amount = 3100
	if res := a.GiveCashback(ctx, changed); res.Outcome != contracts.OutcomeFailed {
		t.Fatalf("same id, other amount: %+v", res)
	}
	if res := a.GetCashback(ctx, "cb_none"); res.Outcome != contracts.OutcomeNotFound {
		t.Fatalf("unknown cashback: %+v", res)
	}

	// Reversal.
	rev := contracts.CashbackReversalRequest{MerchantCashbackReversalID: "cbr_1", MerchantCashbackID: "cb_1",
		Amount: contracts.Money{Amount: 1000, Currency: contracts.JPY}, Reason: "correction"}
	if res := a.ReverseCashback(ctx, rev); res.Outcome != contracts.OutcomePending {
		t.Fatalf("reverse: %+v", res)
	}
	if res := a.GetCashbackReversal(ctx, "cbr_1", "cb_1"); res.Outcome != contracts.OutcomeSucceeded || res.Amount.Amount != 1000 {
		t.Fatalf("reversal: %+v", res)
	}
	too := rev
	too.MerchantCashbackReversalID, too.Amount.Amount = "cbr_2", 2001
	if res := a.ReverseCashback(ctx, too); res.Outcome != contracts.OutcomeFailed {
		t.Fatalf("over-reversal: %+v", res)
	}
	if acct := s.CashbackAccount(user); acct.Received != 3000 || acct.Reversed != 1000 || acct.Balance != 2000 {
		t.Fatalf("ledger %+v", acct)
	}

	// 503 on a give is unknown and moves nothing.
	if err := faults.Set([]sim.FaultRule{{Method: "POST", PathPrefix: "/v2/cashback", Probability: 1, Count: 1,
		Fault: sim.Fault{Kind: sim.FaultError, Status: 503}}}); err != nil {
		t.Fatal(err)
	}
	if res := a.GiveCashback(ctx, contracts.CashbackRequest{MerchantCashbackID: "cb_2", UserAuthorizationID: user,
		Amount: contracts.Money{Amount: 10, Currency: contracts.JPY}}); res.Outcome != contracts.OutcomeUnknown {
		t.Fatalf("503: %+v", res)
	}
	if res := a.GetCashback(ctx, "cb_2"); res.Outcome != contracts.OutcomeNotFound {
		t.Fatalf("after a 503: %+v", res)
	}

	// Unlink: the user can no longer pay or receive cashback.
	if err := a.Unlink(ctx, user); err != nil {
		t.Fatal(err)
	}
	if st, err := a.UserAuthorization(ctx, user); err != nil || st.Active {
		t.Fatalf("after unlink: %+v %v", st, err)
	}
	pay = a.CreatePayment(ctx, contracts.PaymentRequest{
		PartnerRef: "pay_link_2", Amount: contracts.Money{Amount: 700, Currency: contracts.JPY}, Flow: contracts.FlowLinked,
		UserAuthorizationID: user, RequestedAt: clock.Now(),
	})
	if pay.Outcome != contracts.OutcomeFailed {
		t.Fatalf("payment after unlink: %+v", pay)
	}
	if res := a.GiveCashback(ctx, contracts.CashbackRequest{MerchantCashbackID: "cb_3", UserAuthorizationID: user,
		Amount: contracts.Money{Amount: 10, Currency: contracts.JPY}}); res.Outcome != contracts.OutcomeFailed {
		t.Fatalf("cashback after unlink: %+v", res)
	}
}
