package app

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"payhub/adapters/adaptertest"
	"payhub/adapters/linepay"
	"payhub/contracts"
	linepaysim "payhub/mocks/linepay"
	"payhub/mocks/sim"
)

// TestLinePayAdapterConformance runs the adapter conformance suite against the LINE Pay
// simulator over HTTP: in-store oneTimeKey payments (Offline v4), QR and redirect payments
// (Online v3), on a Taiwan channel (whole dollars, 18-digit My Codes) and a Thai one
// (whole baht until LINE confirms satang, docs/partners/linepay.md §7.2; 12-digit My Codes).
func TestLinePayAdapterConformance(t *testing.T) {
	for _, ch := range []struct {
		currency contracts.Currency
		country  string
		step     int64
		noFunds  string
		invalid  string
	}{
		{contracts.TWD, "TW", 100, linepaysim.OneTimeKeyNoBalance, linepaysim.OneTimeKeyExpired},
		{contracts.THB, "TH", 100, "391000000001", "391000000004"},
	} {
		t.Run(string(ch.currency), func(t *testing.T) {
			linepayChannelConformance(t, ch.currency, ch.country, ch.step, ch.noFunds, ch.invalid)
		})
	}
}

func linepayChannelConformance(t *testing.T, currency contracts.Currency, country string, step int64, noFunds, invalid string) {
	clock := sim.NewManualClock(time.Date(2026, 3, 2, 11, 0, 0, 0, contracts.JST))
	const channelID, secret = "1650000042", "conformance-linepay-secret"
	s := linepaysim.New(linepaysim.Config{ChannelID: channelID, ChannelSecret: secret, Clock: clock, StrictNonce: true,
		Currency: string(currency)})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	adapter, err := linepay.New(linepay.Config{
		BaseURL: srv.URL, ChannelID: channelID, ChannelSecret: secret, Currency: currency, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	var refs atomic.Int64
	adaptertest.Run(t, adaptertest.Harness{
		Partner:    adapter,
		Currency:   currency,
		AmountStep: step,
		Barcode: func(t *testing.T, outcome string) string {
			switch outcome {
			case adaptertest.OK:
				return s.IssueOneTimeKey(country)
			case adaptertest.InsufficientFunds:
				return noFunds
			case adaptertest.BarcodeInvalid:
				return invalid // 1133: invalid, used or expired alike
			}
			return "" // LINE has no code for an inactive user's key, and tells no expiry apart
		},
		CustomerPaysQR: func(t *testing.T, res contracts.PaymentResult, _ contracts.PaymentRef) {
			if err := s.Approve(res.PartnerActionRef); err != nil {
				t.Fatalf("customer could not approve the LINE Pay request: %v", err)
			}
		},
		CustomerReturns: func(t *testing.T, res contracts.PaymentResult, _ contracts.PaymentRef, approve bool) url.Values {
			tx := res.PartnerActionRef
			act := s.Approve
			if !approve {
				act = s.Cancel
			}
			if err := act(tx); err != nil {
				t.Fatalf("customer on LINE's payment page: %v", err)
			}
			back, err := s.BrowserReturn(tx, !approve)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(back)
			if err != nil {
				t.Fatal(err)
			}
			return u.Query()
		},
		ManualCapture:          true,
		RefundOnlyAfterCapture: true,
		NewRef:                 func() string { return fmt.Sprintf("conf-%d", refs.Add(1)) },
		Now:                    clock.Now,
	})
}
