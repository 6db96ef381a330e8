package ids

import (
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/clock"
)

func TestIDsAreValidAndIncreasing(t *testing.T) {
	g := New(clock.NewManual(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)))
	prev := ""
	for i := 0; i < 1000; i++ {
		id := g.New(contracts.PrefixPayment)
		if !contracts.ValidID(contracts.PrefixPayment, id) {
			t.Fatalf("invalid id %q", id)
		}
		if id <= prev {
			t.Fatalf("ids not increasing: %q after %q", id, prev)
		}
		prev = id
	}
	if contracts.ValidID(contracts.PrefixRefund, prev) {
		t.Fatalf("payment id accepted as refund id")
	}
}
