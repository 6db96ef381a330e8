package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"payhub/contracts"
	"payhub/internal/webhooks"
)

// A store has at most webhooks.DefaultMaxEndpointsPerStore endpoints: the next is refused
// with 422 limit_exceeded (nothing created) until it deletes one; other stores are not
// affected. Issue 15's store made 100.
func TestWebhookEndpointsPerStoreAreLimited(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		rcv := newHookReceiver(t)
		tok := e.token(e.a)
		var ids []string
		for i := range webhooks.DefaultMaxEndpointsPerStore {
			r := e.do(http.MethodPost, "/v1/webhook-endpoints", tok, newKey(), map[string]any{"url": fmt.Sprintf("%s/hooks/%d", rcv.srv.URL, i)})
			expectStatus(t, r, http.StatusCreated, "")
			ids = append(ids, r.json(t)["id"].(string))
		}
		over := e.do(http.MethodPost, "/v1/webhook-endpoints", tok, newKey(), map[string]any{"url": rcv.srv.URL + "/hooks/over"})
		expectStatus(t, over, http.StatusUnprocessableEntity, "limit_exceeded")
		if strings.Contains(string(over.body), "whsec_") {
			t.Fatalf("the refusal carries a secret: %s", over.body)
		}
		if data := e.do(http.MethodGet, "/v1/webhook-endpoints", tok, "", nil).json(t)["data"].([]any); len(data) != webhooks.DefaultMaxEndpointsPerStore {
			t.Fatalf("store a has %d endpoints after the refusal", len(data))
		}
		expectStatus(t, e.do(http.MethodPost, "/v1/webhook-endpoints", e.token(e.b), newKey(), map[string]any{"url": rcv.srv.URL + "/b"}),
			http.StatusCreated, "")
		expectStatus(t, e.do(http.MethodDelete, "/v1/webhook-endpoints/"+ids[0], tok, "", nil), http.StatusOK, "")
		expectStatus(t, e.do(http.MethodPost, "/v1/webhook-endpoints", tok, newKey(), map[string]any{"url": rcv.srv.URL + "/hooks/again"}),
			http.StatusCreated, "")
	})
}

// Endpoint URLs the address guard refuses at registration, through the API: names of this
// host written in capitals or with the root's dot, special-purpose addresses in their
// embedded-IPv4 forms, ports other than 443.
func TestWebhookEndpointURLsTheGuardRefuses(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(e.a)
	for _, url := range []string{
		"https://LOCALHOST/hooks", "https://metadata.google.internal./computeMetadata/v1/", "https://[64:ff9b::a9fe:a9fe]/latest",
		"https://[::ffff:0:127.0.0.1]/", "https://198.18.0.1/", "https://hooks.example.com:22/", "https://hooks.example.com:6379/",
	} {
		r := e.do(http.MethodPost, "/v1/webhook-endpoints", tok, newKey(), map[string]any{"url": url})
		expectStatus(t, r, http.StatusUnprocessableEntity, "invalid_request")
	}
}
