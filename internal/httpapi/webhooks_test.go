package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/webhooks"
	"payhub/internal/webhooks/webhookstest"
)

// delivery is one notification as a store's receiver got it: raw headers and body.
type delivery struct {
	header http.Header
	body   []byte
}

func (d delivery) event(t *testing.T) (id, typ string, sequence int64) {
	t.Helper()
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			Sequence int64 `json:"sequence"`
		} `json:"data"`
	}
	if err := json.Unmarshal(d.body, &ev); err != nil {
		t.Fatalf("delivery body: %v", err)
	}
	return ev.ID, ev.Type, ev.Data.Sequence
}

// hookReceiver is a store's endpoint on a real HTTP server: it keeps every delivery.
type hookReceiver struct {
	mu  sync.Mutex
	got []delivery
	srv *httptest.Server
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// take returns the deliveries received since the last take.
func (r *hookReceiver) take() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

// deliver runs the deliverer until nothing is due.
func (e *testEnv) deliver() {
	e.t.Helper()
	for {
		n, err := e.app.Deliverer.DeliverOnce(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// A store registers an endpoint, receives its events signed, rotates the secret and
// receives both signatures during the grace period; every delivery verifies with payhub's
// verifier (and with the npm standardwebhooks library in TestNodeVerifiesStoreNotifications).
func TestStoreNotificationsAreSignedAndRotate(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		runRotation(t, newEnv(t, st), newHookReceiver(t))
	})
}

// rotationRun is what runRotation saw: the deliveries before and after a secret rotation,
// and the two secrets.
type rotationRun struct {
	before, after []delivery
	old, new      webhooks.Secret
}

// runRotation registers an endpoint for store a, pays and refunds, rotates the secret and
// pays again, checking each step through the API and payhub's own verifier.
func runRotation(t *testing.T, e *testEnv, rcv *hookReceiver) rotationRun {
	t.Helper()
	tok := e.token(e.a)
	created := e.do(http.MethodPost, "/v1/webhook-endpoints", tok, newKey(), map[string]any{
		"url": rcv.srv.URL + "/payhub", "description": "till 1", "event_types": []string{"payment.succeeded", "refund.succeeded"}})
	expectStatus(t, created, http.StatusCreated, "")
	ep := created.json(t)
	id, _ := ep["id"].(string)
	old := webhooks.Secret(ep["secret"].(string))
	if !old.Valid() || ep["status"] != "enabled" {
		t.Fatalf("created: %s", created.body)
	}
	got := e.do(http.MethodGet, "/v1/webhook-endpoints/"+id, tok, "", nil)
	if expectStatus(t, got, http.StatusOK, ""); strings.Contains(string(got.body), string(old)) || strings.Contains(string(got.body), "secret") {
		t.Fatalf("GET shows the secret: %s", got.body)
	}
	expectStatus(t, e.do(http.MethodGet, "/v1/webhook-endpoints/"+id, e.token(e.b), "", nil), http.StatusNotFound, "not_found")

	pid := e.pay(e.a, barcodePayment(1200, barcodeOK)).json(t)["id"].(string)
	expectStatus(t, e.do(http.MethodPost, "/v1/payments/"+pid+"/refunds", tok, newKey(), map[string]any{"amount": 200}), http.StatusCreated, "")
	e.deliver()
	run := rotationRun{before: rcv.take(), old: old}
	wantTypes(t, run.before, "payment.succeeded", "refund.succeeded")
	for _, d := range run.before {
		if err := webhooks.Verify(d.body, d.header, time.Now(), old); err != nil {
			t.Fatalf("delivery before the rotation: %v", err)
		}
	}

	rotated := e.do(http.MethodPost, "/v1/webhook-endpoints/"+id+"/rotate-secret", tok, newKey(), nil)
	expectStatus(t, rotated, http.StatusOK, "")
	run.new = webhooks.Secret(rotated.json(t)["secret"].(string))
	if !run.new.Valid() || run.new == old {
		t.Fatalf("rotated: %s", rotated.body)
	}
	e.pay(e.a, barcodePayment(800, barcodeOK))
	e.deliver()
	run.after = rcv.take()
	wantTypes(t, run.after, "payment.succeeded")
	for _, d := range run.after {
		if n := len(strings.Fields(d.header.Get("webhook-signature"))); n != 2 {
			t.Fatalf("%d signatures during the grace period, want 2", n)
		}
		for _, s := range []webhooks.Secret{old, run.new} {
			if err := webhooks.Verify(d.body, d.header, time.Now(), s); err != nil {
				t.Fatalf("after the rotation, one secret alone: %v", err)
			}
		}
	}
	evID, _, _ := run.after[0].event(t)
	attempts := e.do(http.MethodGet, "/v1/events/"+evID+"/attempts", tok, "", nil)
	expectStatus(t, attempts, http.StatusOK, "")
	if data := attempts.json(t)["data"].([]any); len(data) != 1 || data[0].(map[string]any)["http_status"] != 204.0 {
		t.Fatalf("attempts: %s", attempts.body)
	}
	expectStatus(t, e.do(http.MethodGet, "/v1/events/"+evID+"/attempts", e.token(e.b), "", nil), http.StatusNotFound, "not_found")
	return run
}

func wantTypes(t *testing.T, ds []delivery, types ...string) {
	t.Helper()
	if len(ds) != len(types) {
		t.Fatalf("%d deliveries, want %v", len(ds), types)
	}
	seen := map[string]bool{}
	for _, d := range ds {
		id, typ, _ := d.event(t)
		if d.header.Get("webhook-id") != id || seen[id] {
			t.Fatalf("webhook-id %q for event %q (seen twice: %v)", d.header.Get("webhook-id"), id, seen[id])
		}
		seen[id] = true
		if !strings.Contains(strings.Join(types, " "), typ) {
			t.Fatalf("delivered %s, want %v", typ, types)
		}
	}
}

// Endpoint management through the API: list, refuse unsafe URLs, redeliver, delete.
func TestWebhookEndpointManagement(t *testing.T) {
	e := newEnv(t, nil)
	rcv := newHookReceiver(t)
	tok := e.token(e.a)
	for _, url := range []string{"http://10.0.0.7/hooks", "ftp://127.0.0.1/x", "https://169.254.169.254/latest"} {
		r := e.do(http.MethodPost, "/v1/webhook-endpoints", tok, newKey(), map[string]any{"url": url})
		expectStatus(t, r, http.StatusUnprocessableEntity, "invalid_request")
	}
	expectStatus(t, e.do(http.MethodPost, "/v1/webhook-endpoints", tok, newKey(), map[string]any{"url": rcv.srv.URL, "event_types": []string{"payment.exploded"}}),
		http.StatusBadRequest, "invalid_request")
	created := e.do(http.MethodPost, "/v1/webhook-endpoints", tok, newKey(), map[string]any{"url": rcv.srv.URL})
	id := created.json(t)["id"].(string)
	list := e.do(http.MethodGet, "/v1/webhook-endpoints", tok, "", nil)
	if data := list.json(t)["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != id {
		t.Fatalf("list: %s", list.body)
	}
	if data := e.do(http.MethodGet, "/v1/webhook-endpoints", e.token(e.b), "", nil).json(t)["data"].([]any); len(data) != 0 {
		t.Fatalf("store b sees %d endpoints", len(data))
	}

	pid := e.pay(e.a, barcodePayment(500, barcodeOK)).json(t)["id"].(string)
	e.deliver()
	first := rcv.take()
	if len(first) != 2 { // processing, succeeded
		t.Fatalf("%d deliveries, want 2", len(first))
	}
	var evID string
	for _, d := range first {
		if id, typ, _ := d.event(t); typ == "payment.succeeded" {
			evID = id // deliveries arrive in any order
		}
	}
	redo := e.do(http.MethodPost, "/v1/events/"+evID+"/redeliver", tok, newKey(), nil)
	expectStatus(t, redo, http.StatusAccepted, "")
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	to := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	rng := e.do(http.MethodPost, "/v1/webhook-endpoints/"+id+"/redeliver", tok, newKey(), map[string]any{"from": from, "to": to, "types": []string{"payment.succeeded"}})
	expectStatus(t, rng, http.StatusAccepted, "")
	if n := rng.json(t)["deliveries"]; n != 1.0 {
		t.Fatalf("range redelivery queued %v, want 1", n)
	}
	e.deliver()
	again := rcv.take()
	if len(again) != 1 || again[0].header.Get("webhook-id") != evID {
		t.Fatalf("redelivered %d deliveries, want the one event once (both requests queue the same delivery)", len(again))
	}
	expectStatus(t, e.do(http.MethodPost, "/v1/events/"+evID+"/redeliver", e.token(e.b), newKey(), nil), http.StatusNotFound, "not_found")
	_ = pid

	expectStatus(t, e.do(http.MethodDelete, "/v1/webhook-endpoints/"+id, e.token(e.b), "", nil), http.StatusNotFound, "not_found")
	expectStatus(t, e.do(http.MethodDelete, "/v1/webhook-endpoints/"+id, tok, "", nil), http.StatusOK, "")
	expectStatus(t, e.do(http.MethodDelete, "/v1/webhook-endpoints/"+id, tok, "", nil), http.StatusNotFound, "not_found")
	e.pay(e.a, barcodePayment(300, barcodeOK))
	e.deliver()
	if n := len(rcv.take()); n != 0 {
		t.Fatalf("a deleted endpoint got %d deliveries", n)
	}
	if m := e.metrics(); !strings.Contains(m, `payhub_webhook_sends_total{result="delivered"} 3`) {
		t.Fatalf("metrics lack the 3 delivered sends")
	}
}

// The store's Node receiver: every notification payhub sent through the API, before and
// during a secret rotation, verifies with the npm standardwebhooks library — with each
// secret alone during the grace period — and a tampered one does not.
func TestNodeVerifiesStoreNotifications(t *testing.T) {
	run := runRotation(t, newEnv(t, nil), newHookReceiver(t))
	c := func(d delivery, s webhooks.Secret) webhookstest.Case {
		return webhookstest.Case{Secret: string(s), ID: d.header.Get("webhook-id"), Timestamp: d.header.Get("webhook-timestamp"),
			Signature: d.header.Get("webhook-signature"), Body: string(d.body)}
	}
	var cases []webhookstest.Case
	var want []bool
	for _, d := range run.before {
		cases, want = append(cases, c(d, run.old)), append(want, true)
	}
	for _, d := range run.after {
		cases, want = append(cases, c(d, run.old), c(d, run.new)), append(want, true, true)
	}
	tampered := c(run.after[0], run.new)
	tampered.Body = strings.Replace(tampered.Body, `"amount":800`, `"amount":8`, 1)
	if tampered.Body == string(run.after[0].body) {
		t.Fatal("the tampering changed nothing")
	}
	cases, want = append(cases, tampered), append(want, false)
	if got := webhookstest.NodeVerify(t, "../../tests/npm/standardwebhooks", cases); !slices.Equal(got, want) {
		t.Fatalf("standardwebhooks accepted %v, want %v", got, want)
	}
}
