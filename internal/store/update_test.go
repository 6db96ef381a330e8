package store

import (
	"testing"
	"time"
)

func TestChangedColumnsUpdateSetsOnlyWhatDiffers(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	columns := []string{"id", "store_id", "status", "amount", "paid_at", "metadata", "updated_at"}
	was := []any{"pay_1", "st_1", "processing", int64(500), nil, "{}", at}
	now := []any{"pay_1", "st_1", "succeeded", int64(500), at.Add(time.Second), "{}", at.In(time.FixedZone("JST", 9*3600))}

	query, args := changedColumnsUpdate("payments", columns, 2, was, now, "pay_1")
	if want := "UPDATE payments SET status = ?, paid_at = ? WHERE id = ?"; query != want {
		t.Fatalf("query = %q, want %q (the same instant in another zone is no change)", query, want)
	}
	if len(args) != 3 || args[0] != "succeeded" || !args[1].(time.Time).Equal(at.Add(time.Second)) || args[2] != "pay_1" {
		t.Fatalf("args = %v", args)
	}

	if query, args := changedColumnsUpdate("payments", columns, 2, was, was, "pay_1"); query != "" || args != nil {
		t.Fatalf("nothing changed, yet %q %v", query, args)
	}
	// Columns before mutableFrom are never written, even when they differ.
	moved := append([]any{"pay_1", "st_2"}, was[2:]...)
	if query, _ := changedColumnsUpdate("payments", columns, 2, was, moved, "pay_1"); query != "" {
		t.Fatalf("store_id written: %q", query)
	}
	if !sameArg([]byte("a"), []byte("a")) || sameArg([]byte("a"), "a") || sameArg(int64(1), 1) {
		t.Fatal("sameArg compares bytes by content and never across types")
	}
}
