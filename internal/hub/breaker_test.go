package hub

import (
	"context"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/idempotency"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// outcomePartner answers every create with one outcome.
type outcomePartner struct {
	method  contracts.Method
	outcome contracts.Outcome
	creates int
}

func (p *outcomePartner) Method() contracts.Method { return p.method }
func (p *outcomePartner) CreatePayment(context.Context, contracts.PaymentRequest) contracts.PaymentResult {
	p.creates++
	return contracts.PaymentResult{Outcome: p.outcome}
}
func (p *outcomePartner) GetPayment(context.Context, contracts.PaymentRef) contracts.PaymentResult {
	return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown}
}
func (p *outcomePartner) CapturePayment(context.Context, contracts.CaptureRequest) contracts.PaymentResult {
	return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown}
}
func (p *outcomePartner) CancelPayment(context.Context, contracts.PaymentRef) contracts.CancelResult {
	return contracts.CancelResult{Outcome: contracts.OutcomeUnknown}
}
func (p *outcomePartner) Refund(context.Context, contracts.RefundRequest) contracts.RefundResult {
	return contracts.RefundResult{Outcome: contracts.OutcomeUnknown}
}

// With one partner's breaker open, its new payments fail fast while another partner's
// payments keep working.
func TestBreakerOpensPerPartner(t *testing.T) {
	const other contracts.Method = "testpay"

	failing := &outcomePartner{method: contracts.MethodPayPay, outcome: contracts.OutcomeUnknown}
	healthy := &outcomePartner{method: other, outcome: contracts.OutcomeSucceeded}
	clk := clock.NewManual(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	h := New(Config{Store: storetest.OpenSQLite(t), Clock: clk, IDs: ids.New(clk),
		Partners: map[contracts.Method]contracts.Partner{contracts.MethodPayPay: failing, other: healthy},
		Breaker:  BreakerConfig{ConsecutiveFailures: 3, OpenFor: time.Hour, TrialCalls: 1}})
	caller := Caller{ClientID: "pos", StoreID: "s"}
	n := 0
	create := func(m contracts.Method) (Response, error) {
		n++
		return h.CreatePayment(context.Background(), caller, idempotency.Key{Key: "k" + string(rune('a'+n)), Fingerprint: "f"},
			CreatePayment{Amount: contracts.Money{Amount: 100, Currency: contracts.JPY}, Method: m, Flow: contracts.FlowQR})
	}
	for i := 0; i < 3; i++ {
		if r, err := create(contracts.MethodPayPay); err != nil || r.Kind != contracts.AnswerCreated {
			t.Fatalf("call %d: %v %+v", i, err, r)
		}
	}
	_, err := create(contracts.MethodPayPay)
	if e, ok := contracts.AsError(err); !ok || e.Code != contracts.CodePartnerUnavailable {
		t.Fatalf("open breaker: want 503 partner_unavailable, got %v", err)
	}
	if failing.creates != 3 {
		t.Fatalf("the open breaker let %d calls through, want 3", failing.creates)
	}
	// A till retrying a known request learns its outcome, never "nothing was charged".
	r, err := h.CreatePayment(context.Background(), caller, idempotency.Key{Key: "kb", Fingerprint: "f"},
		CreatePayment{Amount: contracts.Money{Amount: 100, Currency: contracts.JPY}, Method: contracts.MethodPayPay, Flow: contracts.FlowQR})
	if err != nil || !r.Replayed {
		t.Fatalf("retry of the first request under an open breaker: %v %+v", err, r)
	}
	if r, err := create(other); err != nil || r.Kind != contracts.AnswerCreated {
		t.Fatalf("the other partner stopped working: %v %+v", err, r)
	}
}
