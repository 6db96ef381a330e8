package linepay

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSignatureVectors recomputes the four test vectors of docs/partners/linepay.md §3.1.
func TestSignatureVectors(t *testing.T) {
	const secret, nonce = "testsecret", "3b3d7c7e-1c4e-4f61-9a1e-2f8a8b6c1d00"
	for _, v := range []struct{ name, path, payload, want string }{
		{"POST request", "/v3/payments/request", `{"amount":100,"currency":"TWD","orderId":"order-1"}`, "7UwvmCNUtUpjbo3xDACAar/gZFa3yLhCo9s1BqSKgb8="},
		{"GET details", "/v3/payments", "transactionId=2021121600698709519&orderId=order-1", "sgWDST14IQ4372vir6ywWAWSnWhCqEUdrR5pdPr3CFE="},
		{"void no body", "/v3/payments/authorizations/2021121600698709519/void", "", "szbUTNCw9Dw36F9hdNjyEezT3EB+ieyqvyY+wIhoF3A="},
		{"void {}", "/v3/payments/authorizations/2021121600698709519/void", "{}", "cNmN9viKsBDD9lGMosfvAWiYeWH5GIAn6noVa0Z5ZEQ="},
	} {
		if got := Signature(secret, v.path, v.payload, nonce); got != v.want || len(got) != 44 {
			t.Errorf("%s: got %s, want %s", v.name, got, v.want)
		}
	}
}

// TestSignatureVectorsOverTheWire sends the §3.1 vectors to a simulator with that secret:
// they reach the handler (1150: unknown transaction) instead of failing auth (1106).
func TestSignatureVectorsOverTheWire(t *testing.T) {
	const nonce = "3b3d7c7e-1c4e-4f61-9a1e-2f8a8b6c1d00"
	h := newHarness(t, func(c *Config) { c.ChannelSecret = "testsecret" })
	send := func(method, target, body, sig, want string) {
		t.Helper()
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set(headerChannelID, testChannel)
		req.Header.Set(headerNonce, nonce)
		req.Header.Set(headerSignature, sig)
		h.expect(h.serve(req), want)
	}
	send(http.MethodGet, "/v3/payments?transactionId=2021121600698709519&orderId=order-1", "", "sgWDST14IQ4372vir6ywWAWSnWhCqEUdrR5pdPr3CFE=", codeNotFound)
	send(http.MethodPost, "/v3/payments/authorizations/2021121600698709519/void", "", "szbUTNCw9Dw36F9hdNjyEezT3EB+ieyqvyY+wIhoF3A=", codeNotFound)
	send(http.MethodPost, "/v3/payments/authorizations/2021121600698709519/void", "{}", "cNmN9viKsBDD9lGMosfvAWiYeWH5GIAn6noVa0Z5ZEQ=", codeNotFound)
	// the request vector's body lacks packages: authenticated, then refused as a parameter error
	send(http.MethodPost, "/v3/payments/request", `{"amount":100,"currency":"TWD","orderId":"order-1"}`, "7UwvmCNUtUpjbo3xDACAar/gZFa3yLhCo9s1BqSKgb8=", codeParameterError)
	// the same signature over other bytes (a re-marshalled body with a space) fails
	send(http.MethodPost, "/v3/payments/request", `{"amount": 100,"currency":"TWD","orderId":"order-1"}`, "7UwvmCNUtUpjbo3xDACAar/gZFa3yLhCo9s1BqSKgb8=", codeHeaderError)
}

func TestAuthRefusals(t *testing.T) {
	h := newHarness(t)
	body := `{"x":1}`
	mk := func(mut func(*http.Request)) response {
		req := httptest.NewRequest(http.MethodPost, "/v3/payments/request", strings.NewReader(body))
		h.sign(req, "/v3/payments/request", body)
		mut(req)
		return h.serve(req)
	}
	h.expect(mk(func(r *http.Request) { r.Header.Del(headerSignature) }), codeHeaderError)
	h.expect(mk(func(r *http.Request) { r.Header.Del(headerNonce) }), codeHeaderError)
	h.expect(mk(func(r *http.Request) { r.Header.Del(headerChannelID) }), codeHeaderError)
	h.expect(mk(func(r *http.Request) { r.Header.Set(headerChannelID, "1650000001") }), codeUnknownMerchant)
	h.expect(mk(func(r *http.Request) {
		r.Header.Set(headerSignature, Signature("wrong-secret", "/v3/payments/request", body, r.Header.Get(headerNonce)))
	}), codeHeaderError)
	h.expect(mk(func(r *http.Request) { r.Header.Set(headerNonce, "another-nonce") }), codeHeaderError)
	// a correct signature reaches validation: bad JSON
	h.expect(mk(func(*http.Request) {}), codeParameterError)
}

func TestAuthGETQueryStrictAndLenient(t *testing.T) {
	target := "/v3/payments?orderId=nothing"
	for _, lenient := range []bool{false, true} {
		h := newHarness(t, func(c *Config) { c.LenientGETSigning = lenient })
		for _, payload := range []string{"", "?orderId=nothing"} {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			req.Header.Set(headerChannelID, testChannel)
			req.Header.Set(headerNonce, "n1")
			req.Header.Set(headerSignature, Signature(testSecret, "/v3/payments", payload, "n1"))
			want := codeHeaderError
			if lenient {
				want = codeNotFound
			}
			h.expect(h.serve(req), want)
		}
		h.expect(h.get(target), codeNotFound) // the right signature works either way
	}
}

func TestStrictNonce(t *testing.T) {
	for _, strict := range []bool{false, true} {
		h := newHarness(t, func(c *Config) { c.StrictNonce = strict })
		send := func() response {
			req := httptest.NewRequest(http.MethodGet, "/v3/payments?orderId=x", nil)
			req.Header.Set(headerChannelID, testChannel)
			req.Header.Set(headerNonce, "same-nonce")
			req.Header.Set(headerSignature, Signature(testSecret, "/v3/payments", "orderId=x", "same-nonce"))
			return h.serve(req)
		}
		h.expect(send(), codeNotFound)
		h.clock.Advance(14 * time.Minute)
		if strict {
			h.expect(send(), codeHeaderError)
			h.clock.Advance(16 * time.Minute) // past the window since it was first seen
			h.expect(send(), codeNotFound)
		} else {
			h.expect(send(), codeNotFound)
		}
	}
}

// TestEncodedPathSigned: the signature covers the path as received, percent-encoding kept.
func TestEncodedPathSigned(t *testing.T) {
	h := newHarness(t)
	h.expect(h.post("/v4/payments/oneTimeKeys/pay", payBody("order a/b", OneTimeKeyOK, 100, true)), codeSuccess)
	h.expect(h.get("/v4/payments/orders/order%20a%2Fb/check"), codeSuccess)
	req := httptest.NewRequest(http.MethodGet, "/v4/payments/orders/order%20a%2Fb/check", nil)
	h.sign(req, "/v4/payments/orders/order a/b/check", "") // signed over the decoded path
	h.expect(h.serve(req), codeHeaderError)
}

// TestAbsoluteFormRouted: a client behind https_proxy sends the full URL; it is routed and
// verified by its path.
func TestAbsoluteFormRouted(t *testing.T) {
	h := newHarness(t)
	body := `{"amount":100,"currency":"TWD"}`
	raw := "POST https://sandbox-api-pay.line.me/v3/payments/2026031000000000001/confirm HTTP/1.1\r\n" +
		"Host: sandbox-api-pay.line.me\r\nContent-Type: application/json\r\n" +
		"X-LINE-ChannelId: " + testChannel + "\r\nX-LINE-Authorization-Nonce: abs-1\r\n" +
		"X-LINE-Authorization: " + Signature(testSecret, "/v3/payments/2026031000000000001/confirm", body, "abs-1") + "\r\n" +
		"Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	h.expect(h.serve(req), codeNotFound) // authenticated and routed: no such transaction
}

func TestUnknownPath404(t *testing.T) {
	h := newHarness(t)
	if r := h.get("/v3/nothing"); r.status != http.StatusNotFound {
		t.Fatalf("unknown path: %d %s", r.status, r.raw)
	}
	if r := h.get("/v3/payments/request"); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("wrong method: %d %s", r.status, r.raw)
	}
}

func itoa(n int) string {
	b := []byte{}
	for ; n > 0 || len(b) == 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
