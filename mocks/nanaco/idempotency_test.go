package nanaco

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// docs/partners/nanaco.md §B3 and the inquiry of §B5/§B6.
func TestIdempotency(t *testing.T) {
	const pay = "/ncs/v1/payments"
	body := func(seq int, date string, amount int) string {
		return fmt.Sprintf(`{"terminalSeq":%d,"businessDate":%q,"nanacoNumber":"7000000000000001","amount":%d}`, seq, date, amount)
	}

	t.Run("replay of identical bytes", func(t *testing.T) {
		h := newHarness(t)
		first := h.ok(h.post(pay, body(1, "20261128", 700)))
		h.clock.Advance(2 * time.Minute)
		again := h.ok(h.post(pay, body(1, "20261128", 700))) // a new nonce, the same key and bytes
		if !bytes.Equal(first.raw, again.raw) || again.header.Get(HeaderReplayed) != "true" || first.header.Get(HeaderReplayed) != "" {
			t.Fatalf("first %s %v\nagain %s %v", first, first.header, again, again.header)
		}
		if first.header.Get(HeaderTimestamp) == again.header.Get(HeaderTimestamp) {
			t.Fatal("the replay was not signed afresh")
		}
		h.balances(FixtureActive, 9300, 0)
		if n := len(h.sim.Ledger()); n != 1 {
			t.Fatalf("%d transactions", n)
		}
		// Days later, on another business date, the key is still answered.
		h.clock.Advance(72 * time.Hour)
		late := h.ok(h.post(pay, body(1, "20261128", 700)))
		if !bytes.Equal(first.raw, late.raw) {
			t.Fatalf("late replay %s", late)
		}
	})

	t.Run("the same key with other bytes", func(t *testing.T) {
		h := newHarness(t)
		first := h.ok(h.post(pay, body(1, "20261128", 700)))
		r := h.refused(h.post(pay, body(1, "20261128", 701)), 409, CodeSeqReused)
		if r.str("error.details.centerTxnId") != first.str("centerTxnId") {
			t.Fatalf("details %s", r)
		}
		// Same values, different bytes (whitespace): not identical.
		h.refused(h.post(pay, `{"terminalSeq":1, "businessDate":"20261128","nanacoNumber":"7000000000000001","amount":700}`), 409, CodeSeqReused)
		// The same key and bytes on another operation.
		h.refused(h.post("/ncs/v1/transfers", body(1, "20261128", 700)), 409, CodeSeqReused)
		// Keys are per terminal: another till's seq 1 is its own.
		h.ok(h.postFrom(otherTill, pay, body(1, "20261128", 700)))
		h.balances(FixtureActive, 8600, 0)
	})

	t.Run("a refusal keeps nothing", func(t *testing.T) {
		h := newHarness(t)
		h.refused(h.post(pay, body(1, "20261128", 20000)), 422, CodeInsufficientBalance)
		h.refused(h.post(pay, body(1, "20261128", 20000)), 422, CodeInsufficientBalance) // re-evaluated, not replayed
		h.ok(h.post(pay, `{"terminalSeq":1,"businessDate":"20261128","nanacoNumber":"7000000000000001","amount":20000,"allowPartial":true}`))
		h.balances(FixtureActive, 0, 0)
	})

	t.Run("a stale business date on a new key", func(t *testing.T) {
		h := newHarness(t)
		r := h.refused(h.post(pay, body(1, "20261127", 700)), 400, CodeBusinessDateInvalid)
		if r.str("error.details.businessDate") != "20261128" {
			t.Fatalf("details %s", r)
		}
		h.refused(h.post(pay, body(1, "20261129", 700)), 400, CodeBusinessDateInvalid)
		h.refused(h.post(pay, body(1, "2026112", 700)), 400, CodeInvalidRequest)
		h.refused(h.post(pay, body(0, "20261128", 700)), 400, CodeInvalidRequest)
		h.refused(h.post(pay, body(1000000, "20261128", 700)), 400, CodeInvalidRequest)
		h.ok(h.post(pay, body(999999, "20261128", 700)))
		// Midnight JST moves the business date.
		h.clock.Set(time.Date(2026, 11, 28, 14, 59, 59, 0, time.UTC)) // 23:59:59 JST
		h.ok(h.post(pay, body(2, "20261128", 700)))
		h.clock.Advance(time.Second)
		h.refused(h.post(pay, body(3, "20261128", 700)), 400, CodeBusinessDateInvalid)
		h.ok(h.post(pay, body(3, "20261129", 700)))
	})

	t.Run("found:false fences the key", func(t *testing.T) {
		h := newHarness(t)
		q := h.ok(h.post("/ncs/v1/transactions/inquiry", `{"businessDate":"20261128","terminalSeq":5}`))
		if q.get("found") != false || len(q.body) != 1 {
			t.Fatalf("inquiry %s", q)
		}
		// The request arrives late: refused, nothing happens.
		h.refused(h.post(pay, body(5, "20261128", 700)), 409, CodeSeqFenced)
		h.balances(FixtureActive, 10000, 0)
		q = h.ok(h.post("/ncs/v1/transactions/inquiry", `{"businessDate":"20261128","terminalSeq":5}`))
		if q.get("found") != false {
			t.Fatalf("second inquiry %s", q)
		}
		// Another terminal's key fenced by name.
		h.ok(h.post("/ncs/v1/transactions/inquiry", fmt.Sprintf(`{"businessDate":"20261128","terminalSeq":6,"terminalId":%q}`, otherTill)))
		h.refused(h.postFrom(otherTill, pay, body(6, "20261128", 700)), 409, CodeSeqFenced)
		h.ok(h.post(pay, body(6, "20261128", 700))) // this terminal's seq 6 is another key
	})

	t.Run("inquiry of a committed key", func(t *testing.T) {
		h := newHarness(t)
		p := h.ok(h.post(pay, body(1, "20261128", 700)))
		// From another terminal, a key must name its terminal; without, it is that terminal's.
		if r := h.ok(h.postFrom(otherTill, "/ncs/v1/transactions/inquiry", `{"businessDate":"20261128","terminalSeq":1}`)); r.get("found") != false {
			t.Fatalf("another terminal's key without terminalId: %s", r)
		}
		for _, q := range []string{fmt.Sprintf(`{"businessDate":"20261128","terminalSeq":1,"terminalId":%q}`, testTerminal),
			fmt.Sprintf(`{"centerTxnId":%q}`, p.str("centerTxnId"))} {
			r := h.ok(h.postFrom(otherTill, "/ncs/v1/transactions/inquiry", q))
			if r.get("found") != true || r.str("type") != TypePayment || r.str("status") != StatusApproved || r.num("amount") != 700 ||
				r.num("requestedAmount") != 700 || r.num("refundedAmount") != 0 || r.str("centerTxnId") != p.str("centerTxnId") {
				t.Fatalf("inquiry %s", r)
			}
			if o, _ := r.get("original").(map[string]any); o["centerTxnId"] != p.str("centerTxnId") || o["balanceAfter"].(json.Number) != "9300" {
				t.Fatalf("original %s", r)
			}
		}
		// The status follows the transaction.
		h.ok(h.post("/ncs/v1/refunds", fmt.Sprintf(`{"terminalSeq":2,"businessDate":"20261128","originalTxnId":%q,"amount":200}`, p.str("centerTxnId"))))
		r := h.ok(h.post("/ncs/v1/transactions/inquiry", fmt.Sprintf(`{"centerTxnId":%q}`, p.str("centerTxnId"))))
		if r.str("status") != StatusRefundedPartial || r.num("refundedAmount") != 200 {
			t.Fatalf("inquiry %s", r)
		}
		// Unknown ids are not found (and fence nothing).
		r = h.ok(h.post("/ncs/v1/transactions/inquiry", `{"centerTxnId":"NC000000000000000777"}`))
		if r.get("found") != false {
			t.Fatalf("inquiry %s", r)
		}
		h.refused(h.post("/ncs/v1/transactions/inquiry", fmt.Sprintf(`{"centerTxnId":%q,"terminalSeq":1}`, p.str("centerTxnId"))), 400, CodeInvalidRequest)
		h.refused(h.post("/ncs/v1/transactions/inquiry", `{}`), 400, CodeInvalidRequest)
	})

	t.Run("in progress", func(t *testing.T) {
		h := newHarness(t)
		if err := h.sim.MarkInProgress(testTerminal, "20261128", 3); err != nil {
			t.Fatal(err)
		}
		q := h.ok(h.post("/ncs/v1/transactions/inquiry", `{"businessDate":"20261128","terminalSeq":3}`))
		if q.get("found") != true || q.str("status") != StatusInProgress {
			t.Fatalf("inquiry %s", q)
		}
		h.ok(h.post(pay, body(3, "20261128", 700))) // the request lands: processed
		q = h.ok(h.post("/ncs/v1/transactions/inquiry", `{"businessDate":"20261128","terminalSeq":3}`))
		if q.str("status") != StatusApproved {
			t.Fatalf("inquiry %s", q)
		}
		if err := h.sim.MarkInProgress(testTerminal, "20261128", 3); err == nil {
			t.Fatal("marked a used key")
		}
	})

	t.Run("centerTxnIds count up", func(t *testing.T) {
		h := newHarness(t)
		h.refused(h.post(pay, body(1, "20261128", 20000)), 422, CodeInsufficientBalance)
		a := h.ok(h.post(pay, body(2, "20261128", 1)))
		b := h.ok(h.post(pay, body(3, "20261128", 1)))
		if a.str("centerTxnId") != "NC000000000000000001" || b.str("centerTxnId") != "NC000000000000000002" {
			t.Fatalf("ids %s %s", a.str("centerTxnId"), b.str("centerTxnId"))
		}
	})
}

// The PendingChipWrite flag (docs/partners/nanaco.md §B8, §B6): both outcomes, driven by
// the test.
func TestPendingChipWrite(t *testing.T) {
	pending := func(c *Config) { f := DefaultFlags(); f.PendingChipWrite = true; c.Flags = &f }
	inquire := func(h *harness, id string) response {
		return h.ok(h.post("/ncs/v1/transactions/inquiry", fmt.Sprintf(`{"centerTxnId":%q}`, id)))
	}

	t.Run("reversed", func(t *testing.T) {
		h := newHarness(t, pending)
		p := h.ok(h.pay(testTerminal, FixtureActive, 4000, "pointEligibleAmount", 4000))
		id := p.str("centerTxnId")
		if p.str("status") != StatusPendingConfirmation || p.num("balanceAfter") != 6000 {
			t.Fatalf("payment %s", p)
		}
		if r := inquire(h, id); r.str("status") != StatusPendingConfirmation {
			t.Fatalf("inquiry %s", r)
		}
		if err := h.sim.SettlePending(id, false); err != nil {
			t.Fatal(err)
		}
		r := inquire(h, id)
		if r.str("status") != StatusReversed {
			t.Fatalf("inquiry %s", r)
		}
		if o, _ := r.get("original").(map[string]any); o["status"] != StatusPendingConfirmation {
			t.Fatalf("the original answer changed: %s", r)
		}
		if st := h.card(FixtureActive); st.Balance != 10000 || st.Points != 120 {
			t.Fatalf("card %+v", st)
		}
		if err := h.sim.SettlePending(id, true); err == nil {
			t.Fatal("settled twice")
		}
		h.refused(h.post("/ncs/v1/payments/cancel", h.vm(testTerminal, "originalTxnId", id)), 409, CodeAlreadyCancelled)
	})

	t.Run("confirmed", func(t *testing.T) {
		h := newHarness(t, pending)
		p := h.ok(h.pay(testTerminal, FixtureActive, 4000))
		if err := h.sim.SettlePending(p.str("centerTxnId"), true); err != nil {
			t.Fatal(err)
		}
		if r := inquire(h, p.str("centerTxnId")); r.str("status") != StatusApproved {
			t.Fatalf("inquiry %s", r)
		}
		h.balances(FixtureActive, 6000, 0)
	})

	t.Run("a balance-check tap confirms", func(t *testing.T) {
		h := newHarness(t, pending)
		p := h.ok(h.pay(testTerminal, FixtureActive, 4000))
		h.ok(h.post("/ncs/v1/cards/inquiry", `{"nanacoNumber":"7000000000000001","receivePending":true}`))
		if r := inquire(h, p.str("centerTxnId")); r.str("status") != StatusApproved {
			t.Fatalf("inquiry %s", r)
		}
	})

	t.Run("flag switched at run time", func(t *testing.T) {
		h := newHarness(t)
		h.ok(h.pay(testTerminal, FixtureActive, 1)) // APPROVED
		f := h.sim.Flags()
		f.PendingChipWrite = true
		h.sim.SetFlags(f)
		if p := h.ok(h.pay(testTerminal, FixtureActive, 1)); p.str("status") != StatusPendingConfirmation {
			t.Fatalf("payment %s", p)
		}
	})
}
