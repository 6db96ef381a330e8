package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"payhub/contracts"
)

// testLinkedAccounts: a link is written pending, read only by its client, activated with
// its authorization (found by FindActiveLink for that client only), and unlinked.
func testLinkedAccounts(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	exp := now.Add(5 * time.Minute)
	a := contracts.LinkedAccount{ID: "la_01KLINKED0000000000000000A", ClientID: "pos-a", StoreID: "store-a", Method: contracts.MethodPayPay,
		Status: contracts.LinkPending, Scopes: []string{"direct_debit", "cashback"}, Nonce: "n0nce", LinkURL: "https://qr.example/1",
		ReturnURL: "https://shop.example/linked", ExpiresAt: &exp, IdempotencyKey: "k1", CreatedAt: now, UpdatedAt: now}
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertLinkedAccount(ctx, a) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLinkedAccount(ctx, "pos-b", a.ID); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("another client read the link: %v", err)
	}
	got, err := s.GetLinkedAccount(ctx, "pos-a", a.ID)
	if err != nil || got.Status != contracts.LinkPending || !slices.Equal(got.Scopes, a.Scopes) || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("read %+v, %v", got, err)
	}
	if _, err := s.FindActiveLink(ctx, "pos-a", "ua-1"); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("a pending link is active: %v", err)
	}
	linked := now.Add(time.Minute)
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		l, err := tx.GetLinkedAccountForUpdate(ctx, a.ID)
		if err != nil {
			return err
		}
		l.Status, l.UserAuthorizationID, l.LinkedAt, l.UpdatedAt, l.LinkURL = contracts.LinkActive, "ua-1", &linked, linked, ""
		return tx.UpdateLinkedAccount(ctx, l)
	})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.FindActiveLink(ctx, "pos-a", "ua-1"); err != nil || l.ID != a.ID || l.LinkedAt == nil {
		t.Fatalf("active link: %+v, %v", l, err)
	}
	if _, err := s.FindActiveLink(ctx, "pos-b", "ua-1"); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("another client found the link: %v", err)
	}
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		l, err := tx.GetLinkedAccountForUpdate(ctx, a.ID)
		if err != nil {
			return err
		}
		l.Status, l.UnlinkedAt = contracts.LinkUnlinked, &linked
		return tx.UpdateLinkedAccount(ctx, l)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindActiveLink(ctx, "pos-a", "ua-1"); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("an unlinked link is active: %v", err)
	}
	if l, err := s.GetLinkedAccountByID(ctx, a.ID); err != nil || l.Status != contracts.LinkUnlinked {
		t.Fatalf("by id: %+v, %v", l, err)
	}
}
