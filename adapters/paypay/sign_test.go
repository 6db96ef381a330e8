package paypay

import "testing"

func TestSignPublishedVector(t *testing.T) {
	body := []byte(`{"sampleRequestBodyKey1":"sampleRequestBodyValue1","sampleRequestBodyKey2":"sampleRequestBodyValue2"}`)
	got := Sign("APIKeyGenerated", "APIKeySecretGenerated", "POST", "/v2/codes", "acd028", 1579843452,
		"application/json;charset=UTF-8;", body)
	const want = "hmac OPA-Auth:APIKeyGenerated:NW1jKIMnzR7tEhMWtcJcaef+nFVBt7jjAGcVuxHhchc=:acd028:1579843452:1j0FnY4flNp5CtIKa7x9MQ=="
	if got != want {
		t.Fatalf("Sign = %q\nwant   %q", got, want)
	}
}

func TestSignNoBodyVector(t *testing.T) {
	// The content type passed in is ignored without a body: both fields sign "empty".
	for _, ct := range []string{"", "application/json", "empty"} {
		got := Sign("APIKeyGenerated", "APIKeySecretGenerated", "GET", "/v2/payments/mp-1", "acd028", 1579843452, ct, nil)
		const want = "hmac OPA-Auth:APIKeyGenerated:6ZHyYi13ETW4ONHkEdYGMzua7iWYaq6zB8OFnSxg5Eg=:acd028:1579843452:empty"
		if got != want {
			t.Fatalf("Sign(ct=%q) = %q\nwant %q", ct, got, want)
		}
	}
}

func TestSignDependsOnEveryInput(t *testing.T) {
	base := Sign("k", "s", "POST", "/v2/payments", "n", 1, "application/json", []byte(`{}`))
	variants := []string{
		Sign("k2", "s", "POST", "/v2/payments", "n", 1, "application/json", []byte(`{}`)),
		Sign("k", "s2", "POST", "/v2/payments", "n", 1, "application/json", []byte(`{}`)),
		Sign("k", "s", "PUT", "/v2/payments", "n", 1, "application/json", []byte(`{}`)),
		Sign("k", "s", "POST", "/v2/refunds", "n", 1, "application/json", []byte(`{}`)),
		Sign("k", "s", "POST", "/v2/payments", "n2", 1, "application/json", []byte(`{}`)),
		Sign("k", "s", "POST", "/v2/payments", "n", 2, "application/json", []byte(`{}`)),
		Sign("k", "s", "POST", "/v2/payments", "n", 1, "application/json;charset=UTF-8", []byte(`{}`)),
		Sign("k", "s", "POST", "/v2/payments", "n", 1, "application/json", []byte(`{ }`)),
	}
	for i, v := range variants {
		if v == base {
			t.Errorf("variant %d signs the same as the base request", i)
		}
	}
}
