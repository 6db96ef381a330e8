package nanaco

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// control sends an unauthenticated /_sim/ request and decodes the JSON answer into out.
func (h *harness) control(method, path, body string, out any) int {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			h.t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	}
	if rec.Header().Get(HeaderSignature) != "" {
		h.t.Fatalf("%s %s is signed", method, path)
	}
	return rec.Code
}

func TestControlClock(t *testing.T) {
	h := newHarness(t)
	var c clockState
	if h.control("GET", "/_sim/clock", "", &c) != 200 || c.Now != "2026-11-28T10:15:30+09:00" || c.BusinessDate != "20261128" {
		t.Fatalf("clock %+v", c)
	}
	if h.control("PUT", "/_sim/clock", `{"advance":"14h"}`, &c) != 200 || c.BusinessDate != "20261129" {
		t.Fatalf("clock %+v", c)
	}
	if !h.clock.Now().Equal(time.Date(2026, 11, 29, 0, 15, 30, 0, JST)) {
		t.Fatalf("the manual clock itself moves: %v", h.clock.Now())
	}
	if h.control("PUT", "/_sim/clock", `{"now":"2027-01-01T00:00:00+09:00"}`, &c) != 200 || c.BusinessDate != "20270101" {
		t.Fatalf("clock %+v", c)
	}
	if h.control("PUT", "/_sim/clock", `{"now":"2027-01-01T00:00:00+09:00","advance":"1h"}`, nil) != 400 {
		t.Fatal("both now and advance accepted")
	}

	// A clock the simulator cannot set moves by an offset.
	s := New(Config{Clock: fixedClock{testStart}})
	s.Advance(48 * time.Hour)
	if s.BusinessDate() != "20261130" {
		t.Fatalf("offset clock %s", s.BusinessDate())
	}
	s.SetNow(time.Date(2026, 12, 24, 12, 0, 0, 0, JST))
	if s.BusinessDate() != "20261224" {
		t.Fatalf("offset clock %s", s.BusinessDate())
	}
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func TestControlLedgerCardsFlags(t *testing.T) {
	h := newHarness(t)
	p := h.ok(h.pay(testTerminal, FixtureActive, 1500, "merchantRef", "pay_01"))
	h.ok(h.post("/ncs/v1/refunds", h.vm(testTerminal, "originalTxnId", p.str("centerTxnId"), "amount", 500)))

	var ledger struct {
		Transactions []LedgerEntry `json:"transactions"`
	}
	if h.control("GET", "/_sim/ledger", "", &ledger) != 200 || len(ledger.Transactions) != 2 {
		t.Fatalf("ledger %+v", ledger)
	}
	pay, ref := ledger.Transactions[0], ledger.Transactions[1]
	if pay.Type != TypePayment || pay.Status != StatusRefundedPartial || pay.RefundedAmount != 500 || pay.MerchantRef != "pay_01" ||
		pay.NanacoNumber != FixtureActive || pay.TerminalSeq != 1 || pay.BalanceAfter != 8500 {
		t.Fatalf("payment %+v", pay)
	}
	if ref.Type != TypeRefund || ref.OriginalTxnID != pay.CenterTxnID || ref.CreditedTo != CreditedBalance || ref.BalanceAfter != 9000 {
		t.Fatalf("refund %+v", ref)
	}
	var one LedgerEntry
	if h.control("GET", "/_sim/ledger/"+pay.CenterTxnID, "", &one) != 200 || one.CenterTxnID != pay.CenterTxnID {
		t.Fatalf("entry %+v", one)
	}
	if h.control("GET", "/_sim/ledger/NC000000000000000999", "", nil) != 404 {
		t.Fatal("unknown entry found")
	}

	var card CardState
	if h.control("GET", "/_sim/cards/"+FixtureActive, "", &card) != 200 || card.Balance != 9000 || card.Points != 120 {
		t.Fatalf("card %+v", card)
	}
	if h.control("PUT", "/_sim/cards/7000000000000100", `{"cardType":"GOOGLE_PAY","balance":1234,"centerHeld":10,"points":7}`, &card) != 200 ||
		card.IDm != "0114000000000100" || card.Balance != 1234 || card.Status != CardActive || card.Points != 7 {
		t.Fatalf("put card %+v", card)
	}
	h.ok(h.pay(testTerminal, "7000000000000100", 234))
	if h.control("PUT", "/_sim/cards/7000000000000101", `{"balance":50001}`, nil) != 400 {
		t.Fatal("a card above the cap")
	}
	var cards struct {
		Cards []CardState `json:"cards"`
	}
	if h.control("GET", "/_sim/cards", "", &cards) != 200 || len(cards.Cards) != 9 || cards.Cards[8].Balance != 1000 {
		t.Fatalf("cards %+v", cards)
	}

	var flags Flags
	if h.control("PUT", "/_sim/flags", `{"pendingChipWrite":true}`, &flags) != 200 || !flags.PendingChipWrite || !flags.CancelSupported || flags.RefundWindowDays != 90 {
		t.Fatalf("flags %+v", flags)
	}
	if h.control("PUT", "/_sim/flags", `{"pendingChipWrites":true}`, nil) != 400 {
		t.Fatal("unknown flag accepted")
	}

	// Pending chip writes settled over HTTP.
	pp := h.ok(h.pay(testTerminal, FixtureApplePay, 1000))
	var settled LedgerEntry
	if h.control("PUT", "/_sim/pending/"+pp.str("centerTxnId"), `{"outcome":"reverse"}`, &settled) != 200 || settled.Status != StatusReversed {
		t.Fatalf("settled %+v", settled)
	}
	if h.control("PUT", "/_sim/pending/"+pp.str("centerTxnId"), `{"outcome":"confirm"}`, nil) != 409 {
		t.Fatal("settled twice")
	}
	if h.control("PUT", "/_sim/pending/NC000000000000000999", `{"outcome":"confirm"}`, nil) != 404 {
		t.Fatal("unknown transaction settled")
	}
	if h.control("PUT", "/_sim/pending/"+pp.str("centerTxnId"), `{"outcome":"maybe"}`, nil) != 400 {
		t.Fatal("bad outcome accepted")
	}
	h.balances(FixtureApplePay, 5000, 0)

	// In progress over HTTP.
	mark := `{"terminalId":"till-9","businessDate":"20261128","terminalSeq":4}`
	if h.control("PUT", "/_sim/in-progress", mark, nil) != 200 {
		t.Fatal("mark")
	}
	if q := h.ok(h.post("/ncs/v1/transactions/inquiry", `{"businessDate":"20261128","terminalSeq":4,"terminalId":"till-9"}`)); q.str("status") != StatusInProgress {
		t.Fatalf("inquiry %s", q)
	}
	if h.control("DELETE", "/_sim/in-progress", mark, nil) != 200 {
		t.Fatal("clear")
	}

	// Reset: back to the seeded cards.
	if h.control("POST", "/_sim/reset", "", nil) != 200 || len(h.sim.Ledger()) != 0 {
		t.Fatal("reset")
	}
	h.balances(FixtureActive, 10000, 0)
	if _, ok := h.sim.Card("7000000000000100"); ok {
		t.Fatal("a put card survived the reset")
	}

	if h.control("GET", "/_sim/nothing", "", nil) != 404 || h.control("POST", "/_sim/ledger", "", nil) != http.StatusMethodNotAllowed {
		t.Fatal("routing")
	}
}
