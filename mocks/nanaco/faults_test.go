package nanaco

import (
	"bytes"
	"context"
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

func newFaultHarness(t *testing.T, mutate ...func(*Config)) *faultHarness {
	t.Helper()
	faults := sim.NewFaults(7)
	h := newHarness(t, append([]func(*Config){func(c *Config) { c.Faults = faults }}, mutate...)...)
	srv := httptest.NewServer(h.sim)
	t.Cleanup(srv.Close)
	return &faultHarness{harness: h, faults: faults, srv: srv}
}

// send posts a signed request over a fresh connection; header adds request headers.
func (f *faultHarness) send(path string, body string, header ...string) (response, error) {
	f.t.Helper()
	rt := f.roundTrip(path, body, header...)
	if rt.err != nil {
		return response{}, rt.err
	}
	return f.decode(rt.req, rt.status, rt.header, rt.raw), nil
}

// roundTrip is one exchange, undecoded (safe off the test goroutine).
type roundTrip struct {
	req    *http.Request
	status int
	header http.Header
	raw    []byte
	err    error
}

func (f *faultHarness) roundTrip(path string, body string, header ...string) roundTrip {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	SignRequest(req, testSecret, testMerchant, testTerminal, f.nextNonce(), f.sim.Now(), []byte(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return roundTrip{req: req, err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return roundTrip{req: req, status: res.StatusCode, header: res.Header, raw: raw, err: err}
}

func (f *faultHarness) rule(prefix string, fault sim.Fault) {
	f.t.Helper()
	if err := f.faults.Set([]sim.FaultRule{{Method: http.MethodPost, PathPrefix: prefix, Probability: 1, Fault: fault, Count: 1}}); err != nil {
		f.t.Fatal(err)
	}
}

const payBody = `{"terminalSeq":1,"businessDate":"20261128","nanacoNumber":"7000000000000001","amount":700}`

func TestFaultCommitThenDropThenReplay(t *testing.T) {
	f := newFaultHarness(t)
	f.rule("/ncs/v1/payments", sim.Fault{Kind: sim.FaultCommitThenDrop})
	if _, err := f.send("/ncs/v1/payments", payBody); err == nil {
		t.Fatal("commit_then_drop answered")
	}
	if l := f.sim.Ledger(); len(l) != 1 || l[0].Amount != 700 {
		t.Fatalf("ledger %+v: the payment should be committed", l)
	}
	// The identical request again: the original answer, replayed.
	r, err := f.send("/ncs/v1/payments", payBody)
	if err != nil || r.status != 200 || r.header.Get(HeaderReplayed) != "true" || r.str("centerTxnId") != "NC000000000000000001" {
		t.Fatalf("re-send: %v %s", err, r)
	}
	f.balances(FixtureActive, 9300, 0)
}

func TestFaultMaintenanceAndErrors(t *testing.T) {
	f := newFaultHarness(t)
	f.rule("/ncs/v1/", sim.Fault{Kind: sim.FaultError, Status: 503})
	r, err := f.send("/ncs/v1/payments", payBody)
	if err != nil || r.status != 503 || r.code() != CodeCenterMaintenance || r.get("error.retryable") != true ||
		r.str("error.outcome") != OutcomeNotProcessed || r.header.Get("Retry-After") == "" || r.header.Get(HeaderSignature) == "" {
		t.Fatalf("%v %s %v", err, r, r.header)
	}
	if len(f.sim.Ledger()) != 0 {
		t.Fatal("an error fault committed")
	}

	f.rule("/ncs/v1/", sim.Fault{Kind: sim.FaultCommitThenError, Status: 500})
	r, err = f.send("/ncs/v1/payments", payBody)
	if err != nil || r.status != 500 || r.code() != CodeInternal || r.str("error.outcome") != OutcomeUnknown {
		t.Fatalf("%v %s", err, r)
	}
	if len(f.sim.Ledger()) != 1 {
		t.Fatal("commit_then_error did not commit")
	}

	f.rule("/ncs/v1/", sim.Fault{Kind: sim.FaultError, Status: 502})
	r, err = f.send("/ncs/v1/payments", payBody)
	if err != nil || r.status != 502 || r.header.Get(HeaderSignature) != "" || r.str("error.outcome") != OutcomeUnknown {
		t.Fatalf("a gateway's 502 is not signed: %v %s %v", err, r, r.header)
	}

	f.rule("/ncs/v1/", sim.Fault{Kind: sim.FaultReset})
	if _, err := f.send("/ncs/v1/payments", `{"terminalSeq":2,"businessDate":"20261128","nanacoNumber":"7000000000000001","amount":1}`); err == nil {
		t.Fatal("reset answered")
	}
	if len(f.sim.Ledger()) != 1 {
		t.Fatal("a reset committed")
	}
}

// A request held on the wire is fenced by an inquiry made meanwhile: when it arrives it is
// refused with SEQ_FENCED and nothing happens (docs/partners/nanaco.md §B5, §B6).
func TestLateRequestAfterInquiryIsFenced(t *testing.T) {
	f := newFaultHarness(t)
	entered, release := make(chan struct{}), make(chan struct{})
	f.faults.Sleep = func(ctx context.Context, d time.Duration) error {
		close(entered)
		<-release
		return nil
	}
	f.rule("/ncs/v1/payments", sim.Fault{Kind: sim.FaultLatency, Latency: time.Hour})
	done := make(chan roundTrip, 1)
	go func() { done <- f.roundTrip("/ncs/v1/payments", payBody) }()
	<-entered
	q := f.ok(f.post("/ncs/v1/transactions/inquiry", `{"businessDate":"20261128","terminalSeq":1}`))
	if q.get("found") != false {
		t.Fatalf("inquiry %s", q)
	}
	close(release)
	rt := <-done
	if rt.err != nil {
		t.Fatal(rt.err)
	}
	if r := f.decode(rt.req, rt.status, rt.header, rt.raw); r.status != 409 || r.code() != CodeSeqFenced {
		t.Fatalf("late request: %s", r)
	}
	f.balances(FixtureActive, 10000, 0)
}

func TestFaultHeader(t *testing.T) {
	t.Run("ignored unless allowed", func(t *testing.T) {
		f := newFaultHarness(t)
		r, err := f.send("/ncs/v1/payments", payBody, HeaderMockFault, "maintenance")
		if err != nil || r.status != 200 {
			t.Fatalf("%v %s", err, r)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		f := newFaultHarness(t, func(c *Config) { c.AllowFaultHeader = true })
		r, err := f.send("/ncs/v1/payments", payBody, HeaderMockFault, "maintenance")
		if err != nil || r.status != 503 || r.code() != CodeCenterMaintenance {
			t.Fatalf("%v %s", err, r)
		}
		r, err = f.send("/ncs/v1/payments", payBody, HeaderMockFault, "error:429")
		if err != nil || r.status != 429 || r.code() != CodeRateLimited || r.get("error.retryable") != true || r.header.Get("Retry-After") == "" {
			t.Fatalf("%v %s", err, r)
		}
		if _, err := f.send("/ncs/v1/payments", payBody, HeaderMockFault, "commit_then_drop"); err == nil {
			t.Fatal("commit_then_drop answered")
		}
		if len(f.sim.Ledger()) != 1 {
			t.Fatal("commit_then_drop did not commit")
		}
		r, err = f.send("/ncs/v1/payments", payBody, HeaderMockFault, "explode")
		if err != nil || r.status != 400 || r.code() != CodeInvalidRequest {
			t.Fatalf("%v %s", err, r)
		}
		// The rule engine counted nothing: the header does not go through it.
		if st := f.faults.Stats(); len(st) != 0 {
			t.Fatalf("stats %v", st)
		}
	})
}

func TestFaultControlRoute(t *testing.T) {
	f := newFaultHarness(t)
	put := `{"seed":3,"rules":[{"method":"POST","path_prefix":"/ncs/v1/charges","fault":{"kind":"error","status":503}}]}`
	req, _ := http.NewRequest(http.MethodPut, f.srv.URL+"/_sim/faults", bytes.NewReader([]byte(put)))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("%v %v", err, res)
	}
	res.Body.Close()
	r, _ := f.send("/ncs/v1/charges", `{"terminalSeq":1,"businessDate":"20261128","nanacoNumber":"7000000000000001","amount":1000,"fundingSource":"CASH"}`)
	if r.status != 503 {
		t.Fatalf("got %s", r)
	}
	// Without an engine there is no /_sim/faults.
	h := newHarness(t)
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_sim/faults", nil))
	if rec.Code != 404 {
		t.Fatalf("got %d", rec.Code)
	}
}
