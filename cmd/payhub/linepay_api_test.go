package main

import (
	"context"
	"math/big"
	"net/http"
	"testing"

	"payhub/contracts"
	linepaysim "payhub/mocks/linepay"
)

// twoPow53 is the largest integer below which every integer survives a float64.
var twoPow53 = new(big.Int).Lsh(big.NewInt(1), 53)

// aboveFloatPrecision reports whether id is a decimal integer above 2^53: one that a
// float64 on the way would have changed.
func aboveFloatPrecision(t *testing.T, id string) bool {
	t.Helper()
	n, ok := new(big.Int).SetString(id, 10)
	if !ok {
		t.Fatalf("partner reference %q is not a decimal integer", id)
	}
	return n.Cmp(twoPow53) > 0
}

// TestLinePayTransactionIDRoundTrip: LINE Pay's 19-digit transactionId, above 2^53, comes
// back exactly as the simulator issued it through payhub's API (create, lookup, list) and
// its database, for an in-store payment and a QR payment, and refunds go to that payment.
func TestLinePayTransactionIDRoundTrip(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		ctx := context.Background()

		// In store: the till scans the customer's My Code.
		r := e.pay(e.a, map[string]any{"amount": 125000, "currency": "TWD", "method": "linepay", "flow": "barcode",
			"barcode": e.linepay.IssueOneTimeKey("TW"), "terminal_id": "till-01", "order_id": "tw-order-1"})
		expectStatus(t, r, http.StatusCreated, "")
		p := r.json(t)
		if p["status"] != "succeeded" {
			t.Fatalf("payment %s", r.body)
		}
		id, ref := p["id"].(string), p["partner_reference"].(string)
		payments := e.linepay.Ledger()
		if len(payments) != 1 || payments[0].TransactionID != ref {
			t.Fatalf("API partner_reference %q, simulator ledger %+v", ref, payments)
		}
		if !aboveFloatPrecision(t, ref) {
			t.Fatalf("simulator issued %s, not above 2^53: the test proves nothing", ref)
		}
		stored, err := st.GetPayment(ctx, e.a.store, id)
		if err != nil || stored.PartnerPaymentID != ref {
			t.Fatalf("database holds %q (%v), want %q", stored.PartnerPaymentID, err, ref)
		}
		got := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil).json(t)
		if got["partner_reference"] != ref {
			t.Fatalf("lookup partner_reference %v, want %s", got["partner_reference"], ref)
		}

		// A partial refund reaches LINE Pay's payment by that id.
		rr := e.do(http.MethodPost, "/v1/payments/"+id+"/refunds", e.token(e.a), newKey(), map[string]any{"amount": 25000})
		expectStatus(t, rr, http.StatusCreated, "")
		if s := rr.json(t)["status"]; s != "succeeded" {
			t.Fatalf("refund %s", rr.body)
		}
		lp, ok := e.linepay.Payment(ref)
		if !ok || lp.Refunded.String() != "250" || len(lp.Refunds) != 1 {
			t.Fatalf("simulator payment %s after the refund: %+v", ref, lp)
		}
		// Whole TWD only: refused before anything is written or sent.
		frac := e.do(http.MethodPost, "/v1/payments/"+id+"/refunds", e.token(e.a), newKey(), map[string]any{"amount": 150})
		expectStatus(t, frac, http.StatusUnprocessableEntity, "amount_out_of_range")

		// Online: the customer scans the QR code and approves in the LINE app; payhub
		// confirms and keeps the transactionId exact.
		q := e.pay(e.a, map[string]any{"amount": 9900, "currency": "TWD", "method": "linepay", "flow": "qr",
			"terminal_id": "till-01", "order_id": "tw-order-2"})
		expectStatus(t, q, http.StatusCreated, "")
		qp := q.json(t)
		qid, qref := qp["id"].(string), qp["partner_reference"].(string)
		if qp["status"] != "requires_action" || !aboveFloatPrecision(t, qref) {
			t.Fatalf("QR payment %s", q.body)
		}
		if err := e.linepay.Approve(qref); err != nil {
			t.Fatal(err)
		}
		if _, err := e.app.Hub.PollOnce(ctx, 10); err != nil {
			t.Fatal(err)
		}
		done := e.do(http.MethodGet, "/v1/payments/"+qid, e.token(e.a), "", nil).json(t)
		if done["status"] != "succeeded" || done["partner_reference"] != qref {
			t.Fatalf("after approval: %v", done)
		}
		if lq, ok := e.linepay.Payment(qref); !ok || lq.Status != linepaysim.StatusCaptured {
			t.Fatalf("simulator has %+v, want the request confirmed", lq)
		}
	})
}
