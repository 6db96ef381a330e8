package paypay

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"payhub/mocks/sim"
)

const (
	testKey      = "test-key"
	testSecret   = "test-secret"
	testMerchant = "test-merchant"
)

// testStart is the simulator clock's start: 2026-03-10 15:00:00 JST.
var testStart = time.Date(2026, 3, 10, 15, 0, 0, 0, jst)

// harness is a simulator on a manual clock with a signing client.
type harness struct {
	t     *testing.T
	sim   *Simulator
	clock *sim.ManualClock
}

func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	clock := sim.NewManualClock(testStart)
	cfg := Config{APIKey: testKey, APISecret: testSecret, MerchantID: testMerchant, Clock: clock}
	for _, m := range mutate {
		m(&cfg)
	}
	return &harness{t: t, sim: New(cfg), clock: clock}
}

// response is a decoded OPA answer.
type response struct {
	status     int
	header     http.Header
	raw        string
	ResultInfo resultInfo      `json:"resultInfo"`
	Data       json.RawMessage `json:"data"`
}

// dataMap decodes Data as a JSON object.
func (r response) dataMap(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Data, &m); err != nil {
		t.Fatalf("data is not an object: %s", r.raw)
	}
	return m
}

// call sends a correctly signed OPA request (body is marshaled when not nil).
func (h *harness) call(method, target string, body any) response {
	h.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			h.t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, target, bytes.NewReader(raw))
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", authHeader(testKey, testSecret, method, req.URL.Path, "nonce123", h.clock.Now().Unix(), "application/json", raw))
	return h.serve(req)
}

// serve runs req through the simulator and decodes the answer.
func (h *harness) serve(req *http.Request) response {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		h.t.Fatalf("%s %s: Content-Type %q, body %s", req.Method, req.URL, ct, res.raw)
	}
	if rec.Header().Get("X-REQUEST-ID") == "" {
		h.t.Fatalf("%s %s: no X-REQUEST-ID", req.Method, req.URL)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		h.t.Fatalf("%s %s: answer is not JSON: %s", req.Method, req.URL, res.raw)
	}
	return res
}

// control calls an unauthenticated /_sim/ endpoint.
func (h *harness) control(method, target string, body any) (int, map[string]any) {
	h.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, httptest.NewRequest(method, target, bytes.NewReader(raw)))
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		h.t.Fatalf("%s %s: answer is not JSON: %s", method, target, rec.Body.String())
	}
	return rec.Code, m
}

// expect fails unless res has the given HTTP status and result code.
func expect(t *testing.T, res response, status int, code string) {
	t.Helper()
	if res.status != status || res.ResultInfo.Code != code {
		t.Fatalf("got %d %s, want %d %s; body %s", res.status, res.ResultInfo.Code, status, code, res.raw)
	}
	if status >= 300 && string(res.Data) != "null" {
		t.Fatalf("error answer carries data: %s", res.raw)
	}
}

func amountOf(n int64) map[string]any { return map[string]any{"amount": n, "currency": "JPY"} }

// qrBody is a POST /v2/codes body.
func (h *harness) qrBody(mpid string, amount int64) map[string]any {
	return map[string]any{
		"merchantPaymentId": mpid, "amount": amountOf(amount), "codeType": "ORDER_QR",
		"requestedAt": h.clock.Now().Unix(), "orderDescription": "coffee",
	}
}

// payBody is a POST /v2/payments body for a linked user or, when user starts with a digit,
// a barcode.
func (h *harness) payBody(mpid, user string, amount int64) map[string]any {
	b := map[string]any{
		"merchantPaymentId": mpid, "amount": amountOf(amount), "requestedAt": h.clock.Now().Unix(),
		"storeId": "store-1", "terminalId": "till-1",
	}
	if user != "" && user[0] >= '0' && user[0] <= '9' {
		b["authorizationCode"] = user
	} else {
		b["userAuthorizationId"] = user
	}
	return b
}

// refundBody is a POST /v2/refunds body.
func (h *harness) refundBody(mrid, paymentID string, amount int64) map[string]any {
	return map[string]any{
		"merchantRefundId": mrid, "paymentId": paymentID, "amount": amountOf(amount),
		"requestedAt": h.clock.Now().Unix(), "reason": "customer request",
	}
}

// pay creates a completed linked-user payment and returns PayPay's paymentId.
func (h *harness) pay(mpid string, amount int64) string {
	h.t.Helper()
	res := h.call(http.MethodPost, "/v2/payments?agreeSimilarTransaction=true", h.payBody(mpid, UserOK, amount))
	expect(h.t, res, http.StatusCreated, "SUCCESS")
	return res.dataMap(h.t)["paymentId"].(string)
}

// status reads a payment's status through GET /v2/payments/{mpid}.
func (h *harness) status(mpid string) string {
	h.t.Helper()
	res := h.call(http.MethodGet, "/v2/payments/"+mpid, nil)
	expect(h.t, res, http.StatusOK, "SUCCESS")
	return res.dataMap(h.t)["status"].(string)
}
