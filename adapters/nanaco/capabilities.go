package nanaco

import "payhub/contracts"

// MaxAmount is the largest nanaco payment: ¥50,000, the balance cap on a card or phone
// (docs/partners/nanaco.md §A2); no payment can exceed what a card can hold.
const MaxAmount = 50_000

// Capabilities declares what nanaco takes; the engine enforces it, and this adapter does
// not check it again (it still refuses another currency, since NCS amounts carry none):
//   - JPY only, whole yen (§B1: amounts are integers in whole yen);
//   - at most MaxAmount per payment (§A2, the balance cap);
//   - flows barcode (the nanaco app's barcode: the 16-digit number, beginning with 7) and
//     card_present (the reader's number and/or IDm, §B4);
//   - sequenced refs: every value-moving request is keyed by terminal, business date and
//     sequence (§B3); the engine allocates up to MaxSeq and the adapter derives cancel
//     keys above it (CancelSeqOffset);
//   - split tender: a payment may debit what the balance holds (allowPartial, §B5);
//   - refunds in parallel (each refund carries its own key), no manual capture, no card
//     token.
func (a *Adapter) Capabilities() contracts.Capabilities {
	return contracts.Capabilities{
		Currencies:   []contracts.Currency{contracts.JPY},
		Flows:        []contracts.Flow{contracts.FlowBarcode, contracts.FlowCardPresent},
		MaxAmount:    map[contracts.Currency]int64{contracts.JPY: MaxAmount},
		Sequenced:    &contracts.Sequenced{MaxSeq: MaxSeq},
		PartialDebit: true,
	}
}
