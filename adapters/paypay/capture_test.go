package paypay

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
)

// routes answers each "METHOD /path" with its own handler; anything else is a test error.
func routes(t *testing.T, handlers map[string]func(http.ResponseWriter, *http.Request)) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		h, ok := handlers[r.Method+" "+r.URL.Path]
		if !ok {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			writeEnvelope(w, http.StatusNotFound, "RESOURCE_NOT_FOUND", nil)
			return
		}
		h(w, r)
	}
}

// capturedData is a COMPLETED pre-auth payment holding the given captures.
func capturedData(captures ...map[string]any) map[string]any {
	d := paymentData("COMPLETED")
	d["captures"] = map[string]any{"data": captures}
	return d
}

func captureEntry(id string, amount int64, status string) map[string]any {
	return map[string]any{"merchantCaptureId": id, "amount": map[string]any{"amount": amount, "currency": "JPY"},
		"status": status, "acceptedAt": testNow.Add(time.Hour).Unix(), "orderDescription": "order 7"}
}

func captureRequest() contracts.CaptureRequest {
	return contracts.CaptureRequest{
		PartnerRef: "cap-1", Amount: contracts.Money{Amount: 800, Currency: contracts.JPY}, Description: "order 7", RequestedAt: testNow,
		Payment: contracts.PaymentRef{PartnerRef: "mp-1", PartnerPaymentID: "pp-1", Flow: contracts.FlowBarcode,
			Amount: contracts.Money{Amount: 1200, Currency: contracts.JPY}, Status: contracts.StatusAuthorized},
	}
}

func TestCreatePaymentManualCaptureRequests(t *testing.T) {
	tests := []struct {
		name, query, wantField, noField string
		flow                            contracts.Flow
	}{
		{"barcode", "agreeSimilarTransaction=true", "authorizationCode", "userAuthorizationId", contracts.FlowBarcode},
		{"linked", "agreeSimilarTransaction=false", "userAuthorizationId", "authorizationCode", contracts.FlowLinked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, a := newFake(t, answer(http.StatusOK, "SUCCESS", paymentData("AUTHORIZED")))
			req := barcodeRequest()
			req.CaptureMethod = contracts.CaptureManual
			if tc.flow == contracts.FlowLinked {
				req.Flow, req.Barcode, req.UserAuthorizationID = contracts.FlowLinked, "", "user-ok"
			}
			res := a.CreatePayment(context.Background(), req)
			if res.Outcome != contracts.OutcomeAuthorized || res.PartnerPaymentID != "pp-1" {
				t.Fatalf("result = %+v", res)
			}
			got := f.requests()[0]
			if got.method != http.MethodPost || got.path != "/v2/payments/preauthorize" || got.query != tc.query {
				t.Errorf("sent %s %s?%s", got.method, got.path, got.query)
			}
			if _, ok := got.body[tc.wantField]; !ok {
				t.Errorf("body lacks %s: %v", tc.wantField, got.body)
			}
			if _, ok := got.body[tc.noField]; ok {
				t.Errorf("body has %s: %v", tc.noField, got.body)
			}
			if got.body["merchantPaymentId"] != "mp-1" || got.body["requestedAt"] != float64(testNow.Unix()) {
				t.Errorf("body = %v", got.body)
			}
		})
	}
}

func TestCreateQRManualCaptureAsksForAuthorization(t *testing.T) {
	for _, method := range []contracts.CaptureMethod{"", contracts.CaptureAutomatic, contracts.CaptureManual} {
		f, a := newFake(t, answer(http.StatusCreated, "SUCCESS", map[string]any{"codeId": "c", "url": "u"}))
		req := barcodeRequest()
		req.Flow, req.Barcode, req.CaptureMethod = contracts.FlowQR, "", method
		if res := a.CreatePayment(context.Background(), req); res.Outcome != contracts.OutcomePending {
			t.Fatalf("%q: result %+v", method, res)
		}
		got := f.requests()[0]
		isAuth, present := got.body["isAuthorization"]
		if manual := method == contracts.CaptureManual; present != manual || (manual && isAuth != true) {
			t.Errorf("%q: isAuthorization = %v (present %v)", method, isAuth, present)
		}
	}
}

func TestCreatePaymentUnknownCaptureMethodRefusedLocally(t *testing.T) {
	f, a := newFake(t, answer(http.StatusOK, "SUCCESS", paymentData("COMPLETED")))
	req := barcodeRequest()
	req.CaptureMethod = "eventually"
	if res := a.CreatePayment(context.Background(), req); res.Outcome != contracts.OutcomeFailed {
		t.Errorf("result %+v", res)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests reached PayPay", n)
	}
}

func TestCaptureRequestQueriesFirst(t *testing.T) {
	f, a := newFake(t, routes(t, map[string]func(http.ResponseWriter, *http.Request){
		"GET /v2/payments/mp-1":     answer(200, "SUCCESS", paymentData("AUTHORIZED")),
		"POST /v2/payments/capture": answer(200, "SUCCESS", capturedData(captureEntry("cap-1", 800, "COMPLETED"))),
	}))
	res := a.CapturePayment(context.Background(), captureRequest())
	if res.Outcome != contracts.OutcomeSucceeded || res.PartnerPaymentID != "pp-1" || res.PaidAt == nil ||
		!res.PaidAt.Equal(testNow.Add(time.Hour)) {
		t.Fatalf("result = %+v", res)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].path != "/v2/payments/mp-1" || reqs[1].path != "/v2/payments/capture" {
		t.Fatalf("requests %+v", reqs)
	}
	body := reqs[1].body
	amt, _ := body["amount"].(map[string]any)
	if body["merchantPaymentId"] != "mp-1" || body["merchantCaptureId"] != "cap-1" || body["requestedAt"] != float64(testNow.Unix()) ||
		body["orderDescription"] != "order 7" || amt["amount"] != float64(800) || amt["currency"] != "JPY" {
		t.Errorf("capture body = %v", body)
	}
}

func TestCaptureDescriptionIsAlwaysSent(t *testing.T) {
	f, a := newFake(t, routes(t, map[string]func(http.ResponseWriter, *http.Request){
		"GET /v2/codes/payments/mp-1": answer(200, "SUCCESS", paymentData("AUTHORIZED")),
		"POST /v2/payments/capture":   answer(200, "SUCCESS", capturedData()),
	}))
	req := captureRequest()
	req.Description, req.Payment.Flow = "", contracts.FlowQR
	if res := a.CapturePayment(context.Background(), req); res.Outcome != contracts.OutcomeSucceeded || res.PaidAt != nil {
		t.Fatalf("result = %+v", res)
	}
	if body := f.requests()[1].body; body["orderDescription"] != "mp-1" {
		t.Errorf("orderDescription = %v", body["orderDescription"])
	}
}

// TestCaptureOutcomes: every capture answer → Outcome and failure code, after a lookup that
// PayPay answered without this capture.
func TestCaptureOutcomes(t *testing.T) {
	tests := []struct {
		status  int
		code    string
		data    any
		outcome contracts.Outcome
		failure string
		msg     string
	}{
		{200, "SUCCESS", capturedData(captureEntry("cap-1", 800, "COMPLETED")), contracts.OutcomeSucceeded, "", ""},
		{200, "SUCCESS", capturedData(), contracts.OutcomeSucceeded, "", ""},
		{200, "SUCCESS", capturedData(captureEntry("cap-1", 900, "COMPLETED")), contracts.OutcomeUnknown, "", "different capture"},
		{200, "SUCCESS", capturedData(captureEntry("cap-9", 800, "COMPLETED")), contracts.OutcomeUnknown, "", "no capture cap-1"},
		{200, "SUCCESS", capturedData(captureEntry("cap-1", 800, "USER_REQUESTED")), contracts.OutcomeUnknown, "", "approval"},
		{200, "SUCCESS", paymentData("AUTHORIZED"), contracts.OutcomeUnknown, "", "not COMPLETED"},
		{200, "SUCCESS", nil, contracts.OutcomeUnknown, "", "unreadable"},
		{202, "USER_CONFIRMATION_REQUIRED", paymentData("AUTHORIZED"), contracts.OutcomeUnknown, "", "USER_CONFIRMATION_REQUIRED"},
		{400, "ORDER_NOT_CAPTURABLE", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected, ""},
		{400, "ALREADY_CAPTURED", nil, contracts.OutcomeUnknown, "", "already captured"},
		{400, "ORDER_EXPIRED", nil, contracts.OutcomeFailed, contracts.FailureExpired, ""},
		{400, "HIGHER_CAPTURE_NOT_PERMITTED", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected, ""},
		{400, "NO_SUFFICIENT_FUND", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected, ""},
		{400, "UNACCEPTABLE_OP", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected, ""},
		{400, "REAUTHORIZATION_IN_PROGRESS", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected, ""},
		{404, "RESOURCE_NOT_FOUND", nil, contracts.OutcomeFailed, contracts.FailurePartnerRejected, ""},
		{400, "CAPTURE_OF_THE_FUTURE", nil, contracts.OutcomeUnknown, "", ""},
		{429, "RATE_LIMIT", nil, contracts.OutcomeUnknown, "", ""},
		{500, "INTERNAL_SERVER_ERROR", nil, contracts.OutcomeUnknown, "", ""},
		{503, "MAINTENANCE_MODE", nil, contracts.OutcomeUnknown, "", ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d_%s", tc.status, tc.code), func(t *testing.T) {
			_, a := newFake(t, routes(t, map[string]func(http.ResponseWriter, *http.Request){
				"GET /v2/payments/mp-1":     answer(200, "SUCCESS", paymentData("AUTHORIZED")),
				"POST /v2/payments/capture": answer(tc.status, tc.code, tc.data),
			}))
			res := a.CapturePayment(context.Background(), captureRequest())
			if res.Outcome != tc.outcome || res.FailureCode != tc.failure || !strings.Contains(res.FailureMessage, tc.msg) {
				t.Fatalf("result %+v, want %q %q with %q", res, tc.outcome, tc.failure, tc.msg)
			}
			if res.PartnerCode != tc.code {
				t.Errorf("PartnerCode = %q", res.PartnerCode)
			}
		})
	}
}

// TestCaptureAfterLostAnswer: a capture repeated with the same merchantCaptureId after its
// answer was lost is found by the lookup and not sent again.
func TestCaptureAfterLostAnswer(t *testing.T) {
	tests := []struct {
		name    string
		entry   map[string]any
		outcome contracts.Outcome
	}{
		{"same capture", captureEntry("cap-1", 800, "COMPLETED"), contracts.OutcomeSucceeded},
		{"id reused for another amount", captureEntry("cap-1", 1200, "COMPLETED"), contracts.OutcomeUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, a := newFake(t, routes(t, map[string]func(http.ResponseWriter, *http.Request){
				"GET /v2/payments/mp-1": answer(200, "SUCCESS", capturedData(tc.entry)),
			}))
			if res := a.CapturePayment(context.Background(), captureRequest()); res.Outcome != tc.outcome {
				t.Fatalf("result %+v, want %q", res, tc.outcome)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("%d requests, want the lookup only", n)
			}
		})
	}
}

// TestCaptureRefusalWithoutLookup: when the lookup failed, a refusal that an earlier,
// successful capture with the same id would also cause is not definite.
func TestCaptureRefusalWithoutLookup(t *testing.T) {
	tests := []struct {
		lookup  func(http.ResponseWriter, *http.Request)
		code    string
		outcome contracts.Outcome
	}{
		{answer(503, "MAINTENANCE_MODE", nil), "ALREADY_CAPTURED", contracts.OutcomeUnknown},
		{answer(503, "MAINTENANCE_MODE", nil), "ORDER_NOT_CAPTURABLE", contracts.OutcomeUnknown},
		{answer(503, "MAINTENANCE_MODE", nil), "ORDER_EXPIRED", contracts.OutcomeFailed},
		{answer(200, "SUCCESS", nil), "ALREADY_CAPTURED", contracts.OutcomeUnknown},
		{answer(404, "RESOURCE_NOT_FOUND", nil), "ORDER_NOT_CAPTURABLE", contracts.OutcomeFailed},
		{answer(200, "SUCCESS", capturedData(captureEntry("cap-0", 1200, "COMPLETED"))), "ALREADY_CAPTURED", contracts.OutcomeUnknown},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%d_%s", i, tc.code), func(t *testing.T) {
			_, a := newFake(t, routes(t, map[string]func(http.ResponseWriter, *http.Request){
				"GET /v2/payments/mp-1":     tc.lookup,
				"POST /v2/payments/capture": answer(400, tc.code, nil),
			}))
			if res := a.CapturePayment(context.Background(), captureRequest()); res.Outcome != tc.outcome {
				t.Fatalf("result %+v, want %q", res, tc.outcome)
			}
		})
	}
}

func TestCaptureRefusedLocally(t *testing.T) {
	f, a := newFake(t, answer(200, "SUCCESS", capturedData()))
	for name, mutate := range map[string]func(*contracts.CaptureRequest){
		"no capture id":        func(r *contracts.CaptureRequest) { r.PartnerRef = "" },
		"capture id too long":  func(r *contracts.CaptureRequest) { r.PartnerRef = strings.Repeat("c", 65) },
		"capture id charset":   func(r *contracts.CaptureRequest) { r.PartnerRef = "cap/1" },
		"no payment ref":       func(r *contracts.CaptureRequest) { r.Payment.PartnerRef = "" },
		"zero amount":          func(r *contracts.CaptureRequest) { r.Amount.Amount = 0 },
		"above the authorized": func(r *contracts.CaptureRequest) { r.Amount.Amount = 1201 },
	} {
		req := captureRequest()
		mutate(&req)
		if res := a.CapturePayment(context.Background(), req); res.Outcome != contracts.OutcomeFailed || res.FailureCode == "" {
			t.Errorf("%s: result = %+v", name, res)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests reached PayPay", n)
	}
}

func authorizedRef() contracts.PaymentRef {
	return contracts.PaymentRef{PartnerRef: "mp-1", PartnerPaymentID: "pp-1", Flow: contracts.FlowLinked,
		Amount: contracts.Money{Amount: 1200, Currency: contracts.JPY}, Status: contracts.StatusAuthorized}
}

func revertData(status string) map[string]any {
	return map[string]any{"status": status, "acceptedAt": testNow.Unix(), "paymentId": "pp-1", "requestedAt": testNow.Unix()}
}

func TestRevertRequest(t *testing.T) {
	f, a := newFake(t, routes(t, map[string]func(http.ResponseWriter, *http.Request){
		"POST /v2/payments/preauthorize/revert": answer(200, "SUCCESS", revertData("CANCELED")),
	}))
	if res := a.CancelPayment(context.Background(), authorizedRef()); res.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("result %+v", res)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests %+v", reqs)
	}
	body := reqs[0].body
	if body["merchantRevertId"] != "mp-1_revert" || body["paymentId"] != "pp-1" || body["requestedAt"] != float64(testNow.Unix()) ||
		body["reason"] == "" {
		t.Errorf("revert body = %v", body)
	}
}

func TestRevertOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		revert  func(http.ResponseWriter, *http.Request)
		lookup  func(http.ResponseWriter, *http.Request)
		outcome contracts.Outcome
	}{
		{"canceled", answer(200, "SUCCESS", revertData("CANCELED")), nil, contracts.OutcomeSucceeded},
		{"other status", answer(200, "SUCCESS", revertData("AUTHORIZED")), nil, contracts.OutcomeUnknown},
		{"no data", answer(200, "SUCCESS", nil), nil, contracts.OutcomeUnknown},
		{"not cancelable, captured", answer(400, "ORDER_NOT_CANCELABLE", nil), answer(200, "SUCCESS", paymentData("COMPLETED")), contracts.OutcomeFailed},
		{"not cancelable, already reverted", answer(400, "ORDER_NOT_CANCELABLE", nil), answer(200, "SUCCESS", paymentData("CANCELED")), contracts.OutcomeSucceeded},
		{"not cancelable, lookup fails", answer(400, "ORDER_NOT_CANCELABLE", nil), answer(503, "MAINTENANCE_MODE", nil), contracts.OutcomeUnknown},
		{"not found", answer(404, "RESOURCE_NOT_FOUND", nil), nil, contracts.OutcomeFailed},
		{"unrecognised", answer(400, "REVERT_OF_THE_FUTURE", nil), nil, contracts.OutcomeUnknown},
		{"internal", answer(500, "INTERNAL_SERVER_ERROR", nil), nil, contracts.OutcomeUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]func(http.ResponseWriter, *http.Request){"POST /v2/payments/preauthorize/revert": tc.revert}
			if tc.lookup != nil {
				h["GET /v2/payments/mp-1"] = tc.lookup
			}
			_, a := newFake(t, routes(t, h))
			if res := a.CancelPayment(context.Background(), authorizedRef()); res.Outcome != tc.outcome {
				t.Fatalf("result %+v, want %q", res, tc.outcome)
			}
		})
	}
}

func TestRevertLearnsPaymentID(t *testing.T) {
	f, a := newFake(t, routes(t, map[string]func(http.ResponseWriter, *http.Request){
		"GET /v2/codes/payments/mp-1":           answer(200, "SUCCESS", paymentData("AUTHORIZED")),
		"POST /v2/payments/preauthorize/revert": answer(200, "SUCCESS", revertData("CANCELED")),
	}))
	ref := authorizedRef()
	ref.PartnerPaymentID, ref.Flow = "", contracts.FlowQR
	if res := a.CancelPayment(context.Background(), ref); res.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("result %+v", res)
	}
	if reqs := f.requests(); len(reqs) != 2 || reqs[1].body["paymentId"] != "pp-1" {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestRevertNotSentWithoutPaymentID(t *testing.T) {
	for _, lookup := range []func(http.ResponseWriter, *http.Request){
		answer(503, "MAINTENANCE_MODE", nil), answer(404, "RESOURCE_NOT_FOUND", nil),
	} {
		f, a := newFake(t, lookup)
		ref := authorizedRef()
		ref.PartnerPaymentID = ""
		if res := a.CancelPayment(context.Background(), ref); res.Outcome != contracts.OutcomeUnknown || !strings.Contains(res.Message, "no revert was sent") {
			t.Errorf("result %+v", res)
		}
		for _, s := range f.requests() {
			if s.method != http.MethodGet {
				t.Errorf("sent %s %s without a paymentId", s.method, s.path)
			}
		}
	}
}

func TestRevertID(t *testing.T) {
	if got := revertID("pay_01ABC_1"); got != "pay_01ABC_1_revert" {
		t.Errorf("revertID = %q", got)
	}
	long := strings.Repeat("p", 64)
	a, b := revertID(long), revertID(long[:63]+"q")
	if !merchantIDPattern.MatchString(a) || a == b || a != revertID(long) {
		t.Errorf("long ids: %q, %q", a, b)
	}
}

// TestCaptureAndRevertTimeoutsAreUnknown: no answer leaves a capture and a revert unknown.
func TestCaptureAndRevertTimeoutsAreUnknown(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.WriteHeader(200)
			_ = json.NewEncoder(w).Encode(map[string]any{"resultInfo": map[string]any{"code": "SUCCESS"}, "data": paymentData("AUTHORIZED")})
			return
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	a, err := New(Config{BaseURL: srv.URL, APIKey: testKey, APISecret: testSecret, MerchantID: testMerchant,
		Timeouts: Timeouts{ValueMoving: 50 * time.Millisecond, Read: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if res := a.CapturePayment(context.Background(), captureRequest()); res.Outcome != contracts.OutcomeUnknown || !strings.Contains(res.FailureMessage, "timeout") {
		t.Errorf("capture: %+v", res)
	}
	if res := a.CancelPayment(context.Background(), authorizedRef()); res.Outcome != contracts.OutcomeUnknown {
		t.Errorf("revert: %+v", res)
	}
}

// TestGetPaymentSaysWhatWasTaken: a completed payment reports its amount; a captured
// pre-authorization (whose amount stays the authorized one) the sum of its captures, so a
// capture whose answer was lost is recorded with what PayPay took.
func TestGetPaymentSaysWhatWasTaken(t *testing.T) {
	for name, c := range map[string]struct {
		data any
		want int64
	}{
		"payment":  {paymentData("COMPLETED"), 1200},
		"captured": {capturedData(captureEntry("cap-1", 800, "COMPLETED")), 800},
		"refunded": {paymentData("REFUNDED"), 1200},
	} {
		t.Run(name, func(t *testing.T) {
			_, a := newFake(t, answer(200, "SUCCESS", c.data))
			res := a.GetPayment(context.Background(), contracts.PaymentRef{PartnerRef: "mp-1", Flow: contracts.FlowBarcode})
			if res.Outcome != contracts.OutcomeSucceeded || res.AmountCaptured != c.want {
				t.Fatalf("result %+v; want succeeded with %d taken", res, c.want)
			}
		})
	}
}
