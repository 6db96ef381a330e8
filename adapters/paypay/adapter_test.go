package paypay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
)

const (
	testKey      = "test-key"
	testSecret   = "test-secret-do-not-leak"
	testMerchant = "merchant-1"
	testBarcode  = "900081818812345678"
)

var testNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// seen is one request as the fake PayPay received it.
type seen struct {
	method, path, query, contentType string
	body                             map[string]any
}

// fakePayPay is a scripted PayPay written for these tests: it checks every request's
// OPA-Auth signature and merchant header like PayPay would, records it, and answers with
// whatever the test's respond function says.
type fakePayPay struct {
	t       *testing.T
	mu      sync.Mutex
	seen    []seen
	respond func(w http.ResponseWriter, r *http.Request)
}

func newFake(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) (*fakePayPay, *Adapter) {
	t.Helper()
	f := &fakePayPay{t: t, respond: respond}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	a, err := New(Config{
		BaseURL: srv.URL, APIKey: testKey, APISecret: testSecret, MerchantID: testMerchant,
		Now: func() time.Time { return testNow }, NewNonce: func() string { return "nonce123" },
		Timeouts: Timeouts{ValueMoving: 2 * time.Second, Read: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, a
}

func (f *fakePayPay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	if err := f.verify(r, raw); err != nil {
		f.t.Errorf("%s %s: %v", r.Method, r.URL.Path, err)
		writeEnvelope(w, http.StatusUnauthorized, "UNAUTHORIZED", nil)
		return
	}
	s := seen{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, contentType: r.Header.Get("Content-Type")}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &s.body); err != nil {
			f.t.Errorf("request body is not JSON: %v", err)
		}
	}
	f.mu.Lock()
	f.seen = append(f.seen, s)
	f.mu.Unlock()
	f.respond(w, r)
}

// verify checks the request the way §2 says PayPay does, with the Content-Type verbatim.
func (f *fakePayPay) verify(r *http.Request, body []byte) error {
	if got := r.Header.Get("X-ASSUME-MERCHANT"); got != testMerchant {
		return fmt.Errorf("X-ASSUME-MERCHANT = %q", got)
	}
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "hmac OPA-Auth:")
	if !ok {
		return fmt.Errorf("authorization scheme missing")
	}
	parts := strings.Split(auth, ":")
	if len(parts) != 5 || parts[0] != testKey {
		return fmt.Errorf("malformed authorization")
	}
	epoch, _ := strconv.ParseInt(parts[3], 10, 64)
	if epoch != testNow.Unix() {
		return fmt.Errorf("epoch %d, want %d", epoch, testNow.Unix())
	}
	ct := r.Header.Get("Content-Type")
	if len(body) > 0 && ct != "application/json" {
		return fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	if len(body) == 0 && ct != "" {
		return fmt.Errorf("Content-Type %q on a request without body", ct)
	}
	want := Sign(testKey, testSecret, r.Method, r.URL.Path, parts[2], epoch, ct, body)
	if r.Header.Get("Authorization") != want {
		return fmt.Errorf("signature mismatch")
	}
	return nil
}

func (f *fakePayPay) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.seen...)
}

func writeEnvelope(w http.ResponseWriter, status int, code string, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-REQUEST-ID", "req-42")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"resultInfo": map[string]any{"code": code, "message": "msg for " + code, "codeId": "0000"},
		"data":       data,
	})
}

// answer responds with one fixed envelope.
func answer(status int, code string, data any) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { writeEnvelope(w, status, code, data) }
}

func paymentData(status string) map[string]any {
	return map[string]any{
		"paymentId": "pp-1", "status": status, "acceptedAt": testNow.Unix(), "merchantPaymentId": "mp-1",
		"amount": map[string]any{"amount": 1200, "currency": "JPY"}, "unknownField": []int{1, 2},
	}
}

func barcodeRequest() contracts.PaymentRequest {
	return contracts.PaymentRequest{
		PartnerRef: "mp-1", Amount: contracts.Money{Amount: 1200, Currency: contracts.JPY}, Flow: contracts.FlowBarcode,
		Barcode: testBarcode, StoreID: "store-1", TerminalID: "till-1", Description: "order 7", RequestedAt: testNow,
	}
}

func TestNewValidatesConfig(t *testing.T) {
	good := Config{BaseURL: "http://127.0.0.1:1", APIKey: "k", APISecret: "s", MerchantID: "m"}
	for name, mutate := range map[string]func(*Config){
		"BaseURL": func(c *Config) { c.BaseURL = "" }, "APIKey": func(c *Config) { c.APIKey = "" },
		"APISecret": func(c *Config) { c.APISecret = " " }, "MerchantID": func(c *Config) { c.MerchantID = "" },
		"relative URL": func(c *Config) { c.BaseURL = "/v2" },
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
	if a.Method() != contracts.MethodPayPay {
		t.Errorf("Method = %q", a.Method())
	}
	if a.cfg.Timeouts.ValueMoving != 30*time.Second || a.cfg.Timeouts.Read != 15*time.Second {
		t.Errorf("default timeouts = %+v", a.cfg.Timeouts)
	}
}

func TestCreatePaymentRequests(t *testing.T) {
	tests := []struct {
		name      string
		req       func() contracts.PaymentRequest
		path      string
		query     string
		wantField string
		noField   string
	}{
		{"barcode", barcodeRequest, "/v2/payments", "agreeSimilarTransaction=true", "authorizationCode", "userAuthorizationId"},
		{"linked", func() contracts.PaymentRequest {
			r := barcodeRequest()
			r.Flow, r.Barcode, r.UserAuthorizationID = contracts.FlowLinked, "", "user-ok"
			return r
		}, "/v2/payments", "agreeSimilarTransaction=false", "userAuthorizationId", "authorizationCode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, a := newFake(t, answer(http.StatusCreated, "SUCCESS", paymentData("COMPLETED")))
			res := a.CreatePayment(context.Background(), tc.req())
			if res.Outcome != contracts.OutcomeSucceeded || res.PartnerPaymentID != "pp-1" || res.PaidAt == nil || !res.PaidAt.Equal(testNow) {
				t.Fatalf("result = %+v", res)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			got := reqs[0]
			if got.method != http.MethodPost || got.path != tc.path || got.query != tc.query {
				t.Errorf("sent %s %s?%s", got.method, got.path, got.query)
			}
			if _, ok := got.body[tc.wantField]; !ok {
				t.Errorf("body lacks %s: %v", tc.wantField, got.body)
			}
			if _, ok := got.body[tc.noField]; ok {
				t.Errorf("body has %s: %v", tc.noField, got.body)
			}
			if got.body["merchantPaymentId"] != "mp-1" || got.body["requestedAt"] != float64(testNow.Unix()) ||
				got.body["storeId"] != "store-1" || got.body["terminalId"] != "till-1" || got.body["orderDescription"] != "order 7" {
				t.Errorf("body = %v", got.body)
			}
			if amt, _ := got.body["amount"].(map[string]any); amt["amount"] != float64(1200) || amt["currency"] != "JPY" {
				t.Errorf("amount = %v", got.body["amount"])
			}
		})
	}
}

func TestCreateQR(t *testing.T) {
	f, a := newFake(t, answer(http.StatusCreated, "SUCCESS", map[string]any{
		"codeId": "code-1", "url": "https://qr.example/1", "deeplink": "paypay://1", "expiryDate": testNow.Add(5 * time.Minute).Unix(),
		"merchantPaymentId": "mp-1", "orderItems": []map[string]any{{"unit_price": map[string]any{"amount": 1}}},
	}))
	req := barcodeRequest()
	req.Flow, req.Barcode = contracts.FlowQR, ""
	res := a.CreatePayment(context.Background(), req)
	if res.Outcome != contracts.OutcomePending || res.PartnerActionRef != "code-1" || res.NextAction == nil {
		t.Fatalf("result = %+v", res)
	}
	na := res.NextAction
	if na.Type != contracts.NextActionDisplayQR || na.QRCodeURL != "https://qr.example/1" || na.Deeplink != "paypay://1" ||
		na.ExpiresAt == nil || !na.ExpiresAt.Equal(testNow.Add(5*time.Minute)) {
		t.Errorf("next action = %+v", na)
	}
	got := f.requests()[0]
	if got.path != "/v2/codes" || got.body["codeType"] != "ORDER_QR" || got.body["merchantPaymentId"] != "mp-1" {
		t.Errorf("sent %s %v", got.path, got.body)
	}
}

func TestCreatePaymentRefusedLocally(t *testing.T) {
	f, a := newFake(t, answer(http.StatusOK, "SUCCESS", paymentData("COMPLETED")))
	for name, mutate := range map[string]func(*contracts.PaymentRequest){
		"no barcode":     func(r *contracts.PaymentRequest) { r.Barcode = "" },
		"no ref":         func(r *contracts.PaymentRequest) { r.PartnerRef = "" },
		"linked no user": func(r *contracts.PaymentRequest) { r.Flow = contracts.FlowLinked },
		"unknown flow":   func(r *contracts.PaymentRequest) { r.Flow = "teleport" },
	} {
		req := barcodeRequest()
		mutate(&req)
		if res := a.CreatePayment(context.Background(), req); res.Outcome != contracts.OutcomeFailed || res.FailureCode == "" {
			t.Errorf("%s: result = %+v", name, res)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests reached PayPay", n)
	}
}

// TestCreatePaymentOutcomes is §6's table: every HTTP status × code → Outcome and
// failure code for a value-moving call.
func TestCreatePaymentOutcomes(t *testing.T) {
	tests := []struct {
		status  int
		code    string
		data    any
		outcome contracts.Outcome
		failure string
	}{
		{200, "SUCCESS", paymentData("COMPLETED"), contracts.OutcomeSucceeded, ""},
		{201, "SUCCESS", paymentData("COMPLETED"), contracts.OutcomeSucceeded, ""},
		{202, "REQUEST_ACCEPTED", paymentData("COMPLETED"), contracts.OutcomeSucceeded, ""},
		{200, "SUCCESS", paymentData("AUTHORIZED"), contracts.OutcomeAuthorized, ""},
		{200, "SUCCESS", paymentData("CREATED"), contracts.OutcomeUnknown, ""},
		{200, "SUCCESS", paymentData("FAILED"), contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{200, "SUCCESS", paymentData("CANCELED"), contracts.OutcomeCanceled, ""},
		{200, "SUCCESS", paymentData("EXPIRED"), contracts.OutcomeCanceled, ""},
		{200, "SUCCESS", paymentData("TELEPORTED"), contracts.OutcomeUnknown, ""},
		{200, "SUCCESS", nil, contracts.OutcomeUnknown, ""},
		{200, "SOMETHING_NEW", paymentData("COMPLETED"), contracts.OutcomeUnknown, ""},
		{200, "NO_SUFFICIENT_FUND", nil, contracts.OutcomeUnknown, ""},
		{400, "INVALID_REQUEST_PARAMS", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{400, "MISSING_REQUEST_PARAMS", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{400, "INVALID_PARAMS", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{400, "NO_SUFFICIENT_FUND", nil, contracts.OutcomeFailed, contracts.FailureInsufficientFunds},
		{400, "CANCELED_USER", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{400, "UNACCEPTABLE_OP", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{400, "SUSPECTED_DUPLICATE_PAYMENT", nil, contracts.OutcomeFailed, contracts.FailureDuplicateSuspected},
		{400, "INVALID_AUTHORIZATION_CODE", nil, contracts.OutcomeFailed, contracts.FailureBarcodeInvalid},
		{400, "EXPIRED_AUTHORIZATION_CODE", nil, contracts.OutcomeFailed, contracts.FailureExpired},
		{401, "UNAUTHORIZED", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{401, "OP_OUT_OF_SCOPE", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{401, "USER_STATE_IS_NOT_ACTIVE", nil, contracts.OutcomeFailed, contracts.FailureUserNotActive},
		{401, "INVALID_USER_AUTHORIZATION_ID", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{401, "EXPIRED_USER_AUTHORIZATION_ID", nil, contracts.OutcomeFailed, contracts.FailureExpired},
		{404, "NO_VALID_PAYMENT_METHOD", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{404, "PAYMENT_METHOD_NOT_FOUND", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{400, "BRAND_NEW_ERROR", nil, contracts.OutcomeUnknown, ""},
		{429, "RATE_LIMIT", nil, contracts.OutcomeUnknown, ""},
		{500, "TRANSACTION_FAILED", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		{500, "INTERNAL_SERVER_ERROR", nil, contracts.OutcomeUnknown, ""},
		{500, "SERVICE_ERROR", nil, contracts.OutcomeUnknown, ""},
		{500, "NO_SUFFICIENT_FUND", nil, contracts.OutcomeUnknown, ""},
		{502, "INTERNAL_SERVER_ERROR", nil, contracts.OutcomeUnknown, ""},
		{503, "MAINTENANCE_MODE", nil, contracts.OutcomeUnknown, ""},
		{504, "SUCCESS", nil, contracts.OutcomeUnknown, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d_%s", tc.status, tc.code), func(t *testing.T) {
			_, a := newFake(t, answer(tc.status, tc.code, tc.data))
			res := a.CreatePayment(context.Background(), barcodeRequest())
			if res.Outcome != tc.outcome || res.FailureCode != tc.failure {
				t.Fatalf("outcome %q failure %q, want %q %q (%+v)", res.Outcome, res.FailureCode, tc.outcome, tc.failure, res)
			}
			if res.PartnerCode != tc.code {
				t.Errorf("PartnerCode = %q", res.PartnerCode)
			}
		})
	}
}

func TestCreateQROutcomes(t *testing.T) {
	tests := []struct {
		status  int
		code    string
		data    any
		outcome contracts.Outcome
	}{
		{201, "SUCCESS", map[string]any{"codeId": "c", "url": "u"}, contracts.OutcomePending},
		{201, "SUCCESS", map[string]any{"codeId": "c"}, contracts.OutcomeUnknown},
		{400, "DYNAMIC_QR_BAD_REQUEST", nil, contracts.OutcomeFailed},
		{400, "DUPLICATE_DYNAMIC_QR_REQUEST", nil, contracts.OutcomeUnknown},
		{503, "MAINTENANCE_MODE", nil, contracts.OutcomeUnknown},
	}
	for _, tc := range tests {
		_, a := newFake(t, answer(tc.status, tc.code, tc.data))
		req := barcodeRequest()
		req.Flow = contracts.FlowQR
		if res := a.CreatePayment(context.Background(), req); res.Outcome != tc.outcome {
			t.Errorf("%d %s: outcome %q, want %q", tc.status, tc.code, res.Outcome, tc.outcome)
		}
	}
}

func TestGetPaymentOutcomes(t *testing.T) {
	tests := []struct {
		flow    contracts.Flow
		status  int
		code    string
		data    any
		outcome contracts.Outcome
		path    string
	}{
		{contracts.FlowBarcode, 200, "SUCCESS", paymentData("COMPLETED"), contracts.OutcomeSucceeded, "/v2/payments/mp-1"},
		{contracts.FlowLinked, 200, "SUCCESS", paymentData("REFUNDED"), contracts.OutcomeSucceeded, "/v2/payments/mp-1"},
		{contracts.FlowBarcode, 200, "SUCCESS", paymentData("CREATED"), contracts.OutcomeUnknown, "/v2/payments/mp-1"},
		{contracts.FlowQR, 200, "SUCCESS", paymentData("CREATED"), contracts.OutcomePending, "/v2/codes/payments/mp-1"},
		{contracts.FlowQR, 200, "SUCCESS", paymentData("COMPLETED"), contracts.OutcomeSucceeded, "/v2/codes/payments/mp-1"},
		{contracts.FlowQR, 200, "SUCCESS", paymentData("FAILED"), contracts.OutcomeFailed, "/v2/codes/payments/mp-1"},
		{contracts.FlowBarcode, 404, "RESOURCE_NOT_FOUND", nil, contracts.OutcomeNotFound, "/v2/payments/mp-1"},
		{contracts.FlowQR, 400, "DYNAMIC_QR_PAYMENT_NOT_FOUND", nil, contracts.OutcomeNotFound, "/v2/codes/payments/mp-1"},
		{contracts.FlowBarcode, 401, "UNAUTHORIZED", nil, contracts.OutcomeUnknown, "/v2/payments/mp-1"},
		{contracts.FlowBarcode, 429, "RATE_LIMIT", nil, contracts.OutcomeUnknown, "/v2/payments/mp-1"},
		{contracts.FlowBarcode, 500, "INTERNAL_SERVER_ERROR", nil, contracts.OutcomeUnknown, "/v2/payments/mp-1"},
		{contracts.FlowBarcode, 500, "RESOURCE_NOT_FOUND", nil, contracts.OutcomeUnknown, "/v2/payments/mp-1"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s_%d_%s", tc.flow, tc.status, tc.code), func(t *testing.T) {
			f, a := newFake(t, answer(tc.status, tc.code, tc.data))
			res := a.GetPayment(context.Background(), contracts.PaymentRef{PartnerRef: "mp-1", Flow: tc.flow, PartnerActionRef: "code-1"})
			if res.Outcome != tc.outcome {
				t.Fatalf("outcome %q, want %q (%+v)", res.Outcome, tc.outcome, res)
			}
			if got := f.requests()[0]; got.method != http.MethodGet || got.path != tc.path {
				t.Errorf("sent %s %s", got.method, got.path)
			}
		})
	}
}

func TestCancelOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		ref        contracts.PaymentRef
		qr         func(http.ResponseWriter, *http.Request)
		payment    func(http.ResponseWriter, *http.Request)
		outcome    contracts.Outcome
		wantDelete []string
	}{
		{"accepted", contracts.PaymentRef{PartnerRef: "mp-1", Status: contracts.StatusSucceeded},
			nil, answer(202, "REQUEST_ACCEPTED", nil), contracts.OutcomeSucceeded, []string{"/v2/payments/mp-1"}},
		{"window passed", contracts.PaymentRef{PartnerRef: "mp-1", Status: contracts.StatusSucceeded},
			nil, answer(400, "ORDER_NOT_REVERSIBLE", nil), contracts.OutcomeWindowPassed, []string{"/v2/payments/mp-1"}},
		{"refused", contracts.PaymentRef{PartnerRef: "mp-1", Status: contracts.StatusSucceeded},
			nil, answer(400, "ORDER_NO_LONGER_AVAILABLE", nil), contracts.OutcomeFailed, []string{"/v2/payments/mp-1"}},
		{"not found outside QR", contracts.PaymentRef{PartnerRef: "mp-1", Status: contracts.StatusUnknown},
			nil, answer(404, "RESOURCE_NOT_FOUND", nil), contracts.OutcomeFailed, []string{"/v2/payments/mp-1"}},
		{"500", contracts.PaymentRef{PartnerRef: "mp-1", Status: contracts.StatusSucceeded},
			nil, answer(500, "INTERNAL_SERVER_ERROR", nil), contracts.OutcomeUnknown, []string{"/v2/payments/mp-1"}},
		{"unrecognised", contracts.PaymentRef{PartnerRef: "mp-1", Status: contracts.StatusSucceeded},
			nil, answer(400, "WHAT_IS_THIS", nil), contracts.OutcomeUnknown, []string{"/v2/payments/mp-1"}},
		{"pending QR", contracts.PaymentRef{PartnerRef: "mp-1", PartnerActionRef: "code-1", Flow: contracts.FlowQR, Status: contracts.StatusRequiresAction},
			answer(200, "SUCCESS", map[string]any{"qrStatus": "DELETED"}), answer(202, "REQUEST_ACCEPTED", nil),
			contracts.OutcomeSucceeded, []string{"/v2/codes/code-1", "/v2/payments/mp-1"}},
		{"pending QR never paid", contracts.PaymentRef{PartnerRef: "mp-1", PartnerActionRef: "code-1", Flow: contracts.FlowQR, Status: contracts.StatusRequiresAction},
			answer(404, "DYNAMIC_QR_NOT_FOUND", nil), answer(404, "RESOURCE_NOT_FOUND", nil),
			contracts.OutcomeSucceeded, []string{"/v2/codes/code-1", "/v2/payments/mp-1"}},
		{"pending QR, delete unconfirmed", contracts.PaymentRef{PartnerRef: "mp-1", PartnerActionRef: "code-1", Flow: contracts.FlowQR, Status: contracts.StatusRequiresAction},
			answer(503, "MAINTENANCE_MODE", nil), answer(404, "RESOURCE_NOT_FOUND", nil),
			contracts.OutcomeUnknown, []string{"/v2/codes/code-1", "/v2/payments/mp-1"}},
		{"paid QR is not withdrawn", contracts.PaymentRef{PartnerRef: "mp-1", PartnerActionRef: "code-1", Flow: contracts.FlowQR, Status: contracts.StatusSucceeded},
			nil, answer(202, "REQUEST_ACCEPTED", nil), contracts.OutcomeSucceeded, []string{"/v2/payments/mp-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, a := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/v2/codes/") {
					tc.qr(w, r)
					return
				}
				tc.payment(w, r)
			})
			res := a.CancelPayment(context.Background(), tc.ref)
			if res.Outcome != tc.outcome {
				t.Fatalf("outcome %q, want %q (%+v)", res.Outcome, tc.outcome, res)
			}
			var paths []string
			for _, s := range f.requests() {
				if s.method != http.MethodDelete {
					t.Errorf("method %s", s.method)
				}
				paths = append(paths, s.path)
			}
			if fmt.Sprint(paths) != fmt.Sprint(tc.wantDelete) {
				t.Errorf("deleted %v, want %v", paths, tc.wantDelete)
			}
		})
	}
}

func refundData(amount int64, ref string) map[string]any {
	return map[string]any{"status": "CREATED", "acceptedAt": testNow.Unix(), "merchantRefundId": ref, "paymentId": "pp-1",
		"amount": map[string]any{"amount": amount, "currency": "JPY"}, "requestedAt": testNow.Unix()}
}

func refundRequest() contracts.RefundRequest {
	return contracts.RefundRequest{
		PartnerRef: "rf-1", Amount: contracts.Money{Amount: 300, Currency: contracts.JPY}, Reason: "damaged", RequestedAt: testNow,
		Payment: contracts.PaymentRef{PartnerRef: "mp-1", PartnerPaymentID: "pp-1", Flow: contracts.FlowBarcode, Status: contracts.StatusSucceeded},
	}
}

func TestRefundOutcomes(t *testing.T) {
	refunded := refundData(300, "rf-1")
	refunded["status"] = "REFUNDED"
	weird := refundData(300, "rf-1")
	weird["status"] = "REFUND_FAILED"
	tests := []struct {
		name    string
		status  int
		code    string
		codeID  string
		data    any
		outcome contracts.Outcome
		msg     string
	}{
		{"created", 200, "SUCCESS", "", refundData(300, "rf-1"), contracts.OutcomeSucceeded, ""},
		{"refunded", 200, "SUCCESS", "", refunded, contracts.OutcomeSucceeded, ""},
		{"unrecognised status", 200, "SUCCESS", "", weird, contracts.OutcomeUnknown, "unrecognised status"},
		{"replay of another amount", 200, "SUCCESS", "", refundData(500, "rf-1"), contracts.OutcomeUnknown, "asked for 300 JPY"},
		{"replay of another id", 200, "SUCCESS", "", refundData(300, "rf-9"), contracts.OutcomeUnknown, "different merchantRefundId"},
		{"over-refund", 400, "INVALID_PARAMS", "00200015", nil, contracts.OutcomeFailed, "exceeds what is still refundable"},
		{"invalid params", 400, "INVALID_PARAMS", "00200004", nil, contracts.OutcomeFailed, "may exceed what is still refundable"},
		{"window", 400, "REFUND_WINDOW_EXCEED", "", nil, contracts.OutcomeFailed, "REFUND_WINDOW_EXCEED"},
		{"multiple refunds off", 400, "UNACCEPTABLE_OP", "", nil, contracts.OutcomeFailed, ""},
		{"transaction failed", 500, "TRANSACTION_FAILED", "", nil, contracts.OutcomeFailed, ""},
		{"internal", 500, "INTERNAL_SERVER_ERROR", "", nil, contracts.OutcomeUnknown, ""},
		{"rate", 429, "RATE_LIMIT", "", nil, contracts.OutcomeUnknown, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, a := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_ = json.NewEncoder(w).Encode(map[string]any{
					"resultInfo": map[string]any{"code": tc.code, "codeId": tc.codeID}, "data": tc.data})
			})
			res := a.Refund(context.Background(), refundRequest())
			if res.Outcome != tc.outcome || !strings.Contains(res.FailureMessage, tc.msg) {
				t.Fatalf("result %+v, want %q with %q", res, tc.outcome, tc.msg)
			}
			got := f.requests()[0]
			if got.method != http.MethodPost || got.path != "/v2/refunds" || got.body["paymentId"] != "pp-1" ||
				got.body["merchantRefundId"] != "rf-1" || got.body["reason"] != "damaged" || got.body["requestedAt"] != float64(testNow.Unix()) {
				t.Errorf("sent %s %s %v", got.method, got.path, got.body)
			}
		})
	}
}

func TestRefundLearnsPaymentID(t *testing.T) {
	f, a := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			writeEnvelope(w, 200, "SUCCESS", paymentData("COMPLETED"))
			return
		}
		writeEnvelope(w, 200, "SUCCESS", refundData(300, "rf-1"))
	})
	req := refundRequest()
	req.Payment.PartnerPaymentID = ""
	if res := a.Refund(context.Background(), req); res.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("result %+v", res)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].path != "/v2/payments/mp-1" || reqs[1].body["paymentId"] != "pp-1" {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestRefundWithoutPaymentIDNotSentWhenLookupFails(t *testing.T) {
	for _, tc := range []struct {
		status  int
		code    string
		outcome contracts.Outcome
	}{
		{503, "MAINTENANCE_MODE", contracts.OutcomeUnknown},
		{404, "RESOURCE_NOT_FOUND", contracts.OutcomeFailed},
	} {
		f, a := newFake(t, answer(tc.status, tc.code, nil))
		req := refundRequest()
		req.Payment.PartnerPaymentID = ""
		if res := a.Refund(context.Background(), req); res.Outcome != tc.outcome {
			t.Errorf("%s: result %+v", tc.code, res)
		}
		for _, s := range f.requests() {
			if s.path == "/v2/refunds" {
				t.Errorf("%s: refund sent without a paymentId", tc.code)
			}
		}
	}
}

// TestTimeoutIsUnknown: a PayPay that never answers leaves every call unknown (or, for a
// query, a failed query), bounded by the configured timeout.
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
	a, err := New(Config{BaseURL: srv.URL, APIKey: testKey, APISecret: testSecret, MerchantID: testMerchant,
		Timeouts: Timeouts{ValueMoving: 50 * time.Millisecond, Read: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res := a.CreatePayment(ctx, barcodeRequest()); res.Outcome != contracts.OutcomeUnknown || !strings.Contains(res.FailureMessage, "timeout") {
		t.Errorf("create: %+v", res)
	}
	if res := a.GetPayment(ctx, contracts.PaymentRef{PartnerRef: "mp-1"}); res.Outcome != contracts.OutcomeUnknown {
		t.Errorf("get: %+v", res)
	}
	if res := a.CancelPayment(ctx, contracts.PaymentRef{PartnerRef: "mp-1"}); res.Outcome != contracts.OutcomeUnknown {
		t.Errorf("cancel: %+v", res)
	}
	if res := a.Refund(ctx, refundRequest()); res.Outcome != contracts.OutcomeUnknown {
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
	a, err := New(Config{BaseURL: srv.URL, APIKey: testKey, APISecret: testSecret, MerchantID: testMerchant})
	if err != nil {
		t.Fatal(err)
	}
	res := a.CreatePayment(context.Background(), barcodeRequest())
	if res.Outcome != contracts.OutcomeUnknown || !strings.Contains(res.FailureMessage, "transport error") {
		t.Errorf("create: %+v", res)
	}
	if res := a.Refund(context.Background(), refundRequest()); res.Outcome != contracts.OutcomeUnknown {
		t.Errorf("refund: %+v", res)
	}
}

func TestUnreadableBodyIsUnknown(t *testing.T) {
	for _, body := range []string{"<html>bad gateway</html>", "", `{"resultInfo":{}}`, `{"resultInfo":{"code":"SUCCESS"},"data":{"amount":{"amount":12.5}}}`} {
		_, a := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, body)
		})
		if res := a.CreatePayment(context.Background(), barcodeRequest()); res.Outcome != contracts.OutcomeUnknown {
			t.Errorf("body %q: %+v", body, res)
		}
	}
}

func TestLargeAmountsStayExact(t *testing.T) {
	data := paymentData("COMPLETED")
	data["amount"] = map[string]any{"amount": int64(99999999999), "currency": "JPY"}
	body, _ := json.Marshal(map[string]any{"resultInfo": map[string]any{"code": "SUCCESS"}, "data": data})
	env, err := parseEnvelope(body)
	if err != nil {
		t.Fatal(err)
	}
	var p paymentObject
	if err := env.decodeData(&p); err != nil || p.Amount.Amount != 99999999999 {
		t.Fatalf("amount %d, err %v", p.Amount.Amount, err)
	}
}

func TestMessagesNeverLeakSecretsOrBarcode(t *testing.T) {
	var authHeader string
	var mu sync.Mutex
	_, a := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		authHeader = r.Header.Get("Authorization")
		mu.Unlock()
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(map[string]any{"resultInfo": map[string]any{
			"code": "INVALID_AUTHORIZATION_CODE", "message": "code " + testBarcode + " bad; secret " + testSecret}})
	})
	res := a.CreatePayment(context.Background(), barcodeRequest())
	if res.Outcome != contracts.OutcomeFailed || res.FailureCode != contracts.FailureBarcodeInvalid {
		t.Fatalf("result %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range []string{testBarcode, testSecret, authHeader} {
		if strings.Contains(fmt.Sprintf("%+v", res), s) {
			t.Errorf("result leaks %q: %+v", s, res)
		}
	}
}
