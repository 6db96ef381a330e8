package webhooks

import (
	"testing"
	"time"
)

// BenchmarkHeaders measures signing one delivery (Standard Webhooks v1, by the reference
// library), with one secret and with two during a rotation.
func BenchmarkHeaders(b *testing.B) {
	s1, err := NewSecret()
	if err != nil {
		b.Fatal(err)
	}
	s2, err := NewSecret()
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"id":"evt_01JDZ8Q4X6V2N3M5K7H9G1F0E2","type":"payment.succeeded","timestamp":"2026-11-28T03:00:00Z","api_version":"2026-11-01",` +
		`"data":{"sequence":2,"object":{"object":"payment","id":"pay_01JDZ8Q4X6V2N3M5K7H9G1F0E2","status":"succeeded","amount":1200,"currency":"JPY","method":"paypay","flow":"barcode"}}}`)
	at := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		secrets []Secret
	}{{"one_secret", []Secret{s1}}, {"rotation", []Secret{s1, s2}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Headers("evt_01JDZ8Q4X6V2N3M5K7H9G1F0E2", at, body, c.secrets...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
