package migration

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Totals are one destination's figures in a plan, in yen and rows.
type Totals struct {
	// Rows is every row naming this destination (valid and rejected).
	Rows int64
	// Valid is the rows that move.
	Valid int64
	// Balance is Σ balance over the rows whose balance reads as an integer from 0 to
	// MaxBalance.
	Balance int64
	// Now, Deferred, BankRefund and Held are Σ of the valid rows' Splits.
	Now, Deferred, BankRefund, Held int64
	// Rejected is the rejected rows; RejectedYen their Σ balance where it could be read.
	Rejected, RejectedYen int64
	// Capped is the valid rows with something Deferred; Refunded with a BankRefund; HeldRows
	// with something Held.
	Capped, Refunded, HeldRows int64
}

// Accounted is Now + Deferred + BankRefund + Held + RejectedYen: it must equal Balance.
func (t Totals) Accounted() int64 {
	return t.Now + t.Deferred + t.BankRefund + t.Held + t.RejectedYen
}

// ReasonTotals are one rejection reason's figures.
type ReasonTotals struct {
	// Rows is how many rows were rejected for the reason.
	Rows int64
	// Yen is their Σ balance where it could be read; UnreadRows had no readable balance.
	Yen, UnreadRows int64
}

// Unknown is the destination key of rejected rows that name no known destination.
const Unknown Kind = "unknown"

// Plan adds up a dry run over an export: per destination, per rejection reason, caps.
type Plan struct {
	// Caps are the caps applied.
	Caps Caps
	// Rows is every row read (valid and rejected).
	Rows int64
	// ByKind has one entry per Kinds and Unknown.
	ByKind map[Kind]*Totals
	// ByReason has one entry per Reasons.
	ByReason map[Reason]*ReasonTotals
	// KYC counts valid rows by identity-verification level.
	KYC [MaxKYCLevel + 1]int64
	// DisputedUsers, DisputedTxns and DisputedYen describe the valid rows' disputes
	// (reported; they do not hold a move back: docs/migration.md §4).
	DisputedUsers, DisputedTxns, DisputedYen int64
	// WithHistory is the valid rows whose history was checked.
	WithHistory int64
	// MaxDays is the most days one user's wallet move takes.
	MaxDays int64
}

// NewPlan is an empty plan under caps.
func NewPlan(caps Caps) *Plan {
	p := &Plan{Caps: caps, ByKind: map[Kind]*Totals{}, ByReason: map[Reason]*ReasonTotals{}}
	for _, k := range append(Kinds[:len(Kinds):len(Kinds)], Unknown) {
		p.ByKind[k] = &Totals{}
	}
	for _, r := range Reasons {
		p.ByReason[r] = &ReasonTotals{}
	}
	return p
}

// AddRow adds a valid row and answers its split.
func (p *Plan) AddRow(row Row) Split {
	p.Rows++
	s := p.Caps.Split(row.Destination.Kind, row.Balance, row.Destination.Bank != nil)
	t := p.ByKind[row.Destination.Kind]
	t.Rows++
	t.Valid++
	t.Balance += row.Balance
	t.Now += s.Now
	t.Deferred += s.Deferred
	t.BankRefund += s.BankRefund
	t.Held += s.Held
	if s.Deferred > 0 {
		t.Capped++
	}
	if s.BankRefund > 0 {
		t.Refunded++
	}
	if s.Held > 0 {
		t.HeldRows++
	}
	p.MaxDays = max(p.MaxDays, s.Days)
	p.KYC[row.KYCLevel]++
	if len(row.History) > 0 {
		p.WithHistory++
	}
	if len(row.Disputed) > 0 {
		p.DisputedUsers++
		for _, d := range row.Disputed {
			p.DisputedTxns++
			p.DisputedYen += d.Amount
		}
	}
	return s
}

// AddRejection adds a rejected row.
func (p *Plan) AddRejection(r *Rejection) {
	p.Rows++
	k := r.Kind
	if _, ok := p.ByKind[k]; !ok || k == "" {
		k = Unknown
	}
	t := p.ByKind[k]
	t.Rows++
	t.Rejected++
	rt := p.ByReason[r.Reason]
	if rt == nil {
		rt = &ReasonTotals{}
		p.ByReason[r.Reason] = rt
	}
	rt.Rows++
	if r.BalanceKnown {
		t.Balance += r.Balance
		t.RejectedYen += r.Balance
		rt.Yen += r.Balance
	} else {
		rt.UnreadRows++
	}
}

// Total is the sum over every destination.
func (p *Plan) Total() Totals {
	var all Totals
	for _, t := range p.ByKind {
		all.Rows += t.Rows
		all.Valid += t.Valid
		all.Balance += t.Balance
		all.Now += t.Now
		all.Deferred += t.Deferred
		all.BankRefund += t.BankRefund
		all.Held += t.Held
		all.Rejected += t.Rejected
		all.RejectedYen += t.RejectedYen
		all.Capped += t.Capped
		all.Refunded += t.Refunded
		all.HeldRows += t.HeldRows
	}
	return all
}

// Check verifies, per destination and in all, Σ balances = Σ now + Σ deferred + Σ bank
// refund + Σ held + Σ rejected, to the yen.
func (p *Plan) Check() error {
	var bad []string
	for _, k := range append(Kinds[:len(Kinds):len(Kinds)], Unknown) {
		if t := p.ByKind[k]; t.Balance != t.Accounted() {
			bad = append(bad, fmt.Sprintf("%s: balances %d ≠ accounted %d", k, t.Balance, t.Accounted()))
		}
	}
	if t := p.Total(); t.Balance != t.Accounted() {
		bad = append(bad, fmt.Sprintf("all: balances %d ≠ accounted %d", t.Balance, t.Accounted()))
	}
	if len(bad) > 0 {
		return fmt.Errorf("the plan does not account for every yen: %s", strings.Join(bad, "; "))
	}
	return nil
}

// Duration is how long moving the first day takes at rate valid users a second.
func (p *Plan) Duration(rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	secs := float64(p.Total().Valid) / rate
	if secs > float64(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(secs * float64(time.Second)).Round(time.Second)
}

// Yen formats yen with thousands separators: ¥1,234,567.
func Yen(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString("¥")
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// WriteText prints the plan: per destination, rejections by reason, the invariant's check
// and the expected duration at rate users a second.
func (p *Plan) WriteText(w io.Writer, rate float64) error {
	var b strings.Builder
	fmt.Fprintf(&b, "caps: %s a day, %s in all per user; nanaco first-day room %s\n",
		Yen(p.Caps.Daily), Yen(p.Caps.Total), Yen(p.Caps.NanacoRoom))
	all := p.Total()
	fmt.Fprintf(&b, "rows: %d (valid %d, rejected %d)\n\n", p.Rows, all.Valid, all.Rejected)
	fmt.Fprintf(&b, "%-8s %9s %9s %18s %18s %18s %18s %18s %18s  %s\n",
		"dest", "valid", "rejected", "balances", "movable now", "deferred", "bank refund", "held", "rejected yen", "check")
	line := func(name string, t Totals) {
		check := "ok"
		if t.Balance != t.Accounted() {
			check = "MISMATCH " + Yen(t.Balance-t.Accounted())
		}
		fmt.Fprintf(&b, "%-8s %9d %9d %18s %18s %18s %18s %18s %18s  %s\n", name, t.Valid, t.Rejected,
			Yen(t.Balance), Yen(t.Now), Yen(t.Deferred), Yen(t.BankRefund), Yen(t.Held), Yen(t.RejectedYen), check)
	}
	for _, k := range append(Kinds[:len(Kinds):len(Kinds)], Unknown) {
		line(string(k), *p.ByKind[k])
	}
	line("all", all)
	fmt.Fprintf(&b, "\ninvariant: Σ balances = Σ movable now + Σ deferred + Σ bank refund + Σ held + Σ rejected, per destination: ")
	if err := p.Check(); err != nil {
		fmt.Fprintf(&b, "FAILED (%v)\n", err)
	} else {
		fmt.Fprintf(&b, "holds (%s)\n", Yen(all.Balance))
	}
	fmt.Fprintf(&b, "\ncaps: %d users deferred (%s over later days, at most %d days), %d bank refunds queued (%s, of which %s over the total cap), %d users held (%s)\n",
		all.Capped, Yen(all.Deferred), p.MaxDays, all.Refunded, Yen(all.BankRefund),
		Yen(all.BankRefund-p.ByKind[KindBank].BankRefund), all.HeldRows, Yen(all.Held))
	fmt.Fprintf(&b, "disputes: %d users, %d transactions, %s (reported, not held back)\n", p.DisputedUsers, p.DisputedTxns, Yen(p.DisputedYen))
	fmt.Fprintf(&b, "history checked: %d users; kyc levels 0–3: %v\n", p.WithHistory, p.KYC)
	fmt.Fprintf(&b, "\nrejections by reason:\n")
	for _, r := range Reasons {
		rt := p.ByReason[r]
		if rt.Rows == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %-26s %9d rows %18s", r, rt.Rows, Yen(rt.Yen))
		if rt.UnreadRows > 0 {
			fmt.Fprintf(&b, "  (%d rows without a readable balance)", rt.UnreadRows)
		}
		b.WriteByte('\n')
	}
	if all.Rejected == 0 {
		b.WriteString("  none\n")
	}
	if rate > 0 {
		fmt.Fprintf(&b, "\nexpected duration: %s for %d users at %g users/s (first day)\n", p.Duration(rate), all.Valid, rate)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
