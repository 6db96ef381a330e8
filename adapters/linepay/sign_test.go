package linepay

import (
	"regexp"
	"testing"
)

// TestSignVectors recomputes the four test vectors of docs/partners/linepay.md §3.1.
func TestSignVectors(t *testing.T) {
	const secret, nonce = "testsecret", "3b3d7c7e-1c4e-4f61-9a1e-2f8a8b6c1d00"
	tests := []struct {
		name, path, content, want string
	}{
		{"POST request", "/v3/payments/request", `{"amount":100,"currency":"TWD","orderId":"order-1"}`,
			"7UwvmCNUtUpjbo3xDACAar/gZFa3yLhCo9s1BqSKgb8="},
		{"GET details", "/v3/payments", "transactionId=2021121600698709519&orderId=order-1",
			"sgWDST14IQ4372vir6ywWAWSnWhCqEUdrR5pdPr3CFE="},
		{"void, no body", "/v3/payments/authorizations/2021121600698709519/void", "",
			"szbUTNCw9Dw36F9hdNjyEezT3EB+ieyqvyY+wIhoF3A="},
		{"void, body {}", "/v3/payments/authorizations/2021121600698709519/void", "{}",
			"cNmN9viKsBDD9lGMosfvAWiYeWH5GIAn6noVa0Z5ZEQ="},
	}
	for _, tc := range tests {
		if got := Sign(secret, tc.path, tc.content, nonce); got != tc.want {
			t.Errorf("%s: Sign = %q, want %q", tc.name, got, tc.want)
		}
		if got := Sign(secret, tc.path, tc.content, nonce); len(got) != 44 {
			t.Errorf("%s: signature has %d characters, want 44", tc.name, len(got))
		}
	}
}

func TestSignDependsOnEveryInput(t *testing.T) {
	base := Sign("s", "/v3/payments/request", "{}", "n")
	for i, v := range []string{
		Sign("s2", "/v3/payments/request", "{}", "n"),
		Sign("s", "/v3/payments/requesT", "{}", "n"),
		Sign("s", "/v3/payments/request", "{ }", "n"),
		Sign("s", "/v3/payments/request", "{}", "n2"),
	} {
		if v == base {
			t.Errorf("variant %d signs the same as the base request", i)
		}
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewNonceIsFreshUUIDv4(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n := NewNonce()
		if !uuidV4.MatchString(n) {
			t.Fatalf("nonce %q is not a UUID v4", n)
		}
		if seen[n] {
			t.Fatalf("nonce %q repeated", n)
		}
		seen[n] = true
	}
}
