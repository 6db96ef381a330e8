package contracts

import "testing"

func TestTransitionTable(t *testing.T) {
	all := []Status{StatusRequiresAction, StatusProcessing, StatusAuthorized, StatusSucceeded,
		StatusFailed, StatusCanceled, StatusUnknown}
	allowed := map[[2]Status]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			allowed[[2]Status{from, to}] = true
		}
	}
	for _, from := range all {
		for _, to := range all {
			want := from == to || allowed[[2]Status{from, to}]
			if got := CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
		if from.Final() && len(transitions[from]) > 0 {
			t.Errorf("final status %s has transitions", from)
		}
	}
	// The rules the till relies on.
	cases := []struct {
		from, to Status
		want     bool
	}{
		{StatusUnknown, StatusFailed, true},
		{StatusFailed, StatusSucceeded, false},
		{StatusCanceled, StatusSucceeded, false},
		{StatusSucceeded, StatusFailed, false},
		{StatusSucceeded, StatusUnknown, false},
		{StatusProcessing, StatusCanceled, false},
		{Status("bogus"), Status("bogus"), false},
	}
	for _, c := range cases {
		if got := CanTransition(c.from, c.to); got != c.want {
			t.Errorf("CanTransition(%s, %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

func TestRefundTransitions(t *testing.T) {
	if !CanTransitionRefund(RefundPending, RefundUnknown) || !CanTransitionRefund(RefundUnknown, RefundSucceeded) {
		t.Fatal("allowed refund transition refused")
	}
	if CanTransitionRefund(RefundSucceeded, RefundFailed) || CanTransitionRefund(RefundFailed, RefundPending) {
		t.Fatal("forbidden refund transition allowed")
	}
	if RefundFailed.Reserves() || !RefundUnknown.Reserves() {
		t.Fatal("reserve rule wrong")
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AB":  true,
		"pay_01jdq5y7r3m2k8t4v6w9x0z1ab":  false,
		"pay_01JDQ5Y7R3M2K8T4V6W9X0Z1A":   false,
		"re_01JDQ5Y7R3M2K8T4V6W9X0Z1AB":   false,
		"pay_81JDQ5Y7R3M2K8T4V6W9X0Z1AB":  false,
		"pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AU":  false,
		"pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AB ": false,
	} {
		if got := ValidID(PrefixPayment, id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}
