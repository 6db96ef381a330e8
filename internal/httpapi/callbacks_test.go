package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/render"
	simcore "payhub/mocks/sim"
)

// paypayCallback is a PayPay Transaction callback body (docs/partners/paypay.md §10) about
// PayPay payment orderID (merchantPaymentId merchantPaymentID).
func paypayCallback(orderID, merchantPaymentID, state string, paidAt time.Time) string {
	return fmt.Sprintf(`{"notification_type":"Transaction","merchant_id":%q,"store_id":"","pos_id":"","order_id":%q,`+
		`"merchant_order_id":%q,"order_amount":"880","state":%q,"authorized_at":null,"expires_at":null,"paid_at":%q}`,
		testPayPayMerchant, orderID, merchantPaymentID, state, paidAt.UTC().Format(time.RFC3339))
}

// callback posts a partner callback to payhub, from 127.0.0.1 like every test request.
func (e *testEnv) callback(body string) response {
	e.t.Helper()
	return e.do(http.MethodPost, "/v1/partners/paypay/webhooks", "", "", body)
}

func (e *testEnv) processCallbacks() int {
	e.t.Helper()
	n, err := e.app.Hub.ProcessCallbacks(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *testEnv) status(id string) contracts.Status {
	e.t.Helper()
	p, err := e.app.Store.GetPayment(context.Background(), "", id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Status
}

func (e *testEnv) callbacks() []contracts.PartnerCallback {
	e.t.Helper()
	cbs, err := e.app.Store.ListCallbacks(context.Background(), contracts.MethodPayPay)
	if err != nil {
		e.t.Fatal(err)
	}
	return cbs
}

// A PayPay callback is a hint: payhub keeps it raw, answers at once, and changes a payment
// only as Get payment details says. A forged COMPLETED changes nothing; the real one,
// once PayPay has the money, settles the payment; PayPay's retry of it is dropped.
func TestPayPayCallbackIsConfirmedBeforeAnythingChanges(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		r := e.pay(e.a, map[string]any{"amount": 880, "currency": "JPY", "method": "paypay", "flow": "qr"})
		id := r.json(t)["id"].(string)

		forged := paypayCallback("04811111111111111111", id+"_1", "COMPLETED", time.Now())
		expectStatus(t, e.callback(forged), http.StatusOK, "")
		if n := e.processCallbacks(); n != 1 || e.status(id) != contracts.StatusRequiresAction {
			t.Fatalf("a COMPLETED callback PayPay does not confirm moved the payment to %s", e.status(id))
		}
		if cbs := e.callbacks(); len(cbs) != 1 || string(cbs[0].Body) != forged || cbs[0].Status != contracts.CallbackProcessed {
			t.Fatalf("inbox %+v", cbs)
		}

		if err := e.sim.PayQR(id+"_1", "user-ok"); err != nil {
			t.Fatal(err)
		}
		lp, _ := e.sim.Payment(id + "_1")
		real := paypayCallback(lp.PaymentID, id+"_1", "COMPLETED", time.Now())
		expectStatus(t, e.callback(real), http.StatusOK, "")
		if n := e.processCallbacks(); n != 1 || e.status(id) != contracts.StatusSucceeded {
			t.Fatalf("the confirmed callback left the payment %s", e.status(id))
		}
		expectStatus(t, e.callback(real), http.StatusOK, "") // PayPay retries
		if n := e.processCallbacks(); n != 0 || len(e.callbacks()) != 2 {
			t.Fatalf("a retried event was kept or processed again (%d, %d kept)", n, len(e.callbacks()))
		}
	})
}

// An unknown payment (PayPay took the money, its answer was lost) is settled by a fresh
// callback, confirmed; a stale one, a tampered one and one from outside the allowlist
// change nothing.
func TestPayPayCallbacksThatChangeNothing(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.faults.Set([]simcore.FaultRule{{Method: "POST", PathPrefix: "/v2/payments", Probability: 1, Count: 1,
		Fault: simcore.Fault{Kind: simcore.FaultCommitThenDrop}}}); err != nil {
		t.Fatal(err)
	}
	id := e.pay(e.a, barcodePayment(880, barcodeOK)).json(t)["id"].(string)
	if e.status(id) != contracts.StatusUnknown {
		t.Fatalf("setup: %s", e.status(id))
	}
	ctx := context.Background()

	stale := paypayCallback("04822222222222222222", id+"_1", "COMPLETED", time.Now().Add(-10*time.Minute))
	expectStatus(t, e.callback(stale), http.StatusOK, "")
	if n := e.processCallbacks(); n != 0 || e.status(id) != contracts.StatusUnknown {
		t.Fatalf("a stale callback was processed (%d): %s", n, e.status(id))
	}

	other := paypayCallback("04822222222222222222", id+"_1", "FAILED", time.Now())
	tampered := []string{
		`{"notification_type":"Transaction","merchant_id":"someone-else","order_id":"x","merchant_order_id":"` + id + `_1","state":"COMPLETED"}`,
		`{"notification_type":"Transaction"`,
		other[:len(other)-1] + `,"state":"COMPLETED"}`, // a second state member
	}
	for _, body := range tampered {
		expectStatus(t, e.callback(body), http.StatusBadRequest, "invalid_request")
	}
	err := e.app.Hub.ReceiveCallback(ctx, contracts.MethodPayPay, netip.MustParseAddr("198.51.100.7"), []byte(paypayCallback("04822222222222222222", id+"_1", "AUTHORIZED", time.Now())))
	if pe, ok := contracts.AsError(err); !ok || render.ErrorStatus(pe) != http.StatusForbidden {
		t.Fatalf("a callback from outside the allowlist: %v", err)
	}
	if n := e.processCallbacks(); n != 0 || e.status(id) != contracts.StatusUnknown {
		t.Fatalf("after refused callbacks: processed %d, payment %s", n, e.status(id))
	}
	if cbs := e.callbacks(); len(cbs) != 1+len(tampered) {
		t.Fatalf("%d callbacks kept, want the stale one and the %d unreadable ones (not the refused source)", len(cbs), len(tampered))
	}

	lp, _ := e.sim.Payment(id + "_1")
	fresh := paypayCallback(lp.PaymentID, id+"_1", "COMPLETED", time.Now())
	expectStatus(t, e.callback(fresh), http.StatusOK, "")
	if n := e.processCallbacks(); n != 1 || e.status(id) != contracts.StatusSucceeded {
		t.Fatalf("a confirmed callback did not settle the payment: %s", e.status(id))
	}
	metrics := e.metrics()
	for _, want := range []string{`result="refused"`, `result="rejected"`, `result="ignored"`, `result="processed"`} {
		if !strings.Contains(metrics, `payhub_partner_callbacks_total{partner="paypay",`+want+`}`) {
			t.Errorf("metrics lack callbacks %s", want)
		}
	}
}

// A callback about no payment (PayPay's daily reconciliation file) is acknowledged and kept,
// moving nothing.
func TestPayPayFileCallbackIsAcknowledged(t *testing.T) {
	e := newEnv(t, nil)
	body := `{"notification_type":"file.created","merchant_id":"` + testPayPayMerchant + `","path":"https://example.com/recon.csv"}`
	expectStatus(t, e.callback(body), http.StatusOK, "")
	if cbs := e.callbacks(); len(cbs) != 1 || cbs[0].Status != contracts.CallbackIgnored || e.processCallbacks() != 0 {
		t.Fatalf("inbox %+v", cbs)
	}
}
