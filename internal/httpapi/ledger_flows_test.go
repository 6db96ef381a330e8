package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/ledger"
	"payhub/internal/store/storetest"
	nanacosim "payhub/mocks/nanaco"
	simcore "payhub/mocks/sim"
)

// The double-entry ledger end to end: real payments, captures, cancels, refunds, top-ups and
// the resolver's reversals through the API against the simulators, then the ledger check
// (as `payhub ledger check` runs it) and the exact balances.

// ledgerBalances reads every account's balance on its normal side, "account currency" →
// balance.
func ledgerBalances(t *testing.T, st contracts.Store) map[string]int64 {
	t.Helper()
	bs, err := st.ListLedgerBalances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, b := range bs {
		out[b.Account+" "+string(b.Currency)] = ledger.Balance(b)
	}
	return out
}

// expectLedgerBalances checks the balances are exactly want (an account absent from want
// must be at zero).
func expectLedgerBalances(t *testing.T, st contracts.Store, want map[string]int64) {
	t.Helper()
	got := ledgerBalances(t, st)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("balance of %s = %d, want %d", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			t.Errorf("balance of %s = %d, want 0", k, v)
		}
	}
}

// checkLedger runs the check in small batches (to page) and fails the test unless it
// passes.
func checkLedger(t *testing.T, st contracts.Store) string {
	t.Helper()
	var out bytes.Buffer
	if err := app.CheckLedger(context.Background(), st, 2, &out); err != nil {
		t.Fatalf("ledger check: %v\n%s", err, out.String())
	}
	return out.String()
}

// expectPosted checks the ledger transaction id exists.
func expectPosted(t *testing.T, st contracts.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := st.GetLedgerTransaction(context.Background(), id); err != nil {
			t.Errorf("ledger transaction %s: %v", id, err)
		}
	}
}

// TestLedgerPaymentsRefundsAndReversals: PayPay and LINE Pay payments taken, captured in
// part, canceled after success, canceled while authorized, refunded, and one whose answer
// was lost reversed by the resolver after the till abandoned it; then the ledger check
// passes and the balances are exact, per partner, store and currency.
func TestLedgerPaymentsRefundsAndReversals(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		clk := abClock()
		e := newEnvOnClock(t, st, clk)
		tok := func() string { return abToken(e, clk) }
		pay := func(body map[string]any) map[string]any {
			t.Helper()
			r := e.do(http.MethodPost, "/v1/payments", tok(), newKey(), body)
			expectStatus(t, r, http.StatusCreated, "")
			return r.json(t)
		}
		post := func(path string, body any, status int) map[string]any {
			t.Helper()
			r := e.do(http.MethodPost, path, tok(), newKey(), body)
			expectStatus(t, r, status, "")
			return r.json(t)
		}

		// Taken in full: ¥1,000; the till's retry under the same key replays the answer and
		// posts nothing more.
		key1 := newKey()
		r1 := e.do(http.MethodPost, "/v1/payments", tok(), key1, barcodePayment(1000, barcodeOK))
		expectStatus(t, r1, http.StatusCreated, "")
		p1 := r1.json(t)
		if p1["status"] != "succeeded" {
			t.Fatalf("payment: %v", p1)
		}
		expectStatus(t, e.do(http.MethodPost, "/v1/payments", tok(), key1, barcodePayment(1000, barcodeOK)), http.StatusCreated, "")
		if got := ledgerBalances(t, st)["partner_clearing:paypay JPY"]; got != 1000 {
			t.Fatalf("after a replay: partner_clearing:paypay %d", got)
		}
		// Authorized ¥1,000, captured ¥600, ¥200 of it refunded.
		p2 := pay(manualPayment(1000))
		id2 := p2["id"].(string)
		if p2["status"] != "authorized" {
			t.Fatalf("authorization: %v", p2)
		}
		if len(ledgerBalances(t, st)) != 2 {
			t.Errorf("an authorization posted: %v", ledgerBalances(t, st))
		}
		if c := post("/v1/payments/"+id2+"/capture", map[string]any{"amount": 600}, http.StatusOK); c["amount_captured"] != 600.0 {
			t.Fatalf("capture: %v", c)
		}
		if r := post("/v1/payments/"+id2+"/refunds", map[string]any{"amount": 200}, http.StatusCreated); r["status"] != "succeeded" {
			t.Fatalf("refund: %v", r)
		}
		// Taken ¥500, then canceled the same day: reversed.
		id3 := pay(barcodePayment(500, barcodeOK))["id"].(string)
		if c := post("/v1/payments/"+id3+"/cancel", nil, http.StatusOK); c["status"] != "canceled" {
			t.Fatalf("cancel after success: %v", c)
		}
		// Authorized ¥800 and canceled: nothing ever moved.
		id4 := pay(manualPayment(800))["id"].(string)
		if c := post("/v1/payments/"+id4+"/cancel", nil, http.StatusOK); c["status"] != "canceled" {
			t.Fatalf("cancel of an authorization: %v", c)
		}
		// A declined payment moves nothing.
		if d := pay(barcodePayment(300, barcodeNoFunds)); d["status"] != "failed" {
			t.Fatalf("decline: %v", d)
		}
		// ¥900 whose answer was lost: unknown; the till abandons it and the resolver finds it
		// went through and reverses it.
		if err := e.faults.Set([]simcore.FaultRule{{Method: http.MethodPost, PathPrefix: "/v2/payments", Probability: 1, Count: 1,
			Fault: simcore.Fault{Kind: simcore.FaultCommitThenDrop}}}); err != nil {
			t.Fatal(err)
		}
		p5 := pay(barcodePayment(900, barcodeOK))
		id5 := p5["id"].(string)
		if p5["status"] != "unknown" {
			t.Fatalf("lost answer: %v", p5)
		}
		abTillCancels(t, e, tok(), id5)
		abResolveForAWhile(t, e, clk)
		if p, _ := e.app.Store.GetPayment(context.Background(), "", id5); bookedOf(p) != p.AmountRefunded && p.Status != contracts.StatusCanceled {
			t.Fatalf("the resolver left %s %s captured %d refunded %d", id5, p.Status, p.AmountCaptured, p.AmountRefunded)
		}
		expectPosted(t, st, "payment:"+id5+":captured")
		// LINE Pay in TWD: NT$300.00 taken, NT$100.00 refunded.
		lp := pay(map[string]any{"amount": 30000, "currency": "TWD", "method": "linepay", "flow": "barcode",
			"barcode": e.linepay.IssueOneTimeKey("TW"), "terminal_id": "till-07", "order_id": "ledger-lp"})
		if lp["status"] != "succeeded" {
			t.Fatalf("LINE Pay: %v", lp)
		}
		if r := post("/v1/payments/"+lp["id"].(string)+"/refunds", map[string]any{"amount": 10000}, http.StatusCreated); r["status"] != "succeeded" {
			t.Fatalf("LINE Pay refund: %v", r)
		}
		// Another store: ¥700.
		rb := e.do(http.MethodPost, "/v1/payments", e.token(e.b, func(r *auth.TokenRequest) { r.IssuedAt = clk.Now() }), newKey(), barcodePayment(700, barcodeOK))
		expectStatus(t, rb, http.StatusCreated, "")

		out := checkLedger(t, st)
		if !strings.HasPrefix(out, "ledger ok:") {
			t.Errorf("check output %q", out)
		}
		expectPosted(t, st, "payment:"+p1["id"].(string)+":captured", "payment:"+id2+":captured",
			"payment:"+id3+":captured", "payment:"+id3+":reversed")
		for _, id := range []string{"payment:" + id4 + ":captured", "payment:" + id4 + ":reversed"} {
			if _, err := st.GetLedgerTransaction(context.Background(), id); !errors.Is(err, contracts.ErrNotFound) {
				t.Errorf("%s posted for a canceled authorization: %v", id, err)
			}
		}
		// PayPay: 1000 + 600 − 200 + (500 − 500) + (900 − 900) + 700.
		expectLedgerBalances(t, st, map[string]int64{
			"partner_clearing:paypay JPY":  2100,
			"store_receivable:store-a JPY": 1400,
			"store_receivable:store-b JPY": 700,
			"partner_clearing:linepay TWD": 20000,
			"store_receivable:store-a TWD": 20000,
		})
	})
}

// bookedOf is what a payment holds on the ledger (ledger.Booked).
func bookedOf(p contracts.Payment) int64 { return ledger.Booked(p) }

// TestLedgerNanacoPaymentsAndTopUps: a nanaco payment, a split tender (the card's whole
// balance taken), a refund, a cash and a points top-up, and a cash top-up cancelled the
// same day; the check passes and the stored value issued is exact.
func TestLedgerNanacoPaymentsAndTopUps(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive // ¥10,000 and 120 points
		if p := n.created(cardPresent(1000, card)); p["status"] != "succeeded" {
			t.Fatalf("payment: %v", p)
		}
		split := cardPresent(12_000, card)
		split["allow_partial"] = true
		sp := n.created(split)
		if sp["amount_captured"] != 9000.0 {
			t.Fatalf("split tender: %v", sp)
		}
		r := n.refund(sp["id"].(string), 3000)
		expectStatus(t, r, http.StatusCreated, "")
		if r.json(t)["status"] != "succeeded" {
			t.Fatalf("refund: %s", r.body)
		}
		cash := n.toppedUp(topUpBody(5000, "cash", card))
		points := n.toppedUp(topUpBody(100, "points", card))
		undone := n.toppedUp(topUpBody(2000, "cash", card))
		for _, tu := range []map[string]any{cash, points, undone} {
			if tu["status"] != "succeeded" {
				t.Fatalf("top-up: %v", tu)
			}
		}
		c := n.cancelTopUp(undone["id"].(string))
		expectStatus(t, c, http.StatusOK, "")
		if c.json(t)["status"] != "canceled" {
			t.Fatalf("top-up cancel: %s", c.body)
		}
		st := n.app.Store
		checkLedger(t, st)
		expectPosted(t, st, "top_up:"+undone["id"].(string)+":succeeded", "top_up:"+undone["id"].(string)+":canceled",
			"top_up:"+points["id"].(string)+":succeeded")
		expectLedgerBalances(t, st, map[string]int64{
			"partner_clearing:nanaco JPY":    1000 + 9000 - 3000,
			"store_receivable:store-a JPY":   1000 + 9000 - 3000 - 5000,
			"stored_value_issued:nanaco JPY": 5100,
			"points_redeemed:nanaco JPY":     100,
		})
	})
}

// TestLedgerTamperingIsCaught: the database refuses to change or remove an entry; an entry
// slipped in, or entries changed behind the triggers' back (dropped by the database's
// owner), fail the check, naming the transaction or the account.
func TestLedgerTamperingIsCaught(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		id := e.pay(e.a, barcodePayment(1000, barcodeOK)).json(t)["id"].(string)
		checkLedger(t, st)
		raw, postgres, ok := storetest.RawSQL(t, st)
		if !ok {
			t.Fatal("no raw access")
		}
		ctx := context.Background()
		txID := "payment:" + id + ":captured"
		exec := func(query string, args ...any) error {
			_, err := raw.ExecContext(ctx, storetest.Rebind(query, postgres), args...)
			return err
		}
		if err := exec("UPDATE ledger_entries SET debit = 1 WHERE transaction_id = ?", txID); err == nil {
			t.Fatal("an UPDATE of an entry was not refused")
		}
		if err := exec("DELETE FROM ledger_entries WHERE transaction_id = ?", txID); err == nil {
			t.Fatal("a DELETE of an entry was not refused")
		}

		// The owner drops the triggers and lowers both sides of the posting: each
		// transaction still balances, but the ledger no longer agrees with the payment.
		if postgres {
			if err := exec("ALTER TABLE ledger_entries DISABLE TRIGGER USER"); err != nil {
				t.Fatal(err)
			}
		} else {
			for _, trg := range []string{"ledger_entries_no_update", "ledger_entries_no_delete"} {
				if err := exec("DROP TRIGGER " + trg); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := exec("UPDATE ledger_entries SET debit = CASE WHEN debit > 0 THEN 900 ELSE 0 END, "+
			"credit = CASE WHEN credit > 0 THEN 900 ELSE 0 END WHERE transaction_id = ?", txID); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err := app.CheckLedger(ctx, st, 0, &out)
		if err == nil || !strings.Contains(out.String(), "account partner_clearing:paypay: ledger balance 900 JPY, payments, refunds and top-ups say 1000 JPY") {
			t.Fatalf("balanced tampering: %v\n%s", err, out.String())
		}

		// An entry slipped into the posting unbalances it.
		if err := exec("UPDATE ledger_entries SET debit = CASE WHEN debit > 0 THEN 1000 ELSE 0 END, "+
			"credit = CASE WHEN credit > 0 THEN 1000 ELSE 0 END WHERE transaction_id = ?", txID); err != nil {
			t.Fatal(err)
		}
		checkLedger(t, st) // restored
		if err := exec("INSERT INTO ledger_entries (id, transaction_id, line, account, currency, debit, credit) VALUES (?, ?, 3, 'store_receivable:store-a', 'JPY', 0, 50)",
			txID+"#3", txID); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		err = app.CheckLedger(ctx, st, 0, &out)
		if err == nil || !strings.Contains(out.String(), "transaction "+txID+": ledger transaction does not balance: "+txID+" debits 1000 JPY, credits 1050 JPY") {
			t.Fatalf("unbalanced tampering: %v\n%s", err, out.String())
		}
	})
}
