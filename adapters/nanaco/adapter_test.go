package nanaco

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
)

func TestNewValidatesConfig(t *testing.T) {
	good := Config{BaseURL: "http://127.0.0.1:7104", MerchantID: "M0001", Secret: "s"}
	for name, mutate := range map[string]func(*Config){
		"BaseURL":      func(c *Config) { c.BaseURL = "" },
		"relative URL": func(c *Config) { c.BaseURL = "/ncs/v1" },
		"query":        func(c *Config) { c.BaseURL = "http://h/?a=b" },
		"ftp":          func(c *Config) { c.BaseURL = "ftp://h" },
		"MerchantID":   func(c *Config) { c.MerchantID = "" },
		"odd merchant": func(c *Config) { c.MerchantID = "M 1\n" },
		"Secret":       func(c *Config) { c.Secret = " " },
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
	if a.Method() != contracts.MethodNanaco {
		t.Errorf("Method = %q", a.Method())
	}
	want := Timeouts{Pay: DefaultPayTimeout, Cancel: DefaultCancelTimeout, Refund: DefaultRefundTimeout, Value: DefaultValueTimeout, Read: DefaultReadTimeout}
	if a.cfg.Timeouts != want {
		t.Errorf("timeouts %+v, want %+v", a.cfg.Timeouts, want)
	}
}

func TestCapabilities(t *testing.T) {
	a, _ := New(Config{BaseURL: "http://127.0.0.1:7104", MerchantID: "M0001", Secret: "s"})
	c := a.Capabilities()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.Takes(contracts.JPY) || len(c.Currencies) != 1 || c.MaxAmount[contracts.JPY] != 50_000 || c.StepOf(contracts.JPY) != 1 {
		t.Errorf("currencies/cap/step: %+v", c)
	}
	if !c.Supports(contracts.FlowBarcode) || !c.Supports(contracts.FlowCardPresent) || len(c.Flows) != 2 {
		t.Errorf("flows %v", c.Flows)
	}
	if c.SerialRefunds || c.ManualCapture || c.CardToken || c.Sequenced == nil || c.Sequenced.MaxSeq != 499_999 {
		t.Errorf("flags: %+v (sequenced %+v)", c, c.Sequenced)
	}
}

func TestCreatePaymentWire(t *testing.T) {
	f, a := newFake(t, map[string]handler{"/ncs/v1/payments": signed(200, approvedPayment(42, 500, 500, "APPROVED"))})
	res := a.CreatePayment(context.Background(), barcodePay(42, 500))
	if res.Outcome != contracts.OutcomeSucceeded || res.PartnerPaymentID != testTxn || res.AmountCaptured != 500 ||
		res.AmountReceived != 0 || res.PartnerCode != "APPROVED" || res.PaidAt == nil {
		t.Fatalf("result %+v", res)
	}
	got := f.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	want := `{"terminalSeq":42,"businessDate":"20261128","nanacoNumber":"7000000000000001","amount":500,"merchantRef":"store-1_till-1.20261128.000042"}`
	if got[0].body != want {
		t.Errorf("body\n%s\nwant\n%s", got[0].body, want)
	}
	if h := got[0].header.Get(headerTerminalID); h != testTerminal {
		t.Errorf("NCS-Terminal-Id %q", h)
	}
}

func TestCardPresentWire(t *testing.T) {
	f, a := newFake(t, map[string]handler{"/ncs/v1/payments": signed(200, approvedPayment(7, 300, 500, "PENDING_CONFIRMATION"))})
	req := barcodePay(7, 500)
	req.Flow, req.Barcode, req.AllowPartial = contracts.FlowCardPresent, "", true
	req.Card = &contracts.PresentedCard{Number: testNumber, IDm: "0114abcdef000001"}
	res := a.CreatePayment(context.Background(), req)
	if res.Outcome != contracts.OutcomeSucceeded || res.AmountReceived != 300 || res.AmountCaptured != 300 || res.PartnerCode != "PENDING_CONFIRMATION" {
		t.Fatalf("result %+v", res)
	}
	want := `{"terminalSeq":7,"businessDate":"20261128","nanacoNumber":"7000000000000001","idm":"0114ABCDEF000001","amount":500,"allowPartial":true,"merchantRef":"store-1_till-1.20261128.000007"}`
	if b := f.requests()[0].body; b != want {
		t.Errorf("body\n%s\nwant\n%s", b, want)
	}
}

// A retry of the same request sends byte-identical bodies under the same key, each with
// its own nonce (§B2, §B3).
func TestRetrySendsIdenticalBytes(t *testing.T) {
	f, a := newFake(t, map[string]handler{"/ncs/v1/payments": sequence(
		signed(500, ncsErr("INTERNAL", "UNKNOWN", "")),
		replayed(approvedPayment(42, 500, 500, "APPROVED")),
	)})
	req := barcodePay(42, 500)
	if res := a.CreatePayment(context.Background(), req); res.Outcome != contracts.OutcomeUnknown {
		t.Fatalf("first: %+v", res)
	}
	if res := a.CreatePayment(context.Background(), req); res.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("retry: %+v", res)
	}
	got := f.requests()
	if len(got) != 2 || got[0].body != got[1].body {
		t.Fatalf("bodies differ: %+v", got)
	}
	if got[0].header.Get(headerNonce) == got[1].header.Get(headerNonce) {
		t.Error("the retry reused the nonce")
	}
}

func TestUntrustedAnswersAreUnknown(t *testing.T) {
	good := approvedPayment(42, 500, 500, "APPROVED")
	for name, h := range map[string]handler{
		"tampered body":       tampered(good, strings.Replace(good, `"amount":500`, `"amount":50`, 1)),
		"tampered failure":    tampered(good, ncsErr("INSUFFICIENT_BALANCE", "NOT_PROCESSED", "")),
		"missing signature":   unsigned(200, good),
		"unsigned refusal":    unsigned(422, ncsErr("INSUFFICIENT_BALANCE", "NOT_PROCESSED", "")),
		"unsigned 401":        unsigned(401, ncsErr("AUTH_FAILED", "NOT_PROCESSED", "")),
		"truncated body":      truncated(good),
		"500":                 signed(500, ncsErr("INTERNAL", "UNKNOWN", "")),
		"500 not processed":   signed(500, ncsErr("INTERNAL", "NOT_PROCESSED", "")),
		"502 unsigned":        unsigned(502, "bad gateway"),
		"504":                 signed(504, ncsErr("UPSTREAM_TIMEOUT", "UNKNOWN", "")),
		"422 outcome UNKNOWN": signed(422, ncsErr("INSUFFICIENT_BALANCE", "UNKNOWN", "")),
		"unreadable error":    signed(422, `{"error":"no"}`),
		"html 200":            signed(200, `<html>ok</html>`),
		"200 without id":      signed(200, `{"status":"APPROVED","amount":500}`),
		"200 other status":    signed(200, strings.Replace(good, "APPROVED", "IN_PROGRESS", 1)),
		"200 other key":       signed(200, strings.Replace(good, `"terminalSeq":42`, `"terminalSeq":43`, 1)),
		"200 other amount":    signed(200, approvedPayment(42, 400, 500, "APPROVED")),
		"200 other type":      signed(200, strings.Replace(good, `"PAYMENT"`, `"REFUND"`, 1)),
		"200 float amount":    signed(200, strings.Replace(good, `"amount":500`, `"amount":500.5`, 1)),
		"timeout":             hang,
		"reset":               reset,
	} {
		t.Run(name, func(t *testing.T) {
			_, a := newFake(t, map[string]handler{"/ncs/v1/payments": h})
			a.cfg.Timeouts.Pay = 300 * time.Millisecond
			res := a.CreatePayment(context.Background(), barcodePay(42, 500))
			if res.Outcome != contracts.OutcomeUnknown {
				t.Fatalf("outcome %q, want unknown (%+v)", res.Outcome, res)
			}
			if res.FailureMessage == "" {
				t.Error("no message")
			}
		})
	}
}

func TestPaymentRefusals(t *testing.T) {
	for _, c := range []struct {
		status      int
		code        string
		failureCode string
	}{
		{422, "INSUFFICIENT_BALANCE", FailureInsufficientBalance},
		{422, "CARD_SUSPENDED", FailureCardSuspended},
		{422, "CARD_LOST", FailureCardLost},
		{422, "CARD_MIGRATED", FailureCardMigrated},
		{422, "CARD_CLOSED", FailureCardClosed},
		{422, "BALANCE_CAP_EXCEEDED", FailureBalanceCapExceeded},
		{422, "CAP_EXCEEDED", FailureBalanceCapExceeded},
		{422, "CHARGE_LIMIT_EXCEEDED", FailureChargeLimitExceeded},
		{404, "CARD_NOT_FOUND", FailureCardNotFound},
		{422, "REFUND_WINDOW_EXPIRED", FailureRefundWindowExpired},
		{422, "REFUND_EXCEEDS_ORIGINAL", FailureRefundExceedsOriginal},
		{409, "SEQ_FENCED", FailureNotProcessed},
		{409, "SEQ_REUSED", FailurePartnerConfig},
		{401, "AUTH_FAILED", FailurePartnerConfig},
		{401, "SIGNATURE_INVALID", FailurePartnerConfig},
		{401, "TIMESTAMP_SKEW", FailurePartnerConfig},
		{401, "NONCE_REUSED", FailurePartnerConfig},
		{403, "TERMINAL_NOT_ALLOWED", FailurePartnerConfig},
		{400, "INVALID_REQUEST", FailurePartnerConfig},
		{400, "AMOUNT_INVALID", contracts.FailurePartnerRejected},
		{400, "BUSINESS_DATE_INVALID", contracts.FailurePartnerRejected},
		{422, "SOMETHING_NEW", contracts.FailurePartnerRejected},
		{429, "RATE_LIMITED", contracts.FailurePartnerUnavailable},
		{503, "CENTER_MAINTENANCE", contracts.FailurePartnerUnavailable},
	} {
		t.Run(c.code, func(t *testing.T) {
			_, a := newFake(t, map[string]handler{"/ncs/v1/payments": errReply(c.status, c.code)})
			res := a.CreatePayment(context.Background(), barcodePay(42, 500))
			if res.Outcome != contracts.OutcomeFailed || res.FailureCode != c.failureCode || res.PartnerCode != c.code {
				t.Fatalf("%+v, want failed %s", res, c.failureCode)
			}
		})
	}
}

func TestInsufficientBalanceSaysBalance(t *testing.T) {
	_, a := newFake(t, map[string]handler{"/ncs/v1/payments": signed(422, ncsErr("INSUFFICIENT_BALANCE", "NOT_PROCESSED", `{"balance":120,"note":"x"}`))})
	res := a.CreatePayment(context.Background(), barcodePay(42, 500))
	if res.FailureCode != FailureInsufficientBalance || !strings.Contains(res.FailureMessage, "¥120") {
		t.Fatalf("%+v", res)
	}
}

func TestRefusedWithoutCall(t *testing.T) {
	f, a := newFake(t, map[string]handler{})
	card := func(c contracts.PresentedCard) contracts.PaymentRequest {
		r := barcodePay(1, 500)
		r.Flow, r.Barcode, r.Card = contracts.FlowCardPresent, "", &c
		return r
	}
	for name, c := range map[string]struct {
		req  contracts.PaymentRequest
		code string
	}{
		"unparseable ref":  {func() contracts.PaymentRequest { r := barcodePay(1, 500); r.PartnerRef = "pay_01J-1"; return r }(), FailurePartnerConfig},
		"seq above MaxSeq": {barcodePay(500_000, 500), FailurePartnerConfig},
		"THB":              {func() contracts.PaymentRequest { r := barcodePay(1, 500); r.Amount.Currency = contracts.THB; return r }(), contracts.FailurePartnerRejected},
		"zero":             {barcodePay(1, 0), contracts.FailurePartnerRejected},
		"manual capture": {func() contracts.PaymentRequest {
			r := barcodePay(1, 500)
			r.CaptureMethod = contracts.CaptureManual
			return r
		}(), contracts.FailurePartnerRejected},
		"barcode not 7": {func() contracts.PaymentRequest { r := barcodePay(1, 500); r.Barcode = "1000000000000001"; return r }(), contracts.FailureBarcodeInvalid},
		"barcode short": {func() contracts.PaymentRequest { r := barcodePay(1, 500); r.Barcode = "70000001"; return r }(), contracts.FailureBarcodeInvalid},
		"no card":       {func() contracts.PaymentRequest { r := card(contracts.PresentedCard{}); r.Card = nil; return r }(), FailureCardNotFound},
		"empty card":    {card(contracts.PresentedCard{}), FailureCardNotFound},
		"bad IDm":       {card(contracts.PresentedCard{IDm: "xyz"}), FailureCardNotFound},
		"bad number":    {card(contracts.PresentedCard{Number: "12"}), FailureCardNotFound},
		"qr":            {func() contracts.PaymentRequest { r := barcodePay(1, 500); r.Flow = contracts.FlowQR; return r }(), contracts.FailurePartnerRejected},
	} {
		res := a.CreatePayment(context.Background(), c.req)
		if res.Outcome != contracts.OutcomeFailed || res.FailureCode != c.code || res.FailureMessage == "" {
			t.Errorf("%s: %+v, want failed %s", name, res, c.code)
		}
	}
	if res := a.CapturePayment(context.Background(), contracts.CaptureRequest{}); res.Outcome != contracts.OutcomeFailed {
		t.Errorf("capture: %+v", res)
	}
	if res := a.GetPayment(context.Background(), contracts.PaymentRef{PartnerRef: "nope"}); res.Outcome != contracts.OutcomeFailed {
		t.Errorf("get of an unparseable ref: %+v", res)
	}
	if res := a.CancelPayment(context.Background(), contracts.PaymentRef{PartnerRef: "nope"}); res.Outcome != contracts.OutcomeFailed {
		t.Errorf("cancel of an unparseable ref: %+v", res)
	}
	if res := a.Refund(context.Background(), contracts.RefundRequest{PartnerRef: "nope", Amount: yen(1)}); res.Outcome != contracts.OutcomeFailed {
		t.Errorf("refund of an unparseable ref: %+v", res)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// inquiryAnswer is a found /transactions/inquiry answer.
func inquiryAnswer(typ, status string, amount, requested int) string {
	b, _ := json.Marshal(map[string]any{"found": true, "type": typ, "status": status, "centerTxnId": testTxn,
		"amount": amount, "requestedAmount": requested, "refundedAmount": 0,
		"original": map[string]any{"processedAt": "2026-11-28T10:15:31+09:00"}})
	return string(b)
}

func TestGetPayment(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       contracts.Outcome
		failure    string
		received   int64
	}{
		{"not found", `{"found":false}`, contracts.OutcomeFailed, FailureNotProcessed, 0},
		{"approved", inquiryAnswer("PAYMENT", "APPROVED", 500, 500), contracts.OutcomeSucceeded, "", 0},
		{"partial", inquiryAnswer("PAYMENT", "APPROVED", 300, 500), contracts.OutcomeSucceeded, "", 300},
		{"pending", inquiryAnswer("PAYMENT", "PENDING_CONFIRMATION", 500, 500), contracts.OutcomeSucceeded, "", 0},
		{"refunded", inquiryAnswer("PAYMENT", "REFUNDED", 500, 500), contracts.OutcomeSucceeded, "", 0},
		{"refunded partial", inquiryAnswer("PAYMENT", "REFUNDED_PARTIAL", 500, 500), contracts.OutcomeSucceeded, "", 0},
		{"reversed", inquiryAnswer("PAYMENT", "REVERSED", 500, 500), contracts.OutcomeFailed, FailureChipWriteFailed, 0},
		{"cancelled", inquiryAnswer("PAYMENT", "CANCELLED", 500, 500), contracts.OutcomeCanceled, "", 0},
		{"in progress", inquiryAnswer("PAYMENT", "IN_PROGRESS", 500, 500), contracts.OutcomeUnknown, "", 0},
		{"other type", inquiryAnswer("REFUND", "APPROVED", 500, 500), contracts.OutcomeUnknown, "", 0},
		{"odd status", inquiryAnswer("PAYMENT", "WHAT", 500, 500), contracts.OutcomeUnknown, "", 0},
		{"no found", `{"type":"PAYMENT"}`, contracts.OutcomeUnknown, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, a := newFake(t, map[string]handler{"/ncs/v1/transactions/inquiry": signed(200, c.body)})
			res := a.GetPayment(context.Background(), contracts.PaymentRef{PartnerRef: ref(42), Flow: contracts.FlowBarcode, Amount: yen(500)})
			if res.Outcome != c.want || res.FailureCode != c.failure || res.AmountReceived != c.received {
				t.Fatalf("%+v, want %s %s received %d", res, c.want, c.failure, c.received)
			}
			if c.want == contracts.OutcomeSucceeded && res.PartnerPaymentID != testTxn {
				t.Errorf("PartnerPaymentID %q", res.PartnerPaymentID)
			}
			if b := f.requests()[0].body; b != `{"businessDate":"20261128","terminalSeq":42}` {
				t.Errorf("inquiry body %s", b)
			}
		})
	}
	t.Run("another payment under the key", func(t *testing.T) {
		_, a := newFake(t, map[string]handler{"/ncs/v1/transactions/inquiry": signed(200, inquiryAnswer("PAYMENT", "APPROVED", 500, 500))})
		res := a.GetPayment(context.Background(), contracts.PaymentRef{PartnerRef: ref(42), PartnerPaymentID: "NC000000000000000009"})
		if res.Outcome != contracts.OutcomeUnknown {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("query refused", func(t *testing.T) {
		_, a := newFake(t, map[string]handler{"/ncs/v1/transactions/inquiry": errReply(401, "SIGNATURE_INVALID")})
		if res := a.GetPayment(context.Background(), contracts.PaymentRef{PartnerRef: ref(42)}); res.Outcome != contracts.OutcomeUnknown {
			t.Fatalf("%+v", res)
		}
	})
}

func cancelAnswer(seq int) string {
	return `{"centerTxnId":"NC000000000000000002","type":"PAYMENT_CANCEL","status":"APPROVED","amount":500,"businessDate":"20261128",` +
		`"terminalId":"` + testTerminal + `","terminalSeq":` + itoa(seq) + `,"originalTxnId":"` + testTxn + `","balanceAfter":10000,"centerHeldAfter":0,"pointsReversed":0}`
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestCancelPayment(t *testing.T) {
	paid := contracts.PaymentRef{PartnerRef: ref(42), PartnerPaymentID: testTxn, Flow: contracts.FlowBarcode, Amount: yen(500), Status: contracts.StatusSucceeded}
	t.Run("accepted, and a retry is identical", func(t *testing.T) {
		f, a := newFake(t, map[string]handler{"/ncs/v1/payments/cancel": sequence(signed(200, cancelAnswer(500_042)), replayed(cancelAnswer(500_042)))})
		for range 2 {
			if res := a.CancelPayment(context.Background(), paid); res.Outcome != contracts.OutcomeSucceeded {
				t.Fatalf("%+v", res)
			}
		}
		got := f.requests()
		want := `{"terminalSeq":500042,"businessDate":"20261128","originalTxnId":"` + testTxn + `","merchantRef":"store-1_till-1.20261128.500042"}`
		if got[0].body != want || got[1].body != want {
			t.Errorf("bodies\n%s\n%s\nwant\n%s", got[0].body, got[1].body, want)
		}
		if got[0].header.Get(headerTerminalID) != testTerminal {
			t.Errorf("terminal %q", got[0].header.Get(headerTerminalID))
		}
	})
	for _, c := range []struct {
		code string
		want contracts.Outcome
	}{
		{"CANCEL_WINDOW_EXPIRED", contracts.OutcomeWindowPassed},
		{"CANCEL_NOT_SUPPORTED", contracts.OutcomeWindowPassed},
		{"TERMINAL_MISMATCH", contracts.OutcomeWindowPassed},
		{"ALREADY_REFUNDED", contracts.OutcomeWindowPassed},
		{"ALREADY_CANCELLED", contracts.OutcomeSucceeded},
		{"CAP_EXCEEDED", contracts.OutcomeFailed},
		{"TXN_NOT_FOUND", contracts.OutcomeFailed},
		{"RATE_LIMITED", contracts.OutcomeFailed},
		{"BUSINESS_DATE_INVALID", contracts.OutcomeWindowPassed},
	} {
		t.Run(c.code, func(t *testing.T) {
			status := map[string]int{"BUSINESS_DATE_INVALID": 400, "TXN_NOT_FOUND": 404, "RATE_LIMITED": 429, "ALREADY_CANCELLED": 409, "ALREADY_REFUNDED": 409}[c.code]
			if status == 0 {
				status = 422
			}
			_, a := newFake(t, map[string]handler{"/ncs/v1/payments/cancel": errReply(status, c.code)})
			if res := a.CancelPayment(context.Background(), paid); res.Outcome != c.want || res.PartnerCode != c.code {
				t.Fatalf("%+v, want %s", res, c.want)
			}
		})
	}
	t.Run("500", func(t *testing.T) {
		_, a := newFake(t, map[string]handler{"/ncs/v1/payments/cancel": signed(500, ncsErr("INTERNAL", "UNKNOWN", ""))})
		if res := a.CancelPayment(context.Background(), paid); res.Outcome != contracts.OutcomeUnknown {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("lost answer: inquire first", func(t *testing.T) {
		f, a := newFake(t, map[string]handler{
			"/ncs/v1/transactions/inquiry": signed(200, inquiryAnswer("PAYMENT", "APPROVED", 500, 500)),
			"/ncs/v1/payments/cancel":      signed(200, cancelAnswer(500_042)),
		})
		lost := paid
		lost.PartnerPaymentID = ""
		if res := a.CancelPayment(context.Background(), lost); res.Outcome != contracts.OutcomeSucceeded {
			t.Fatalf("%+v", res)
		}
		got := f.requests()
		if len(got) != 2 || !strings.Contains(got[1].body, testTxn) {
			t.Fatalf("requests %+v", got)
		}
	})
	for name, body := range map[string]string{
		"never happened": `{"found":false}`,
		"cancelled":      inquiryAnswer("PAYMENT", "CANCELLED", 500, 500),
		"reversed":       inquiryAnswer("PAYMENT", "REVERSED", 500, 500),
	} {
		t.Run("nothing to cancel: "+name, func(t *testing.T) {
			f, a := newFake(t, map[string]handler{"/ncs/v1/transactions/inquiry": signed(200, body)})
			lost := paid
			lost.PartnerPaymentID = ""
			if res := a.CancelPayment(context.Background(), lost); res.Outcome != contracts.OutcomeSucceeded {
				t.Fatalf("%+v", res)
			}
			if n := len(f.requests()); n != 1 {
				t.Fatalf("%d requests, want the inquiry only", n)
			}
		})
	}
	t.Run("inquiry in progress", func(t *testing.T) {
		_, a := newFake(t, map[string]handler{"/ncs/v1/transactions/inquiry": signed(200, inquiryAnswer("PAYMENT", "IN_PROGRESS", 500, 500))})
		lost := paid
		lost.PartnerPaymentID = ""
		if res := a.CancelPayment(context.Background(), lost); res.Outcome != contracts.OutcomeUnknown {
			t.Fatalf("%+v", res)
		}
	})
}

func refundAnswer(seq, amount int) string {
	return `{"centerTxnId":"NC000000000000000003","type":"REFUND","status":"APPROVED","amount":` + itoa(amount) + `,"businessDate":"20261128",` +
		`"terminalId":"` + testTerminal + `","terminalSeq":` + itoa(seq) + `,"originalTxnId":"` + testTxn + `","creditedTo":"BALANCE","balanceAfter":9700}`
}

func TestRefund(t *testing.T) {
	req := contracts.RefundRequest{PartnerRef: ref(43), Amount: yen(200), Reason: " returned\tgoods\n",
		Payment: contracts.PaymentRef{PartnerRef: ref(42), PartnerPaymentID: testTxn, Amount: yen(500)}}
	t.Run("accepted", func(t *testing.T) {
		f, a := newFake(t, map[string]handler{"/ncs/v1/refunds": signed(200, refundAnswer(43, 200))})
		res := a.Refund(context.Background(), req)
		if res.Outcome != contracts.OutcomeSucceeded || res.PartnerRefundID != "NC000000000000000003" {
			t.Fatalf("%+v", res)
		}
		want := `{"terminalSeq":43,"businessDate":"20261128","originalTxnId":"` + testTxn + `","amount":200,"reason":"returned goods","merchantRef":"store-1_till-1.20261128.000043"}`
		if b := f.requests()[0].body; b != want {
			t.Errorf("body\n%s\nwant\n%s", b, want)
		}
	})
	for _, c := range []struct {
		code, failure string
	}{
		{"REFUND_EXCEEDS_ORIGINAL", FailureRefundExceedsOriginal},
		{"REFUND_WINDOW_EXPIRED", FailureRefundWindowExpired},
		{"CAP_EXCEEDED", FailureBalanceCapExceeded},
		{"CARD_CLOSED", FailureCardClosed},
		{"SEQ_REUSED", FailurePartnerConfig},
	} {
		t.Run(c.code, func(t *testing.T) {
			_, a := newFake(t, map[string]handler{"/ncs/v1/refunds": errReply(422, c.code)})
			if res := a.Refund(context.Background(), req); res.Outcome != contracts.OutcomeFailed || res.FailureCode != c.failure {
				t.Fatalf("%+v, want %s", res, c.failure)
			}
		})
	}
	for name, h := range map[string]handler{
		"504":          signed(504, ncsErr("UPSTREAM_TIMEOUT", "UNKNOWN", "")),
		"tampered":     tampered(refundAnswer(43, 200), refundAnswer(43, 2000)),
		"other amount": signed(200, refundAnswer(43, 2000)),
	} {
		t.Run(name, func(t *testing.T) {
			_, a := newFake(t, map[string]handler{"/ncs/v1/refunds": h})
			if res := a.Refund(context.Background(), req); res.Outcome != contracts.OutcomeUnknown {
				t.Fatalf("%+v", res)
			}
		})
	}
	t.Run("payment id lost: inquire first", func(t *testing.T) {
		f, a := newFake(t, map[string]handler{
			"/ncs/v1/transactions/inquiry": signed(200, inquiryAnswer("PAYMENT", "APPROVED", 500, 500)),
			"/ncs/v1/refunds":              signed(200, refundAnswer(43, 200)),
		})
		r := req
		r.Payment.PartnerPaymentID = ""
		if res := a.Refund(context.Background(), r); res.Outcome != contracts.OutcomeSucceeded {
			t.Fatalf("%+v", res)
		}
		got := f.requests()
		if len(got) != 2 || got[0].body != `{"businessDate":"20261128","terminalSeq":42}` {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("payment never happened", func(t *testing.T) {
		f, a := newFake(t, map[string]handler{"/ncs/v1/transactions/inquiry": signed(200, `{"found":false}`)})
		r := req
		r.Payment.PartnerPaymentID = ""
		if res := a.Refund(context.Background(), r); res.Outcome != contracts.OutcomeFailed || res.FailureCode != FailureNotProcessed {
			t.Fatalf("%+v", res)
		}
		if n := len(f.requests()); n != 1 {
			t.Fatalf("%d requests", n)
		}
	})
}

// The logs name the call and never the card number, the IDm, the secret or a signature.
func TestLogging(t *testing.T) {
	f, a := newFake(t, map[string]handler{"/ncs/v1/payments": sequence(
		signed(422, `{"error":{"code":"CARD_SUSPENDED","message":"card 7000000000000001 (idm 0114ABCDEF000001) is suspended","retryable":false,"outcome":"NOT_PROCESSED","details":{}}}`),
		signed(401, ncsErr("SIGNATURE_INVALID", "NOT_PROCESSED", "")),
	)})
	logger, buf := logBuffer()
	a.cfg.Logger = logger
	req := barcodePay(42, 500)
	req.Flow, req.Barcode = contracts.FlowCardPresent, ""
	req.Card = &contracts.PresentedCard{Number: testNumber, IDm: "0114abcdef000001"}
	res := a.CreatePayment(context.Background(), req)
	if res.FailureCode != FailureCardSuspended {
		t.Fatalf("%+v", res)
	}
	res = a.CreatePayment(context.Background(), barcodePay(43, 500))
	if res.FailureCode != FailurePartnerConfig {
		t.Fatalf("%+v", res)
	}
	a.CreatePayment(context.Background(), contracts.PaymentRequest{PartnerRef: "garbage", Amount: yen(1)})
	out := buf.String()
	for _, secret := range []string{testNumber, "0114abcdef000001", "0114ABCDEF000001", testSecret, "v1="} {
		if strings.Contains(out, secret) || strings.Contains(res.FailureMessage, secret) {
			t.Errorf("log or message contains %q:\n%s", secret, out)
		}
	}
	for _, s := range f.requests() {
		if sig := s.header.Get(headerSignature); strings.Contains(out, strings.TrimPrefix(sig, "v1=")) {
			t.Error("log contains a request signature")
		}
	}
	for _, want := range []string{`"op":"pay"`, `"terminal":"store-1_till-1"`, `"business_date":"20261128"`, `"seq":42`,
		`"http_status":422`, `"code":"CARD_SUSPENDED"`, `"card_last4":"0001"`, `"duration_ms"`, `"level":"ERROR"`, `"partner_config`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines != 3 {
		t.Errorf("%d log lines, want 3:\n%s", lines, out)
	}
}

func TestMaskNumber(t *testing.T) {
	if got := MaskNumber(testNumber); got != "************0001" {
		t.Errorf("MaskNumber = %q", got)
	}
	if got := MaskNumber("1234"); got != "****" {
		t.Errorf("MaskNumber short = %q", got)
	}
}

func TestNonce(t *testing.T) {
	a, b := NewNonce(), NewNonce()
	if a == b || len(a) != 32 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("nonces %q %q", a, b)
	}
}

func TestBasePathPrefix(t *testing.T) {
	f := &fakeNCS{t: t, nonces: map[string]bool{}, routes: map[string]handler{"/gw/ncs/v1/payments": signed(200, approvedPayment(42, 500, 500, "APPROVED"))}}
	srv := newServer(t, f)
	a, err := New(Config{BaseURL: srv + "/gw/", MerchantID: testMerchant, Secret: testSecret, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if res := a.CreatePayment(context.Background(), barcodePay(42, 500)); res.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("%+v", res)
	}
}

func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptestServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
