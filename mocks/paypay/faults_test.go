package paypay

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"payhub/mocks/sim"
)

// faultHarness is a simulator with a fault engine, served on a real loopback server.
// served receives once per request when the simulator's handler returns.
type faultHarness struct {
	*harness
	faults *sim.Faults
	srv    *httptest.Server
	served chan struct{}
}

func newFaultHarness(t *testing.T) *faultHarness {
	t.Helper()
	faults := sim.NewFaults(7)
	fh := &faultHarness{harness: newHarness(t, func(c *Config) { c.Faults = faults }), faults: faults, served: make(chan struct{}, 16)}
	fh.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { fh.served <- struct{}{} }()
		fh.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(fh.srv.Close)
	return fh
}

// wireResponse is an answer read off the wire.
type wireResponse struct {
	status int
	header http.Header
	body   []byte
}

// send sends a signed OPA request (or, under /_sim/, a plain one) on a fresh connection, so
// the transport never silently retries on a reused one.
func (fh *faultHarness) send(ctx context.Context, method, path string, body any) (wireResponse, error) {
	fh.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, fh.srv.URL+path, strings.NewReader(string(raw)))
	if err != nil {
		fh.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !sim.IsControlPath(req.URL.Path) {
		req.Header.Set("Authorization", authHeader(testKey, testSecret, method, req.URL.Path, "nonce123", fh.clock.Now().Unix(), "application/json", raw))
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return wireResponse{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return wireResponse{status: res.StatusCode, header: res.Header, body: b}, err
}

// setFaults installs rules through PUT /_sim/faults, the way a store developer would.
func (fh *faultHarness) setFaults(rules string) {
	fh.t.Helper()
	res, err := fh.send(context.Background(), http.MethodPut, "/_sim/faults", json.RawMessage(`{"rules":`+rules+`}`))
	if err != nil || res.status != http.StatusOK {
		fh.t.Fatalf("PUT /_sim/faults: %v %d %s", err, res.status, res.body)
	}
}

func droppedConnection(err error) bool {
	return err != nil && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection reset"))
}

func TestFaultCommitThenDropPayment(t *testing.T) {
	fh := newFaultHarness(t)
	fh.setFaults(`[{"method":"POST","path_prefix":"/v2/payments","fault":{"kind":"commit_then_drop"},"count":1}]`)

	_, err := fh.send(context.Background(), http.MethodPost, "/v2/payments?agreeSimilarTransaction=true", fh.payBody("mp-lost", UserOK, 1200))
	if !droppedConnection(err) {
		t.Fatalf("err = %v, want a dropped connection", err)
	}
	lp, ok := fh.sim.Payment("mp-lost")
	if !ok || lp.Status != StatusCompleted || lp.Amount != 1200 {
		t.Fatalf("ledger after commit-then-drop: %+v %v", lp, ok)
	}
	// The rule fired once; the query payhub's resolver sends finds the payment.
	res, err := fh.send(context.Background(), http.MethodGet, "/v2/payments/mp-lost", nil)
	if err != nil || res.status != http.StatusOK || !strings.Contains(string(res.body), `"COMPLETED"`) {
		t.Fatalf("query after the drop: %v %d %s", err, res.status, res.body)
	}
	if st := fh.faults.Stats(); st[sim.FaultCommitThenDrop] != 1 {
		t.Fatalf("stats %v", st)
	}
}

func TestFaultErrorBeforeCommitPayPayEnvelope(t *testing.T) {
	cases := []struct {
		fault          string
		status         int
		code, codeID   string
		messageSnippet string
	}{
		{`{"kind":"error","status":500}`, 500, "INTERNAL_SERVER_ERROR", "08101000", "unknown"},
		{`{"kind":"error","status":500,"code":"TRANSACTION_FAILED"}`, 500, "TRANSACTION_FAILED", "", "new transaction"},
		{`{"kind":"error","status":503}`, 503, "MAINTENANCE_MODE", "08100999", "maintenance"},
		{`{"kind":"error","status":429}`, 429, "RATE_LIMIT", "08100998", "Too many"},
		{`{"kind":"error","status":502}`, 502, "BAD_GATEWAY", "", "Bad Gateway"},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			fh := newFaultHarness(t)
			fh.setFaults(`[{"method":"POST","path_prefix":"/v2/payments","fault":` + tc.fault + `}]`)
			res, err := fh.send(context.Background(), http.MethodPost, "/v2/payments?agreeSimilarTransaction=true", fh.payBody("mp-1", UserOK, 500))
			if err != nil || res.status != tc.status || res.header.Get("Content-Type") != "application/json" || res.header.Get("X-REQUEST-ID") == "" {
				t.Fatalf("got %v %d %v %s", err, res.status, res.header, res.body)
			}
			var env struct {
				ResultInfo resultInfo      `json:"resultInfo"`
				Data       json.RawMessage `json:"data"`
			}
			if json.Unmarshal(res.body, &env) != nil || env.ResultInfo.Code != tc.code || env.ResultInfo.CodeID != tc.codeID ||
				!strings.Contains(env.ResultInfo.Message, tc.messageSnippet) || string(env.Data) != "null" {
				t.Fatalf("envelope %s", res.body)
			}
			if _, ok := fh.sim.Payment("mp-1"); ok {
				t.Fatal("an error-before-commit fault recorded the payment")
			}
		})
	}
}

func TestFaultCommitThenErrorRefund(t *testing.T) {
	fh := newFaultHarness(t)
	paymentID := fh.pay("mp-1", 1000)
	fh.setFaults(`[{"path_prefix":"/v2/refunds","fault":{"kind":"commit_then_error","status":503}}]`)
	res, err := fh.send(context.Background(), http.MethodPost, "/v2/refunds", fh.refundBody("rf-1", paymentID, 400))
	if err != nil || res.status != http.StatusServiceUnavailable || !strings.Contains(string(res.body), "MAINTENANCE_MODE") {
		t.Fatalf("got %v %d %s", err, res.status, res.body)
	}
	if lp, _ := fh.sim.Payment("mp-1"); lp.Refunded != 400 {
		t.Fatalf("refund not committed: %+v", lp)
	}
}

func TestFaultResetAndHangOnPayPay(t *testing.T) {
	fh := newFaultHarness(t)
	fh.setFaults(`[{"method":"POST","path_prefix":"/v2/payments","fault":{"kind":"reset"},"count":1},` +
		`{"method":"POST","path_prefix":"/v2/payments","fault":{"kind":"hang"},"count":1}]`)

	if _, err := fh.send(context.Background(), http.MethodPost, "/v2/payments", fh.payBody("mp-reset", UserOK, 100)); !droppedConnection(err) {
		t.Fatalf("reset: err = %v", err)
	}
	<-fh.served

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := fh.send(ctx, http.MethodPost, "/v2/payments", fh.payBody("mp-hang", UserOK, 100)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: err = %v, want the client's deadline", err)
	}
	select {
	case <-fh.served:
	case <-time.After(10 * time.Second): // catches a hang that never ends; times nothing
		t.Fatal("the hanging request outlived its client")
	}
	if len(fh.sim.Payments()) != 0 {
		t.Fatalf("reset or hang ran the request: %+v", fh.sim.Payments())
	}
}

func TestFaultsNeverTouchSimPaths(t *testing.T) {
	fh := newFaultHarness(t)
	fh.pay("mp-1", 100)
	fh.setFaults(`[{"fault":{"kind":"reset"}}]`)
	for _, path := range []string{"/_sim/payments", "/_sim/payments/mp-1", "/_sim/faults"} {
		res, err := fh.send(context.Background(), http.MethodGet, path, nil)
		if err != nil || res.status != http.StatusOK {
			t.Fatalf("GET %s: %v %d %s", path, err, res.status, res.body)
		}
	}
	var st sim.FaultState
	res, _ := fh.send(context.Background(), http.MethodDelete, "/_sim/faults", nil)
	if json.Unmarshal(res.body, &st) != nil || len(st.Rules) != 0 || len(st.Stats) != 0 {
		t.Fatalf("DELETE /_sim/faults: %s", res.body)
	}
	if _, err := fh.send(context.Background(), http.MethodGet, "/v2/payments/mp-1", nil); err != nil {
		t.Fatalf("after DELETE, requests still fault: %v", err)
	}
}

func TestSimFaultsOffWithoutEngine(t *testing.T) {
	h := newHarness(t)
	code, m := h.control(http.MethodGet, "/_sim/faults", nil)
	if code != http.StatusNotFound || !strings.Contains(m["error"].(string), "off") {
		t.Fatalf("got %d %v", code, m)
	}
}

func TestFaultErrorBody(t *testing.T) {
	ct, body := FaultErrorBody(503, "")
	if ct != "application/json" || string(body) != `{"resultInfo":{"code":"MAINTENANCE_MODE","message":"PayPay is under maintenance","codeId":"08100999"},"data":null}` {
		t.Fatalf("got %s %s", ct, body)
	}
	_, body = FaultErrorBody(500, "SERVICE_ERROR")
	if !strings.Contains(string(body), `"code":"SERVICE_ERROR"`) || !strings.Contains(string(body), `"codeId":"08100026"`) {
		t.Fatalf("SERVICE_ERROR: %s", body)
	}
	_, body = FaultErrorBody(504, "")
	if !strings.Contains(string(body), `"code":"GATEWAY_TIMEOUT"`) || !strings.Contains(string(body), `"codeId":""`) {
		t.Fatalf("504: %s", body)
	}
}
