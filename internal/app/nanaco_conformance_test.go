package app

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"payhub/adapters/adaptertest"
	"payhub/adapters/nanaco"
	"payhub/contracts"
	nanacosim "payhub/mocks/nanaco"
	"payhub/mocks/sim"
)

// nanacoRig is the nanaco adapter pointed at the NCS simulator over HTTP, with a card
// issuer and a sequence allocator on the simulator's business date.
type nanacoRig struct {
	sim     *nanacosim.Simulator
	adapter *nanaco.Adapter
	clock   *sim.ManualClock
	faults  *sim.Faults
	seqs    atomic.Int64
	cards   atomic.Int64
}

const nanacoTerminal = "conf-store_till-1"

func newNanacoRig(t *testing.T, flags *nanacosim.Flags) *nanacoRig {
	t.Helper()
	const merchant, secret = "M0042", "conformance-nanaco-secret"
	r := &nanacoRig{clock: sim.NewManualClock(time.Date(2026, 11, 28, 10, 0, 0, 0, contracts.JST)), faults: sim.NewFaults(1)}
	r.sim = nanacosim.New(nanacosim.Config{MerchantID: merchant, Secret: secret, Clock: r.clock, Faults: r.faults, Flags: flags})
	srv := httptest.NewServer(r.sim)
	t.Cleanup(srv.Close)
	a, err := nanaco.New(nanaco.Config{BaseURL: srv.URL, MerchantID: merchant, Secret: secret, Now: r.clock.Now,
		Timeouts: nanaco.UniformTimeouts(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	r.adapter = a
	return r
}

// ref allocates the next sequence on the simulator's business date, as the engine would.
func (r *nanacoRig) ref() contracts.SequenceRef {
	return contracts.SequenceRef{Terminal: nanacoTerminal, BusinessDate: contracts.BusinessDate(r.clock.Now()), Seq: int(r.seqs.Add(1))}
}

// card issues a fresh card (numbers begin with 7000, docs/partners/nanaco.md §B8).
func (r *nanacoRig) card(t testing.TB, status string, balance int) nanacosim.CardState {
	t.Helper()
	st := nanacosim.CardState{NanacoNumber: fmt.Sprintf("7000%012d", 100_000+r.cards.Add(1)), Status: status, Balance: balance}
	if err := r.sim.PutCard(st); err != nil {
		t.Fatal(err)
	}
	st, _ = r.sim.Card(st.NanacoNumber)
	return st
}

// situation is a card in one of the conformance suite's situations, or nil.
func (r *nanacoRig) situation(t testing.TB, s string) *nanacosim.CardState {
	var st nanacosim.CardState
	switch s {
	case adaptertest.OK:
		st = r.card(t, nanacosim.CardActive, nanacosim.BalanceCap) // pays up to the cap
	case adaptertest.InsufficientFunds:
		st = r.card(t, nanacosim.CardActive, 300)
	case adaptertest.UserNotActive:
		st = r.card(t, nanacosim.CardSuspended, 10_000)
	case adaptertest.BarcodeInvalid:
		st = nanacosim.CardState{NanacoNumber: "7999999999999999", IDm: "01FFFFFFFFFFFFFF"} // no such card
	default:
		return nil // nanaco has nothing that expires
	}
	return &st
}

// TestNanacoAdapterConformance runs the adapter conformance suite against the NCS
// simulator over HTTP: barcode and card-present payments keyed by sequence refs, split
// tender, same-day cancels, re-credit refunds, and an inquiry that fences an unknown key.
func TestNanacoAdapterConformance(t *testing.T) {
	r := newNanacoRig(t, nil)
	adaptertest.Run(t, adaptertest.Harness{
		Partner: r.adapter,
		Barcode: func(t *testing.T, situation string) string {
			if st := r.situation(t, situation); st != nil {
				return st.NanacoNumber
			}
			return ""
		},
		PresentedCard: func(situation string) *contracts.PresentedCard {
			st := r.situation(t, situation)
			switch {
			case st == nil:
				return nil
			case situation == adaptertest.OK:
				return &contracts.PresentedCard{IDm: st.IDm} // the reader gave the IDm only
			}
			return &contracts.PresentedCard{Number: st.NanacoNumber, IDm: st.IDm}
		},
		SplitTender:     true,
		NotFoundIsFinal: true,
		FailureCodes: map[string]string{
			adaptertest.InsufficientFunds: nanaco.FailureInsufficientBalance,
			adaptertest.UserNotActive:     nanaco.FailureCardSuspended,
			adaptertest.BarcodeInvalid:    nanaco.FailureCardNotFound,
		},
		NewRef: func() string { return r.ref().String() },
		Now:    r.clock.Now,
	})
}

// nanacoPay pays amount from number under a fresh ref.
func (r *nanacoRig) pay(t *testing.T, number string, amount int64, want contracts.Outcome) (contracts.PaymentRequest, contracts.PaymentResult) {
	t.Helper()
	req := contracts.PaymentRequest{PartnerRef: r.ref().String(), Amount: contracts.Money{Amount: amount, Currency: contracts.JPY},
		Flow: contracts.FlowBarcode, Barcode: number, RequestedAt: r.clock.Now()}
	res := r.adapter.CreatePayment(context.Background(), req)
	if res.Outcome != want {
		t.Fatalf("CreatePayment outcome %q, want %q (%s %s: %s)", res.Outcome, want, res.PartnerCode, res.FailureCode, res.FailureMessage)
	}
	return req, res
}

func paidRef(req contracts.PaymentRequest, res contracts.PaymentResult) contracts.PaymentRef {
	return contracts.PaymentRef{PartnerRef: req.PartnerRef, PartnerPaymentID: res.PartnerPaymentID, Flow: req.Flow,
		Amount: req.Amount, Status: contracts.StatusSucceeded, CreatedAt: req.RequestedAt}
}

// TestNanacoAdapterSimulator covers what the shared suite does not: unknown outcomes and
// their resolution (§B6), pending chip writes, the cancel fallbacks and the nanaco-only
// operations, against the simulator over HTTP.
func TestNanacoAdapterSimulator(t *testing.T) {
	ctx := context.Background()

	t.Run("CommitThenDropIsUnknownThenReplayed", func(t *testing.T) {
		r := newNanacoRig(t, nil)
		st := r.card(t, nanacosim.CardActive, 10_000)
		if err := r.faults.Set([]sim.FaultRule{{PathPrefix: "/ncs/v1/payments", Probability: 1, Count: 1,
			Fault: sim.Fault{Kind: sim.FaultCommitThenDrop}}}); err != nil {
			t.Fatal(err)
		}
		req, _ := r.pay(t, st.NanacoNumber, 1_000, contracts.OutcomeUnknown)
		// The identical request again is replayed: the same payment, no second debit.
		res := r.adapter.CreatePayment(ctx, req)
		if res.Outcome != contracts.OutcomeSucceeded || res.PartnerPaymentID == "" {
			t.Fatalf("resend: %+v", res)
		}
		if c, _ := r.sim.Card(st.NanacoNumber); c.Balance != 9_000 {
			t.Fatalf("balance %d after one payment of ¥1,000", c.Balance)
		}
		if got := r.adapter.GetPayment(ctx, contracts.PaymentRef{PartnerRef: req.PartnerRef}); got.Outcome != contracts.OutcomeSucceeded ||
			got.PartnerPaymentID != res.PartnerPaymentID {
			t.Fatalf("inquiry: %+v", got)
		}
	})

	t.Run("LostAnswerThenCancelWithoutPaymentID", func(t *testing.T) {
		r := newNanacoRig(t, nil)
		st := r.card(t, nanacosim.CardActive, 10_000)
		_ = r.faults.Set([]sim.FaultRule{{PathPrefix: "/ncs/v1/payments", Probability: 1, Count: 1, Fault: sim.Fault{Kind: sim.FaultCommitThenDrop}}})
		req, _ := r.pay(t, st.NanacoNumber, 2_500, contracts.OutcomeUnknown)
		lost := contracts.PaymentRef{PartnerRef: req.PartnerRef, Flow: req.Flow, Amount: req.Amount, Status: contracts.StatusUnknown}
		for range 2 {
			if c := r.adapter.CancelPayment(ctx, lost); c.Outcome != contracts.OutcomeSucceeded {
				t.Fatalf("cancel: %+v", c)
			}
		}
		if got := r.adapter.GetPayment(ctx, lost); got.Outcome != contracts.OutcomeCanceled {
			t.Fatalf("after cancel: %+v", got)
		}
		if c, _ := r.sim.Card(st.NanacoNumber); c.Balance != 10_000 {
			t.Fatalf("balance %d after the cancel", c.Balance)
		}
	})

	t.Run("NeverArrivedIsFencedByCancel", func(t *testing.T) {
		r := newNanacoRig(t, nil)
		st := r.card(t, nanacosim.CardActive, 10_000)
		ref := r.ref().String()
		if c := r.adapter.CancelPayment(ctx, contracts.PaymentRef{PartnerRef: ref}); c.Outcome != contracts.OutcomeSucceeded {
			t.Fatalf("cancel of a payment that never arrived: %+v", c)
		}
		req := contracts.PaymentRequest{PartnerRef: ref, Amount: contracts.Money{Amount: 100, Currency: contracts.JPY},
			Flow: contracts.FlowBarcode, Barcode: st.NanacoNumber}
		if res := r.adapter.CreatePayment(ctx, req); res.Outcome != contracts.OutcomeFailed || res.PartnerCode != "SEQ_FENCED" ||
			res.FailureCode != nanaco.FailureNotProcessed {
			t.Fatalf("late payment under a fenced key: %+v", res)
		}
	})

	t.Run("ErrorsAndOutages", func(t *testing.T) {
		r := newNanacoRig(t, nil)
		st := r.card(t, nanacosim.CardActive, 10_000)
		for _, c := range []struct {
			fault sim.Fault
			want  contracts.Outcome
			code  string // of a definite refusal
		}{
			{sim.Fault{Kind: sim.FaultError, Status: 500}, contracts.OutcomeUnknown, ""},
			{sim.Fault{Kind: sim.FaultError, Status: 504}, contracts.OutcomeUnknown, ""},
			{sim.Fault{Kind: sim.FaultError, Status: 502}, contracts.OutcomeUnknown, ""},
			{sim.Fault{Kind: sim.FaultReset}, contracts.OutcomeUnknown, ""},
			{sim.Fault{Kind: sim.FaultCommitThenError, Status: 500}, contracts.OutcomeUnknown, ""},
			{sim.Fault{Kind: sim.FaultError, Status: 503}, contracts.OutcomeFailed, "CENTER_MAINTENANCE"},
			{sim.Fault{Kind: sim.FaultError, Status: 429}, contracts.OutcomeFailed, "RATE_LIMITED"},
		} {
			_ = r.faults.Set([]sim.FaultRule{{PathPrefix: "/ncs/v1/payments", Probability: 1, Count: 1, Fault: c.fault}})
			_, res := r.pay(t, st.NanacoNumber, 100, c.want)
			if c.want == contracts.OutcomeFailed && (res.PartnerCode != c.code || res.FailureCode != contracts.FailurePartnerUnavailable) {
				t.Errorf("%+v: %+v", c.fault, res)
			}
		}
		r.faults.Clear()
		_, res := r.pay(t, "7000000000000003", 100, contracts.OutcomeFailed)
		if res.FailureCode != nanaco.FailureCardSuspended {
			t.Errorf("suspended: %+v", res)
		}
		for number, code := range map[string]string{"7000000000000004": nanaco.FailureCardLost,
			"7000000000000005": nanaco.FailureCardMigrated, "7000000000000008": nanaco.FailureCardClosed} {
			if _, res := r.pay(t, number, 100, contracts.OutcomeFailed); res.FailureCode != code {
				t.Errorf("%s: %+v, want %s", number, res, code)
			}
		}
	})

	t.Run("PendingChipWriteReversed", func(t *testing.T) {
		flags := nanacosim.DefaultFlags()
		flags.PendingChipWrite = true
		r := newNanacoRig(t, &flags)
		st := r.card(t, nanacosim.CardActive, 10_000)
		req, res := r.pay(t, st.NanacoNumber, 1_000, contracts.OutcomeSucceeded)
		if res.PartnerCode != "PENDING_CONFIRMATION" {
			t.Fatalf("%+v", res)
		}
		if err := r.sim.SettlePending(res.PartnerPaymentID, false); err != nil {
			t.Fatal(err)
		}
		if got := r.adapter.GetPayment(ctx, paidRef(req, res)); got.Outcome != contracts.OutcomeFailed || got.FailureCode != nanaco.FailureChipWriteFailed {
			t.Fatalf("after reversal: %+v", got)
		}
	})

	t.Run("InProgressIsUnknown", func(t *testing.T) {
		r := newNanacoRig(t, nil)
		k := r.ref()
		if err := r.sim.MarkInProgress(k.Terminal, k.BusinessDate, k.Seq); err != nil {
			t.Fatal(err)
		}
		if got := r.adapter.GetPayment(ctx, contracts.PaymentRef{PartnerRef: k.String()}); got.Outcome != contracts.OutcomeUnknown {
			t.Fatalf("%+v", got)
		}
	})

	t.Run("CancelFallsBackToRefund", func(t *testing.T) {
		flags := nanacosim.DefaultFlags()
		r := newNanacoRig(t, &flags)
		st := r.card(t, nanacosim.CardActive, 10_000)
		req, res := r.pay(t, st.NanacoNumber, 1_200, contracts.OutcomeSucceeded)
		p := paidRef(req, res)
		r.clock.Advance(24 * time.Hour) // the next business date
		// The cancel's key carries the payment's date, which is no longer the centre's.
		if c := r.adapter.CancelPayment(ctx, p); c.Outcome != contracts.OutcomeWindowPassed || c.PartnerCode != "BUSINESS_DATE_INVALID" {
			t.Fatalf("next-day cancel: %+v", c)
		}
		refund := contracts.RefundRequest{PartnerRef: r.ref().String(), Payment: p, Amount: req.Amount, Reason: "till abandoned"}
		if got := r.adapter.Refund(ctx, refund); got.Outcome != contracts.OutcomeSucceeded || got.PartnerRefundID == "" {
			t.Fatalf("refund: %+v", got)
		}
		if c, _ := r.sim.Card(st.NanacoNumber); c.Balance != 10_000 {
			t.Fatalf("balance %d after the re-credit", c.Balance)
		}
		// A terminal that cannot cancel: window passed as well.
		flags.CancelSupported = false
		r.sim.SetFlags(flags)
		req, res = r.pay(t, st.NanacoNumber, 100, contracts.OutcomeSucceeded)
		if c := r.adapter.CancelPayment(ctx, paidRef(req, res)); c.Outcome != contracts.OutcomeWindowPassed {
			t.Fatalf("cancel unsupported: %+v", c)
		}
	})

	t.Run("RefundWithoutPaymentID", func(t *testing.T) {
		r := newNanacoRig(t, nil)
		st := r.card(t, nanacosim.CardActive, 10_000)
		req, _ := r.pay(t, st.NanacoNumber, 3_000, contracts.OutcomeSucceeded)
		p := contracts.PaymentRef{PartnerRef: req.PartnerRef, Amount: req.Amount}
		refund := contracts.RefundRequest{PartnerRef: r.ref().String(), Payment: p, Amount: contracts.Money{Amount: 1_000, Currency: contracts.JPY}}
		a, b := r.adapter.Refund(ctx, refund), r.adapter.Refund(ctx, refund)
		if a.Outcome != contracts.OutcomeSucceeded || b.PartnerRefundID != a.PartnerRefundID {
			t.Fatalf("refund %+v, replay %+v", a, b)
		}
		if c, _ := r.sim.Card(st.NanacoNumber); c.Balance != 8_000 {
			t.Fatalf("balance %d", c.Balance)
		}
	})

	t.Run("BalanceTopUpTransfer", func(t *testing.T) {
		r := newNanacoRig(t, nil)
		st := r.card(t, nanacosim.CardActive, 10_000)
		card := contracts.PresentedCard{IDm: st.IDm}
		if b := r.adapter.Balance(ctx, nanacoTerminal, card, false); b.Outcome != contracts.OutcomeSucceeded || b.Balance != 10_000 || b.MaxChargeable != 40_000 {
			t.Fatalf("balance: %+v", b)
		}
		top := r.ref()
		up := r.adapter.TopUp(ctx, top, card, 3_000, nanaco.FundingCash)
		if up.Outcome != contracts.OutcomeSucceeded || up.BalanceAfter != 13_000 || up.CreditedTo != nanaco.CreditedToBalance {
			t.Fatalf("top-up: %+v", up)
		}
		if again := r.adapter.TopUp(ctx, top, card, 3_000, nanaco.FundingCash); again.CenterTxnID != up.CenterTxnID {
			t.Fatalf("top-up replay: %+v", again)
		}
		if bad := r.adapter.TopUp(ctx, r.ref(), card, 1_500, nanaco.FundingCash); bad.Outcome != contracts.OutcomeFailed || bad.PartnerCode != "AMOUNT_NOT_MULTIPLE_OF_1000" {
			t.Fatalf("odd cash top-up: %+v", bad)
		}
		if c := r.adapter.CancelTopUp(ctx, top, ""); c.Outcome != contracts.OutcomeSucceeded || c.BalanceAfter != 10_000 {
			t.Fatalf("cancel top-up: %+v", c)
		}
		if q := r.adapter.Inquire(ctx, top); q.Outcome != contracts.OutcomeSucceeded || !q.Found || q.Status != "CANCELLED" || q.Type != "CHARGE" {
			t.Fatalf("inquire: %+v", q)
		}
		mig := contracts.SequenceRef{Terminal: "MIG-batch-1", BusinessDate: contracts.BusinessDate(r.clock.Now()), Seq: 1}
		over := r.adapter.Transfer(ctx, mig, st.NanacoNumber, 60_000, "batch-1/row-1", false)
		if over.Outcome != contracts.OutcomeFailed || over.FailureCode != nanaco.FailureBalanceCapExceeded || over.CenterHeldRoom != 50_000 {
			t.Fatalf("transfer over the cap: %+v", over)
		}
		mig.Seq = 2
		tr := r.adapter.Transfer(ctx, mig, st.NanacoNumber, 60_000, "batch-1/row-1", true)
		if tr.Outcome != contracts.OutcomeSucceeded || tr.Amount != 50_000 || tr.CreditedTo != nanaco.CreditedToCenterHeld {
			t.Fatalf("partial transfer: %+v", tr)
		}
		if c := r.adapter.CancelTransfer(ctx, mig, tr.CenterTxnID); c.Outcome != contracts.OutcomeSucceeded || c.CenterHeldAfter != 0 {
			t.Fatalf("cancel transfer: %+v", c)
		}
		if tr := r.adapter.Transfer(ctx, r.ref(), st.NanacoNumber, 100, "x", false); tr.Outcome != contracts.OutcomeFailed ||
			tr.FailureCode != nanaco.FailurePartnerConfig {
			t.Fatalf("transfer from a till: %+v", tr)
		}
	})
}
