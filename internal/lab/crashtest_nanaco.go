package lab

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"payhub/contracts"
	nanacosim "payhub/mocks/nanaco"
)

// nanaco e-money under the crash harness. A nanaco payment spends a card's balance, so the
// harness plans its nanaco payments before the load (the plan's draws follow the seed alone),
// seeds enough cards in the NCS simulator (PUT /_sim/cards/{number}) and fills them in
// order, crashNanacoPerCard payments to a card, each small enough that a card never runs
// dry. Refunds re-credit the card and cancels put the whole payment back; top-ups
// (crashtest_topups.go) add to it, so after the run every card's value (balance and
// centre-held) must have fallen by exactly what payhub says it took from it less what it
// refunded and less what it topped up.
//
// The simulator's ledger (GET /_sim/ledger) lists every committed transaction. NCS knows
// nothing of payhub's ids: a transaction carries its key (terminal, business date,
// sequence) and merchantRef, which are the SequenceRef payhub allocated for the attempt
// (payments) or the refund, and its centerTxnId, which payhub shows as partner_reference.
// The harness maps each PAYMENT to the payhub payment by both and reconciles it like the
// other partners' payments, with its REFUNDs and PAYMENT_CANCELs.

const (
	// crashNanacoPerCard is how many nanaco payments share one seeded card.
	crashNanacoPerCard = 5
	// crashNanacoMinYen and crashNanacoMaxYen bound a nanaco payment: crashNanacoPerCard of
	// the largest fit on a card seeded with crashNanacoCardBalance.
	crashNanacoMinYen = 100
	crashNanacoMaxYen = 6000
	// crashNanacoCardBalance is each seeded card's balance: enough for its payments, and
	// room under the ¥50,000 cap for its top-ups (crashNanacoTopUpsPerCard of up to
	// crashTopUpCashMaxYen) whatever its payments did; a refund or cancel that gave back more
	// than was taken shows in the value check.
	crashNanacoCardBalance = nanacosim.BalanceCap - crashNanacoTopUpsPerCard*crashTopUpCashMaxYen
	// crashNanacoBarcodeShare is the share of nanaco payments paid with the app's barcode;
	// the rest are read by the till's reader (card_present), crashNanacoIDmShare of those
	// with the chip's IDm as well as the number.
	crashNanacoBarcodeShare = 0.25
	crashNanacoIDmShare     = 0.5
)

// crashNanacoCard is one card the harness seeds.
type crashNanacoCard struct {
	Number, IDm string
}

// crashNanacoCardAt is seeded card i: numbers 70009… (the simulator's fixtures are
// 7000000000000001…8), the IDm "0114" and the number's last 12 digits, as the fixtures'.
func crashNanacoCardAt(i int) crashNanacoCard {
	n := fmt.Sprintf("70009%011d", i)
	return crashNanacoCard{Number: n, IDm: "0114" + n[4:]}
}

// nanacoRun is the run's nanaco cards: which order pays with which card, and the cards as
// seeded.
type nanacoRun struct {
	// CardOf is the card each nanaco order pays with: order_id → number.
	CardOf map[string]string
	// Seeded are the cards as the simulator answered their PUT, by number.
	Seeded map[string]nanacosim.CardState
}

// planNanaco draws the run's payments and top-ups as the load will (the draws depend on
// the seed alone) and returns the cards its nanaco payments and top-ups need, and which
// order pays with which. Both fill the cards from the first, in order.
func planNanaco(cfg crashConfig) ([]crashNanacoCard, map[string]string) {
	plan := newLoadPlan(cfg)
	var cards []crashNanacoCard
	use := func(c crashNanacoCard) {
		if !slices.Contains(cards, c) {
			cards = append(cards, c)
		}
	}
	cardOf := map[string]string{}
	for n := 1; n <= cfg.Payments; n++ {
		j := plan.payment(n)
		if !j.nanaco {
			continue
		}
		use(j.card)
		cardOf[crashOrderID(n)] = j.card.Number
	}
	for n := 1; n <= topUpCount(cfg); n++ {
		use(plan.topUp(n).card)
	}
	slices.SortFunc(cards, func(a, b crashNanacoCard) int { return strings.Compare(a.Number, b.Number) })
	return cards, cardOf
}

// crashOrderID is payment n's order_id.
func crashOrderID(n int) string { return fmt.Sprintf("crash-%d", n) }

// seedNanacoCards creates the cards the run's nanaco payments and top-ups need in the
// simulator, with crashNanacoCardBalance and crashNanacoCardPoints.
func seedNanacoCards(ctx context.Context, baseURL string, cfg crashConfig) (*nanacoRun, error) {
	cards, cardOf := planNanaco(cfg)
	run := &nanacoRun{CardOf: cardOf, Seeded: make(map[string]nanacosim.CardState, len(cards))}
	for _, c := range cards {
		var st nanacosim.CardState
		body := nanacosim.CardState{NanacoNumber: c.Number, IDm: c.IDm, CardType: nanacosim.CardTypeCard,
			Status: nanacosim.CardActive, Balance: crashNanacoCardBalance, Points: crashNanacoCardPoints}
		if err := simSend(ctx, http.MethodPut, baseURL+"/_sim/cards/"+c.Number, body, http.StatusOK, &st); err != nil {
			return nil, fmt.Errorf("seed nanaco card: %w", err)
		}
		if st.Balance+st.CenterHeld != crashNanacoCardBalance || st.Points != crashNanacoCardPoints || st.Status != nanacosim.CardActive {
			return nil, fmt.Errorf("seed nanaco card %s: the simulator holds %+v", c.Number, st)
		}
		run.Seeded[c.Number] = st
	}
	return run, nil
}

// nanacoView is what the NCS simulator holds after the run.
type nanacoView struct {
	// Ledger is every committed transaction, in commit order, with current statuses.
	Ledger []nanacosim.LedgerEntry `json:"ledger"`
	// Seeded and Now are the seeded cards as seeded and as they are now, by number.
	Seeded map[string]nanacosim.CardState `json:"seeded"`
	Now    map[string]nanacosim.CardState `json:"now"`
	// CardOf is the card each nanaco order paid with: order_id → number.
	CardOf map[string]string `json:"cardOf"`
}

// read fetches the simulator's ledger and the seeded cards as they now stand.
func (r *nanacoRun) read(ctx context.Context, baseURL string) (nanacoView, error) {
	v := nanacoView{Now: map[string]nanacosim.CardState{}}
	if r != nil {
		v.Seeded, v.CardOf = r.Seeded, r.CardOf
	}
	var l struct {
		Transactions []nanacosim.LedgerEntry `json:"transactions"`
	}
	if err := simJSON(ctx, http.MethodGet, baseURL+"/_sim/ledger", &l); err != nil {
		return nanacoView{}, err
	}
	v.Ledger = l.Transactions
	var cards struct {
		Cards []nanacosim.CardState `json:"cards"`
	}
	if err := simJSON(ctx, http.MethodGet, baseURL+"/_sim/cards", &cards); err != nil {
		return nanacoView{}, err
	}
	for _, c := range cards.Cards {
		if _, seeded := v.Seeded[c.NanacoNumber]; seeded {
			v.Now[c.NanacoNumber] = c
		}
	}
	return v, nil
}

// nanacoKey is a transaction's NCS key (terminal, business date, sequence) written as
// payhub's SequenceRef, which the adapter also sends as merchantRef.
func nanacoKey(e nanacosim.LedgerEntry) string {
	return contracts.SequenceRef{Terminal: e.TerminalID, BusinessDate: e.BusinessDate, Seq: e.TerminalSeq}.String()
}

// nanacoIndex finds payhub's nanaco payments and refunds by what NCS keeps of them.
type nanacoIndex struct {
	// payByRef: the key (SequenceRef) of every pay attempt → payment id.
	payByRef map[string]string
	// payByTxn: the partner_reference (centerTxnId) → payment id.
	payByTxn map[string]string
	// refundByRef: a refund's key (SequenceRef) → the refund.
	refundByRef map[string]contracts.Refund
}

func newNanacoIndex(records []payhubRecord) nanacoIndex {
	x := nanacoIndex{payByRef: map[string]string{}, payByTxn: map[string]string{}, refundByRef: map[string]contracts.Refund{}}
	for _, rec := range records {
		p := rec.Payment
		if p.Method != contracts.MethodNanaco {
			continue
		}
		x.payByRef[p.PartnerRef] = p.ID
		for _, a := range rec.Attempts {
			if a.Operation == contracts.OpPay && a.PartnerRef != "" {
				x.payByRef[a.PartnerRef] = p.ID
			}
		}
		if p.PartnerPaymentID != "" {
			x.payByTxn[p.PartnerPaymentID] = p.ID
		}
		for _, r := range rec.Refunds {
			x.refundByRef[r.PartnerRef] = r
		}
	}
	return x
}

// paymentOf is the payhub payment a PAYMENT was made for: the one whose pay attempt
// carried its key, else the one that shows its centerTxnId; "" for none.
func (x nanacoIndex) paymentOf(e nanacosim.LedgerEntry) string {
	if id := x.payByRef[nanacoKey(e)]; id != "" {
		return id
	}
	return x.payByTxn[e.CenterTxnID]
}

// nanacoUnmatched names a PAYMENT no payhub payment claims: never a payhub id, so
// reconcile counts it lost when it took money.
func nanacoUnmatched(e nanacosim.LedgerEntry) string {
	return "(none for NCS key " + nanacoKey(e) + ")"
}

// nanacoPayments turns the NCS ledger into the harness's partner payments: one per
// PAYMENT, with what it took (its amount while it stands, less what its cancel gave back)
// and its REFUNDs, each named by payhub's refund id when a payhub refund carried its key.
func nanacoPayments(ledger []nanacosim.LedgerEntry, records []payhubRecord) []partnerPayment {
	x := newNanacoIndex(records)
	var out []partnerPayment
	at := map[string]int{} // centerTxnId of a PAYMENT → its index in out
	for _, e := range ledger {
		if e.Type != nanacosim.TypePayment {
			continue
		}
		lp := partnerPayment{PaymentID: x.paymentOf(e), PartnerRef: e.CenterTxnID + " (" + nanacoKey(e) + ")", Status: e.Status,
			Amount: int64(e.RequestedAmount), RefundIDs: true}
		if lp.PaymentID == "" {
			lp.PaymentID = nanacoUnmatched(e)
		}
		if e.Status != nanacosim.StatusReversed { // a reversed chip write gave the debit back
			lp.Charged = int64(e.Amount)
		}
		at[e.CenterTxnID] = len(out)
		out = append(out, lp)
	}
	for _, e := range ledger {
		i, ok := at[e.OriginalTxnID]
		if !ok {
			continue // checkNanaco reports it
		}
		switch e.Type {
		case nanacosim.TypePaymentCancel: // it undoes the charge: the whole payment back
			out[i].Charged -= int64(e.Amount)
		case nanacosim.TypeRefund:
			id := "NCS " + e.CenterTxnID + " (" + nanacoKey(e) + ")"
			if r, ok := x.refundByRef[nanacoKey(e)]; ok {
				id = r.ID
			}
			out[i].Refunded += int64(e.Amount)
			out[i].Refunds = append(out[i].Refunds, partnerRefund{ID: id, Amount: int64(e.Amount), TxnID: e.CenterTxnID})
		}
	}
	return out
}

// nanacoSummary sums up the seeded cards after a run.
type nanacoSummary struct {
	// Cards were seeded, Used paid for at least one payment.
	Cards, Used int
	// Fell is how much the cards' value (balance and centre-held) fell in all.
	Fell int64
	// Taken and Refunded are what payhub says its succeeded nanaco payments took and what
	// it refunded of them; ToppedUp what its succeeded top-ups loaded onto the cards.
	Taken, Refunded, ToppedUp int64
}

// checkNanaco checks what reconcile cannot see in the generic terms: that every NCS
// transaction's key is its merchantRef, that no REFUND or PAYMENT_CANCEL is of a payment
// NCS does not have (nor a CHARGE_CANCEL of a CHARGE), that a PAYMENT's key and centerTxnId
// name the same payhub payment, that payhub shows the centerTxnId of each payment and
// refund it says succeeded (its partner_reference) and asked what the PAYMENT asked, that
// payhub's top-ups match the CHARGEs (checkTopUps), and that each seeded card's value fell
// by exactly what payhub says it took from it less what it refunded and topped up.
func (c *crashCounts) checkNanaco(records []payhubRecord, tops payhubTopUps, v nanacoView) {
	x := newNanacoIndex(records)
	payments, charges := map[string]nanacosim.LedgerEntry{}, map[string]nanacosim.LedgerEntry{}
	for _, e := range v.Ledger {
		switch e.Type {
		case nanacosim.TypePayment:
			payments[e.CenterTxnID] = e
		case nanacosim.TypeCharge:
			charges[e.CenterTxnID] = e
		}
	}
	standing := map[string][]nanacosim.LedgerEntry{} // payhub payment id → its standing PAYMENTs
	refunds := map[string]nanacosim.LedgerEntry{}    // key → REFUND
	for _, e := range v.Ledger {
		key := nanacoKey(e)
		if e.MerchantRef != key {
			c.problem(&c.Mismatches, "nanaco %s %s: key %s but merchantRef %q", e.Type, e.CenterTxnID, key, e.MerchantRef)
		}
		switch e.Type {
		case nanacosim.TypePayment:
			byRef, byTxn := x.payByRef[key], x.payByTxn[e.CenterTxnID]
			if byRef != "" && byTxn != "" && byRef != byTxn {
				c.problem(&c.Mismatches, "nanaco PAYMENT %s: its key %s is %s's, its centerTxnId %s's", e.CenterTxnID, key, byRef, byTxn)
			}
			if id := x.paymentOf(e); id != "" && e.Status != nanacosim.StatusCancelled && e.Status != nanacosim.StatusReversed {
				standing[id] = append(standing[id], e)
			}
		case nanacosim.TypeRefund, nanacosim.TypePaymentCancel:
			if _, ok := payments[e.OriginalTxnID]; !ok {
				c.problem(&c.Lost, "nanaco %s %s (%s) of ¥%d gives back %s, which is no PAYMENT NCS has", e.Type, e.CenterTxnID, key, e.Amount, e.OriginalTxnID)
			}
			if e.Type == nanacosim.TypeRefund {
				refunds[key] = e
			}
		case nanacosim.TypeCharge: // checkTopUps
		case nanacosim.TypeChargeCancel:
			if _, ok := charges[e.OriginalTxnID]; !ok {
				c.problem(&c.Mismatches, "nanaco %s %s (%s) of ¥%d takes back %s, which is no CHARGE NCS has", e.Type, e.CenterTxnID, key, e.Amount, e.OriginalTxnID)
			}
		default:
			c.problem(&c.Mismatches, "nanaco %s %s (%s) of ¥%d on card %s: payhub never asks for one", e.Type, e.CenterTxnID, key, e.Amount, e.NanacoNumber)
		}
	}
	for _, rec := range records {
		p := rec.Payment
		if p.Method != contracts.MethodNanaco {
			continue
		}
		if p.Status == contracts.StatusSucceeded {
			if s := standing[p.ID]; len(s) == 1 {
				if p.PartnerPaymentID != s[0].CenterTxnID {
					c.problem(&c.Mismatches, "%s: partner_reference %q, its NCS PAYMENT is %s (%s)", p.ID, p.PartnerPaymentID, s[0].CenterTxnID, nanacoKey(s[0]))
				}
				if int64(s[0].RequestedAmount) != p.Amount.Amount {
					c.problem(&c.Mismatches, "%s: payhub asked ¥%d, NCS PAYMENT %s asked ¥%d", p.ID, p.Amount.Amount, s[0].CenterTxnID, s[0].RequestedAmount)
				}
			}
		}
		for _, r := range rec.Refunds {
			if e, ok := refunds[r.PartnerRef]; ok && r.Status == contracts.RefundSucceeded && r.PartnerRefundID != e.CenterTxnID {
				c.problem(&c.Mismatches, "%s: refund %s partner_reference %q, its NCS REFUND is %s (%s)", p.ID, r.ID, r.PartnerRefundID, e.CenterTxnID, r.PartnerRef)
			}
		}
	}
	c.checkTopUps(tops, v.Ledger)
	c.checkNanacoCards(records, tops, v)
}

// checkNanacoCards checks that each seeded card's value (balance and centre-held) fell by
// what payhub says it took from it (captured, for its succeeded payments) less what it
// refunded and less what it topped up (its succeeded top-ups). A card with a payment or
// top-up still open is left out (counted unresolved already).
func (c *crashCounts) checkNanacoCards(records []payhubRecord, tops payhubTopUps, v nanacoView) {
	taken, refunded, toppedUp := map[string]int64{}, map[string]int64{}, map[string]int64{}
	open := map[string]bool{}
	used := map[string]bool{}
	for _, rec := range records {
		p := rec.Payment
		if p.Method != contracts.MethodNanaco {
			continue
		}
		card, ok := v.CardOf[p.OrderID]
		if !ok {
			c.problem(&c.Mismatches, "%s: nanaco payment of order %q, which the harness never planned", p.ID, p.OrderID)
			continue
		}
		used[card] = true
		if paymentOpen(p.Status) || len(openAttempts(rec)) > 0 {
			open[card] = true
		}
		for _, r := range rec.Refunds {
			if refundOpen(r.Status) {
				open[card] = true
			}
		}
		if p.Status == contracts.StatusSucceeded {
			taken[card] += p.AmountCaptured
			refunded[card] += p.AmountRefunded
		}
	}
	for _, t := range tops.TopUps {
		card := tops.Till[t.IdempotencyKey].Card
		if card == "" {
			continue // checkTopUps reports it
		}
		used[card] = true
		if topUpOpen(t) {
			open[card] = true
		}
		if t.Status == contracts.TopUpSucceeded {
			toppedUp[card] += t.Amount.Amount
		}
	}
	s := nanacoSummary{Cards: len(v.Seeded), Used: len(used)}
	for _, number := range slices.Sorted(maps.Keys(v.Seeded)) {
		before := v.Seeded[number]
		now, ok := v.Now[number]
		if !ok {
			c.problem(&c.Lost, "nanaco card %s: the simulator no longer has it", number)
			continue
		}
		fell := int64(before.Balance+before.CenterHeld) - int64(now.Balance+now.CenterHeld)
		s.Fell += fell
		s.Taken += taken[number]
		s.Refunded += refunded[number]
		s.ToppedUp += toppedUp[number]
		if open[number] {
			continue
		}
		if net := taken[number] - refunded[number] - toppedUp[number]; fell != net {
			c.problem(&c.Mismatches, "nanaco card %s: its value fell by ¥%d (balance ¥%d, centre-held ¥%d), payhub took ¥%d, refunded ¥%d of it and topped up ¥%d",
				number, fell, now.Balance, now.CenterHeld, taken[number], refunded[number], toppedUp[number])
		}
	}
	c.Nanaco = s
}
