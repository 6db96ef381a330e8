package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"payhub/contracts"
)

// Velocity and amount limits (docs/security.md §5): the rules, and the usage each admitted
// operation reserved in the transaction of its intent.

const limitRuleColumns = "id, subject, subject_id, operation, method, window_seconds, max_count, max_amount, currency, " +
	"reason, set_by, set_at, removed_by, removed_at, remove_reason"

// unreleased is the partial index's predicate, spelt as each dialect's index has it (a
// query must repeat it for SQLite to use the index).
func (d dialect) unreleased() string {
	if d.postgres {
		return "NOT released"
	}
	return "released = 0"
}

// LockLimitSubjects takes a transaction advisory lock per subject key on PostgreSQL, in
// sorted order so that two transactions locking overlapping sets cannot deadlock. SQLite's
// BEGIN IMMEDIATE already serialises every writing transaction.
func (t *tx) LockLimitSubjects(ctx context.Context, keys []string) error {
	if !t.d.postgres || len(keys) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, limitLockID(k))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		if _, err := t.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", id); err != nil {
			return t.d.wrap("lock limit subject", err)
		}
	}
	return nil
}

// limitLockID maps a subject key to an advisory lock id in a space of its own (the audit
// chain uses another): two keys that collide only share a lock, which is safe.
func limitLockID(key string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("payhub.limit:"))
	_, _ = h.Write([]byte(key))
	return int64(h.Sum64() >> 1)
}

func (t *tx) limitUsageFilter(key string, op contracts.ControlOperation, method contracts.Method, currency string, since time.Time) (string, []any) {
	where := " FROM limit_usage WHERE subject_key = ? AND " + t.d.unreleased() + " AND at >= ? AND operation = ?"
	args := []any{key, t.d.ts(since), string(op)}
	if currency != "" {
		where += " AND currency = ?"
		args = append(args, currency)
	}
	if method != "" {
		where += " AND method = ?"
		args = append(args, string(method))
	}
	return where, args
}

// LimitWindowUse sums the unreleased usage of key in the window.
func (t *tx) LimitWindowUse(ctx context.Context, key string, op contracts.ControlOperation, method contracts.Method, currency string, since time.Time) (contracts.LimitWindowUse, error) {
	where, args := t.limitUsageFilter(key, op, method, currency, since)
	var u contracts.LimitWindowUse
	err := t.tx.QueryRowContext(ctx, t.d.q("SELECT COUNT(*), COALESCE(SUM(amount), 0)"+where), args...).Scan(&u.Count, &u.Amount)
	return u, t.d.wrap("read limit usage", err)
}

// LimitUses lists the unreleased usage of key in the window, oldest first.
func (t *tx) LimitUses(ctx context.Context, key string, op contracts.ControlOperation, method contracts.Method, currency string, since time.Time) ([]contracts.LimitUse, error) {
	where, args := t.limitUsageFilter(key, op, method, currency, since)
	rows, err := t.tx.QueryContext(ctx, t.d.q("SELECT at, amount"+where+" ORDER BY at, id"), args...)
	if err != nil {
		return nil, t.d.wrap("list limit usage", err)
	}
	defer rows.Close()
	var out []contracts.LimitUse
	for rows.Next() {
		var u contracts.LimitUse
		if err := rows.Scan(timeCol{&u.At}, &u.Amount); err != nil {
			return nil, t.d.wrap("list limit usage", err)
		}
		out = append(out, u)
	}
	return out, t.d.wrap("list limit usage", rows.Err())
}

// InsertLimitUsage records usage rows.
func (t *tx) InsertLimitUsage(ctx context.Context, uses []contracts.LimitUsage) error {
	for _, u := range uses {
		if u.SubjectKey == "" || u.ObjectID == "" || u.Amount.Amount < 0 {
			return errors.New("store: insert limit usage: subject key, object id and a non-negative amount are required")
		}
		_, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO limit_usage (subject_key, operation, method, amount, currency, at, object_id) "+
			"VALUES (?, ?, ?, ?, ?, ?, ?)"), u.SubjectKey, string(u.Operation), string(u.Method), u.Amount.Amount,
			string(u.Amount.Currency), t.d.ts(u.At), u.ObjectID)
		if err != nil {
			return t.d.wrap("insert limit usage", err)
		}
	}
	return nil
}

// ReleaseLimitUsage gives back an operation's usage.
func (t *tx) ReleaseLimitUsage(ctx context.Context, objectID string) error {
	_, err := t.tx.ExecContext(ctx, t.d.q("UPDATE limit_usage SET released = ? WHERE object_id = ? AND "+t.d.unreleased()), true, objectID)
	return t.d.wrap("release limit usage of "+objectID, err)
}

// InsertLimitRule adds a rule and bumps the controls version, so every instance re-reads
// the rules with the kill switches.
func (t *tx) InsertLimitRule(ctx context.Context, r contracts.LimitRule) error {
	if r.ID == "" || r.SetBy == "" || r.Window < time.Second {
		return errors.New("store: insert limit rule: id, set_by and a window of at least a second are required")
	}
	_, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO limit_rules ("+limitRuleColumns+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', NULL, '')"),
		r.ID, string(r.Subject), r.SubjectID, string(r.Operation), string(r.Method), int64(r.Window/time.Second),
		r.MaxCount, r.MaxAmount, string(r.Currency), r.Reason, r.SetBy, t.d.ts(r.SetAt))
	if err != nil {
		return t.d.wrap("insert limit rule "+r.ID, err)
	}
	return t.bumpControls(ctx)
}

// RemoveLimitRule removes a rule and bumps the controls version.
func (t *tx) RemoveLimitRule(ctx context.Context, id, by, reason string, at time.Time) (contracts.LimitRule, error) {
	r, err := getLimitRule(ctx, t.tx, t.d, id, true)
	if err != nil {
		return contracts.LimitRule{}, err
	}
	if r.RemovedAt != nil {
		return r, fmt.Errorf("store: remove limit rule %s: removed before: %w", id, contracts.ErrInvalidTransition)
	}
	if _, err := t.tx.ExecContext(ctx, t.d.q("UPDATE limit_rules SET removed_by = ?, removed_at = ?, remove_reason = ? WHERE id = ?"),
		by, t.d.ts(at), reason, id); err != nil {
		return contracts.LimitRule{}, t.d.wrap("remove limit rule "+id, err)
	}
	removed := normTime(at)
	r.RemovedBy, r.RemovedAt, r.RemoveReason = by, &removed, reason
	return r, t.bumpControls(ctx)
}

// MarkLimitDefaultsSeeded records the seeding of the default rules, once.
func (t *tx) MarkLimitDefaultsSeeded(ctx context.Context, at time.Time) (bool, error) {
	res, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO limit_defaults (id, seeded_at) VALUES (1, ?) ON CONFLICT (id) DO NOTHING"), t.d.ts(at))
	if err != nil {
		return false, t.d.wrap("mark limit defaults", err)
	}
	n, err := res.RowsAffected()
	return n == 1, t.d.wrap("mark limit defaults", err)
}

// ListLimitRules reads the rules in force (all with includeRemoved), by id.
func (s *DB) ListLimitRules(ctx context.Context, includeRemoved bool) ([]contracts.LimitRule, error) {
	query := "SELECT " + limitRuleColumns + " FROM limit_rules"
	if !includeRemoved {
		query += " WHERE removed_at IS NULL"
	}
	rows, err := s.r().QueryContext(ctx, query+" ORDER BY id")
	if err != nil {
		return nil, s.d.wrap("list limit rules", err)
	}
	defer rows.Close()
	var out []contracts.LimitRule
	for rows.Next() {
		r, err := scanLimitRule(rows)
		if err != nil {
			return nil, s.d.wrap("list limit rules", err)
		}
		out = append(out, r)
	}
	return out, s.d.wrap("list limit rules", rows.Err())
}

// GetLimitRule reads one rule.
func (s *DB) GetLimitRule(ctx context.Context, id string) (contracts.LimitRule, error) {
	return getLimitRule(ctx, s.r(), s.d, id, false)
}

func getLimitRule(ctx context.Context, q querier, d dialect, id string, lock bool) (contracts.LimitRule, error) {
	query := d.q("SELECT " + limitRuleColumns + " FROM limit_rules WHERE id = ?")
	if lock {
		query += d.forUpdate()
	}
	r, err := scanLimitRule(q.QueryRowContext(ctx, query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return contracts.LimitRule{}, fmt.Errorf("store: limit rule %s: %w", id, contracts.ErrNotFound)
	}
	return r, d.wrap("read limit rule "+strings.ToValidUTF8(id, ""), err)
}

func scanLimitRule(r scanner) (contracts.LimitRule, error) {
	var (
		l                        contracts.LimitRule
		subject, op, method, cur string
		windowSeconds            int64
	)
	err := r.Scan(&l.ID, &subject, &l.SubjectID, &op, &method, &windowSeconds, &l.MaxCount, &l.MaxAmount, &cur,
		&l.Reason, &l.SetBy, timeCol{&l.SetAt}, &l.RemovedBy, nullTimeCol{&l.RemovedAt}, &l.RemoveReason)
	l.Subject, l.Operation, l.Method = contracts.LimitSubject(subject), contracts.ControlOperation(op), contracts.Method(method)
	l.Window, l.Currency = time.Duration(windowSeconds)*time.Second, contracts.Currency(cur)
	return l, err
}
