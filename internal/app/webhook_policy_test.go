package app

import (
	"context"
	"errors"
	"testing"

	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/config"
	"payhub/internal/hub"
	"payhub/internal/idempotency"
	"payhub/internal/store/storetest"
	paypaysim "payhub/mocks/paypay"
)

// The store-notification policy read from the environment reaches the engine: a configured
// port is admitted and 443 no longer is, and a store's endpoints stop at the configured
// limit with limit_exceeded (docs/api.md §8.4, §8.6).
func TestWebhookPolicyIsWiredIn(t *testing.T) {
	t.Setenv("PAYHUB_WEBHOOK_PORTS", "8443")
	t.Setenv("PAYHUB_WEBHOOK_MAX_ENDPOINTS", "2")
	policy, err := config.Webhooks()
	if err != nil {
		t.Fatal(err)
	}
	a, err := Build(context.Background(), Config{Store: storetest.OpenSQLite(t), Webhooks: policy,
		PayPay: paypayadapter.Config{BaseURL: "http://127.0.0.1:9", APIKey: paypaysim.DemoAPIKey, APISecret: paypaysim.DemoAPISecret,
			MerchantID: paypaysim.DemoMerchantID}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	caller := hub.Caller{ClientID: "pos-1", StoreID: "store-1"}
	create := func(key, url string) error {
		fp, err := idempotency.Fingerprint(caller.StoreID, "POST", "/v1/webhook-endpoints", nil, []byte(`{"url":"`+url+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Hub.CreateWebhookEndpoint(context.Background(), caller, idempotency.Key{Key: key, Fingerprint: fp}, hub.CreateEndpoint{URL: url})
		return err
	}
	if err := create("k-443", "https://hooks.example.com/a"); codeOf(err) != contracts.CodeInvalidRequest {
		t.Errorf("port 443 with PAYHUB_WEBHOOK_PORTS=8443: %v, want invalid_request", err)
	}
	for i, url := range []string{"https://hooks.example.com:8443/a", "https://hooks.example.com:8443/b"} {
		if err := create("k-ok-"+string(rune('a'+i)), url); err != nil {
			t.Fatalf("endpoint %d: %v", i+1, err)
		}
	}
	if err := create("k-over", "https://hooks.example.com:8443/c"); codeOf(err) != contracts.CodeLimitExceeded {
		t.Errorf("a third endpoint with PAYHUB_WEBHOOK_MAX_ENDPOINTS=2: %v, want limit_exceeded", err)
	}
}

// codeOf is the stable code of an engine error ("" for none or another error).
func codeOf(err error) contracts.ErrorCode {
	var e *contracts.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
