package store

import (
	"context"
	"fmt"
	"time"

	"payhub/contracts"
)

// AppendEvent adds an event to the outbox; a second event with the same (PaymentID,
// Sequence), or the same id, is ErrConflict.
func (t *tx) AppendEvent(ctx context.Context, e contracts.Event) error {
	payload := e.Payload
	if payload == nil {
		payload = []byte{}
	}
	err := t.execLater(ctx, fmt.Sprintf("append event %s (payment %s #%d)", e.ID, e.PaymentID, e.Sequence), t.d.q(`INSERT INTO events
		(id, type, store_id, payment_id, refund_id, sequence, payload, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ID, string(e.Type), e.StoreID, nullString(e.PaymentID), e.RefundID, e.Sequence, payload, t.d.ts(e.CreatedAt))
	if err != nil {
		return err
	}
	return fanOut(ctx, t, e)
}

// ListEvents reads a payment's events in sequence order.
func (s *DB) ListEvents(ctx context.Context, paymentID string) ([]contracts.Event, error) {
	rows, err := s.r().QueryContext(ctx, s.d.q(`SELECT
		id, type, store_id, payment_id, refund_id, sequence, payload, created_at
		FROM events WHERE payment_id = ? ORDER BY sequence`), paymentID)
	if err != nil {
		return nil, s.d.wrap("list events", err)
	}
	defer rows.Close()
	var out []contracts.Event
	for rows.Next() {
		var e contracts.Event
		if err := rows.Scan(&e.ID, &e.Type, &e.StoreID, &e.PaymentID, &e.RefundID, &e.Sequence,
			&e.Payload, timeCol{&e.CreatedAt}); err != nil {
			return nil, s.d.wrap("list events", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.d.wrap("list events", err)
	}
	return out, nil
}

// InsertAttempt writes the intent to call a partner, before the call.
func (t *tx) InsertAttempt(ctx context.Context, a contracts.Attempt) error {
	return t.execLater(ctx, "insert attempt "+a.ID, t.d.q(`INSERT INTO attempts
		(id, payment_id, refund_id, operation, partner_ref, outcome, partner_code, started_at, finished_at, client_id, idempotency_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		a.ID, a.PaymentID, a.RefundID, string(a.Operation), a.PartnerRef, string(a.Outcome), a.PartnerCode,
		t.d.ts(a.StartedAt), t.d.nullTS(a.FinishedAt), a.ClientID, a.IdempotencyKey)
}

// FinishAttempt records an attempt's outcome. An unknown attempt is ErrNotFound; one
// already finished is ErrConflict, because an attempt has exactly one outcome.
func (t *tx) FinishAttempt(ctx context.Context, id string, outcome contracts.Outcome, partnerCode string, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE attempts
		SET outcome = ?, partner_code = ?, finished_at = ?
		WHERE id = ? AND finished_at IS NULL`),
		string(outcome), partnerCode, t.d.ts(at), id)
	if err != nil {
		return t.d.wrap("finish attempt "+id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return t.d.wrap("finish attempt "+id, err)
	}
	var one int
	if err := t.tx.QueryRowContext(ctx, t.d.q("SELECT 1 FROM attempts WHERE id = ?"), id).Scan(&one); err != nil {
		return t.d.wrap("finish attempt "+id, err)
	}
	return fmt.Errorf("store: finish attempt %s: already finished: %w", id, contracts.ErrConflict)
}

// ListAttempts reads a payment's partner attempts, oldest first.
func (s *DB) ListAttempts(ctx context.Context, paymentID string) ([]contracts.Attempt, error) {
	return listAttempts(ctx, s.r(), s.d, paymentID)
}

// ListAttempts reads a payment's partner attempts, oldest first, as the transaction sees them.
func (t *tx) ListAttempts(ctx context.Context, paymentID string) ([]contracts.Attempt, error) {
	return listAttempts(ctx, t.tx, t.d, paymentID)
}

const attemptSelect = `SELECT
	id, payment_id, refund_id, operation, partner_ref, outcome, partner_code, started_at, finished_at, client_id, idempotency_key
	FROM attempts`

// GetAttempt reads one partner attempt; ErrNotFound when there is none.
func (s *DB) GetAttempt(ctx context.Context, id string) (contracts.Attempt, error) {
	attempts, err := queryAttempts(ctx, s.r(), s.d, "get attempt", attemptSelect+" WHERE id = ?", id)
	if err != nil {
		return contracts.Attempt{}, err
	}
	if len(attempts) == 0 {
		return contracts.Attempt{}, fmt.Errorf("store: attempt %s: %w", id, contracts.ErrNotFound)
	}
	return attempts[0], nil
}

func listAttempts(ctx context.Context, q querier, d dialect, paymentID string) ([]contracts.Attempt, error) {
	return queryAttempts(ctx, q, d, "list attempts", attemptSelect+" WHERE payment_id = ? ORDER BY started_at, id", paymentID)
}

// ListStuckAttempts reads the captures and cancels of any payment that were sent before
// startedBefore and whose outcome was never recorded, oldest first; a limit of zero or
// less returns all of them.
func (s *DB) ListStuckAttempts(ctx context.Context, startedBefore time.Time, limit int) ([]contracts.Attempt, error) {
	lim, args := limitClause(limit, []any{s.d.ts(startedBefore), string(contracts.OpCapture), string(contracts.OpCancel)})
	return queryAttempts(ctx, s.r(), s.d, "list stuck attempts", attemptSelect+s.d.indexedBy("attempts_in_flight")+
		" WHERE finished_at IS NULL AND started_at < ? AND operation IN (?, ?) ORDER BY started_at, id"+lim, args...)
}

func queryAttempts(ctx context.Context, q querier, d dialect, what, query string, args ...any) ([]contracts.Attempt, error) {
	rows, err := q.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, d.wrap(what, err)
	}
	defer rows.Close()
	var out []contracts.Attempt
	for rows.Next() {
		var a contracts.Attempt
		if err := rows.Scan(&a.ID, &a.PaymentID, &a.RefundID, &a.Operation, &a.PartnerRef, &a.Outcome,
			&a.PartnerCode, timeCol{&a.StartedAt}, nullTimeCol{&a.FinishedAt}, &a.ClientID, &a.IdempotencyKey); err != nil {
			return nil, d.wrap(what, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(what, err)
	}
	return out, nil
}

// AllocateSequence hands out the next sequence number of (method, terminal, businessDate)
// in the caller's transaction (docs/partners/nanaco.md §B3): one upsert, so two
// transactions never get the same number (the row lock orders them on PostgreSQL, the
// write lock on SQLite), and a transaction that rolls back hands nothing out.
func (t *tx) AllocateSequence(ctx context.Context, method contracts.Method, terminal, businessDate string, max int) (int, error) {
	var seq int
	err := t.tx.QueryRowContext(ctx, t.d.q(`INSERT INTO partner_sequences (method, terminal, business_date, last_seq) VALUES (?, ?, ?, 1)
		ON CONFLICT (method, terminal, business_date) DO UPDATE SET last_seq = partner_sequences.last_seq + 1
		RETURNING last_seq`), string(method), terminal, businessDate).Scan(&seq)
	if err != nil {
		return 0, t.d.wrap("allocate sequence", err)
	}
	if seq > max {
		return 0, fmt.Errorf("store: terminal %s on %s: %w", terminal, businessDate, contracts.ErrSequenceExhausted)
	}
	return seq, nil
}
