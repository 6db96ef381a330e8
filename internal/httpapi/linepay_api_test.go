package httpapi_test

import (
	"context"
	"io"
	"math/big"
	"net/http"
	"strings"
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
		// The refund names LINE's own refundTransactionId, exact, for reconciliation.
		if rr.json(t)["partner_reference"] != lp.Refunds[0].RefundTransactionID {
			t.Fatalf("refund partner_reference %v, LINE's refundTransactionId %s", rr.json(t)["partner_reference"], lp.Refunds[0].RefundTransactionID)
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

// TestLinePayRedirectConfirmsWhenTheCustomerReturns: LINE Pay's online flow. The store's
// web shop gets a redirect to LINE's payment page; the customer approves; LINE sends the
// browser to payhub's return URL, where payhub confirms with LINE and sends the browser on
// to the shop's return_url. A return that names another transaction confirms nothing.
func TestLinePayRedirectConfirmsWhenTheCustomerReturns(t *testing.T) {
	e := newEnv(t, nil)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	create := func(order string) (id, tx string) {
		r := e.pay(e.a, map[string]any{"amount": 45000, "currency": "TWD", "method": "linepay", "flow": "redirect",
			"return_url": "http://127.0.0.1:9/shop/return?cart=7", "order_id": order})
		expectStatus(t, r, http.StatusCreated, "")
		p := r.json(t)
		na, _ := p["next_action"].(map[string]any)
		if p["status"] != "requires_action" || na["type"] != "redirect" || na["redirect_url"] == "" {
			t.Fatalf("redirect payment %s", r.body)
		}
		return p["id"].(string), p["partner_reference"].(string)
	}

	id, tx := create("web-1")
	if err := e.linepay.Approve(tx); err != nil {
		t.Fatal(err)
	}
	back, err := e.linepay.BrowserReturn(tx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(back, e.url+"/v1/payment-returns/"+id+"?") {
		t.Fatalf("LINE sends the browser to %s, not payhub's return URL", back)
	}
	// A forged return for this payment, naming another transaction, confirms nothing.
	forged := strings.Replace(back, "transactionId="+tx, "transactionId=2026010100000000001", 1)
	resp, err := noFollow.Get(forged)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if lp, _ := e.linepay.Payment(tx); lp.Status != linepaysim.StatusApproved {
		t.Fatalf("a forged return moved the LINE payment to %s", lp.Status)
	}
	// The real return confirms and sends the browser to the shop.
	resp, err = noFollow.Get(back)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "http://127.0.0.1:9/shop/return?cart=7&payment_id="+id {
		t.Fatalf("return answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	got := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil).json(t)
	if got["status"] != "succeeded" || got["partner_reference"] != tx || got["amount_captured"] != float64(45000) {
		t.Fatalf("after the return: %v", got)
	}
	if lp, _ := e.linepay.Payment(tx); lp.Status != linepaysim.StatusCaptured {
		t.Fatalf("LINE payment %s, want captured", lp.Status)
	}
	// The browser coming back again changes nothing and still goes on to the shop.
	resp, err = noFollow.Get(back)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second return answered %d", resp.StatusCode)
	}

	// The customer gives up on LINE's page: cancelUrl is payhub's return too; nothing is
	// confirmed, and the payment stays waiting until LINE expires the request.
	id2, tx2 := create("web-2")
	if err := e.linepay.Cancel(tx2); err != nil {
		t.Fatal(err)
	}
	back2, _ := e.linepay.BrowserReturn(tx2, true)
	resp, err = noFollow.Get(back2)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s := e.do(http.MethodGet, "/v1/payments/"+id2, e.token(e.a), "", nil).json(t)["status"]; s == "succeeded" {
		t.Fatalf("a cancelled LINE request ended %v", s)
	}
	// Unknown payments and malformed ids are not found; nothing is said about them.
	for _, path := range []string{"/v1/payment-returns/pay_01JD00000000000000000000ZZ", "/v1/payment-returns/nope"} {
		resp, err := noFollow.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s answered %d", path, resp.StatusCode)
		}
	}
}

// TestPaymentReturnRefusesBadInput: a return that cannot be read is refused with
// problem+json, and changes nothing.
func TestPaymentReturnRefusesBadInput(t *testing.T) {
	e := newEnv(t, nil)
	for name, c := range map[string]struct {
		body   string
		status int
		code   string
	}{
		"too large":  {"AccessID=" + strings.Repeat("a", 20<<10), http.StatusRequestEntityTooLarge, "body_too_large"},
		"unreadable": {"AccessID=%zz", http.StatusBadRequest, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := http.Post(e.url+"/v1/payment-returns/pay_01JD0000000000000000000000", "application/x-www-form-urlencoded", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(raw), `"code":"`+c.code+`"`) {
				t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
			}
		})
	}
}
