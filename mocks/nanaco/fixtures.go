package nanaco

import "time"

// The seeded cards (docs/partners/nanaco.md §B8). Simulator numbers begin with 7000 (payhub
// convention); the IDm of each is "0114" and the number's last 12 digits.
const (
	// FixtureActive: ACTIVE CARD, ¥10,000, 120 points (earned in the previous fiscal year).
	FixtureActive = "7000000000000001"
	// FixtureNearCap: ACTIVE CARD, ¥49,500 (close to the ¥50,000 cap).
	FixtureNearCap = "7000000000000002"
	// FixtureSuspended: SUSPENDED (¥3,000 frozen).
	FixtureSuspended = "7000000000000003"
	// FixtureLost: LOST (¥5,000 frozen).
	FixtureLost = "7000000000000004"
	// FixtureMigrated: MIGRATED (value moved away; nothing left).
	FixtureMigrated = "7000000000000005"
	// FixtureCenterHeld: ACTIVE CARD, ¥0 on the card, ¥20,000 centre-held (room ¥30,000).
	FixtureCenterHeld = "7000000000000006"
	// FixtureApplePay: ACTIVE APPLE_PAY, ¥5,000.
	FixtureApplePay = "7000000000000007"
	// FixtureClosed: CLOSED.
	FixtureClosed = "7000000000000008"
)

// fixtureIDm is the IDm of a seeded number.
func fixtureIDm(number string) string { return "0114" + number[4:] }

// seed returns the seeded cards at now.
func seed(now time.Time) map[string]*card {
	mk := func(number, typ, status string, balance, held, points int) *card {
		c := &card{number: number, idm: fixtureIDm(number), cardType: typ, status: status, balance: balance, centerHeld: held}
		if points > 0 {
			c.lots = []pointLot{{fiscalYear: fiscalYear(now) - 1, amount: points}}
		}
		return c
	}
	cards := []*card{
		mk(FixtureActive, CardTypeCard, CardActive, 10_000, 0, 120),
		mk(FixtureNearCap, CardTypeCard, CardActive, 49_500, 0, 0),
		mk(FixtureSuspended, CardTypeCard, CardSuspended, 3_000, 0, 0),
		mk(FixtureLost, CardTypeCard, CardLost, 5_000, 0, 0),
		mk(FixtureMigrated, CardTypeCard, CardMigrated, 0, 0, 0),
		mk(FixtureCenterHeld, CardTypeCard, CardActive, 0, 20_000, 0),
		mk(FixtureApplePay, CardTypeApplePay, CardActive, 5_000, 0, 0),
		mk(FixtureClosed, CardTypeCard, CardClosed, 0, 0, 0),
	}
	out := make(map[string]*card, len(cards))
	for _, c := range cards {
		out[c.number] = c
	}
	return out
}
