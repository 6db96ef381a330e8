package paypay

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// received is one POST the webhook receiver got.
type received struct {
	contentType string
	auth        string
	raw         []byte
	body        map[string]any
}

// receiver is a real HTTP endpoint standing in for payhub's webhook intake. answer picks the
// status of the n-th request (from 1); nil answers 200.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, r *http.Request) int
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{t: t, answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		rv := received{contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization"), raw: raw}
		if r.Method != http.MethodPost {
			t.Errorf("webhook sent with %s", r.Method)
		}
		if err := json.Unmarshal(raw, &rv.body); err != nil {
			t.Errorf("webhook body is not a JSON object: %s", raw)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, rv)
		n := len(rc.got)
		rc.mu.Unlock()
		status := http.StatusOK
		if rc.answer != nil {
			status = rc.answer(n, r)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "OK")
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received{}, rc.got...)
}

// webhookHarness is a harness whose simulator posts its notifications to rc, retrying
// quickly so failure tests stay fast.
func webhookHarness(t *testing.T, rc *receiver, mutate ...func(*Config)) *harness {
	t.Helper()
	return newHarness(t, append([]func(*Config){func(c *Config) {
		c.WebhookURL = rc.srv.URL
		c.WebhookRetryDelay = time.Millisecond
	}}, mutate...)...)
}

// flush waits for every queued notification to settle.
func (h *harness) flush() []Notification {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.sim.FlushNotifications(ctx); err != nil {
		h.t.Fatalf("notifications did not settle: %v", err)
	}
	return h.sim.Notifications()
}

// wantPayload checks the fields of a received payload; a nil want value means JSON null.
func wantPayload(t *testing.T, got map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("payload has no %s: %v", k, got)
			continue
		}
		if g != v {
			t.Errorf("payload %s = %#v, want %#v", k, g, v)
		}
	}
}

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func TestWebhookCompletedBarcodePayment(t *testing.T) {
	rc := newReceiver(t, nil)
	h := webhookHarness(t, rc)
	res := h.call(http.MethodPost, "/v2/payments?agreeSimilarTransaction=true", h.payBody("mp-bar-1", BarcodeOK, 1200))
	expect(t, res, http.StatusCreated, "SUCCESS")
	paymentID := res.dataMap(t)["paymentId"].(string)

	log := h.flush()
	got := rc.requests()
	if len(got) != 1 || len(log) != 1 {
		t.Fatalf("received %d, logged %+v; want one notification", len(got), log)
	}
	if got[0].contentType != "application/json" || got[0].auth != "" {
		t.Fatalf("Content-Type %q, Authorization %q: want unsigned JSON", got[0].contentType, got[0].auth)
	}
	wantPayload(t, got[0].body, map[string]any{
		"notification_type": "Transaction", "merchant_id": testMerchant, "store_id": "store-1", "pos_id": "till-1",
		"order_id": paymentID, "merchant_order_id": "mp-bar-1", "order_amount": "1200", "state": "COMPLETED",
		"paid_at": iso(testStart), "authorized_at": nil, "expires_at": nil,
	})
	n := log[0]
	if n.Status != NotificationDelivered || n.Attempts != 1 || n.LastHTTPStatus != http.StatusOK || n.Copy != 1 ||
		n.MerchantPaymentID != "mp-bar-1" || n.PaymentID != paymentID || n.State != StatusCompleted ||
		!n.QueuedAt.Equal(testStart) || string(n.Payload) != string(got[0].raw) {
		t.Fatalf("log entry %+v", n)
	}
}

func TestWebhookPreauthorizationAndCapture(t *testing.T) {
	rc := newReceiver(t, nil)
	h := webhookHarness(t, rc)
	paymentID := h.preauth("mp-pre-1", 900)
	h.flush()
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("received %d notifications, want AUTHORIZED only", len(got))
	}
	expiry := testStart.Add(DefaultAuthorizationLifetime)
	wantPayload(t, got[0].body, map[string]any{
		"order_id": paymentID, "merchant_order_id": "", "order_amount": "900", "state": "AUTHORIZED",
		"authorized_at": iso(testStart), "expires_at": iso(expiry), "paid_at": nil,
	})
	if h.sim.Notifications()[0].MerchantPaymentID != "mp-pre-1" {
		t.Fatal("the log does not name the payment behind the empty merchant_order_id")
	}

	captureAt := h.clock.Advance(time.Hour)
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-pre-1", "cap-1", 700)), http.StatusOK, "SUCCESS")
	h.flush()
	got = rc.requests()
	if len(got) != 2 {
		t.Fatalf("received %d notifications, want AUTHORIZED then COMPLETED", len(got))
	}
	wantPayload(t, got[1].body, map[string]any{
		"order_id": paymentID, "merchant_order_id": "mp-pre-1", "order_amount": "700", "state": "COMPLETED",
		"authorized_at": iso(testStart), "paid_at": iso(captureAt),
	})
}

func TestWebhookQRPaid(t *testing.T) {
	rc := newReceiver(t, nil)
	h := webhookHarness(t, rc)
	expect(t, h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-qr-1", 500)), http.StatusCreated, "SUCCESS")
	h.flush()
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("creating a QR sent %d notifications", n)
	}
	paidAt := h.clock.Advance(30 * time.Second)
	if err := h.sim.PayQR("mp-qr-1", UserOK); err != nil {
		t.Fatal(err)
	}
	h.flush()
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("received %d notifications", len(got))
	}
	wantPayload(t, got[0].body, map[string]any{
		"merchant_order_id": "mp-qr-1", "order_amount": "500", "state": "COMPLETED", "paid_at": iso(paidAt),
	})

	// A customer who fails to pay: FAILED is not always sent, and the simulator sends none.
	expect(t, h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-qr-2", 500)), http.StatusCreated, "SUCCESS")
	if err := h.sim.PayQR("mp-qr-2", UserNoFunds); err != nil {
		t.Fatal(err)
	}
	if log := h.flush(); len(log) != 1 {
		t.Fatalf("a failed QR payment was notified: %+v", log)
	}
}

func TestWebhookNoneForCancelOrRefund(t *testing.T) {
	rc := newReceiver(t, nil)
	h := webhookHarness(t, rc)
	paymentID := h.pay("mp-c-1", 1000)
	h.pay("mp-c-2", 2000)
	h.preauth("mp-c-3", 3000)
	h.flush()
	before := len(rc.requests())
	if before != 3 {
		t.Fatalf("received %d notifications for two payments and an authorization", before)
	}

	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-1", paymentID, 400)), http.StatusOK, "SUCCESS")
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-c-2", nil), http.StatusAccepted, "REQUEST_ACCEPTED")
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-c-3", nil), http.StatusAccepted, "REQUEST_ACCEPTED")
	if h.status("mp-c-2") != StatusFailed || h.status("mp-c-3") != StatusFailed {
		t.Fatal("cancels did not apply")
	}
	h.flush()
	if got := rc.requests(); len(got) != before {
		t.Fatalf("cancel or refund sent notifications: %s", got[before:][0].raw)
	}

	// A cancel sent before the payment: the payment is notified when made, the cancel that
	// then applies is not.
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-c-4", nil), http.StatusAccepted, "REQUEST_ACCEPTED")
	h.pay("mp-c-4", 4000)
	if h.status("mp-c-4") != StatusFailed {
		t.Fatal("early cancel did not apply")
	}
	log := h.flush()
	if len(log) != before+1 || log[before].MerchantPaymentID != "mp-c-4" || log[before].State != StatusCompleted {
		t.Fatalf("log %+v", log[before:])
	}
}

func TestWebhookRevertAndExpiry(t *testing.T) {
	rc := newReceiver(t, nil)
	h := webhookHarness(t, rc)
	reverted := h.preauth("mp-r-1", 100)
	h.preauth("mp-e-1", 200)
	expect(t, h.call(http.MethodPost, "/v2/payments/preauthorize/revert", h.revertBody("rv-1", reverted)), http.StatusOK, "SUCCESS")
	h.clock.Advance(DefaultAuthorizationLifetime)
	if h.status("mp-e-1") != StatusExpired {
		t.Fatal("authorization did not expire")
	}
	h.status("mp-e-1") // a second read notices nothing new
	log := h.flush()
	var states []string
	for _, n := range log {
		states = append(states, n.MerchantPaymentID+" "+n.State)
	}
	want := []string{"mp-r-1 AUTHORIZED", "mp-e-1 AUTHORIZED", "mp-r-1 CANCELED", "mp-e-1 EXPIRED"}
	if len(states) != len(want) {
		t.Fatalf("notified %v, want %v", states, want)
	}
	for i := range want {
		if states[i] != want[i] {
			t.Fatalf("notified %v, want %v", states, want)
		}
	}
	got := rc.requests()
	wantPayload(t, got[2].body, map[string]any{"state": "CANCELED", "merchant_order_id": "mp-r-1", "paid_at": nil})
	wantPayload(t, got[3].body, map[string]any{"state": "EXPIRED", "merchant_order_id": "mp-e-1", "paid_at": nil,
		"expires_at": iso(testStart.Add(DefaultAuthorizationLifetime))})
}

func TestWebhookRetriesAfterServerError(t *testing.T) {
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	h := webhookHarness(t, rc)
	h.pay("mp-retry-1", 100)
	log := h.flush()
	got := rc.requests()
	if len(got) != 2 || string(got[0].raw) != string(got[1].raw) {
		t.Fatalf("received %d requests; a retry must resend the same body", len(got))
	}
	if len(log) != 1 || log[0].Status != NotificationDelivered || log[0].Attempts != 2 || log[0].LastError != "" {
		t.Fatalf("log %+v", log)
	}
}

func TestWebhookGivesUpAfterThreeAttempts(t *testing.T) {
	rc := newReceiver(t, func(int, *http.Request) int { return http.StatusServiceUnavailable })
	h := webhookHarness(t, rc)
	h.pay("mp-fail-1", 100)
	log := h.flush()
	if n := len(rc.requests()); n != DefaultWebhookAttempts {
		t.Fatalf("received %d attempts, want %d", n, DefaultWebhookAttempts)
	}
	if len(log) != 1 || log[0].Status != NotificationFailed || log[0].Attempts != DefaultWebhookAttempts ||
		log[0].LastHTTPStatus != http.StatusServiceUnavailable || log[0].LastError == "" {
		t.Fatalf("log %+v", log)
	}
}

func TestWebhookTimeoutCountsAsFailedAttempt(t *testing.T) {
	rc := newReceiver(t, func(n int, r *http.Request) int {
		if n == 1 {
			<-r.Context().Done() // hang until the simulator gives up on this attempt
		}
		return http.StatusOK
	})
	h := webhookHarness(t, rc, func(c *Config) { c.WebhookTimeout = 50 * time.Millisecond })
	h.pay("mp-slow-1", 100)
	log := h.flush()
	if len(log) != 1 || log[0].Status != NotificationDelivered || log[0].Attempts != 2 {
		t.Fatalf("log %+v", log)
	}
}

func TestWebhookDuplicateOption(t *testing.T) {
	rc := newReceiver(t, nil)
	h := webhookHarness(t, rc, func(c *Config) { c.WebhookDuplicate = true })
	h.pay("mp-dup-1", 100)
	log := h.flush()
	got := rc.requests()
	if len(got) != 2 || string(got[0].raw) != string(got[1].raw) {
		t.Fatalf("received %d requests, want the same notification twice", len(got))
	}
	if len(log) != 2 || log[0].Copy != 1 || log[1].Copy != 2 || log[0].Seq != 1 || log[1].Seq != 2 ||
		log[0].Status != NotificationDelivered || log[1].Status != NotificationDelivered {
		t.Fatalf("log %+v", log)
	}
}

func TestWebhookDropOption(t *testing.T) {
	rc := newReceiver(t, nil)
	h := webhookHarness(t, rc, func(c *Config) { c.WebhookDrop = 1 })
	h.pay("mp-drop-1", 100)
	h.preauth("mp-drop-2", 100)
	log := h.flush()
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("received %d notifications, want none", n)
	}
	if len(log) != 2 || log[0].Status != NotificationDropped || log[1].Status != NotificationDropped || log[0].Attempts != 0 {
		t.Fatalf("log %+v", log)
	}
}

func TestWebhookDropIsRepeatable(t *testing.T) {
	run := func() []string {
		rc := newReceiver(t, nil)
		h := webhookHarness(t, rc, func(c *Config) { c.WebhookDrop = 0.5 })
		for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
			h.pay("mp-"+id, 100)
		}
		var statuses []string
		for _, n := range h.flush() {
			statuses = append(statuses, n.Status)
		}
		return statuses
	}
	first, second := run(), run()
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("drops differ between runs: %v vs %v", first, second)
		}
	}
}

func TestWebhookNoneWithoutURL(t *testing.T) {
	h := newHarness(t)
	h.pay("mp-none-1", 100)
	if log := h.flush(); len(log) != 0 {
		t.Fatalf("notified without a URL: %+v", log)
	}
}

// TestWebhookIsAsynchronous: the API answers while the receiver still holds the
// notification, and the simulator keeps serving (its lock is not held during HTTP).
func TestWebhookIsAsynchronous(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	arrived := make(chan struct{}, 1)
	rc := newReceiver(t, func(int, *http.Request) int {
		arrived <- struct{}{}
		<-release
		return http.StatusOK
	})
	t.Cleanup(unblock) // registered after the receiver's Close, so it runs first
	h := webhookHarness(t, rc)
	h.pay("mp-async-1", 100) // would never return if the answer waited for the receiver
	<-arrived
	if h.status("mp-async-1") != StatusCompleted {
		t.Fatal("payment not readable while the notification is in flight")
	}
	if log := h.sim.Notifications(); len(log) != 1 || log[0].Status != NotificationPending {
		t.Fatalf("log while in flight: %+v", log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	if err := h.sim.FlushNotifications(ctx); err == nil {
		t.Fatal("flush returned while a delivery was in flight")
	}
	cancel()
	unblock()
	if log := h.flush(); log[0].Status != NotificationDelivered {
		t.Fatalf("log %+v", log)
	}
}

func TestWebhookControlEndpoint(t *testing.T) {
	rc := newReceiver(t, nil)
	h := webhookHarness(t, rc)
	h.pay("mp-ctl-1", 100)
	h.flush()
	status, body := h.control(http.MethodGet, "/_sim/notifications", nil)
	list, _ := body["notifications"].([]any)
	if status != http.StatusOK || len(list) != 1 {
		t.Fatalf("GET /_sim/notifications: %d %v", status, body)
	}
	n := list[0].(map[string]any)
	if n["status"] != NotificationDelivered || n["state"] != StatusCompleted || n["merchantPaymentId"] != "mp-ctl-1" {
		t.Fatalf("entry %v", n)
	}
	if payload, _ := n["payload"].(map[string]any); payload["order_amount"] != "100" {
		t.Fatalf("payload %v", n["payload"])
	}
}
