package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
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
		got, ok := parseIdempotencyKey(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("parseIdempotencyKey(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestFingerprintIgnoresKeyOrderNotValues(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	fp := func(path string, body string) string {
		var out string
		e := gin.New()
		e.POST("/v1/payments/:id/refunds", func(c *gin.Context) {
			var err error
			if out, err = fingerprint(c, []byte(body)); err != nil {
				t.Fatal(err)
			}
		})
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, path, nil))
		return out
	}
	a := fp("/v1/payments/pay_1/refunds", `{"amount":100,"reason":"x"}`)
	if b := fp("/v1/payments/pay_1/refunds", `{ "reason":"x", "amount":100 }`); a != b {
		t.Error("key order or spacing changed the fingerprint")
	}
	if b := fp("/v1/payments/pay_1/refunds", `{"amount":101,"reason":"x"}`); a == b {
		t.Error("a different amount kept the fingerprint")
	}
	if b := fp("/v1/payments/pay_2/refunds", `{"amount":100,"reason":"x"}`); a == b {
		t.Error("a different payment kept the fingerprint")
	}
}
