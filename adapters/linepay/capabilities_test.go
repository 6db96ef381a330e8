package linepay

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"payhub/contracts"
)

// TestCapabilities: a LINE Pay channel declares its one currency, payhub's cap of
// 100,000.00, whole units (docs/partners/linepay.md §7.2), barcode, QR and redirect,
// manual capture, and one refund of a payment at a time (a LINE refund has no id of
// payhub's). What the simulator accepts of it is checked by the conformance suite
// (adapters/adaptertest).
func TestCapabilities(t *testing.T) {
	_, twd := newFake(t, nil)
	for _, cur := range []contracts.Currency{contracts.TWD, contracts.THB} {
		a := *twd
		a.cfg.Currency = cur
		c := a.Capabilities()
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", cur, err)
		}
		if !slices.Equal(c.Currencies, []contracts.Currency{cur}) || c.MaxAmount[cur] != 10_000_000 || c.StepOf(cur) != 100 {
			t.Errorf("%s channel: currencies %v, cap %v, step %d", cur, c.Currencies, c.MaxAmount, c.StepOf(cur))
		}
		if !slices.Equal(c.Flows, []contracts.Flow{contracts.FlowBarcode, contracts.FlowQR, contracts.FlowRedirect}) {
			t.Errorf("%s channel: flows %v", cur, c.Flows)
		}
		if !c.ManualCapture || !c.SerialRefunds || c.CardToken {
			t.Errorf("%s channel: manual capture %v, serial refunds %v, card token %v", cur, c.ManualCapture, c.SerialRefunds, c.CardToken)
		}
	}
}

// TestChannelCurrencyLeftToTheEngine: the adapter no longer refuses a currency its channel
// does not take (the engine does, from Capabilities); LINE answers 1178 to it, a refusal of
// the request, so nothing moves.
func TestChannelCurrencyLeftToTheEngine(t *testing.T) {
	f, a := newFake(t, map[string]func(http.ResponseWriter, *http.Request){
		"POST /v4/payments/oneTimeKeys/pay": lineReply("1178", ""),
	})
	req := barcodeRequest()
	req.Amount = contracts.Money{Amount: 12300, Currency: contracts.THB}
	if res := a.CreatePayment(context.Background(), req); res.Outcome != contracts.OutcomeFailed || res.PartnerCode != "1178" {
		t.Errorf("THB on a TWD channel: %+v", res)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests reached LINE Pay, want the one LINE refused", n)
	}
}
