package nanaco

import (
	"context"
	"strings"
	"testing"

	"payhub/contracts"
)

func key(seq int) contracts.SequenceRef {
	return contracts.SequenceRef{Terminal: testTerminal, BusinessDate: testDate, Seq: seq}
}

func TestBalance(t *testing.T) {
	f, a := newFake(t, map[string]handler{"/ncs/v1/cards/inquiry": signed(200,
		`{"nanacoNumber":"7000000000000001","cardType":"CARD","status":"ACTIVE","balance":10000,"centerHeld":2000,"points":120,`+
			`"pointsExpiring":[{"amount":120,"expiresAt":"2027-03-31T23:59:59+09:00"}],"maxChargeable":40000,"centerHeldRoom":48000}`)})
	res := a.Balance(context.Background(), testTerminal, contracts.PresentedCard{Number: testNumber}, true)
	if res.Outcome != contracts.OutcomeSucceeded || res.Balance != 10000 || res.CenterHeld != 2000 || res.Points != 120 ||
		res.MaxChargeable != 40000 || res.CenterHeldRoom != 48000 || res.CardType != "CARD" || res.Status != "ACTIVE" ||
		len(res.PointsExpiring) != 1 || res.PointsExpiring[0].ExpiresAt == nil {
		t.Fatalf("%+v", res)
	}
	if b := f.requests()[0].body; b != `{"nanacoNumber":"7000000000000001","receivePending":true}` {
		t.Errorf("body %s", b)
	}
	_, a = newFake(t, map[string]handler{"/ncs/v1/cards/inquiry": errReply(404, "CARD_NOT_FOUND")})
	if res := a.Balance(context.Background(), testTerminal, contracts.PresentedCard{IDm: testIDm}, false); res.Outcome != contracts.OutcomeFailed ||
		res.FailureCode != FailureCardNotFound {
		t.Fatalf("%+v", res)
	}
	if res := a.Balance(context.Background(), "bad terminal!", contracts.PresentedCard{IDm: testIDm}, false); res.Outcome != contracts.OutcomeFailed {
		t.Fatalf("%+v", res)
	}
}

func chargeAnswer(seq, amount int) string {
	return `{"centerTxnId":"NC000000000000000004","type":"CHARGE","status":"APPROVED","amount":` + itoa(amount) + `,"businessDate":"20261128",` +
		`"terminalId":"` + testTerminal + `","terminalSeq":` + itoa(seq) + `,"creditedTo":"BALANCE","balanceAfter":13000,"centerHeldAfter":0,"pointsAfter":120}`
}

func TestTopUp(t *testing.T) {
	f, a := newFake(t, map[string]handler{"/ncs/v1/charges": signed(200, chargeAnswer(9, 3000))})
	res := a.TopUp(context.Background(), key(9), contracts.PresentedCard{Number: testNumber}, 3000, FundingCash)
	if res.Outcome != contracts.OutcomeSucceeded || res.CenterTxnID != "NC000000000000000004" || res.Amount != 3000 ||
		res.CreditedTo != CreditedToBalance || res.BalanceAfter != 13000 || res.PointsAfter != 120 {
		t.Fatalf("%+v", res)
	}
	want := `{"terminalSeq":9,"businessDate":"20261128","nanacoNumber":"7000000000000001","amount":3000,"fundingSource":"CASH","merchantRef":"store-1_till-1.20261128.000009"}`
	if b := f.requests()[0].body; b != want {
		t.Errorf("body\n%s\nwant\n%s", b, want)
	}
	for name, c := range map[string]struct {
		ref    contracts.SequenceRef
		source FundingSource
	}{
		"credit":        {key(9), "CREDIT"},
		"cancel range":  {key(500_009), FundingCash},
		"invalid ref":   {contracts.SequenceRef{Terminal: "a b", BusinessDate: testDate, Seq: 1}, FundingCash},
		"empty funding": {key(9), ""},
	} {
		if res := a.TopUp(context.Background(), c.ref, contracts.PresentedCard{Number: testNumber}, 3000, c.source); res.Outcome != contracts.OutcomeFailed {
			t.Errorf("%s: %+v", name, res)
		}
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
	_, a = newFake(t, map[string]handler{"/ncs/v1/charges": signed(422, ncsErr("BALANCE_CAP_EXCEEDED", "NOT_PROCESSED", `{"maxChargeable":2000}`))})
	res = a.TopUp(context.Background(), key(9), contracts.PresentedCard{Number: testNumber}, 3000, FundingCash)
	if res.Outcome != contracts.OutcomeFailed || res.FailureCode != FailureBalanceCapExceeded || res.MaxChargeable != 2000 {
		t.Fatalf("%+v", res)
	}
}

func transferAnswer(seq, amount int) string {
	return `{"centerTxnId":"NC000000000000000005","type":"TRANSFER","status":"APPROVED","amount":` + itoa(amount) + `,"businessDate":"20261128",` +
		`"terminalId":"` + testTerminal + `","terminalSeq":` + itoa(seq) + `,"creditedTo":"CENTER_HELD","centerHeldAfter":50000}`
}

func TestTransfer(t *testing.T) {
	f, a := newFake(t, map[string]handler{"/ncs/v1/transfers": signed(200, transferAnswer(11, 30000))})
	res := a.Transfer(context.Background(), key(11), testNumber, 40000, "batch-1/row-7", true)
	if res.Outcome != contracts.OutcomeSucceeded || res.Amount != 30000 || res.RequestedAmount != 40000 || res.CreditedTo != CreditedToCenterHeld {
		t.Fatalf("%+v", res)
	}
	want := `{"terminalSeq":11,"businessDate":"20261128","nanacoNumber":"7000000000000001","amount":40000,"sourceRef":"batch-1/row-7","allowPartial":true,"merchantRef":"store-1_till-1.20261128.000011"}`
	if b := f.requests()[0].body; b != want {
		t.Errorf("body\n%s\nwant\n%s", b, want)
	}
	// Without allowPartial, less than asked is not believed.
	if res := a.Transfer(context.Background(), key(11), testNumber, 40000, "batch-1/row-7", false); res.Outcome != contracts.OutcomeUnknown {
		t.Fatalf("%+v", res)
	}
	if res := a.Transfer(context.Background(), key(11), testNumber, 40000, strings.Repeat("x", 65), false); res.Outcome != contracts.OutcomeFailed {
		t.Fatalf("%+v", res)
	}
	_, a = newFake(t, map[string]handler{"/ncs/v1/transfers": signed(422, ncsErr("BALANCE_CAP_EXCEEDED", "NOT_PROCESSED", `{"centerHeldRoom":30000}`))})
	res = a.Transfer(context.Background(), key(11), testNumber, 40000, "b", false)
	if res.Outcome != contracts.OutcomeFailed || res.FailureCode != FailureBalanceCapExceeded || res.CenterHeldRoom != 30000 {
		t.Fatalf("%+v", res)
	}
}

func TestCancelTopUpAndTransfer(t *testing.T) {
	ans := func(typ string) string {
		return `{"centerTxnId":"NC000000000000000006","type":"` + typ + `","status":"APPROVED","amount":3000,"businessDate":"20261128",` +
			`"terminalId":"` + testTerminal + `","terminalSeq":500009,"originalTxnId":"NC000000000000000004","balanceAfter":10000,"centerHeldAfter":0}`
	}
	f, a := newFake(t, map[string]handler{
		"/ncs/v1/charges/cancel":       signed(200, ans("CHARGE_CANCEL")),
		"/ncs/v1/transfers/cancel":     errReply(422, "INSUFFICIENT_BALANCE"),
		"/ncs/v1/transactions/inquiry": signed(200, `{"found":true,"type":"TRANSFER","status":"APPROVED","centerTxnId":"NC000000000000000005","amount":3000}`),
	})
	res := a.CancelTopUp(context.Background(), key(9), "NC000000000000000004")
	if res.Outcome != contracts.OutcomeSucceeded || res.CenterTxnID != "NC000000000000000006" || res.BalanceAfter != 10000 {
		t.Fatalf("%+v", res)
	}
	if b := f.requests()[0].body; b != `{"terminalSeq":500009,"businessDate":"20261128","originalTxnId":"NC000000000000000004","merchantRef":"store-1_till-1.20261128.500009"}` {
		t.Errorf("body %s", b)
	}
	res = a.CancelTransfer(context.Background(), key(11), "")
	if res.Outcome != contracts.OutcomeFailed || res.FailureCode != FailureInsufficientBalance {
		t.Fatalf("%+v", res)
	}
	if got := f.requests(); len(got) != 3 || !strings.Contains(got[2].body, `"originalTxnId":"NC000000000000000005"`) {
		t.Fatalf("%+v", got)
	}
	if res := a.CancelTopUp(context.Background(), key(9), "NC1"); res.Outcome != contracts.OutcomeFailed {
		t.Fatalf("%+v", res)
	}
	// The inquiry names a transfer; a top-up cancel of that key is not sent.
	if res := a.CancelTopUp(context.Background(), key(11), ""); res.Outcome != contracts.OutcomeUnknown {
		t.Fatalf("%+v", res)
	}
}

func TestInquire(t *testing.T) {
	_, a := newFake(t, map[string]handler{"/ncs/v1/transactions/inquiry": sequence(
		signed(200, inquiryAnswer("PAYMENT", "REFUNDED_PARTIAL", 500, 500)),
		signed(200, `{"found":false}`),
		signed(500, ncsErr("INTERNAL", "UNKNOWN", "")),
	)})
	res := a.Inquire(context.Background(), key(42))
	if res.Outcome != contracts.OutcomeSucceeded || !res.Found || res.Type != "PAYMENT" || res.Status != "REFUNDED_PARTIAL" ||
		res.Amount != 500 || res.CenterTxnID != testTxn || res.ProcessedAt == nil {
		t.Fatalf("%+v", res)
	}
	if res := a.Inquire(context.Background(), key(42)); res.Outcome != contracts.OutcomeSucceeded || res.Found {
		t.Fatalf("%+v", res)
	}
	if res := a.Inquire(context.Background(), key(42)); res.Outcome != contracts.OutcomeUnknown {
		t.Fatalf("%+v", res)
	}
	if res := a.Inquire(context.Background(), contracts.SequenceRef{}); res.Outcome != contracts.OutcomeFailed {
		t.Fatalf("%+v", res)
	}
}
