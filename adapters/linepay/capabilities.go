package linepay

import "payhub/contracts"

// MaxAmount is the largest LINE Pay payment payhub takes, in minor units: 100,000.00 of
// the channel's currency (TWD or THB). It is payhub's own choice, not a limit LINE
// publishes (docs/partners/linepay.md names none); change it here if a contract says
// otherwise.
const MaxAmount = 10_000_000

// wholeUnit is the step of every LINE Pay amount in minor units: LINE takes whole dollars
// and, until it confirms satang, whole baht (docs/partners/linepay.md §7.2). majorUnits
// still refuses a fraction, because the wire format cannot carry one.
const wholeUnit = 100

// Capabilities declares what this LINE Pay channel takes; the engine enforces it, and this
// adapter does not check it again:
//   - the channel's one currency, Config.Currency (docs/partners/linepay.md §1: one
//     currency per channel; LINE answers 1178 to another);
//   - at most MaxAmount per payment (payhub's choice), in whole units (§7.2);
//   - flows barcode (Offline v4 pay with the customer's code, §5), qr and redirect (Online
//     v3 request, §4.1);
//   - manual capture: options.payment.capture false, then capture or void (§4.2, §5);
//   - serial refunds: a LINE refund carries no id of payhub's (§4.2, §6.2 rule 4), so
//     Refund tells a resent refund from a new one by LINE's refunded total, which holds
//     only while one refund of a payment is open at a time.
func (a *Adapter) Capabilities() contracts.Capabilities {
	cur := a.cfg.Currency
	return contracts.Capabilities{
		Currencies:    []contracts.Currency{cur},
		Flows:         []contracts.Flow{contracts.FlowBarcode, contracts.FlowQR, contracts.FlowRedirect},
		MaxAmount:     map[contracts.Currency]int64{cur: MaxAmount},
		Step:          map[contracts.Currency]int64{cur: wholeUnit},
		SerialRefunds: true,
		ManualCapture: true,
	}
}
