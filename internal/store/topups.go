package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"payhub/contracts"
)

// topUpColumns are the top_ups columns in the order topUpArgs and scanTopUp use. The
// immutable columns come first (topUpMutable is where the rest begins): UpdateTopUp
// writes only those after them.
var topUpColumns = []string{
	"id", "store_id", "client_id", "method", "terminal_id", "card_last4", "amount", "currency", "funding",
	"partner_ref", "created_at", "idempotency_key",
	"status", "partner_txn_id", "partner_code", "failure_code", "failure_message", "credited_to", "event_sequence",
	"resolve_attempts", "resolve_next_at", "needs_attention",
	"cancel_started_at", "cancel_client_id", "cancel_idempotency_key", "updated_at", "canceled_at",
}

// topUpMutable is the index of the first column UpdateTopUp writes.
const topUpMutable = 12

var (
	topUpSelect = "SELECT " + strings.Join(topUpColumns, ", ") + " FROM top_ups"
	topUpInsert = "INSERT INTO top_ups (" + strings.Join(topUpColumns, ", ") +
		") VALUES (" + placeholders(len(topUpColumns)) + ")"
	topUpUpdate = "UPDATE top_ups SET " + strings.Join(topUpColumns[topUpMutable:], " = ?, ") + " = ? WHERE id = ?"
)

// topUpArgs encodes t in topUpColumns order.
func (d dialect) topUpArgs(t contracts.TopUp) []any {
	return []any{
		t.ID, t.StoreID, t.ClientID, string(t.Method), t.TerminalID, t.CardLast4, t.Amount.Amount, string(t.Amount.Currency),
		string(t.Funding), t.PartnerRef, d.ts(t.CreatedAt), t.IdempotencyKey,
		string(t.Status), t.PartnerTxnID, t.PartnerCode, t.FailureCode, t.FailureMessage, t.CreditedTo, t.EventSequence,
		t.Resolution.Attempts, d.nullTS(t.Resolution.NextAt), t.Resolution.NeedsAttention,
		d.nullTS(t.CancelStartedAt), t.CancelClientID, t.CancelIdempotencyKey, d.ts(t.UpdatedAt), d.nullTS(t.CanceledAt),
	}
}

// scanTopUp reads one row of topUpSelect.
func scanTopUp(r rowScanner) (contracts.TopUp, error) {
	var t contracts.TopUp
	err := r.Scan(
		&t.ID, &t.StoreID, &t.ClientID, &t.Method, &t.TerminalID, &t.CardLast4, &t.Amount.Amount, &t.Amount.Currency,
		&t.Funding, &t.PartnerRef, timeCol{&t.CreatedAt}, &t.IdempotencyKey,
		&t.Status, &t.PartnerTxnID, &t.PartnerCode, &t.FailureCode, &t.FailureMessage, &t.CreditedTo, &t.EventSequence,
		&t.Resolution.Attempts, nullTimeCol{&t.Resolution.NextAt}, &t.Resolution.NeedsAttention,
		nullTimeCol{&t.CancelStartedAt}, &t.CancelClientID, &t.CancelIdempotencyKey, timeCol{&t.UpdatedAt}, nullTimeCol{&t.CanceledAt},
	)
	return t, err
}

// getTopUp reads a top-up; storeID "" matches any store. suffix is the row lock or "".
func getTopUp(ctx context.Context, q querier, d dialect, storeID, id, suffix string) (contracts.TopUp, error) {
	// By primary key alone, the store compared here: with "AND store_id = ?" PostgreSQL's
	// generic plan may pick a store index and walk the store's rows (seen in the bench:
	// 337 buffers a lookup, more as the store's history grows).
	v, err := scanTopUp(q.QueryRowContext(ctx, d.q(topUpSelect+" WHERE id = ?"+suffix), id))
	if err == nil && storeID != "" && v.StoreID != storeID {
		err = sql.ErrNoRows // another store's top-up is not this store's to see
	}
	if err != nil {
		return contracts.TopUp{}, d.wrap("get top-up "+id, err)
	}
	return v, nil
}

// GetTopUp reads a top-up of a store; storeID "" reads any store's. Another store's
// top-up is ErrNotFound.
func (s *DB) GetTopUp(ctx context.Context, storeID, id string) (contracts.TopUp, error) {
	return getTopUp(ctx, s.r(), s.d, storeID, id, "")
}

// GetTopUpForUpdate reads a top-up of any store and locks it until the transaction ends: a
// row lock on PostgreSQL; on SQLite the transaction already holds the write lock.
func (t *tx) GetTopUpForUpdate(ctx context.Context, id string) (contracts.TopUp, error) {
	return getTopUp(ctx, t.tx, t.d, "", id, t.d.forUpdate())
}

// InsertTopUp writes a new top-up, which must be pending; an existing id, or an existing
// partner ref of its method, is ErrConflict.
func (t *tx) InsertTopUp(ctx context.Context, tu contracts.TopUp) error {
	if tu.Status != contracts.TopUpPending {
		return fmt.Errorf("store: insert top-up %s: status %q, want pending: %w", tu.ID, tu.Status, contracts.ErrInvalidTransition)
	}
	if _, err := t.tx.ExecContext(ctx, t.d.q(topUpInsert), t.d.topUpArgs(tu)...); err != nil {
		return t.d.wrap("insert top-up "+tu.ID, err)
	}
	return nil
}

// UpdateTopUp writes tu over the stored top-up after checking the top-up transition table
// and that no immutable column would change.
func (t *tx) UpdateTopUp(ctx context.Context, tu contracts.TopUp) error {
	stored, err := getTopUp(ctx, t.tx, t.d, "", tu.ID, t.d.forUpdate())
	if err != nil {
		return err
	}
	want, got := t.d.topUpArgs(stored)[:topUpMutable], t.d.topUpArgs(tu)[:topUpMutable]
	for i := range want {
		if fmt.Sprint(want[i]) != fmt.Sprint(got[i]) {
			return fmt.Errorf("store: update top-up %s: %s is immutable: %w", tu.ID, topUpColumns[i], contracts.ErrConflict)
		}
	}
	if !contracts.CanTransitionTopUp(stored.Status, tu.Status) {
		return fmt.Errorf("store: update top-up %s: %s → %s: %w", tu.ID, stored.Status, tu.Status, contracts.ErrInvalidTransition)
	}
	args := append(t.d.topUpArgs(tu)[topUpMutable:], tu.ID)
	if _, err := t.tx.ExecContext(ctx, t.d.q(topUpUpdate), args...); err != nil {
		return t.d.wrap("update top-up "+tu.ID, err)
	}
	if tu.Status == contracts.TopUpFailed && stored.Status != contracts.TopUpFailed {
		// A top-up that definitely failed loaded nothing: its share of the limits is given
		// back with the failure (docs/security.md §5).
		return t.ReleaseLimitUsage(ctx, tu.ID)
	}
	return nil
}

// openTopUp selects the top-ups the resolver may still have to settle: the predicate of
// the partial index top_ups_to_resolve, verbatim, so that both planners can use it.
const openTopUp = "needs_attention = FALSE AND (status IN ('unknown', 'pending') OR cancel_started_at IS NOT NULL)"

// ListTopUpsToResolve reads the top-ups of any store the resolver should look at now, in id
// (so creation) order: open (openTopUp), due (no NextAt, or NextAt at or before now), and
// either unknown or last updated before stuckBefore (a pending call or a cancel that a
// crash or a lost answer left behind). A limit of zero or less returns all of them.
func (s *DB) ListTopUpsToResolve(ctx context.Context, now, stuckBefore time.Time, limit int) ([]contracts.TopUp, error) {
	lim, args := limitClause(limit, []any{s.d.ts(now), string(contracts.TopUpUnknown), s.d.ts(stuckBefore)})
	rows, err := s.r().QueryContext(ctx, s.d.q(topUpSelect+s.d.indexedBy("top_ups_to_resolve")+" WHERE "+openTopUp+
		" AND (resolve_next_at IS NULL OR resolve_next_at <= ?)"+
		" AND (status = ? OR updated_at < ?)"+
		" ORDER BY id"+lim), args...)
	if err != nil {
		return nil, s.d.wrap("list top-ups to resolve", err)
	}
	defer rows.Close()
	var out []contracts.TopUp
	for rows.Next() {
		t, err := scanTopUp(rows)
		if err != nil {
			return nil, s.d.wrap("list top-ups to resolve", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.d.wrap("list top-ups to resolve", err)
	}
	return out, nil
}
