package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"payhub/contracts"
	simcore "payhub/mocks/sim"
)

func manualPayment(amount int) map[string]any {
	p := barcodePayment(amount, barcodeOK)
	p["capture"] = "manual"
	return p
}

func TestManualCapture(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		r := e.pay(e.a, manualPayment(1000))
		expectStatus(t, r, http.StatusCreated, "")
		p := r.json(t)
		if p["status"] != "authorized" || p["capture_method"] != "manual" || p["amount_captured"] != 0.0 {
			t.Fatalf("want an authorization: %s", r.body)
		}
		id := p["id"].(string)
		// Nothing to refund before the capture.
		expectStatus(t, e.do(http.MethodPost, "/v1/payments/"+id+"/refunds", e.token(e.a), newKey(), map[string]any{"amount": 1}), http.StatusConflict, "invalid_state")
		expectStatus(t, e.do(http.MethodPost, "/v1/payments/"+id+"/capture", e.token(e.a), newKey(), map[string]any{"amount": 1001}), http.StatusUnprocessableEntity, "amount_out_of_range")
		c := e.do(http.MethodPost, "/v1/payments/"+id+"/capture", e.token(e.a), newKey(), map[string]any{"amount": 600})
		expectStatus(t, c, http.StatusOK, "")
		if m := c.json(t); m["status"] != "succeeded" || m["amount_captured"] != 600.0 {
			t.Fatalf("partial capture: %s", c.body)
		}
		expectStatus(t, e.do(http.MethodPost, "/v1/payments/"+id+"/capture", e.token(e.a), newKey(), map[string]any{}), http.StatusConflict, "invalid_state")
		// Refunds stop at the captured amount, not the authorized one.
		expectStatus(t, e.do(http.MethodPost, "/v1/payments/"+id+"/refunds", e.token(e.a), newKey(), map[string]any{"amount": 601}), http.StatusUnprocessableEntity, "refund_exceeds_captured")
		expectStatus(t, e.do(http.MethodPost, "/v1/payments/"+id+"/refunds", e.token(e.a), newKey(), map[string]any{}), http.StatusCreated, "")
		if lp, _ := e.sim.Payment(id + "_1"); lp.Status != "REFUNDED" && lp.Status != "COMPLETED" {
			t.Fatalf("simulator status %q", lp.Status)
		}
	})
}

func TestCancelAnAuthorizationReleasesIt(t *testing.T) {
	e := newEnv(t, nil)
	id := e.pay(e.a, manualPayment(800)).json(t)["id"].(string)
	r := e.do(http.MethodPost, "/v1/payments/"+id+"/cancel", e.token(e.a), newKey(), nil)
	expectStatus(t, r, http.StatusOK, "")
	if r.json(t)["status"] != "canceled" {
		t.Fatalf("cancel of an authorization: %s", r.body)
	}
	expectStatus(t, e.do(http.MethodPost, "/v1/payments/"+id+"/capture", e.token(e.a), newKey(), map[string]any{}), http.StatusConflict, "invalid_state")
	if lp, _ := e.sim.Payment(id + "_1"); lp.Status != "CANCELED" && lp.Status != "FAILED" {
		t.Fatalf("simulator status %q, want the authorization released", lp.Status)
	}
}

func TestRefundObjects(t *testing.T) {
	e := newEnv(t, nil)
	id := e.pay(e.a, barcodePayment(1000, barcodeOK)).json(t)["id"].(string)
	var ids []string
	for _, amount := range []int{100, 250} {
		r := e.do(http.MethodPost, "/v1/payments/"+id+"/refunds", e.token(e.a), newKey(), map[string]any{"amount": amount, "reason": "returned"})
		m := r.json(t)
		if m["partner_reference"] != m["id"] {
			t.Fatalf("partner reference: %s", r.body)
		}
		ids = append(ids, m["id"].(string))
	}
	list := e.do(http.MethodGet, "/v1/payments/"+id+"/refunds", e.token(e.a), "", nil)
	expectStatus(t, list, http.StatusOK, "")
	data := list.json(t)["data"].([]any)
	if len(data) != 2 || data[0].(map[string]any)["id"] != ids[0] || data[1].(map[string]any)["amount"] != 250.0 {
		t.Fatalf("refund list: %s", list.body)
	}
	got := e.do(http.MethodGet, "/v1/refunds/"+ids[1], e.token(e.a), "", nil)
	expectStatus(t, got, http.StatusOK, "")
	if m := got.json(t); m["payment_id"] != id || m["status"] != "succeeded" || m["reason"] != "returned" {
		t.Fatalf("refund: %s", got.body)
	}
	expectStatus(t, e.do(http.MethodGet, "/v1/refunds/"+ids[1], e.token(e.b), "", nil), http.StatusNotFound, "not_found")
	expectStatus(t, e.do(http.MethodGet, "/v1/payments/"+id+"/refunds", e.token(e.b), "", nil), http.StatusNotFound, "not_found")
	expectStatus(t, e.do(http.MethodGet, "/v1/refunds/re_nope", e.token(e.a), "", nil), http.StatusNotFound, "not_found")
}

func TestAutoMethodRoutesByBarcode(t *testing.T) {
	e := newEnv(t, nil)
	auto := func(code string) response {
		return e.pay(e.a, map[string]any{"amount": 500, "currency": "JPY", "method": "auto", "flow": "barcode", "barcode": code})
	}
	r := auto(barcodeOK)
	expectStatus(t, r, http.StatusCreated, "")
	if m := r.json(t); m["method"] != "paypay" || m["status"] != "succeeded" {
		t.Fatalf("auto → paypay: %s", r.body)
	}
	expectStatus(t, auto("123456789012345678"), http.StatusUnprocessableEntity, "unsupported_barcode")
	expectStatus(t, auto("391234567890123456"), http.StatusUnprocessableEntity, "currency_not_supported") // LINE Pay: TWD/THB only
	lp := e.pay(e.a, map[string]any{"amount": 30000, "currency": "TWD", "method": "auto", "flow": "barcode", "barcode": e.linepay.IssueOneTimeKey("TW")})
	expectStatus(t, lp, http.StatusCreated, "")
	if m := lp.json(t); m["method"] != "linepay" || m["status"] != "succeeded" {
		t.Fatalf("auto → linepay: %s", lp.body)
	}
	expectStatus(t, auto("7000000000000001"), http.StatusUnprocessableEntity, "method_not_supported") // nanaco: not offered yet
	expectStatus(t, e.pay(e.a, map[string]any{"amount": 500, "currency": "JPY", "method": "auto", "flow": "qr"}), http.StatusBadRequest, "invalid_request")
}

func TestListFilters(t *testing.T) {
	e := newEnv(t, nil)
	a := barcodePayment(100, barcodeOK)
	a["order_id"], a["terminal_id"] = "order-A", "till-9"
	ida := e.pay(e.a, a).json(t)["id"].(string)
	e.pay(e.a, barcodePayment(101, barcodeNoFunds))
	q := func(v url.Values) []string {
		r := e.do(http.MethodGet, "/v1/payments?"+v.Encode(), e.token(e.a), "", nil)
		expectStatus(t, r, http.StatusOK, "")
		var out []string
		for _, p := range r.json(t)["data"].([]any) {
			out = append(out, p.(map[string]any)["id"].(string))
		}
		return out
	}
	if got := q(url.Values{"order_id": {"order-A"}}); len(got) != 1 || got[0] != ida {
		t.Fatalf("order_id filter: %v", got)
	}
	if got := q(url.Values{"terminal_id": {"till-9"}, "status": {"succeeded"}, "method": {"paypay"}}); len(got) != 1 {
		t.Fatalf("terminal+status filter: %v", got)
	}
	if got := q(url.Values{"status": {"failed"}}); len(got) != 1 {
		t.Fatalf("status filter: %v", got)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if got := q(url.Values{"created[gte]": {future}}); len(got) != 0 {
		t.Fatalf("created[gte] filter: %v", got)
	}
	if got := q(url.Values{"created[lt]": {future}}); len(got) != 2 {
		t.Fatalf("created[lt] filter: %v", got)
	}
}

// Each kind of malformed request is refused by the contract validator with problem+json.
func TestContractValidatorRefusesMalformedRequests(t *testing.T) {
	e := newEnv(t, nil)
	id := e.pay(e.a, barcodePayment(100, barcodeOK)).json(t)["id"].(string)
	tok := e.token(e.a)
	for name, c := range map[string]struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		"query of the wrong type":   {"GET", "/v1/payments?limit=abc", nil, 400, "invalid_request"},
		"query out of range":        {"GET", "/v1/payments?limit=0", nil, 400, "invalid_request"},
		"enum query value":          {"GET", "/v1/payments?status=done", nil, 400, "invalid_request"},
		"date-time query":           {"GET", "/v1/payments?created%5Bgte%5D=yesterday", nil, 400, "invalid_request"},
		"string amount":             {"POST", "/v1/payments", `{"amount":"100","currency":"JPY","method":"paypay","flow":"qr"}`, 400, "invalid_request"},
		"missing required field":    {"POST", "/v1/payments", `{"amount":100,"method":"paypay","flow":"qr"}`, 400, "invalid_request"},
		"pattern":                   {"POST", "/v1/payments", `{"amount":100,"currency":"jpy","method":"paypay","flow":"qr"}`, 400, "invalid_request"},
		"enum body value":           {"POST", "/v1/payments", `{"amount":100,"currency":"JPY","method":"paypay","flow":"qr","capture":"later"}`, 400, "invalid_request"},
		"amount below the minimum":  {"POST", "/v1/payments", `{"amount":0,"currency":"JPY","method":"paypay","flow":"qr"}`, 422, "amount_out_of_range"},
		"too many metadata entries": {"POST", "/v1/payments", `{"amount":1,"currency":"JPY","method":"paypay","flow":"qr","metadata":{"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1","g":"1","h":"1","i":"1","j":"1","k":"1","l":"1","m":"1","n":"1","o":"1","p":"1","q":"1","r":"1","s":"1","t":"1","u":"1"}}`, 400, "invalid_request"},
		"unknown refund field":      {"POST", "/v1/payments/" + id + "/refunds", `{"amount":1,"why":"x"}`, 400, "invalid_request"},
		"capture without a body":    {"POST", "/v1/payments/" + id + "/capture", nil, 400, "invalid_request"},
		"long cancel reason":        {"POST", "/v1/payments/" + id + "/cancel", map[string]any{"reason": string(make([]byte, 300))}, 400, "invalid_request"},
		"not JSON":                  {"POST", "/v1/payments", `amount=1`, 400, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			key := ""
			if c.method == "POST" {
				key = newKey()
			}
			expectStatus(t, e.do(c.method, c.path, tok, key, c.body), c.status, c.code)
		})
	}
}

// The till's view of a lost answer: 201 unknown with a "do not charge again" resolution,
// then GET shows the outcome as soon as the partner knows it.
func TestUnknownOutcomeThenResolved(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.faults.Set([]simcore.FaultRule{{Method: "POST", PathPrefix: "/v2/payments", Probability: 1, Count: 1,
		Fault: simcore.Fault{Kind: simcore.FaultCommitThenDrop}}}); err != nil {
		t.Fatal(err)
	}
	r := e.pay(e.a, barcodePayment(900, barcodeOK))
	expectStatus(t, r, http.StatusCreated, "")
	m := r.json(t)
	res, _ := m["resolution"].(map[string]any)
	if m["status"] != "unknown" || res["state"] != "resolving" {
		t.Fatalf("want unknown with a resolution: %s", r.body)
	}
	id := m["id"].(string)
	got := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil)
	if g := got.json(t); g["status"] != "succeeded" || g["resolution"] != nil || g["amount_captured"] != 900.0 {
		t.Fatalf("after the partner's answer: %s", got.body)
	}
	if lp, _ := e.sim.Payment(id + "_1"); lp.Status != "COMPLETED" {
		t.Fatalf("simulator: %+v", lp)
	}
}

// Operators list what the resolver handed over; the two kinds of token never cross.
func TestOperatorsSeeWhatNeedsAttention(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.faults.Set([]simcore.FaultRule{{Method: "*", PathPrefix: "/v2/", Probability: 1,
		Fault: simcore.Fault{Kind: simcore.FaultError, Status: 500}}}); err != nil {
		t.Fatal(err)
	}
	id := e.pay(e.a, barcodePayment(100, barcodeOK)).json(t)["id"].(string)
	empty := e.do(http.MethodGet, "/v1/ops/needs-attention", e.operatorToken(), "", nil)
	expectStatus(t, empty, http.StatusOK, "")
	if n := len(empty.json(t)["data"].([]any)); n != 0 {
		t.Fatalf("%d payments need attention before the budget ran out", n)
	}
	p, _ := e.app.Store.GetPayment(context.Background(), "", id)
	p.Resolution.NeedsAttention = true
	if err := e.app.Store.InTx(context.Background(), func(tx contracts.Tx) error { return tx.UpdatePayment(context.Background(), p) }); err != nil {
		t.Fatal(err)
	}
	list := e.do(http.MethodGet, "/v1/ops/needs-attention", e.operatorToken(), "", nil)
	data := list.json(t)["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["id"] != id || data[0].(map[string]any)["resolution"].(map[string]any)["state"] != "needs_attention" {
		t.Fatalf("needs attention: %s", list.body)
	}
	expectStatus(t, e.do(http.MethodGet, "/v1/ops/needs-attention", e.token(e.a), "", nil), http.StatusUnauthorized, "unauthenticated")
	expectStatus(t, e.do(http.MethodGet, "/v1/payments", e.operatorToken(), "", nil), http.StatusUnauthorized, "unauthenticated")
}
