package paypay

import (
	"slices"
	"testing"

	"payhub/contracts"
)

// TestCapabilities: PayPay's rules as the adapter declares them for the engine — JPY only,
// ¥500,000 per payment (docs/partners/paypay.md §1, §7), barcode, QR and linked, manual
// capture, refunds in parallel. What the simulator accepts of it is checked by the
// conformance suite (adapters/adaptertest).
func TestCapabilities(t *testing.T) {
	_, a := newFake(t, nil)
	c := a.Capabilities()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Currencies, []contracts.Currency{contracts.JPY}) || c.MaxAmount[contracts.JPY] != 500_000 || c.StepOf(contracts.JPY) != 1 {
		t.Errorf("money: currencies %v, cap %v, step %d", c.Currencies, c.MaxAmount, c.StepOf(contracts.JPY))
	}
	if !slices.Equal(c.Flows, []contracts.Flow{contracts.FlowBarcode, contracts.FlowQR, contracts.FlowLinked}) || c.FlowRefusal != "" {
		t.Errorf("flows %v (%q)", c.Flows, c.FlowRefusal)
	}
	if !c.ManualCapture || c.SerialRefunds || c.CardToken {
		t.Errorf("manual capture %v, serial refunds %v, card token %v", c.ManualCapture, c.SerialRefunds, c.CardToken)
	}
}
