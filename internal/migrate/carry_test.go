package migrate

import (
	"math/rand/v2"
	"testing"

	"payhub/contracts"
	"payhub/internal/migration"
)

func TestSplitAfterCarriesWhatEarlierDaysLeft(t *testing.T) {
	caps := migration.DefaultCaps() // 20,000 a day, 100,000 in all, nanaco room 50,000
	cases := []struct {
		name          string
		kind          migration.Kind
		balance       int64
		refundAccount bool
		before        earlier
		want          migration.Split
	}{
		{"first day is Caps.Split", migration.KindPayPay, 150_000, true, earlier{},
			migration.Split{Now: 20_000, Deferred: 80_000, BankRefund: 50_000, Days: 5}},
		{"second day: the next 20,000, the bank refund not again", migration.KindPayPay, 150_000, true,
			earlier{Credited: 20_000, BankRefund: 50_000}, migration.Split{Now: 20_000, Deferred: 60_000, Days: 4}},
		{"a partial nanaco credit leaves the rest", migration.KindNanaco, 30_000, false, earlier{Credited: 5_000},
			migration.Split{Now: 20_000, Deferred: 5_000, Days: 2}},
		{"everything moved: nothing left", migration.KindPayPay, 130_000, false, earlier{Credited: 100_000},
			migration.Split{Held: 30_000}},
		{"bank: refunded once", migration.KindBank, 40_000, false, earlier{BankRefund: 40_000}, migration.Split{}},
		{"another export's run is no credit", migration.KindPayPay, 10_000, false, earlier{OtherRun: "mr_x"},
			migration.Split{Now: 10_000, Days: 1}},
	}
	for _, c := range cases {
		if got := splitAfter(caps, c.kind, c.balance, c.refundAccount, c.before); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}

	// Day after day, a user's parts add up to the balance and never pass a cap.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		kind := []migration.Kind{migration.KindNanaco, migration.KindPayPay, migration.KindBank, migration.KindNone}[rng.IntN(4)]
		balance, refund := rng.Int64N(300_000), rng.IntN(2) == 0
		var e earlier
		for day := 1; day <= 8; day++ {
			s := splitAfter(caps, kind, balance, refund, e)
			if got := e.Credited + e.BankRefund + s.Now + s.Deferred + s.BankRefund + s.Held; got != balance || s.Now > caps.Daily ||
				s.Now < 0 || s.Deferred < 0 || s.BankRefund < 0 {
				t.Fatalf("%s %d (refund account %v) day %d after %+v: %+v", kind, balance, refund, day, e, s)
			}
			credit := s.Now
			if kind == migration.KindNanaco && rng.IntN(3) == 0 {
				credit = rng.Int64N(s.Now + 1) // the card's room took part of it
			}
			e.Credited += credit
			e.BankRefund += s.BankRefund
			if e.Credited > caps.Total {
				t.Fatalf("%s %d: %d credited, over the total cap", kind, balance, e.Credited)
			}
		}
	}
}

func TestEarlierOfCountsOnlyTheExportsEarlierDays(t *testing.T) {
	run := contracts.MigrationRun{ID: "mr_3", ExportSHA256: "aa", Day: "20261208"}
	got := earlierOf([]contracts.PriorMoves{
		{RunID: "mr_1", ExportSHA256: "aa", Day: "20261206", Credited: 20_000, BankRefund: 7},
		{RunID: "mr_2", ExportSHA256: "aa", Day: "20261207", Credited: 15_000},
		{RunID: "mr_4", ExportSHA256: "aa", Day: "20261209", Credited: 20_000}, // later: the report of an earlier day, again
		{RunID: "mr_9", ExportSHA256: "bb", Day: "20261201", Credited: 1},
	}, run)
	if want := (earlier{Credited: 35_000, BankRefund: 7, OtherRun: "mr_9"}); got != want {
		t.Fatalf("%+v, want %+v", got, want)
	}
}
