package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/config"
	nanacosim "payhub/mocks/nanaco"
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
	// And the engine agrees: about one call in ten is faulted, for every partner (nanaco's
	// NCS included, commit_then_drop among its faults).
	f := sim.NewFaults(7)
	if err := f.Set(rules); err != nil {
		t.Fatal(err)
	}
	const calls = 100000
	for _, path := range []string{"/v2/payments", "/v3/payments/request", "/v4/payments/oneTimeKeys/pay", "/ncs/v1/payments", "/ncs/v1/payments/cancel", "/ncs/v1/refunds"} {
		faulted := 0
		kinds := map[sim.FaultKind]bool{}
		for range calls {
			if fault, ok := f.Decide("POST", path); ok {
				faulted++
				kinds[fault.Kind] = true
			}
		}
		if share := float64(faulted) / calls; share < 0.095 || share > 0.105 {
			t.Fatalf("%s: faulted %.4f of calls, want about 0.1", path, share)
		}
		if len(kinds) != len(crashFaultKinds) || !kinds[sim.FaultCommitThenDrop] {
			t.Fatalf("%s: fault kinds %v, want all %d of %v", path, kinds, len(crashFaultKinds), crashFaultKinds)
		}
	}
	if _, ok := f.Decide("GET", "/_sim/ledger"); ok {
		t.Fatal("a simulator control call was faulted")
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
			got := reconcile(tc.records, ledger, nil)
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
	bin := buildLab(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	report := runCrashHarness(t, ctx, bin, 2, "--payments", "60", "--refunds", "15", "--kills", "2",
		"--workers", "6", "--seed", "7", "--window", "90s",
		"--linepay-share", "0.5", "--linepay-slow-share", "0.3")
	m := regexp.MustCompile(`(?m)^refunds created:\s+(\d+)`).FindStringSubmatch(report)
	if m == nil || m[1] == "0" {
		t.Errorf("refunds created: got %v, want some", m)
	}
	m = regexp.MustCompile(`(?m)^faults injected:\s+(\d+)`).FindStringSubmatch(report)
	if m == nil || m[1] == "0" {
		t.Errorf("faults injected: got %v, want some", m)
	}
	// Abandoning tills gave up on some payments, among them LINE Pay's slow ones, and
	// payhub accepted their cancels; a create the till gave up on may never have written
	// its payment.
	m = regexp.MustCompile(`(?m)^load: \d+ payments \((\d+) with LINE Pay's slow My Code; (\d+) nanaco, \d+ of them by barcode\)`).FindStringSubmatch(report)
	if m == nil || m[1] == "0" || m[2] == "0" {
		t.Errorf("slow LINE Pay and nanaco payments: got %v, want some", m)
	}
	// nanaco took its share (--nanaco-share 0.2 by default), top-ups theirs (--topup-share
	// 0.1: 8 of them, some cancelled), and its cards' value fell by what payhub took less
	// what it refunded and topped up.
	m = regexp.MustCompile(`(?m)^  nanaco:\s+(\d+) payments, (\d+) refunds, (\d+) top-ups \((\d+) canceled\)$`).FindStringSubmatch(report)
	if m == nil || m[1] == "0" || m[3] != "8" || m[4] == "0" {
		t.Errorf("nanaco payments and top-ups: got %v, want some payments, 8 top-ups, some canceled", m)
	}
	m = regexp.MustCompile(`(?m)^nanaco cards:\s+\d+ seeded, \d+ used: their value fell by ¥(-?\d+); payhub took .* topped up = ¥(-?\d+)$`).FindStringSubmatch(report)
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("nanaco cards: got %v, want the fall equal to payhub's net", m)
	}
	m = regexp.MustCompile(`(?m)^tills abandoned:\s+(\d+) payments \((\d+) never written; (\d+) cancels sent: (\d+) accepted`).FindStringSubmatch(report)
	if m == nil || m[1] == "0" || m[4] == "0" {
		t.Fatalf("tills abandoned: got %v, want some, with cancels accepted", m)
	}
	notWritten, _ := strconv.Atoi(m[2])
	m = regexp.MustCompile(`(?m)^payments created:\s+(\d+)`).FindStringSubmatch(report)
	if created, _ := strconv.Atoi(m[1]); m == nil || created > 60 || created < 60-notWritten {
		t.Errorf("payments created: got %v, want 60 less up to %d never written", m, notWritten)
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
			got := reconcile([]payhubRecord{rec}, []partnerPayment{c.entry}, nil)
			if got.RefundsDuplicated != c.duplicated || got.Mismatches != c.mismatches {
				t.Fatalf("duplicated %d, mismatches %d; want %d, %d\n%s", got.RefundsDuplicated, got.Mismatches,
					c.duplicated, c.mismatches, strings.Join(got.Problems, "\n"))
			}
		})
	}
}

// The harness's timings, read back from the flags it actually passes to serve and sim and
// from its fault rules, leave no LINE Pay pay able to land after serve's late window; and
// the check refuses timings that would.
func TestCrashTimingsLetNoLinePayPayLandAfterTheLateWindow(t *testing.T) {
	serve := app.ServeCommand(io.Discard)
	if err := serve.Flags().Parse(crashServeFlags); err != nil {
		t.Fatal(err)
	}
	simArgs := crashSimArgs("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", 0.1, 1)
	simCmd := app.SimCommand(io.Discard)
	if err := simCmd.Flags().Parse(simArgs[1:]); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"paypay-addr": "127.0.0.1:1", "linepay-addr": "127.0.0.1:2", "nanaco-addr": "127.0.0.1:3"} {
		if got, err := simCmd.Flags().GetString(flag); err != nil || got != want {
			t.Fatalf("sim --%s %q (%v), want %q", flag, got, err, want)
		}
	}
	duration := func(flags interface {
		GetDuration(string) (time.Duration, error)
	}, name string) time.Duration {
		d, err := flags.GetDuration(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return d
	}
	rules, err := sim.ParseFaultFlag(crashFaultSpec(0.1))
	if err != nil {
		t.Fatal(err)
	}
	var latency time.Duration
	for _, r := range rules {
		if r.Fault.Kind != sim.FaultHang { // a hung request never runs, whatever its latency
			latency = max(latency, r.Fault.Latency)
		}
	}
	got := crashTimings{
		PartnerTimeout:    duration(serve.Flags(), "partner-timeout"),
		LinePayLateWindow: duration(serve.Flags(), "linepay-late-window"),
		SlowPayDelay:      duration(simCmd.Flags(), "linepay-slow-pay-delay"),
		FaultLatency:      latency,
		AbandonAfter:      crashAbandonAfter,
	}
	if got != crashHarnessTimings {
		t.Fatalf("the flags say %+v, the constants %+v", got, crashHarnessTimings)
	}
	if err := got.check(); err != nil {
		t.Fatal(err)
	}
	if landing := got.latestLinePayLanding(); landing+crashLateLandingMargin > got.LinePayLateWindow {
		t.Fatalf("a pay may land %s after it was sent, the late window is %s", landing, got.LinePayLateWindow)
	}
	if err := (crashConfig{Payments: 1, Workers: 1, AbandonAfter: crashAbandonAfter}).validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	for name, change := range map[string]func(*crashTimings){
		"the simulator's default slow pay":     func(c *crashTimings) { c.SlowPayDelay = 50 * time.Second },
		"a late window without margin":         func(c *crashTimings) { c.LinePayLateWindow = c.latestLinePayLanding() },
		"a longer partner timeout and latency": func(c *crashTimings) { c.PartnerTimeout, c.FaultLatency = 8*time.Second, 8*time.Second },
		"slow pays outlasting the timeout":     func(c *crashTimings) { c.SlowPayDelay = 4 * time.Second },
		"tills that outwait the faults":        func(c *crashTimings) { c.AbandonAfter = 2 * time.Second },
		"no timeout":                           func(c *crashTimings) { c.PartnerTimeout = 0 },
	} {
		c := crashHarnessTimings
		change(&c)
		if c.check() == nil {
			t.Errorf("%s: %+v passes the check", name, c)
		}
	}
}

// Which payments abandon (and their partner, amount and fixture) follows the seed alone,
// not the order in which tills finish payments and refunds.
func TestLoadPlanDrawsPaymentsFromTheSeedAlone(t *testing.T) {
	cfg := crashConfig{Payments: 400, Refunds: 100, Seed: 11, ManualShare: 0.1, LinePayShare: 0.5, LinePaySlowShare: 0.2, AbandonShare: 0.15}
	drain := func(succeed bool) map[int]loadJob {
		plan := newLoadPlan(cfg)
		jobs := map[int]loadJob{}
		for {
			j, ok := plan.next(context.Background())
			if !ok {
				return jobs
			}
			if j.target != nil {
				plan.done(j, nil)
				continue
			}
			jobs[j.n] = j
			var paid *refundable
			if succeed {
				paid = &refundable{id: strconv.Itoa(j.n), left: j.amount, step: j.step()}
			}
			plan.done(j, paid)
		}
	}
	failing, succeeding := drain(false), drain(true)
	if len(failing) != 400 || len(succeeding) != 400 {
		t.Fatalf("%d and %d payments, want 400", len(failing), len(succeeding))
	}
	abandon, slow, slowAbandoned, linepay := 0, 0, 0, 0
	for n, j := range failing {
		if succeeding[n] != j {
			t.Fatalf("payment %d: %+v without refunds, %+v with", n, j, succeeding[n])
		}
		if j.abandon {
			abandon++
		}
		if j.slow {
			slow++
			if j.abandon {
				slowAbandoned++
			}
			if !j.linepay {
				t.Fatalf("payment %d: slow My Code on PayPay", n)
			}
		}
		if j.linepay {
			linepay++
		}
	}
	if abandon < 50 || abandon > 100 {
		t.Errorf("%d of 400 payments abandoned, want about 15%% and half the slow ones", abandon)
	}
	if slowAbandoned*10 < slow*3 {
		t.Errorf("%d of %d slow payments abandoned, want at least about half", slowAbandoned, slow)
	}
	if slow < 20 || slow > 60 {
		t.Errorf("%d of %d LINE Pay payments slow, want about a fifth", slow, linepay)
	}
	cfg.AbandonShare = 0
	for _, j := range drain(false) {
		if j.abandon {
			t.Fatal("a payment abandoned with --abandon-share 0")
		}
	}
}

func TestReconcileCancelsPayhubAccepted(t *testing.T) {
	linepay := func(r payhubRecord) payhubRecord {
		r.Payment.Method, r.Payment.Amount.Currency = contracts.MethodLinePay, "TWD"
		return r
	}
	canceled := func(r payhubRecord) payhubRecord {
		r.Payment.Status, r.Payment.AmountCaptured = contracts.StatusCanceled, 0
		return r
	}
	refunded := func(r payhubRecord, amount int64) payhubRecord {
		r.Refunds = append(r.Refunds, payhubRefund("re_"+r.Payment.ID, amount, contracts.RefundSucceeded))
		r.Payment.AmountRefunded += amount
		return r
	}
	line := func(ref, status string, charged, refunded int64) partnerPayment {
		lp := partnerPayment{PartnerRef: ref, Status: status, Amount: 1000, Charged: charged, Refunded: refunded}
		if refunded > 0 {
			lp.Refunds = []partnerRefund{{ID: "1", Amount: refunded}}
		}
		return lp
	}
	accepted := tillCancel{PaymentID: "pay_A", Answer: "202 unknown", Accepted: true}
	cases := []struct {
		name                                string
		record                              payhubRecord
		entry                               partnerPayment
		cancel                              tillCancel
		kept, mismatches, unresolved, dupes int
		pending                             bool // settlement waits for it
	}{
		{name: "canceled, nothing moved", record: linepay(canceled(succeededRecord("pay_A", 1000))),
			entry: line("pay_A_1", "FAILED", 0, 0), cancel: accepted},
		{name: "captured late, refunded in full", record: linepay(refunded(succeededRecord("pay_A", 1000), 1000)),
			entry: line("pay_A_1", "CAPTURE", 1000, 1000), cancel: accepted},
		{name: "captured late, kept, the request dropped", record: linepay(succeededRecord("pay_A", 1000)),
			entry: line("pay_A_1", "CAPTURE", 1000, 0), cancel: accepted, kept: 1},
		{name: "captured late, the reversal under way", record: linepay(cancelStanding(succeededRecord("pay_A", 1000))),
			entry: line("pay_A_1", "CAPTURE", 1000, 0), cancel: accepted, kept: 1, pending: true},
		{name: "refunded in part only", record: linepay(refunded(succeededRecord("pay_A", 1000), 400)),
			entry: line("pay_A_1", "CAPTURE", 1000, 400), cancel: accepted, kept: 1},
		{name: "payhub canceled, LINE captured after", record: linepay(canceled(succeededRecord("pay_A", 1000))),
			entry: line("pay_A_1", "CAPTURE", 1000, 0), cancel: accepted, kept: 1, mismatches: 1},
		{name: "still unknown", record: linepay(withStatusUnknown(succeededRecord("pay_A", 1000))),
			entry: line("pay_A_1", "CAPTURE", 1000, 0), cancel: accepted, kept: 1, unresolved: 1, pending: true},
		{name: "authorization still held", record: canceled(succeededRecord("pay_A", 1000)),
			entry:  partnerPayment{PartnerRef: "pay_A_1", Status: "AUTHORIZED", Amount: 1000, Held: true, RefundIDs: true},
			cancel: tillCancel{PaymentID: "pay_A", Answer: "200 canceled", Accepted: true}, kept: 1, mismatches: 1},
		{name: "window passed, the till refunded", record: linepay(refunded(succeededRecord("pay_A", 1000), 1000)),
			entry:  line("pay_A_1", "CAPTURE", 1000, 1000),
			cancel: tillCancel{PaymentID: "pay_A", Answer: "409 cancel_window_passed", Refunded: true}},
		{name: "window passed, kept: not payhub's to cancel", record: linepay(succeededRecord("pay_A", 1000)),
			entry:  line("pay_A_1", "CAPTURE", 1000, 0),
			cancel: tillCancel{PaymentID: "pay_A", Answer: "409 cancel_window_passed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := reconcile([]payhubRecord{tc.record}, []partnerPayment{tc.entry}, map[string]tillCancel{"pay_A": tc.cancel})
			if got.CancelKept != tc.kept || got.Mismatches != tc.mismatches || got.Unresolved != tc.unresolved ||
				got.RefundsDuplicated != tc.dupes || got.Lost != 0 || got.ChargedTwice != 0 {
				t.Fatalf("kept %d, mismatches %d, unresolved %d, duplicated %d, lost %d, twice %d; want %d %d %d %d 0 0\n%s",
					got.CancelKept, got.Mismatches, got.Unresolved, got.RefundsDuplicated, got.Lost, got.ChargedTwice,
					tc.kept, tc.mismatches, tc.unresolved, tc.dupes, strings.Join(got.Problems, "\n"))
			}
			if got.failed() != (len(got.Problems) > 0) {
				t.Fatalf("failed() %v with problems %q", got.failed(), got.Problems)
			}
			pending := cancelsPending([]payhubRecord{tc.record}, map[string]tillCancel{"pay_A": tc.cancel})
			if len(pending) > 0 != tc.pending {
				t.Fatalf("pending %v, want pending %v", pending, tc.pending)
			}
		})
	}
}

func cancelStanding(r payhubRecord) payhubRecord {
	r.Payment.CancelRequested = true
	return r
}

func withStatusUnknown(r payhubRecord) payhubRecord {
	r.Payment.Status = contracts.StatusUnknown
	return r
}

// An abandoning till takes 200 canceled and 202 as accepted, nothing else.
func TestCancelAccepted(t *testing.T) {
	for _, c := range []struct {
		ans  apiAnswer
		want bool
	}{
		{apiAnswer{status: 200, body: map[string]any{"status": "canceled"}}, true},
		{apiAnswer{status: 202, body: map[string]any{"status": "unknown", "cancel_requested": true}}, true},
		{apiAnswer{status: 200, body: map[string]any{"status": "succeeded"}}, false},
		{apiAnswer{status: 409, body: map[string]any{"code": "cancel_window_passed"}}, false},
		{apiAnswer{status: 409, body: map[string]any{"code": "invalid_state"}}, false},
	} {
		if got := cancelAccepted(c.ans); got != c.want {
			t.Errorf("%s: accepted %v, want %v", describeAnswer(c.ans), got, c.want)
		}
	}
}

// An abandoning till looks its order up (again after a 503: serve restarting), cancels
// what it finds under an Idempotency-Key, and refunds everything when the cancel window
// has passed.
func TestAbandoningTillRefundsPastTheCancelWindow(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	lookups := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s %s key=%v %s", r.Method, r.URL.RequestURI(), r.Header.Get("Idempotency-Key") != "", body))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1/payments":
			if lookups++; lookups == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"code":"unavailable"}`)
				return
			}
			_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"pay_L","status":"succeeded","method":"linepay"}],"has_more":false,"next_cursor":null}`)
		case r.URL.Path == "/v1/payments/pay_L/cancel":
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"code":"cancel_window_passed"}`)
		case r.URL.Path == "/v1/payments/pay_L/refunds":
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":"re_1","status":"succeeded","amount":1200}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"code":"not_found"}`)
		}
	}))
	defer srv.Close()
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	tl := &till{baseURL: srv.URL, key: key, kid: "k", clientID: "c", storeID: "s", http: srv.Client(), abandonAfter: crashAbandonAfter}
	stats := newLoadStats()
	tl.abandon(context.Background(), "crash-7", stats)
	got := stats.abandonReport()
	want := tillCancel{PaymentID: "pay_L", Method: "linepay", Answer: "409 cancel_window_passed", Refunded: true, RefundAnswer: "201 succeeded"}
	if got.abandoned != 1 || got.notWritten != 0 || got.cancels["pay_L"] != want {
		t.Fatalf("report %+v, want one abandon with %+v\n%s", got, want, strings.Join(seen, "\n"))
	}
	wantSeen := []string{
		"GET /v1/payments?order_id=crash-7 key=false ",
		"GET /v1/payments?order_id=crash-7 key=false ",
		`POST /v1/payments/pay_L/cancel key=true {"reason":"crashtest: the till gave up"}`,
		`POST /v1/payments/pay_L/refunds key=true {"reason":"crashtest: the till gave up after the cancel window"}`,
	}
	if !slices.Equal(seen, wantSeen) {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(wantSeen, "\n"))
	}
	if s := got.summary(); s.CancelsSent != 1 || s.CancelsRefused != 1 || s.TillRefunds != 1 || s.CancelsAccepted != 0 {
		t.Fatalf("summary %+v", s)
	}
}

// serve started with the harness's environment offers nanaco, at the simulator the harness
// names, with the simulator's demo credentials (which the simulator reads from the same
// environment).
func TestCrashPartnerEnvOffersNanaco(t *testing.T) {
	for _, kv := range crashPartnerEnv("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	nc, err := config.Nanaco()
	if err != nil || nc == nil {
		t.Fatalf("nanaco config %+v, %v", nc, err)
	}
	if nc.BaseURL != "http://127.0.0.1:3" || nc.MerchantID != nanacosim.DemoMerchantID || nc.Secret != nanacosim.DemoSecret {
		t.Fatalf("nanaco config %+v", nc)
	}
	creds, err := config.NanacoCredentialsFromEnv(true)
	if err != nil || creds.MerchantID != nc.MerchantID || creds.Secret != nc.Secret {
		t.Fatalf("the simulator would read %+v (%v), serve %+v", creds, err, nc)
	}
}

// nanaco takes its share of payments from a stream of its own (the other payments are drawn
// as without it), never with LINE Pay or manual capture, in amounts that let
// crashNanacoPerCard payments share a card, filling the planned cards in order.
func TestLoadPlanDrawsNanacoPaymentsThatFitTheirCards(t *testing.T) {
	if crashNanacoPerCard*crashNanacoMaxYen > crashNanacoCardBalance || crashNanacoCardBalance > nanacosim.BalanceCap {
		t.Fatalf("%d payments of up to ¥%d do not fit on a card of ¥%d (cap ¥%d)", crashNanacoPerCard, crashNanacoMaxYen, crashNanacoCardBalance, nanacosim.BalanceCap)
	}
	cfg := crashConfig{Payments: 2000, Seed: 5, ManualShare: 0.3, LinePayShare: 0.3, NanacoShare: 0.2, LinePaySlowShare: 0.2, AbandonShare: 0.15}
	drain := func(cfg crashConfig) map[int]loadJob {
		plan := newLoadPlan(cfg)
		jobs := map[int]loadJob{}
		for {
			j, ok := plan.next(context.Background())
			if !ok {
				return jobs
			}
			jobs[j.n] = j
			plan.done(j, nil)
		}
	}
	jobs := drain(cfg)
	cards, cardOf := planNanaco(cfg)
	nanaco, barcode, idm := 0, 0, 0
	perCard, spent := map[string]int{}, map[string]int64{}
	for n, j := range jobs {
		if !j.nanaco {
			if cardOf[crashOrderID(n)] != "" {
				t.Fatalf("payment %d is not nanaco but planned on card %s", n, cardOf[crashOrderID(n)])
			}
			continue
		}
		nanaco++
		switch {
		case j.linepay || j.slow || j.capture != 0:
			t.Fatalf("nanaco payment %d: %+v", n, j)
		case j.amount < crashNanacoMinYen || j.amount > crashNanacoMaxYen:
			t.Fatalf("nanaco payment %d of ¥%d", n, j.amount)
		case cardOf[crashOrderID(n)] != j.card.Number:
			t.Fatalf("payment %d pays with %s, planned %s", n, j.card.Number, cardOf[crashOrderID(n)])
		case j.barcode && j.withIDm:
			t.Fatalf("payment %d: a barcode carries no IDm", n)
		}
		if j.barcode {
			barcode++
		}
		if j.withIDm {
			idm++
		}
		perCard[j.card.Number]++
		spent[j.card.Number] += j.amount
	}
	if nanaco < 340 || nanaco > 460 {
		t.Fatalf("%d of 2000 payments nanaco, want about 400", nanaco)
	}
	if barcode < nanaco/8 || barcode > nanaco*3/8 || idm < nanaco/4 || idm > nanaco/2 {
		t.Fatalf("%d of %d nanaco payments by barcode, %d with the IDm", barcode, nanaco, idm)
	}
	if len(cards) != (nanaco+crashNanacoPerCard-1)/crashNanacoPerCard || len(perCard) != len(cards) {
		t.Fatalf("%d cards planned, %d used, for %d payments", len(cards), len(perCard), nanaco)
	}
	seen := map[string]bool{}
	for i, c := range cards {
		if c != crashNanacoCardAt(i) || seen[c.Number] || seen[c.IDm] || !regexp.MustCompile(`^7[0-9]{15}$`).MatchString(c.Number) {
			t.Fatalf("card %d: %+v", i, c)
		}
		seen[c.Number], seen[c.IDm] = true, true
		if perCard[c.Number] > crashNanacoPerCard || spent[c.Number] > crashNanacoCardBalance {
			t.Fatalf("card %s: %d payments of ¥%d", c.Number, perCard[c.Number], spent[c.Number])
		}
	}
	// Without nanaco, the other payments are drawn exactly as with it.
	cfg.NanacoShare = 0
	for n, j := range drain(cfg) {
		if j.nanaco {
			t.Fatalf("payment %d nanaco with --nanaco-share 0", n)
		}
		if with := jobs[n]; !with.nanaco && with != j {
			t.Fatalf("payment %d: %+v with nanaco, %+v without", n, with, j)
		}
	}
	if err := (crashConfig{Payments: 1, Workers: 1, AbandonAfter: crashAbandonAfter, LinePayShare: 0.7, NanacoShare: 0.4}).validate(); err == nil {
		t.Fatal("validate takes LINE Pay and nanaco shares above 1 in all")
	}
}

// nanaco ledger fixtures: one till, one day, one card.
const (
	ncTerminal = "s_till-01"
	ncDate     = "20261206"
	ncCard     = "7000900000000000"
)

func ncRef(seq int) string {
	return contracts.SequenceRef{Terminal: ncTerminal, BusinessDate: ncDate, Seq: seq}.String()
}

func ncTxn(n int) string { return fmt.Sprintf("NC%018d", n) }

// ncEntry is an NCS ledger entry: txn is its centerTxnId's number, seq its key's
// sequence, orig the number of the PAYMENT it gives back (0: none).
func ncEntry(typ, status string, txn, seq, amount, orig int) nanacosim.LedgerEntry {
	e := nanacosim.LedgerEntry{CenterTxnID: ncTxn(txn), Type: typ, Status: status, NanacoNumber: ncCard, TerminalID: ncTerminal,
		BusinessDate: ncDate, TerminalSeq: seq, Amount: amount, RequestedAmount: amount, MerchantRef: ncRef(seq)}
	if orig > 0 {
		e.OriginalTxnID = ncTxn(orig)
	}
	return e
}

// ncRecord is a payhub nanaco payment of order crash-n paid under key seq, shown with
// centerTxnId txn (0: none).
func ncRecord(n int, status contracts.Status, amount int64, seq, txn int, refunds ...contracts.Refund) payhubRecord {
	r := succeededRecord(fmt.Sprintf("pay_N%d", n), amount, refunds...)
	r.Payment.Method, r.Payment.Status, r.Payment.OrderID, r.Payment.PartnerRef = contracts.MethodNanaco, status, crashOrderID(n), ncRef(seq)
	if txn > 0 {
		r.Payment.PartnerPaymentID = ncTxn(txn)
	}
	if status != contracts.StatusSucceeded {
		r.Payment.AmountCaptured, r.Payment.AmountRefunded = 0, 0
	}
	r.Attempts[0].PartnerRef = ncRef(seq)
	return r
}

// ncRefund is a payhub refund sent under key seq, shown with centerTxnId txn.
func ncRefund(id string, amount int64, status contracts.RefundStatus, seq, txn int) contracts.Refund {
	r := payhubRefund(id, amount, status)
	r.PartnerRef, r.PartnerRefundID = ncRef(seq), ncTxn(txn)
	return r
}

func TestReconcileNanaco(t *testing.T) {
	pay := func(txn, seq, amount int) nanacosim.LedgerEntry {
		return ncEntry(nanacosim.TypePayment, nanacosim.StatusApproved, txn, seq, amount, 0)
	}
	refunded := func(e nanacosim.LedgerEntry, amount int) nanacosim.LedgerEntry {
		e.RefundedAmount, e.Status = amount, nanacosim.StatusRefundedPartial
		return e
	}
	cancelled := func(e nanacosim.LedgerEntry) nanacosim.LedgerEntry {
		e.Status = nanacosim.StatusCancelled
		return e
	}
	agreeing := func() ([]payhubRecord, []nanacosim.LedgerEntry) {
		return []payhubRecord{
				ncRecord(1, contracts.StatusSucceeded, 1000, 1, 1, ncRefund("re_1", 300, contracts.RefundSucceeded, 3, 3)),
				ncRecord(2, contracts.StatusCanceled, 500, 2, 2),
				ncRecord(3, contracts.StatusFailed, 700, 4, 0),
			}, []nanacosim.LedgerEntry{
				refunded(pay(1, 1, 1000), 300),
				cancelled(pay(2, 2, 500)),
				ncEntry(nanacosim.TypeRefund, nanacosim.StatusApproved, 3, 3, 300, 1),
				ncEntry(nanacosim.TypePaymentCancel, nanacosim.StatusApproved, 4, 500_002, 500, 2),
			}
	}
	cases := []struct {
		name   string
		change func(records []payhubRecord, ledger []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry)
		// fell overrides how much the card's value fell (default: what the ledger moved).
		fell *int64
		want crashCounts
	}{
		{name: "agreeing"},
		{name: "two PAYMENTs for one payment",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				r[0].Attempts = append(r[0].Attempts, contracts.Attempt{ID: "att_2", Operation: contracts.OpPay, PartnerRef: ncRef(9), Outcome: contracts.OutcomeFailed})
				return r, append(l, pay(9, 9, 1000))
			},
			want: crashCounts{ChargedTwice: 1, Mismatches: 1}}, // and the card lost ¥1,000 more than payhub took
		{name: "a PAYMENT of no payhub payment",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				return r, append(l, pay(9, 9, 800))
			},
			want: crashCounts{Lost: 1, Mismatches: 1}},
		{name: "payhub succeeded, NCS has nothing",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				return r, []nanacosim.LedgerEntry{l[1], l[3]} // neither PAYMENT 1 nor its REFUND
			},
			want: crashCounts{Lost: 1, Mismatches: 1}}, // and the card lost nothing
		{name: "a REFUND payhub does not have",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				l[0] = refunded(l[0], 500)
				return r, append(l, ncEntry(nanacosim.TypeRefund, nanacosim.StatusApproved, 9, 9, 200, 1))
			},
			want: crashCounts{RefundsDuplicated: 1, Mismatches: 2}}, // refunded 300 vs 500; the card got ¥200 back
		{name: "a refund payhub says failed, refunded at NCS",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				r[0].Refunds[0].Status, r[0].Payment.AmountRefunded = contracts.RefundFailed, 0
				return r, l
			},
			want: crashCounts{RefundsDuplicated: 1, Mismatches: 2}},
		{name: "canceled in payhub, the PAYMENT stands",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				return r, append(l[:1:1], pay(2, 2, 500), l[2])
			},
			want: crashCounts{Mismatches: 2}},
		{name: "CANCELLED without its PAYMENT_CANCEL",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				return r, l[:3]
			},
			want: crashCounts{Mismatches: 2}},
		{name: "another partner_reference",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				r[0].Payment.PartnerPaymentID = ncTxn(77)
				return r, l
			},
			want: crashCounts{Mismatches: 1}},
		{name: "key and centerTxnId of two payments",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				r[1].Payment.PartnerPaymentID = ncTxn(1)
				return r, l
			},
			want: crashCounts{Mismatches: 1}},
		{name: "another refund partner_reference",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				r[0].Refunds[0].PartnerRefundID = ncTxn(78)
				return r, l
			},
			want: crashCounts{Mismatches: 1}},
		{name: "merchantRef is not the key",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				l[2].MerchantRef = "elsewhere"
				return r, l
			},
			want: crashCounts{Mismatches: 1}},
		{name: "a REFUND of no PAYMENT",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				return r, append(l, ncEntry(nanacosim.TypeRefund, nanacosim.StatusApproved, 9, 9, 200, 55))
			},
			want: crashCounts{Lost: 1, Mismatches: 1}}, // and the card got ¥200 payhub never gave
		{name: "a top-up payhub never asked for",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				return r, append(l, ncEntry(nanacosim.TypeCharge, nanacosim.StatusApproved, 9, 9, 1000, 0))
			},
			want: crashCounts{Lost: 1, Mismatches: 1}}, // and the card holds ¥1,000 more than payhub says
		{name: "a transfer payhub never asked for",
			change: func(r []payhubRecord, l []nanacosim.LedgerEntry) ([]payhubRecord, []nanacosim.LedgerEntry) {
				return r, append(l, ncEntry(nanacosim.TypeTransfer, nanacosim.StatusApproved, 9, 9, 1000, 0))
			},
			want: crashCounts{Mismatches: 1}}, // its value is not in the fall the test computes
		{name: "yen lost on the card",
			fell: new(int64(701)), want: crashCounts{Mismatches: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			records, ledger := agreeing()
			if tc.change != nil {
				records, ledger = tc.change(records, ledger)
			}
			fell := ledgerFall(ledger)
			if tc.fell != nil {
				fell = *tc.fell
			}
			cardOf := map[string]string{}
			for n := 1; n <= 3; n++ {
				cardOf[crashOrderID(n)] = ncCard
			}
			view := nanacoView{Ledger: ledger, CardOf: cardOf,
				Seeded: map[string]nanacosim.CardState{ncCard: {NanacoNumber: ncCard, Balance: crashNanacoCardBalance}},
				Now:    map[string]nanacosim.CardState{ncCard: {NanacoNumber: ncCard, Balance: crashNanacoCardBalance - int(fell)}}}
			got := reconcile(records, nanacoPayments(ledger, records), nil)
			got.checkNanaco(records, payhubTopUps{}, view)
			t.Logf("problems:\n%s", strings.Join(got.Problems, "\n"))
			if got.Lost != tc.want.Lost || got.ChargedTwice != tc.want.ChargedTwice || got.RefundsDuplicated != tc.want.RefundsDuplicated ||
				got.Unresolved != tc.want.Unresolved || got.Mismatches != tc.want.Mismatches || got.CancelKept != 0 {
				t.Fatalf("lost %d, twice %d, duplicated %d, unresolved %d, mismatches %d, kept %d; want %d %d %d %d %d 0\n%s",
					got.Lost, got.ChargedTwice, got.RefundsDuplicated, got.Unresolved, got.Mismatches, got.CancelKept,
					tc.want.Lost, tc.want.ChargedTwice, tc.want.RefundsDuplicated, tc.want.Unresolved, tc.want.Mismatches,
					strings.Join(got.Problems, "\n"))
			}
			if got.ByMethod[contracts.MethodNanaco] != [2]int{3, 1} {
				t.Fatalf("by method %v, want nanaco 3 payments, 1 refund", got.ByMethod)
			}
			if tc.name == "agreeing" && got.Nanaco != (nanacoSummary{Cards: 1, Used: 1, Fell: 700, Taken: 1000, Refunded: 300}) {
				t.Fatalf("nanaco summary %+v", got.Nanaco)
			}
		})
	}
}

// A nanaco payment whose cancel payhub accepted is honoured once NCS has its PAYMENT_CANCEL;
// a PAYMENT still standing is money kept.
func TestReconcileNanacoCancelsPayhubAccepted(t *testing.T) {
	rec := ncRecord(1, contracts.StatusCanceled, 500, 1, 1)
	accepted := map[string]tillCancel{rec.Payment.ID: {PaymentID: rec.Payment.ID, Method: "nanaco", Answer: "200 canceled", Accepted: true}}
	payment := ncEntry(nanacosim.TypePayment, nanacosim.StatusCancelled, 1, 1, 500, 0)
	cancel := ncEntry(nanacosim.TypePaymentCancel, nanacosim.StatusApproved, 2, 500_001, 500, 1)
	records := []payhubRecord{rec}
	if got := reconcile(records, nanacoPayments([]nanacosim.LedgerEntry{payment, cancel}, records), accepted); got.failed() {
		t.Fatalf("problems %q", got.Problems)
	}
	payment.Status = nanacosim.StatusApproved
	got := reconcile(records, nanacoPayments([]nanacosim.LedgerEntry{payment}, records), accepted)
	if got.CancelKept != 1 || got.Mismatches != 1 {
		t.Fatalf("kept %d, mismatches %d; want 1, 1\n%s", got.CancelKept, got.Mismatches, strings.Join(got.Problems, "\n"))
	}
}

// ledgerFall is how much a card's value fell by the NCS transactions of ledger (all on
// one card): PAYMENTs take, REFUNDs, PAYMENT_CANCELs and CHARGEs give, CHARGE_CANCELs take
// back.
func ledgerFall(ledger []nanacosim.LedgerEntry) int64 {
	var fell int64
	for _, e := range ledger {
		switch e.Type {
		case nanacosim.TypePayment, nanacosim.TypeChargeCancel:
			fell += int64(e.Amount)
		case nanacosim.TypeRefund, nanacosim.TypePaymentCancel, nanacosim.TypeCharge:
			fell -= int64(e.Amount)
		}
	}
	return fell
}

// ncTopUp is payhub's top-up n of amount in cash, made under key seq, shown with
// centerTxnId txn (0: none), and its till's request, answered with it.
func ncTopUp(n int, status contracts.TopUpStatus, amount int64, seq, txn int) (contracts.TopUp, tillTopUp) {
	id, key := fmt.Sprintf("tu_T%d", n), fmt.Sprintf("key-%d", n)
	t := contracts.TopUp{ID: id, Method: contracts.MethodNanaco, TerminalID: "till-01", CardLast4: ncCard[12:],
		Amount: contracts.Money{Amount: amount, Currency: "JPY"}, Funding: contracts.FundingCash, Status: status,
		PartnerRef: ncRef(seq), IdempotencyKey: key}
	if txn > 0 {
		t.PartnerTxnID = ncTxn(txn)
	}
	return t, tillTopUp{Key: key, Card: ncCard, Terminal: "till-01", Amount: amount, Funding: contracts.FundingCash,
		ID: id, Answer: "201 " + string(status)}
}

// ncCharge is a cash CHARGE at NCS.
func ncCharge(status string, txn, seq, amount int) nanacosim.LedgerEntry {
	e := ncEntry(nanacosim.TypeCharge, status, txn, seq, amount, 0)
	e.FundingSource = nanacosim.FundingCash
	return e
}

func TestReconcileTopUps(t *testing.T) {
	agreeing := func() (payhubTopUps, []nanacosim.LedgerEntry) {
		tops := payhubTopUps{Till: topUpReport{}}
		for _, x := range []struct {
			status                 contracts.TopUpStatus
			amount                 int64
			seq, txn               int
			cancelAnswer, accepted string
		}{
			{status: contracts.TopUpSucceeded, amount: 3000, seq: 1, txn: 1},
			{status: contracts.TopUpCanceled, amount: 2000, seq: 2, txn: 2, cancelAnswer: "200 canceled"},
			{status: contracts.TopUpFailed, amount: 1000, seq: 4},
		} {
			tu, tt := ncTopUp(len(tops.TopUps)+1, x.status, x.amount, x.seq, x.txn)
			if x.cancelAnswer != "" {
				tt.CancelSent, tt.CancelAnswer, tt.CancelAccepted = true, x.cancelAnswer, true
			}
			tops.TopUps = append(tops.TopUps, tu)
			tops.Till[tt.Key] = tt
		}
		return tops, []nanacosim.LedgerEntry{
			ncCharge(nanacosim.StatusApproved, 1, 1, 3000),
			ncCharge(nanacosim.StatusCancelled, 2, 2, 2000),
			ncEntry(nanacosim.TypeChargeCancel, nanacosim.StatusApproved, 3, 500_002, 2000, 2),
		}
	}
	type counts struct{ lost, dupes, unresolved, mismatches, kept int }
	cases := []struct {
		name   string
		change func(tops *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry
		want   counts
	}{
		{name: "agreeing"},
		{name: "top-ups duplicated: a second CHARGE carries the top-up's key as merchantRef",
			change: func(_ *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				dup := ncCharge(nanacosim.StatusApproved, 9, 9, 3000)
				dup.MerchantRef = ncRef(1)
				return append(l, dup)
			},
			want: counts{dupes: 1, mismatches: 2}}, // its merchantRef is not its key; the card got ¥3,000 more
		{name: "top-up lost: payhub succeeded, NCS has no CHARGE",
			change: func(_ *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry { return l[1:] },
			want:   counts{lost: 1, mismatches: 1}}, // and the card lacks the ¥3,000
		{name: "a CHARGE of no payhub top-up",
			change: func(_ *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				return append(l, ncCharge(nanacosim.StatusApproved, 9, 9, 1000))
			},
			want: counts{lost: 1, mismatches: 1}},
		{name: "unresolved: still unknown",
			change: func(tops *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				tops.TopUps[0].Status = contracts.TopUpUnknown
				return l
			},
			want: counts{unresolved: 1}}, // the card is left out while a top-up on it is open
		{name: "unresolved: its cancel still pending",
			change: func(tops *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				tu := &tops.TopUps[1]
				tu.Status, tu.CancelStartedAt = contracts.TopUpSucceeded, new(time.Now())
				tt := tops.Till[tu.IdempotencyKey]
				tt.CancelAnswer = "202 succeeded"
				tops.Till[tu.IdempotencyKey] = tt
				l[1].Status = nanacosim.StatusApproved
				return l[:2]
			},
			want: counts{unresolved: 1, kept: 1}},
		{name: "a cancel kept: payhub canceled, the CHARGE stands",
			change: func(_ *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				l[1].Status = nanacosim.StatusApproved
				return l[:2]
			},
			want: counts{kept: 1, mismatches: 1}}, // and the card holds ¥2,000 payhub says it does not
		{name: "a cancel kept: accepted (202), payhub ended it succeeded",
			change: func(tops *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				tops.TopUps[1].Status = contracts.TopUpSucceeded
				tt := tops.Till["key-2"]
				tt.CancelAnswer = "202 succeeded"
				tops.Till["key-2"] = tt
				l[1].Status = nanacosim.StatusApproved
				return l[:2]
			},
			want: counts{kept: 1}},
		{name: "a cancel refused: the value stays, as payhub says",
			change: func(tops *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				tops.TopUps[1].Status = contracts.TopUpSucceeded
				tt := tops.Till["key-2"]
				tt.CancelAnswer, tt.CancelAccepted = "409 cancel_window_passed", false
				tops.Till["key-2"] = tt
				l[1].Status = nanacosim.StatusApproved
				return l[:2]
			}},
		{name: "canceled without a CHARGE_CANCEL",
			change: func(_ *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry { return l[:2] },
			want:   counts{mismatches: 2}}, // and the card holds the ¥2,000
		{name: "failed, NCS credited it",
			change: func(_ *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				return append(l, ncCharge(nanacosim.StatusApproved, 5, 4, 1000))
			},
			want: counts{mismatches: 2}},
		{name: "another amount",
			change: func(_ *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				l[0].Amount, l[0].RequestedAmount = 4000, 4000
				return l
			},
			want: counts{mismatches: 2}},
		{name: "another partner_reference",
			change: func(tops *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				tops.TopUps[0].PartnerTxnID = ncTxn(77)
				return l
			},
			want: counts{mismatches: 1}},
		{name: "another funding",
			change: func(_ *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				l[0].FundingSource = nanacosim.FundingPoints
				return l
			},
			want: counts{mismatches: 1}},
		{name: "a top-up no till asked for",
			change: func(tops *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				tu, _ := ncTopUp(4, contracts.TopUpSucceeded, 1000, 10, 10)
				tops.TopUps = append(tops.TopUps, tu)
				return append(l, ncCharge(nanacosim.StatusApproved, 10, 10, 1000))
			},
			want: counts{mismatches: 2}}, // and its ¥1,000 is on no card payhub knows of
		{name: "a CHARGE_CANCEL of no CHARGE",
			change: func(_ *payhubTopUps, l []nanacosim.LedgerEntry) []nanacosim.LedgerEntry {
				return append(l, ncEntry(nanacosim.TypeChargeCancel, nanacosim.StatusApproved, 11, 500_011, 1000, 55))
			},
			want: counts{mismatches: 2}}, // and the card lost ¥1,000
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tops, ledger := agreeing()
			if tc.change != nil {
				ledger = tc.change(&tops, ledger)
			}
			fell := ledgerFall(ledger)
			view := nanacoView{Ledger: ledger, CardOf: map[string]string{},
				Seeded: map[string]nanacosim.CardState{ncCard: {NanacoNumber: ncCard, Balance: crashNanacoCardBalance}},
				Now:    map[string]nanacosim.CardState{ncCard: {NanacoNumber: ncCard, Balance: crashNanacoCardBalance - int(fell)}}}
			var got crashCounts
			got.checkNanaco(nil, tops, view)
			t.Logf("problems:\n%s", strings.Join(got.Problems, "\n"))
			g := counts{got.Lost, got.TopUpsDuplicated, got.Unresolved, got.Mismatches, got.CancelKept}
			if g != tc.want || got.ChargedTwice != 0 || got.RefundsDuplicated != 0 {
				t.Fatalf("got %+v (twice %d, refunds duplicated %d), want %+v\n%s", g, got.ChargedTwice, got.RefundsDuplicated,
					tc.want, strings.Join(got.Problems, "\n"))
			}
			if got.failed() != (len(got.Problems) > 0) {
				t.Fatalf("failed() %v with problems %q", got.failed(), got.Problems)
			}
			if tc.name == "agreeing" && (got.TopUpsCreated != 3 || got.TopUpsCanceled != 1 ||
				got.Nanaco != (nanacoSummary{Cards: 1, Used: 1, Fell: -3000, ToppedUp: 3000})) {
				t.Fatalf("%d top-ups, %d canceled, summary %+v", got.TopUpsCreated, got.TopUpsCanceled, got.Nanaco)
			}
		})
	}
}

// The summary shows nanaco's top-ups on its line, and the new zero-count.
func TestCrashCountsPrintTopUps(t *testing.T) {
	c := crashCounts{ByMethod: map[contracts.Method][2]int{contracts.MethodNanaco: {4, 1}, contracts.MethodPayPay: {9, 2}},
		TopUpsCreated: 5, TopUpsCanceled: 2}
	var b bytes.Buffer
	c.print(&b)
	for _, want := range []string{"\n  nanaco:           4 payments, 1 refunds, 5 top-ups (2 canceled)\n", "\n  paypay:           9 payments, 2 refunds\n",
		"\ntop-ups duplicated: 0\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}

// Top-ups take their share of all till operations, from streams of their own (the
// payments are drawn as without them), fill the seeded cards in order, and fit them: the
// cards' balance covers their payments, its room under the cap their top-ups, their
// points the points top-ups.
func TestLoadPlanDrawsTopUpsThatFitTheirCards(t *testing.T) {
	if crashNanacoCardBalance+crashNanacoTopUpsPerCard*crashTopUpCashMaxYen > nanacosim.BalanceCap ||
		crashNanacoPerCard*crashNanacoMaxYen > crashNanacoCardBalance || crashTopUpPointsMax > crashTopUpCashMaxYen {
		t.Fatalf("seeded ¥%d: %d payments of up to ¥%d, %d top-ups of up to ¥%d under the cap ¥%d", crashNanacoCardBalance,
			crashNanacoPerCard, crashNanacoMaxYen, crashNanacoTopUpsPerCard, crashTopUpCashMaxYen, nanacosim.BalanceCap)
	}
	cfg := crashConfig{Payments: 2000, Refunds: 500, Seed: 1, ManualShare: 0.1, LinePayShare: 0.3, NanacoShare: 0.2, AbandonShare: 0.15, TopUpShare: 0.1}
	if n := topUpCount(cfg); n != 278 {
		t.Fatalf("%d top-ups for 2,500 payments and refunds at 0.1, want 278", n)
	}
	drain := func(cfg crashConfig) (payments map[int]loadJob, topUps []loadJob) {
		plan := newLoadPlan(cfg)
		payments = map[int]loadJob{}
		for {
			j, ok := plan.next(context.Background())
			if !ok {
				return payments, topUps
			}
			switch {
			case j.topUp:
				topUps = append(topUps, j)
			case j.target == nil:
				payments[j.n] = j
			}
			plan.done(j, &refundable{id: strconv.Itoa(j.n), left: j.amount, step: j.step()})
		}
	}
	payments, topUps := drain(cfg)
	if len(payments) != 2000 || len(topUps) != 278 {
		t.Fatalf("%d payments, %d top-ups", len(payments), len(topUps))
	}
	cards, _ := planNanaco(cfg)
	planned := map[string]bool{}
	for _, c := range cards {
		planned[c.Number] = true
	}
	spent, topped, points, count := map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int{}
	for _, j := range payments {
		if j.nanaco {
			spent[j.card.Number] += j.amount
		}
	}
	var pointsN, cancels, idm int
	for i, j := range topUps {
		switch {
		case j.n != i+1 || j.card != crashNanacoTopUpCard(j.n) || !planned[j.card.Number]:
			t.Fatalf("top-up %d: %+v (not on a planned card in order)", i+1, j)
		case j.funding == contracts.FundingCash && (j.amount%1000 != 0 || j.amount < 1000 || j.amount > crashTopUpCashMaxYen):
			t.Fatalf("cash top-up of ¥%d", j.amount)
		case j.funding == contracts.FundingPoints && (j.amount < crashTopUpPointsMin || j.amount > crashTopUpPointsMax):
			t.Fatalf("points top-up of %d", j.amount)
		case j.funding != contracts.FundingCash && j.funding != contracts.FundingPoints:
			t.Fatalf("top-up funded by %q", j.funding)
		}
		count[j.card.Number]++
		topped[j.card.Number] += j.amount
		if j.funding == contracts.FundingPoints {
			points[j.card.Number] += j.amount
			pointsN++
		}
		if j.cancel {
			cancels++
		}
		if j.withIDm {
			idm++
		}
	}
	for number := range planned {
		if count[number] > crashNanacoTopUpsPerCard || spent[number] > crashNanacoCardBalance ||
			crashNanacoCardBalance+topped[number] > nanacosim.BalanceCap || points[number] > crashNanacoCardPoints {
			t.Fatalf("card %s: %d top-ups of ¥%d (%d points), payments of ¥%d", number, count[number], topped[number], points[number], spent[number])
		}
	}
	if pointsN < 30 || pointsN > 90 || cancels < 40 || cancels > 100 || idm < 100 || idm > 180 {
		t.Fatalf("of 278 top-ups: %d with points, %d cancelled, %d with the IDm", pointsN, cancels, idm)
	}
	// Without top-ups, the payments are drawn exactly as with them.
	cfg.TopUpShare = 0
	without, none := drain(cfg)
	if len(none) != 0 {
		t.Fatalf("%d top-ups with --topup-share 0", len(none))
	}
	for n, j := range without {
		if payments[n] != j {
			t.Fatalf("payment %d: %+v with top-ups, %+v without", n, payments[n], j)
		}
	}
	for _, share := range []float64{-0.1, 1} {
		if err := (crashConfig{Payments: 1, Workers: 1, AbandonAfter: crashAbandonAfter, TopUpShare: share}).validate(); err == nil {
			t.Errorf("validate takes --topup-share %v", share)
		}
	}
}

// Settlement's answers complete what the tills knew of their top-ups.
func TestTopUpReportTakesAnswersSentAgain(t *testing.T) {
	r := topUpReport{"k": {Key: "k", Card: ncCard, Amount: 1000}}
	r.answered(tillRequest{topUpKey: "k"}, apiAnswer{status: http.StatusCreated, body: map[string]any{"id": "tu_1", "status": "unknown"}})
	r.answered(tillRequest{topUpKey: "k", topUpCancel: true}, apiAnswer{status: http.StatusAccepted, body: map[string]any{"id": "tu_1", "status": "succeeded"}})
	r.answered(tillRequest{cancelOf: "pay_1"}, apiAnswer{status: http.StatusOK})
	want := tillTopUp{Key: "k", Card: ncCard, Amount: 1000, ID: "tu_1", Answer: "201 unknown", CancelAnswer: "202 succeeded", CancelAccepted: true}
	if len(r) != 1 || r["k"] != want {
		t.Fatalf("report %+v, want %+v", r, want)
	}
	for _, c := range []struct {
		ans  apiAnswer
		want bool
	}{
		{apiAnswer{status: 200, body: map[string]any{"status": "canceled"}}, true},
		{apiAnswer{status: 202, body: map[string]any{"status": "succeeded", "cancel_pending": true}}, true},
		{apiAnswer{status: 200, body: map[string]any{"status": "succeeded"}}, false},
		{apiAnswer{status: 409, body: map[string]any{"code": "cancel_window_passed"}}, false},
	} {
		if got := topUpCancelAccepted(c.ans); got != c.want {
			t.Errorf("%s: accepted %v, want %v", describeAnswer(c.ans), got, c.want)
		}
	}
}

// runCrashHarness runs `payhub-lab crashtest` with args, logs its report, and checks the
// report's verdict lines: kills as asked, and nothing lost, charged or refunded twice,
// unresolved, mismatched or kept after an accepted cancel. It returns the report.
func runCrashHarness(t *testing.T, ctx context.Context, bin string, kills int, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append([]string{"crashtest"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("crashtest output:\n%s", out.String())
	if err != nil {
		t.Fatalf("crashtest: %v", err)
	}
	report := out.String()
	for line, want := range map[string]string{
		"kills":         strconv.Itoa(kills),
		"payments lost": "0", "charged twice": "0", "refunds duplicated": "0", "top-ups duplicated": "0", "unresolved": "0", "amount mismatches": "0",
		"cancel accepted but money kept": "0",
	} {
		m := regexp.MustCompile(`(?m)^` + line + `:\s+(\d+)`).FindStringSubmatch(report)
		if m == nil || m[1] != want {
			t.Errorf("%s: got %v, want %s", line, m, want)
		}
	}
	return report
}
