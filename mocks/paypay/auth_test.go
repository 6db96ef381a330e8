package paypay

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"payhub/mocks/sim"
)

// Published vector (docs/partners/paypay.md §2.2).
const (
	vecKey    = "APIKeyGenerated"
	vecSecret = "APIKeySecretGenerated"
	vecNonce  = "acd028"
	vecEpoch  = 1579843452
	vecCT     = "application/json;charset=UTF-8;"
	vecBody   = `{"sampleRequestBodyKey1":"sampleRequestBodyValue1","sampleRequestBodyKey2":"sampleRequestBodyValue2"}`
	vecHeader = "hmac OPA-Auth:APIKeyGenerated:NW1jKIMnzR7tEhMWtcJcaef+nFVBt7jjAGcVuxHhchc=:acd028:1579843452:1j0FnY4flNp5CtIKa7x9MQ=="
	vecNoBody = "hmac OPA-Auth:APIKeyGenerated:6ZHyYi13ETW4ONHkEdYGMzua7iWYaq6zB8OFnSxg5Eg=:acd028:1579843452:empty"
)

func vectorSim(lenient bool) *Simulator {
	return New(Config{APIKey: vecKey, APISecret: vecSecret, Clock: sim.NewManualClock(time.Unix(vecEpoch, 0)), LenientContentType: lenient})
}

func TestPublishedVectorVerifies(t *testing.T) {
	if got := bodyHash(vecCT, []byte(vecBody)); got != "1j0FnY4flNp5CtIKa7x9MQ==" {
		t.Fatalf("body hash = %s", got)
	}
	if got := authHeader(vecKey, vecSecret, "POST", "/v2/codes", vecNonce, vecEpoch, vecCT, []byte(vecBody)); got != vecHeader {
		t.Fatalf("header = %s", got)
	}
	req := httptest.NewRequest(http.MethodPost, "/v2/codes", strings.NewReader(vecBody))
	req.Header.Set("Content-Type", vecCT)
	req.Header.Set("Authorization", vecHeader)
	if !vectorSim(false).verifyAuth(req, []byte(vecBody)) {
		t.Fatal("published vector refused")
	}
}

func TestNoBodyVectorVerifies(t *testing.T) {
	if got := authHeader(vecKey, vecSecret, "GET", "/v2/payments/mp-1", vecNonce, vecEpoch, "application/json", nil); got != vecNoBody {
		t.Fatalf("header = %s", got)
	}
	req := httptest.NewRequest(http.MethodGet, "/v2/payments/mp-1?assumeMerchant=", nil)
	req.Header.Set("Authorization", vecNoBody)
	if !vectorSim(false).verifyAuth(req, nil) {
		t.Fatal("no-body vector refused")
	}
}

func TestSignatureRejections(t *testing.T) {
	body := `{"merchantPaymentId":"mp-sig","amount":{"amount":100,"currency":"JPY"},"codeType":"ORDER_QR"}`
	now := testStart.Unix()
	sign := func(secret string, epoch int64, ct, signedBody string) string {
		return authHeader(testKey, secret, "POST", "/v2/codes", "nonce123", epoch, ct, []byte(signedBody))
	}
	cases := []struct {
		name, auth, sentCT, sentBody string
		lenientAccepts               bool
	}{
		{"tampered body", sign(testSecret, now, "application/json", body), "application/json", strings.Replace(body, "100", "1", 1), false},
		{"wrong secret", sign("other-secret", now, "application/json", body), "application/json", body, false},
		{"stale epoch", sign(testSecret, now-121, "application/json", body), "application/json", body, false},
		{"future epoch", sign(testSecret, now+121, "application/json", body), "application/json", body, false},
		{"wrong content type", sign(testSecret, now, "application/json;charset=UTF-8", body), "application/json", body, true},
		{"wrong api key", strings.Replace(sign(testSecret, now, "application/json", body), testKey, "other-key", 1), "application/json", body, false},
		{"missing header", "", "application/json", body, false},
		{"other scheme", strings.Replace(sign(testSecret, now, "application/json", body), "hmac OPA-Auth:", "Bearer ", 1), "application/json", body, false},
		{"empty hash with a body", sign(testSecret, now, "application/json", ""), "application/json", body, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, lenient := range []bool{false, true} {
				h := newHarness(t, func(c *Config) { c.LenientContentType = lenient })
				req := httptest.NewRequest(http.MethodPost, "/v2/codes", strings.NewReader(tc.sentBody))
				req.Header.Set("Content-Type", tc.sentCT)
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				res := h.serve(req)
				if lenient && tc.lenientAccepts {
					expect(t, res, http.StatusCreated, "SUCCESS")
					continue
				}
				expect(t, res, http.StatusUnauthorized, "UNAUTHORIZED")
				if res.ResultInfo.CodeID != "08100016" {
					t.Fatalf("codeId = %s", res.ResultInfo.CodeID)
				}
				if _, ok := h.sim.Payment("mp-sig"); ok {
					t.Fatal("a refused request created a payment")
				}
			}
		})
	}
}

func TestEpochWindowBoundary(t *testing.T) {
	for _, skew := range []int64{-120, 120} {
		h := newHarness(t)
		req := httptest.NewRequest(http.MethodGet, "/v2/payments/nope", nil)
		req.Header.Set("Authorization", authHeader(testKey, testSecret, "GET", "/v2/payments/nope", "n", testStart.Unix()+skew, "", nil))
		expect(t, h.serve(req), http.StatusNotFound, "RESOURCE_NOT_FOUND")
	}
}

func TestSignatureCoversPathAsSent(t *testing.T) {
	h := newHarness(t)
	// Signed over /v2/payments/a but sent to /v2/payments/b.
	req := httptest.NewRequest(http.MethodGet, "/v2/payments/b", nil)
	req.Header.Set("Authorization", authHeader(testKey, testSecret, "GET", "/v2/payments/a", "n", testStart.Unix(), "", nil))
	expect(t, h.serve(req), http.StatusUnauthorized, "UNAUTHORIZED")
	// The query string is not signed.
	req = httptest.NewRequest(http.MethodGet, "/v2/payments/a?x="+strconv.Itoa(1), nil)
	req.Header.Set("Authorization", authHeader(testKey, testSecret, "GET", "/v2/payments/a", "n", testStart.Unix(), "", nil))
	expect(t, h.serve(req), http.StatusNotFound, "RESOURCE_NOT_FOUND")
}

func TestMerchantScope(t *testing.T) {
	h := newHarness(t)
	req := httptest.NewRequest(http.MethodGet, "/v2/payments/x", nil)
	req.Header.Set("X-ASSUME-MERCHANT", "someone-else")
	req.Header.Set("Authorization", authHeader(testKey, testSecret, "GET", "/v2/payments/x", "n", testStart.Unix(), "", nil))
	expect(t, h.serve(req), http.StatusUnauthorized, "OP_OUT_OF_SCOPE")

	req = httptest.NewRequest(http.MethodGet, "/v2/payments/x?assumeMerchant="+testMerchant, nil)
	req.Header.Set("X-ASSUME-MERCHANT", "someone-else") // the query wins
	req.Header.Set("Authorization", authHeader(testKey, testSecret, "GET", "/v2/payments/x", "n", testStart.Unix(), "", nil))
	expect(t, h.serve(req), http.StatusNotFound, "RESOURCE_NOT_FOUND")
}
