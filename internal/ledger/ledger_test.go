package ledger_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/ledger"
	"payhub/internal/store/storetest"
)

var at = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func payment(status contracts.Status, captured int64) contracts.Payment {
	return contracts.Payment{ID: "pay_1", StoreID: "store-1", Method: contracts.MethodCard, Status: status,
		Amount: contracts.Money{Amount: 1000, Currency: contracts.JPY}, AmountCaptured: captured, EventSequence: 4}
}

// entries renders a transaction's lines as "Dr account amount" / "Cr account amount".
func entries(t contracts.LedgerTransaction) string {
	var b strings.Builder
	for _, e := range t.Entries {
		if e.Debit > 0 {
			b.WriteString("Dr " + e.Account + " " + contracts.Money{Amount: e.Debit, Currency: e.Currency}.String() + "; ")
		} else {
			b.WriteString("Cr " + e.Account + " " + contracts.Money{Amount: e.Credit, Currency: e.Currency}.String() + "; ")
		}
	}
	return t.ID + ": " + b.String()
}

func TestForPayment(t *testing.T) {
	for name, c := range map[string]struct {
		before, after contracts.Payment
		want          string
	}{
		"authorized":        {payment(contracts.StatusProcessing, 0), payment(contracts.StatusAuthorized, 0), ""},
		"declined":          {payment(contracts.StatusProcessing, 0), payment(contracts.StatusFailed, 0), ""},
		"taken":             {payment(contracts.StatusProcessing, 0), payment(contracts.StatusSucceeded, 1000), "payment:pay_1:captured: Dr partner_clearing:gmopg 1000 JPY; Cr store_receivable:store-1 1000 JPY; "},
		"partial capture":   {payment(contracts.StatusAuthorized, 0), payment(contracts.StatusSucceeded, 600), "payment:pay_1:captured: Dr partner_clearing:gmopg 600 JPY; Cr store_receivable:store-1 600 JPY; "},
		"canceled after":    {payment(contracts.StatusSucceeded, 600), payment(contracts.StatusCanceled, 600), "payment:pay_1:reversed: Dr store_receivable:store-1 600 JPY; Cr partner_clearing:gmopg 600 JPY; "},
		"provisional fails": {payment(contracts.StatusSucceeded, 1000), payment(contracts.StatusFailed, 0), "payment:pay_1:reversed: Dr store_receivable:store-1 1000 JPY; Cr partner_clearing:gmopg 1000 JPY; "},
		"lost capture learnt": {payment(contracts.StatusSucceeded, 0), payment(contracts.StatusSucceeded, 700),
			"payment:pay_1:captured: Dr partner_clearing:gmopg 700 JPY; Cr store_receivable:store-1 700 JPY; "},
		"adjusted down": {payment(contracts.StatusSucceeded, 1000), payment(contracts.StatusSucceeded, 700),
			"payment:pay_1:adjusted:4:1000>700: Dr store_receivable:store-1 300 JPY; Cr partner_clearing:gmopg 300 JPY; "},
		"bookkeeping": {payment(contracts.StatusSucceeded, 1000), payment(contracts.StatusSucceeded, 1000), ""},
	} {
		t.Run(name, func(t *testing.T) {
			lt, ok := ledger.ForPayment(c.before, c.after, at)
			got := ""
			if ok {
				got = entries(lt)
				if err := lt.Validate(); err != nil {
					t.Error(err)
				}
			}
			if got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestForRefundAndTopUp(t *testing.T) {
	r := contracts.Refund{ID: "re_1", PaymentID: "pay_1", StoreID: "store-1", Amount: contracts.Money{Amount: 30000, Currency: contracts.TWD}}
	pending, done := r, r
	pending.Status, done.Status = contracts.RefundPending, contracts.RefundSucceeded
	if _, ok := ledger.ForRefund(contracts.MethodLinePay, pending, pending, at); ok {
		t.Error("a pending refund posted")
	}
	if _, ok := ledger.ForRefund(contracts.MethodLinePay, done, done, at); ok {
		t.Error("a succeeded refund posted twice")
	}
	lt, _ := ledger.ForRefund(contracts.MethodLinePay, pending, done, at)
	if got := entries(lt); got != "refund:re_1:succeeded: Dr store_receivable:store-1 30000 TWD; Cr partner_clearing:linepay 30000 TWD; " {
		t.Errorf("refund: %s", got)
	}

	tu := contracts.TopUp{ID: "tu_1", StoreID: "store-1", Method: contracts.MethodNanaco, Funding: contracts.FundingPoints,
		Amount: contracts.Money{Amount: 100, Currency: contracts.JPY}}
	state := func(s contracts.TopUpStatus) contracts.TopUp { x := tu; x.Status = s; return x }
	lt, _ = ledger.ForTopUp(state(contracts.TopUpUnknown), state(contracts.TopUpSucceeded), at)
	if got := entries(lt); got != "top_up:tu_1:succeeded: Dr points_redeemed:nanaco 100 JPY; Cr stored_value_issued:nanaco 100 JPY; " {
		t.Errorf("top-up: %s", got)
	}
	lt, _ = ledger.ForTopUp(state(contracts.TopUpSucceeded), state(contracts.TopUpCanceled), at)
	if got := entries(lt); got != "top_up:tu_1:canceled: Dr stored_value_issued:nanaco 100 JPY; Cr points_redeemed:nanaco 100 JPY; " {
		t.Errorf("top-up cancel: %s", got)
	}
	if _, ok := ledger.ForTopUp(state(contracts.TopUpUnknown), state(contracts.TopUpCanceled), at); ok {
		t.Error("a top-up found cancelled by the inquiry posted")
	}
}

// fakeLedgerTx records what is posted.
type fakeLedgerTx struct{ posted []contracts.LedgerTransaction }

func (f *fakeLedgerTx) PostLedger(_ context.Context, t contracts.LedgerTransaction) error {
	f.posted = append(f.posted, t)
	return nil
}

func TestPostRefusesUnbalanced(t *testing.T) {
	lt := ledger.PaymentCaptured(payment(contracts.StatusSucceeded, 1000), 1000, at)
	lt.Entries[1].Credit = 999
	var f fakeLedgerTx
	if err := ledger.Post(context.Background(), &f, lt); !errors.Is(err, contracts.ErrLedgerUnbalanced) || len(f.posted) != 0 {
		t.Errorf("Post(unbalanced) = %v, posted %d", err, len(f.posted))
	}
	// Balanced in total, not per currency.
	lt = ledger.PaymentCaptured(payment(contracts.StatusSucceeded, 1000), 1000, at)
	lt.Entries[1].Currency = contracts.THB
	if err := ledger.Post(context.Background(), &f, lt); !errors.Is(err, contracts.ErrLedgerUnbalanced) {
		t.Errorf("Post(mixed currencies) = %v", err)
	}
}

func TestChartOfAccounts(t *testing.T) {
	for account, c := range map[string]struct{ debitNormal, nonNegative bool }{
		ledger.PartnerClearing("paypay"):        {true, true},
		ledger.StoreReceivable("store-1"):       {false, false},
		ledger.StoredValueIssued("nanaco"):      {false, true},
		ledger.PointsRedeemed("nanaco"):         {true, true},
		ledger.MigrationInTransit("nanaco"):     {true, true},
		ledger.RetiredWalletLiability:           {false, true},
		ledger.BankRefundPayable:                {false, true},
		ledger.CompensationExpense:              {true, false},
		ledger.CompensationInTransit("nanaco"):  {false, true},
		ledger.CompensationRecredited("nanaco"): {false, true},
	} {
		if ledger.DebitNormal(account) != c.debitNormal || ledger.MustNotGoNegative(account) != c.nonNegative {
			t.Errorf("%s: debit-normal %v, never negative %v", account, ledger.DebitNormal(account), ledger.MustNotGoNegative(account))
		}
	}
}

// TestCheckFindsANegativeAccount: a refund posted beyond what was captured (as a bug
// would) drives the partner's clearing account negative, and the check names it.
func TestCheckFindsANegativeAccount(t *testing.T) {
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	r := contracts.Refund{ID: "re_x", StoreID: "store-1", Amount: contracts.Money{Amount: 500, Currency: contracts.JPY}}
	err := st.InTx(ctx, func(tx contracts.Tx) error {
		return ledger.Post(ctx, tx, ledger.RefundSucceeded(contracts.MethodPayPay, r, at))
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ledger.Check(ctx, st, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"account partner_clearing:paypay is negative: -500 JPY",
		"account partner_clearing:paypay: ledger balance -500 JPY, payments, refunds and top-ups say 0 JPY",
		"account store_receivable:store-1: ledger balance -500 JPY, payments, refunds and top-ups say 0 JPY",
	}
	if strings.Join(rep.Problems, "\n") != strings.Join(want, "\n") || rep.OK() {
		t.Errorf("problems:\n%s", strings.Join(rep.Problems, "\n"))
	}
}
