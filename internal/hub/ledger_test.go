package hub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/ledger"
)

// TestLedgerProvisionalSuccessReversed: a provisional success posts its capture at once;
// when the partner reverses it the payment fails and the capture is reversed in the same
// transaction, so the partner's clearing account ends at zero and the check passes. A
// confirmation posts nothing more.
func TestLedgerProvisionalSuccessReversed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		later contracts.PaymentResult
		want  int64
	}{
		{"confirmed", contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}, 300},
		{"reversed", contracts.PaymentResult{Outcome: contracts.OutcomeFailed, FailureCode: "chip_write_failed"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := capsFixture(t, testCaps())
			f.partner.create = func(r contracts.PaymentRequest) contracts.PaymentResult {
				return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, Provisional: true, PartnerPaymentID: "NC1"}
			}
			r, err := f.hub.CreatePayment(ctx, f.caller, idem("p"), testPayment(300, contracts.JPY))
			if err != nil {
				t.Fatal(err)
			}
			id := decode(t, r)["id"].(string)
			if _, err := f.store.GetLedgerTransaction(ctx, "payment:"+id+":captured"); err != nil {
				t.Fatalf("the provisional success posted no capture: %v", err)
			}
			f.partner.get = func(contracts.PaymentRef) contracts.PaymentResult { return tc.later }
			f.clock.Advance(time.Hour)
			f.resolve(t)
			_, err = f.store.GetLedgerTransaction(ctx, "payment:"+id+":reversed")
			if reversed := err == nil; reversed != (tc.want == 0) || (err != nil && !errors.Is(err, contracts.ErrNotFound)) {
				t.Errorf("reversal posted: %v (%v)", reversed, err)
			}
			rep, err := ledger.Check(ctx, f.store, 1)
			if err != nil || !rep.OK() {
				t.Fatalf("check: %v %v", err, rep.Problems)
			}
			bs, err := f.store.ListLedgerBalances(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range bs {
				if got := ledger.Balance(b); got != tc.want {
					t.Errorf("%s = %d %s, want %d", b.Account, got, b.Currency, tc.want)
				}
			}
			if len(bs) != 2 {
				t.Errorf("balances: %+v", bs)
			}
		})
	}
}
