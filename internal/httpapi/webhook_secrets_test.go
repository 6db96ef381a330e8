package httpapi_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/store"
	"payhub/internal/store/storetest"
	"payhub/internal/webhooks"
)

// TestWebhookSecretsNeverStoredOrReplayed is the attack of issue 15 ("secrets at rest"):
// register an endpoint, rotate its secret, delete it, and replay the create and the
// rotation. The first answers show each secret once; every replay answers the endpoint
// with secret_withheld and no secret — after the rotation and after the deletion too —
// deliveries still verify with both secrets during the grace period, and no byte of a
// secret is in the database files or the logs.
func TestWebhookSecretsNeverStoredOrReplayed(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "payhub.db")
		st, err := store.Open(context.Background(), "sqlite:"+path)
		if err != nil {
			t.Fatal(err)
		}
		testWebhookSecretsAtRest(t, st, path)
	})
	t.Run("postgres", func(t *testing.T) { testWebhookSecretsAtRest(t, storetest.OpenPostgres(t), "") })
}

func testWebhookSecretsAtRest(t *testing.T, bare contracts.Store, sqlitePath string) {
	e := newEnv(t, bare) // app.Build seals the store's webhook secrets
	rcv := newHookReceiver(t)
	tok := e.token(e.a)
	body := map[string]any{"url": rcv.srv.URL + "/hooks", "description": "till 7"}
	createKey, rotateKey := newKey(), newKey()

	created := e.do(http.MethodPost, "/v1/webhook-endpoints", tok, createKey, body)
	expectStatus(t, created, http.StatusCreated, "")
	id, _ := created.json(t)["id"].(string)
	first := webhooks.Secret(created.json(t)["secret"].(string))
	if !first.Valid() || created.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("created: %s", created.body)
	}
	rotated := e.do(http.MethodPost, "/v1/webhook-endpoints/"+id+"/rotate-secret", tok, rotateKey, nil)
	expectStatus(t, rotated, http.StatusOK, "")
	second := webhooks.Secret(rotated.json(t)["secret"].(string))
	if !second.Valid() || second == first {
		t.Fatalf("rotated: %s", rotated.body)
	}
	issued := []string{string(first), string(second)}

	// replays checks that replaying the create and the rotation shows the endpoint and no
	// secret, whatever became of the endpoint since.
	replays := func(when string) {
		t.Helper()
		for _, r := range []struct {
			what, path, key string
			body            any
			status          int
		}{
			{"create", "/v1/webhook-endpoints", createKey, body, http.StatusCreated},
			{"rotation", "/v1/webhook-endpoints/" + id + "/rotate-secret", rotateKey, nil, http.StatusOK},
		} {
			got := e.do(http.MethodPost, r.path, e.token(e.a), r.key, r.body)
			expectStatus(t, got, r.status, "")
			m := got.json(t)
			if got.header.Get("Idempotent-Replayed") != "true" || m["id"] != id || m["secret_withheld"] != true {
				t.Errorf("%s: replay of the %s: %s", when, r.what, got.body)
			}
			if _, ok := m["secret"]; ok || strings.Contains(string(got.body), "whsec_") {
				t.Errorf("%s: the replay of the %s shows a secret", when, r.what)
			}
		}
	}
	replays("after the rotation")
	scanFiles(t, sqlitePath, issued, "while the endpoint exists")

	// Deliveries are signed with both secrets during the grace period.
	e.pay(e.a, barcodePayment(1500, barcodeOK))
	e.deliver()
	got := rcv.take()
	if len(got) == 0 {
		t.Fatal("nothing delivered")
	}
	for _, d := range got {
		for _, s := range []webhooks.Secret{first, second} {
			if err := webhooks.Verify(d.body, d.header, time.Now(), s); err != nil {
				t.Errorf("a delivery does not verify with one of the secrets: %v", err)
			}
		}
	}

	expectStatus(t, e.do(http.MethodDelete, "/v1/webhook-endpoints/"+id, tok, "", nil), http.StatusOK, "")
	replays("after the deletion")

	for _, s := range issued {
		if strings.Contains(e.logs.String(), s) || strings.Contains(e.logs.String(), strings.TrimPrefix(s, "whsec_")) {
			t.Error("the logs show a webhook secret")
		}
	}
	if sqlitePath != "" {
		e.app.Close()
		scanFiles(t, sqlitePath, issued, "after the deletion")
	}
}

// scanFiles fails the test if a SQLite database's files (the database, its WAL and SHM)
// hold any of the secrets, whole or without their prefix. "" (PostgreSQL) has none.
func scanFiles(t *testing.T, sqlitePath string, secrets []string, when string) {
	t.Helper()
	if sqlitePath == "" {
		return
	}
	files, _ := filepath.Glob(sqlitePath + "*")
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, s := range secrets {
			if strings.Contains(string(b), s) || strings.Contains(string(b), strings.TrimPrefix(s, "whsec_")) {
				t.Errorf("%s: %s holds a webhook secret", when, filepath.Base(f))
			}
		}
	}
}

// The contract of a create's answer holds exactly one of the secret (the first answer) and
// secret_withheld (a replay): an endpoint with neither, or both, breaks it.
func TestWebhookSecretContractIsSecretOrWithheld(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:40123/v1/webhook-endpoints", nil)
	req.Header.Set("Idempotency-Key", "k")
	h := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r"}, "Api-Version": {contracts.APIVersion}}
	ep := `{"object":"webhook_endpoint","id":"we_01JDQ5Y7R3M2K8T4V6W9X0Z1AB","url":"https://shop.example/h","event_types":[],"status":"enabled","created_at":"2026-11-28T00:00:00Z","updated_at":"2026-11-28T00:00:00Z"`
	for body, ok := range map[string]bool{
		ep + `,"secret":"whsec_c2VjcmV0"}`: true,
		ep + `,"secret_withheld":true}`:    true,
		ep + `}`:                           false,
		ep + `,"secret":"whsec_c2VjcmV0","secret_withheld":true}`: false,
	} {
		if err := contractViolation(req, http.StatusCreated, h, []byte(body)); (err == nil) != ok {
			t.Errorf("%s: contract violation %v, want ok=%v", body[len(ep):], err, ok)
		}
	}
}
