package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"payhub/contracts"
)

// paymentColumns are the payments columns in the order paymentArgs and scanPayment use.
// id and store_id come first: UpdatePayment writes every column after them.
var paymentColumns = []string{
	"id", "store_id", "client_id", "terminal_id", "order_id", "method", "flow",
	"amount", "currency", "amount_refunded", "status", "user_authorization_id",
	"metadata", "next_action", "failure_code", "failure_message", "partner_code",
	"attempt", "partner_ref", "partner_payment_id", "partner_action_ref",
	"cancel_requested", "cancellation_reason", "event_sequence",
	"paid_at", "created_at", "updated_at", "capture_method", "amount_captured",
	"idempotency_key", "resolve_attempts", "resolve_next_at", "resolve_not_found", "needs_attention",
	"return_url", "partner_secret", "card_brand", "card_last4", "card_expiry", "provisional",
}

var (
	paymentSelect = "SELECT " + strings.Join(paymentColumns, ", ") + " FROM payments"
	paymentInsert = "INSERT INTO payments (" + strings.Join(paymentColumns, ", ") +
		") VALUES (" + placeholders(len(paymentColumns)) + ")"
)

// placeholders is "?, ?, …" n times.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// paymentArgs encodes p in paymentColumns order.
func (d dialect) paymentArgs(p contracts.Payment) ([]any, error) {
	metadata, err := encodeMetadata(p.Metadata)
	if err != nil {
		return nil, err
	}
	nextAction, err := encodeNextAction(p.NextAction)
	if err != nil {
		return nil, err
	}
	var card contracts.CardDetails
	if p.Card != nil {
		card = *p.Card
	}
	return []any{
		p.ID, p.StoreID, p.ClientID, p.TerminalID, p.OrderID, string(p.Method), string(p.Flow),
		p.Amount.Amount, string(p.Amount.Currency), p.AmountRefunded, string(p.Status), p.UserAuthorizationID,
		metadata, nextAction, p.FailureCode, p.FailureMessage, p.PartnerCode,
		p.Attempt, p.PartnerRef, p.PartnerPaymentID, p.PartnerActionRef,
		p.CancelRequested, p.CancellationReason, p.EventSequence,
		d.nullTS(p.PaidAt), d.ts(p.CreatedAt), d.ts(p.UpdatedAt), string(p.CaptureMethod), p.AmountCaptured,
		p.IdempotencyKey, p.Resolution.Attempts, d.nullTS(p.Resolution.NextAt), p.Resolution.NotFoundSeen,
		p.Resolution.NeedsAttention,
		p.ReturnURL, p.PartnerSecret, card.Brand, card.Last4, card.Expiry, p.Provisional,
	}, nil
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanPayment reads one row of paymentSelect.
func scanPayment(r rowScanner) (contracts.Payment, error) {
	var (
		p                    contracts.Payment
		metadata, nextAction sql.NullString
		card                 contracts.CardDetails
	)
	err := r.Scan(
		&p.ID, &p.StoreID, &p.ClientID, &p.TerminalID, &p.OrderID, &p.Method, &p.Flow,
		&p.Amount.Amount, &p.Amount.Currency, &p.AmountRefunded, &p.Status, &p.UserAuthorizationID,
		&metadata, &nextAction, &p.FailureCode, &p.FailureMessage, &p.PartnerCode,
		&p.Attempt, &p.PartnerRef, &p.PartnerPaymentID, &p.PartnerActionRef,
		&p.CancelRequested, &p.CancellationReason, &p.EventSequence,
		nullTimeCol{&p.PaidAt}, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt}, &p.CaptureMethod, &p.AmountCaptured,
		&p.IdempotencyKey, &p.Resolution.Attempts, nullTimeCol{&p.Resolution.NextAt}, &p.Resolution.NotFoundSeen,
		&p.Resolution.NeedsAttention,
		&p.ReturnURL, &p.PartnerSecret, &card.Brand, &card.Last4, &card.Expiry, &p.Provisional,
	)
	if err != nil {
		return contracts.Payment{}, err
	}
	if card != (contracts.CardDetails{}) {
		p.Card = &card
	}
	if metadata.Valid {
		if err := json.Unmarshal([]byte(metadata.String), &p.Metadata); err != nil {
			return contracts.Payment{}, fmt.Errorf("store: payment %s metadata: %w", p.ID, err)
		}
	}
	if nextAction.Valid {
		p.NextAction = new(contracts.NextAction)
		if err := json.Unmarshal([]byte(nextAction.String), p.NextAction); err != nil {
			return contracts.Payment{}, fmt.Errorf("store: payment %s next_action: %w", p.ID, err)
		}
	}
	return p, nil
}

// encodeMetadata stores nil as NULL and anything else (even empty) as JSON, so both
// round-trip.
func encodeMetadata(m map[string]string) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("store: metadata: %w", err)
	}
	return string(b), nil
}

// encodeNextAction stores the action as JSON, its expiry normalised like every timestamp.
func encodeNextAction(a *contracts.NextAction) (any, error) {
	if a == nil {
		return nil, nil
	}
	c := *a
	if c.ExpiresAt != nil {
		t := normTime(*c.ExpiresAt)
		c.ExpiresAt = &t
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("store: next_action: %w", err)
	}
	return string(b), nil
}

// getPayment reads a payment; storeID "" matches any store.
func getPayment(ctx context.Context, q querier, d dialect, storeID, id, suffix string) (contracts.Payment, error) {
	// By primary key alone, the store compared here: with "AND store_id = ?" PostgreSQL's
	// generic plan may pick a store index and walk the store's rows (seen in the bench:
	// 337 buffers a lookup, more as the store's history grows).
	v, err := scanPayment(q.QueryRowContext(ctx, d.q(paymentSelect+" WHERE id = ?"+suffix), id))
	if err == nil && storeID != "" && v.StoreID != storeID {
		err = sql.ErrNoRows // another store's payment is not this store's to see
	}
	if err != nil {
		return contracts.Payment{}, d.wrap("get payment "+id, err)
	}
	return v, nil
}

// queryPayments runs a paymentSelect query and reads all rows.
func queryPayments(ctx context.Context, q querier, d dialect, op, query string, args ...any) ([]contracts.Payment, error) {
	rows, err := q.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	var out []contracts.Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, d.wrap(op, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	return out, nil
}

// limitClause caps a list; a limit of zero or less means no cap.
func limitClause(limit int, args []any) (string, []any) {
	if limit <= 0 {
		return "", args
	}
	return " LIMIT ?", append(args, limit)
}

// GetPayment reads a payment of a store; storeID "" reads any store's. Another store's
// payment is ErrNotFound.
func (s *DB) GetPayment(ctx context.Context, storeID, id string) (contracts.Payment, error) {
	return getPayment(ctx, s.r(), s.d, storeID, id, "")
}

// ListPayments reads a page of one store's payments, newest (largest id) first, with every
// filter applied in SQL. A Limit of zero or less returns all matching payments.
func (s *DB) ListPayments(ctx context.Context, f contracts.PaymentFilter) ([]contracts.Payment, error) {
	if f.StoreID == "" {
		return nil, errors.New("store: list payments: StoreID is required")
	}
	var where strings.Builder
	where.WriteString(" WHERE store_id = ?")
	args := []any{f.StoreID}
	add := func(cond string, arg any) {
		where.WriteString(" AND " + cond)
		args = append(args, arg)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.TerminalID != "" {
		add("terminal_id = ?", f.TerminalID)
	}
	if f.Method != "" {
		add("method = ?", string(f.Method))
	}
	if f.OrderID != "" {
		add("order_id = ?", f.OrderID)
	}
	if !f.CreatedGTE.IsZero() {
		add("created_at >= ?", s.d.ts(f.CreatedGTE))
	}
	if !f.CreatedLT.IsZero() {
		add("created_at < ?", s.d.ts(f.CreatedLT))
	}
	if f.BeforeID != "" {
		add("id < ?", f.BeforeID)
	}
	limit, args := limitClause(f.Limit, args)
	return queryPayments(ctx, s.r(), s.d, "list payments",
		paymentSelect+where.String()+" ORDER BY id DESC"+limit, args...)
}

// ListPaymentsByStatus reads payments of any store in a status, oldest first. A limit of
// zero or less returns all of them.
func (s *DB) ListPaymentsByStatus(ctx context.Context, status contracts.Status, limit int) ([]contracts.Payment, error) {
	lim, args := limitClause(limit, []any{string(status)})
	return queryPayments(ctx, s.r(), s.d, "list payments by status",
		paymentSelect+" WHERE status = ? ORDER BY created_at, id"+lim, args...)
}

// ListPaymentsDueForPoll reads the payments waiting for the customer whose poll marker is
// absent, expired at now, or held by an instance gone since aliveAfter: those never polled
// first (oldest first), then the longest overdue. A payment polled lately is skipped here,
// in one read, rather than by a failed marker take per payment (each a write); and a
// poller that takes limit payments a pass reaches every waiting payment in turn, where the
// oldest limit of them had been polled every pass and the rest never.
func (s *DB) ListPaymentsDueForPoll(ctx context.Context, now, aliveAfter time.Time, limit int) ([]contracts.Payment, error) {
	lim, args := limitClause(limit, []any{string(contracts.LeasePolled), string(contracts.StatusRequiresAction),
		s.d.ts(now), s.d.ts(aliveAfter)})
	return queryPayments(ctx, s.r(), s.d, "list payments due for a poll",
		paymentSelect+" LEFT JOIN work_leases w ON w.kind = ? AND w.object_id = payments.id"+
			" WHERE payments.status = ? AND (w.object_id IS NULL OR w.expires_at <= ?"+
			" OR (w.instance_id <> '' AND NOT EXISTS (SELECT 1 FROM instances i"+
			" WHERE i.id = w.instance_id AND i.stopped_at IS NULL AND i.heartbeat_at > ?)))"+
			" ORDER BY CASE WHEN w.object_id IS NULL THEN 0 ELSE 1 END, w.expires_at, payments.created_at, payments.id"+lim, args...)
}

// ListPaymentsNeedingAttention reads the payments of any store that the resolver handed to
// an operator, oldest first; a limit of zero or less returns all of them.
func (s *DB) ListPaymentsNeedingAttention(ctx context.Context, limit int) ([]contracts.Payment, error) {
	lim, args := limitClause(limit, nil)
	return queryPayments(ctx, s.r(), s.d, "list payments needing attention",
		paymentSelect+s.d.indexedBy("payments_needing_attention")+" WHERE needs_attention = TRUE ORDER BY created_at, id"+lim, args...)
}

// openPayment selects the payments whose outcome the resolver may still have to settle. It
// is the predicate of the partial index payments_to_resolve, written verbatim so that both
// planners can use that index.
const openPayment = "needs_attention = FALSE AND (status IN ('unknown', 'processing') OR (status = 'succeeded' AND provisional) OR " +
	"(cancel_requested AND (status IN ('authorized', 'requires_action') OR " +
	"(status = 'succeeded' AND amount_refunded < amount_captured))))"

// ListPaymentsToResolve reads the payments of any store the resolver should look at now,
// in id (so creation) order: not flagged for attention, due (no NextAt, or NextAt at or
// before now), and either unknown, processing and last updated before stuckBefore, or
// authorized or requires_action with a cancel requested, or succeeded with a cancel
// requested and money still captured (a reversal not yet refunded in full). A limit of
// zero or less returns all of them.
func (s *DB) ListPaymentsToResolve(ctx context.Context, now, stuckBefore time.Time, limit int) ([]contracts.Payment, error) {
	// openPayment admits unknown, every processing payment and the cancel cases; the last
	// condition keeps only the processing payments that are stuck.
	lim, args := limitClause(limit, []any{s.d.ts(now), string(contracts.StatusProcessing), s.d.ts(stuckBefore)})
	return queryPayments(ctx, s.r(), s.d, "list payments to resolve",
		paymentSelect+s.d.indexedBy("payments_to_resolve")+" WHERE "+openPayment+
			" AND (resolve_next_at IS NULL OR resolve_next_at <= ?)"+
			" AND (status <> ? OR updated_at < ?)"+
			" ORDER BY id"+lim, args...)
}

// InsertPayment writes a new payment in one of contracts.InitialStatuses; an existing id is
// ErrConflict.
func (t *tx) InsertPayment(ctx context.Context, p contracts.Payment) error {
	if !slices.Contains(contracts.InitialStatuses, p.Status) {
		return fmt.Errorf("store: insert payment %s: status %q is not initial: %w",
			p.ID, p.Status, contracts.ErrInvalidTransition)
	}
	args, err := t.d.paymentArgs(p)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, t.d.q(paymentInsert), args...); err != nil {
		return t.d.wrap("insert payment "+p.ID, err)
	}
	return nil
}

// GetPaymentForUpdate reads a payment of any store and locks it until the transaction
// ends: a row lock on PostgreSQL; on SQLite the transaction already holds the write lock.
func (t *tx) GetPaymentForUpdate(ctx context.Context, id string) (contracts.Payment, error) {
	p, err := getPayment(ctx, t.tx, t.d, "", id, t.d.forUpdate())
	if err == nil {
		t.lock(p)
	}
	return p, err
}

// UpdatePayment writes p over the stored payment after checking the transition table
// against the stored status. ID and StoreID cannot change.
func (t *tx) UpdatePayment(ctx context.Context, p contracts.Payment) error {
	stored, ok := t.lockedPayment(p.ID)
	if !ok {
		var err error
		if stored, err = getPayment(ctx, t.tx, t.d, "", p.ID, t.d.forUpdate()); err != nil {
			return err
		}
	}
	if stored.StoreID != p.StoreID {
		return fmt.Errorf("store: update payment %s: store_id is immutable (%q → %q): %w",
			p.ID, stored.StoreID, p.StoreID, contracts.ErrConflict)
	}
	if !contracts.CanTransitionPayment(stored, p.Status) {
		return fmt.Errorf("store: update payment %s: %s → %s: %w",
			p.ID, stored.Status, p.Status, contracts.ErrInvalidTransition)
	}
	was, err := t.d.paymentArgs(stored)
	if err != nil {
		return err
	}
	args, err := t.d.paymentArgs(p)
	if err != nil {
		return err
	}
	if query, args := changedColumnsUpdate("payments", paymentColumns, 2, was, args, p.ID); query != "" {
		if err := t.execLater(ctx, "update payment "+p.ID, t.d.q(query), args...); err != nil {
			return err
		}
	}
	t.lock(p)
	if p.Status == contracts.StatusFailed && stored.Status != contracts.StatusFailed {
		// A payment that definitely failed moved no money: its share of the limits is
		// given back in the transaction that records the failure (docs/security.md §5).
		return t.ReleaseLimitUsage(ctx, p.ID)
	}
	return nil
}
