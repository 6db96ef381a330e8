package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/hub"
	simcore "payhub/mocks/sim"
)

// PayPay's rule for a payment whose answer was lost (docs/partners/paypay.md §8), end to end:
// the real adapter against the simulator, payhub and the simulator on one injected clock, the
// simulator's own cutoff deciding. The create's answer is dropped after PayPay took the money,
// and queries keep failing, so only the cancel or the refund can settle it.
func TestPayPayUnknownOutcomeRuleAgainstTheSimulator(t *testing.T) {
	cfg := hub.DefaultResolverConfig
	for name, c := range map[string]struct {
		// fenceAt is how long after the payment the resolver first reverses it.
		fenceAt               time.Duration
		status                contracts.Status
		reason                string
		refunded              int64
		partnerStatus         string
		partnerRefunded       int64
		queriesWorkAfterFence bool
	}{
		// Before the cutoff (00:14:59 JST the next day) the cancel is accepted.
		"cancel before the cutoff": {fenceAt: cfg.FenceAfter, status: contracts.StatusCanceled,
			reason: "unknown_outcome_reversed", partnerStatus: "FAILED"},
		// After it PayPay refuses the cancel; once the query shows the payment completed,
		// payhub refunds it in full.
		// (fenceAt -1: just past the cutoff.)
		"refund after the cutoff": {fenceAt: -1, status: contracts.StatusSucceeded, refunded: 900,
			partnerStatus: "REFUNDED", partnerRefunded: 900, queriesWorkAfterFence: true},
	} {
		t.Run(name, func(t *testing.T) {
			// The cutoff is 00:14:59 JST the day after the payment. The payment is made at noon
			// JST, so that the cutoff is 12 hours away whatever the hour the test runs (made
			// just after 00:15, the fence plus a backoff would pass the 24-hour budget).
			today := time.Now().In(contracts.JST)
			clk := simcore.NewManualClock(time.Date(today.Year(), today.Month(), today.Day(), 12, 0, 0, 0, contracts.JST))
			e := newEnvOnClock(t, nil, clk)
			if c.fenceAt < 0 {
				paid := clk.Now().In(contracts.JST)
				cutoff := time.Date(paid.Year(), paid.Month(), paid.Day()+1, 0, 15, 0, 0, contracts.JST)
				c.fenceAt = cutoff.Sub(paid) + time.Minute
			}
			if err := e.faults.Set([]simcore.FaultRule{
				{Method: "POST", PathPrefix: "/v2/payments", Probability: 1, Count: 1, Fault: simcore.Fault{Kind: simcore.FaultCommitThenDrop}},
				{Method: "GET", PathPrefix: "/v2/payments/", Probability: 1, Fault: simcore.Fault{Kind: simcore.FaultError, Status: 500}},
			}); err != nil {
				t.Fatal(err)
			}
			// minted at the payment: the clock moves on without the till
			tok := e.token(e.a, func(r *auth.TokenRequest) { r.IssuedAt = clk.Now() })
			r := e.do(http.MethodPost, "/v1/payments", tok, newKey(), barcodePayment(900, barcodeOK))
			id := r.json(t)["id"].(string)
			if r.json(t)["status"] != "unknown" {
				t.Fatalf("create: %s", r.body)
			}
			ctx := context.Background()
			resolve := func() {
				if _, err := e.app.Hub.ResolveOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			resolve() // the query fails: still unknown, nothing reversed
			if p, _ := e.app.Store.GetPayment(ctx, "", id); p.Status != contracts.StatusUnknown {
				t.Fatalf("after a failed query: %s", p.Status)
			}
			clk.Advance(c.fenceAt)
			resolve() // the query fails again; the fence decides
			if c.queriesWorkAfterFence {
				if err := e.faults.Set(nil); err != nil {
					t.Fatal(err)
				}
				clk.Advance(cfg.MaxBackoff)
				resolve()
			}
			p, _ := e.app.Store.GetPayment(ctx, "", id)
			refunds, _ := e.app.Store.ListRefunds(ctx, id)
			if p.Status != c.status || p.CancellationReason != c.reason || p.AmountRefunded != c.refunded {
				t.Fatalf("payment %s (%q) refunded %d; want %s (%q) %d", p.Status, p.CancellationReason, p.AmountRefunded, c.status, c.reason, c.refunded)
			}
			if c.refunded > 0 && (len(refunds) != 1 || refunds[0].Reason != "unknown_outcome_reversed" || refunds[0].Status != contracts.RefundSucceeded) {
				t.Fatalf("refunds %+v", refunds)
			}
			lp, _ := e.sim.Payment(id + "_1")
			if lp.Status != c.partnerStatus || lp.Refunded != c.partnerRefunded {
				t.Fatalf("simulator: %s refunded %d; want %s %d", lp.Status, lp.Refunded, c.partnerStatus, c.partnerRefunded)
			}
		})
	}
}
