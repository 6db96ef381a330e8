package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"payhub/contracts"
)

// refundColumns are the refunds columns in the order refundArgs and scanRefund use. id,
// payment_id and store_id come first: UpdateRefund writes every column after them.
var refundColumns = []string{
	"id", "payment_id", "store_id", "amount", "currency", "status", "reason",
	"partner_ref", "partner_refund_id", "partner_code", "failure_code", "failure_message",
	"created_at", "updated_at",
	"client_id", "idempotency_key", "resolve_attempts", "resolve_next_at", "resolve_not_found", "needs_attention",
}

var (
	refundSelect = "SELECT " + strings.Join(refundColumns, ", ") + " FROM refunds"
	refundInsert = "INSERT INTO refunds (" + strings.Join(refundColumns, ", ") +
		") VALUES (" + placeholders(len(refundColumns)) + ")"
)

// refundArgs encodes r in refundColumns order.
func (d dialect) refundArgs(r contracts.Refund) []any {
	return []any{
		r.ID, r.PaymentID, r.StoreID, r.Amount.Amount, string(r.Amount.Currency), string(r.Status), r.Reason,
		r.PartnerRef, r.PartnerRefundID, r.PartnerCode, r.FailureCode, r.FailureMessage,
		d.ts(r.CreatedAt), d.ts(r.UpdatedAt),
		r.ClientID, r.IdempotencyKey, r.Resolution.Attempts, d.nullTS(r.Resolution.NextAt), r.Resolution.NotFoundSeen,
		r.Resolution.NeedsAttention,
	}
}

// scanRefund reads one row of refundSelect.
func scanRefund(r rowScanner) (contracts.Refund, error) {
	var f contracts.Refund
	err := r.Scan(
		&f.ID, &f.PaymentID, &f.StoreID, &f.Amount.Amount, &f.Amount.Currency, &f.Status, &f.Reason,
		&f.PartnerRef, &f.PartnerRefundID, &f.PartnerCode, &f.FailureCode, &f.FailureMessage,
		timeCol{&f.CreatedAt}, timeCol{&f.UpdatedAt},
		&f.ClientID, &f.IdempotencyKey, &f.Resolution.Attempts, nullTimeCol{&f.Resolution.NextAt}, &f.Resolution.NotFoundSeen,
		&f.Resolution.NeedsAttention,
	)
	return f, err
}

// getRefund reads a refund; storeID "" matches any store. suffix is appended to the query
// (the row lock, or "").
func getRefund(ctx context.Context, q querier, d dialect, storeID, id, suffix string) (contracts.Refund, error) {
	// By primary key alone, the store compared here: with "AND store_id = ?" PostgreSQL's
	// generic plan may pick a store index and walk the store's rows (seen in the bench:
	// 337 buffers a lookup, more as the store's history grows).
	v, err := scanRefund(q.QueryRowContext(ctx, d.q(refundSelect+" WHERE id = ?"+suffix), id))
	if err == nil && storeID != "" && v.StoreID != storeID {
		err = sql.ErrNoRows // another store's refund is not this store's to see
	}
	if err != nil {
		return contracts.Refund{}, d.wrap("get refund "+id, err)
	}
	return v, nil
}

// listRefunds reads a payment's refunds, oldest first.
func listRefunds(ctx context.Context, q querier, d dialect, paymentID string) ([]contracts.Refund, error) {
	return queryRefunds(ctx, q, d, "list refunds",
		refundSelect+" WHERE payment_id = ? ORDER BY created_at, id", paymentID)
}

// queryRefunds runs a refundSelect query and reads all rows.
func queryRefunds(ctx context.Context, q querier, d dialect, op, query string, args ...any) ([]contracts.Refund, error) {
	rows, err := q.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	var out []contracts.Refund
	for rows.Next() {
		r, err := scanRefund(rows)
		if err != nil {
			return nil, d.wrap(op, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	return out, nil
}

// openRefund selects the refunds whose outcome the resolver may still have to settle. It is
// the predicate of the partial index refunds_to_resolve, written verbatim so that both
// planners can use that index.
const openRefund = "needs_attention = FALSE AND status IN ('unknown', 'pending')"

// ListRefundsToResolve reads the refunds of any store the resolver should look at now, in
// id (so creation) order: not flagged for attention, due (no NextAt, or NextAt at or before
// now), and either unknown or pending and last updated before stuckBefore. A limit of zero
// or less returns all of them.
func (s *DB) ListRefundsToResolve(ctx context.Context, now, stuckBefore time.Time, limit int) ([]contracts.Refund, error) {
	lim, args := limitClause(limit, []any{s.d.ts(now), string(contracts.RefundPending), s.d.ts(stuckBefore)})
	return queryRefunds(ctx, s.r(), s.d, "list refunds to resolve",
		refundSelect+s.d.indexedBy("refunds_to_resolve")+" WHERE "+openRefund+
			" AND (resolve_next_at IS NULL OR resolve_next_at <= ?)"+
			" AND (status <> ? OR updated_at < ?)"+
			" ORDER BY id"+lim, args...)
}

// GetRefund reads a refund of a store; storeID "" reads any store's.
func (s *DB) GetRefund(ctx context.Context, storeID, id string) (contracts.Refund, error) {
	return getRefund(ctx, s.r(), s.d, storeID, id, "")
}

// GetRefundForUpdate reads a refund of any store and locks it until the transaction ends:
// a row lock on PostgreSQL; on SQLite the transaction already holds the write lock.
func (t *tx) GetRefundForUpdate(ctx context.Context, id string) (contracts.Refund, error) {
	return getRefund(ctx, t.tx, t.d, "", id, t.d.forUpdate())
}

// ListRefunds reads a payment's refunds, oldest first.
func (s *DB) ListRefunds(ctx context.Context, paymentID string) ([]contracts.Refund, error) {
	return listRefunds(ctx, s.r(), s.d, paymentID)
}

// ListRefunds reads a payment's refunds, oldest first, as the transaction sees them.
func (t *tx) ListRefunds(ctx context.Context, paymentID string) ([]contracts.Refund, error) {
	return listRefunds(ctx, t.tx, t.d, paymentID)
}

// InsertRefund writes a new refund; an existing id is ErrConflict, an unknown payment
// ErrNotFound.
func (t *tx) InsertRefund(ctx context.Context, r contracts.Refund) error {
	if _, err := t.tx.ExecContext(ctx, t.d.q(refundInsert), t.d.refundArgs(r)...); err != nil {
		return t.d.wrap("insert refund "+r.ID, err)
	}
	return nil
}

// UpdateRefund writes r over the stored refund after checking the refund transition
// table. ID, PaymentID and StoreID cannot change.
func (t *tx) UpdateRefund(ctx context.Context, r contracts.Refund) error {
	stored, err := getRefund(ctx, t.tx, t.d, "", r.ID, t.d.forUpdate())
	if err != nil {
		return err
	}
	if stored.PaymentID != r.PaymentID || stored.StoreID != r.StoreID {
		return fmt.Errorf("store: update refund %s: payment and store are immutable: %w",
			r.ID, contracts.ErrConflict)
	}
	if !contracts.CanTransitionRefund(stored.Status, r.Status) {
		return fmt.Errorf("store: update refund %s: %s → %s: %w",
			r.ID, stored.Status, r.Status, contracts.ErrInvalidTransition)
	}
	if query, args := changedColumnsUpdate("refunds", refundColumns, 3, t.d.refundArgs(stored), t.d.refundArgs(r), r.ID); query != "" {
		if _, err := t.tx.ExecContext(ctx, t.d.q(query), args...); err != nil {
			return t.d.wrap("update refund "+r.ID, err)
		}
	}
	return nil
}
