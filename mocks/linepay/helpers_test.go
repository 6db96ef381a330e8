package linepay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"payhub/mocks/sim"
)

const (
	testChannel = "1651234567"
	testSecret  = "test-channel-secret"
)

// testStart is the simulator clock's start: 2026-03-10 14:00:00 Taipei.
var testStart = time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)

// harness is a simulator on a manual clock with a signing client.
type harness struct {
	t     *testing.T
	sim   *Simulator
	clock *sim.ManualClock
	nonce atomic.Int64
}

func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	clock := sim.NewManualClock(testStart)
	cfg := Config{ChannelID: testChannel, ChannelSecret: testSecret, Clock: clock}
	for _, m := range mutate {
		m(&cfg)
	}
	return &harness{t: t, sim: New(cfg), clock: clock}
}

// response is a decoded LINE Pay answer; raw keeps the bytes for exactness checks.
type response struct {
	status        int
	raw           string
	ReturnCode    string          `json:"returnCode"`
	ReturnMessage string          `json:"returnMessage"`
	Info          json.RawMessage `json:"info"`
}

// info decodes Info into v with UseNumber semantics (json.Number for numbers).
func (r response) info(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Info))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("info is not an object: %s", r.raw)
	}
	return m
}

// infoList decodes Info as an array of objects, numbers as json.Number.
func (r response) infoList(t *testing.T) []map[string]any {
	t.Helper()
	var l []map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Info))
	dec.UseNumber()
	if err := dec.Decode(&l); err != nil {
		t.Fatalf("info is not an array: %s", r.raw)
	}
	return l
}

// sign sets the HMAC headers for target (path and raw query as sent) and body.
func (h *harness) sign(req *http.Request, path, payload string) {
	nonce := fmt.Sprintf("nonce-%d", h.nonce.Add(1))
	req.Header.Set(headerChannelID, testChannel)
	req.Header.Set(headerNonce, nonce)
	req.Header.Set(headerSignature, Signature(testSecret, path, payload, nonce))
}

// post sends a signed POST with body as raw bytes (string) or marshalled (anything else).
func (h *harness) post(path string, body any) response {
	h.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			h.t.Fatal(err)
		}
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	h.sign(req, path, string(raw))
	return h.serve(req)
}

// get sends a signed GET; target may carry a raw query.
func (h *harness) get(target string) response {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	path, query, _ := strings.Cut(target, "?")
	h.sign(req, path, query)
	return h.serve(req)
}

// serve runs req through the simulator and decodes the answer.
func (h *harness) serve(req *http.Request) response {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, req)
	res := response{status: rec.Code, raw: rec.Body.String()}
	if strings.HasPrefix(req.URL.Path, "/v") && rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			h.t.Fatalf("%s %s: not JSON: %s", req.Method, req.URL, rec.Body.String())
		}
		if len(res.ReturnCode) != 4 {
			h.t.Fatalf("returnCode %q is not 4 characters", res.ReturnCode)
		}
		if res.ReturnCode != codeSuccess && len(res.Info) > 0 {
			h.t.Fatalf("info on an error answer: %s", res.raw)
		}
	}
	return res
}

// expect fails unless r carries code.
func (h *harness) expect(r response, code string) response {
	h.t.Helper()
	if r.status != http.StatusOK || r.ReturnCode != code {
		h.t.Fatalf("want HTTP 200 returnCode %s, got %d %s", code, r.status, r.raw)
	}
	return r
}

// requestBody is a valid Online request for orderID of amount TWD.
func requestBody(orderID string, amt int, capture bool) map[string]any {
	return map[string]any{
		"amount": amt, "currency": "TWD", "orderId": orderID,
		"packages": []any{map[string]any{"id": "p1", "amount": amt, "products": []any{
			map[string]any{"name": "item", "quantity": 1, "price": amt}}}},
		"redirectUrls": map[string]any{"confirmUrl": "https://m.example/ok", "cancelUrl": "https://m.example/cancel"},
		"options":      map[string]any{"payment": map[string]any{"capture": capture}},
	}
}

// payBody is a valid Offline v4 pay.
func payBody(orderID, key string, amt int, capture bool) map[string]any {
	b := requestBody(orderID, amt, capture)
	delete(b, "redirectUrls")
	b["oneTimeKey"] = key
	return b
}

// request creates an Online request and returns its transactionId as a string, read from
// the raw JSON.
func (h *harness) request(orderID string, amt int, capture bool) string {
	h.t.Helper()
	r := h.expect(h.post("/v3/payments/request", requestBody(orderID, amt, capture)), codeSuccess)
	return idString(r.info(h.t)["transactionId"])
}

// idString reads an id decoded with UseNumber: a bare number or, quoted, a string.
func idString(v any) string {
	switch id := v.(type) {
	case json.Number:
		return string(id)
	case string:
		return id
	}
	return ""
}

// approvedRequest creates a request and lets the customer approve it.
func (h *harness) approvedRequest(orderID string, amt int, capture bool) string {
	h.t.Helper()
	tx := h.request(orderID, amt, capture)
	if err := h.sim.Approve(tx); err != nil {
		h.t.Fatal(err)
	}
	return tx
}

// confirmed creates a confirmed Online payment.
func (h *harness) confirmed(orderID string, amt int, capture bool) string {
	h.t.Helper()
	tx := h.approvedRequest(orderID, amt, capture)
	h.expect(h.post("/v3/payments/"+tx+"/confirm", map[string]any{"amount": amt, "currency": "TWD"}), codeSuccess)
	return tx
}

// ledger returns the ledger entry for id or fails.
func (h *harness) ledger(id string) LedgerPayment {
	h.t.Helper()
	lp, ok := h.sim.Payment(id)
	if !ok {
		h.t.Fatalf("no payment %s in the ledger", id)
	}
	return lp
}

// postSim is an unauthenticated POST to a /_sim/ hook.
func postSim(path string) *http.Request {
	return httptest.NewRequest(http.MethodPost, path, nil)
}
