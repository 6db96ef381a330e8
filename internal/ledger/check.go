package ledger

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"payhub/contracts"
)

// DefaultBatch is how many transactions Check reads at a time.
const DefaultBatch = 500

// maxProblems caps the problems a Report lists; the rest are only counted.
const maxProblems = 50

// Report is what Check found.
type Report struct {
	// Transactions and Entries count what was read.
	Transactions, Entries int64
	// Accounts counts the (account, currency) balances.
	Accounts int
	// Compared counts the (account, currency) balances compared with the payments,
	// refunds and top-ups tables.
	Compared int
	// Problems names what disagrees, at most maxProblems of them; Dropped counts the rest.
	Problems []string
	// Dropped counts the problems not listed.
	Dropped int
}

// OK reports whether the check found nothing wrong.
func (r Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) >= maxProblems {
		r.Dropped++
		return
	}
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Summary is the report in one line.
func (r Report) Summary() string {
	s := fmt.Sprintf("%d transactions, %d entries, %d account balances (%d compared with payments, refunds and top-ups)",
		r.Transactions, r.Entries, r.Accounts, r.Compared)
	if !r.OK() {
		s += fmt.Sprintf(": %d problems", len(r.Problems)+r.Dropped)
	}
	return s
}

// balanceKey is an account in one currency.
type balanceKey struct {
	account  string
	currency contracts.Currency
}

// Check proves the ledger: every transaction balances per currency (read batch at a time,
// so memory does not grow with the ledger), no account that must not go negative is
// negative, and the balances of the partner clearing, store receivable, stored value and
// points accounts are exactly what the payments, refunds and top-ups tables say moved. It
// returns an error only when it cannot read; what disagrees is in the report. batch ≤ 0
// means DefaultBatch.
func Check(ctx context.Context, st contracts.LedgerStore, batch int) (Report, error) {
	if batch <= 0 {
		batch = DefaultBatch
	}
	var r Report
	after := ""
	for {
		page, err := st.ListLedgerTransactions(ctx, after, batch)
		if err != nil {
			return r, fmt.Errorf("ledger check: read transactions after %q: %w", after, err)
		}
		for _, t := range page {
			r.Transactions++
			r.Entries += int64(len(t.Entries))
			if err := t.Validate(); err != nil {
				r.problem("transaction %s: %v", t.ID, err)
			}
		}
		if len(page) < batch {
			break
		}
		after = page[len(page)-1].ID
	}

	balances, err := st.ListLedgerBalances(ctx)
	if err != nil {
		return r, fmt.Errorf("ledger check: read balances: %w", err)
	}
	r.Accounts = len(balances)
	actual := make(map[balanceKey]int64, len(balances))
	for _, b := range balances {
		bal := Balance(b)
		actual[balanceKey{b.Account, b.Currency}] = bal
		if MustNotGoNegative(b.Account) && bal < 0 {
			r.problem("account %s is negative: %d %s", b.Account, bal, b.Currency)
		}
	}

	totals, err := st.ListMovementTotals(ctx)
	if err != nil {
		return r, fmt.Errorf("ledger check: sum payments, refunds and top-ups: %w", err)
	}
	expected := expectedBalances(totals)
	keys := make(map[balanceKey]bool, len(expected))
	for k := range expected {
		keys[k] = true
	}
	for k := range actual {
		if reconciled(k.account) {
			keys[k] = true
		}
	}
	sorted := make([]balanceKey, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].account != sorted[j].account {
			return sorted[i].account < sorted[j].account
		}
		return sorted[i].currency < sorted[j].currency
	})
	for _, k := range sorted {
		r.Compared++
		if got, want := actual[k], expected[k]; got != want {
			r.problem("account %s: ledger balance %d %s, payments, refunds and top-ups say %d %s",
				k.account, got, k.currency, want, k.currency)
		}
	}
	return r, nil
}

// reconciled reports whether account's balance follows from the payments, refunds and
// top-ups tables alone (the wallet migration's accounts do not).
func reconciled(account string) bool {
	for _, p := range []string{PartnerClearingPrefix, StoreReceivablePrefix, StoredValueIssuedPrefix, PointsRedeemedPrefix} {
		if strings.HasPrefix(account, p) {
			return true
		}
	}
	return false
}

// expectedBalances turns what the payments, refunds and top-ups tables say moved into the balance
// each account must have (on its normal side, Balance): Σ captured − refunded per partner
// and per store, less the cash top-ups a store took; the value issued and the points
// redeemed per partner.
func expectedBalances(totals []contracts.MovementTotal) map[balanceKey]int64 {
	out := map[balanceKey]int64{}
	add := func(account string, c contracts.Currency, n int64) { out[balanceKey{account, c}] += n }
	for _, m := range totals {
		partner := partnerOf(m.Method)
		c, n := m.Amount.Currency, m.Amount.Amount
		switch m.Kind {
		case contracts.MovementCaptured:
			add(PartnerClearing(partner), c, n)
			add(StoreReceivable(m.StoreID), c, n)
		case contracts.MovementRefunded:
			add(PartnerClearing(partner), c, -n)
			add(StoreReceivable(m.StoreID), c, -n)
		case contracts.MovementToppedUp:
			add(StoredValueIssued(partner), c, n)
			if m.Funding == contracts.FundingPoints {
				add(PointsRedeemed(partner), c, n)
			} else {
				add(StoreReceivable(m.StoreID), c, -n)
			}
		}
	}
	return out
}
