package hub

import "payhub/contracts"

// Capabilities of an outcomePartner: JPY QR payments up to ¥1,000, what the breaker tests
// send to every partner they register.
func (p *outcomePartner) Capabilities() contracts.Capabilities {
	return contracts.Capabilities{
		Currencies: []contracts.Currency{contracts.JPY},
		Flows:      []contracts.Flow{contracts.FlowQR},
		MaxAmount:  map[contracts.Currency]int64{contracts.JPY: 1000},
	}
}
