package carddata

import (
	"strings"
	"testing"
)

// Test card numbers (brands' published test PANs) and near misses.
func TestContainsCardNumber(t *testing.T) {
	for _, s := range []string{
		"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444",
		"378282246310005", "3530111333300000", "6011111111111117", "36259600000004",
		"pay with 4242424242424242 please", `"4012888888881881"`, "2223003122003222",
		"4111111111111111111"[:16],
	} {
		if !ContainsCardNumber(s) {
			t.Errorf("missed %q", s)
		}
	}
	for _, s := range []string{
		"", "4111111111111112", "411111111111111", // bad Luhn, too short
		"900081818800000000",                           // PayPay barcode: not a card industry's first digit
		"1606180000000000000",                          // 19 digits starting 1 (an Idempotency-Key from date +%s%N)
		"41111111111111111111111",                      // 23 digits: not a card number
		"4111  1111 1111 1111", "4111--1111-1111-1111", // not single separators
		"pay_01JD0000000000000000000000", "12:34", "2026-11-28T12:00:00Z",
	} {
		if ContainsCardNumber(s) {
			t.Errorf("flagged %q", s)
		}
	}
}

func TestScanJSON(t *testing.T) {
	lineKey := "391000000000000000" // LINE Pay My Code fixture
	exempt := func(pointer, v string) bool {
		return pointer == "/barcode" && strings.HasPrefix(v, "39") && len(v) == 18
	}
	cases := []struct {
		body    string
		pointer string
		found   bool
	}{
		{`{"amount":1200,"card_token":"tok_abc12345"}`, "", false},
		{`{"amount":1200,"metadata":{"note":"4111 1111 1111 1111"}}`, "/metadata/note", true},
		{`{"amount":4111111111111111}`, "/amount", true},
		{`{"security_code":"123"}`, "/security_code", true},
		{`{"metadata":{"CVV":"123"}}`, "/metadata/CVV", true},
		{`{"card-number":""}`, "/card-number", true},
		{`{"a":[{"b":"x"},{"c":"5555555555554444"}]}`, "/a/1/c", true},
		{`{"4111111111111111":"key"}`, "/4111111111111111", true},
		{`not json 4111111111111111`, "", true},
		{`{"a":1} 4111111111111111`, "", true},
		{`{"barcode":"` + lineKey + `"}`, "", false},
		{`{"order_id":"` + lineKey + `"}`, "", false}, // 39… 18 digits fails Luhn
	}
	for _, c := range cases {
		f, found := ScanJSON([]byte(c.body), exempt)
		if found != c.found || f.Pointer != c.pointer {
			t.Errorf("ScanJSON(%s) = %+v, %v; want pointer %q, %v", c.body, f, found, c.pointer, c.found)
		}
	}
}

func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{`{"a":"4111 1111 1111 1111"}`, `{"cvc":1}`, `[1,2,{"x":null}]`, "4111-1111", `{"a":` + strings.Repeat("[", 100)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		f, found := ScanJSON(body, nil)
		if !found && f != (Finding{}) {
			t.Fatalf("finding %+v without found", f)
		}
		if ContainsCardNumber(string(body)) && !found {
			// Text with a card number is always found, JSON or not (keys, values or rest);
			// only an escape sequence inside a JSON string can hide digits from the text scan.
			if !strings.Contains(string(body), `\`) {
				t.Fatalf("card number in %q not found", body)
			}
		}
	})
}
