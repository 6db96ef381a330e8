package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// storedValuePartner is a scripted partner whose customers keep a balance.
type storedValuePartner struct {
	*scriptedPartner
	inquire func(terminal string, card contracts.PresentedCard) contracts.BalanceInquiry
}

func (p storedValuePartner) Capabilities() contracts.Capabilities {
	caps := testCaps()
	caps.Flows = append(caps.Flows, contracts.FlowCardPresent)
	return caps
}

func (p storedValuePartner) InquireBalance(_ context.Context, terminal string, card contracts.PresentedCard) contracts.BalanceInquiry {
	return p.inquire(terminal, card)
}

// A balance inquiry reaches the stored-value partner with the till's partner terminal and
// the card, answers what it holds, maps "no such card" to not_found and silence to
// partner_unavailable, is refused for a method that keeps no balance, and is bounded per
// store: 20 at once, then 5 a second.
func TestStoredValueBalance(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC))
	var seen []string
	p := storedValuePartner{scriptedPartner: &scriptedPartner{}, inquire: func(terminal string, card contracts.PresentedCard) contracts.BalanceInquiry {
		seen = append(seen, terminal+"/"+card.Number)
		switch card.Number {
		case "7000000000000009":
			return contracts.BalanceInquiry{Outcome: contracts.OutcomeFailed, FailureCode: "card_not_found"}
		case "7000000000000010":
			return contracts.BalanceInquiry{Outcome: contracts.OutcomeUnknown, FailureMessage: "timeout"}
		}
		return contracts.BalanceInquiry{Outcome: contracts.OutcomeSucceeded, CardStatus: "active", Balance: 9200, MaxChargeable: 40800}
	}}
	st := storetest.OpenSQLite(t)
	h := hub.New(hub.Config{Store: st, Partners: map[contracts.Method]contracts.Partner{contracts.MethodNanaco: p, contracts.MethodPayPay: &scriptedPartner{}},
		Clock: clk, IDs: ids.New(clk), APIVersion: contracts.APIVersion, Metrics: hub.NewMetrics(prometheus.NewRegistry())})
	caller := hub.Caller{ClientID: "pos-1", StoreID: "store-1"}
	ask := func(c hub.Caller, m contracts.Method, number string) (contracts.BalanceInquiry, error) {
		return h.StoredValueBalance(context.Background(), c, hub.BalanceQuery{Method: m, TerminalID: "till-1", Card: contracts.PresentedCard{Number: number}})
	}
	res, err := ask(caller, contracts.MethodNanaco, "7000000000000001")
	if err != nil || res.Balance != 9200 || res.CardStatus != "active" || seen[0] != "store-1_till-1/7000000000000001" {
		t.Fatalf("inquiry = %+v, %v; partner saw %v", res, err, seen)
	}
	for number, code := range map[string]contracts.ErrorCode{"7000000000000009": contracts.CodeNotFound, "7000000000000010": contracts.CodePartnerUnavailable} {
		if _, err := ask(caller, contracts.MethodNanaco, number); codeOf(err) != code {
			t.Errorf("%s: %v, want %s", number, err, code)
		}
	}
	if _, err := ask(caller, contracts.MethodPayPay, "7000000000000001"); codeOf(err) != contracts.CodeMethodNotSupported {
		t.Errorf("a method without balances: %v", err)
	}
	for range hub.DefaultBalanceBurst - 3 {
		if _, err := ask(caller, contracts.MethodNanaco, "7000000000000001"); err != nil {
			t.Fatal(err)
		}
	}
	_, err = ask(caller, contracts.MethodNanaco, "7000000000000001")
	if later, ok := err.(*hub.RetryLater); !ok || later.After <= 0 || codeOf(err) != contracts.CodeRateLimited {
		t.Fatalf("past the burst: %v, want rate_limited with a wait", err)
	}
	if _, err := ask(hub.Caller{ClientID: "pos-2", StoreID: "store-2"}, contracts.MethodNanaco, "7000000000000001"); err != nil {
		t.Errorf("another store is not held back: %v", err)
	}
	clk.Advance(time.Second)
	for i := range 5 {
		if _, err := ask(caller, contracts.MethodNanaco, "7000000000000001"); err != nil {
			t.Fatalf("after a second, inquiry %d: %v", i+1, err)
		}
	}
	if _, err := ask(caller, contracts.MethodNanaco, "7000000000000001"); codeOf(err) != contracts.CodeRateLimited {
		t.Errorf("the sixth in that second: %v", err)
	}
}

// codeOf is the stable code of an engine error ("" for none).
func codeOf(err error) contracts.ErrorCode {
	if e, ok := contracts.AsError(err); ok {
		return e.Code
	}
	return ""
}
