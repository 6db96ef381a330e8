package gmopg

import "payhub/contracts"

// MaxAmount is the largest card payment payhub takes: ¥9,999,999. It is payhub's own
// choice, not a limit GMO-PG publishes per payment; it is also the most GMO's 7-digit
// Amount (with Tax) carries (docs/partners/gmopg.md §1 field limits: E01060005 too
// many digits, E01490005 Amount+Tax out of range), so raising it needs GMO first.
const MaxAmount = 9_999_999

// CardPresentRefusal is the explanation the engine gives a card payment in any flow but
// redirect: GMO-PG serves non-face-to-face sales only (docs/partners/gmopg.md §8).
const CardPresentRefusal = "Card-present (terminal) payments are not offered: method card is online only, with flow redirect and a card_token."

// Capabilities declares what card payments through GMO-PG take; the engine enforces it,
// and this adapter does not check it again:
//   - JPY only: GMO's Amount is whole yen and the protocol carries no currency
//     (docs/partners/gmopg.md §1); at most MaxAmount (payhub's choice);
//   - flow redirect only, online with EMV 3-D Secure (§4); card-present payments are
//     refused with CardPresentRefusal (§8);
//   - a card token from GMO's token script with every payment (§7: payhub never sees card
//     data);
//   - manual capture: AUTH, then SALES (§2);
//   - refunds one at a time: GMO keeps no refund id of payhub's, and a refund is made
//     idempotent by comparing GMO's refunded amount with RefundRequest.PriorRefunded (see
//     Refund); two overlapping refunds of one payment could each take the other's money
//     for their own.
func (a *Adapter) Capabilities() contracts.Capabilities {
	return contracts.Capabilities{
		Currencies:    []contracts.Currency{contracts.JPY},
		Flows:         []contracts.Flow{contracts.FlowRedirect},
		FlowRefusal:   CardPresentRefusal,
		MaxAmount:     map[contracts.Currency]int64{contracts.JPY: MaxAmount},
		ManualCapture: true,
		CardToken:     true,
		SerialRefunds: true,
	}
}
