package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/config"
	"payhub/internal/hub"
	"payhub/internal/store/storetest"
	paypaysim "payhub/mocks/paypay"
	simcore "payhub/mocks/sim"
)

// countingBody is a request body that counts the bytes read from it.
type countingBody struct {
	left int
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, fmt.Errorf("EOF")
	}
	n := min(len(p), b.left)
	for i := range n {
		p[i] = 'x'
	}
	b.left -= n
	b.read.Add(int64(n))
	return n, nil
}

func (b *countingBody) Close() error { return nil }

// TestCallbackSourceIsCheckedBeforeTheBody: issue 15. The callback endpoint read the whole
// body (up to 256 KiB, and answered 413 past it) before it looked at where the callback
// came from. Now a callback from outside the partner's allowlist is refused 403 without a
// byte of its body read, and one for a partner that takes none 404.
func TestCallbackSourceIsCheckedBeforeTheBody(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/v1/partners/paypay/webhooks", http.StatusForbidden},
		{"/v1/partners/nosuchpartner/webhooks", http.StatusNotFound},
	} {
		body := &countingBody{left: 300 << 10}
		req := httptest.NewRequest(http.MethodPost, tc.path, body)
		req.RemoteAddr = "198.51.100.7:40000" // outside the allowlist (loopback only)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.app.Handler.ServeHTTP(rec, req)
		if rec.Code != tc.status || body.read.Load() != 0 {
			t.Fatalf("%s from outside the allowlist: %d after reading %d bytes of the body; want %d, nothing read",
				tc.path, rec.Code, body.read.Load(), tc.status)
		}
	}
	if cbs := e.callbacks(); len(cbs) != 0 {
		t.Fatalf("refused callbacks kept: %+v", cbs)
	}
}

// TestUnreadableCallbacksKeepOnlyMetadata: issue 15. Each unreadable callback got a fresh
// id and was kept whole, so the same junk sent again and again grew the inbox each time.
// Now it is answered 400 as before, kept once (identified by its body's digest) and only as
// metadata: size and digest, no body.
func TestUnreadableCallbacksKeepOnlyMetadata(t *testing.T) {
	e := newEnv(t, nil)
	junk := `{"notification_type":"Transaction","order_id":"4111111111111111"`
	for range 3 {
		expectStatus(t, e.callback(junk), http.StatusBadRequest, "invalid_request")
	}
	other := `not json at all`
	expectStatus(t, e.callback(other), http.StatusBadRequest, "invalid_request")
	cbs := e.callbacks()
	if len(cbs) != 2 {
		t.Fatalf("%d callbacks kept for 4 unreadable ones of 2 kinds, want 2", len(cbs))
	}
	sum := sha256.Sum256([]byte(junk))
	for _, cb := range cbs {
		if len(cb.Body) != 0 || cb.Status != contracts.CallbackRejected || strings.Contains(cb.Note, "4111") {
			t.Fatalf("unreadable callback kept as %+v", cb)
		}
	}
	if !strings.Contains(cbs[0].Note, fmt.Sprintf("%d bytes", len(junk))) || !strings.Contains(cbs[0].Note, hex.EncodeToString(sum[:])) {
		t.Fatalf("metadata of the unreadable callback: %q", cbs[0].Note)
	}
	if !strings.Contains(metricsOf(e.app), `payhub_partner_callbacks_total{partner="paypay",result="duplicate"} 2`) {
		t.Errorf("the repeats were not counted as duplicates")
	}
}

// metricsOf is what a's metrics listener serves.
func metricsOf(a *app.App) string {
	rec := httptest.NewRecorder()
	a.MetricsHandler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// inboxEnv is payhub with the PayPay simulator and a callback inbox bounded at maxWaiting.
func inboxEnv(t *testing.T, maxWaiting int) (*app.App, string) {
	t.Helper()
	sim := paypaysim.New(paypaysim.Config{APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant,
		Faults: simcore.NewFaults(1), Clock: simcore.SystemClock{}})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	a, err := app.Build(context.Background(), app.Config{Store: storetest.OpenSQLite(t), Logger: app.NewLogger(&syncBuffer{}),
		Callbacks: hub.CallbackConfig{Allow: map[contracts.Method][]netip.Prefix{contracts.MethodPayPay: config.LoopbackOnly}, MaxWaiting: maxWaiting},
		PayPay:    paypayadapter.Config{BaseURL: simSrv.URL, APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() { srv.Close(); a.Close() })
	return a, srv.URL
}

// TestCallbackInboxIsBounded: issue 15. The inbox took every callback an allowlisted
// address sent. Now while a partner has MaxWaiting callbacks waiting for the worker, the
// next are dropped, counted (result "dropped") and answered 503 service_unavailable with
// Retry-After, so the partner sends them again; once the worker caught up, they are taken.
func TestCallbackInboxIsBounded(t *testing.T) {
	a, url := inboxEnv(t, 3)
	post := func(i int) *http.Response {
		t.Helper()
		body := paypayCallback(fmt.Sprintf("0482%016d", i), fmt.Sprintf("pay_01JD00000000000000000000%02d_1", i), "COMPLETED", time.Now())
		resp, err := http.Post(url+"/v1/partners/paypay/webhooks", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 5 {
		resp := post(i)
		want := http.StatusOK
		if i >= 3 {
			want = http.StatusServiceUnavailable
		}
		if resp.StatusCode != want || (want == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "") {
			t.Fatalf("callback %d answered %d, want %d", i, resp.StatusCode, want)
		}
	}
	cbs, _ := a.Store.ListCallbacks(context.Background(), contracts.MethodPayPay)
	if len(cbs) != 3 {
		t.Fatalf("%d callbacks in an inbox bounded at 3", len(cbs))
	}
	if !strings.Contains(metricsOf(a), `payhub_partner_callbacks_total{partner="paypay",result="dropped"} 2`) {
		t.Errorf("dropped callbacks not counted")
	}
	if n, err := a.Hub.ProcessCallbacks(context.Background()); err != nil || n != 3 {
		t.Fatalf("ProcessCallbacks = %d, %v", n, err)
	}
	if resp := post(3); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the worker caught up the partner's retry answered %d", resp.StatusCode)
	}
}
