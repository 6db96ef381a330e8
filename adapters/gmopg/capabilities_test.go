package gmopg

import (
	"slices"
	"testing"

	"payhub/contracts"
)

// TestCapabilities: card payments declare JPY, payhub's cap of ¥9,999,999, flow redirect
// only with the card-present refusal the API has always given (docs/partners/gmopg.md
// §8), a card token, manual capture, and refunds in parallel. What the simulator accepts
// of it is checked by the conformance suite (adapters/adaptertest).
func TestCapabilities(t *testing.T) {
	c := newFake(t).adapter(t, testNow).Capabilities()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Currencies, []contracts.Currency{contracts.JPY}) || c.MaxAmount[contracts.JPY] != 9_999_999 || c.StepOf(contracts.JPY) != 1 {
		t.Errorf("money: currencies %v, cap %v, step %d", c.Currencies, c.MaxAmount, c.StepOf(contracts.JPY))
	}
	if !slices.Equal(c.Flows, []contracts.Flow{contracts.FlowRedirect}) {
		t.Errorf("flows %v", c.Flows)
	}
	if want := "Card-present (terminal) payments are not offered: method card is online only, with flow redirect and a card_token."; c.FlowRefusal != want {
		t.Errorf("FlowRefusal %q, want %q", c.FlowRefusal, want)
	}
	if !c.ManualCapture || !c.CardToken || !c.SerialRefunds {
		t.Errorf("manual capture %v, card token %v, serial refunds %v", c.ManualCapture, c.CardToken, c.SerialRefunds)
	}
}
