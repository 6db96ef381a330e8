package linepay

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
)

const (
	testChannel = "1234567890"
	testSecret  = "test-secret-do-not-leak"
	testKey     = "391000000000000000"
	testOrder   = "pay_01JTEST-1"
)

var testNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// seen is one request as the fake LINE Pay received it.
type seen struct {
	method, path, query, body string
	header                    http.Header
}

// fakeLine is a scripted LINE Pay written for these tests: it verifies every request's
// channel id, nonce and HMAC signature (with this package's Sign over the raw body or raw
// query as received), records it, and answers with the handler for "METHOD /path".
type fakeLine struct {
	t      *testing.T
	mu     sync.Mutex
	seen   []seen
	nonces map[string]bool
	routes map[string]func(w http.ResponseWriter, r *http.Request)
}

func newFake(t *testing.T, routes map[string]func(http.ResponseWriter, *http.Request)) (*fakeLine, *Adapter) {
	t.Helper()
	f := &fakeLine{t: t, routes: routes, nonces: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	a, err := New(Config{
		BaseURL: srv.URL, ChannelID: testChannel, ChannelSecret: testSecret, Currency: contracts.TWD,
		Now:      func() time.Time { return testNow },
		Timeouts: Timeouts{Pay: 2 * time.Second, Request: 2 * time.Second, Confirm: 2 * time.Second, Capture: 2 * time.Second, Void: 2 * time.Second, Refund: 2 * time.Second, Read: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, a
}

func (f *fakeLine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	if err := f.verify(r, raw); err != nil {
		f.t.Errorf("%s %s: %v", r.Method, r.URL.Path, err)
		lineReply("1106", "")(w, r)
		return
	}
	f.mu.Lock()
	f.seen = append(f.seen, seen{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, body: string(raw), header: r.Header.Clone()})
	f.mu.Unlock()
	h, ok := f.routes[r.Method+" "+r.URL.Path]
	if !ok {
		f.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

// verify checks the §3.1 headers like LINE would.
func (f *fakeLine) verify(r *http.Request, body []byte) error {
	if got := r.Header.Get("X-LINE-ChannelId"); got != testChannel {
		return fmt.Errorf("X-LINE-ChannelId = %q", got)
	}
	nonce := r.Header.Get("X-LINE-Authorization-Nonce")
	if !uuidV4.MatchString(nonce) {
		return fmt.Errorf("nonce %q is not a UUID v4", nonce)
	}
	f.mu.Lock()
	reused := f.nonces[nonce]
	f.nonces[nonce] = true
	f.mu.Unlock()
	if reused {
		return fmt.Errorf("nonce %q reused", nonce)
	}
	content := string(body)
	if r.Method == http.MethodGet {
		content = r.URL.RawQuery
		if len(body) > 0 {
			return fmt.Errorf("GET with a body")
		}
	}
	if len(body) > 0 && r.Header.Get("Content-Type") != "application/json" {
		return fmt.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	if want := Sign(testSecret, r.URL.EscapedPath(), content, nonce); r.Header.Get("X-LINE-Authorization") != want {
		return fmt.Errorf("signature mismatch")
	}
	return nil
}

func (f *fakeLine) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.seen...)
}

// paths lists "METHOD path?query" of every request.
func (f *fakeLine) paths() []string {
	var out []string
	for _, s := range f.requests() {
		p := s.method + " " + s.path
		if s.query != "" {
			p += "?" + s.query
		}
		out = append(out, p)
	}
	return out
}

// lineReply answers HTTP 200 with an envelope; info is raw JSON ("" for none), so tests
// write 19-digit ids as bare numbers.
func lineReply(code, info string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		body := `{"returnCode":"` + code + `","returnMessage":"msg for ` + code + `"`
		if info != "" {
			body += `,"info":` + info
		}
		_, _ = io.WriteString(w, body+"}")
	}
}

// rawReply answers with a fixed status and body.
func rawReply(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// payInfoJSON is a pay/confirm/check info of the big transaction id taking amount (major).
func payInfoJSON(amount string, extra string) string {
	return `{"transactionId":` + bigTx + `,"orderId":"` + testOrder + `","transactionDate":"2026-03-01T10:00:00Z",` +
		`"payInfo":[{"method":"BALANCE","amount":` + amount + `}]` + extra + `}`
}

func twd(major int64) contracts.Money {
	return contracts.Money{Amount: major * 100, Currency: contracts.TWD}
}

func barcodeRequest() contracts.PaymentRequest {
	return contracts.PaymentRequest{
		PartnerRef: testOrder, Amount: twd(123), Flow: contracts.FlowBarcode, Barcode: testKey,
		StoreID: "store-1", TerminalID: "till-1", Description: "order 7", RequestedAt: testNow,
	}
}

func qrRequest() contracts.PaymentRequest {
	r := barcodeRequest()
	r.Flow, r.Barcode = contracts.FlowQR, ""
	return r
}

func TestNewValidatesConfig(t *testing.T) {
	good := Config{BaseURL: "http://127.0.0.1:1", ChannelID: "123", ChannelSecret: "s", Currency: contracts.TWD}
	for name, mutate := range map[string]func(*Config){
		"BaseURL":        func(c *Config) { c.BaseURL = "" },
		"relative URL":   func(c *Config) { c.BaseURL = "/v3" },
		"ChannelID":      func(c *Config) { c.ChannelID = "" },
		"ChannelID text": func(c *Config) { c.ChannelID = "abc" },
		"ChannelSecret":  func(c *Config) { c.ChannelSecret = " " },
		"Currency":       func(c *Config) { c.Currency = "" },
		"JPY":            func(c *Config) { c.Currency = contracts.JPY },
		"ConfirmURL":     func(c *Config) { c.ConfirmURL = "not a url" },
	} {
		c := good
		mutate(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted an invalid config", name)
		}
	}
	a, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if a.Method() != contracts.MethodLinePay {
		t.Errorf("Method = %q", a.Method())
	}
	want := Timeouts{Pay: 45 * time.Second, Request: 20 * time.Second, Confirm: 40 * time.Second, Capture: 60 * time.Second,
		Void: 20 * time.Second, Refund: 20 * time.Second, Read: 20 * time.Second}
	if a.cfg.Timeouts != want {
		t.Errorf("default timeouts = %+v", a.cfg.Timeouts)
	}
	if a.cfg.DeviceType != "POS" || a.cfg.ConfirmURL == "" || a.cfg.CancelURL == "" {
		t.Errorf("defaults = %+v", a.cfg)
	}
	thb := good
	thb.Currency = contracts.THB
	if _, err := New(thb); err != nil {
		t.Errorf("THB channel: %v", err)
	}
}

// TestBarcodePayRequest checks the Offline v4 pay byte for byte: signed headers, device
// headers, whole-dollar amounts and one package for the total.
func TestBarcodePayRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		capture contracts.CaptureMethod
		flag    string
		outcome contracts.Outcome
	}{
		{"automatic", contracts.CaptureAutomatic, "true", contracts.OutcomeSucceeded},
		{"manual", contracts.CaptureManual, "false", contracts.OutcomeAuthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, a := newFake(t, map[string]func(http.ResponseWriter, *http.Request){
				"POST /v4/payments/oneTimeKeys/pay": lineReply("0000", payInfoJSON("123", "")),
			})
			req := barcodeRequest()
			req.CaptureMethod = tc.capture
			res := a.CreatePayment(context.Background(), req)
			if res.Outcome != tc.outcome || res.PartnerPaymentID != bigTx || res.PartnerCode != "0000" {
				t.Fatalf("result %+v", res)
			}
			if tc.outcome == contracts.OutcomeSucceeded && (res.AmountCaptured != 12300 || res.PaidAt == nil || !res.PaidAt.Equal(testNow)) {
				t.Errorf("result %+v", res)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			got := reqs[0]
			want := `{"amount":123,"currency":"TWD","orderId":"` + testOrder + `","oneTimeKey":"` + testKey + `",` +
				`"packages":[{"id":"1","amount":123,"products":[{"name":"order 7","quantity":1,"price":123}]}],` +
				`"options":{"payment":{"capture":` + tc.flag + `},"extra":{"branchId":"store-1"}}}`
			if got.method != http.MethodPost || got.path != "/v4/payments/oneTimeKeys/pay" || got.body != want {
				t.Errorf("sent %s %s %s\nwant body %s", got.method, got.path, got.body, want)
			}
			if got.header.Get("X-LINE-MerchantDeviceProfileId") != "store-1/till-1" || got.header.Get("X-LINE-MerchantDeviceType") != "POS" {
				t.Errorf("device headers %v", got.header)
			}
		})
	}
}

// TestPayOutcomes is §6.1's table for the value-moving pay.
func TestPayOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		handler func(http.ResponseWriter, *http.Request)
		outcome contracts.Outcome
		failure string
		msg     string
	}{
		{"success", lineReply("0000", payInfoJSON("123", "")), contracts.OutcomeSucceeded, "", ""},
		{"success split payInfo", lineReply("0000", `{"transactionId":`+bigTx+`,"payInfo":[{"method":"POINT","amount":23},{"method":"CREDIT_CARD","amount":100.00}]}`),
			contracts.OutcomeSucceeded, "", ""},
		{"quoted id", lineReply("0000", `{"transactionId":"`+bigTx+`","payInfo":[{"method":"BALANCE","amount":123}]}`), contracts.OutcomeSucceeded, "", ""},
		{"amount mismatch", lineReply("0000", payInfoJSON("100", "")), contracts.OutcomeUnknown, "", "reverse it"},
		{"no payInfo", lineReply("0000", `{"transactionId":`+bigTx+`}`), contracts.OutcomeUnknown, "", "reverse it"},
		{"float amount", lineReply("0000", payInfoJSON("122.999", "")), contracts.OutcomeUnknown, "", ""},
		{"no transactionId", lineReply("0000", `{"payInfo":[{"method":"BALANCE","amount":123}]}`), contracts.OutcomeUnknown, "", "transactionId"},
		{"no info", lineReply("0000", ""), contracts.OutcomeUnknown, "", ""},
		{"1101 not a member", lineReply("1101", ""), contracts.OutcomeFailed, contracts.FailureUserNotActive, "1101"},
		{"1102 suspended", lineReply("1102", ""), contracts.OutcomeFailed, contracts.FailureUserNotActive, ""},
		{"1110 card unusable", lineReply("1110", ""), contracts.OutcomeFailed, contracts.FailurePartnerRejected, ""},
		{"1133 bad key", lineReply("1133", ""), contracts.OutcomeFailed, contracts.FailureBarcodeInvalid, ""},
		{"1141 account", lineReply("1141", ""), contracts.OutcomeFailed, contracts.FailureUserNotActive, ""},
		{"1142 no balance", lineReply("1142", ""), contracts.OutcomeFailed, contracts.FailureInsufficientFunds, ""},
		{"1281 declined", lineReply("1281", ""), contracts.OutcomeFailed, contracts.FailurePartnerRejected, ""},
		{"1298 card", lineReply("1298", ""), contracts.OutcomeFailed, contracts.FailurePartnerRejected, ""},
		{"1104 cfg", lineReply("1104", ""), contracts.OutcomeFailed, contracts.FailurePartnerRejected, "configuration alarm"},
		{"1106 cfg", lineReply("1106", ""), contracts.OutcomeFailed, contracts.FailurePartnerRejected, "configuration alarm"},
		{"1178 cfg", lineReply("1178", ""), contracts.OutcomeFailed, contracts.FailurePartnerRejected, "configuration alarm"},
		{"2101 cfg", lineReply("2101", ""), contracts.OutcomeFailed, contracts.FailurePartnerRejected, "configuration alarm"},
		{"1145 in process", lineReply("1145", ""), contracts.OutcomeUnknown, "", ""},
		{"1172 order used", lineReply("1172", ""), contracts.OutcomeUnknown, "", ""},
		{"1198 duplicate", lineReply("1198", ""), contracts.OutcomeUnknown, "", ""},
		{"1280 temporary card", lineReply("1280", ""), contracts.OutcomeUnknown, "", ""},
		{"1900 retry later", lineReply("1900", ""), contracts.OutcomeUnknown, "", ""},
		{"2020 payment error", lineReply("2020", ""), contracts.OutcomeUnknown, "", ""},
		{"9000 internal", lineReply("9000", ""), contracts.OutcomeUnknown, "", ""},
		{"unlisted code", lineReply("1234", ""), contracts.OutcomeUnknown, "", ""},
		{"check code on pay", lineReply("0123", ""), contracts.OutcomeUnknown, "", ""},
		{"HTTP 500 with 0000", rawReply(500, `{"returnCode":"0000","info":{}}`), contracts.OutcomeUnknown, "", "HTTP 500"},
		{"HTTP 404", rawReply(404, `not found`), contracts.OutcomeUnknown, "", ""},
		{"html", rawReply(200, `<html>bad gateway</html>`), contracts.OutcomeUnknown, "", "not a LINE Pay envelope"},
		{"empty body", rawReply(200, ``), contracts.OutcomeUnknown, "", ""},
		{"numeric returnCode", rawReply(200, `{"returnCode":1142}`), contracts.OutcomeUnknown, "", ""},
		{"short returnCode", rawReply(200, `{"returnCode":"000"}`), contracts.OutcomeUnknown, "", ""},
		{"missing returnCode", rawReply(200, `{"returnMessage":"ok"}`), contracts.OutcomeUnknown, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, a := newFake(t, map[string]func(http.ResponseWriter, *http.Request){"POST /v4/payments/oneTimeKeys/pay": tc.handler})
			res := a.CreatePayment(context.Background(), barcodeRequest())
			if res.Outcome != tc.outcome || res.FailureCode != tc.failure || !strings.Contains(res.FailureMessage, tc.msg) {
				t.Fatalf("got %q %q %q, want %q %q with %q", res.Outcome, res.FailureCode, res.FailureMessage, tc.outcome, tc.failure, tc.msg)
			}
			if res.Outcome == contracts.OutcomeSucceeded && (res.PartnerPaymentID != bigTx || res.AmountCaptured != 12300) {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// TestCreatePaymentRefusedLocally: what the adapter cannot put on the wire is refused
// without a call, among it TWD cents (LINE's amount is whole dollars). The channel's
// currency is not checked here: the engine refuses another currency from Capabilities.
func TestCreatePaymentRefusedLocally(t *testing.T) {
	f, a := newFake(t, map[string]func(http.ResponseWriter, *http.Request){})
	tests := map[string]struct {
		mutate  func(*contracts.PaymentRequest)
		failure string
		msg     string
	}{
		"TWD cents":       {func(r *contracts.PaymentRequest) { r.Amount.Amount = 12350 }, contracts.FailurePartnerRejected, "whole TWD"},
		"one cent":        {func(r *contracts.PaymentRequest) { r.Amount.Amount = 1 }, contracts.FailurePartnerRejected, "0.01 TWD"},
		"QR TWD cents":    {func(r *contracts.PaymentRequest) { r.Flow, r.Amount.Amount = contracts.FlowQR, 10001 }, contracts.FailurePartnerRejected, "whole TWD"},
		"JPY":             {func(r *contracts.PaymentRequest) { r.Amount = contracts.Money{Amount: 100, Currency: contracts.JPY} }, contracts.FailurePartnerRejected, ""},
		"zero":            {func(r *contracts.PaymentRequest) { r.Amount.Amount = 0 }, contracts.FailurePartnerRejected, "positive"},
		"negative":        {func(r *contracts.PaymentRequest) { r.Amount.Amount = -100 }, contracts.FailurePartnerRejected, "positive"},
		"no barcode":      {func(r *contracts.PaymentRequest) { r.Barcode = "" }, contracts.FailureBarcodeInvalid, ""},
		"16 digits":       {func(r *contracts.PaymentRequest) { r.Barcode = "3910000000000000" }, contracts.FailureBarcodeInvalid, ""},
		"19 digits":       {func(r *contracts.PaymentRequest) { r.Barcode = testKey + "1" }, contracts.FailureBarcodeInvalid, ""},
		"letters":         {func(r *contracts.PaymentRequest) { r.Barcode = "39100000000000000A" }, contracts.FailureBarcodeInvalid, ""},
		"no orderId":      {func(r *contracts.PaymentRequest) { r.PartnerRef = "" }, contracts.FailurePartnerRejected, "orderId"},
		"orderId charset": {func(r *contracts.PaymentRequest) { r.PartnerRef = "pay/1" }, contracts.FailurePartnerRejected, "orderId"},
		"orderId length":  {func(r *contracts.PaymentRequest) { r.PartnerRef = strings.Repeat("a", 101) }, contracts.FailurePartnerRejected, "orderId"},
		"linked flow":     {func(r *contracts.PaymentRequest) { r.Flow = contracts.FlowLinked }, contracts.FailurePartnerRejected, "flow"},
		"capture method":  {func(r *contracts.PaymentRequest) { r.CaptureMethod = "later" }, contracts.FailurePartnerRejected, ""},
	}
	for name, tc := range tests {
		req := barcodeRequest()
		tc.mutate(&req)
		res := a.CreatePayment(context.Background(), req)
		if res.Outcome != contracts.OutcomeFailed || res.FailureCode != tc.failure || !strings.Contains(res.FailureMessage, tc.msg) {
			t.Errorf("%s: result %+v", name, res)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests reached LINE Pay", n)
	}
	thbReq := barcodeRequest()
	thbReq.Amount = contracts.Money{Amount: 12300, Currency: contracts.THB}
	thbReq.Barcode = "391000000000"
	f2, thb := newFake(t, map[string]func(http.ResponseWriter, *http.Request){
		"POST /v4/payments/oneTimeKeys/pay": lineReply("0000", payInfoJSON("123", "")),
	})
	thb.cfg.Currency = contracts.THB
	if res := thb.CreatePayment(context.Background(), thbReq); res.Outcome != contracts.OutcomeSucceeded {
		t.Errorf("THB 12-digit code: %+v", res)
	}
	if got := f2.requests(); len(got) != 1 || !strings.Contains(got[0].body, `"amount":123,"currency":"THB"`) {
		t.Errorf("THB request %+v", got)
	}
	thbReq.Amount.Amount = 12350
	if res := thb.CreatePayment(context.Background(), thbReq); res.Outcome != contracts.OutcomeFailed || !strings.Contains(res.FailureMessage, "whole THB") {
		t.Errorf("THB satang: %+v", res)
	}
}

// TestQRRequest checks the Online v3 request byte for byte and the pending answer.
func TestQRRequest(t *testing.T) {
	f, a := newFake(t, map[string]func(http.ResponseWriter, *http.Request){
		"POST /v3/payments/request": lineReply("0000", `{"transactionId":`+bigTx+`,"paymentAccessToken":"123456789012",`+
			`"paymentUrl":{"web":"https://web-pay.line.me/web/payment/wait?transactionReserveId=abc","app":"line://pay/payment/abc"}}`),
	})
	req := qrRequest()
	req.CaptureMethod = contracts.CaptureManual
	res := a.CreatePayment(context.Background(), req)
	if res.Outcome != contracts.OutcomePending || res.PartnerPaymentID != bigTx || res.PartnerActionRef != bigTx {
		t.Fatalf("result %+v", res)
	}
	na := res.NextAction
	if na == nil || na.Type != contracts.NextActionDisplayQR || na.QRCodeURL != "https://web-pay.line.me/web/payment/wait?transactionReserveId=abc" ||
		na.Deeplink != "line://pay/payment/abc" || na.ExpiresAt == nil || !na.ExpiresAt.Equal(testNow.Add(20*time.Minute)) {
		t.Errorf("next action %+v", na)
	}
	got := f.requests()[0]
	want := `{"amount":123,"currency":"TWD","orderId":"` + testOrder + `",` +
		`"packages":[{"id":"1","amount":123,"products":[{"name":"order 7","quantity":1,"price":123}]}],` +
		`"redirectUrls":{"confirmUrl":"` + DefaultConfirmURL + `","cancelUrl":"` + DefaultCancelURL + `","confirmUrlType":"NONE"},` +
		`"options":{"payment":{"capture":false},"extra":{"branchId":"store-1"}}}`
	if got.path != "/v3/payments/request" || got.body != want {
		t.Errorf("sent %s %s\nwant %s", got.path, got.body, want)
	}
	for code, outcome := range map[string]contracts.Outcome{"1178": contracts.OutcomeFailed, "1172": contracts.OutcomeUnknown, "9000": contracts.OutcomeUnknown} {
		_, a := newFake(t, map[string]func(http.ResponseWriter, *http.Request){"POST /v3/payments/request": lineReply(code, "")})
		if res := a.CreatePayment(context.Background(), qrRequest()); res.Outcome != outcome {
			t.Errorf("%s: %+v", code, res)
		}
	}
	_, a = newFake(t, map[string]func(http.ResponseWriter, *http.Request){"POST /v3/payments/request": lineReply("0000", `{"transactionId":`+bigTx+`}`)})
	if res := a.CreatePayment(context.Background(), qrRequest()); res.Outcome != contracts.OutcomeUnknown {
		t.Errorf("request without paymentUrl: %+v", res)
	}
}

// TestTimeoutIsUnknown: a LINE Pay that never answers leaves every call unknown, bounded
// by the configured timeouts.
func TestTimeoutIsUnknown(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	d := 50 * time.Millisecond
	a, err := New(Config{BaseURL: srv.URL, ChannelID: testChannel, ChannelSecret: testSecret, Currency: contracts.TWD,
		Timeouts: Timeouts{Pay: d, Request: d, Confirm: d, Capture: d, Void: d, Refund: d, Read: d}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res := a.CreatePayment(ctx, barcodeRequest()); res.Outcome != contracts.OutcomeUnknown || !strings.Contains(res.FailureMessage, "timeout") {
		t.Errorf("pay: %+v", res)
	}
	if res := a.CreatePayment(ctx, qrRequest()); res.Outcome != contracts.OutcomeUnknown {
		t.Errorf("request: %+v", res)
	}
	if res := a.GetPayment(ctx, offlineRef(contracts.StatusUnknown)); res.Outcome != contracts.OutcomeUnknown {
		t.Errorf("get: %+v", res)
	}
	if res := a.CancelPayment(ctx, offlineRef(contracts.StatusAuthorized)); res.Outcome != contracts.OutcomeUnknown {
		t.Errorf("void: %+v", res)
	}
	if res := a.Refund(ctx, refundRequest(offlineRef(contracts.StatusSucceeded), 50, 0)); res.Outcome != contracts.OutcomeUnknown {
		t.Errorf("refund: %+v", res)
	}
}

func TestConnectionResetIsUnknown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // close with RST
		}
		_ = conn.Close()
	}))
	t.Cleanup(srv.Close)
	a, err := New(Config{BaseURL: srv.URL, ChannelID: testChannel, ChannelSecret: testSecret, Currency: contracts.TWD})
	if err != nil {
		t.Fatal(err)
	}
	if res := a.CreatePayment(context.Background(), barcodeRequest()); res.Outcome != contracts.OutcomeUnknown ||
		!strings.Contains(res.FailureMessage, "transport error") {
		t.Errorf("pay: %+v", res)
	}
}

// TestMessagesNeverLeakSecretOrKey: LINE echoing the oneTimeKey or the secret in
// returnMessage never reaches a result; the key shows masked.
func TestMessagesNeverLeakSecretOrKey(t *testing.T) {
	var mu sync.Mutex
	var sig string
	_, a := newFake(t, map[string]func(http.ResponseWriter, *http.Request){
		"POST /v4/payments/oneTimeKeys/pay": func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			sig = r.Header.Get("X-LINE-Authorization")
			mu.Unlock()
			_, _ = io.WriteString(w, `{"returnCode":"1133","returnMessage":"oneTimeKey `+testKey+` invalid; secret `+testSecret+`"}`)
		},
	})
	res := a.CreatePayment(context.Background(), barcodeRequest())
	if res.Outcome != contracts.OutcomeFailed || res.FailureCode != contracts.FailureBarcodeInvalid {
		t.Fatalf("result %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	all := fmt.Sprintf("%+v", res)
	for _, s := range []string{testKey, testSecret, sig} {
		if strings.Contains(all, s) {
			t.Errorf("result leaks %q: %s", s, all)
		}
	}
	if !strings.Contains(res.FailureMessage, MaskKey(testKey)) || MaskKey(testKey) != "**************0000" {
		t.Errorf("message %q, mask %q", res.FailureMessage, MaskKey(testKey))
	}
}

func TestMinorUnits(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "123": 12300, "123.4": 12340, "123.45": 12345, "-100": -10000, "-0.5": -50, "999999999999999": 99999999999999900} {
		if got, err := minorUnits(jsonNumber(in)); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1e2", "1.234", "01", "1.", ".5", "abc", "1000000000000000", "--1", "+1", "NaN"} {
		if got, err := minorUnits(jsonNumber(in)); err == nil {
			t.Errorf("%q accepted as %d", in, got)
		}
	}
	for _, m := range []contracts.Money{{Amount: 12345, Currency: contracts.TWD}, {Amount: 0, Currency: contracts.TWD}, {Amount: 100, Currency: contracts.JPY}} {
		if _, err := majorUnits(m); err == nil {
			t.Errorf("majorUnits(%s) accepted", m)
		}
	}
	if got, err := majorUnits(contracts.Money{Amount: 9223372036854775800, Currency: contracts.TWD}); err != nil || got != 92233720368547758 {
		t.Errorf("large amount: %d %v", got, err)
	}
}
