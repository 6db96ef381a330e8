package migrate

import (
	"context"
	"fmt"

	"payhub/contracts"
	"payhub/internal/migration"
)

// A run is one export on one day; the next day's run of the same export moves what the
// caps deferred (docs/migration.md §8). What the earlier days did for a user is read from
// their moves, so nothing is carried in a separate table that could disagree with them.

// earlier is what the earlier days of this export did for one user, and whether another
// export's run moved them (the same user in a re-exported file: not moved again).
type earlier struct {
	// Credited is what partners credited on earlier days.
	Credited int64
	// BankRefund is what earlier days queued for bank refunds.
	BankRefund int64
	// OtherRun is a run of another export with a move for the user that is not failed.
	OtherRun string
}

func earlierOf(ps []contracts.PriorMoves, run contracts.MigrationRun) earlier {
	var e earlier
	for _, p := range ps {
		if p.ExportSHA256 != run.ExportSHA256 {
			if e.OtherRun == "" {
				e.OtherRun = p.RunID
			}
			continue
		}
		if p.Day >= run.Day {
			continue // a later day (the report of an earlier day, written again)
		}
		e.Credited += p.Credited
		e.BankRefund += p.BankRefund
	}
	return e
}

// splitAfter applies the caps to a balance after what the earlier days moved: the total cap
// counts what was credited before, the daily cap (and nanaco's room) bounds today, and
// what the total cap leaves over is refunded to the bank once. With nothing earlier it is
// Caps.Split. Before + Now + Deferred + BankRefund + Held == the balance, where Before is
// e.Credited + e.BankRefund.
func splitAfter(c migration.Caps, kind migration.Kind, balance int64, refundAccount bool, e earlier) migration.Split {
	if e.Credited == 0 && e.BankRefund == 0 {
		return c.Split(kind, balance, refundAccount)
	}
	switch kind {
	case migration.KindBank:
		return migration.Split{BankRefund: balance - e.BankRefund}
	case migration.KindNanaco, migration.KindPayPay:
	default:
		return migration.Split{Held: balance}
	}
	perDay := c.Daily
	if kind == migration.KindNanaco {
		perDay = min(perDay, c.NanacoRoom)
	}
	moving := min(balance, c.Total)
	left := moving - e.Credited
	s := migration.Split{Now: min(left, perDay)}
	s.Deferred = left - s.Now
	if left > 0 {
		s.Days = (left + perDay - 1) / perDay
	}
	if refundAccount {
		s.BankRefund = balance - moving - e.BankRefund
	} else {
		s.Held = balance - moving
	}
	return s
}

// earlierRuns checks a new day's run of an export against the export's other runs: every
// earlier day finished (its moves settled, so what it credited is known), no later day
// begun, the same caps. It reports whether there are earlier days.
func earlierRuns(ctx context.Context, st contracts.MigrationStore, sum, day string, caps migration.Caps) (bool, error) {
	runs, err := st.ListMigrationRuns(ctx, sum)
	if err != nil {
		return false, fmt.Errorf("migrate: find the runs of this export: %w", err)
	}
	found := false
	for _, r := range runs {
		switch {
		case r.Day == day:
		case r.Day > day:
			return false, fmt.Errorf("migrate: this export ran on %s (run %s), after %s: days run forward", r.Day, r.ID, day)
		case r.Status != contracts.MigrationRunFinished:
			return false, fmt.Errorf("migrate: run %s of this export on %s has not finished: continue it first (--day %s), so that what it moved is known",
				r.ID, r.Day, r.Day)
		case r.DailyCap != caps.Daily || r.TotalCap != caps.Total || r.NanacoRoom != caps.NanacoRoom:
			return false, fmt.Errorf("migrate: run %s of this export on %s had the caps %d/%d/%d, not %d/%d/%d: every day of an export runs with its caps",
				r.ID, r.Day, r.DailyCap, r.TotalCap, r.NanacoRoom, caps.Daily, caps.Total, caps.NanacoRoom)
		default:
			found = true
		}
	}
	return found, nil
}

// earlierFor reads what earlier runs did for the rows' users (those whose destination can
// move money).
func earlierFor(ctx context.Context, st contracts.MigrationStore, run contracts.MigrationRun, rows []migration.Row) (map[string]earlier, error) {
	var users []string
	for _, r := range rows {
		switch r.Destination.Kind {
		case migration.KindNanaco, migration.KindPayPay, migration.KindBank:
			users = append(users, r.UserID)
		}
	}
	prior, err := st.PriorMoves(ctx, users, run.ID)
	if err != nil {
		return nil, fmt.Errorf("migrate: read what earlier runs moved: %w", err)
	}
	out := make(map[string]earlier, len(prior))
	for u, ps := range prior {
		out[u] = earlierOf(ps, run)
	}
	return out, nil
}

// hasEarlierDays reports whether the run's export ran on a day before the run's.
func hasEarlierDays(ctx context.Context, st contracts.MigrationStore, run contracts.MigrationRun) (bool, error) {
	runs, err := st.ListMigrationRuns(ctx, run.ExportSHA256)
	if err != nil {
		return false, fmt.Errorf("migrate: find the runs of this export: %w", err)
	}
	for _, r := range runs {
		if r.Day < run.Day {
			return true, nil
		}
	}
	return false, nil
}
