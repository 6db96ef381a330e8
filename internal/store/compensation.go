package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"payhub/contracts"
)

// Compensation claims (docs/compensation.md; migration 00025): one row per claim id.

const compensationColumns = "claim_id, victim_id, original_id, amount, body_hash, status, route, ref, amount_paid, " +
	"reason, detail, created_at, updated_at"

// InsertCompensationClaim records a new claim; ErrConflict when its claim id exists.
func (t *tx) InsertCompensationClaim(ctx context.Context, c contracts.CompensationClaim) error {
	if c.ClaimID == "" || c.OriginalID == "" || c.BodyHash == "" {
		return errors.New("store: insert compensation claim: claim id, original and body hash are required")
	}
	_, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO compensation_claims ("+compensationColumns+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		c.ClaimID, c.VictimID, c.OriginalID, c.Amount, c.BodyHash, string(c.Status), string(c.Route), c.Ref, c.AmountPaid,
		c.Reason, c.Detail, t.d.ts(c.CreatedAt), t.d.ts(c.UpdatedAt))
	return t.d.wrap("insert compensation claim "+c.ClaimID, err)
}

// GetCompensationClaimForUpdate reads a claim, locked.
func (t *tx) GetCompensationClaimForUpdate(ctx context.Context, claimID string) (contracts.CompensationClaim, error) {
	return getCompensationClaim(ctx, t.tx, t.d, t.d.forUpdate(), claimID)
}

// UpdateCompensationClaim writes c's changing fields over a claim that is not final.
func (t *tx) UpdateCompensationClaim(ctx context.Context, c contracts.CompensationClaim) error {
	cur, err := getCompensationClaim(ctx, t.tx, t.d, t.d.forUpdate(), c.ClaimID)
	if err != nil {
		return err
	}
	if cur.Status.Final() {
		return fmt.Errorf("store: update compensation claim %s: it is %s: %w", c.ClaimID, cur.Status, contracts.ErrInvalidTransition)
	}
	_, err = t.tx.ExecContext(ctx, t.d.q(`UPDATE compensation_claims SET status = ?, route = ?, ref = ?, amount_paid = ?,
		reason = ?, detail = ?, updated_at = ? WHERE claim_id = ?`),
		string(c.Status), string(c.Route), c.Ref, c.AmountPaid, c.Reason, c.Detail, t.d.ts(c.UpdatedAt), c.ClaimID)
	return t.d.wrap("update compensation claim "+c.ClaimID, err)
}

// ListCompensationClaimsByOriginal reads the claims against one payment or top-up.
func (t *tx) ListCompensationClaimsByOriginal(ctx context.Context, originalID string) ([]contracts.CompensationClaim, error) {
	return listCompensationClaims(ctx, t.tx, t.d, "original_id = ? ORDER BY created_at, claim_id", originalID)
}

// GetCompensationClaim reads one claim.
func (s *DB) GetCompensationClaim(ctx context.Context, claimID string) (contracts.CompensationClaim, error) {
	return getCompensationClaim(ctx, s.r(), s.d, "", claimID)
}

// ListCompensationClaims reads a page of claims by id.
func (s *DB) ListCompensationClaims(ctx context.Context, afterID string, limit int) ([]contracts.CompensationClaim, error) {
	lim, args := limitClause(limit, []any{afterID})
	return listCompensationClaims(ctx, s.r(), s.d, "claim_id > ? ORDER BY claim_id"+lim, args...)
}

func scanCompensationClaim(r rowScanner) (contracts.CompensationClaim, error) {
	var (
		c             contracts.CompensationClaim
		status, route string
	)
	err := r.Scan(&c.ClaimID, &c.VictimID, &c.OriginalID, &c.Amount, &c.BodyHash, &status, &route, &c.Ref, &c.AmountPaid,
		&c.Reason, &c.Detail, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	c.Status, c.Route = contracts.CompensationStatus(status), contracts.CompensationRoute(route)
	return c, err
}

func getCompensationClaim(ctx context.Context, q querier, d dialect, suffix, claimID string) (contracts.CompensationClaim, error) {
	c, err := scanCompensationClaim(q.QueryRowContext(ctx, d.q("SELECT "+compensationColumns+
		" FROM compensation_claims WHERE claim_id = ?")+suffix, claimID))
	if errors.Is(err, sql.ErrNoRows) {
		return contracts.CompensationClaim{}, fmt.Errorf("store: compensation claim %s: %w", claimID, contracts.ErrNotFound)
	}
	if err != nil {
		return contracts.CompensationClaim{}, d.wrap("read compensation claim "+claimID, err)
	}
	return c, nil
}

func listCompensationClaims(ctx context.Context, q querier, d dialect, where string, args ...any) ([]contracts.CompensationClaim, error) {
	rows, err := q.QueryContext(ctx, d.q("SELECT "+compensationColumns+" FROM compensation_claims WHERE "+where), args...)
	if err != nil {
		return nil, d.wrap("list compensation claims", err)
	}
	defer rows.Close()
	var out []contracts.CompensationClaim
	for rows.Next() {
		c, err := scanCompensationClaim(rows)
		if err != nil {
			return nil, d.wrap("scan compensation claim", err)
		}
		out = append(out, c)
	}
	return out, d.wrap("list compensation claims", rows.Err())
}
