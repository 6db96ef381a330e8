package nanaco

import "testing"

// The NCS signatures every nanaco call pays twice (docs/partners/nanaco.md §B2): the
// request's HMAC over its string-to-sign with the body's SHA-256, and the answer's check.
var (
	benchBody   = []byte(`{"terminalSeq":1,"businessDate":"20261128","nanacoNumber":"7000000000000001","amount":500,"pointEligibleAmount":463}`)
	benchAnswer = []byte(`{"centerTxnId":"NC000000000000000001","status":"APPROVED","amount":500,"balanceBefore":10000,"balanceAfter":9500,"pointsAwarded":2}`)
)

func BenchmarkSignRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = SignRequest("ncs-demo-secret-0001", "POST", "/ncs/v1/payments", "M0001", "T0001", "2026-11-28T10:15:30+09:00", "n-0001", benchBody)
	}
}

func BenchmarkVerifyResponse(b *testing.B) {
	sig := SignResponse("ncs-demo-secret-0001", 200, "/ncs/v1/payments", "2026-11-28T10:15:31+09:00", "n-0001", benchAnswer)
	b.ReportAllocs()
	for b.Loop() {
		if !VerifyResponse("ncs-demo-secret-0001", 200, "/ncs/v1/payments", "2026-11-28T10:15:31+09:00", "n-0001", benchAnswer, sig) {
			b.Fatal("the answer's own signature does not verify")
		}
	}
}
