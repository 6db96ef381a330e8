package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"payhub/contracts"
)

// testCompensationClaims: a claim id is recorded once ever (a second insert conflicts, and
// leaves the first as it was), moves while open and never after it settled, and is read
// by id, by page and by its original.
func testCompensationClaims(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	c := contracts.CompensationClaim{ClaimID: "case-0002", VictimID: "u-1", OriginalID: "pay_01KCOMPENSATED000000000000A",
		Amount: 1200, BodyHash: "h1", Status: contracts.CompensationPending, CreatedAt: now, UpdatedAt: now}
	other := c
	other.ClaimID, other.Amount, other.BodyHash = "case-0001", 300, "h2"
	for _, x := range []contracts.CompensationClaim{c, other} {
		if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertCompensationClaim(ctx, x) }); err != nil {
			t.Fatal(err)
		}
	}
	dup := c
	dup.Amount, dup.BodyHash = 9999, "h3"
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertCompensationClaim(ctx, dup) }); !errors.Is(err, contracts.ErrConflict) {
		t.Fatalf("a claim id recorded twice: %v", err)
	}
	if got, err := s.GetCompensationClaim(ctx, c.ClaimID); err != nil || got.Amount != 1200 || got.BodyHash != "h1" || !got.CreatedAt.Equal(now) {
		t.Fatalf("read %+v, %v", got, err)
	}
	if _, err := s.GetCompensationClaim(ctx, "case-none"); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("a missing claim: %v", err)
	}
	later := now.Add(time.Minute)
	step := func(st contracts.CompensationStatus, route contracts.CompensationRoute, ref string, paid int64) error {
		return s.InTx(ctx, func(tx contracts.Tx) error {
			cur, err := tx.GetCompensationClaimForUpdate(ctx, c.ClaimID)
			if err != nil {
				return err
			}
			cur.Status, cur.Route, cur.Ref, cur.AmountPaid, cur.UpdatedAt = st, route, ref, paid, later
			return tx.UpdateCompensationClaim(ctx, cur)
		})
	}
	if err := step(contracts.CompensationRefunding, contracts.RouteRefund, "re_1", 0); err != nil {
		t.Fatal(err)
	}
	if err := step(contracts.CompensationRefunded, contracts.RouteRefund, "re_1", 1200); err != nil {
		t.Fatal(err)
	}
	if err := step(contracts.CompensationBankRefund, contracts.RouteBank, "bank", 1200); !errors.Is(err, contracts.ErrInvalidTransition) {
		t.Fatalf("a settled claim moved: %v", err)
	}
	got, err := s.GetCompensationClaim(ctx, c.ClaimID)
	if err != nil || got.Status != contracts.CompensationRefunded || got.Route != contracts.RouteRefund || got.Ref != "re_1" ||
		got.AmountPaid != 1200 || !got.UpdatedAt.Equal(later) {
		t.Fatalf("after update: %+v, %v", got, err)
	}
	page, err := s.ListCompensationClaims(ctx, "", 1)
	if err != nil || len(page) != 1 || page[0].ClaimID != "case-0001" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	if page, err = s.ListCompensationClaims(ctx, "case-0001", 0); err != nil || len(page) != 1 || page[0].ClaimID != "case-0002" {
		t.Fatalf("next page: %+v, %v", page, err)
	}
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		list, err := tx.ListCompensationClaimsByOriginal(ctx, c.OriginalID)
		if err != nil {
			return err
		}
		if len(list) != 2 {
			t.Errorf("by original: %+v", list)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
