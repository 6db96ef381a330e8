package linepay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"payhub/mocks/sim"
)

// faultHarness serves a simulator with a fault engine on a real loopback server.
type faultHarness struct {
	*harness
	faults *sim.Faults
	srv    *httptest.Server
}

func newFaultHarness(t *testing.T, rules ...sim.FaultRule) *faultHarness {
	t.Helper()
	faults := sim.NewFaults(7)
	if err := faults.Set(rules); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.Faults = faults })
	srv := httptest.NewServer(h.sim)
	t.Cleanup(srv.Close)
	return &faultHarness{harness: h, faults: faults, srv: srv}
}

// send posts a signed request over a fresh connection (no transport retries).
func (f *faultHarness) send(ctx context.Context, path string, body any) (*http.Response, []byte, error) {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.srv.URL+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	f.sign(req, path, string(raw))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

func rule(prefix string, f sim.Fault) sim.FaultRule {
	return sim.FaultRule{Method: http.MethodPost, PathPrefix: prefix, Probability: 1, Fault: f, Count: 1}
}

func TestFaultErrorIsLINEEnvelopeNothingCommitted(t *testing.T) {
	f := newFaultHarness(t, rule("/v4/payments/oneTimeKeys/pay", sim.Fault{Kind: sim.FaultError, Status: 503}))
	res, body, err := f.send(context.Background(), "/v4/payments/oneTimeKeys/pay", payBody("fe-1", OneTimeKeyOK, 100, true))
	if err != nil || res.StatusCode != 503 || !strings.Contains(string(body), `"returnCode":"9000"`) || strings.Contains(string(body), `"info"`) {
		t.Fatalf("got %v %v %s", res, err, body)
	}
	if _, ok := f.sim.Payment("fe-1"); ok {
		t.Fatal("an error-before-commit fault committed the payment")
	}
	// the rule fired once: the retry goes through
	res, body, err = f.send(context.Background(), "/v4/payments/oneTimeKeys/pay", payBody("fe-1", OneTimeKeyOK, 100, true))
	if err != nil || res.StatusCode != 200 || !strings.Contains(string(body), `"returnCode":"0000"`) {
		t.Fatalf("retry: %v %v %s", res, err, body)
	}
}

func TestFaultCommitThenDropCharges(t *testing.T) {
	f := newFaultHarness(t, rule("/v4/payments/oneTimeKeys/pay", sim.Fault{Kind: sim.FaultCommitThenDrop}))
	_, _, err := f.send(context.Background(), "/v4/payments/oneTimeKeys/pay", payBody("cd-1", OneTimeKeyOK, 100, true))
	if err == nil {
		t.Fatal("commit_then_drop answered")
	}
	if lp, ok := f.sim.Payment("cd-1"); !ok || lp.Status != StatusCaptured {
		t.Fatalf("ledger %+v %v: the payment should be charged", lp, ok)
	}
	f.expect(f.get("/v4/payments/orders/cd-1/check"), codeSuccess)
	if f.faults.Stats()[sim.FaultCommitThenDrop] != 1 {
		t.Fatalf("stats %v", f.faults.Stats())
	}
}

func TestFaultCommitThenErrorCode(t *testing.T) {
	f := newFaultHarness(t, rule("/v3/payments/request", sim.Fault{Kind: sim.FaultCommitThenError, Status: 500, Code: "1198"}))
	res, body, err := f.send(context.Background(), "/v3/payments/request", requestBody("ce-1", 100, true))
	if err != nil || res.StatusCode != 500 || !strings.Contains(string(body), `"returnCode":"1198"`) {
		t.Fatalf("got %v %v %s", res, err, body)
	}
	if lp, ok := f.sim.Payment("ce-1"); !ok || lp.Status != StatusReserved {
		t.Fatalf("ledger %+v %v", lp, ok)
	}
}

func TestFaultResetAndHangCommitNothing(t *testing.T) {
	f := newFaultHarness(t,
		rule("/v3/payments/request", sim.Fault{Kind: sim.FaultReset}),
		rule("/v4/payments/oneTimeKeys/pay", sim.Fault{Kind: sim.FaultHang}))
	if _, _, err := f.send(context.Background(), "/v3/payments/request", requestBody("rs-1", 100, true)); err == nil {
		t.Fatal("reset answered")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := f.send(ctx, "/v4/payments/oneTimeKeys/pay", payBody("hg-1", OneTimeKeyOK, 100, true)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: %v", err)
	}
	if n := len(f.sim.Ledger()); n != 0 {
		t.Fatalf("%d payments after reset and hang", n)
	}
}

func TestFaultLatencyThenServes(t *testing.T) {
	f := newFaultHarness(t, rule("/v3", sim.Fault{Kind: sim.FaultLatency, Latency: time.Hour}))
	var slept time.Duration
	f.faults.Sleep = func(_ context.Context, d time.Duration) error { slept = d; return nil }
	res, body, err := f.send(context.Background(), "/v3/payments/request", requestBody("lt-1", 100, true))
	if err != nil || res.StatusCode != 200 || !strings.Contains(string(body), `"returnCode":"0000"`) || slept != time.Hour {
		t.Fatalf("got %v %v %s slept %v", res, err, body, slept)
	}
}

func TestFaultControlEndpoint(t *testing.T) {
	f := newFaultHarness(t, sim.FaultRule{Probability: 1, Fault: sim.Fault{Kind: sim.FaultReset}})
	res, err := http.Get(f.srv.URL + "/_sim/faults")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /_sim/faults: %v %v", res, err)
	}
	res.Body.Close()
	res, err = http.Get(f.srv.URL + "/_sim/payments") // control paths are never faulted
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /_sim/payments: %v %v", res, err)
	}
	res.Body.Close()

	h := newHarness(t)
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_sim/faults", nil))
	if rec.Code != 404 {
		t.Fatalf("/_sim/faults without an engine: %d", rec.Code)
	}
}

func TestFaultErrorBody(t *testing.T) {
	for code, want := range map[string]string{"": "9000", "1199": "1199", "x": "9000"} {
		ct, body := FaultErrorBody(500, code)
		var env envelope
		if ct != "application/json" || json.Unmarshal(body, &env) != nil || env.ReturnCode != want || env.Info != nil {
			t.Fatalf("%q: %s %s", code, ct, body)
		}
	}
}
