package paypay

import (
	"testing"

	"payhub/contracts"
)

// FuzzParseEnvelope feeds arbitrary PayPay answers through the parser and the outcome
// mapping. Whatever arrives, nothing panics, and nothing but a 2xx SUCCESS or
// REQUEST_ACCEPTED envelope can ever read as a success.
func FuzzParseEnvelope(f *testing.F) {
	f.Add(200, []byte(`{"resultInfo":{"code":"SUCCESS","message":"Success","codeId":"08100001"},"data":{"paymentId":"p","status":"COMPLETED","acceptedAt":1,"amount":{"amount":100,"currency":"JPY"}}}`))
	f.Add(202, []byte(`{"resultInfo":{"code":"REQUEST_ACCEPTED","codeId":"08100001"},"data":null}`))
	f.Add(400, []byte(`{"resultInfo":{"code":"NO_SUFFICIENT_FUND","message":"x | [OPA123]"}}`))
	f.Add(500, []byte(`{"resultInfo":{"code":"INTERNAL_SERVER_ERROR","codeId":"08101000"},"data":null}`))
	f.Add(200, []byte(`<html></html>`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		env, err := parseEnvelope(body)
		if err != nil {
			return
		}
		if env.ResultInfo.Code == "" {
			t.Fatal("parsed an envelope without a code")
		}
		v := classify(status, env.ResultInfo.Code)
		accepted := status >= 200 && status < 300 && (env.ResultInfo.Code == codeSuccess || env.ResultInfo.Code == codeRequestAccepted)
		if (v == verdictAccepted) != accepted {
			t.Fatalf("status %d code %q classified %v", status, env.ResultInfo.Code, v)
		}
		a := &Adapter{}
		r := reply{status: status, env: env}
		for _, flow := range []contracts.Flow{contracts.FlowBarcode, contracts.FlowQR} {
			res := a.paymentResult(r, flow, "")
			if !accepted && (res.Outcome == contracts.OutcomeSucceeded || res.Outcome == contracts.OutcomeAuthorized) {
				t.Fatalf("non-accepted answer became %q", res.Outcome)
			}
		}
		capture := contracts.CaptureRequest{PartnerRef: "cap", Amount: contracts.Money{Amount: 1, Currency: contracts.JPY}}
		if res := a.captureResult(r, capture, true); !accepted && res.Outcome == contracts.OutcomeSucceeded {
			t.Fatalf("non-accepted capture answer became %q", res.Outcome)
		}
		req := contracts.RefundRequest{PartnerRef: "rf", Amount: contracts.Money{Amount: 1, Currency: contracts.JPY}}
		if res := a.acceptedRefund(r, req, "pp"); res.Outcome == contracts.OutcomeSucceeded {
			var rf refundObject
			if env.decodeData(&rf) != nil || rf.Amount.Amount != 1 {
				t.Fatalf("refund of another amount accepted: %s", env.Data)
			}
		}
	})
}
