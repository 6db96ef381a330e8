package nanaco

import (
	"net/http"
	"testing"
	"time"
)

// The rules of docs/partners/nanaco.md §B5 and their refusals (§B7), each on a fresh
// simulator.
func TestRules(t *testing.T) {
	const (
		pay    = "/ncs/v1/payments"
		charge = "/ncs/v1/charges"
		xfer   = "/ncs/v1/transfers"
	)
	type check struct {
		status int
		code   string
		// details that must be present, with their values
		details map[string]int
		// fields of a 200 answer
		fields map[string]int
		// the card's balance and centre-held afterwards (-1: not checked)
		card            string
		balance, center int
	}
	cases := []struct {
		name     string
		terminal string
		path     string
		body     []any
		want     check
	}{
		// Payments.
		{"payment", testTerminal, pay, []any{"nanacoNumber", FixtureActive, "amount", 1200, "pointEligibleAmount", 1111},
			check{status: 200, fields: map[string]int{"amount": 1200, "requestedAmount": 1200, "balanceAfter": 8800, "pointsAwarded": 5},
				card: FixtureActive, balance: 8800}},
		{"payment by idm", testTerminal, pay, []any{"idm", "0114000000000007", "amount", 5000},
			check{status: 200, fields: map[string]int{"balanceAfter": 0}, card: FixtureApplePay, balance: 0}},
		{"insufficient balance", testTerminal, pay, []any{"nanacoNumber", FixtureActive, "amount", 10001},
			check{status: 422, code: CodeInsufficientBalance, details: map[string]int{"balance": 10000}, card: FixtureActive, balance: 10000}},
		{"allowPartial debits the balance", testTerminal, pay, []any{"nanacoNumber", FixtureActive, "amount", 12500, "pointEligibleAmount", 12500, "allowPartial", true},
			check{status: 200, fields: map[string]int{"amount": 10000, "requestedAmount": 12500, "balanceBefore": 10000, "balanceAfter": 0, "pointsAwarded": 50},
				card: FixtureActive, balance: 0}},
		{"allowPartial on an empty card", testTerminal, pay, []any{"nanacoNumber", FixtureCenterHeld, "amount", 100, "allowPartial", true},
			check{status: 422, code: CodeInsufficientBalance, details: map[string]int{"balance": 0}, card: FixtureCenterHeld, balance: 0, center: 20000}},
		{"centre-held is not spendable", testTerminal, pay, []any{"nanacoNumber", FixtureCenterHeld, "amount", 100},
			check{status: 422, code: CodeInsufficientBalance, card: FixtureCenterHeld, balance: 0, center: 20000}},
		{"pointEligibleAmount above amount", testTerminal, pay, []any{"nanacoNumber", FixtureActive, "amount", 100, "pointEligibleAmount", 101},
			check{status: 400, code: CodeAmountInvalid, card: FixtureActive, balance: 10000}},
		{"suspended card", testTerminal, pay, []any{"nanacoNumber", FixtureSuspended, "amount", 100},
			check{status: 422, code: CodeCardSuspended, card: FixtureSuspended, balance: 3000}},
		{"lost card", testTerminal, pay, []any{"nanacoNumber", FixtureLost, "amount", 100},
			check{status: 422, code: CodeCardLost, card: FixtureLost, balance: 5000}},
		{"migrated card", testTerminal, pay, []any{"nanacoNumber", FixtureMigrated, "amount", 100},
			check{status: 422, code: CodeCardMigrated, card: FixtureMigrated}},
		{"closed card", testTerminal, pay, []any{"nanacoNumber", FixtureClosed, "amount", 100},
			check{status: 422, code: CodeCardClosed, card: FixtureClosed}},
		{"unknown card", testTerminal, pay, []any{"nanacoNumber", "7000000000000099", "amount", 100},
			check{status: 404, code: CodeCardNotFound, card: FixtureActive, balance: 10000}},

		// Cash top-ups.
		{"cash", testTerminal, charge, []any{"nanacoNumber", FixtureActive, "amount", 40000, "fundingSource", "CASH"},
			check{status: 200, fields: map[string]int{"balanceAfter": 50000, "centerHeldAfter": 0, "pointsAfter": 120}, card: FixtureActive, balance: 50000}},
		{"cash not in ¥1,000 units", testTerminal, charge, []any{"nanacoNumber", FixtureActive, "amount", 1500, "fundingSource", "CASH"},
			check{status: 400, code: CodeAmountNotMultipleOf1000, card: FixtureActive, balance: 10000}},
		{"cash above ¥49,000", testTerminal, charge, []any{"nanacoNumber", FixtureCenterHeld, "amount", 50000, "fundingSource", "CASH"},
			check{status: 422, code: CodeChargeLimitExceeded, details: map[string]int{"limit": 49000}, card: FixtureCenterHeld, center: 20000}},
		{"cash past the cap", testTerminal, charge, []any{"nanacoNumber", FixtureNearCap, "amount", 1000, "fundingSource", "CASH"},
			check{status: 422, code: CodeBalanceCapExceeded, details: map[string]int{"maxChargeable": 500, "centerHeldRoom": 50000}, card: FixtureNearCap, balance: 49500}},
		{"cash to a lost card", testTerminal, charge, []any{"nanacoNumber", FixtureLost, "amount", 1000, "fundingSource", "CASH"},
			check{status: 422, code: CodeCardLost, card: FixtureLost, balance: 5000}},
		{"unknown funding", testTerminal, charge, []any{"nanacoNumber", FixtureActive, "amount", 1000, "fundingSource", "GIFT"},
			check{status: 400, code: CodeInvalidRequest, card: FixtureActive, balance: 10000}},

		// Credit top-ups land in centre-held.
		{"credit", testTerminal, charge, []any{"nanacoNumber", FixtureActive, "amount", 30000, "fundingSource", "CREDIT"},
			check{status: 200, fields: map[string]int{"balanceAfter": 10000, "centerHeldAfter": 30000}, card: FixtureActive, balance: 10000, center: 30000}},
		{"credit above ¥30,000 a charge", testTerminal, charge, []any{"nanacoNumber", FixtureActive, "amount", 30001, "fundingSource", "CREDIT"},
			check{status: 422, code: CodeChargeLimitExceeded, details: map[string]int{"limit": 30000}, card: FixtureActive, balance: 10000}},
		{"credit up to the centre-held cap", testTerminal, charge, []any{"nanacoNumber", FixtureCenterHeld, "amount", 30000, "fundingSource", "CREDIT"},
			check{status: 200, fields: map[string]int{"centerHeldAfter": 50000}, card: FixtureCenterHeld, center: 50000}},

		// Points.
		{"points", testTerminal, charge, []any{"nanacoNumber", FixtureActive, "amount", 100, "fundingSource", "POINTS"},
			check{status: 200, fields: map[string]int{"balanceAfter": 10100, "pointsAfter": 20}, card: FixtureActive, balance: 10100}},
		{"more points than held", testTerminal, charge, []any{"nanacoNumber", FixtureActive, "amount", 121, "fundingSource", "POINTS"},
			check{status: 422, code: CodeInsufficientBalance, details: map[string]int{"points": 120}, card: FixtureActive, balance: 10000}},

		// Transfers land in centre-held, from enabled terminals only.
		{"transfer past the centre-held cap", "MIG-batch-1", xfer, []any{"nanacoNumber", FixtureCenterHeld, "amount", 35000, "sourceRef", "batch-1/row-7"},
			check{status: 422, code: CodeBalanceCapExceeded, details: map[string]int{"centerHeldRoom": 30000}, card: FixtureCenterHeld, center: 20000}},
		{"transfer with allowPartial", "MIG-batch-1", xfer, []any{"nanacoNumber", FixtureCenterHeld, "amount", 35000, "allowPartial", true},
			check{status: 200, fields: map[string]int{"amount": 30000, "requestedAmount": 35000, "centerHeldAfter": 50000}, card: FixtureCenterHeld, center: 50000}},
		{"transfer from a configured terminal", "compensation-1", xfer, []any{"nanacoNumber", FixtureActive, "amount", 700},
			check{status: 200, fields: map[string]int{"amount": 700, "centerHeldAfter": 700}, card: FixtureActive, balance: 10000, center: 700}},
		{"transfer from a till", testTerminal, xfer, []any{"nanacoNumber", FixtureActive, "amount", 700},
			check{status: 403, code: CodeTerminalNotAllowed, card: FixtureActive, balance: 10000}},
		{"transfer to a suspended card", "MIG-batch-1", xfer, []any{"nanacoNumber", FixtureSuspended, "amount", 700},
			check{status: 422, code: CodeCardSuspended, card: FixtureSuspended, balance: 3000}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.TransferTerminals = []string{"compensation-1"} })
			r := h.postFrom(tc.terminal, tc.path, h.vm(tc.terminal, tc.body...))
			w := tc.want
			if w.status == 200 {
				h.ok(r)
			} else {
				h.refused(r, w.status, w.code)
			}
			for k, v := range w.details {
				if got := r.num("error.details." + k); got != v {
					t.Errorf("details.%s = %d, want %d (%s)", k, got, v, r)
				}
			}
			for k, v := range w.fields {
				if got := r.num(k); got != v {
					t.Errorf("%s = %d, want %d (%s)", k, got, v, r)
				}
			}
			h.balances(w.card, w.balance, w.center)
			if w.status != 200 && len(h.sim.Ledger()) != 0 {
				t.Errorf("a refusal is in the ledger: %+v", h.sim.Ledger())
			}
		})
	}
}

func TestPaymentCancel(t *testing.T) {
	const cancel = "/ncs/v1/payments/cancel"
	t.Run("same terminal, same day", func(t *testing.T) {
		h := newHarness(t)
		p := h.ok(h.pay(testTerminal, FixtureActive, 2000, "pointEligibleAmount", 2000))
		c := h.ok(h.post(cancel, h.vm(testTerminal, "originalTxnId", p.str("centerTxnId"))))
		if c.str("type") != TypePaymentCancel || c.num("amount") != 2000 || c.num("balanceAfter") != 10000 ||
			c.num("pointsReversed") != 10 || c.str("creditedTo") != CreditedBalance || c.str("originalTxnId") != p.str("centerTxnId") {
			t.Fatalf("cancel %s", c)
		}
		if st := h.card(FixtureActive); st.Balance != 10000 || st.Points != 120 {
			t.Fatalf("card %+v", st)
		}
		if e, _ := h.sim.Txn(p.str("centerTxnId")); e.Status != StatusCancelled || e.CancelledBy != c.str("centerTxnId") {
			t.Fatalf("original %+v", e)
		}
		h.refused(h.post(cancel, h.vm(testTerminal, "originalTxnId", p.str("centerTxnId"))), 409, CodeAlreadyCancelled)
		h.refused(h.post("/ncs/v1/refunds", h.vm(testTerminal, "originalTxnId", p.str("centerTxnId"), "amount", 1)), 409, CodeAlreadyCancelled)
	})
	t.Run("another terminal", func(t *testing.T) {
		h := newHarness(t)
		p := h.ok(h.pay(testTerminal, FixtureActive, 2000))
		r := h.refused(h.postFrom(otherTill, cancel, h.vm(otherTill, "originalTxnId", p.str("centerTxnId"))), 422, CodeTerminalMismatch)
		if r.str("error.details.terminalId") != testTerminal {
			t.Fatalf("details %s", r)
		}
		h.balances(FixtureActive, 8000, 0)
	})
	t.Run("next business date", func(t *testing.T) {
		h := newHarness(t)
		h.clock.Set(time.Date(2026, 11, 28, 23, 59, 58, 0, JST))
		p := h.ok(h.pay(testTerminal, FixtureActive, 2000))
		h.clock.Advance(2 * time.Second) // 00:00:00 JST: the business date is 20261129
		if h.sim.BusinessDate() != "20261129" {
			t.Fatalf("business date %s", h.sim.BusinessDate())
		}
		h.refused(h.post(cancel, h.vm(testTerminal, "originalTxnId", p.str("centerTxnId"))), 422, CodeCancelWindowExpired)
		h.balances(FixtureActive, 8000, 0)
		// The fallback is a re-credit refund.
		h.ok(h.post("/ncs/v1/refunds", h.vm(testTerminal, "originalTxnId", p.str("centerTxnId"), "amount", 2000)))
		h.balances(FixtureActive, 10000, 0)
	})
	t.Run("not supported", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { f := DefaultFlags(); f.CancelSupported = false; c.Flags = &f })
		p := h.ok(h.pay(testTerminal, FixtureActive, 2000))
		h.refused(h.post(cancel, h.vm(testTerminal, "originalTxnId", p.str("centerTxnId"))), 422, CodeCancelNotSupported)
	})
	t.Run("after a refund", func(t *testing.T) {
		h := newHarness(t)
		p := h.ok(h.pay(testTerminal, FixtureActive, 2000))
		h.ok(h.post("/ncs/v1/refunds", h.vm(testTerminal, "originalTxnId", p.str("centerTxnId"), "amount", 500)))
		h.refused(h.post(cancel, h.vm(testTerminal, "originalTxnId", p.str("centerTxnId"))), 409, CodeAlreadyRefunded)
	})
	t.Run("restored value past the cap goes to centre-held", func(t *testing.T) {
		h := newHarness(t)
		p := h.ok(h.pay(testTerminal, FixtureNearCap, 20000))
		h.ok(h.post("/ncs/v1/charges", h.vm(testTerminal, "nanacoNumber", FixtureNearCap, "amount", 20000, "fundingSource", "CASH")))
		c := h.ok(h.post(cancel, h.vm(testTerminal, "originalTxnId", p.str("centerTxnId"))))
		if c.str("creditedTo") != CreditedCenterHeld || c.num("balanceAfter") != 49500 || c.num("centerHeldAfter") != 20000 {
			t.Fatalf("cancel %s", c)
		}
	})
	t.Run("unknown or not a payment", func(t *testing.T) {
		h := newHarness(t)
		ch := h.ok(h.post("/ncs/v1/charges", h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 1000, "fundingSource", "CASH")))
		h.refused(h.post(cancel, h.vm(testTerminal, "originalTxnId", ch.str("centerTxnId"))), 404, CodeTxnNotFound)
		h.refused(h.post(cancel, h.vm(testTerminal, "originalTxnId", "NC000000000000000099")), 404, CodeTxnNotFound)
		h.refused(h.post(cancel, h.vm(testTerminal, "originalTxnId", "X1")), 400, CodeInvalidRequest)
	})
}

func TestRefunds(t *testing.T) {
	const refund = "/ncs/v1/refunds"
	h := newHarness(t)
	p := h.ok(h.pay(testTerminal, FixtureActive, 6000, "pointEligibleAmount", 6000)) // 30 points
	id := p.str("centerTxnId")

	// From any terminal, to the balance, points reversed in proportion.
	r := h.ok(h.postFrom(otherTill, refund, h.vm(otherTill, "originalTxnId", id, "amount", 2000, "pointEligibleAmount", 2000, "reason", "returned item")))
	if r.str("creditedTo") != CreditedBalance || r.num("balanceAfter") != 6000 || r.num("pointsReversed") != 10 || r.str("type") != TypeRefund {
		t.Fatalf("refund %s", r)
	}
	if e, _ := h.sim.Txn(id); e.Status != StatusRefundedPartial || e.RefundedAmount != 2000 {
		t.Fatalf("original %+v", e)
	}
	// More than what is left.
	x := h.refused(h.post(refund, h.vm(testTerminal, "originalTxnId", id, "amount", 4001)), 422, CodeRefundExceedsOriginal)
	if x.num("error.details.refundable") != 4000 {
		t.Fatalf("details %s", x)
	}
	// When the balance would pass the cap, the refund lands in centre-held.
	h.ok(h.post("/ncs/v1/charges", h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 44000, "fundingSource", "CASH")))
	r = h.ok(h.post(refund, h.vm(testTerminal, "originalTxnId", id, "amount", 4000)))
	if r.str("creditedTo") != CreditedCenterHeld || r.num("balanceAfter") != 50000 || r.num("centerHeldAfter") != 4000 {
		t.Fatalf("refund %s", r)
	}
	if e, _ := h.sim.Txn(id); e.Status != StatusRefunded {
		t.Fatalf("original %+v", e)
	}
	h.refused(h.post(refund, h.vm(testTerminal, "originalTxnId", id, "amount", 1)), 409, CodeAlreadyRefunded)

	// Neither pocket has room: CAP_EXCEEDED.
	h2 := newHarness(t)
	p2 := h2.ok(h2.pay(testTerminal, FixtureActive, 5000))
	h2.ok(h2.post("/ncs/v1/charges", h2.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 45000, "fundingSource", "CASH")))
	h2.ok(h2.postFrom("MIG-1", "/ncs/v1/transfers", h2.vm("MIG-1", "nanacoNumber", FixtureActive, "amount", 48000)))
	c := h2.refused(h2.post(refund, h2.vm(testTerminal, "originalTxnId", p2.str("centerTxnId"), "amount", 5000)), 422, CodeCapExceeded)
	if c.num("error.details.maxChargeable") != 0 || c.num("error.details.centerHeldRoom") != 2000 {
		t.Fatalf("details %s", c)
	}

	// The refund window: 90 days from the business date by default.
	h3 := newHarness(t)
	p3 := h3.ok(h3.pay(testTerminal, FixtureActive, 1000))
	h3.clock.Advance(90 * 24 * time.Hour)
	h3.ok(h3.post(refund, h3.vm(testTerminal, "originalTxnId", p3.str("centerTxnId"), "amount", 100)))
	h3.clock.Advance(24 * time.Hour)
	w := h3.refused(h3.post(refund, h3.vm(testTerminal, "originalTxnId", p3.str("centerTxnId"), "amount", 100)), 422, CodeRefundWindowExpired)
	if w.str("error.details.lastRefundDate") != "20270226" {
		t.Fatalf("details %s", w)
	}
}

func TestChargesAndTheirCancels(t *testing.T) {
	const (
		charge = "/ncs/v1/charges"
		cancel = "/ncs/v1/charges/cancel"
	)
	t.Run("credit limits per day and month", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { f := DefaultFlags(); f.CreditMonthly = 40000; c.Flags = &f })
		h.ok(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureApplePay, "amount", 20000, "fundingSource", "CREDIT")))
		r := h.refused(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureApplePay, "amount", 10001, "fundingSource", "CREDIT")), 422, CodeChargeLimitExceeded)
		if r.str("error.details.window") != "DAILY" || r.num("error.details.remaining") != 10000 || r.num("error.details.limit") != 30000 {
			t.Fatalf("details %s", r)
		}
		h.clock.Advance(24 * time.Hour) // 29 November: a new day, the same month
		h.ok(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureApplePay, "amount", 20000, "fundingSource", "CREDIT")))
		h.clock.Advance(24 * time.Hour)
		m := h.refused(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureApplePay, "amount", 1000, "fundingSource", "CREDIT")), 422, CodeChargeLimitExceeded)
		if m.str("error.details.window") != "MONTHLY" || m.num("error.details.remaining") != 0 {
			t.Fatalf("details %s", m)
		}
		h.clock.Advance(24 * time.Hour) // 1 December: a new month; centre-held has 10,000 of room
		c := h.refused(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureApplePay, "amount", 10001, "fundingSource", "CREDIT")), 422, CodeBalanceCapExceeded)
		if c.num("error.details.centerHeldRoom") != 10000 {
			t.Fatalf("details %s", c)
		}
		h.ok(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureApplePay, "amount", 10000, "fundingSource", "CREDIT")))
		h.balances(FixtureApplePay, 5000, 50000)
	})
	t.Run("points blocked at the cap", func(t *testing.T) {
		h := newHarness(t)
		h.ok(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 30000, "fundingSource", "CREDIT")))
		h.ok(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 10000, "fundingSource", "CASH")))
		h.refused(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 1, "fundingSource", "POINTS")), 422, CodeBalanceCapExceeded)
	})
	t.Run("cancel", func(t *testing.T) {
		h := newHarness(t)
		cash := h.ok(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 5000, "fundingSource", "CASH")))
		credit := h.ok(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 5000, "fundingSource", "CREDIT")))
		points := h.ok(h.post(charge, h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 100, "fundingSource", "POINTS")))
		h.refused(h.postFrom(otherTill, cancel, h.vm(otherTill, "originalTxnId", cash.str("centerTxnId"))), 422, CodeTerminalMismatch)
		r := h.ok(h.post(cancel, h.vm(testTerminal, "originalTxnId", points.str("centerTxnId"))))
		if r.num("pointsAfter") != 120 || r.num("balanceAfter") != 15000 || r.str("type") != TypeChargeCancel {
			t.Fatalf("points cancel %s", r)
		}
		h.ok(h.post(cancel, h.vm(testTerminal, "originalTxnId", credit.str("centerTxnId"))))
		h.balances(FixtureActive, 15000, 0)
		// The value must still be there.
		h.ok(h.pay(testTerminal, FixtureActive, 11000))
		x := h.refused(h.post(cancel, h.vm(testTerminal, "originalTxnId", cash.str("centerTxnId"))), 422, CodeInsufficientBalance)
		if x.num("error.details.balance") != 4000 {
			t.Fatalf("details %s", x)
		}
		// The next day: too late.
		h.clock.Advance(24 * time.Hour)
		h.refused(h.post(cancel, h.vm(testTerminal, "originalTxnId", cash.str("centerTxnId"))), 422, CodeCancelWindowExpired)
	})
}

func TestTransfers(t *testing.T) {
	const (
		xfer   = "/ncs/v1/transfers"
		cancel = "/ncs/v1/transfers/cancel"
		mig    = "MIG-2026-11"
	)
	h := newHarness(t)
	r := h.ok(h.postFrom(mig, xfer, h.vm(mig, "nanacoNumber", FixtureCenterHeld, "amount", 35000, "allowPartial", true, "sourceRef", "wallet-batch-3/row-12", "merchantRef", "mig-77")))
	if r.str("creditedTo") != CreditedCenterHeld || r.num("amount") != 30000 || r.str("sourceRef") != "wallet-batch-3/row-12" || r.str("merchantRef") != "mig-77" {
		t.Fatalf("transfer %s", r)
	}
	// Nothing fits any more, even with allowPartial.
	x := h.refused(h.postFrom(mig, xfer, h.vm(mig, "nanacoNumber", FixtureCenterHeld, "amount", 1, "allowPartial", true)), 422, CodeBalanceCapExceeded)
	if x.num("error.details.centerHeldRoom") != 0 {
		t.Fatalf("details %s", x)
	}
	h.refused(h.postFrom(testTerminal, cancel, h.vm(testTerminal, "originalTxnId", r.str("centerTxnId"))), 422, CodeTerminalMismatch)
	c := h.ok(h.postFrom(mig, cancel, h.vm(mig, "originalTxnId", r.str("centerTxnId"))))
	if c.num("centerHeldAfter") != 20000 || c.str("type") != TypeTransferCancel {
		t.Fatalf("cancel %s", c)
	}
	h.refused(h.postFrom(mig, cancel, h.vm(mig, "originalTxnId", r.str("centerTxnId"))), 409, CodeAlreadyCancelled)

	// Value already received onto the card cannot be taken back.
	r2 := h.ok(h.postFrom(mig, xfer, h.vm(mig, "nanacoNumber", FixtureActive, "amount", 3000)))
	in := h.ok(h.post("/ncs/v1/cards/inquiry", `{"nanacoNumber":"7000000000000001","receivePending":true}`))
	if in.num("balance") != 13000 || in.num("centerHeld") != 0 || in.num("receivedAmount") != 3000 {
		t.Fatalf("inquiry %s", in)
	}
	h.refused(h.postFrom(mig, cancel, h.vm(mig, "originalTxnId", r2.str("centerTxnId"))), 422, CodeInsufficientBalance)

	// Optional limits.
	f := h.sim.Flags()
	f.TransferMax, f.TransferDaily = 5000, 6000
	h.sim.SetFlags(f)
	l := h.refused(h.postFrom(mig, xfer, h.vm(mig, "nanacoNumber", FixtureApplePay, "amount", 5001)), 422, CodeChargeLimitExceeded)
	if l.str("error.details.window") != "PER_TRANSFER" {
		t.Fatalf("details %s", l)
	}
	h.ok(h.postFrom(mig, xfer, h.vm(mig, "nanacoNumber", FixtureApplePay, "amount", 5000)))
	d := h.refused(h.postFrom(mig, xfer, h.vm(mig, "nanacoNumber", FixtureApplePay, "amount", 1001)), 422, CodeChargeLimitExceeded)
	if d.str("error.details.window") != "DAILY" || d.num("error.details.remaining") != 1000 {
		t.Fatalf("details %s", d)
	}
}

func TestCardInquiry(t *testing.T) {
	h := newHarness(t)
	r := h.ok(h.post("/ncs/v1/cards/inquiry", `{"nanacoNumber":"7000000000000006"}`))
	if r.num("balance") != 0 || r.num("centerHeld") != 20000 || r.num("maxChargeable") != 50000 || r.num("centerHeldRoom") != 30000 ||
		r.str("cardType") != CardTypeCard || r.str("status") != CardActive {
		t.Fatalf("inquiry %s", r)
	}
	r = h.ok(h.post("/ncs/v1/cards/inquiry", `{"nanacoNumber":"7000000000000006","receivePending":true}`))
	if r.num("balance") != 20000 || r.num("centerHeld") != 0 || r.num("maxChargeable") != 30000 {
		t.Fatalf("receivePending %s", r)
	}
	// A suspended card answers an inquiry, not a receivePending.
	s := h.ok(h.post("/ncs/v1/cards/inquiry", `{"nanacoNumber":"7000000000000003"}`))
	if s.str("status") != CardSuspended || s.num("balance") != 3000 {
		t.Fatalf("inquiry %s", s)
	}
	h.refused(h.post("/ncs/v1/cards/inquiry", `{"nanacoNumber":"7000000000000003","receivePending":true}`), 422, CodeCardSuspended)
	a := h.ok(h.post("/ncs/v1/cards/inquiry", `{"idm":"0114000000000007"}`))
	if a.str("cardType") != CardTypeApplePay || a.str("nanacoNumber") != FixtureApplePay {
		t.Fatalf("inquiry %s", a)
	}
}

func TestPointExpiry(t *testing.T) {
	h := newHarness(t)
	// The seeded 120 points were earned in fiscal 2025 (April 2025 to March 2026): they
	// last until 31 March 2027.
	r := h.ok(h.post("/ncs/v1/cards/inquiry", `{"nanacoNumber":"7000000000000001"}`))
	exp, _ := r.get("pointsExpiring").([]any)
	if r.num("points") != 120 || len(exp) != 1 || exp[0].(map[string]any)["expiresAt"] != "2027-03-31T23:59:59+09:00" {
		t.Fatalf("inquiry %s", r)
	}
	h.ok(h.pay(testTerminal, FixtureActive, 1000, "pointEligibleAmount", 1000)) // 5 points of fiscal 2026
	h.clock.Set(time.Date(2027, 3, 31, 23, 59, 59, 0, JST))
	if st := h.card(FixtureActive); st.Points != 125 {
		t.Fatalf("points %+v", st)
	}
	h.clock.Advance(time.Second)
	st := h.card(FixtureActive)
	if st.Points != 5 || len(st.PointsExpiring) != 1 || st.PointsExpiring[0].ExpiresAt != "2028-03-31T23:59:59+09:00" {
		t.Fatalf("after expiry %+v", st)
	}
}

func TestSuspend(t *testing.T) {
	const suspend = "/ncs/v1/cards/suspend"
	t.Run("at once", func(t *testing.T) {
		h := newHarness(t)
		r := h.ok(h.post(suspend, `{"nanacoNumber":"7000000000000001","reason":"reported lost by phone"}`))
		if r.str("status") != CardSuspended || len(r.str("transferCode")) != 9 || r.str("effectiveAt") != "2026-11-28T10:15:30+09:00" {
			t.Fatalf("suspend %s", r)
		}
		again := h.ok(h.post(suspend, `{"nanacoNumber":"7000000000000001","reason":"again"}`))
		if again.str("transferCode") != r.str("transferCode") {
			t.Fatalf("a second suspend changed the answer: %s", again)
		}
		h.refused(h.pay(testTerminal, FixtureActive, 100), 422, CodeCardSuspended)
		h.refused(h.post(suspend, `{"nanacoNumber":"7000000000000008","reason":"x"}`), 422, CodeCardClosed)
		h.refused(h.post(suspend, `{"nanacoNumber":"7000000000000001"}`), 400, CodeInvalidRequest)
	})
	t.Run("next day", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { f := DefaultFlags(); f.SuspendNextDay = true; c.Flags = &f })
		r := h.ok(h.post(suspend, `{"nanacoNumber":"7000000000000001","reason":"lost"}`))
		if r.str("effectiveAt") != "2026-11-29T00:00:00+09:00" {
			t.Fatalf("suspend %s", r)
		}
		h.clock.Set(time.Date(2026, 11, 28, 23, 59, 59, 0, JST))
		h.ok(h.pay(testTerminal, FixtureActive, 100)) // before then, payments still succeed
		h.clock.Advance(time.Second)
		h.refused(h.pay(testTerminal, FixtureActive, 100), 422, CodeCardSuspended)
		if st := h.card(FixtureActive); st.Status != CardSuspended || st.Balance != 9900 {
			t.Fatalf("card %+v", st)
		}
	})
}

func TestMigrationsAreNotOffered(t *testing.T) {
	h := newHarness(t)
	h.refused(h.post("/ncs/v1/migrations/start", `{}`), http.StatusForbidden, CodeTerminalNotAllowed)
}
