package linepay

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestDetailsQueryVariants(t *testing.T) {
	h := newHarness(t)
	a := h.confirmed("dq-a", 100, true)
	b := h.confirmed("dq-b", 200, false)
	h.request("dq-unconfirmed", 300, true)
	for _, q := range []string{
		"transactionId=" + a + "&transactionId=" + b,
		"transactionId=" + a + "%2C" + b,
		"transactionId=" + a + "," + b,
		"transactionId%5B0%5D=" + a + "&transactionId%5B1%5D=" + b,
		"transactionId[]=" + a + "&transactionId[]=" + b,
		"orderId=dq-a&orderId=dq-b",
		"orderId=dq-a%2Cdq-b&fields=ALL",
		"orderId%5B%5D=dq-a&transactionId=" + b,
		"transactionId=" + a + "&orderId=dq-b&orderId=dq-unconfirmed&fields=TRANSACTION",
	} {
		r := h.expect(h.get("/v3/payments?"+q), codeSuccess)
		rows := r.infoList(t)
		if len(rows) != 2 || idString(rows[0]["transactionId"]) != a || idString(rows[1]["transactionId"]) != b {
			t.Fatalf("%s: %s", q, r.raw)
		}
		if rows[1]["payStatus"] != "AUTHORIZATION" || rows[0]["payStatus"] != "CAPTURE" {
			t.Fatalf("%s: %s", q, r.raw)
		}
		if strings.Contains(q, "TRANSACTION") == (rows[0]["packages"] != nil) {
			t.Fatalf("%s: packages %v", q, rows[0]["packages"])
		}
		// the v4 path answers the same
		h.expect(h.get("/v4/payments?"+q), codeSuccess)
	}
	h.expect(h.get("/v3/payments"), codeParameterError)
	h.expect(h.get("/v3/payments?fields=ALL"), codeParameterError)
	h.expect(h.get("/v3/payments?orderId=dq-a&fields=SOME"), codeParameterError)
	h.expect(h.get("/v3/payments?transactionId=abc"), codeParameterError)
	h.expect(h.get("/v3/payments?orderId=none"), codeNotFound)
	h.expect(h.get("/v4/payments/authorizations"), codeParameterError)
	if a := h.expect(h.get("/v4/payments/authorizations?transactionId="+b), codeSuccess).infoList(t); len(a) != 1 {
		t.Fatalf("authorizations %v", a)
	}
}

func TestDetailsOver100(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for i := range 101 {
		ids = append(ids, h.confirmed("many-"+strconv.Itoa(i), 10, true))
	}
	h.expect(h.get("/v3/payments?transactionId="+strings.Join(ids[:100], "%2C")), codeSuccess)
	h.expect(h.get("/v3/payments?transactionId="+strings.Join(ids, "%2C")), codeTooManyResults)
}

func TestLedgerEndpoint(t *testing.T) {
	h := newHarness(t)
	tx := h.confirmed("led-1", 100, true)
	h.expect(h.post("/v3/payments/"+tx+"/refund", map[string]any{"refundAmount": 40}), codeSuccess)
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_sim/payments", nil))
	body := rec.Body.String()
	for _, want := range []string{`"orderId":"led-1"`, `"transactionId":"` + tx + `"`, `"status":"CAPTURED"`,
		`"amount":100`, `"captured":100`, `"refunded":40`, `"refundTransactionId":"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("GET /_sim/payments lacks %s: %s", want, body)
		}
	}
	rec = httptest.NewRecorder()
	h.sim.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_sim/payments/"+tx, nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"orderId":"led-1"`) {
		t.Fatalf("GET /_sim/payments/{tx}: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.sim.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_sim/nothing", nil))
	if rec.Code != 404 {
		t.Fatalf("unknown /_sim path: %d", rec.Code)
	}
}
