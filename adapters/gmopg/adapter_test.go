package gmopg

import (
	"context"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"payhub/contracts"
)

const testULID = "01JDABCDEFGHJKMNPQRSTVWXYZ"

var testNow = time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC) // 12:00 JST

func payReq(ref, token string, amount int64, capture contracts.CaptureMethod) contracts.PaymentRequest {
	return contracts.PaymentRequest{PartnerRef: ref, Amount: contracts.Money{Amount: amount, Currency: contracts.JPY},
		Flow: contracts.FlowRedirect, CaptureMethod: capture, CardToken: token,
		ReturnURL: "https://payhub.example/v1/payment-returns/pay_" + testULID + "?x=1&y=2"}
}

func refOf(req contracts.PaymentRequest, res contracts.PaymentResult, st contracts.Status) contracts.PaymentRef {
	return contracts.PaymentRef{PartnerRef: req.PartnerRef, PartnerPaymentID: res.PartnerPaymentID, PartnerSecret: res.PartnerSecret,
		Flow: req.Flow, Amount: req.Amount, Status: st}
}

var ctx = context.Background()

func TestNewValidates(t *testing.T) {
	good := Config{BaseURL: "http://127.0.0.1:7103", ShopID: "tshop00012345", ShopPass: "abcdefghij"}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no base":       func(c *Config) { c.BaseURL = "" },
		"relative base": func(c *Config) { c.BaseURL = "/x" },
		"long shop id":  func(c *Config) { c.ShopID = "tshop000123456" },
		"long pass":     func(c *Config) { c.ShopPass = "abcdefghijk" },
		"long tenant":   func(c *Config) { c.TdTenantName = strings.Repeat("店", 13) },
	} {
		c := good
		mut(&c)
		_, err := New(c)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), c.ShopPass) {
			t.Errorf("%s: error repeats the shop password", name)
		}
	}
}

func TestOrderID(t *testing.T) {
	got, err := OrderID("pay_" + testULID + "_1")
	if err != nil || got != testULID+"1" || len(got) != 27 {
		t.Fatalf("OrderID = %q, %v", got, err)
	}
	seen := map[string]bool{}
	for n := 1; n <= 61; n++ {
		id, err := OrderID("pay_" + testULID + "_" + itoa(n))
		if err != nil || seen[id] || !orderIDPattern.MatchString(id) {
			t.Fatalf("attempt %d: %q %v (dup %v)", n, id, err, seen[id])
		}
		seen[id] = true
	}
	for _, bad := range []string{"pay_" + testULID + "_62", "pay_" + testULID + "_0", "pay_" + testULID + "_01",
		"pay_x_1", "has space", "", testULID + "1", strings.Repeat("a", 28)} {
		if id, err := OrderID(bad); err == nil {
			t.Errorf("OrderID(%q) = %q, want error", bad, id)
		}
	}
	if id, err := OrderID("order-123"); err != nil || id != "order-123" {
		t.Errorf("plain OrderID: %q %v", id, err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestEncodeFormShiftJIS(t *testing.T) {
	got, err := encodeForm([]param{{"A", "テスト"}, {"B", "a b&c=d"}, {"C", ""}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "A=%83e%83X%83g&B=a+b%26c%3Dd"; got != want {
		t.Fatalf("encodeForm = %q, want %q", got, want)
	}
	if _, err := encodeForm([]param{{"A", "😀"}}); err == nil {
		t.Error("emoji encoded")
	}
}

func TestParseResponseTrap(t *testing.T) {
	r := parseResponse("ACS=2&RedirectUrl=https://x.example/cb?transId=a+b%2F&t=c==&z", responseKeys[callExecTran])
	if got := r.get("RedirectUrl"); got != "https://x.example/cb?transId=a+b%2F&t=c==&z" {
		t.Fatalf("RedirectUrl = %q", got)
	}
	if r.get("ACS") != "2" || len(r.Errors) != 0 {
		t.Fatalf("%+v", r)
	}
	r = parseResponse("ErrCode=E01|E01|G02&ErrInfo=E01090008|E01100008", responseKeys[callEntryTran])
	want := []gmoError{{"E01", "E01090008"}, {"E01", "E01100008"}, {"G02", ""}}
	if len(r.Errors) != 3 || r.Errors[0] != want[0] || r.Errors[1] != want[1] || r.Errors[2] != want[2] {
		t.Fatalf("errors %+v", r.Errors)
	}
	r = parseResponse("PayTimes=&Approve=&t=1", responseKeys[callExecTran])
	if v, ok := r.Fields["PayTimes"]; !ok || v != "" || r.get("Approve") != "&t=1" {
		t.Fatalf("%+v", r.Fields)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		code, info string
		want       class
		failure    string
	}{
		{"G02", "42G020000", classDecline, contracts.FailureInsufficientFunds},
		{"G03", "42G030000", classDecline, contracts.FailureInsufficientFunds},
		{"G83", "42G830000", classDecline, contracts.FailureExpired},
		{"G12", "42G120000", classDecline, contracts.FailureCardDeclined},
		{"EX1", "EX1000303", classToken, contracts.FailureCardTokenInvalid},
		{"E21", "E21030007", classAuth, contracts.FailureAuthenticationFailed},
		{"E01", "E01030002", classConfig, contracts.FailurePartnerRejected},
		{"E41", "E41170002", classConfig, contracts.FailurePartnerRejected},
		{"E61", "E61040001", classConfig, contracts.FailurePartnerRejected},
		{"E01", "E01060010", classConfig, contracts.FailurePartnerRejected},
		{"E11", "E11010001", classSettled, ""},
		{"E11", "E11010999", classSettled, ""},
		{"E11", "E11010003", classState, contracts.FailurePartnerRejected},
		{"E01", "E01420010", classState, contracts.FailureExpired},
		{"E01", "E01040010", classDuplicate, ""},
		{"E92", "E92000001", classRetryable, contracts.FailurePartnerUnavailable},
		{"E82", "E82010001", classRetryable, contracts.FailurePartnerUnavailable},
		{"E90", "E90010001", classUnknown, ""},
		{"E91", "E91099999", classUnknown, ""},
		{"C01", "42C010000", classUnknown, ""},
		{"Z99", "Z99999999", classUnknown, ""},
	} {
		errs := []gmoError{{c.code, c.info}}
		if got := classifyAll(errs); got != c.want {
			t.Errorf("%s: class %d, want %d", c.info, got, c.want)
		}
		if c.failure != "" && failureOf(c.want, errs) != c.failure {
			t.Errorf("%s: failure %q, want %q", c.info, failureOf(c.want, errs), c.failure)
		}
	}
	if classifyAll([]gmoError{{"G02", "42G020000"}, {"E91", "E91099999"}}) != classUnknown {
		t.Error("a mixed answer with an unknown entry is not unknown")
	}
}

func TestCreateFrictionless(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	req := payReq("pay_"+testULID+"_1", "tok_success", 1200, contracts.CaptureAutomatic)
	res := a.CreatePayment(ctx, req)
	if res.Outcome != contracts.OutcomeSucceeded || res.PartnerPaymentID == "" || res.AmountCaptured != 1200 {
		t.Fatalf("%+v", res)
	}
	if res.Card == nil || res.Card.Last4 != "1111" || res.Card.Expiry != "2712" {
		t.Errorf("card %+v", res.Card)
	}
	sec, ok := parseSecret(res.PartnerSecret)
	if !ok || sec.JobCd != jobCapture || f.orders[testULID+"1"].accessID != sec.AccessID {
		t.Errorf("secret %q", res.PartnerSecret)
	}
	entry := f.last(callEntryTran)
	if entry.params["JobCd"] != "CAPTURE" || entry.params["TdFlag"] != "2" || entry.params["Tds2Type"] != "2" || entry.params["Amount"] != "1200" {
		t.Errorf("EntryTran %v", entry.params)
	}
	if euc, err := base64.StdEncoding.DecodeString(entry.params["TdTenantName"]); err != nil {
		t.Errorf("TdTenantName %q", entry.params["TdTenantName"])
	} else if name, _ := japanese.EUCJP.NewDecoder().String(string(euc)); name != "テスト店" {
		t.Errorf("TdTenantName decodes to %q", name)
	}
	exec := f.last(callExecTran)
	if exec.params["RetUrl"] != req.ReturnURL || exec.params["Token"] != "tok_success" || exec.params["CallbackType"] != "3" || exec.params["Method"] != "1" {
		t.Errorf("ExecTran %v", exec.params)
	}
	if !strings.Contains(exec.raw, "RetUrl="+url.QueryEscape(req.ReturnURL)) {
		t.Errorf("RetUrl not percent-encoded: %s", exec.raw)
	}
	if g := a.GetPayment(ctx, refOf(req, res, contracts.StatusSucceeded)); g.Outcome != contracts.OutcomeSucceeded {
		t.Errorf("GetPayment %+v", g)
	}
}

func TestCreateManualAuthorizes(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	res := a.CreatePayment(ctx, payReq("pay_"+testULID+"_1", "tok_success", 1000, contracts.CaptureManual))
	if res.Outcome != contracts.OutcomeAuthorized || f.last(callEntryTran).params["JobCd"] != "AUTH" {
		t.Fatalf("%+v", res)
	}
}

func TestCheckStringMismatchIsUnknown(t *testing.T) {
	f := newFake(t)
	f.badCheck = true
	a := f.adapter(t, testNow)
	res := a.CreatePayment(ctx, payReq("pay_"+testULID+"_1", "tok_success", 1000, contracts.CaptureAutomatic))
	if res.Outcome != contracts.OutcomeUnknown || res.PartnerSecret == "" {
		t.Fatalf("%+v", res)
	}
}

// TestRefusedWithoutCall: what the adapter cannot put on the wire is refused without a
// call. The flow is not checked here: the engine refuses card-present flows from
// Capabilities.
func TestRefusedWithoutCall(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	for name, c := range map[string]struct {
		mut     func(*contracts.PaymentRequest)
		failure string
	}{
		"no token":  {func(r *contracts.PaymentRequest) { r.CardToken = "" }, contracts.FailureCardTokenInvalid},
		"USD":       {func(r *contracts.PaymentRequest) { r.Amount.Currency = "USD" }, contracts.FailurePartnerRejected},
		"bad ref":   {func(r *contracts.PaymentRequest) { r.PartnerRef = "pay_" + testULID + "_99" }, contracts.FailurePartnerRejected},
		"no return": {func(r *contracts.PaymentRequest) { r.ReturnURL = "" }, contracts.FailurePartnerRejected},
	} {
		req := payReq("pay_"+testULID+"_1", "tok_success", 1000, "")
		c.mut(&req)
		res := a.CreatePayment(ctx, req)
		if res.Outcome != contracts.OutcomeFailed || res.FailureCode != c.failure || res.FailureMessage == "" {
			t.Errorf("%s: %+v", name, res)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("%d calls made", len(f.calls))
	}
}

func TestDeclinesAndSecrets(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	for i, c := range []struct{ token, failure string }{
		{"tok_decline_g02", contracts.FailureInsufficientFunds},
		{"tok_decline_g12", contracts.FailureCardDeclined},
		{"tok_used", contracts.FailureCardTokenInvalid},
	} {
		res := a.CreatePayment(ctx, payReq("pay_"+testULID+"_"+itoa(i+1), c.token, 1000, ""))
		if res.Outcome != contracts.OutcomeFailed || res.FailureCode != c.failure {
			t.Errorf("%s: %+v", c.token, res)
		}
		if res.PartnerSecret == "" {
			t.Errorf("%s: no PartnerSecret after EntryTran", c.token)
		}
		sec, _ := parseSecret(res.PartnerSecret)
		for _, s := range []string{res.FailureMessage, res.PartnerCode, res.PartnerPaymentID} {
			if strings.Contains(s, c.token) || strings.Contains(s, f.shopPass) || (sec.AccessPass != "" && strings.Contains(s, sec.AccessPass)) {
				t.Errorf("%s: message leaks a secret: %q", c.token, s)
			}
		}
	}
}

func TestConfigErrorAlarm(t *testing.T) {
	f := newFake(t)
	f.shopPass = "other"
	a := f.adapter(t, testNow)
	a.cfg.ShopPass = "wrongpass"
	res := a.CreatePayment(ctx, payReq("pay_"+testULID+"_1", "tok_success", 1000, ""))
	if res.Outcome != contracts.OutcomeFailed || res.FailureCode != contracts.FailurePartnerRejected ||
		!strings.Contains(res.FailureMessage, "configuration alarm") || strings.Contains(res.FailureMessage, "wrongpass") {
		t.Fatalf("%+v", res)
	}
}

func TestUnknownClasses(t *testing.T) {
	for name, raw := range map[string]string{
		"5xx":       "HTTP500",
		"E91":       "ErrCode=E91&ErrInfo=E91099999",
		"42C":       "ErrCode=C01&ErrInfo=42C010000",
		"E90":       "ErrCode=E90&ErrInfo=E90010001",
		"garbage":   "<html>oops</html>",
		"unknown":   "ErrCode=Q12&ErrInfo=Q12345678",
		"ACS=1":     "ACS=1&ACSUrl=x",
		"no fields": "",
	} {
		f := newFake(t)
		a := f.adapter(t, testNow)
		f.queue(callExecTran, raw)
		res := a.CreatePayment(ctx, payReq("pay_"+testULID+"_1", "tok_success", 1000, ""))
		if res.Outcome != contracts.OutcomeUnknown || res.PartnerSecret == "" {
			t.Errorf("%s: %+v", name, res)
		}
	}
}

func TestRetryableResentOnce(t *testing.T) {
	retryBackoff = time.Millisecond
	f := newFake(t)
	a := f.adapter(t, testNow)
	f.queue(callExecTran, "ErrCode=E92&ErrInfo=E92000001")
	res := a.CreatePayment(ctx, payReq("pay_"+testULID+"_1", "tok_success", 1000, ""))
	if res.Outcome != contracts.OutcomeSucceeded || f.count(callExecTran) != 2 {
		t.Fatalf("%+v after %d ExecTran", res, f.count(callExecTran))
	}
	f.queue(callEntryTran, "ErrCode=E92&ErrInfo=E92000001")
	f.queue(callEntryTran, "ErrCode=E82&ErrInfo=E82010001")
	res = a.CreatePayment(ctx, payReq("pay_"+testULID+"_2", "tok_success", 1000, ""))
	if res.Outcome != contracts.OutcomeFailed || res.FailureCode != contracts.FailurePartnerUnavailable {
		t.Fatalf("%+v", res)
	}
}

func TestSettledConfirmedBySearch(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	req := payReq("pay_"+testULID+"_1", "tok_success", 1000, "")
	// ExecTran lands, but its answer says "already settled".
	f.queue(callExecTran, "ErrCode=E11&ErrInfo=E11010001")
	res := a.CreatePayment(ctx, req)
	// The fake's order stayed UNPROCESSED: contradictory, so unknown, never failed.
	if res.Outcome != contracts.OutcomeUnknown || res.PartnerSecret == "" {
		t.Fatalf("%+v", res)
	}
}

func TestDuplicateOrderRecovered(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	// An earlier EntryTran landed; its answer was lost.
	f.handle(callEntryTran, map[string]string{"OrderID": testULID + "1", "JobCd": "CAPTURE", "Amount": "1000"})
	res := a.CreatePayment(ctx, payReq("pay_"+testULID+"_1", "tok_success", 1000, ""))
	if res.Outcome != contracts.OutcomeSucceeded || f.count(callSearchTrade) < 1 {
		t.Fatalf("%+v", res)
	}
	// Same OrderID, other amount: never a success.
	res = a.CreatePayment(ctx, payReq("pay_"+testULID+"_1", "tok_success", 999, ""))
	if res.Outcome != contracts.OutcomeUnknown {
		t.Fatalf("%+v", res)
	}
}

func pending(t *testing.T, a *Adapter, token string, capture contracts.CaptureMethod) (contracts.PaymentRequest, contracts.PaymentResult) {
	t.Helper()
	req := payReq("pay_"+testULID+"_1", token, 1500, capture)
	res := a.CreatePayment(ctx, req)
	if res.Outcome != contracts.OutcomePending || res.NextAction == nil || res.NextAction.Type != contracts.NextActionRedirect {
		t.Fatalf("%+v", res)
	}
	if res.NextAction.RedirectURL != "https://acs.example/tds2/challenge?transId=abc+1%2F&t=def==" {
		t.Fatalf("RedirectURL %q", res.NextAction.RedirectURL)
	}
	return req, res
}

func TestThreeDSApproved(t *testing.T) {
	for _, capture := range []contracts.CaptureMethod{contracts.CaptureAutomatic, contracts.CaptureManual} {
		f := newFake(t)
		a := f.adapter(t, testNow)
		req, res := pending(t, a, "tok_3ds", capture)
		ref := refOf(req, res, contracts.StatusRequiresAction)
		if g := a.GetPayment(ctx, ref); g.Outcome != contracts.OutcomePending {
			t.Fatalf("GetPayment %+v", g)
		}
		sec, _ := parseSecret(res.PartnerSecret)
		done := a.CompleteReturn(ctx, ref, url.Values{"AccessID": {sec.AccessID}})
		want := contracts.OutcomeSucceeded
		if capture == contracts.CaptureManual {
			want = contracts.OutcomeAuthorized
		}
		if done.Outcome != want || done.PartnerPaymentID == "" || done.Card == nil {
			t.Fatalf("%s: %+v", capture, done)
		}
		// Coming back twice moves nothing twice.
		ref.Status = contracts.StatusSucceeded
		again := a.CompleteReturn(ctx, ref, url.Values{"AccessID": {sec.AccessID}})
		if again.Outcome != want || f.count(callSecureTran2) != 1 {
			t.Fatalf("again %+v, %d SecureTran2", again, f.count(callSecureTran2))
		}
		// Still pending in payhub's eyes (a lost first answer): GMO's "already settled".
		ref.Status = contracts.StatusUnknown
		if r := a.CompleteReturn(ctx, ref, url.Values{"AccessID": {sec.AccessID}}); r.Outcome != want {
			t.Fatalf("settled %+v", r)
		}
	}
}

func TestThreeDSRejected(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	req, res := pending(t, a, "tok_3ds_reject", "")
	sec, _ := parseSecret(res.PartnerSecret)
	done := a.CompleteReturn(ctx, refOf(req, res, contracts.StatusRequiresAction), url.Values{"AccessID": {sec.AccessID}})
	if done.Outcome != contracts.OutcomeFailed || done.FailureCode != contracts.FailureAuthenticationFailed {
		t.Fatalf("%+v", done)
	}
}

func TestReturnAccessIDMismatch(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	req, res := pending(t, a, "tok_3ds", "")
	ref := refOf(req, res, contracts.StatusRequiresAction)
	done := a.CompleteReturn(ctx, ref, url.Values{"AccessID": {strings.Repeat("f", 32)}})
	if done.Outcome != contracts.OutcomePending || !strings.Contains(done.FailureMessage, "does not belong") || f.count(callSecureTran2) != 0 {
		t.Fatalf("%+v", done)
	}
	// Without a stored secret the AccessID comes from SearchTrade.
	sec, _ := parseSecret(res.PartnerSecret)
	ref.PartnerSecret = ""
	if done := a.CompleteReturn(ctx, ref, url.Values{"AccessID": {sec.AccessID}}); done.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("%+v", done)
	}
}

func TestGetPaymentStatuses(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	ref := contracts.PaymentRef{PartnerRef: "pay_" + testULID + "_5", Status: contracts.StatusUnknown, Amount: contracts.Money{Amount: 1, Currency: contracts.JPY}}
	if g := a.GetPayment(ctx, ref); g.Outcome != contracts.OutcomeNotFound {
		t.Fatalf("%+v", g)
	}
	f.handle(callEntryTran, map[string]string{"OrderID": testULID + "5", "JobCd": "CAPTURE", "Amount": "1"})
	if g := a.GetPayment(ctx, ref); g.Outcome != contracts.OutcomeFailed || g.PartnerSecret == "" {
		t.Fatalf("UNPROCESSED unknown: %+v", g)
	}
	ref.Status = contracts.StatusRequiresAction
	if g := a.GetPayment(ctx, ref); g.Outcome != contracts.OutcomePending {
		t.Fatalf("UNPROCESSED requires_action: %+v", g)
	}
	for status, want := range map[string]contracts.Outcome{
		"AUTHENTICATED": contracts.OutcomePending, "AUTH": contracts.OutcomeAuthorized, "SALES": contracts.OutcomeSucceeded,
		"CAPTURE": contracts.OutcomeSucceeded, "VOID": contracts.OutcomeCanceled, "RETURN": contracts.OutcomeCanceled,
		"RETURNX": contracts.OutcomeCanceled, "CHECK": contracts.OutcomeUnknown,
	} {
		f.orders[testULID+"5"].status = status
		if g := a.GetPayment(ctx, ref); g.Outcome != want {
			t.Errorf("%s: %+v", status, g)
		}
	}
	f.queue(callSearchTrade, "ErrCode=E91&ErrInfo=E91099999")
	if g := a.GetPayment(ctx, ref); g.Outcome != contracts.OutcomeUnknown {
		t.Errorf("%+v", g)
	}
}

func authorized(t *testing.T, a *Adapter, amount int64) (contracts.PaymentRequest, contracts.PaymentRef) {
	t.Helper()
	req := payReq("pay_"+testULID+"_1", "tok_success", amount, contracts.CaptureManual)
	res := a.CreatePayment(ctx, req)
	if res.Outcome != contracts.OutcomeAuthorized {
		t.Fatalf("%+v", res)
	}
	return req, refOf(req, res, contracts.StatusAuthorized)
}

func capReq(p contracts.PaymentRef, amount int64) contracts.CaptureRequest {
	return contracts.CaptureRequest{Payment: p, Amount: contracts.Money{Amount: amount, Currency: contracts.JPY}}
}

func refReq(p contracts.PaymentRef, amount, prior int64) contracts.RefundRequest {
	return contracts.RefundRequest{Payment: p, Amount: contracts.Money{Amount: amount, Currency: contracts.JPY}, PriorRefunded: prior}
}

func TestPartialCapture(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	_, p := authorized(t, a, 3000)
	res := a.CapturePayment(ctx, capReq(p, 2000))
	if res.Outcome != contracts.OutcomeSucceeded || res.AmountCaptured != 2000 {
		t.Fatalf("%+v", res)
	}
	if ch := f.last(callChangeTran); ch.params["JobCd"] != "AUTH" || ch.params["Amount"] != "2000" {
		t.Errorf("ChangeTran %v", ch.params)
	}
	if al := f.last(callAlterTran); al.params["JobCd"] != "SALES" || al.params["Amount"] != "2000" {
		t.Errorf("AlterTran %v", al.params)
	}
	// The resend is the same capture; another amount is not.
	if r := a.CapturePayment(ctx, capReq(p, 2000)); r.Outcome != contracts.OutcomeSucceeded {
		t.Errorf("replay %+v", r)
	}
	if r := a.CapturePayment(ctx, capReq(p, 2001)); r.Outcome != contracts.OutcomeUnknown {
		t.Errorf("other amount %+v", r)
	}
	// Refunds of the captured amount, with the secret the capture handed back.
	p.PartnerSecret = res.PartnerSecret
	if r := a.Refund(ctx, refReq(p, 2001, 0)); r.Outcome != contracts.OutcomeFailed {
		t.Errorf("over-refund %+v", r)
	}
	if r := a.Refund(ctx, refReq(p, 500, 0)); r.Outcome != contracts.OutcomeSucceeded {
		t.Errorf("partial refund %+v", r)
	}
	if r := a.Refund(ctx, refReq(p, 1500, 500)); r.Outcome != contracts.OutcomeSucceeded || f.last(callAlterTran).params["JobCd"] != "VOID" {
		t.Errorf("full refund %+v", r)
	}
}

func TestPartialCaptureRefundWithoutCapturedSecret(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	_, p := authorized(t, a, 3000)
	if r := a.CapturePayment(ctx, capReq(p, 2000)); r.Outcome != contracts.OutcomeSucceeded {
		t.Fatal(r)
	}
	// p still carries the create-time secret (no captured amount).
	if r := a.Refund(ctx, refReq(p, 2001, 0)); r.Outcome != contracts.OutcomeFailed {
		t.Errorf("over-refund %+v", r)
	}
	if r := a.Refund(ctx, refReq(p, 2000, 0)); r.Outcome != contracts.OutcomeSucceeded {
		t.Errorf("full refund %+v", r)
	}
}

func TestCaptureRefused(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	_, p := authorized(t, a, 3000)
	if r := a.CapturePayment(ctx, capReq(p, 3001)); r.Outcome != contracts.OutcomeFailed {
		t.Errorf("over-capture %+v", r)
	}
	f.queue(callAlterTran, "ErrCode=E01&ErrInfo=E01060010")
	if r := a.CapturePayment(ctx, capReq(p, 3000)); r.Outcome != contracts.OutcomeFailed {
		t.Errorf("amount mismatch %+v", r)
	}
	if c := a.CancelPayment(ctx, p); c.Outcome != contracts.OutcomeSucceeded || f.last(callAlterTran).params["JobCd"] != "VOID" {
		t.Fatalf("release %+v", c)
	}
	if r := a.CapturePayment(ctx, capReq(p, 3000)); r.Outcome != contracts.OutcomeFailed {
		t.Errorf("capture after release %+v", r)
	}
	if c := a.CancelPayment(ctx, p); c.Outcome != contracts.OutcomeSucceeded {
		t.Errorf("repeat release %+v", c)
	}
}

func TestRefundIdempotency(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	req := payReq("pay_"+testULID+"_1", "tok_success", 3000, "")
	p := refOf(req, a.CreatePayment(ctx, req), contracts.StatusSucceeded)
	if r := a.Refund(ctx, refReq(p, 1000, 0)); r.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("%+v", r)
	}
	if ch := f.last(callChangeTran); ch.params["JobCd"] != "CAPTURE" || ch.params["Amount"] != "2000" {
		t.Errorf("ChangeTran %v", ch.params)
	}
	n := f.count(callChangeTran)
	// Resent (its answer was lost): landed, nothing sent.
	if r := a.Refund(ctx, refReq(p, 1000, 0)); r.Outcome != contracts.OutcomeSucceeded || f.count(callChangeTran) != n {
		t.Fatalf("replay %+v", r)
	}
	// Same PriorRefunded, other amount: not this refund.
	if r := a.Refund(ctx, refReq(p, 1001, 0)); r.Outcome != contracts.OutcomeUnknown {
		t.Errorf("other amount %+v", r)
	}
	if r := a.Refund(ctx, refReq(p, 2001, 1000)); r.Outcome != contracts.OutcomeFailed {
		t.Errorf("over-refund %+v", r)
	}
	if r := a.Refund(ctx, refReq(p, 2000, 1000)); r.Outcome != contracts.OutcomeSucceeded {
		t.Errorf("rest %+v", r)
	}
	if r := a.Refund(ctx, refReq(p, 2000, 1000)); r.Outcome != contracts.OutcomeSucceeded {
		t.Errorf("rest replay %+v", r)
	}
	if r := a.Refund(ctx, refReq(p, 1, 3000)); r.Outcome != contracts.OutcomeFailed {
		t.Errorf("nothing left %+v", r)
	}
}

func TestReversalByDate(t *testing.T) {
	day := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC) // 2026-11-28 12:00 JST
	for _, c := range []struct {
		now  time.Time
		auth bool
		want string
	}{
		{day.Add(10 * time.Hour), false, jobVoid},    // 22:00 JST same day
		{day.Add(13 * time.Hour), false, jobReturn},  // 01:00 JST next day
		{day.Add(13 * time.Hour), true, jobReturn},   // authorization, next day
		{day.Add(72 * time.Hour), false, jobReturnX}, // December
		{day.Add(72 * time.Hour), true, jobReturn},
	} {
		if got := reversalJob(&day, c.now, c.auth); got != c.want {
			t.Errorf("now %v auth %v: %s, want %s", c.now, c.auth, got, c.want)
		}
	}
	for _, c := range []struct {
		later time.Duration
		want  string
	}{{0, jobVoid}, {24 * time.Hour, jobReturn}, {72 * time.Hour, jobReturnX}} {
		f := newFake(t)
		a := f.adapter(t, testNow.Add(c.later))
		req := payReq("pay_"+testULID+"_1", "tok_success", 1000, "")
		p := refOf(req, a.CreatePayment(ctx, req), contracts.StatusSucceeded)
		if r := a.CancelPayment(ctx, p); r.Outcome != contracts.OutcomeSucceeded || f.last(callAlterTran).params["JobCd"] != c.want {
			t.Errorf("+%v: %+v %v", c.later, r, f.last(callAlterTran).params["JobCd"])
		}
		if g := a.GetPayment(ctx, p); g.Outcome != contracts.OutcomeCanceled {
			t.Errorf("after cancel %+v", g)
		}
		if r := a.CancelPayment(ctx, p); r.Outcome != contracts.OutcomeSucceeded {
			t.Errorf("repeat %+v", r)
		}
	}
}

func TestCancelPendingThreeDSMovesNothing(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	req, res := pending(t, a, "tok_3ds", "")
	if c := a.CancelPayment(ctx, refOf(req, res, contracts.StatusRequiresAction)); c.Outcome != contracts.OutcomeSucceeded || f.count(callAlterTran) != 0 {
		t.Fatalf("%+v", c)
	}
}

func TestRefundOfRefundedAuthorizationWithoutCapturedSecret(t *testing.T) {
	f := newFake(t)
	a := f.adapter(t, testNow)
	_, p := authorized(t, a, 3000)
	if r := a.CapturePayment(ctx, capReq(p, 2000)); r.Outcome != contracts.OutcomeSucceeded {
		t.Fatal(r)
	}
	if r := a.Refund(ctx, refReq(p, 500, 0)); r.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("%+v", r)
	}
	// Now CAPTURE 1500, captured amount unknown to the adapter: 1500+0+500 = 2000 ≤ 3000
	// fits "landed", 1500 fits "not landed": never guess.
	n := f.count(callChangeTran)
	if r := a.Refund(ctx, refReq(p, 500, 0)); r.Outcome != contracts.OutcomeUnknown || f.count(callChangeTran) != n {
		t.Fatalf("%+v", r)
	}
}
