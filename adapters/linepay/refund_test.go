package linepay

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"payhub/contracts"
)

const (
	offlineRefund = "POST /v4/payments/orders/" + testOrder + "/refund"
	onlineRefund  = "POST /v3/payments/" + bigTx + "/refund"
	refundTx1     = "2026030100000000001"
	refundTx2     = "2026030100000000002"
)

// refundRequest refunds major units of p, with prior (major units) refunded before.
func refundRequest(p contracts.PaymentRef, major, prior int64) contracts.RefundRequest {
	return contracts.RefundRequest{PartnerRef: "re_1", Payment: p, Amount: twd(major), PriorRefunded: prior * 100, Reason: "damaged"}
}

func TestRefundSends(t *testing.T) {
	for _, tc := range []struct {
		name           string
		ref            contracts.PaymentRef
		details, route string
	}{
		{"offline", offlineRef(contracts.StatusSucceeded), offlineDetails + "?orderId=" + testOrder, offlineRefund},
		{"online", onlineRef(contracts.StatusSucceeded), onlineDetails + "?transactionId=" + bigTx, onlineRefund},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, a := newFake(t, routes{
				"GET " + strings.SplitN(strings.TrimPrefix(tc.details, "GET "), "?", 2)[0]: lineReply("0000", detailsJSON("CAPTURE", "123", refundRowJSON(refundTx1, "20"))),
				tc.route: lineReply("0000", `{"refundTransactionId":`+refundTx2+`,"refundTransactionDate":"2026-03-01T12:00:00Z"}`),
			})
			res := a.Refund(context.Background(), refundRequest(tc.ref, 50, 20))
			if res.Outcome != contracts.OutcomeSucceeded || res.PartnerRefundID != refundTx2 {
				t.Fatalf("result %+v", res)
			}
			if p := f.paths(); fmt.Sprint(p) != fmt.Sprint([]string{tc.details, tc.route}) {
				t.Errorf("paths %v", p)
			}
			if body := f.requests()[1].body; body != `{"refundAmount":50}` {
				t.Errorf("refund body %s", body)
			}
		})
	}
}

// TestRefundReplayRule is §6.2 rule 4: LINE has no refund id, so a resent refund that
// already landed is recognised from refundList and PriorRefunded and never sent again.
func TestRefundReplayRule(t *testing.T) {
	tests := []struct {
		name         string
		refunds      string
		amount       int64
		prior        int64
		outcome      contracts.Outcome
		refundID     string
		sent         bool
		msg          string
		detailsReply func(http.ResponseWriter, *http.Request)
	}{
		{"first send", "", 50, 0, contracts.OutcomeSucceeded, refundTx2, true, "", nil},
		{"landed earlier", refundRowJSON(refundTx1, "50"), 50, 0, contracts.OutcomeSucceeded, refundTx1, false, "", nil},
		{"landed after another", refundRowJSON(refundTx1, "20") + "," + refundRowJSON(refundTx2, "50"), 50, 20,
			contracts.OutcomeSucceeded, refundTx2, false, "", nil},
		{"same amount twice, latest wins", refundRowJSON(refundTx1, "50") + "," + refundRowJSON(refundTx2, "50"), 50, 50,
			contracts.OutcomeSucceeded, refundTx2, false, "", nil},
		{"second partial not landed", refundRowJSON(refundTx1, "50"), 50, 50, contracts.OutcomeSucceeded, refundTx2, true, "", nil},
		{"unknown refund exists", refundRowJSON(refundTx1, "30"), 50, 0, contracts.OutcomeUnknown, "", false, "does not know", nil},
		{"excess without this amount", refundRowJSON(refundTx1, "60"), 50, 0, contracts.OutcomeUnknown, "", false, "", nil},
		{"LINE lists less than payhub knows", refundRowJSON(refundTx1, "10"), 50, 20, contracts.OutcomeUnknown, "", false, "", nil},
		{"details fail", "", 50, 0, contracts.OutcomeUnknown, "", false, "nothing was sent", lineReply("9000", "")},
		{"details timeout-like 502", "", 50, 0, contracts.OutcomeUnknown, "", false, "nothing was sent", rawReply(502, "")},
		{"details list no payment", "", 50, 0, contracts.OutcomeUnknown, "", false, "no such payment", lineReply("0000", "[]")},
		{"details unreadable refundList", `{"refundTransactionId":` + refundTx1 + `,"refundAmount":-1.234}`, 50, 0,
			contracts.OutcomeUnknown, "", false, "unreadable", nil},
		{"not captured", "", 50, 0, contracts.OutcomeFailed, "", false, "not captured",
			lineReply("0000", detailsJSON("AUTHORIZATION", "123", ""))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			details := tc.detailsReply
			if details == nil {
				details = lineReply("0000", detailsJSON("CAPTURE", "123", tc.refunds))
			}
			f, a := newFake(t, routes{
				offlineDetails: details,
				offlineRefund:  lineReply("0000", `{"refundTransactionId":`+refundTx2+`}`),
			})
			res := a.Refund(context.Background(), refundRequest(offlineRef(contracts.StatusSucceeded), tc.amount, tc.prior))
			if res.Outcome != tc.outcome || res.PartnerRefundID != tc.refundID || !strings.Contains(res.FailureMessage, tc.msg) {
				t.Fatalf("result %+v, want %q %q with %q", res, tc.outcome, tc.refundID, tc.msg)
			}
			sent := false
			for _, p := range f.paths() {
				sent = sent || p == offlineRefund
			}
			if sent != tc.sent {
				t.Errorf("refund sent = %v, want %v (%v)", sent, tc.sent, f.paths())
			}
		})
	}
}

func TestRefundOutcomes(t *testing.T) {
	tests := []struct {
		code    string
		after   string // refundList on the second details read (1165 reconciliation)
		outcome contracts.Outcome
		msg     string
	}{
		{"1164", "", contracts.OutcomeFailed, "exceeds what is still refundable"},
		{"1163", "", contracts.OutcomeFailed, "refund period is over"},
		{"1155", "", contracts.OutcomeFailed, "not refundable"},
		{"1115", "", contracts.OutcomeFailed, ""},
		{"1106", "", contracts.OutcomeFailed, "configuration alarm"},
		{"1165", refundRowJSON(refundTx1, "50"), contracts.OutcomeSucceeded, ""},
		{"1165", "", contracts.OutcomeFailed, "nothing is left to refund"},
		{"9000", "", contracts.OutcomeUnknown, ""},
		{"1900", "", contracts.OutcomeUnknown, ""},
		{"1234", "", contracts.OutcomeUnknown, ""},
	}
	for _, tc := range tests {
		t.Run(tc.code+tc.after, func(t *testing.T) {
			reads := 0
			f, a := newFake(t, routes{
				offlineDetails: func(w http.ResponseWriter, r *http.Request) {
					reads++
					refunds := ""
					if reads > 1 {
						refunds = tc.after
					}
					lineReply("0000", detailsJSON("CAPTURE", "123", refunds))(w, r)
				},
				offlineRefund: lineReply(tc.code, ""),
			})
			res := a.Refund(context.Background(), refundRequest(offlineRef(contracts.StatusSucceeded), 50, 0))
			if res.Outcome != tc.outcome || !strings.Contains(res.FailureMessage, tc.msg) {
				t.Fatalf("result %+v, want %q with %q", res, tc.outcome, tc.msg)
			}
			if res.Outcome == contracts.OutcomeSucceeded && res.PartnerRefundID != refundTx1 {
				t.Errorf("PartnerRefundID %q", res.PartnerRefundID)
			}
			if res.Outcome == contracts.OutcomeFailed && res.FailureCode != contracts.FailurePartnerRejected {
				t.Errorf("FailureCode %q", res.FailureCode)
			}
			if n := len(f.requests()); (tc.code == "1165" && n != 3) || (tc.code != "1165" && n != 2) {
				t.Errorf("%d requests: %v", n, f.paths())
			}
		})
	}
}

func TestRefundRefusedLocally(t *testing.T) {
	f, a := newFake(t, routes{})
	for name, req := range map[string]contracts.RefundRequest{
		"TWD cents":       {Payment: offlineRef(contracts.StatusSucceeded), Amount: contracts.Money{Amount: 5050, Currency: contracts.TWD}},
		"zero":            {Payment: offlineRef(contracts.StatusSucceeded), Amount: contracts.Money{Currency: contracts.TWD}},
		"negative prior":  {Payment: offlineRef(contracts.StatusSucceeded), Amount: twd(1), PriorRefunded: -1},
		"online, no id":   {Payment: contracts.PaymentRef{PartnerRef: testOrder, Flow: contracts.FlowQR}, Amount: twd(1)},
		"offline, no ref": {Payment: contracts.PaymentRef{Flow: contracts.FlowBarcode}, Amount: twd(1)},
	} {
		if res := a.Refund(context.Background(), req); res.Outcome != contracts.OutcomeFailed || res.FailureMessage == "" {
			t.Errorf("%s: %+v", name, res)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests reached LINE Pay", n)
	}
}
