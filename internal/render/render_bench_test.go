package render

import (
	"testing"
	"time"

	"payhub/contracts"
)

// BenchmarkRenderPayment measures rendering a payment as the contract's JSON, which the hub
// does for the stored response and for each outbox event of a state change (twice or three
// times per payment).
func BenchmarkRenderPayment(b *testing.B) {
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	p := contracts.Payment{ID: "pay_01JDZ8Q4X6V2N3M5K7H9G1F0E2", StoreID: "store-042", ClientID: "pos-1", TerminalID: "till-01",
		OrderID: "order-4711", Method: contracts.MethodPayPay, Flow: contracts.FlowBarcode,
		Amount: contracts.Money{Amount: 1200, Currency: contracts.JPY}, Status: contracts.StatusSucceeded,
		CaptureMethod: contracts.CaptureAutomatic, AmountCaptured: 1200, Attempt: 1, PartnerRef: "pay_01JDZ8Q4X6V2N3M5K7H9G1F0E2_1",
		PartnerPaymentID: "04123456789012345678", Metadata: map[string]string{"basket": "17 items"}, CreatedAt: now, UpdatedAt: now, PaidAt: &now}
	b.ReportAllocs()
	for b.Loop() {
		if len(Payment(p)) == 0 {
			b.Fatal("empty")
		}
	}
}
