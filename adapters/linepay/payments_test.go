package linepay

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"payhub/contracts"
)

type routes = map[string]func(http.ResponseWriter, *http.Request)

func jsonNumber(s string) json.Number { return json.Number(s) }

// offlineRef names the barcode payment testOrder.
func offlineRef(status contracts.Status) contracts.PaymentRef {
	return contracts.PaymentRef{PartnerRef: testOrder, PartnerPaymentID: bigTx, Flow: contracts.FlowBarcode, Amount: twd(123), Status: status}
}

// onlineRef names the QR payment bigTx.
func onlineRef(status contracts.Status) contracts.PaymentRef {
	return contracts.PaymentRef{PartnerRef: testOrder, PartnerPaymentID: bigTx, PartnerActionRef: bigTx, Flow: contracts.FlowQR,
		Amount: twd(123), Status: status}
}

// detailsJSON is a details info[] with one payment row.
func detailsJSON(payStatus, amount, refunds string) string {
	row := `{"transactionId":` + bigTx + `,"orderId":"` + testOrder + `","transactionDate":"2026-03-01T10:00:00Z",` +
		`"transactionType":"PAYMENT","payStatus":"` + payStatus + `","payInfo":[{"method":"BALANCE","amount":` + amount + `}]`
	if refunds != "" {
		row += `,"refundList":[` + refunds + `]`
	}
	return `[` + row + `}]`
}

// refundRowJSON is one refundList entry refunding amount (major units, positive here).
func refundRowJSON(id, amount string) string {
	return `{"refundTransactionId":` + id + `,"transactionType":"PARTIAL_REFUND","refundAmount":-` + amount +
		`,"refundTransactionDate":"2026-03-01T11:00:00Z"}`
}

const (
	offlineCheck   = "GET /v4/payments/orders/" + testOrder + "/check"
	offlineDetails = "GET /v4/payments"
	onlineCheck    = "GET /v3/payments/requests/" + bigTx + "/check"
	onlineConfirm  = "POST /v3/payments/" + bigTx + "/confirm"
	onlineDetails  = "GET /v3/payments"
)

func TestGetPaymentOffline(t *testing.T) {
	tests := []struct {
		name    string
		status  contracts.Status
		routes  routes
		outcome contracts.Outcome
		failure string
		paths   string
	}{
		{"complete", contracts.StatusUnknown, routes{offlineCheck: lineReply("0000", payInfoJSON("123", `,"status":"COMPLETE"`))},
			contracts.OutcomeSucceeded, "", "[GET /v4/payments/orders/" + testOrder + "/check]"},
		{"refund", contracts.StatusSucceeded, routes{offlineCheck: lineReply("0000", payInfoJSON("123", `,"status":"REFUND"`))},
			contracts.OutcomeSucceeded, "", ""},
		{"auth ready, payhub authorized", contracts.StatusAuthorized, routes{offlineCheck: lineReply("0000", payInfoJSON("123", `,"status":"AUTH_READY"`))},
			contracts.OutcomeAuthorized, "", ""},
		{"auth ready, details authorization", contracts.StatusUnknown, routes{
			offlineCheck:   lineReply("0000", payInfoJSON("123", `,"status":"AUTH_READY"`)),
			offlineDetails: lineReply("0000", detailsJSON("AUTHORIZATION", "123", "")),
		}, contracts.OutcomeAuthorized, "", "[GET /v4/payments/orders/" + testOrder + "/check GET /v4/payments?orderId=" + testOrder + "]"},
		{"auth ready, still completing", contracts.StatusUnknown, routes{
			offlineCheck:   lineReply("0000", payInfoJSON("123", `,"status":"AUTH_READY"`)),
			offlineDetails: lineReply("0000", `[]`),
		}, contracts.OutcomeUnknown, "", ""},
		{"cancel", contracts.StatusAuthorized, routes{offlineCheck: lineReply("0000", payInfoJSON("123", `,"status":"CANCEL"`))},
			contracts.OutcomeCanceled, "", ""},
		{"fail 1142", contracts.StatusUnknown, routes{offlineCheck: lineReply("0000", `{"orderId":"`+testOrder+`","status":"FAIL","failReturnCode":"1142"}`)},
			contracts.OutcomeFailed, contracts.FailureInsufficientFunds, ""},
		{"fail", contracts.StatusUnknown, routes{offlineCheck: lineReply("0000", `{"status":"FAIL"}`)},
			contracts.OutcomeFailed, contracts.FailurePartnerRejected, ""},
		{"odd status", contracts.StatusUnknown, routes{offlineCheck: lineReply("0000", `{"status":"TELEPORTED"}`)},
			contracts.OutcomeUnknown, "", ""},
		{"1150 not found", contracts.StatusUnknown, routes{offlineCheck: lineReply("1150", "")}, contracts.OutcomeNotFound, "", ""},
		{"1106 is a failed query", contracts.StatusUnknown, routes{offlineCheck: lineReply("1106", "")}, contracts.OutcomeUnknown, "", ""},
		{"9000", contracts.StatusUnknown, routes{offlineCheck: lineReply("9000", "")}, contracts.OutcomeUnknown, "", ""},
		{"HTTP 502", contracts.StatusUnknown, routes{offlineCheck: rawReply(502, `{"returnCode":"1150"}`)}, contracts.OutcomeUnknown, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, a := newFake(t, tc.routes)
			ref := offlineRef(tc.status)
			res := a.GetPayment(context.Background(), ref)
			if res.Outcome != tc.outcome || res.FailureCode != tc.failure {
				t.Fatalf("result %+v, want %q %q", res, tc.outcome, tc.failure)
			}
			if res.Outcome == contracts.OutcomeSucceeded && (res.AmountCaptured != 12300 || res.PartnerPaymentID != bigTx) {
				t.Errorf("result %+v", res)
			}
			if tc.paths != "" && fmt.Sprint(f.paths()) != tc.paths {
				t.Errorf("paths %v, want %s", f.paths(), tc.paths)
			}
		})
	}
}

func TestGetPaymentOnline(t *testing.T) {
	confirmed := lineReply("0000", payInfoJSON("123", ""))
	tests := []struct {
		name    string
		status  contracts.Status
		routes  routes
		outcome contracts.Outcome
		paths   []string
	}{
		{"reserved", contracts.StatusRequiresAction, routes{onlineCheck: lineReply("0000", "")}, contracts.OutcomePending,
			[]string{onlineCheck}},
		{"approved: confirm", contracts.StatusRequiresAction, routes{onlineCheck: lineReply("0110", ""), onlineConfirm: confirmed},
			contracts.OutcomeSucceeded, []string{onlineCheck, onlineConfirm}},
		{"approved: confirm authorizes", contracts.StatusRequiresAction, routes{onlineCheck: lineReply("0110", ""),
			onlineConfirm: lineReply("0000", payInfoJSON("123", `,"authorizationExpireDate":"2026-03-08T10:00:00Z"`))},
			contracts.OutcomeAuthorized, []string{onlineCheck, onlineConfirm}},
		{"approved: confirm takes another amount", contracts.StatusRequiresAction, routes{onlineCheck: lineReply("0110", ""),
			onlineConfirm: lineReply("0000", payInfoJSON("100", ""))}, contracts.OutcomeUnknown, []string{onlineCheck, onlineConfirm}},
		{"approved: repeat confirm 1172 reconciled", contracts.StatusUnknown, routes{onlineCheck: lineReply("0110", ""),
			onlineConfirm: lineReply("1172", ""), onlineDetails: lineReply("0000", detailsJSON("CAPTURE", "123", ""))},
			contracts.OutcomeSucceeded, []string{onlineCheck, onlineConfirm, onlineDetails + "?transactionId=" + bigTx}},
		{"approved: 1198 reconciled, authorization", contracts.StatusUnknown, routes{onlineCheck: lineReply("0110", ""),
			onlineConfirm: lineReply("1198", ""), onlineDetails: lineReply("0000", detailsJSON("AUTHORIZATION", "123", ""))},
			contracts.OutcomeAuthorized, nil},
		{"approved: 1165 and details unreadable", contracts.StatusUnknown, routes{onlineCheck: lineReply("0110", ""),
			onlineConfirm: lineReply("1165", ""), onlineDetails: lineReply("9000", "")}, contracts.OutcomeUnknown, nil},
		{"approved: confirm 1142", contracts.StatusRequiresAction, routes{onlineCheck: lineReply("0110", ""), onlineConfirm: lineReply("1142", "")},
			contracts.OutcomeFailed, nil},
		{"approved: confirm 1169", contracts.StatusRequiresAction, routes{onlineCheck: lineReply("0110", ""), onlineConfirm: lineReply("1169", "")},
			contracts.OutcomePending, nil},
		{"approved: confirm 1180", contracts.StatusRequiresAction, routes{onlineCheck: lineReply("0110", ""), onlineConfirm: lineReply("1180", "")},
			contracts.OutcomeCanceled, nil},
		{"approved: confirm timeout-ish 9000", contracts.StatusRequiresAction, routes{onlineCheck: lineReply("0110", ""), onlineConfirm: lineReply("9000", "")},
			contracts.OutcomeUnknown, nil},
		{"approved after payhub canceled: never confirmed", contracts.StatusCanceled, routes{onlineCheck: lineReply("0110", "")},
			contracts.OutcomeCanceled, []string{onlineCheck}},
		{"completed", contracts.StatusUnknown, routes{onlineCheck: lineReply("0123", ""), onlineDetails: lineReply("0000", detailsJSON("CAPTURE", "123", ""))},
			contracts.OutcomeSucceeded, []string{onlineCheck, onlineDetails + "?transactionId=" + bigTx}},
		{"completed, voided", contracts.StatusAuthorized, routes{onlineCheck: lineReply("0123", ""),
			onlineDetails: lineReply("0000", detailsJSON("VOIDED_AUTHORIZATION", "123", ""))}, contracts.OutcomeCanceled, nil},
		{"completed, details fail", contracts.StatusUnknown, routes{onlineCheck: lineReply("0123", ""), onlineDetails: lineReply("1106", "")},
			contracts.OutcomeUnknown, nil},
		{"canceled or expired", contracts.StatusRequiresAction, routes{onlineCheck: lineReply("0121", "")}, contracts.OutcomeCanceled, nil},
		{"failed", contracts.StatusRequiresAction, routes{onlineCheck: lineReply("0122", "")}, contracts.OutcomeFailed, nil},
		{"not found", contracts.StatusUnknown, routes{onlineCheck: lineReply("1150", "")}, contracts.OutcomeNotFound, nil},
		{"odd code", contracts.StatusRequiresAction, routes{onlineCheck: lineReply("1234", "")}, contracts.OutcomeUnknown, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, a := newFake(t, tc.routes)
			res := a.GetPayment(context.Background(), onlineRef(tc.status))
			if res.Outcome != tc.outcome {
				t.Fatalf("result %+v, want %q", res, tc.outcome)
			}
			if res.PartnerPaymentID != bigTx {
				t.Errorf("PartnerPaymentID %q", res.PartnerPaymentID)
			}
			if res.Outcome == contracts.OutcomeSucceeded && res.AmountCaptured != 12300 {
				t.Errorf("AmountCaptured %d", res.AmountCaptured)
			}
			if tc.paths != nil && fmt.Sprint(f.paths()) != fmt.Sprint(tc.paths) {
				t.Errorf("paths %v, want %v", f.paths(), tc.paths)
			}
			for _, s := range f.requests() {
				if s.method+" "+s.path == onlineConfirm && s.body != `{"amount":123,"currency":"TWD"}` {
					t.Errorf("confirm body %s", s.body)
				}
			}
		})
	}
}

func TestGetPaymentOnlineWithoutTransactionID(t *testing.T) {
	ref := onlineRef(contracts.StatusUnknown)
	ref.PartnerPaymentID, ref.PartnerActionRef = "", ""
	for name, tc := range map[string]struct {
		details func(http.ResponseWriter, *http.Request)
		outcome contracts.Outcome
	}{
		"none":      {lineReply("0000", `[]`), contracts.OutcomeNotFound},
		"1150":      {lineReply("1150", ""), contracts.OutcomeNotFound},
		"confirmed": {lineReply("0000", detailsJSON("CAPTURE", "123", "")), contracts.OutcomeSucceeded},
		"9000":      {lineReply("9000", ""), contracts.OutcomeUnknown},
	} {
		f, a := newFake(t, routes{onlineDetails: tc.details})
		if res := a.GetPayment(context.Background(), ref); res.Outcome != tc.outcome {
			t.Errorf("%s: %+v", name, res)
		}
		if p := f.paths(); len(p) != 1 || p[0] != onlineDetails+"?orderId="+testOrder {
			t.Errorf("%s: paths %v", name, p)
		}
	}
}

// TestGetPaymentQueryIsSignedRaw: the details query goes out and is signed exactly as
// built (the fake verifies the signature over the raw query it received).
func TestGetPaymentQueryIsSignedRaw(t *testing.T) {
	f, a := newFake(t, routes{onlineCheck: lineReply("0123", ""), onlineDetails: lineReply("0000", detailsJSON("CAPTURE", "123", ""))})
	if res := a.GetPayment(context.Background(), onlineRef(contracts.StatusUnknown)); res.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("%+v", res)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[1].query != "transactionId="+bigTx {
		t.Errorf("requests %+v", reqs)
	}
	if reqs[0].header.Get("X-LINE-Authorization-Nonce") == reqs[1].header.Get("X-LINE-Authorization-Nonce") {
		t.Error("nonce reused across attempts")
	}
	if reqs[0].header.Get("X-LINE-MerchantDeviceType") != "" {
		t.Error("device headers on a query")
	}
}
