package linepay

import "testing"

// BenchmarkSign measures X-LINE-Authorization for one request: HMAC-SHA256 over secret,
// path, body and nonce, then Base64, as every LINE Pay call pays it.
func BenchmarkSign(b *testing.B) {
	body := `{"amount":250,"currency":"TWD","orderId":"pay_01JDZ8Q4X6V2N3M5K7H9G1F0E2_1","oneTimeKey":"391234567890",` +
		`"packages":[{"id":"1","amount":250,"products":[{"name":"Order till-01-4711","quantity":1,"price":250}]}],"options":{"payment":{"capture":true}}}`
	b.ReportAllocs()
	for b.Loop() {
		_ = Sign("a917ab6a2367b536f8e5a6e2977e06f4", "/v4/payments/oneTimeKeys/pay", body, "5b0b2b4c-6d5e-4f8a-9b1c-2d3e4f5a6b7c")
	}
}
