package app

import (
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"payhub/adapters/adaptertest"
	"payhub/adapters/gmopg"
	"payhub/contracts"
	"payhub/internal/ids"
	gmopgsim "payhub/mocks/gmopg"
	"payhub/mocks/sim"
)

// TestCardAdapterConformance runs the adapter conformance suite against the GMO-PG
// simulator over HTTP: card tokens through EntryTran/ExecTran with 3-D Secure 2 (every
// payment passes the issuer's page; the challenge is approved or refused), manual capture,
// cancels, partial and full refunds.
func TestCardAdapterConformance(t *testing.T) {
	clock := sim.NewManualClock(time.Date(2026, 3, 2, 11, 0, 0, 0, contracts.JST))
	const shopID, shopPass = "tshop00000042", "conf-pass"
	s := gmopgsim.New(gmopgsim.Config{ShopID: shopID, ShopPass: shopPass, Clock: clock})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	adapter, err := gmopg.New(gmopg.Config{BaseURL: srv.URL, ShopID: shopID, ShopPass: shopPass, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	gen := ids.New(clock)
	adaptertest.Run(t, adaptertest.Harness{
		Partner:  adapter,
		Currency: contracts.JPY,
		CardToken: func(t *testing.T, situation string) string {
			switch situation {
			case adaptertest.OK:
				return s.IssueToken("success")
			case adaptertest.Challenge:
				return s.IssueToken("3ds_challenge")
			case adaptertest.InsufficientFunds:
				return s.IssueToken("decline_g02")
			case adaptertest.CardDeclined:
				return s.IssueToken("decline_g12")
			case adaptertest.TokenInvalid:
				return gmopgsim.TokenUsed
			}
			return ""
		},
		CustomerReturns: func(t *testing.T, res contracts.PaymentResult, _ contracts.PaymentRef, approve bool) url.Values {
			return gmopgCustomer(t, s, res, approve)
		},
		ManualCapture: true,
		NewRef:        func() string { return gen.New(contracts.PrefixPayment) + "_1" },
		Now:           clock.Now,
	})
}

// gmopgCustomer plays the customer's browser on GMO's 3-D Secure page of the payment res
// redirected to: approving or refusing a challenge (a frictionless one needs nothing), then
// posting back what the page posts to RetUrl.
func gmopgCustomer(t *testing.T, s *gmopgsim.Simulator, res contracts.PaymentResult, approve bool) url.Values {
	t.Helper()
	u, err := url.Parse(res.NextAction.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	transID := u.Query().Get("transId")
	ch, ok := s.Challenge(transID)
	if !ok {
		t.Fatalf("no 3-D Secure flow behind %s", res.NextAction.RedirectURL)
	}
	if ch.State == "pending" {
		act := s.ApproveChallenge
		if !approve {
			act = s.RejectChallenge
		}
		if _, err := act(transID); err != nil {
			t.Fatalf("customer on the issuer's page: %v", err)
		}
		ch, _ = s.Challenge(transID)
	}
	form := url.Values{}
	for k, v := range ch.Form {
		form.Set(k, v)
	}
	return form
}
