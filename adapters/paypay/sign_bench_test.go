package paypay

import "testing"

// BenchmarkSign measures the OPA-Auth header of one request: MD5 of the body, HMAC-SHA256
// of the MAC data, two Base64 encodings, as every PayPay call pays it.
func BenchmarkSign(b *testing.B) {
	body := []byte(`{"merchantPaymentId":"pay_01JDZ8Q4X6V2N3M5K7H9G1F0E2_1","amount":{"amount":1200,"currency":"JPY"},` +
		`"codeType":"ORDER_QR","orderDescription":"Order till-01-4711","requestedAt":1764302400,"userAuthorizationId":"","barcode":"900081818800000000"}`)
	b.Run("POST", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Sign(testKey, testSecret, "POST", "/v2/payments", "acd02812", 1764302400, contentTypeJSON, body)
		}
	})
	b.Run("GET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Sign(testKey, testSecret, "GET", "/v2/payments/pay_01JDZ8Q4X6V2N3M5K7H9G1F0E2_1", "acd02812", 1764302400, "", nil)
		}
	})
}
