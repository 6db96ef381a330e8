package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	nanacoadapter "payhub/adapters/nanaco"
	"payhub/contracts"
	nanacosim "payhub/mocks/nanaco"
	simcore "payhub/mocks/sim"
)

// nanaco e-money end to end: a till pays through payhub's router with a real token; the
// nanaco adapter speaks signed NCS v1 over HTTP to the simulator; payhub and the centre
// share one manual clock (10:00 JST), so their business dates agree. The fixture card
// 7000000000000001 holds ¥10,000.

// TestNanacoCardPresentPaymentDebitsTheCardOnce: a card_present payment succeeds, the card
// loses the amount, partner_reference is the centre's centerTxnId, and a replay with the
// same Idempotency-Key answers the same without a second debit.
func TestNanacoCardPresentPaymentDebitsTheCardOnce(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		key, body := newKey(), cardPresent(1200, card)
		first := n.do(http.MethodPost, "/v1/payments", n.tok(), key, body)
		expectStatus(t, first, http.StatusCreated, "")
		p := first.json(t)
		if p["status"] != "succeeded" || p["method"] != "nanaco" || p["flow"] != "card_present" ||
			p["amount_captured"] != 1200.0 || p["amount_received"] != nil {
			t.Fatalf("card_present payment: %s", first.body)
		}
		if strings.Contains(string(first.body), card) {
			t.Errorf("the payment echoes the full nanaco number: %s", first.body)
		}
		if b := n.balance(card); b != 8_800 {
			t.Errorf("balance %d after paying ¥1,200 from ¥10,000", b)
		}
		debits := n.ledger(card, nanacosim.TypePayment)
		if len(debits) != 1 || debits[0].Amount != 1200 || p["partner_reference"] != debits[0].CenterTxnID {
			t.Fatalf("partner_reference %v; centre's debits %+v", p["partner_reference"], debits)
		}
		replay := n.do(http.MethodPost, "/v1/payments", n.tok(), key, body)
		if replay.status != http.StatusCreated || !bytes.Equal(replay.body, first.body) || replay.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay %d (replayed %q): %s\nfirst: %s", replay.status, replay.header.Get("Idempotent-Replayed"), replay.body, first.body)
		}
		if d := n.ledger(card, nanacosim.TypePayment); len(d) != 1 || n.balance(card) != 8_800 {
			t.Errorf("after the replay: %d debits, balance %d", len(d), n.balance(card))
		}
	})
}

// TestNanacoAutoRoutesSixteenDigitSevenCode: method auto with the nanaco app's barcode
// (16 digits beginning with 7) is a nanaco payment.
func TestNanacoAutoRoutesSixteenDigitSevenCode(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		p := n.created(map[string]any{"amount": 700, "currency": "JPY", "method": "auto", "flow": "barcode",
			"barcode": card, "terminal_id": "till-01", "order_id": "order-auto"})
		if p["status"] != "succeeded" || p["method"] != "nanaco" || p["flow"] != "barcode" {
			t.Fatalf("auto with a nanaco code: %v", p)
		}
		if d := n.ledger(card, nanacosim.TypePayment); len(d) != 1 || d[0].Amount != 700 || n.balance(card) != 9_300 {
			t.Fatalf("the centre's debits %+v, balance %d", d, n.balance(card))
		}
	})
}

// TestNanacoSplitTenderTakesTheBalance: allow_partial for more than the balance takes the
// whole balance (amount_received = amount_captured = old balance); refunds stop at what
// was taken, and a partial refund goes back onto the card.
func TestNanacoSplitTenderTakesTheBalance(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		body := cardPresent(12_000, card)
		body["allow_partial"] = true
		p := n.created(body)
		if p["status"] != "succeeded" || p["amount"] != 12_000.0 || p["amount_received"] != 10_000.0 || p["amount_captured"] != 10_000.0 {
			t.Fatalf("split tender: %v", p)
		}
		if b := n.balance(card); b != 0 {
			t.Fatalf("balance %d after the split tender", b)
		}
		id := p["id"].(string)
		expectStatus(t, n.refund(id, 10_001), http.StatusUnprocessableEntity, "refund_exceeds_captured")
		r := n.refund(id, 3_000)
		expectStatus(t, r, http.StatusCreated, "")
		if r.json(t)["status"] != "succeeded" {
			t.Fatalf("refund: %s", r.body)
		}
		if b := n.balance(card); b != 3_000 {
			t.Errorf("balance %d after a ¥3,000 refund, want it back on the card", b)
		}
		if got := n.get(id); got["amount_refunded"] != 3_000.0 || got["status"] != "succeeded" {
			t.Errorf("payment after the refund: %v", got)
		}
	})
}

// TestNanacoCancelSameDayRestoresTheCard: a cancel the same business day at the same till
// is a centre cancel from the same terminal: the payment is canceled and the card whole.
func TestNanacoCancelSameDayRestoresTheCard(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		p := n.created(cardPresent(2_500, card))
		c := n.cancel(p["id"].(string))
		expectStatus(t, c, http.StatusOK, "")
		if c.json(t)["status"] != "canceled" {
			t.Fatalf("cancel: %s", c.body)
		}
		if b := n.balance(card); b != 10_000 {
			t.Errorf("balance %d after the cancel", b)
		}
		debit := n.ledger(card, nanacosim.TypePayment)
		cancels := n.ledger(card, nanacosim.TypePaymentCancel)
		if len(debit) != 1 || len(cancels) != 1 || cancels[0].OriginalTxnID != debit[0].CenterTxnID ||
			cancels[0].TerminalID != debit[0].TerminalID || debit[0].Status != nanacosim.StatusCancelled {
			t.Fatalf("centre ledger: debits %+v, cancels %+v", debit, cancels)
		}
	})
}

// TestNanacoCancelAfterMidnightRefundsOntoTheCard: after midnight JST the centre no longer
// cancels yesterday's payment; payhub answers 409 cancel_window_passed (the contract: refund
// instead), and the full refund re-credits the card — value back on the card, never cash.
func TestNanacoCancelAfterMidnightRefundsOntoTheCard(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		p := n.created(cardPresent(2_000, card))
		id := p["id"].(string)
		n.clk.Advance(15 * time.Hour) // 01:00 JST the next day
		expectStatus(t, n.cancel(id), http.StatusConflict, "cancel_window_passed")
		if b, c := n.balance(card), n.ledger(card, nanacosim.TypePaymentCancel); b != 8_000 || len(c) != 0 {
			t.Fatalf("after the refused cancel: balance %d, cancels %+v", b, c)
		}
		r := n.refund(id, 2_000)
		expectStatus(t, r, http.StatusCreated, "")
		if r.json(t)["status"] != "succeeded" {
			t.Fatalf("refund after the window: %s", r.body)
		}
		if got := n.get(id); got["status"] != "succeeded" || got["amount_refunded"] != 2_000.0 {
			t.Errorf("payment after the full refund: %v", got)
		}
		refunds := n.ledger(card, nanacosim.TypeRefund)
		if n.balance(card) != 10_000 || len(refunds) != 1 || refunds[0].CreditedTo != nanacosim.CreditedBalance ||
			refunds[0].BusinessDate != n.ncs.BusinessDate() {
			t.Fatalf("balance %d, centre refunds %+v", n.balance(card), refunds)
		}
	})
}

// TestNanacoAbandonedPaymentPastMidnightIsReCredited: the till abandons a payment whose
// answer was lost (cancel: 202, cancel_requested); by the time the resolver learns the
// centre debited the card, midnight JST has passed and the centre takes no cancel, so payhub
// reverses it by a full refund onto the card (docs/api.md §4.1: succeeded, refunded in full).
func TestNanacoAbandonedPaymentPastMidnightIsReCredited(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		n.fault(nanacosim.BasePath+"/payments", simcore.FaultCommitThenDrop)
		p := n.created(cardPresent(900, card))
		id := p["id"].(string)
		c := n.cancel(id)
		expectStatus(t, c, http.StatusAccepted, "")
		if c.json(t)["cancel_requested"] != true {
			t.Fatalf("abandon: %s", c.body)
		}
		n.clk.Advance(15 * time.Hour) // 01:00 JST the next day
		n.resolve()
		got := n.get(id)
		if got["status"] != "succeeded" || got["amount_refunded"] != 900.0 || got["cancel_requested"] != true {
			t.Fatalf("abandoned payment after the resolver: %v", got)
		}
		refunds := n.ledger(card, nanacosim.TypeRefund)
		if n.balance(card) != 10_000 || len(refunds) != 1 || refunds[0].Amount != 900 || refunds[0].CreditedTo != nanacosim.CreditedBalance ||
			len(n.ledger(card, nanacosim.TypePaymentCancel)) != 0 {
			t.Fatalf("balance %d, centre refunds %+v, ledger %+v", n.balance(card), refunds, n.ncs.Ledger())
		}
	})
}

// TestNanacoDeclinesDebitNothing: a suspended card and a short balance without split
// tender are failed payments with nanaco's failure codes, and the centre moved nothing.
func TestNanacoDeclinesDebitNothing(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		for _, c := range []struct {
			card    string
			amount  int
			code    string
			balance int
		}{
			{nanacosim.FixtureSuspended, 500, "card_suspended", 3_000},
			{nanacosim.FixtureActive, 10_001, "insufficient_balance", 10_000},
		} {
			p := n.created(cardPresent(c.amount, c.card))
			if p["status"] != "failed" || p["failure_code"] != c.code || p["amount_captured"] != 0.0 {
				t.Errorf("card %s…: %v", c.card[12:], p)
			}
			if b := n.balance(c.card); b != c.balance {
				t.Errorf("card %s… balance %d, want %d", c.card[12:], b, c.balance)
			}
		}
		if l := n.ncs.Ledger(); len(l) != 0 {
			t.Errorf("the centre recorded %+v", l)
		}
	})
}

// TestNanacoTamperedAnswerIsUnknownUntilTheInquiry: an answer whose signature no longer
// verifies is never taken for a success or a decline: the payment is unknown, and the
// resolver settles it from the centre's inquiry — the debit it made, exactly once.
func TestNanacoTamperedAnswerIsUnknownUntilTheInquiry(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		n.tamper.arm(1)
		p := n.created(cardPresent(1_500, card))
		id := p["id"].(string)
		if p["status"] != "unknown" {
			t.Fatalf("a payment on a tampered answer is %v, want unknown: %v", p["status"], p)
		}
		n.resolve()
		rec := n.record(id)
		debits := n.ledger(card, nanacosim.TypePayment)
		if rec.Status != contracts.StatusSucceeded || len(debits) != 1 || rec.PartnerPaymentID != debits[0].CenterTxnID {
			t.Fatalf("after the resolver: %s (%s), centre debits %+v", rec.Status, rec.PartnerPaymentID, debits)
		}
		if b := n.balance(card); b != 8_500 || rec.AmountCaptured != 1_500 {
			t.Errorf("balance %d, amount_captured %d", b, rec.AmountCaptured)
		}
	})
}

// TestNanacoCommitThenDropIsSettledByTheInquiry: the centre debits the card but the
// connection drops before its answer: unknown, then succeeded from the inquiry, one debit.
func TestNanacoCommitThenDropIsSettledByTheInquiry(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		n.fault(nanacosim.BasePath+"/payments", simcore.FaultCommitThenDrop)
		p := n.created(cardPresent(900, card))
		id := p["id"].(string)
		if p["status"] != "unknown" {
			t.Fatalf("after a dropped answer the payment is %v: %v", p["status"], p)
		}
		n.resolve()
		rec := n.record(id)
		debits := n.ledger(card, nanacosim.TypePayment)
		if rec.Status != contracts.StatusSucceeded || len(debits) != 1 || rec.PartnerPaymentID != debits[0].CenterTxnID || n.balance(card) != 9_100 {
			t.Fatalf("after the resolver: %s (%s), centre debits %+v, balance %d", rec.Status, rec.PartnerPaymentID, debits, n.balance(card))
		}
	})
}

// TestNanacoRequestTheCentreNeverGotFailsAndFencesItsKey: the connection resets before the
// centre reads the payment: unknown, then the inquiry's found:false makes it failed;
// nothing was debited, and the key is fenced, so the request can never land late.
func TestNanacoRequestTheCentreNeverGotFailsAndFencesItsKey(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		n.fault(nanacosim.BasePath+"/payments", simcore.FaultReset)
		p := n.created(cardPresent(1_500, card))
		id := p["id"].(string)
		if p["status"] != "unknown" {
			t.Fatalf("after a reset the payment is %v: %v", p["status"], p)
		}
		n.resolve()
		rec := n.record(id)
		if rec.Status != contracts.StatusFailed || rec.FailureCode != nanacoadapter.FailureNotProcessed {
			t.Fatalf("after the resolver: %s %s (%s)", rec.Status, rec.FailureCode, rec.FailureMessage)
		}
		if b, l := n.balance(card), n.ncs.Ledger(); b != 10_000 || len(l) != 0 {
			t.Fatalf("balance %d, centre ledger %+v", b, l)
		}
		// The original request, arriving now under its key, is refused.
		late, err := nanacoadapter.New(nanacoadapter.Config{BaseURL: n.ncsURL, MerchantID: testNanacoMerchant,
			Secret: testNanacoSecret, Now: n.clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		res := late.CreatePayment(context.Background(), contracts.PaymentRequest{PartnerRef: rec.PartnerRef,
			Amount: contracts.Money{Amount: 1_500, Currency: contracts.JPY}, Flow: contracts.FlowCardPresent,
			Card: &contracts.PresentedCard{Number: card}, RequestedAt: n.clk.Now()})
		if res.Outcome != contracts.OutcomeFailed || res.PartnerCode != nanacosim.CodeSeqFenced || n.balance(card) != 10_000 {
			t.Fatalf("a late request under %s: %+v, balance %d", rec.PartnerRef, res, n.balance(card))
		}
	})
}

// TestNanacoRequestShapeRefusals: presented_card belongs to flow card_present and that
// flow needs it; allow_partial is nanaco's only; a nanaco payment is at most ¥50,000.
func TestNanacoRequestShapeRefusals(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		pointer := func(r response) string {
			errs, _ := r.json(t)["errors"].([]any)
			if len(errs) == 0 {
				return ""
			}
			s, _ := errs[0].(map[string]any)["pointer"].(string)
			return s
		}
		card := nanacosim.FixtureActive
		withCard := map[string]any{"amount": 500, "currency": "JPY", "method": "nanaco", "flow": "barcode", "barcode": card,
			"presented_card": map[string]any{"number": card}}
		noCard := cardPresent(500, card)
		delete(noCard, "presented_card")
		for name, body := range map[string]map[string]any{"presented_card with flow barcode": withCard, "card_present without presented_card": noCard} {
			r := n.create(body)
			expectStatus(t, r, http.StatusBadRequest, "invalid_request")
			if p := pointer(r); p != "/presented_card" {
				t.Errorf("%s: pointer %q: %s", name, p, r.body)
			}
		}
		paypay := barcodePayment(500, barcodeOK)
		paypay["allow_partial"] = true
		expectStatus(t, n.create(paypay), http.StatusUnprocessableEntity, "method_not_supported")
		expectStatus(t, n.create(cardPresent(50_001, card)), http.StatusUnprocessableEntity, "amount_out_of_range")
		if l := n.ncs.Ledger(); len(l) != 0 || n.balance(card) != 10_000 {
			t.Errorf("a refused request reached the centre: %+v", l)
		}
	})
}

// TestNanacoLogsNeverHoldAFullNumber: after payments, declines, an unknown outcome and its
// resolution, a cancel and a refund, payhub's logs name the card by its last 4 digits at
// most. (Every nanaco env also scans its logs when its test ends.)
func TestNanacoLogsNeverHoldAFullNumber(t *testing.T) {
	n := newNanacoEnv(t, nil)
	card := nanacosim.FixtureActive
	paid := n.created(cardPresent(1_000, card))
	expectStatus(t, n.cancel(paid["id"].(string)), http.StatusOK, "")
	n.created(cardPresent(500, nanacosim.FixtureSuspended))
	n.created(map[string]any{"amount": 300, "currency": "JPY", "method": "nanaco", "flow": "card_present",
		"presented_card": map[string]any{"idm": "0114000000000001"}, "terminal_id": "till-02"})
	n.tamper.arm(1)
	lost := n.created(cardPresent(2_000, card))
	n.resolve()
	expectStatus(t, n.refund(lost["id"].(string), 500), http.StatusCreated, "")
	n.created(cardPresent(400, "7999999999999999")) // no such card
	logs := n.logs.String()
	if !strings.Contains(logs, `"card_last4":"0001"`) {
		t.Fatalf("no nanaco partner call was logged with the card's last 4:\n%s", logs)
	}
	assertNoFullNanacoNumber(t, logs)
	if strings.Contains(logs, "7999999999999999") {
		t.Error("the logs hold the full number of an unknown card")
	}
}
