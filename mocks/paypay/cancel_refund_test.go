package paypay

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCancelCutoff(t *testing.T) {
	paidAt := time.Date(2026, 3, 10, 23, 50, 0, 0, jst)
	cases := []struct {
		name     string
		cancelAt time.Time
		status   int
		code     string
		after    string
	}{
		{"same day", paidAt.Add(time.Minute), http.StatusAccepted, "REQUEST_ACCEPTED", StatusFailed},
		{"00:14:59 next day", time.Date(2026, 3, 11, 0, 14, 59, 0, jst), http.StatusAccepted, "REQUEST_ACCEPTED", StatusFailed},
		{"00:15:00 next day", time.Date(2026, 3, 11, 0, 15, 0, 0, jst), http.StatusBadRequest, "ORDER_NOT_REVERSIBLE", StatusCompleted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.clock.Set(paidAt)
			h.pay("mp-1", 1000)
			h.clock.Set(tc.cancelAt)
			res := h.call(http.MethodDelete, "/v2/payments/mp-1", nil)
			expect(t, res, tc.status, tc.code)
			if got := h.status("mp-1"); got != tc.after {
				t.Fatalf("status after cancel = %s, want %s", got, tc.after)
			}
			if tc.status == http.StatusAccepted {
				// Repeats are accepted, even past the cutoff.
				h.clock.Advance(48 * time.Hour)
				expect(t, h.call(http.MethodDelete, "/v2/payments/mp-1", nil), http.StatusAccepted, "REQUEST_ACCEPTED")
				lp, _ := h.sim.Payment("mp-1")
				if !lp.CancelRequested || !lp.CanceledAt.Equal(tc.cancelAt) {
					t.Fatalf("ledger %+v", lp)
				}
			} else if res.ResultInfo.CodeID != "00200044" {
				t.Fatalf("codeId %s", res.ResultInfo.CodeID)
			}
		})
	}
}

func TestCancelCutoffUsesJSTNotUTC(t *testing.T) {
	// 08:00 JST on 10 March is still 9 March in UTC; the window closes 00:15 JST on 11 March.
	h := newHarness(t)
	h.clock.Set(time.Date(2026, 3, 10, 8, 0, 0, 0, jst))
	h.pay("mp-1", 100)
	h.clock.Set(time.Date(2026, 3, 11, 0, 15, 0, 0, jst))
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-1", nil), http.StatusBadRequest, "ORDER_NOT_REVERSIBLE")
}

func TestCancelBeforePaymentIsAppliedOnPayment(t *testing.T) {
	h := newHarness(t)
	// A QR the customer has not paid yet.
	expect(t, h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-qr", 100)), http.StatusCreated, "SUCCESS")
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-qr", nil), http.StatusAccepted, "REQUEST_ACCEPTED")
	if got := h.status("mp-qr"); got != StatusCreated {
		t.Fatalf("status before payment = %s", got)
	}
	if err := h.sim.PayQR("mp-qr", UserOK); err != nil {
		t.Fatal(err)
	}
	if got := h.status("mp-qr"); got != StatusFailed {
		t.Fatalf("status after payment = %s, want FAILED", got)
	}

	// A payment that does not exist yet (the create is still in flight): the late landing
	// is fenced.
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-late", nil), http.StatusAccepted, "REQUEST_ACCEPTED")
	res := h.call(http.MethodPost, "/v2/payments", h.payBody("mp-late", UserOK, 300))
	expect(t, res, http.StatusCreated, "SUCCESS")
	if res.dataMap(t)["status"] != StatusCompleted {
		t.Fatalf("create answer %s", res.raw)
	}
	if got := h.status("mp-late"); got != StatusFailed {
		t.Fatalf("fenced payment status = %s, want FAILED", got)
	}
}

func TestRefunds(t *testing.T) {
	h := newHarness(t)
	pid := h.pay("mp-1", 1000)

	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-unknown", "9999", 1)), http.StatusNotFound, "RESOURCE_NOT_FOUND")
	res := h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-too-much", pid, 1001))
	expect(t, res, http.StatusBadRequest, "INVALID_PARAMS")
	if res.ResultInfo.CodeID != "00200015" {
		t.Fatalf("codeId %s", res.ResultInfo.CodeID)
	}

	res = h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-1", pid, 600))
	expect(t, res, http.StatusOK, "SUCCESS")
	if d := res.dataMap(t); d["status"] != RefundCreated || d["paymentId"] != pid || d["merchantRefundId"] != "rf-1" {
		t.Fatalf("refund answer %s", res.raw)
	}
	// 600 of 1000 refunded: 401 is too much, 400 fits.
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-2", pid, 401)), http.StatusBadRequest, "INVALID_PARAMS")
	expect(t, h.call(http.MethodPost, "/v2/refunds/", h.refundBody("rf-2", pid, 400)), http.StatusOK, "SUCCESS") // trailing slash
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-3", pid, 1)), http.StatusBadRequest, "INVALID_PARAMS")

	// Replay: same merchantRefundId, nothing refunded twice.
	res = h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-1", pid, 600))
	expect(t, res, http.StatusOK, "SUCCESS")
	if d := res.dataMap(t); d["status"] != RefundRefunded || d["amount"].(map[string]any)["amount"] != float64(600) {
		t.Fatalf("replay %s", res.raw)
	}
	lp, _ := h.sim.Payment("mp-1")
	if lp.Refunded != 1000 || len(lp.Refunds) != 2 || lp.Status != StatusRefunded {
		t.Fatalf("ledger %+v", lp)
	}

	// Reads, with and without ?paymentId=.
	expect(t, h.call(http.MethodGet, "/v2/refunds/rf-1", nil), http.StatusOK, "SUCCESS")
	expect(t, h.call(http.MethodGet, "/v2/refunds/rf-1?paymentId="+pid, nil), http.StatusOK, "SUCCESS")
	res = h.call(http.MethodGet, "/v2/refunds/rf-1?paymentId=other", nil)
	expect(t, res, http.StatusNotFound, "NO_SUCH_REFUND_ORDER")
	expect(t, h.call(http.MethodGet, "/v2/refunds/rf-none", nil), http.StatusNotFound, "NO_SUCH_REFUND_ORDER")

	// The payment object lists its refunds; a refunded payment cannot be canceled.
	res = h.call(http.MethodGet, "/v2/payments/mp-1", nil)
	if refunds := res.dataMap(t)["refunds"].(map[string]any)["data"].([]any); len(refunds) != 2 {
		t.Fatalf("payment refunds %s", res.raw)
	}
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-1", nil), http.StatusBadRequest, "ORDER_NOT_REVERSIBLE")
}

func TestRefundRules(t *testing.T) {
	h := newHarness(t)
	pid := h.pay("mp-1", 1000)
	pid2 := h.pay("mp-2", 500)
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-1", pid, 100)), http.StatusOK, "SUCCESS")
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-1", pid2, 100)), http.StatusBadRequest, "INVALID_PARAMS")

	// A canceled (FAILED) payment cannot be refunded.
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-2", nil), http.StatusAccepted, "REQUEST_ACCEPTED")
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-2", pid2, 100)), http.StatusBadRequest, "UNACCEPTABLE_OP")

	// The window ends with the day 365 days after payment (JST).
	h.clock.Set(time.Date(2027, 3, 10, 23, 59, 59, 0, jst))
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-3", pid, 100)), http.StatusOK, "SUCCESS")
	h.clock.Set(time.Date(2027, 3, 11, 0, 0, 0, 0, jst))
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-4", pid, 100)), http.StatusBadRequest, "REFUND_WINDOW_EXCEED")
}

func TestQRCodeLifecycleThroughSim(t *testing.T) {
	h := newHarness(t)
	res := h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-qr", 1200))
	expect(t, res, http.StatusCreated, "SUCCESS")
	d := res.dataMap(t)
	codeID, _ := d["codeId"].(string)
	if codeID == "" || d["url"] == "" || d["deeplink"] == "" || d["expiryDate"] != float64(testStart.Add(DefaultQRLifetime).Unix()) {
		t.Fatalf("code %s", res.raw)
	}

	res = h.call(http.MethodGet, "/v2/codes/payments/mp-qr", nil)
	expect(t, res, http.StatusOK, "SUCCESS")
	if d := res.dataMap(t); d["status"] != StatusCreated || d["acceptedAt"] != float64(0) {
		t.Fatalf("unpaid %s", res.raw)
	}

	h.clock.Advance(time.Minute)
	status, body := h.control(http.MethodPost, "/_sim/codes/"+codeID+"/pay", nil)
	if status != http.StatusOK || body["status"] != StatusCompleted || body["userAuthorizationId"] != UserOK {
		t.Fatalf("/_sim pay: %d %v", status, body)
	}
	res = h.call(http.MethodGet, "/v2/codes/payments/mp-qr", nil)
	if d := res.dataMap(t); d["status"] != StatusCompleted || d["acceptedAt"] != float64(testStart.Add(time.Minute).Unix()) || d["paymentId"] == "" {
		t.Fatalf("paid %s", res.raw)
	}
	// Paying twice is refused.
	if status, _ := h.control(http.MethodPost, "/_sim/payments/mp-qr/pay", nil); status != http.StatusConflict {
		t.Fatalf("second pay: %d", status)
	}

	// A user without funds makes the QR payment FAILED.
	expect(t, h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-qr2", 50)), http.StatusCreated, "SUCCESS")
	status, body = h.control(http.MethodPost, "/_sim/payments/mp-qr2/pay", map[string]string{"userAuthorizationId": UserNoFunds})
	if status != http.StatusOK || body["status"] != StatusFailed {
		t.Fatalf("nofunds pay: %d %v", status, body)
	}

	// Deleted and expired codes cannot be paid.
	res = h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-del", 50))
	expect(t, h.call(http.MethodDelete, "/v2/codes/"+res.dataMap(t)["codeId"].(string), nil), http.StatusOK, "SUCCESS")
	if status, _ := h.control(http.MethodPost, "/_sim/payments/mp-del/pay", nil); status != http.StatusConflict {
		t.Fatalf("deleted code paid: %d", status)
	}
	expect(t, h.call(http.MethodDelete, "/v2/codes/04-nope", nil), http.StatusNotFound, "DYNAMIC_QR_NOT_FOUND")
	expect(t, h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-exp", 50)), http.StatusCreated, "SUCCESS")
	h.clock.Advance(DefaultQRLifetime)
	if err := h.sim.PayQR("mp-exp", UserOK); err == nil {
		t.Fatal("expired code paid")
	}
	if status, _ := h.control(http.MethodPost, "/_sim/payments/mp-none/pay", nil); status != http.StatusNotFound {
		t.Fatalf("unknown payment: %d", status)
	}

	// The ledger, over HTTP and in Go.
	status, body = h.control(http.MethodGet, "/_sim/payments", nil)
	if status != http.StatusOK || len(body["payments"].([]any)) != 4 || len(h.sim.Payments()) != 4 {
		t.Fatalf("ledger %d %v", status, body)
	}
	status, body = h.control(http.MethodGet, "/_sim/payments/mp-qr", nil)
	if status != http.StatusOK || body["amount"] != float64(1200) || body["kind"] != KindQR {
		t.Fatalf("ledger entry %d %v", status, body)
	}
	if status, _ := h.control(http.MethodGet, "/_sim/payments/mp-none", nil); status != http.StatusNotFound {
		t.Fatalf("unknown ledger entry: %d", status)
	}
}

func TestExpiredQRNotFoundOption(t *testing.T) {
	for _, notFound := range []bool{false, true} {
		h := newHarness(t, func(c *Config) { c.ExpiredQRNotFound = notFound })
		expect(t, h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-qr", 100)), http.StatusCreated, "SUCCESS")
		h.clock.Advance(DefaultQRLifetime)
		res := h.call(http.MethodGet, "/v2/codes/payments/mp-qr", nil)
		if notFound {
			expect(t, res, http.StatusBadRequest, "DYNAMIC_QR_PAYMENT_NOT_FOUND")
		} else {
			expect(t, res, http.StatusOK, "SUCCESS")
		}
	}
}

// TestOverRealHTTP runs a flow through a real loopback server, so signatures are checked
// against the request line as it crossed the wire.
func TestOverRealHTTP(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.sim)
	defer srv.Close()
	send := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var raw []byte
		if body != nil {
			raw, _ = json.Marshal(body)
		}
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(raw))
		if raw != nil {
			req.Header.Set("Content-Type", "application/json;charset=UTF-8")
		}
		req.Header.Set("Authorization", authHeader(testKey, testSecret, method, req.URL.EscapedPath(), "n-1", h.clock.Now().Unix(), "application/json;charset=UTF-8", raw))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("X-REQUEST-ID") == "" {
			t.Fatal("no X-REQUEST-ID")
		}
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, m
	}
	if st, m := send(http.MethodPost, "/v2/payments?agreeSimilarTransaction=false", h.payBody("mp-h", UserOK, 100)); st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, m)
	}
	pid, _ := h.sim.Payment("mp-h")
	if st, m := send(http.MethodPost, "/v2/refunds/", h.refundBody("rf-h", pid.PaymentID, 100)); st != http.StatusOK {
		t.Fatalf("refund with trailing slash: %d %v", st, m)
	}
	if st, m := send(http.MethodGet, "/v2/refunds/rf-h", nil); st != http.StatusOK {
		t.Fatalf("get refund: %d %v", st, m)
	}
}
