package gmopg

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseForm: any body parses without panicking, and an ASCII form encoded by
// net/url reads back exactly (Z forces a percent escape, which marks the body as encoded so
// '+' reads as a space).
func FuzzParseForm(f *testing.F) {
	for _, seed := range []string{"ShopID=a&ShopPass=b", "A=%E6%97%A5&B=a+b", "A=100%&B=%zz", "=x&&A", "RetUrl=http://h/p?a=1&t=2"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		_ = parseForm([]byte(body))
		_ = ParseResponse([]byte(body), "ACS", "RedirectUrl")
		if strings.ContainsAny(body, "&=") || body == "" {
			return
		}
		ascii := true
		for i := 0; i < len(body); i++ {
			if body[i] >= 0x80 {
				ascii = false
			}
		}
		if !ascii {
			return
		}
		enc := url.Values{"K": {body}, "Z": {"a/b c"}}.Encode()
		if got := parseForm([]byte(enc)); got["K"] != body {
			t.Fatalf("value %q read back as %q from %q", body, got["K"], enc)
		}
	})
}
