package migration

import "testing"

func TestSplit(t *testing.T) {
	caps := DefaultCaps()
	tests := []struct {
		name    string
		caps    Caps
		kind    Kind
		balance int64
		refund  bool
		want    Split
	}{
		{"paypay zero", caps, KindPayPay, 0, false, Split{}},
		{"paypay under daily", caps, KindPayPay, 15_000, false, Split{Now: 15_000, Days: 1}},
		{"paypay exactly daily", caps, KindPayPay, 20_000, false, Split{Now: 20_000, Days: 1}},
		{"paypay one over daily", caps, KindPayPay, 20_001, false, Split{Now: 20_000, Deferred: 1, Days: 2}},
		{"paypay exactly total", caps, KindPayPay, 100_000, false, Split{Now: 20_000, Deferred: 80_000, Days: 5}},
		{"paypay over total, no bank: held", caps, KindPayPay, 130_000, false, Split{Now: 20_000, Deferred: 80_000, Held: 30_000, Days: 5}},
		{"paypay over total, bank: refund", caps, KindPayPay, 130_000, true, Split{Now: 20_000, Deferred: 80_000, BankRefund: 30_000, Days: 5}},
		{"paypay under caps with bank: nothing refunded", caps, KindPayPay, 5_000, true, Split{Now: 5_000, Days: 1}},
		{"nanaco under daily", caps, KindNanaco, 1_000, false, Split{Now: 1_000, Days: 1}},
		{"nanaco over total, bank", caps, KindNanaco, 250_000, true, Split{Now: 20_000, Deferred: 80_000, BankRefund: 150_000, Days: 5}},
		{"nanaco over total, no bank", caps, KindNanaco, 250_000, false, Split{Now: 20_000, Deferred: 80_000, Held: 150_000, Days: 5}},
		{"nanaco room binds a large daily cap", Caps{Daily: 80_000, Total: 100_000, NanacoRoom: 50_000}, KindNanaco, 90_000, false,
			Split{Now: 50_000, Deferred: 40_000, Days: 2}},
		{"paypay is not bound by the nanaco room", Caps{Daily: 80_000, Total: 100_000, NanacoRoom: 50_000}, KindPayPay, 90_000, false,
			Split{Now: 80_000, Deferred: 10_000, Days: 2}},
		{"nanaco smaller room (card already holds centre-held value)", Caps{Daily: 20_000, Total: 100_000, NanacoRoom: 5_000}, KindNanaco, 12_000, false,
			Split{Now: 5_000, Deferred: 7_000, Days: 3}},
		{"bank: all refunded, no cap", caps, KindBank, 1_000_000, true, Split{BankRefund: 1_000_000}},
		{"bank zero", caps, KindBank, 0, true, Split{}},
		{"none: all held", caps, KindNone, 42_000, false, Split{Held: 42_000}},
		{"configured caps", Caps{Daily: 10_000, Total: 30_000, NanacoRoom: 50_000}, KindPayPay, 45_000, true,
			Split{Now: 10_000, Deferred: 20_000, BankRefund: 15_000, Days: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.caps.Split(tc.kind, tc.balance, tc.refund)
			if got != tc.want {
				t.Errorf("Split(%s, %d, %v) = %+v, want %+v", tc.kind, tc.balance, tc.refund, got, tc.want)
			}
			if sum := got.Now + got.Deferred + got.BankRefund + got.Held; sum != tc.balance {
				t.Errorf("parts sum to %d, not the balance %d", sum, tc.balance)
			}
		})
	}
}

func TestCapsValidate(t *testing.T) {
	for _, tc := range []struct {
		caps Caps
		ok   bool
	}{
		{DefaultCaps(), true},
		{Caps{Daily: 0, Total: 100, NanacoRoom: 1}, false},
		{Caps{Daily: 10, Total: 0, NanacoRoom: 1}, false},
		{Caps{Daily: 200, Total: 100, NanacoRoom: 1}, false},
		{Caps{Daily: 10, Total: 100, NanacoRoom: 0}, false},
		{Caps{Daily: 10, Total: 100, NanacoRoom: 50_001}, false},
	} {
		if err := tc.caps.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok %v", tc.caps, err, tc.ok)
		}
	}
}

// Every split accounts for the whole balance, whatever the caps.
func TestSplitAccountsForEveryYen(t *testing.T) {
	for _, caps := range []Caps{DefaultCaps(), {Daily: 1, Total: 1, NanacoRoom: 1}, {Daily: 7_777, Total: 33_333, NanacoRoom: 5_000}} {
		for _, kind := range Kinds {
			for _, refund := range []bool{false, true} {
				for b := int64(0); b < 400_000; b += 997 {
					s := caps.Split(kind, b, refund)
					if s.Now+s.Deferred+s.BankRefund+s.Held != b || s.Now < 0 || s.Deferred < 0 || s.BankRefund < 0 || s.Held < 0 {
						t.Fatalf("%+v.Split(%s, %d, %v) = %+v", caps, kind, b, refund, s)
					}
					if s.Now > caps.Daily || s.Now+s.Deferred > caps.Total {
						t.Fatalf("%+v.Split(%s, %d, %v) = %+v exceeds the caps", caps, kind, b, refund, s)
					}
				}
			}
		}
	}
}
