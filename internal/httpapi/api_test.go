package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"payhub/contracts"
	"payhub/internal/auth"
)

func TestBarcodePayment(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		r := e.pay(e.a, barcodePayment(1200, barcodeOK))
		expectStatus(t, r, http.StatusCreated, "")
		p := r.json(t)
		if p["status"] != "succeeded" || p["amount"] != 1200.0 || p["currency"] != "JPY" || p["method"] != "paypay" ||
			p["flow"] != "barcode" || p["store_id"] != "store-a" || p["terminal_id"] != "till-01" || p["amount_refunded"] != 0.0 {
			t.Fatalf("unexpected payment: %s", r.body)
		}
		id := p["id"].(string)
		if !contracts.ValidID(contracts.PrefixPayment, id) {
			t.Fatalf("bad id %q", id)
		}
		if r.header.Get("X-Request-Id") == "" || r.header.Get("API-Version") != contracts.APIVersion {
			t.Fatalf("missing request id or API-Version: %v", r.header)
		}
		lp, ok := e.sim.Payment(id + "_1")
		if !ok || lp.Status != "COMPLETED" || lp.Amount != 1200 {
			t.Fatalf("simulator ledger disagrees: %+v %v", lp, ok)
		}
		got := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil)
		expectStatus(t, got, http.StatusOK, "")
		if got.json(t)["status"] != "succeeded" {
			t.Fatalf("GET: %s", got.body)
		}
		events, err := st.ListEvents(context.Background(), id)
		if err != nil || len(events) != 2 || events[0].Type != contracts.EventPaymentProcessing || events[1].Type != contracts.EventPaymentSucceeded || events[1].Sequence != 2 {
			t.Fatalf("events: %+v %v", events, err)
		}
	})
}

func TestDeclinedBarcodeIsAFailedPayment(t *testing.T) {
	e := newEnv(t, nil)
	r := e.pay(e.a, barcodePayment(500, barcodeNoFunds))
	expectStatus(t, r, http.StatusCreated, "")
	p := r.json(t)
	if p["status"] != "failed" || p["failure_code"] != contracts.FailureInsufficientFunds {
		t.Fatalf("want failed insufficient_funds: %s", r.body)
	}
}

func TestQRPaymentCompletesWhenCustomerPays(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		r := e.pay(e.a, map[string]any{"amount": 880, "currency": "JPY", "method": "paypay", "flow": "qr", "terminal_id": "kiosk-2"})
		expectStatus(t, r, http.StatusCreated, "")
		p := r.json(t)
		na, _ := p["next_action"].(map[string]any)
		if p["status"] != "requires_action" || na["type"] != "display_qr" || na["qr_code_url"] == nil || na["deeplink"] == nil {
			t.Fatalf("want requires_action with a QR: %s", r.body)
		}
		id := p["id"].(string)
		if got := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil).json(t); got["status"] != "requires_action" {
			t.Fatalf("unpaid QR: %v", got["status"])
		}
		if err := e.sim.PayQR(id+"_1", "user-ok"); err != nil {
			t.Fatal(err)
		}
		got := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil)
		if m := got.json(t); m["status"] != "succeeded" || m["next_action"] != nil {
			t.Fatalf("after paying: %s", got.body)
		}
	})
}

func TestQRPollerNoticesPayment(t *testing.T) {
	e := newEnv(t, nil)
	r := e.pay(e.a, map[string]any{"amount": 300, "currency": "JPY", "method": "paypay", "flow": "qr"})
	id := r.json(t)["id"].(string)
	if n, err := e.app.Hub.PollOnce(context.Background(), 10); err != nil || n != 0 {
		t.Fatalf("poll before paying: %d %v", n, err)
	}
	if err := e.sim.PayQR(id+"_1", "user-ok"); err != nil {
		t.Fatal(err)
	}
	if n, err := e.app.Hub.PollOnce(context.Background(), 10); err != nil || n != 1 {
		t.Fatalf("poll after paying: %d %v", n, err)
	}
	p, err := e.app.Store.GetPayment(context.Background(), "store-a", id)
	if err != nil || p.Status != contracts.StatusSucceeded || p.PartnerPaymentID == "" {
		t.Fatalf("stored payment: %+v %v", p, err)
	}
}

func TestLinkedAccountPayment(t *testing.T) {
	e := newEnv(t, nil)
	r := e.pay(e.a, linkedPayment(2500, e.link(e.a)))
	expectStatus(t, r, http.StatusCreated, "")
	if r.json(t)["status"] != "succeeded" {
		t.Fatalf("linked: %s", r.body)
	}
	// A partner reference nobody linked through payhub (the simulator's fixture user) is
	// refused before PayPay hears of it.
	r = e.pay(e.a, map[string]any{"amount": 2500, "currency": "JPY", "method": "paypay", "flow": "linked", "user_authorization_id": "user-inactive"})
	expectStatus(t, r, http.StatusForbidden, "forbidden")
}

func TestListWithCursor(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		var ids []string
		for i := 0; i < 5; i++ {
			ids = append(ids, e.pay(e.a, barcodePayment(100+i, barcodeOK)).json(t)["id"].(string))
		}
		e.pay(e.b, barcodePayment(999, barcodeOK)) // another store's payment never shows
		var seen []string
		cursor := ""
		for page := 0; page < 5; page++ {
			path := "/v1/payments?limit=2"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			r := e.do(http.MethodGet, path, e.token(e.a), "", nil)
			expectStatus(t, r, http.StatusOK, "")
			m := r.json(t)
			for _, p := range m["data"].([]any) {
				seen = append(seen, p.(map[string]any)["id"].(string))
			}
			if m["has_more"] != true {
				if m["next_cursor"] != nil {
					t.Fatalf("next_cursor without more: %s", r.body)
				}
				break
			}
			cursor = m["next_cursor"].(string)
		}
		if len(seen) != 5 {
			t.Fatalf("saw %d payments: %v", len(seen), seen)
		}
		for i := range seen {
			if seen[i] != ids[len(ids)-1-i] {
				t.Fatalf("not newest first: %v vs %v", seen, ids)
			}
		}
		first := e.do(http.MethodGet, "/v1/payments?limit=2", e.token(e.a), "", nil).json(t)
		r := e.do(http.MethodGet, "/v1/payments?limit=2&status=failed&cursor="+first["next_cursor"].(string), e.token(e.a), "", nil)
		expectStatus(t, r, http.StatusBadRequest, "invalid_cursor")
	})
}

func TestCancel(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		id := e.pay(e.a, barcodePayment(700, barcodeOK)).json(t)["id"].(string)
		r := e.do(http.MethodPost, "/v1/payments/"+id+"/cancel", e.token(e.a), newKey(), map[string]any{"reason": "customer changed mind"})
		expectStatus(t, r, http.StatusOK, "")
		if m := r.json(t); m["status"] != "canceled" || m["cancellation_reason"] != "customer changed mind" {
			t.Fatalf("cancel: %s", r.body)
		}
		if lp, _ := e.sim.Payment(id + "_1"); lp.Status != "FAILED" {
			t.Fatalf("simulator status %q, want FAILED", lp.Status)
		}
		again := e.do(http.MethodPost, "/v1/payments/"+id+"/cancel", e.token(e.a), newKey(), nil)
		expectStatus(t, again, http.StatusConflict, "invalid_state")

		qr := e.pay(e.a, map[string]any{"amount": 450, "currency": "JPY", "method": "paypay", "flow": "qr"}).json(t)["id"].(string)
		r = e.do(http.MethodPost, "/v1/payments/"+qr+"/cancel", e.token(e.a), newKey(), nil)
		expectStatus(t, r, http.StatusOK, "")
		if r.json(t)["status"] != "canceled" {
			t.Fatalf("QR cancel: %s", r.body)
		}
	})
}

func TestPartialThenFullRefund(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		id := e.pay(e.a, barcodePayment(1000, barcodeOK)).json(t)["id"].(string)
		path := "/v1/payments/" + id + "/refunds"
		r := e.do(http.MethodPost, path, e.token(e.a), newKey(), map[string]any{"amount": 300, "reason": "one item returned"})
		expectStatus(t, r, http.StatusCreated, "")
		if m := r.json(t); m["status"] != "succeeded" || m["amount"] != 300.0 || m["payment_id"] != id ||
			!strings.HasPrefix(m["id"].(string), "re_") {
			t.Fatalf("partial refund: %s", r.body)
		}
		if got := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil).json(t); got["amount_refunded"] != 300.0 || got["status"] != "succeeded" {
			t.Fatalf("after partial: %v", got)
		}
		over := e.do(http.MethodPost, path, e.token(e.a), newKey(), map[string]any{"amount": 701})
		expectStatus(t, over, http.StatusUnprocessableEntity, "refund_exceeds_captured")
		full := e.do(http.MethodPost, path, e.token(e.a), newKey(), map[string]any{})
		expectStatus(t, full, http.StatusCreated, "")
		if m := full.json(t); m["amount"] != 700.0 || m["status"] != "succeeded" {
			t.Fatalf("rest refund: %s", full.body)
		}
		if got := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil).json(t); got["amount_refunded"] != 1000.0 {
			t.Fatalf("after full: %v", got)
		}
		expectStatus(t, e.do(http.MethodPost, path, e.token(e.a), newKey(), map[string]any{"amount": 1}), http.StatusUnprocessableEntity, "refund_exceeds_captured")
		lp, _ := e.sim.Payment(id + "_1")
		var simRefunded int64
		for _, rf := range lp.Refunds {
			simRefunded += rf.Amount
		}
		if simRefunded != 1000 {
			t.Fatalf("simulator refunded %d, want 1000", simRefunded)
		}
	})
}

func TestIdempotency(t *testing.T) {
	e := newEnv(t, nil)
	key := newKey()
	body := barcodePayment(640, barcodeOK)
	first := e.do(http.MethodPost, "/v1/payments", e.token(e.a), key, body)
	expectStatus(t, first, http.StatusCreated, "")
	// The same request again — keys in another order and spacing — replays the first response.
	again := e.do(http.MethodPost, "/v1/payments", e.token(e.a), key,
		`{ "order_id":"order-1", "terminal_id":"till-01","barcode":"900081818800000000","flow":"barcode","method":"paypay","currency":"JPY","amount":640 }`)
	expectStatus(t, again, http.StatusCreated, "")
	if string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay differs:\n%s\n%s", first.body, again.body)
	}
	if n := len(e.sim.Payments()); n != 1 {
		t.Fatalf("simulator has %d payments, want 1", n)
	}
	body["amount"] = 641
	expectStatus(t, e.do(http.MethodPost, "/v1/payments", e.token(e.a), key, body), http.StatusUnprocessableEntity, "idempotency_key_reused")
	expectStatus(t, e.do(http.MethodPost, "/v1/payments", e.token(e.a), "", body), http.StatusBadRequest, "idempotency_key_missing")
	// The same key of another client is another key.
	expectStatus(t, e.do(http.MethodPost, "/v1/payments", e.token(e.b), key, body), http.StatusCreated, "")
	// A validation refusal is not stored: the key stays usable.
	k2 := newKey()
	expectStatus(t, e.do(http.MethodPost, "/v1/payments", e.token(e.a), k2, barcodePayment(0, barcodeOK)), http.StatusUnprocessableEntity, "amount_out_of_range")
	expectStatus(t, e.do(http.MethodPost, "/v1/payments", e.token(e.a), k2, barcodePayment(10, barcodeOK)), http.StatusCreated, "")
}

func TestMalformedRequestsAreProblems(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(e.a)
	for name, c := range map[string]struct {
		body   string
		status int
		code   string
	}{
		"unknown field":   {`{"amount":1,"currency":"JPY","method":"paypay","flow":"qr","tip":5}`, 400, "invalid_request"},
		"duplicate key":   {`{"amount":1,"amount":2,"currency":"JPY","method":"paypay","flow":"qr"}`, 400, "invalid_request"},
		"trailing data":   {`{"amount":1,"currency":"JPY","method":"paypay","flow":"qr"}{}`, 400, "invalid_request"},
		"float amount":    {`{"amount":1.5,"currency":"JPY","method":"paypay","flow":"qr"}`, 400, "invalid_request"},
		"wrong currency":  {`{"amount":1,"currency":"USD","method":"paypay","flow":"qr"}`, 422, "currency_not_supported"},
		"over the limit":  {`{"amount":500001,"currency":"JPY","method":"paypay","flow":"qr"}`, 422, "amount_out_of_range"},
		"unknown method":  {`{"amount":1,"currency":"JPY","method":"cash","flow":"qr"}`, 422, "method_not_supported"},
		"barcode missing": {`{"amount":1,"currency":"JPY","method":"paypay","flow":"barcode"}`, 400, "invalid_request"},
		"bad terminal":    {`{"amount":1,"currency":"JPY","method":"paypay","flow":"qr","terminal_id":"a b"}`, 400, "invalid_request"},
		"too large":       {`{"amount":1,"currency":"JPY","method":"paypay","flow":"qr","order_id":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body_too_large"},
	} {
		t.Run(name, func(t *testing.T) {
			expectStatus(t, e.do(http.MethodPost, "/v1/payments", tok, newKey(), c.body), c.status, c.code)
		})
	}
	expectStatus(t, e.do(http.MethodGet, "/v1/payments/pay_nope", tok, "", nil), http.StatusNotFound, "not_found")
	expectStatus(t, e.do(http.MethodGet, "/v1/payments?limit=101", tok, "", nil), http.StatusBadRequest, "")
}

func TestTokensAreStrict(t *testing.T) {
	e := newEnv(t, nil)
	owned := e.pay(e.b, barcodePayment(100, barcodeOK)).json(t)["id"].(string)
	claims := func() jwt.MapClaims {
		now := time.Now()
		return jwt.MapClaims{"iss": e.a.clientID, "aud": "payhub", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
			"jti": "j1", "store": e.a.store}
	}
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims())
	none.Header["kid"] = e.a.kid
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims())
	hs.Header["kid"] = e.a.kid
	hsTok, _ := hs.SignedString(e.a.pubPEM)

	for name, tok := range map[string]string{
		"expired":             e.token(e.a, func(r *auth.TokenRequest) { r.IssuedAt = time.Now().Add(-10 * time.Minute) }),
		"wrong audience":      e.token(e.a, func(r *auth.TokenRequest) { r.Audience = "someone-else" }),
		"alg none":            noneTok,
		"HS256 with PEM":      hsTok,
		"unknown kid":         e.token(e.a, func(r *auth.TokenRequest) { r.KeyID = "no-such-key" }),
		"other client's kid":  e.token(e.a, func(r *auth.TokenRequest) { r.KeyID = e.b.kid }),
		"no token":            "",
		"garbage":             "not.a.token",
		"too long a lifetime": e.token(e.a, func(r *auth.TokenRequest) { r.TTL = 10 * time.Minute }),
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do(http.MethodGet, "/v1/payments", tok, "", nil)
			expectStatus(t, r, http.StatusUnauthorized, "unauthenticated")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	t.Run("store not granted", func(t *testing.T) {
		tok := e.token(e.a, func(r *auth.TokenRequest) { r.StoreID = e.b.store })
		expectStatus(t, e.do(http.MethodGet, "/v1/payments", tok, "", nil), http.StatusForbidden, "store_not_granted")
	})
	t.Run("store A reads store B's payment", func(t *testing.T) {
		expectStatus(t, e.do(http.MethodGet, "/v1/payments/"+owned, e.token(e.a), "", nil), http.StatusNotFound, "not_found")
		expectStatus(t, e.do(http.MethodPost, "/v1/payments/"+owned+"/refunds", e.token(e.a), newKey(), map[string]any{"amount": 1}), http.StatusNotFound, "not_found")
		expectStatus(t, e.do(http.MethodPost, "/v1/payments/"+owned+"/cancel", e.token(e.a), newKey(), nil), http.StatusNotFound, "not_found")
		if list := e.do(http.MethodGet, "/v1/payments", e.token(e.a), "", nil).json(t); len(list["data"].([]any)) != 0 {
			t.Fatalf("store A sees store B's payments: %v", list)
		}
	})
}

// Health, readiness and the contract are on the API's port; the metrics are not (an
// outsider who reaches the API must not read payhub's internals): serve and demo give them
// a listener of their own (--metrics-addr, loopback by default).
func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/healthz", "/readyz", "/openapi.yaml"} {
		expectStatus(t, e.do(http.MethodGet, p, "", "", nil), http.StatusOK, "")
	}
	expectStatus(t, e.do(http.MethodGet, "/metrics", "", "", nil), http.StatusNotFound, "not_found")
	e.pay(e.a, barcodePayment(100, barcodeOK))
	m := httptest.NewRecorder()
	e.app.MetricsHandler.ServeHTTP(m, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(m.Body.String(), "payhub_payments_created_total") || !strings.Contains(m.Body.String(), "payhub_http_requests_total") {
		t.Fatalf("metrics missing")
	}
}

// TestLogsHoldNoSecrets runs a whole flow with the logs captured and scans them for the
// partner secret, tokens, Authorization headers and the scanned barcode.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t, nil)
	var tokens []string
	tok := func() string { s := e.token(e.a); tokens = append(tokens, s); return s }
	id := e.do(http.MethodPost, "/v1/payments", tok(), newKey(), barcodePayment(1000, barcodeOK)).json(t)["id"].(string)
	e.do(http.MethodGet, "/v1/payments/"+id, tok(), "", nil)
	e.do(http.MethodPost, "/v1/payments/"+id+"/refunds", tok(), newKey(), map[string]any{"amount": 100})
	qr := e.do(http.MethodPost, "/v1/payments", tok(), newKey(), map[string]any{"amount": 10, "currency": "JPY", "method": "paypay", "flow": "qr"}).json(t)["id"].(string)
	e.do(http.MethodPost, "/v1/payments/"+qr+"/cancel", tok(), newKey(), nil)
	e.do(http.MethodGet, "/v1/payments", "bad.token.here", "", nil)
	e.do(http.MethodGet, "/v1/payments", e.token(e.a, func(r *auth.TokenRequest) { r.Audience = "x" }), "", nil)
	logs := e.logs.String()
	if !strings.Contains(logs, "http request") {
		t.Fatalf("no access logs captured: %q", logs)
	}
	forbidden := append([]string{testPayPaySecret, "OPA-Auth", "Bearer ", barcodeOK}, tokens...)
	for _, s := range forbidden {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain %q", s[:min(len(s), 20)])
		}
	}
}

// A client acting for two stores that reuses a key for the other store gets 422, never the
// first store's payment.
func TestKeyReusedForAnotherStoreOfTheSameClient(t *testing.T) {
	e := newEnv(t, nil)
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := auth.MarshalPublicKeyPEM(key.Public())
	now := time.Now().UTC()
	if err := e.app.Store.CreateStoreClient(context.Background(), contracts.StoreClient{ID: "pos-ab", Stores: []string{"store-x", "store-y"},
		Keys: []contracts.ClientKey{{KID: "pos-ab-1", ClientID: "pos-ab", Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pub, CreatedAt: now}}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	c := storeClient{key: key, kid: "pos-ab-1", clientID: "pos-ab", store: "store-x"}
	k := newKey()
	expectStatus(t, e.do(http.MethodPost, "/v1/payments", e.token(c), k, barcodePayment(100, barcodeOK)), http.StatusCreated, "")
	c.store = "store-y"
	expectStatus(t, e.do(http.MethodPost, "/v1/payments", e.token(c), k, barcodePayment(100, barcodeOK)), http.StatusUnprocessableEntity, "idempotency_key_reused")
}

func TestRefundNeedsABody(t *testing.T) {
	e := newEnv(t, nil)
	id := e.pay(e.a, barcodePayment(100, barcodeOK)).json(t)["id"].(string)
	expectStatus(t, e.do(http.MethodPost, "/v1/payments/"+id+"/refunds", e.token(e.a), newKey(), nil), http.StatusBadRequest, "invalid_request")
	if got := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil).json(t); got["amount_refunded"] != 0.0 {
		t.Fatalf("a refund without a body refunded: %v", got)
	}
}
