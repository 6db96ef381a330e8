package nanaco

import (
	"context"
	"encoding/json"
	"testing"

	"payhub/contracts"
)

// The engine's top-up interface maps onto /charges with CASH or POINTS (never CREDIT),
// lower-cases where the value landed, and refuses what it cannot send without a call.
func TestCreateTopUpContract(t *testing.T) {
	f, a := newFake(t, map[string]handler{"/ncs/v1/charges": signed(200, chargeAnswer(9, 3000))})
	res := a.CreateTopUp(context.Background(), ref(9), contracts.PresentedCard{Number: testNumber}, yen(3000), contracts.FundingCash)
	if res.Outcome != contracts.OutcomeSucceeded || res.PartnerTxnID != "NC000000000000000004" || res.CreditedTo != contracts.CreditedBalance {
		t.Fatalf("%+v", res)
	}
	var body struct{ FundingSource string }
	if err := json.Unmarshal([]byte(f.requests()[0].body), &body); err != nil || body.FundingSource != "CASH" {
		t.Fatalf("body %s", f.requests()[0].body)
	}
	for name, c := range map[string]struct {
		ref     string
		amount  contracts.Money
		funding contracts.TopUpFunding
	}{
		"credit":         {ref(9), yen(3000), contracts.FundingCredit},
		"another coin":   {ref(9), contracts.Money{Amount: 3000, Currency: contracts.TWD}, contracts.FundingCash},
		"not a sequence": {"tu_01KQ0000000000000000000001", yen(3000), contracts.FundingCash},
		"a cancel key":   {ref(500_009), yen(3000), contracts.FundingPoints},
	} {
		if res := a.CreateTopUp(context.Background(), c.ref, contracts.PresentedCard{Number: testNumber}, c.amount, c.funding); res.Outcome != contracts.OutcomeFailed || res.FailureCode == "" {
			t.Errorf("%s: %+v", name, res)
		}
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
}

// A top-up's cancel is keyed by its sequence plus 500,000; the window's refusals are
// OutcomeWindowPassed, a spent value OutcomeFailed.
func TestCancelTopUpByRefContract(t *testing.T) {
	for name, c := range map[string]struct {
		h    handler
		want contracts.Outcome
	}{
		"cancelled":     {signed(200, `{"centerTxnId":"NC000000000000000005","type":"CHARGE_CANCEL","status":"APPROVED","amount":3000,"businessDate":"20261128","terminalId":"`+testTerminal+`","terminalSeq":500009,"originalTxnId":"NC000000000000000004","balanceAfter":10000,"centerHeldAfter":0}`), contracts.OutcomeSucceeded},
		"next day":      {errReply(400, "BUSINESS_DATE_INVALID"), contracts.OutcomeWindowPassed},
		"other till":    {errReply(422, "TERMINAL_MISMATCH"), contracts.OutcomeWindowPassed},
		"window":        {errReply(422, "CANCEL_WINDOW_EXPIRED"), contracts.OutcomeWindowPassed},
		"value spent":   {errReply(422, "INSUFFICIENT_BALANCE"), contracts.OutcomeFailed},
		"answer lost":   {signed(502, ncsErr("INTERNAL", "UNKNOWN", "")), contracts.OutcomeUnknown},
		"already gone?": {errReply(409, "ALREADY_CANCELLED"), contracts.OutcomeSucceeded},
	} {
		t.Run(name, func(t *testing.T) {
			f, a := newFake(t, map[string]handler{"/ncs/v1/charges/cancel": c.h})
			res := a.CancelTopUpByRef(context.Background(), ref(9), "NC000000000000000004")
			if res.Outcome != c.want {
				t.Fatalf("%+v, want %s", res, c.want)
			}
			if b := f.requests()[0].body; b != `{"terminalSeq":500009,"businessDate":"20261128","originalTxnId":"NC000000000000000004","merchantRef":"`+ref(500_009)+`"}` {
				t.Errorf("body %s", b)
			}
		})
	}
}

// The inquiry settles a top-up: found:false is final (not_processed), an APPROVED charge
// succeeded with where it was credited, CANCELLED canceled, the rest open.
func TestGetTopUpContract(t *testing.T) {
	charge := func(status string) string {
		b, _ := json.Marshal(map[string]any{"found": true, "type": "CHARGE", "status": status, "centerTxnId": testTxn, "amount": 3000,
			"original": map[string]any{"creditedTo": "BALANCE"}})
		return string(b)
	}
	for name, c := range map[string]struct {
		body     string
		want     contracts.Outcome
		failure  string
		credited string
	}{
		"never received": {`{"found":false}`, contracts.OutcomeFailed, FailureNotProcessed, ""},
		"approved":       {charge("APPROVED"), contracts.OutcomeSucceeded, "", contracts.CreditedBalance},
		"cancelled":      {charge("CANCELLED"), contracts.OutcomeCanceled, "", ""},
		"in progress":    {charge("IN_PROGRESS"), contracts.OutcomeUnknown, "", ""},
		"a payment":      {inquiryAnswer("PAYMENT", "APPROVED", 3000, 3000), contracts.OutcomeUnknown, "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			f, a := newFake(t, map[string]handler{"/ncs/v1/transactions/inquiry": signed(200, c.body)})
			res := a.GetTopUp(context.Background(), ref(42))
			if res.Outcome != c.want || res.FailureCode != c.failure || res.CreditedTo != c.credited {
				t.Fatalf("%+v", res)
			}
			if b := f.requests()[0].body; b != `{"businessDate":"20261128","terminalSeq":42}` {
				t.Errorf("inquiry body %s", b)
			}
		})
	}
	_, a := newFake(t, map[string]handler{"/ncs/v1/transactions/inquiry": signed(502, ncsErr("INTERNAL", "UNKNOWN", ""))})
	if res := a.GetTopUp(context.Background(), ref(42)); res.Outcome != contracts.OutcomeUnknown {
		t.Fatalf("failed inquiry: %+v", res)
	}
}
