package main

import (
	"bytes"
	"context"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	paypaysim "payhub/mocks/paypay"
	"payhub/mocks/sim"
)

func TestCrashFaultSpecFaultsTheRateInEqualShares(t *testing.T) {
	rules, err := sim.ParseFaultFlag(crashFaultSpec(0.1))
	if err != nil {
		t.Fatal(err)
	}
	k := len(crashFaultKinds)
	if len(rules) != k*len(crashFaultPrefixes) {
		t.Fatalf("%d rules, want %d", len(rules), k*len(crashFaultPrefixes))
	}
	// Per partner prefix, the chance that rule i fires is its probability times the
	// chance no earlier one did.
	for i, prefix := range crashFaultPrefixes {
		none := 1.0
		for _, r := range rules[i*k : (i+1)*k] {
			if got := none * r.Probability; math.Abs(got-0.1/6) > 1e-5 {
				t.Errorf("%s fires for %.5f of calls, want %.5f", r.Fault.Kind, got, 0.1/6)
			}
			none *= 1 - r.Probability
			if r.PathPrefix != prefix || r.Method != "" {
				t.Errorf("rule %+v does not cover every call under %s", r, prefix)
			}
		}
	}
	// And the engine agrees: about one call in ten is faulted.
	f := sim.NewFaults(7)
	if err := f.Set(rules); err != nil {
		t.Fatal(err)
	}
	const calls = 100000
	faulted := 0
	for range calls {
		if _, ok := f.Decide("POST", "/v2/payments"); ok {
			faulted++
		}
	}
	if share := float64(faulted) / calls; share < 0.095 || share > 0.105 {
		t.Fatalf("faulted %.4f of calls, want about 0.1", share)
	}
	if crashFaultSpec(0) != "" {
		t.Fatal("rate 0 must inject nothing")
	}
}

func TestLoadPlanHandsOutEveryJobAndNeverOverRefunds(t *testing.T) {
	plan := newLoadPlan(crashConfig{Payments: 50, Refunds: 80, Seed: 3, ManualShare: 0.3, LinePayShare: 0.4})
	ctx := context.Background()
	payments, refunds, linepay := 0, 0, 0
	refunded := map[string]int64{}
	captured := map[string]int64{}
	for {
		j, ok := plan.next(ctx)
		if !ok {
			break
		}
		if j.target == nil {
			payments++
			id := "pay_" + strconv.Itoa(j.n)
			amount := j.amount
			if j.linepay {
				linepay++
			}
			if j.amount%j.step() != 0 || j.capture%j.step() != 0 {
				t.Fatalf("amount %d / capture %d not in whole units of %d", j.amount, j.capture, j.step())
			}
			if j.capture > 0 {
				if j.capture > j.amount {
					t.Fatalf("capture %d above amount %d", j.capture, j.amount)
				}
				amount = j.capture
			}
			captured[id] = amount
			plan.done(j, &refundable{id: id, left: amount, step: j.step()})
			continue
		}
		refunds++
		if j.amount < 1 || j.amount > j.target.left || j.amount%j.target.step != 0 {
			t.Fatalf("refund of %d with %d left (unit %d)", j.amount, j.target.left, j.target.step)
		}
		refunded[j.target.id] += j.amount
		j.target.left -= j.amount
		plan.done(j, nil)
	}
	if payments != 50 || refunds != 80 {
		t.Fatalf("%d payments, %d refunds handed out; want 50, 80", payments, refunds)
	}
	if linepay < 10 || linepay > 30 {
		t.Fatalf("%d of 50 payments with LINE Pay, want about 20", linepay)
	}
	for id, n := range refunded {
		if n > captured[id] {
			t.Fatalf("%s refunded %d of %d", id, n, captured[id])
		}
	}
	if plan.completed.Load() != 130 {
		t.Fatalf("completed %d, want 130", plan.completed.Load())
	}
}

func TestLoadPlanStopsWhenNothingIsLeftToRefund(t *testing.T) {
	plan := newLoadPlan(crashConfig{Payments: 3, Refunds: 5, Seed: 1})
	for {
		j, ok := plan.next(context.Background())
		if !ok {
			break
		}
		plan.done(j, nil) // every payment failed: nothing to refund
	}
	if plan.refundsLeft != 5 {
		t.Fatalf("refunds left %d, want 5", plan.refundsLeft)
	}
}

// reconcile fixtures: one payhub payment and the partner's view of it.
func succeededRecord(id string, amount int64, refunds ...contracts.Refund) payhubRecord {
	p := contracts.Payment{ID: id, Status: contracts.StatusSucceeded, Amount: contracts.Money{Amount: amount, Currency: "JPY"},
		AmountCaptured: amount, CaptureMethod: contracts.CaptureAutomatic, PartnerRef: id + "_1"}
	for _, r := range refunds {
		if r.Status == contracts.RefundSucceeded {
			p.AmountRefunded += r.Amount.Amount
		}
	}
	return payhubRecord{Payment: p, Refunds: refunds,
		Attempts: []contracts.Attempt{{ID: "att_" + id, PaymentID: id, Operation: contracts.OpPay, Outcome: contracts.OutcomeSucceeded}}}
}

func payhubRefund(id string, amount int64, status contracts.RefundStatus) contracts.Refund {
	return contracts.Refund{ID: id, Amount: contracts.Money{Amount: amount, Currency: "JPY"}, Status: status, PartnerRef: id}
}

func paypayEntry(mpid, status string, amount int64, refunds ...paypaysim.LedgerRefund) paypaysim.LedgerPayment {
	lp := paypaysim.LedgerPayment{MerchantPaymentID: mpid, Status: status, Amount: amount, Refunds: refunds}
	for _, r := range refunds {
		lp.Refunded += r.Amount
	}
	return lp
}

func paypayRefund(id string, amount int64) paypaysim.LedgerRefund {
	return paypaysim.LedgerRefund{MerchantRefundID: id, Status: paypaysim.RefundRefunded, Amount: amount}
}

func TestReconcile(t *testing.T) {
	failed := func(id string) payhubRecord {
		r := succeededRecord(id, 500)
		r.Payment.Status, r.Payment.AmountCaptured = contracts.StatusFailed, 0
		return r
	}
	withStatus := func(r payhubRecord, s contracts.Status) payhubRecord {
		r.Payment.Status = s
		return r
	}
	cases := []struct {
		name    string
		records []payhubRecord
		ledger  []paypaysim.LedgerPayment
		want    crashCounts // only the verdict counters are compared
	}{
		{name: "agreeing records",
			records: []payhubRecord{
				succeededRecord("pay_A", 1000, payhubRefund("re_1", 300, contracts.RefundSucceeded), payhubRefund("re_2", 50, contracts.RefundFailed)),
				failed("pay_B"),
			},
			ledger: []paypaysim.LedgerPayment{
				paypayEntry("pay_A_1", paypaysim.StatusCompleted, 1000, paypayRefund("re_1", 300)),
				paypayEntry("pay_B_1", paypaysim.StatusFailed, 500),
				paypayEntry("pay_B_2", paypaysim.StatusCanceled, 500),
			}},
		{name: "two partner payments completed",
			records: []payhubRecord{succeededRecord("pay_A", 1000)},
			ledger: []paypaysim.LedgerPayment{
				paypayEntry("pay_A_1", paypaysim.StatusCompleted, 1000),
				paypayEntry("pay_A_2", paypaysim.StatusCompleted, 1000),
			},
			want: crashCounts{ChargedTwice: 1}},
		{name: "partner money without a payhub payment",
			ledger: []paypaysim.LedgerPayment{paypayEntry("pay_Z_1", paypaysim.StatusCompleted, 700)},
			want:   crashCounts{Lost: 1}},
		{name: "payhub success the partner does not have",
			records: []payhubRecord{succeededRecord("pay_A", 1000)},
			ledger:  []paypaysim.LedgerPayment{paypayEntry("pay_A_1", paypaysim.StatusFailed, 1000)},
			want:    crashCounts{Lost: 1}},
		{name: "partner refund payhub does not know",
			records: []payhubRecord{succeededRecord("pay_A", 1000, payhubRefund("re_1", 300, contracts.RefundSucceeded))},
			ledger: []paypaysim.LedgerPayment{paypayEntry("pay_A_1", paypaysim.StatusCompleted, 1000,
				paypayRefund("re_1", 300), paypayRefund("re_X", 300))},
			want: crashCounts{RefundsDuplicated: 1, Mismatches: 1}},
		{name: "partner refunded what payhub says failed",
			records: []payhubRecord{succeededRecord("pay_A", 1000, payhubRefund("re_1", 300, contracts.RefundFailed))},
			ledger: []paypaysim.LedgerPayment{paypayEntry("pay_A_1", paypaysim.StatusCompleted, 1000,
				paypayRefund("re_1", 300))},
			want: crashCounts{RefundsDuplicated: 1, Mismatches: 1}},
		{name: "failed payment whose money the partner kept",
			records: []payhubRecord{failed("pay_B")},
			ledger:  []paypaysim.LedgerPayment{paypayEntry("pay_B_1", paypaysim.StatusCompleted, 500)},
			want:    crashCounts{Mismatches: 1}},
		{name: "canceled payment fully refunded at the partner",
			records: []payhubRecord{withStatus(succeededRecord("pay_B", 500), contracts.StatusCanceled)},
			ledger: []paypaysim.LedgerPayment{paypayEntry("pay_B_1", paypaysim.StatusRefunded, 500,
				paypayRefund("re_9", 500))},
			want: crashCounts{RefundsDuplicated: 1}}, // re_9 is not payhub's: still reported
		{name: "captured amount differs",
			records: func() []payhubRecord {
				r := succeededRecord("pay_M", 1000)
				r.Payment.CaptureMethod, r.Payment.AmountCaptured = contracts.CaptureManual, 0
				return []payhubRecord{r}
			}(),
			ledger: func() []paypaysim.LedgerPayment {
				lp := paypayEntry("pay_M_1", paypaysim.StatusCompleted, 1000)
				lp.PreAuthorization, lp.Captured = true, 800
				return []paypaysim.LedgerPayment{lp}
			}(),
			want: crashCounts{Mismatches: 1}},
		{name: "open payment and refund",
			records: []payhubRecord{
				withStatus(succeededRecord("pay_U", 1000), contracts.StatusUnknown),
				succeededRecord("pay_R", 1000, payhubRefund("re_1", 100, contracts.RefundPending)),
			},
			ledger: []paypaysim.LedgerPayment{
				paypayEntry("pay_U_1", paypaysim.StatusCompleted, 1000),
				paypayEntry("pay_R_1", paypaysim.StatusCompleted, 1000),
			},
			want: crashCounts{Unresolved: 2}},
		{name: "capture that never finished",
			records: func() []payhubRecord {
				r := withStatus(succeededRecord("pay_C", 1000), contracts.StatusAuthorized)
				r.Attempts = append(r.Attempts, contracts.Attempt{ID: "att_c", Operation: contracts.OpCapture, PartnerRef: "pay_C_c1"})
				return []payhubRecord{r}
			}(),
			ledger: []paypaysim.LedgerPayment{paypayEntry("pay_C_1", paypaysim.StatusCompleted, 1000)},
			want:   crashCounts{Unresolved: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ledger := make([]partnerPayment, len(tc.ledger))
			for i, lp := range tc.ledger {
				ledger[i] = fromPayPay(lp)
			}
			got := reconcile(tc.records, ledger)
			if got.Lost != tc.want.Lost || got.ChargedTwice != tc.want.ChargedTwice || got.RefundsDuplicated != tc.want.RefundsDuplicated ||
				got.Unresolved != tc.want.Unresolved || got.Mismatches != tc.want.Mismatches {
				t.Fatalf("lost %d, twice %d, duplicated %d, unresolved %d, mismatches %d; want %d %d %d %d %d\n%s",
					got.Lost, got.ChargedTwice, got.RefundsDuplicated, got.Unresolved, got.Mismatches,
					tc.want.Lost, tc.want.ChargedTwice, tc.want.RefundsDuplicated, tc.want.Unresolved, tc.want.Mismatches,
					strings.Join(got.Problems, "\n"))
			}
			if got.failed() != (len(got.Problems) > 0) {
				t.Fatalf("failed() %v with problems %q", got.failed(), got.Problems)
			}
		})
	}
}

// TestCrashHarnessSmall builds payhub and runs the crash harness at a small size: real
// processes, real SIGKILLs, faults on a tenth of the partner calls.
func TestCrashHarnessSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and kills them; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "payhub")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "crashtest", "--payments", "60", "--refunds", "15", "--kills", "2",
		"--workers", "6", "--seed", "7", "--window", "90s")
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("crashtest output:\n%s", out.String())
	if err != nil {
		t.Fatalf("crashtest: %v", err)
	}
	report := out.String()
	for line, want := range map[string]string{
		"payments created": "60", "kills": "2",
		"payments lost": "0", "charged twice": "0", "refunds duplicated": "0", "unresolved": "0", "amount mismatches": "0",
	} {
		m := regexp.MustCompile(`(?m)^` + line + `:\s+(\d+)`).FindStringSubmatch(report)
		if m == nil || m[1] != want {
			t.Errorf("%s: got %v, want %s", line, m, want)
		}
	}
	m := regexp.MustCompile(`(?m)^refunds created:\s+(\d+)`).FindStringSubmatch(report)
	if m == nil || m[1] == "0" {
		t.Errorf("refunds created: got %v, want some", m)
	}
	m = regexp.MustCompile(`(?m)^faults injected:\s+(\d+)`).FindStringSubmatch(report)
	if m == nil || m[1] == "0" {
		t.Errorf("faults injected: got %v, want some", m)
	}
}

// A partner without refund ids (LINE Pay) reconciles refunds by count and amounts.
func TestReconcileRefundsWithoutPartnerIDs(t *testing.T) {
	rec := succeededRecord("pay_L", 1000, payhubRefund("re_1", 300, contracts.RefundSucceeded), payhubRefund("re_2", 100, contracts.RefundFailed))
	entry := func(refunds ...int64) partnerPayment {
		lp := partnerPayment{PartnerRef: "pay_L_1", Status: "CAPTURE", Amount: 1000, Charged: 1000}
		for i, a := range refunds {
			lp.Refunds = append(lp.Refunds, partnerRefund{ID: strconv.Itoa(i), Amount: a})
			lp.Refunded += a
		}
		return lp
	}
	for name, c := range map[string]struct {
		entry                  partnerPayment
		duplicated, mismatches int
	}{
		"agreeing":             {entry(300), 0, 0},
		"refunded twice":       {entry(300, 300), 1, 1},
		"the partner has none": {entry(), 0, 2},
		"another amount":       {entry(200), 0, 2},
	} {
		t.Run(name, func(t *testing.T) {
			got := reconcile([]payhubRecord{rec}, []partnerPayment{c.entry})
			if got.RefundsDuplicated != c.duplicated || got.Mismatches != c.mismatches {
				t.Fatalf("duplicated %d, mismatches %d; want %d, %d\n%s", got.RefundsDuplicated, got.Mismatches,
					c.duplicated, c.mismatches, strings.Join(got.Problems, "\n"))
			}
		})
	}
}
