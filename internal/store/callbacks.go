package store

import (
	"context"
	"fmt"
	"time"

	"payhub/contracts"
)

// RecordCallback writes a callback unless its (partner, event_id) is already in the inbox.
func (s *DB) RecordCallback(ctx context.Context, cb contracts.PartnerCallback) (bool, error) {
	res, err := s.r().ExecContext(ctx, s.d.q(`INSERT INTO partner_callbacks
		(id, partner, event_id, source_ip, body, received_at, status, note, lease_until, processed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)
		ON CONFLICT (partner, event_id) DO NOTHING`),
		cb.ID, string(cb.Partner), cb.EventID, cb.SourceIP, cb.Body, s.d.ts(cb.ReceivedAt), string(cb.Status), cb.Note,
		s.d.nullTS(cb.ProcessedAt))
	if err != nil {
		return false, s.d.wrap("record callback", err)
	}
	n, err := res.RowsAffected()
	return n == 1, s.d.wrap("record callback", err)
}

const callbackSelect = `SELECT id, partner, event_id, source_ip, body, received_at, status, note, processed_at FROM partner_callbacks`

func scanCallback(row interface{ Scan(...any) error }, cb *contracts.PartnerCallback) error {
	return row.Scan(&cb.ID, &cb.Partner, &cb.EventID, &cb.SourceIP, &cb.Body, timeCol{&cb.ReceivedAt}, &cb.Status, &cb.Note,
		nullTimeCol{&cb.ProcessedAt})
}

// ClaimCallbacks leases the oldest received callbacks whose lease is free.
func (s *DB) ClaimCallbacks(ctx context.Context, now, leaseUntil time.Time, limit int) ([]contracts.PartnerCallback, error) {
	var out []contracts.PartnerCallback
	err := s.inTx(ctx, func(t *tx) error {
		rows, err := t.tx.QueryContext(ctx, t.d.q(callbackSelect+
			` WHERE status = ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY received_at, id LIMIT ?`+t.d.skipLocked()),
			string(contracts.CallbackReceived), t.d.ts(now), limit)
		if err != nil {
			return t.d.wrap("claim callbacks", err)
		}
		for rows.Next() {
			var cb contracts.PartnerCallback
			if err := scanCallback(rows, &cb); err != nil {
				rows.Close()
				return t.d.wrap("claim callbacks", err)
			}
			out = append(out, cb)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return t.d.wrap("claim callbacks", err)
		}
		for _, cb := range out {
			if _, err := t.tx.ExecContext(ctx, t.d.q("UPDATE partner_callbacks SET lease_until = ? WHERE id = ?"),
				t.d.ts(leaseUntil), cb.ID); err != nil {
				return t.d.wrap("claim callbacks", err)
			}
		}
		return nil
	})
	return out, err
}

// FinishCallback records a claimed callback's outcome.
func (s *DB) FinishCallback(ctx context.Context, id string, status contracts.CallbackStatus, note string, at time.Time) error {
	res, err := s.r().ExecContext(ctx, s.d.q(`UPDATE partner_callbacks SET status = ?, note = ?, processed_at = ?, lease_until = NULL
		WHERE id = ? AND status = ?`), string(status), note, s.d.ts(at), id, string(contracts.CallbackReceived))
	if err != nil {
		return s.d.wrap("finish callback", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("store: finish callback %s: not in the inbox: %w", id, contracts.ErrConflict)
	}
	return nil
}

// ListCallbacks reads a partner's callbacks, oldest first.
func (s *DB) ListCallbacks(ctx context.Context, partner contracts.Method) ([]contracts.PartnerCallback, error) {
	rows, err := s.r().QueryContext(ctx, s.d.q(callbackSelect+" WHERE partner = ? ORDER BY received_at, id"), string(partner))
	if err != nil {
		return nil, s.d.wrap("list callbacks", err)
	}
	defer rows.Close()
	var out []contracts.PartnerCallback
	for rows.Next() {
		var cb contracts.PartnerCallback
		if err := scanCallback(rows, &cb); err != nil {
			return nil, s.d.wrap("list callbacks", err)
		}
		out = append(out, cb)
	}
	return out, s.d.wrap("list callbacks", rows.Err())
}

// CountWaitingCallbacks counts a partner's callbacks still waiting in the inbox, counting
// no further than limit (the count reads at most limit index entries).
func (s *DB) CountWaitingCallbacks(ctx context.Context, partner contracts.Method, limit int) (int, error) {
	var n int
	// The status is a literal, so that the planner matches the partial index.
	err := s.r().QueryRowContext(ctx, s.d.q(`SELECT count(*) FROM (SELECT 1 FROM partner_callbacks
		WHERE partner = ? AND status = 'received' LIMIT ?) waiting`), string(partner), limit).Scan(&n)
	return n, s.d.wrap("count waiting callbacks", err)
}

// DeleteCallbacksBefore deletes up to limit callbacks received before the given time that
// left the inbox (processed, ignored or rejected), oldest first. Callbacks still waiting
// stay whatever their age: the inbox's bound keeps them few.
func (s *DB) DeleteCallbacksBefore(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := s.r().ExecContext(ctx, s.d.q(`DELETE FROM partner_callbacks WHERE id IN (
		SELECT id FROM partner_callbacks WHERE status <> 'received' AND received_at < ? ORDER BY received_at, id LIMIT ?)`),
		s.d.ts(before), limit)
	if err != nil {
		return 0, s.d.wrap("delete old callbacks", err)
	}
	n, err := res.RowsAffected()
	return n, s.d.wrap("delete old callbacks", err)
}

// FindPaymentByPartnerRef reads a method's payment by its partner-facing id, or by the
// partner's own id when partnerRef is empty.
func (s *DB) FindPaymentByPartnerRef(ctx context.Context, method contracts.Method, partnerRef, partnerPaymentID string) (contracts.Payment, error) {
	where, arg := " WHERE method = ? AND partner_ref = ?", partnerRef
	if partnerRef == "" {
		where, arg = " WHERE method = ? AND partner_payment_id = ? AND partner_payment_id <> ''", partnerPaymentID
	}
	ps, err := queryPayments(ctx, s.r(), s.d, "find payment by partner reference", paymentSelect+where+" LIMIT 2", string(method), arg)
	switch {
	case err != nil:
		return contracts.Payment{}, err
	case len(ps) != 1 || arg == "":
		return contracts.Payment{}, fmt.Errorf("store: no single %s payment %q/%q: %w", method, partnerRef, partnerPaymentID, contracts.ErrNotFound)
	}
	return ps[0], nil
}
