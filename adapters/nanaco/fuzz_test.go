package nanaco

import (
	"net/http"
	"testing"

	"payhub/contracts"
)

// FuzzResponses feeds arbitrary NCS answers (bodies from outside, verified or not) through
// the parsers and the payment, inquiry and refund mappings: nothing panics, a refusal is
// definite only with outcome NOT_PROCESSED, and only an APPROVED or PENDING_CONFIRMATION
// payment with a valid centerTxnId, this key and the amount asked ever reads as a success.
func FuzzResponses(f *testing.F) {
	f.Add(200, []byte(approvedPayment(42, 500, 500, "APPROVED")))
	f.Add(200, []byte(approvedPayment(42, 300, 500, "PENDING_CONFIRMATION")))
	f.Add(200, []byte(vecRespBody))
	f.Add(200, []byte(inquiryAnswer("PAYMENT", "APPROVED", 500, 500)))
	f.Add(200, []byte(`{"found":false}`))
	f.Add(422, []byte(ncsErr("INSUFFICIENT_BALANCE", "NOT_PROCESSED", `{"balance":1}`)))
	f.Add(500, []byte(ncsErr("INTERNAL", "UNKNOWN", "")))
	f.Add(409, []byte(`{"error":{"code":"SEQ_FENCED","outcome":"NOT_PROCESSED","details":{"x":[1]}}}`))
	f.Add(200, []byte(`{"centerTxnId":"NC000000000000000001","status":"APPROVED","amount":-5}`))
	f.Add(200, []byte(`null`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		a := &Adapter{}
		k := key(42)
		r := reply{status: status, body: body}
		if status != http.StatusOK {
			r.body = nil
			var err error
			if r.ncs, err = parseError(body); err != nil {
				r.err = err
			}
			if r.definite() && r.ncs.Outcome != outcomeNotProcessed {
				t.Fatalf("definite with outcome %q", r.ncs.Outcome)
			}
		}
		for _, partial := range []bool{false, true} {
			req := barcodePay(42, 500)
			req.AllowPartial = partial
			res := a.payResult(r, req, k, contracts.PresentedCard{Number: testNumber})
			if res.Outcome == contracts.OutcomeSucceeded {
				txn, err := parseTxn(body, k)
				if status != http.StatusOK || err != nil || (txn.Status != statusApproved && txn.Status != statusPending) {
					t.Fatalf("status %d body %q read as succeeded", status, body)
				}
				if res.AmountCaptured < 1 || res.AmountCaptured > 500 || (!partial && res.AmountCaptured != 500) {
					t.Fatalf("succeeded with %d captured (partial %v)", res.AmountCaptured, partial)
				}
			}
			if res.Outcome == contracts.OutcomeFailed && status == http.StatusOK {
				t.Fatalf("HTTP 200 read as failed: %q", body)
			}
		}
		if status == http.StatusOK {
			if q, err := parseInquiry(body); err == nil {
				res := paymentFromInquiry(q, contracts.PaymentRef{PartnerRef: k.String()}, k)
				if res.Outcome == contracts.OutcomeSucceeded && !centerTxnPattern.MatchString(res.PartnerPaymentID) {
					t.Fatalf("inquiry success without a centerTxnId: %q", body)
				}
				if *q.Found && res.Outcome == contracts.OutcomeFailed && res.FailureCode == FailureNotProcessed {
					t.Fatalf("found read as not processed: %q", body)
				}
			}
		}
	})
}
