package paypay

import "payhub/contracts"

// MaxAmount is PayPay's cap on one payment: ¥500,000 (docs/partners/paypay.md §7, limits
// and windows, from PayPay's failure-cases FAQ; unconfirmed for every contract, so check it
// against the merchant's contract). PayPay's wire format would carry up to 11 digits (§1):
// the cap is PayPay's rule, not the format's.
const MaxAmount = 500_000

// Capabilities declares what PayPay takes; the engine enforces it, and this adapter does
// not check it again:
//   - JPY only (docs/partners/paypay.md §1: money is {"amount", "currency": "JPY"});
//   - at most MaxAmount yen per payment (§7); yen have no minor unit, so no step;
//   - flows barcode (payhub's stand-in, §11), qr (§4.1) and linked (§4.4);
//   - manual capture: pre-authorization, then capture or revert (§4.6);
//   - refunds in parallel: each carries its own merchantRefundId (§4.7).
func (a *Adapter) Capabilities() contracts.Capabilities {
	return contracts.Capabilities{
		Currencies:    []contracts.Currency{contracts.JPY},
		Flows:         []contracts.Flow{contracts.FlowBarcode, contracts.FlowQR, contracts.FlowLinked},
		MaxAmount:     map[contracts.Currency]int64{contracts.JPY: MaxAmount},
		ManualCapture: true,
	}
}
