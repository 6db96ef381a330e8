package linepay

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestOfflinePayCheckRefund(t *testing.T) {
	h := newHarness(t)
	r := h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("pos-1", OneTimeKeyOK, 800, true)), codeSuccess)
	m := bareTxID.FindStringSubmatch(r.raw)
	if m == nil {
		t.Fatalf("pay: transactionId not bare: %s", r.raw)
	}
	tx := m[1]
	info := r.info(t)
	if info["orderId"] != "pos-1" || info["transactionDate"] != "2026-03-10T06:00:00Z" || info["authorizationExpireDate"] != nil {
		t.Fatalf("pay info %s", r.raw)
	}
	c := h.expect(h.get("/v4/payments/orders/pos-1/check"), codeSuccess).info(t)
	if c["status"] != "COMPLETE" || idString(c["transactionId"]) != tx {
		t.Fatalf("check %v", c)
	}
	h.expect(h.post("/v4/payments/orders/pos-1/void", nil), codeNotRefundable)
	h.expect(h.post("/v4/payments/orders/pos-1/refund", map[string]any{"refundAmount": 300}), codeSuccess)
	h.expect(h.post("/v4/payments/orders/pos-1/refund", map[string]any{"refundAmount": 501}), codeAboveRefundable)
	h.expect(h.post("/v4/payments/orders/pos-1/refund", nil), codeSuccess)
	h.expect(h.post("/v4/payments/orders/pos-1/refund", nil), codeAlreadyDone)
	if c := h.expect(h.get("/v4/payments/orders/pos-1/check"), codeSuccess).info(t); c["status"] != "REFUND" {
		t.Fatalf("check after full refund %v", c)
	}
	d := h.expect(h.get("/v4/payments?orderId=pos-1"), codeSuccess).infoList(t)
	if len(d) != 1 || len(d[0]["refundList"].([]any)) != 2 || d[0]["payStatus"] != "CAPTURE" {
		t.Fatalf("details %v", d)
	}
	if lp := h.ledger("pos-1"); lp.Kind != KindOffline || lp.TransactionID != tx || lp.Refunded != "800" {
		t.Fatalf("ledger %+v", lp)
	}
	h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("pos-1", OneTimeKeyOK, 800, true)), codeDuplicateOrder)
	h.expect(h.get("/v4/payments/orders/nothing/check"), codeNotFound)
}

func TestOfflineAuthorizeCaptureVoid(t *testing.T) {
	h := newHarness(t)
	r := h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("pa-1", OneTimeKeyOK, 500, false)), codeSuccess)
	if r.info(t)["authorizationExpireDate"] != "2026-03-17T06:00:00Z" {
		t.Fatalf("pay %s", r.raw)
	}
	if c := h.expect(h.get("/v4/payments/orders/pa-1/check"), codeSuccess).info(t); c["status"] != "AUTH_READY" {
		t.Fatalf("check %v", c)
	}
	a := h.expect(h.get("/v4/payments/authorizations?orderId=pa-1"), codeSuccess).infoList(t)
	if len(a) != 1 || a[0]["payStatus"] != "AUTHORIZATION" {
		t.Fatalf("authorizations %v", a)
	}
	h.expect(h.post("/v4/payments/orders/pa-1/capture", map[string]any{"amount": 600, "currency": "TWD"}), codeAboveAuthorized)
	h.expect(h.post("/v4/payments/orders/pa-1/capture", map[string]any{"amount": 500, "currency": "TWD"}), codeSuccess)
	if c := h.expect(h.get("/v4/payments/orders/pa-1/check"), codeSuccess).info(t); c["status"] != "COMPLETE" {
		t.Fatalf("check %v", c)
	}
	h.expect(h.get("/v4/payments/authorizations?orderId=pa-1"), codeNotFound) // captured: not an authorization any more

	h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("pa-2", OneTimeKeyOK, 500, false)), codeSuccess)
	h.expect(h.post("/v4/payments/orders/pa-2/void", nil), codeSuccess)
	h.expect(h.post("/v4/payments/orders/pa-2/void", "{}"), codeAlreadyDone)
	if c := h.expect(h.get("/v4/payments/orders/pa-2/check"), codeSuccess).info(t); c["status"] != "CANCEL" {
		t.Fatalf("check %v", c)
	}
	a = h.expect(h.get("/v4/payments/authorizations?orderId=pa-2"), codeSuccess).infoList(t)
	if a[0]["payStatus"] != "VOIDED_AUTHORIZATION" {
		t.Fatalf("authorizations %v", a)
	}

	h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("pa-3", OneTimeKeyOK, 500, false)), codeSuccess)
	h.clock.Advance(DefaultAuthorizationLifetime)
	h.expect(h.post("/v4/payments/orders/pa-3/capture", map[string]any{"amount": 500, "currency": "TWD"}), codeExpired)
	a = h.expect(h.get("/v4/payments/authorizations?orderId=pa-3"), codeSuccess).infoList(t)
	if a[0]["payStatus"] != "EXPIRED_AUTHORIZATION" {
		t.Fatalf("authorizations %v", a)
	}
}

func TestOneTimeKeyFixtures(t *testing.T) {
	h := newHarness(t)
	for i, c := range []struct{ key, code, failCode string }{
		{OneTimeKeyNoBalance, codeNoBalance, codeNoBalance},
		{OneTimeKeyCardUnusable, codeCardUnusable, codeCardUnusable},
		{OneTimeKeyDeclined, codeCardDeclined, codeCardDeclined},
		{OneTimeKeyExpired, codeBadOneTimeKey, ""},
		{"391000000001", codeNoBalance, codeNoBalance}, // TH
		{"391000000000000009", codeBadOneTimeKey, ""},  // unassigned fixture digit
		{"123", codeBadOneTimeKey, ""},
	} {
		order := "fx-" + strconv.Itoa(i)
		h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody(order, c.key, 100, true)), c.code)
		lp, ok := h.sim.Payment(order)
		if c.failCode == "" {
			if ok {
				t.Fatalf("%s: 1133 recorded a payment", c.key)
			}
			continue
		}
		if !ok || lp.Status != StatusFailed || lp.FailReturnCode != c.failCode || lp.TransactionID != "" {
			t.Fatalf("%s: ledger %+v", c.key, lp)
		}
		chk := h.expect(h.get("/v4/payments/orders/"+order+"/check"), codeSuccess).info(t)
		if chk["status"] != "FAIL" || chk["failReturnCode"] != c.failCode {
			t.Fatalf("%s: check %v", c.key, chk)
		}
		h.expect(h.post("/v4/payments/orders/"+order+"/refund", nil), codeNotRefundable)
	}
	for i, key := range []string{OneTimeKeyOK, OneTimeKeyOKTH, OneTimeKeyBalance} {
		r := h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("ok-"+strconv.Itoa(i), key, 100, true)), codeSuccess)
		want := "CREDIT_CARD"
		if key == OneTimeKeyBalance {
			want = "BALANCE"
		}
		if !strings.Contains(r.raw, `"method":"`+want+`"`) {
			t.Fatalf("%s: %s", key, r.raw)
		}
	}
}

func TestIssuedOneTimeKeys(t *testing.T) {
	h := newHarness(t)
	tw, th := h.sim.IssueOneTimeKey("TW"), h.sim.IssueOneTimeKey("TH")
	if len(tw) != 18 || len(th) != 12 || !strings.HasPrefix(tw, "39") || !strings.HasPrefix(th, "39") {
		t.Fatalf("keys %s %s", tw, th)
	}
	h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("k-1", tw, 100, true)), codeSuccess)
	h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("k-2", tw, 100, true)), codeBadOneTimeKey) // used
	h.clock.Advance(OneTimeKeyLifetime)
	h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("k-3", th, 100, true)), codeBadOneTimeKey) // expired
	fresh := h.sim.IssueOneTimeKey("")
	h.clock.Advance(OneTimeKeyLifetime - time.Second)
	// a refused pay (duplicate orderId) does not use the key up
	h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("k-1", fresh, 100, true)), codeDuplicateOrder)
	h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("k-4", fresh, 100, true)), codeSuccess)

	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/_sim/oneTimeKeys", strings.NewReader(`{"countryCode":"TH"}`)))
	var out struct{ OneTimeKey string }
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &out) != nil || len(out.OneTimeKey) != 12 {
		t.Fatalf("POST /_sim/oneTimeKeys: %d %s", rec.Code, rec.Body)
	}
	h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("k-5", out.OneTimeKey, 100, true)), codeSuccess)
}

// TestSlowKeyCommitsAfterDelay: during the slow pay the order does not exist yet (check
// 1150); afterwards it is paid, whether or not the till waited.
func TestSlowKeyCommitsAfterDelay(t *testing.T) {
	h := newHarness(t)
	entered, release := make(chan time.Duration), make(chan struct{})
	h.sim.sleep = func(d time.Duration) { entered <- d; <-release }
	done := make(chan response)
	go func() { done <- h.post("/v4/payments/oneTimeKeys/pay", payBody("slow-1", OneTimeKeySlow, 100, true)) }()
	if d := <-entered; d != DefaultSlowPayDelay {
		t.Fatalf("slept %v", d)
	}
	h.expect(h.get("/v4/payments/orders/slow-1/check"), codeNotFound)
	close(release)
	h.expect(<-done, codeSuccess)
	if c := h.expect(h.get("/v4/payments/orders/slow-1/check"), codeSuccess).info(t); c["status"] != "COMPLETE" {
		t.Fatalf("check %v", c)
	}
}

func TestOfflinePayValidation(t *testing.T) {
	h := newHarness(t)
	mod := func(f func(b map[string]any)) map[string]any {
		b := payBody("pv-1", OneTimeKeyOK, 100, true)
		f(b)
		return b
	}
	for name, c := range map[string]struct {
		body any
		code string
	}{
		"bad JSON":         {`[1,`, codeBadJSON},
		"no packages":      {mod(func(b map[string]any) { delete(b, "packages") }), codeParameterError},
		"empty packages":   {mod(func(b map[string]any) { b["packages"] = []any{} }), codeParameterError},
		"no oneTimeKey":    {mod(func(b map[string]any) { delete(b, "oneTimeKey") }), codeParameterError},
		"orderId over 100": {mod(func(b map[string]any) { b["orderId"] = strings.Repeat("1", 101) }), codeParameterError},
		"currency":         {mod(func(b map[string]any) { b["currency"] = "THB" }), codeBadCurrency},
		"zero":             {mod(func(b map[string]any) { b["amount"] = 0 }), codeAmountNotPositive},
		"cents":            {mod(func(b map[string]any) { b["amount"] = 99.9 }), codeBadScale},
	} {
		t.Run(name, func(t *testing.T) { h.expect(h.post("/v4/payments/oneTimeKeys/pay", c.body), c.code) })
	}
	if n := len(h.sim.Ledger()); n != 0 {
		t.Fatalf("refused pays recorded %d payments", n)
	}
	h.expect(h.post("/v4/payments/oneTimeKeys/pay", mod(func(b map[string]any) { b["orderId"] = strings.Repeat("1", 100) })), codeSuccess)
}
