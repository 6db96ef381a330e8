package idempotency

import (
	"strings"
	"testing"
)

func TestParseIdempotencyKey(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
		ok   bool
	}{
		{[]string{"8e03978e-40d5-43e8-bc93-6894a57f9324"}, "8e03978e-40d5-43e8-bc93-6894a57f9324", true},
		{[]string{`"8e03978e-40d5"`}, "8e03978e-40d5", true}, // Structured-Field string form
		{[]string{""}, "", false},
		{[]string{`""`}, "", false},
		{[]string{strings.Repeat("k", 255)}, strings.Repeat("k", 255), true},
		{[]string{strings.Repeat("k", 256)}, "", false},
		{[]string{"has space"}, "", false},
		{[]string{"tab\tkey"}, "", false},
		{[]string{"ключ"}, "", false},
		{[]string{"a", "b"}, "", false},
	} {
		got, ok := ParseKey(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseKey(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestFingerprintIgnoresKeyOrderNotValues(t *testing.T) {
	fp := func(payment string, body string) string {
		out, err := Fingerprint("store-1", "POST", "/v1/payments/:id/refunds", []Param{{"id", payment}}, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a := fp("pay_1", `{"amount":100,"reason":"x"}`)
	if b := fp("pay_1", `{ "reason":"x", "amount":100 }`); a != b {
		t.Error("key order or spacing changed the fingerprint")
	}
	if b := fp("pay_1", `{"amount":101,"reason":"x"}`); a == b {
		t.Error("a different amount kept the fingerprint")
	}
	if b := fp("pay_2", `{"amount":100,"reason":"x"}`); a == b {
		t.Error("a different payment kept the fingerprint")
	}
	if b, _ := Fingerprint("store-2", "POST", "/v1/payments/:id/refunds", []Param{{"id", "pay_1"}}, []byte(`{"amount":100,"reason":"x"}`)); a == b {
		t.Error("another store kept the fingerprint")
	}
}
