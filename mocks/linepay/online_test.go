package linepay

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var bareTxID = regexp.MustCompile(`"transactionId":(\d{19})[,}]`)

// TestTransactionIDAbove2p53 checks the id shape and that the raw JSON carries it as a bare
// number that float64 cannot hold.
func TestTransactionIDAbove2p53(t *testing.T) {
	h := newHarness(t)
	for i := range 50 {
		r := h.expect(h.post("/v3/payments/request", requestBody("o-"+strconv.Itoa(i), 100, true)), codeSuccess)
		m := bareTxID.FindStringSubmatch(r.raw)
		if m == nil {
			t.Fatalf("transactionId is not a bare 19-digit number: %s", r.raw)
		}
		id := m[1]
		if !strings.HasPrefix(id, "20260310") {
			t.Fatalf("transactionId %s is not dated 20260310", id)
		}
		n, _ := strconv.ParseInt(id, 10, 64)
		if n <= 1<<53 || int64(float64(n)) == n {
			t.Fatalf("transactionId %s survives float64 or is below 2^53", id)
		}
		var f struct {
			Info struct{ TransactionID float64 }
		}
		_ = json.Unmarshal([]byte(r.raw), &f)
		if strconv.FormatFloat(f.Info.TransactionID, 'f', 0, 64) == id || math.IsNaN(f.Info.TransactionID) {
			t.Fatalf("float64 kept %s exactly", id)
		}
		info := r.info(t)
		if tok, _ := info["paymentAccessToken"].(string); !regexp.MustCompile(`^\d{12}$`).MatchString(tok) {
			t.Fatalf("paymentAccessToken %q", tok)
		}
		if lp := h.ledger(id); lp.TransactionID != id || lp.OrderID != "o-"+strconv.Itoa(i) {
			t.Fatalf("ledger %+v for %s", lp, id)
		}
	}
}

func TestQuoteTransactionIDs(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.QuoteTransactionIDs = true })
	tx := h.confirmed("q-1", 100, true)
	r := h.expect(h.post("/v3/payments/"+tx+"/refund", map[string]any{"refundAmount": 10}), codeSuccess)
	if !regexp.MustCompile(`"refundTransactionId":"\d{19}"`).MatchString(r.raw) {
		t.Fatalf("refundTransactionId not quoted: %s", r.raw)
	}
	d := h.expect(h.get("/v3/payments?transactionId="+tx), codeSuccess)
	if !strings.Contains(d.raw, `"transactionId":"`+tx+`"`) {
		t.Fatalf("details transactionId not quoted: %s", d.raw)
	}
}

func TestOnlineCaptureTrueFlow(t *testing.T) {
	h := newHarness(t)
	tx := h.request("flow-1", 1000, true)
	h.expect(h.get("/v3/payments/requests/"+tx+"/check"), codeSuccess) // reserved
	h.expect(h.post("/v3/payments/"+tx+"/confirm", map[string]any{"amount": 1000, "currency": "TWD"}), codeNotApproved)
	if err := h.sim.Approve(tx); err != nil {
		t.Fatal(err)
	}
	h.expect(h.get("/v3/payments/requests/"+tx+"/check"), codeCheckApproved)
	h.expect(h.post("/v3/payments/"+tx+"/confirm", map[string]any{"amount": 999, "currency": "TWD"}), codeAmountDiffers)
	r := h.expect(h.post("/v3/payments/"+tx+"/confirm", map[string]any{"amount": 1000, "currency": "TWD"}), codeSuccess)
	info := r.info(t)
	if info["orderId"] != "flow-1" || string(info["transactionId"].(json.Number)) != tx || info["authorizationExpireDate"] != nil {
		t.Fatalf("confirm info %s", r.raw)
	}
	pi := info["payInfo"].([]any)[0].(map[string]any)
	if pi["method"] != "CREDIT_CARD" || pi["amount"] != json.Number("1000") || info["packages"] == nil {
		t.Fatalf("confirm payInfo/packages %s", r.raw)
	}
	h.expect(h.get("/v3/payments/requests/"+tx+"/check"), codeCheckCompleted)
	h.expect(h.post("/v3/payments/"+tx+"/confirm", map[string]any{"amount": 1000, "currency": "TWD"}), codeDuplicateOrder)
	lp := h.ledger("flow-1")
	if lp.Status != StatusCaptured || lp.Captured != "1000" || lp.TransactionDate == nil || !lp.TransactionDate.Equal(testStart) {
		t.Fatalf("ledger %+v", lp)
	}
	// void after capture
	h.expect(h.post("/v3/payments/authorizations/"+tx+"/void", nil), codeNotRefundable)
}

func TestOnlineAuthorizeCaptureVoidExpire(t *testing.T) {
	h := newHarness(t)
	tx := h.approvedRequest("auth-1", 500, false)
	r := h.expect(h.post("/v3/payments/"+tx+"/confirm", map[string]any{"amount": 500, "currency": "TWD"}), codeSuccess)
	if r.info(t)["authorizationExpireDate"] != "2026-03-17T06:00:00Z" {
		t.Fatalf("authorizationExpireDate: %s", r.raw)
	}
	h.expect(h.get("/v3/payments/requests/"+tx+"/check"), codeCheckCompleted)
	h.expect(h.post("/v3/payments/"+tx+"/refund", nil), codeNotRefundable) // not captured
	h.expect(h.post("/v3/payments/authorizations/"+tx+"/capture", map[string]any{"amount": 501, "currency": "TWD"}), codeAboveAuthorized)
	c := h.expect(h.post("/v3/payments/authorizations/"+tx+"/capture", map[string]any{"amount": 400, "currency": "TWD"}), codeSuccess)
	if pi := c.info(t)["payInfo"].([]any)[0].(map[string]any); pi["amount"] != json.Number("400") {
		t.Fatalf("capture info %s", c.raw)
	}
	h.expect(h.post("/v3/payments/authorizations/"+tx+"/capture", map[string]any{"amount": 400, "currency": "TWD"}), codeWrongStatus)
	if lp := h.ledger(tx); lp.Status != StatusCaptured || lp.Amount != "500" || lp.Captured != "400" {
		t.Fatalf("ledger %+v", lp)
	}

	// void: {} and no body both accepted; second void 1165
	tx2 := h.confirmed("auth-2", 300, false)
	h.expect(h.post("/v3/payments/authorizations/"+tx2+"/void", "{}"), codeSuccess)
	h.expect(h.post("/v3/payments/authorizations/"+tx2+"/void", nil), codeAlreadyDone)
	h.expect(h.post("/v3/payments/authorizations/"+tx2+"/capture", map[string]any{"amount": 300, "currency": "TWD"}), codeWrongStatus)
	h.expect(h.post("/v3/payments/authorizations/"+tx2+"/void", "{bad"), codeBadJSON)

	// authorization expiry on the clock
	tx3 := h.confirmed("auth-3", 300, false)
	h.clock.Advance(DefaultAuthorizationLifetime - time.Second)
	if h.ledger(tx3).Status != StatusAuthorized {
		t.Fatal("expired early")
	}
	h.clock.Advance(time.Second)
	if lp := h.ledger(tx3); lp.Status != StatusExpired {
		t.Fatalf("ledger %+v", lp)
	}
	h.expect(h.post("/v3/payments/authorizations/"+tx3+"/capture", map[string]any{"amount": 300, "currency": "TWD"}), codeExpired)
	h.expect(h.post("/v3/payments/authorizations/"+tx3+"/void", nil), codeExpired)

	// forced expiry hook
	tx4 := h.confirmed("auth-4", 300, false)
	if err := h.sim.ExpireAuthorization("auth-4"); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.ExpireAuthorization("auth-4"); err == nil {
		t.Fatal("expired twice")
	}
	d := h.expect(h.get("/v3/payments?transactionId="+tx4), codeSuccess).infoList(t)
	if d[0]["payStatus"] != "EXPIRED_AUTHORIZATION" {
		t.Fatalf("details %v", d)
	}
}

func TestRequestExpiresAfter20Minutes(t *testing.T) {
	h := newHarness(t)
	tx := h.request("exp-1", 100, true)
	tx2 := h.approvedRequest("exp-2", 100, true)
	h.clock.Advance(RequestLifetime - time.Second)
	h.expect(h.get("/v3/payments/requests/"+tx+"/check"), codeSuccess)
	h.clock.Advance(time.Second)
	h.expect(h.get("/v3/payments/requests/"+tx+"/check"), codeCheckCancelled)
	h.expect(h.get("/v3/payments/requests/"+tx2+"/check"), codeCheckCancelled)
	h.expect(h.post("/v3/payments/"+tx2+"/confirm", map[string]any{"amount": 100, "currency": "TWD"}), codeExpired)
	if err := h.sim.Approve(tx); err == nil {
		t.Fatal("approved an expired request")
	}
	if lp := h.ledger("exp-1"); lp.Status != StatusCancelled {
		t.Fatalf("ledger %+v", lp)
	}
	h.expect(h.get("/v3/payments?orderId=exp-1"), codeNotFound) // details lists confirmed payments only
}

func TestCancelAndFailHooks(t *testing.T) {
	h := newHarness(t)
	tx := h.request("c-1", 100, true)
	res := h.serve(postSim("/_sim/payments/" + tx + "/cancel"))
	if res.status != 200 || !strings.Contains(res.raw, `"status":"CANCELLED"`) {
		t.Fatalf("cancel hook: %d %s", res.status, res.raw)
	}
	h.expect(h.get("/v3/payments/requests/"+tx+"/check"), codeCheckCancelled)
	tx2 := h.request("c-2", 100, true)
	if res := h.serve(postSim("/_sim/payments/c-2/fail")); res.status != 200 {
		t.Fatalf("fail hook: %d %s", res.status, res.raw)
	}
	h.expect(h.get("/v3/payments/requests/"+tx2+"/check"), codeCheckFailed)
	h.expect(h.post("/v3/payments/"+tx2+"/confirm", map[string]any{"amount": 100, "currency": "TWD"}), codeWrongStatus)
	if res := h.serve(postSim("/_sim/payments/c-2/approve")); res.status != 409 {
		t.Fatalf("approve a failed request: %d %s", res.status, res.raw)
	}
	if res := h.serve(postSim("/_sim/payments/none/approve")); res.status != 404 {
		t.Fatalf("approve unknown: %d %s", res.status, res.raw)
	}
}

func TestRequestValidation(t *testing.T) {
	h := newHarness(t)
	mod := func(f func(b map[string]any)) map[string]any {
		b := requestBody("v-1", 100, true)
		f(b)
		return b
	}
	cases := []struct {
		name string
		body any
		code string
	}{
		{"bad JSON", `{"amount":`, codeBadJSON},
		{"no orderId", mod(func(b map[string]any) { delete(b, "orderId") }), codeParameterError},
		{"orderId over 100", mod(func(b map[string]any) { b["orderId"] = strings.Repeat("x", 101) }), codeParameterError},
		{"no packages", mod(func(b map[string]any) { delete(b, "packages") }), codeParameterError},
		{"no redirectUrls", mod(func(b map[string]any) { delete(b, "redirectUrls") }), codeParameterError},
		{"amount as string", mod(func(b map[string]any) { b["amount"] = "100" }), codeParameterError},
		{"orderId wrong type", mod(func(b map[string]any) { b["orderId"] = 5 }), codeParameterError},
		{"currency", mod(func(b map[string]any) { b["currency"] = "JPY" }), codeBadCurrency},
		{"zero", mod(func(b map[string]any) { b["amount"] = 0 }), codeAmountNotPositive},
		{"negative", mod(func(b map[string]any) { b["amount"] = -5 }), codeAmountNotPositive},
		{"TWD cents", `{"amount":100.5,"currency":"TWD","orderId":"v-1"}`, codeBadScale},
		{"package sum", mod(func(b map[string]any) { b["amount"] = 101 }), codeParameterError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.expect(h.post("/v3/payments/request", c.body), c.code)
		})
	}
	// 100.0 is a whole amount, compared as a decimal
	h.expect(h.post("/v3/payments/request", mod(func(b map[string]any) { b["amount"] = json.Number("100.0") })), codeSuccess)
	h.expect(h.post("/v3/payments/request", requestBody("v-1", 100, true)), codeDuplicateOrder)
	if n := len(h.sim.Ledger()); n != 1 {
		t.Fatalf("refused requests reserved something: %d payments", n)
	}
}

func TestTHBDecimals(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Currency = "THB" })
	b := requestBody("thb-1", 0, true)
	b["amount"], b["currency"] = json.Number("12.5"), "THB"
	b["packages"] = []any{map[string]any{"id": "p", "amount": json.Number("12.50"), "products": []any{
		map[string]any{"name": "x", "quantity": 2, "price": json.Number("6.25")}}}}
	r := h.expect(h.post("/v3/payments/request", b), codeSuccess)
	tx := string(r.info(t)["transactionId"].(json.Number))
	_ = h.sim.Approve(tx)
	h.expect(h.post("/v3/payments/"+tx+"/confirm", `{"amount":12.501,"currency":"THB"}`), codeBadScale)
	h.expect(h.post("/v3/payments/"+tx+"/confirm", `{"amount":12.5,"currency":"TWD"}`), codeBadCurrency)
	c := h.expect(h.post("/v3/payments/"+tx+"/confirm", `{"amount":1.25e1,"currency":"THB"}`), codeSuccess)
	if !strings.Contains(c.raw, `"amount":12.5`) {
		t.Fatalf("confirm %s", c.raw)
	}
}

func TestConfirmValidation(t *testing.T) {
	h := newHarness(t)
	h.expect(h.post("/v3/payments/2026031000000000001/confirm", map[string]any{"amount": 100, "currency": "TWD"}), codeNotFound)
	h.expect(h.post("/v3/payments/abc/confirm", map[string]any{"amount": 100, "currency": "TWD"}), codeNotFound)
	tx := h.approvedRequest("cv-1", 100, true)
	h.expect(h.post("/v3/payments/"+tx+"/confirm", `{"currency":"TWD"}`), codeParameterError)
	h.expect(h.post("/v3/payments/"+tx+"/confirm", `not json`), codeBadJSON)
	h.expect(h.post("/v3/payments/"+tx+"/confirm", map[string]any{"amount": 0, "currency": "TWD"}), codeAmountNotPositive)
	h.expect(h.get("/v3/payments/requests/9/check"), codeNotFound)
}

func TestRefunds(t *testing.T) {
	h := newHarness(t)
	tx := h.confirmed("r-1", 1000, true)
	r1 := h.expect(h.post("/v3/payments/"+tx+"/refund", map[string]any{"refundAmount": 300}), codeSuccess).info(t)
	h.clock.Advance(time.Minute)
	r2 := h.expect(h.post("/v3/payments/"+tx+"/refund", map[string]any{"refundAmount": 200}), codeSuccess).info(t)
	id1, id2 := string(r1["refundTransactionId"].(json.Number)), string(r2["refundTransactionId"].(json.Number))
	if id1 == id2 || id1 == tx || len(id1) != 19 || r2["refundTransactionDate"] != "2026-03-10T06:01:00Z" {
		t.Fatalf("refund ids %s %s (tx %s), %v", id1, id2, tx, r2)
	}
	h.expect(h.post("/v3/payments/"+tx+"/refund", map[string]any{"refundAmount": 501}), codeAboveRefundable)
	h.expect(h.post("/v3/payments/"+tx+"/refund", map[string]any{"refundAmount": 0}), codeAmountNotPositive)
	h.expect(h.post("/v3/payments/"+tx+"/refund", map[string]any{"refundAmount": 1.5}), codeBadScale)
	h.expect(h.post("/v3/payments/"+tx+"/refund", nil), codeSuccess) // the remaining 500
	h.expect(h.post("/v3/payments/"+tx+"/refund", "{}"), codeAlreadyDone)
	h.expect(h.post("/v3/payments/"+tx+"/refund", map[string]any{"refundAmount": 1}), codeAlreadyDone)

	lp := h.ledger(tx)
	if lp.Refunded != "1000" || len(lp.Refunds) != 3 || lp.Refunds[0].RefundTransactionID != id1 ||
		lp.Refunds[0].Amount != "300" || lp.Refunds[2].Amount != "500" {
		t.Fatalf("ledger %+v", lp)
	}
	d := h.expect(h.get("/v3/payments?transactionId="+tx), codeSuccess)
	rows := d.infoList(t)
	list := rows[0]["refundList"].([]any)
	first := list[0].(map[string]any)
	if len(list) != 3 || first["refundAmount"] != json.Number("-300") || string(first["refundTransactionId"].(json.Number)) != id1 ||
		first["transactionType"] != "PARTIAL_REFUND" {
		t.Fatalf("refundList %s", d.raw)
	}
	if !regexp.MustCompile(`"refundTransactionId":` + id1 + `[,}]`).MatchString(d.raw) {
		t.Fatalf("refundTransactionId not bare in %s", d.raw)
	}
	// a refund asked for by its own id
	rr := h.expect(h.get("/v3/payments?transactionId="+id2), codeSuccess)
	row := rr.infoList(t)[0]
	if string(row["originalTransactionId"].(json.Number)) != tx || row["transactionType"] != "PARTIAL_REFUND" {
		t.Fatalf("refund row %s", rr.raw)
	}
	h.expect(h.post("/v3/payments/2026031000000000001/refund", nil), codeNotFound)
}

func TestFullRefundIsPaymentRefund(t *testing.T) {
	h := newHarness(t)
	tx := h.confirmed("fr-1", 700, true)
	h.expect(h.post("/v3/payments/"+tx+"/refund", nil), codeSuccess)
	d := h.expect(h.get("/v3/payments?orderId=fr-1"), codeSuccess)
	if !strings.Contains(d.raw, `"transactionType":"PAYMENT_REFUND","refundAmount":-700`) {
		t.Fatalf("details %s", d.raw)
	}
}
