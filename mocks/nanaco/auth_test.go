package nanaco

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The test vector of docs/partners/nanaco.md §B2, request and response.
func TestSignatureTestVectors(t *testing.T) {
	const (
		reqBody  = `{"terminalSeq":1,"businessDate":"20261128","nanacoNumber":"7000000000000001","amount":500,"pointEligibleAmount":463}`
		respBody = `{"centerTxnId":"NC000000000000000001","status":"APPROVED","amount":500,"balanceBefore":10000,"balanceAfter":9500,"pointsAwarded":2}`
	)
	if got := bodyHash([]byte(reqBody)); got != "ced2daeb1f3a9e41095468381051523d83d811b6e26a243c81d4442c60ff5b9b" {
		t.Errorf("request body SHA-256 %s", got)
	}
	if got := RequestSignature(DemoSecret, "POST", "/ncs/v1/payments", "M0001", "T0001", "2026-11-28T10:15:30+09:00", "n-0001", []byte(reqBody)); got != "v1=2iWj2tlyUYGW/UdEil7y+OBmjk03D3OiShVxdGwQOLA=" {
		t.Errorf("request signature %s", got)
	}
	if got := bodyHash([]byte(respBody)); got != "64ae275ff68dea046fc217b9b5c49b8adf7de8b1fdf838b0281910cedde23e72" {
		t.Errorf("response body SHA-256 %s", got)
	}
	if got := ResponseSignature(DemoSecret, 200, "/ncs/v1/payments", "2026-11-28T10:15:31+09:00", "n-0001", []byte(respBody)); got != "v1=cvwKTbaVv8G5woXkbYj2NMF/gx7OICCnO0Qi0tDO7h4=" {
		t.Errorf("response signature %s", got)
	}
	// SignRequest writes the same headers.
	req := httptest.NewRequest(http.MethodPost, "/ncs/v1/payments", strings.NewReader(reqBody))
	SignRequest(req, DemoSecret, "M0001", "T0001", "n-0001", time.Date(2026, 11, 28, 1, 15, 30, 0, time.UTC), []byte(reqBody))
	if req.Header.Get(HeaderTimestamp) != "2026-11-28T10:15:30+09:00" || req.Header.Get(HeaderSignature) != "v1=2iWj2tlyUYGW/UdEil7y+OBmjk03D3OiShVxdGwQOLA=" {
		t.Errorf("SignRequest: %v", req.Header)
	}
}

// The vector's payment, made on a fresh demo simulator: the values of the vector's answer.
func TestVectorPaymentValues(t *testing.T) {
	h := newHarness(t)
	r := h.ok(h.post("/ncs/v1/payments", `{"terminalSeq":1,"businessDate":"20261128","nanacoNumber":"7000000000000001","amount":500,"pointEligibleAmount":463}`))
	for k, want := range map[string]int{"amount": 500, "requestedAmount": 500, "balanceBefore": 10000, "balanceAfter": 9500, "pointsAwarded": 2, "terminalSeq": 1} {
		if r.num(k) != want {
			t.Errorf("%s = %d, want %d (%s)", k, r.num(k), want, r)
		}
	}
	for k, want := range map[string]string{"centerTxnId": "NC000000000000000001", "status": "APPROVED", "type": "PAYMENT",
		"businessDate": "20261128", "terminalId": testTerminal, "merchantRef": "", "processedAt": "2026-11-28T10:15:30+09:00"} {
		if r.str(k) != want {
			t.Errorf("%s = %q, want %q (%s)", k, r.str(k), want, r)
		}
	}
	if st := h.card(FixtureActive); st.Points != 122 {
		t.Errorf("points %d, want 120 + 2", st.Points)
	}
}

func TestAuthentication(t *testing.T) {
	body := []byte(`{"nanacoNumber":"7000000000000001"}`)
	const path = "/ncs/v1/cards/inquiry"
	cases := []struct {
		name   string
		mutate func(h *harness, req *http.Request)
		code   string
	}{
		{"unknown merchant", func(h *harness, req *http.Request) {
			SignRequest(req, testSecret, "M9999", testTerminal, "nonce-merchant-0001", h.sim.Now(), body)
		}, CodeAuthFailed},
		{"no merchant", func(h *harness, req *http.Request) { req.Header.Del(HeaderMerchantID) }, CodeAuthFailed},
		{"malformed terminal", func(h *harness, req *http.Request) {
			SignRequest(req, testSecret, testMerchant, "till 1", "nonce-terminal-0001", h.sim.Now(), body)
		}, CodeAuthFailed},
		{"short nonce", func(h *harness, req *http.Request) {
			SignRequest(req, testSecret, testMerchant, testTerminal, "n-0001", h.sim.Now(), body)
		}, CodeAuthFailed},
		{"wrong secret", func(h *harness, req *http.Request) {
			SignRequest(req, "another-secret", testMerchant, testTerminal, "nonce-secret-00001", h.sim.Now(), body)
		}, CodeSignatureInvalid},
		{"no signature", func(h *harness, req *http.Request) { req.Header.Del(HeaderSignature) }, CodeSignatureInvalid},
		{"body changed", func(h *harness, req *http.Request) {
			req.Body = nopCloser(`{"nanacoNumber":"7000000000000002"}`)
		}, CodeSignatureInvalid},
		{"skew +301 s", func(h *harness, req *http.Request) {
			SignRequest(req, testSecret, testMerchant, testTerminal, "nonce-skew-plus-01", h.sim.Now().Add(301*time.Second), body)
		}, CodeTimestampSkew},
		{"skew -301 s", func(h *harness, req *http.Request) {
			SignRequest(req, testSecret, testMerchant, testTerminal, "nonce-skew-minus-1", h.sim.Now().Add(-301*time.Second), body)
		}, CodeTimestampSkew},
		{"timestamp in UTC", func(h *harness, req *http.Request) {
			ts := h.sim.Now().UTC().Format(time.RFC3339)
			req.Header.Set(HeaderTimestamp, ts)
			req.Header.Set(HeaderSignature, RequestSignature(testSecret, "POST", path, testMerchant, testTerminal, ts, req.Header.Get(HeaderNonce), body))
		}, CodeTimestampSkew},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			req := h.request(testTerminal, path, body)
			tc.mutate(h, req)
			h.refused(h.do(req), http.StatusUnauthorized, tc.code)
		})
	}

	t.Run("skew of 300 s is allowed", func(t *testing.T) {
		h := newHarness(t)
		for _, d := range []time.Duration{300 * time.Second, -300 * time.Second} {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			SignRequest(req, testSecret, testMerchant, testTerminal, h.nextNonce(), h.sim.Now().Add(d), body)
			h.ok(h.do(req))
		}
	})

	t.Run("nonce reuse", func(t *testing.T) {
		h := newHarness(t)
		send := func(terminal string) response {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			SignRequest(req, testSecret, testMerchant, terminal, "the-same-nonce-0001", h.sim.Now(), body)
			return h.do(req)
		}
		h.ok(send(testTerminal))
		h.refused(send(testTerminal), http.StatusUnauthorized, CodeNonceReused)
		h.refused(send(otherTill), http.StatusUnauthorized, CodeNonceReused) // per merchant, not per terminal
		h.clock.Advance(9*time.Minute + 59*time.Second)
		h.refused(send(testTerminal), http.StatusUnauthorized, CodeNonceReused)
		h.clock.Advance(time.Second)
		h.ok(send(testTerminal)) // 10 minutes on, the nonce is forgotten
	})

	t.Run("a refused request does not use its nonce", func(t *testing.T) {
		h := newHarness(t)
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		SignRequest(req, testSecret, testMerchant, testTerminal, "nonce-after-skew-1", h.sim.Now().Add(time.Hour), body)
		h.refused(h.do(req), http.StatusUnauthorized, CodeTimestampSkew)
		req = httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		SignRequest(req, testSecret, testMerchant, testTerminal, "nonce-after-skew-1", h.sim.Now(), body)
		h.ok(h.do(req))
	})

	t.Run("errors are signed, unsigned without a nonce", func(t *testing.T) {
		h := newHarness(t)
		req := h.request(testTerminal, path, body)
		req.Header.Del(HeaderNonce)
		rec := httptest.NewRecorder()
		h.sim.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized || rec.Header().Get(HeaderSignature) != "" {
			t.Fatalf("got %d %v", rec.Code, rec.Header())
		}
	})
}

func nopCloser(s string) *readCloser { return &readCloser{strings.NewReader(s)} }

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

func TestRequestShape(t *testing.T) {
	h := newHarness(t)
	const inquiry = "/ncs/v1/cards/inquiry"
	for name, body := range map[string]string{
		"unknown field":         `{"nanacoNumber":"7000000000000001","colour":"red"}`,
		"field in another case": `{"NanacoNumber":"7000000000000001"}`,
		"field twice":           `{"nanacoNumber":"7000000000000001","nanacoNumber":"7000000000000002"}`,
		"trailing data":         `{"nanacoNumber":"7000000000000001"} {}`,
		"not an object":         `["7000000000000001"]`,
		"null":                  `null`,
		"empty":                 ``,
		"wrong type":            `{"nanacoNumber":7000000000000001}`,
		"short number":          `{"nanacoNumber":"700000000000001"}`,
		"bad idm":               `{"idm":"0114XYZ"}`,
		"no card":               `{}`,
	} {
		t.Run(name, func(t *testing.T) { h.refused(h.post(inquiry, body), http.StatusBadRequest, CodeInvalidRequest) })
	}
	t.Run("amount with a fraction", func(t *testing.T) {
		h.refused(h.post("/ncs/v1/payments", h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 100.5)), 400, CodeInvalidRequest)
	})
	t.Run("amount not positive", func(t *testing.T) {
		h.refused(h.post("/ncs/v1/payments", h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 0)), 400, CodeAmountInvalid)
		h.refused(h.post("/ncs/v1/payments", h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", -5)), 400, CodeAmountInvalid)
	})
	t.Run("merchantRef over 64", func(t *testing.T) {
		h.refused(h.post("/ncs/v1/payments", h.vm(testTerminal, "nanacoNumber", FixtureActive, "amount", 1, "merchantRef", strings.Repeat("r", 65))), 400, CodeInvalidRequest)
	})
	t.Run("body over 64 KiB", func(t *testing.T) {
		big := `{"nanacoNumber":"7000000000000001","x":"` + strings.Repeat("a", MaxBodyBytes) + `"}`
		h.refused(h.post(inquiry, big), 400, CodeInvalidRequest)
	})
	t.Run("content type", func(t *testing.T) {
		req := h.request(testTerminal, inquiry, `{"nanacoNumber":"7000000000000001"}`)
		req.Header.Set("Content-Type", "text/plain")
		h.refused(h.do(req), 400, CodeInvalidRequest)
	})
	t.Run("GET", func(t *testing.T) {
		req := h.request(testTerminal, inquiry, nil)
		req.Method = http.MethodGet
		r := h.do(req)
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
			t.Fatalf("got %s", r)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		if r := h.post("/ncs/v1/payments/void", `{}`); r.status != http.StatusNotFound {
			t.Fatalf("got %s", r)
		}
	})
	t.Run("idm in upper or lower case", func(t *testing.T) {
		h.ok(h.post(inquiry, `{"idm":"0114000000000001"}`))
		h.ok(h.post(inquiry, `{"idm":"0114000000000001","nanacoNumber":"7000000000000001"}`))
		h.refused(h.post(inquiry, `{"idm":"0114000000000001","nanacoNumber":"7000000000000002"}`), 404, CodeCardNotFound)
		h.refused(h.post(inquiry, `{"nanacoNumber":"7000000000009999"}`), 404, CodeCardNotFound)
	})
	t.Run("transfers take no idm", func(t *testing.T) {
		h.refused(h.postFrom("MIG-1", "/ncs/v1/transfers", h.vm("MIG-1", "nanacoNumber", FixtureActive, "idm", "0114000000000001", "amount", 1)), 400, CodeInvalidRequest)
	})
}
