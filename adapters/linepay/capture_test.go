package linepay

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
)

const (
	offlineCapture = "POST /v4/payments/orders/" + testOrder + "/capture"
	onlineCapture  = "POST /v3/payments/authorizations/" + bigTx + "/capture"
	offlineVoid    = "POST /v4/payments/orders/" + testOrder + "/void"
	onlineVoid     = "POST /v3/payments/authorizations/" + bigTx + "/void"
)

func captureRequest(p contracts.PaymentRef, major int64) contracts.CaptureRequest {
	return contracts.CaptureRequest{PartnerRef: "cap_1", Payment: p, Amount: twd(major)}
}

func TestCaptureSends(t *testing.T) {
	for _, tc := range []struct {
		name           string
		ref            contracts.PaymentRef
		details, route string
	}{
		{"offline", offlineRef(contracts.StatusAuthorized), offlineDetails, offlineCapture},
		{"online", onlineRef(contracts.StatusAuthorized), onlineDetails, onlineCapture},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, a := newFake(t, routes{
				tc.details: lineReply("0000", detailsJSON("AUTHORIZATION", "123", "")),
				tc.route:   lineReply("0000", payInfoJSON("80", "")),
			})
			res := a.CapturePayment(context.Background(), captureRequest(tc.ref, 80))
			if res.Outcome != contracts.OutcomeSucceeded || res.AmountCaptured != 8000 || res.PartnerPaymentID != bigTx {
				t.Fatalf("result %+v", res)
			}
			reqs := f.requests()
			wantQuery := "orderId=" + testOrder
			if tc.name == "online" {
				wantQuery = "transactionId=" + bigTx
			}
			if len(reqs) != 2 || reqs[0].query != wantQuery || reqs[1].method+" "+reqs[1].path != tc.route || reqs[1].body != `{"amount":80,"currency":"TWD"}` {
				t.Errorf("requests %v %+v", f.paths(), reqs)
			}
		})
	}
}

func TestCaptureOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		details func(http.ResponseWriter, *http.Request)
		capture func(http.ResponseWriter, *http.Request)
		outcome contracts.Outcome
		sent    bool
		msg     string
	}{
		{"already captured, same amount", lineReply("0000", detailsJSON("CAPTURE", "80", "")), nil, contracts.OutcomeSucceeded, false, ""},
		{"already captured, payhub knows it succeeded", lineReply("0000", detailsJSON("CAPTURE", "80", "")), nil, contracts.OutcomeUnknown, false, "already captured"},
		{"already captured, other amount", lineReply("0000", detailsJSON("CAPTURE", "60", "")), nil, contracts.OutcomeUnknown, false, "already captured"},
		{"voided", lineReply("0000", detailsJSON("VOIDED_AUTHORIZATION", "123", "")), nil, contracts.OutcomeFailed, false, ""},
		{"expired", lineReply("0000", detailsJSON("EXPIRED_AUTHORIZATION", "123", "")), nil, contracts.OutcomeFailed, false, ""},
		{"details fail", lineReply("9000", ""), nil, contracts.OutcomeUnknown, false, "no capture was sent"},
		{"no details row", lineReply("0000", "[]"), nil, contracts.OutcomeUnknown, false, "no capture was sent"},
		{"1198 reauthorizing", nil, lineReply("1198", ""), contracts.OutcomeUnknown, true, ""},
		{"1199 cancelled", nil, lineReply("1199", ""), contracts.OutcomeFailed, true, "cancelled the authorization"},
		{"1280 cancelled", nil, lineReply("1280", ""), contracts.OutcomeFailed, true, ""},
		{"1284 card", nil, lineReply("1284", ""), contracts.OutcomeFailed, true, ""},
		{"1184 above authorized", nil, lineReply("1184", ""), contracts.OutcomeFailed, true, "configuration alarm"},
		{"1179 moved meanwhile", nil, lineReply("1179", ""), contracts.OutcomeUnknown, true, ""},
		{"9000", nil, lineReply("9000", ""), contracts.OutcomeUnknown, true, ""},
		{"other amount taken", nil, lineReply("0000", payInfoJSON("70", "")), contracts.OutcomeUnknown, true, "adds up"},
		{"no info", nil, lineReply("0000", ""), contracts.OutcomeSucceeded, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			details, capture := tc.details, tc.capture
			if details == nil {
				details = lineReply("0000", detailsJSON("AUTHORIZATION", "123", ""))
			}
			if capture == nil {
				capture = lineReply("0000", payInfoJSON("80", ""))
			}
			f, a := newFake(t, routes{offlineDetails: details, offlineCapture: capture})
			ref := offlineRef(contracts.StatusAuthorized)
			if strings.Contains(tc.name, "payhub knows") {
				ref.Status = contracts.StatusSucceeded
			}
			res := a.CapturePayment(context.Background(), captureRequest(ref, 80))
			if res.Outcome != tc.outcome || !strings.Contains(res.FailureMessage, tc.msg) {
				t.Fatalf("result %+v, want %q with %q", res, tc.outcome, tc.msg)
			}
			if res.Outcome == contracts.OutcomeSucceeded && res.AmountCaptured != 8000 {
				t.Errorf("AmountCaptured %d", res.AmountCaptured)
			}
			sent := false
			for _, p := range f.paths() {
				sent = sent || p == offlineCapture
			}
			if sent != tc.sent {
				t.Errorf("capture sent = %v (%v)", sent, f.paths())
			}
		})
	}
}

func TestCaptureRefusedLocally(t *testing.T) {
	f, a := newFake(t, routes{})
	for name, req := range map[string]contracts.CaptureRequest{
		"TWD cents":        captureRequest(offlineRef(contracts.StatusAuthorized), 0),
		"above authorized": captureRequest(offlineRef(contracts.StatusAuthorized), 124),
		"online, no id":    captureRequest(contracts.PaymentRef{Flow: contracts.FlowQR, Status: contracts.StatusAuthorized}, 1),
	} {
		if name == "TWD cents" {
			req.Amount.Amount = 8050
		}
		if res := a.CapturePayment(context.Background(), req); res.Outcome != contracts.OutcomeFailed {
			t.Errorf("%s: %+v", name, res)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests reached LINE Pay", n)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name    string
		ref     contracts.PaymentRef
		routes  routes
		outcome contracts.Outcome
		paths   []string
	}{
		{"void offline", offlineRef(contracts.StatusAuthorized), routes{offlineVoid: lineReply("0000", "")},
			contracts.OutcomeSucceeded, []string{offlineVoid}},
		{"void online", onlineRef(contracts.StatusAuthorized), routes{onlineVoid: lineReply("0000", "")},
			contracts.OutcomeSucceeded, []string{onlineVoid}},
		{"void repeated: 1165", offlineRef(contracts.StatusAuthorized), routes{offlineVoid: lineReply("1165", "")},
			contracts.OutcomeSucceeded, []string{offlineVoid}},
		{"void of a captured payment", offlineRef(contracts.StatusAuthorized), routes{offlineVoid: lineReply("1155", "")},
			contracts.OutcomeWindowPassed, nil},
		{"void 1106", offlineRef(contracts.StatusAuthorized), routes{offlineVoid: lineReply("1106", "")},
			contracts.OutcomeFailed, nil},
		{"void 9000", offlineRef(contracts.StatusAuthorized), routes{offlineVoid: lineReply("9000", "")},
			contracts.OutcomeUnknown, nil},
		{"succeeded: refund instead", offlineRef(contracts.StatusSucceeded), routes{}, contracts.OutcomeWindowPassed, []string{}},
		{"succeeded QR: refund instead", onlineRef(contracts.StatusSucceeded), routes{}, contracts.OutcomeWindowPassed, []string{}},
		{"pending QR: withdrawn without a call", onlineRef(contracts.StatusRequiresAction), routes{}, contracts.OutcomeSucceeded, []string{}},
		{"unknown barcode, captured", offlineRef(contracts.StatusUnknown),
			routes{offlineCheck: lineReply("0000", payInfoJSON("123", `,"status":"COMPLETE"`))}, contracts.OutcomeWindowPassed, []string{offlineCheck}},
		{"unknown barcode, authorized", offlineRef(contracts.StatusUnknown), routes{
			offlineCheck:   lineReply("0000", payInfoJSON("123", `,"status":"AUTH_READY"`)),
			offlineDetails: lineReply("0000", detailsJSON("AUTHORIZATION", "123", "")),
			offlineVoid:    lineReply("0000", ""),
		}, contracts.OutcomeSucceeded, []string{offlineCheck, offlineDetails + "?orderId=" + testOrder, offlineVoid}},
		{"unknown barcode, failed", offlineRef(contracts.StatusUnknown), routes{offlineCheck: lineReply("0000", `{"status":"FAIL"}`)},
			contracts.OutcomeSucceeded, nil},
		{"unknown barcode, no order yet", createdAt(offlineRef(contracts.StatusUnknown), testNow.Add(-DefaultLateLandingWindow+time.Second)),
			routes{offlineCheck: lineReply("1150", "")}, contracts.OutcomeUnknown, nil},
		{"unknown barcode, no order and the code expired", createdAt(offlineRef(contracts.StatusUnknown), testNow.Add(-DefaultLateLandingWindow)),
			routes{offlineCheck: lineReply("1150", "")}, contracts.OutcomeSucceeded, []string{offlineCheck}},
		{"unknown barcode, no order, creation unknown", offlineRef(contracts.StatusUnknown),
			routes{offlineCheck: lineReply("1150", "")}, contracts.OutcomeUnknown, nil},
		{"unknown barcode, check fails", offlineRef(contracts.StatusUnknown), routes{offlineCheck: lineReply("9000", "")},
			contracts.OutcomeUnknown, nil},
		{"processing QR approved: not confirmed", onlineRef(contracts.StatusProcessing), routes{onlineCheck: lineReply("0110", "")},
			contracts.OutcomeSucceeded, []string{onlineCheck}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, a := newFake(t, tc.routes)
			res := a.CancelPayment(context.Background(), tc.ref)
			if res.Outcome != tc.outcome {
				t.Fatalf("result %+v, want %q", res, tc.outcome)
			}
			if tc.paths != nil && fmt.Sprint(f.paths()) != fmt.Sprint(tc.paths) {
				t.Errorf("paths %v, want %v", f.paths(), tc.paths)
			}
			for _, s := range f.requests() {
				if s.method == http.MethodPost && (s.body != "" || s.header.Get("Content-Type") != "") {
					t.Errorf("void sent a body %q / Content-Type %q", s.body, s.header.Get("Content-Type"))
				}
			}
		})
	}
}

// createdAt sets when payhub created the payment.
func createdAt(ref contracts.PaymentRef, at time.Time) contracts.PaymentRef {
	ref.CreatedAt = at
	return ref
}
