package linepay

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"payhub/contracts"
)

// FuzzTxID feeds arbitrary JSON values to TxID. Whatever arrives, nothing panics; an
// accepted id is 1–19 digits without a leading zero, equal to the digits that came in (bare
// or quoted), exact as an integer, and survives a marshal round trip.
func FuzzTxID(f *testing.F) {
	for _, seed := range []string{
		"2021121600698709519", `"2021121600698709519"`, "9999999999999999999", "1", `"1"`, "0", "-1",
		"1.0", "1e18", `"01"`, "null", `""`, "20211216006987095190", " 42 ", `"4\u0032"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var id TxID
		if err := json.Unmarshal(data, &id); err != nil || id.IsZero() {
			return
		}
		s := id.String()
		if !validTxID(s) {
			t.Fatalf("accepted %q as %q", data, s)
		}
		in := bytes.Trim(bytes.TrimSpace(data), `"`)
		if string(in) != s {
			t.Fatalf("input %q stored as %q", data, s)
		}
		if n, err := strconv.ParseUint(s, 10, 64); err != nil || strconv.FormatUint(n, 10) != s {
			t.Fatalf("%q is not an exact integer: %v", s, err)
		}
		out, err := json.Marshal(id)
		if err != nil {
			t.Fatal(err)
		}
		var back TxID
		if err := json.Unmarshal(out, &back); err != nil || back != id {
			t.Fatalf("round trip %q -> %s -> %q (%v)", s, out, back, err)
		}
	})
}

// FuzzParseEnvelope feeds arbitrary LINE Pay answers through the parser and the pay
// outcome mapping: nothing panics, an envelope always has a 4-digit returnCode, and only
// 0000 can ever read as a success.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"returnCode":"0000","returnMessage":"Success.","info":{"transactionId":2021121600698709519,"payInfo":[{"method":"BALANCE","amount":100}]}}`))
	f.Add([]byte(`{"returnCode":"1142","returnMessage":"Insufficient balance."}`))
	f.Add([]byte(`{"returnCode":0,"info":null}`))
	f.Add([]byte(`<html></html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := parseEnvelope(body)
		if err != nil {
			return
		}
		if len(env.ReturnCode) != 4 || !isDigits(env.ReturnCode) {
			t.Fatalf("parsed returnCode %q", env.ReturnCode)
		}
		a := &Adapter{}
		req := contracts.PaymentRequest{Amount: contracts.Money{Amount: 10000, Currency: contracts.TWD}}
		res := a.payResult(reply{status: 200, env: env}, req)
		if env.ReturnCode != codeSuccess && (res.Outcome == contracts.OutcomeSucceeded || res.Outcome == contracts.OutcomeAuthorized) {
			t.Fatalf("returnCode %s became %q", env.ReturnCode, res.Outcome)
		}
		if res.Outcome == contracts.OutcomeSucceeded && res.AmountCaptured != 10000 {
			t.Fatalf("succeeded with %d captured", res.AmountCaptured)
		}
	})
}
