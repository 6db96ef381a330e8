package paypay

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseNotification feeds arbitrary callback bodies to ParseNotification. Whatever
// arrives, nothing panics; a refusal is one of the three sentinels and a short message; an
// accepted body names a payment in a known state under a non-empty EventID that ends with
// that state.
func FuzzParseNotification(f *testing.F) {
	for _, seed := range []string{
		completedCallback,
		authorizedCallback,
		`{"notification_type":"Transaction","merchant_id":"merchant-1","order_id":"p1","order_amount":1200,"state":"EXPIRED"}`,
		`{"notification_type":"Transaction","merchant_id":"merchant-1","merchant_order_id":"mp-1","state":"FAILED","paid_at":""}`,
		`{"notification_type":"Transaction","merchant_id":"merchant-1","order_id":"p1","state":"CANCELED","authorized_at":"2026-03-01T10:00:00.5+0900"}`,
		`{"notification_type":"Transaction","merchant_id":"merchant-2","order_id":"p1","state":"COMPLETED"}`,
		`{"notification_type":"file.created","path":"https://example.invalid/recon.csv"}`,
		`{"notification_type":"Transaction","merchant_id":"merchant-1","order_id":"p1","state":"COMPLETED","state":"FAILED"}`,
		`{"notification_type":"Transaction","merchant_id":"merchant-1","ORDER_ID":"p1","state":"COMPLETED"}`,
		`{"notification_type":"Transaction","merchant_id":"merchant-1","order_id":"p1","order_amount":"1.5","state":"COMPLETED"}`,
		`{"notification_type":"Transaction"}{}`,
		`[]`, `null`, ``, `{`, `{"a":`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	a, err := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: testKey, APISecret: testSecret, MerchantID: testMerchant})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := a.ParseNotification(body)
		if err != nil {
			if !errors.Is(err, ErrInvalidNotification) && !errors.Is(err, ErrNotAPaymentNotification) && !errors.Is(err, ErrOtherMerchant) {
				t.Fatalf("error outside the sentinels: %v", err)
			}
			if len(err.Error()) > 300 || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error message not a short description: %q", err)
			}
			return
		}
		if n.EventID == "" {
			t.Fatal("accepted notification without an EventID")
		}
		if !notificationStates[n.State] || !strings.HasSuffix(n.EventID, ":"+n.State) {
			t.Fatalf("accepted state %q under EventID %q", n.State, n.EventID)
		}
		if n.PartnerRef == "" && n.PartnerPaymentID == "" {
			t.Fatalf("accepted notification naming no payment: %+v", n)
		}
		if n.OccurredAt != nil && n.OccurredAt.Location().String() != "UTC" {
			t.Fatalf("OccurredAt %v is not UTC", n.OccurredAt)
		}
	})
}
