package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// faultServer is a Faults-wrapped handler on a real loopback server. The handler counts
// how often the request really ran; done receives once per request when the wrapped
// handler returns, so a test can see a hanging request end.
type faultServer struct {
	faults   *Faults
	executed atomic.Int32
	done     chan struct{}
	srv      *httptest.Server
}

func newFaultServer(t *testing.T, rules ...FaultRule) *faultServer {
	t.Helper()
	fs := &faultServer{faults: NewFaults(1), done: make(chan struct{}, 16)}
	if err := fs.faults.Set(rules); err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.executed.Add(1)
		WriteJSON(w, http.StatusOK, map[string]string{"answer": "real"})
	})
	wrapped := fs.faults.Wrap(next)
	fs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { fs.done <- struct{}{} }()
		wrapped.ServeHTTP(w, r)
	}))
	t.Cleanup(fs.srv.Close)
	return fs
}

// do sends one request on a fresh connection: a reused connection would let the
// transport silently retry a reset GET.
func (fs *faultServer) do(ctx context.Context, method, path string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, fs.srv.URL+path, strings.NewReader(`{"x":1}`))
	if err != nil {
		return nil, nil, err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, body, err
}

// always is a rule that faults every request with f.
func always(f Fault) FaultRule { return FaultRule{Probability: 1, Fault: f} }

// isDroppedConnection reports whether err is what a client sees when the server resets
// or drops the connection before answering.
func isDroppedConnection(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection reset")
}

func TestFaultLatencyThenServes(t *testing.T) {
	fs := newFaultServer(t, always(Fault{Kind: FaultLatency, Latency: 3 * time.Millisecond}))
	var slept []time.Duration
	var mu sync.Mutex
	fs.faults.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return nil
	}
	res, body, err := fs.do(context.Background(), http.MethodPost, "/v2/payments")
	if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(string(body), "real") {
		t.Fatalf("got %v %v %s", res, err, body)
	}
	if fs.executed.Load() != 1 || len(slept) != 1 || slept[0] != 3*time.Millisecond {
		t.Fatalf("executed %d, slept %v", fs.executed.Load(), slept)
	}
	if got := fs.faults.Stats()[FaultLatency]; got != 1 {
		t.Fatalf("stats latency = %d", got)
	}
}

func TestFaultLatencyRealTimer(t *testing.T) {
	fs := newFaultServer(t, always(Fault{Kind: FaultLatency, Latency: 2 * time.Millisecond}))
	start := time.Now()
	res, _, err := fs.do(context.Background(), http.MethodGet, "/v2/payments/x")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("got %v %v", res, err)
	}
	if elapsed := time.Since(start); elapsed < 2*time.Millisecond {
		t.Fatalf("answered after %v, before the latency", elapsed)
	}
}

func TestFaultLatencyClientGivesUpNothingRuns(t *testing.T) {
	fs := newFaultServer(t, always(Fault{Kind: FaultError, Status: 503, Latency: time.Hour}))
	entered := make(chan struct{})
	fs.faults.Sleep = func(ctx context.Context, d time.Duration) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-entered; cancel() }()
	if _, _, err := fs.do(ctx, http.MethodPost, "/v2/payments"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	waitDone(t, fs)
	if fs.executed.Load() != 0 {
		t.Fatal("the request ran although the client left during the latency")
	}
}

func TestFaultErrorBeforeCommit(t *testing.T) {
	fs := newFaultServer(t, always(Fault{Kind: FaultError, Status: http.StatusServiceUnavailable, Code: "DOWN"}))
	res, body, err := fs.do(context.Background(), http.MethodPost, "/v2/payments")
	if err != nil || res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %v %v", res, err)
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil || m["code"] != "DOWN" || m["status"] != float64(503) {
		t.Fatalf("body %s", body)
	}
	if fs.executed.Load() != 0 {
		t.Fatal("an error-before-commit fault ran the request")
	}
}

func TestFaultErrorExplicitBody(t *testing.T) {
	fs := newFaultServer(t, always(Fault{Kind: FaultError, Status: 502, Body: []byte("<html>bad gateway</html>")}))
	res, body, err := fs.do(context.Background(), http.MethodGet, "/")
	if err != nil || res.StatusCode != 502 || string(body) != "<html>bad gateway</html>" ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("got %v %v %s", res, err, body)
	}
}

func TestFaultReset(t *testing.T) {
	fs := newFaultServer(t, always(Fault{Kind: FaultReset}))
	_, _, err := fs.do(context.Background(), http.MethodPost, "/v2/payments")
	if err == nil || !isDroppedConnection(err) {
		t.Fatalf("err = %v, want a reset connection", err)
	}
	if fs.executed.Load() != 0 {
		t.Fatal("a reset fault ran the request")
	}
}

func TestFaultHangUntilClientTimesOut(t *testing.T) {
	fs := newFaultServer(t, always(Fault{Kind: FaultHang}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := fs.do(ctx, http.MethodPost, "/v2/payments"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the client's deadline", err)
	}
	waitDone(t, fs)
	if fs.executed.Load() != 0 {
		t.Fatal("a hang fault ran the request")
	}
}

// waitDone fails unless the server's handler returns; the bound only catches a hang
// that never ends, it does not time anything.
func waitDone(t *testing.T, fs *faultServer) {
	t.Helper()
	select {
	case <-fs.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the server goroutine is still running after the client left")
	}
}

func TestFaultCommitThenDrop(t *testing.T) {
	fs := newFaultServer(t, always(Fault{Kind: FaultCommitThenDrop}))
	_, _, err := fs.do(context.Background(), http.MethodPost, "/v2/payments")
	if err == nil || !isDroppedConnection(err) {
		t.Fatalf("err = %v, want a dropped connection", err)
	}
	if fs.executed.Load() != 1 {
		t.Fatalf("executed %d times, want once", fs.executed.Load())
	}
}

func TestFaultCommitThenError(t *testing.T) {
	fs := newFaultServer(t, always(Fault{Kind: FaultCommitThenError}))
	res, body, err := fs.do(context.Background(), http.MethodPost, "/v2/payments")
	if err != nil || res.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "real") {
		t.Fatalf("got %v %v %s", res, err, body)
	}
	if fs.executed.Load() != 1 {
		t.Fatalf("executed %d times, want once", fs.executed.Load())
	}
}

func TestFaultControlPathsNeverFaulted(t *testing.T) {
	fs := newFaultServer(t, always(Fault{Kind: FaultReset}))
	for _, path := range []string{"/_sim", "/_sim/payments", "/_sim/faults"} {
		res, _, err := fs.do(context.Background(), http.MethodGet, path)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("%s: got %v %v", path, res, err)
		}
	}
	if _, ok := fs.faults.Decide(http.MethodGet, "/_simulated"); !ok {
		t.Fatal("/_simulated is not a control path and should be faulted")
	}
	if n := fs.faults.Stats()[FaultReset]; n != 1 {
		t.Fatalf("stats reset = %d, want 1", n)
	}
}

func TestFaultRuleMatching(t *testing.T) {
	f := NewFaults(3)
	err := f.Set([]FaultRule{
		{Method: "post", PathPrefix: "/v2/payments", Probability: 1, Fault: Fault{Kind: FaultReset}},
		{Method: "*", PathPrefix: "/v2/refunds", Probability: 1, Fault: Fault{Kind: FaultError}},
		{Method: "GET", PathPrefix: "*", Probability: 0, Fault: Fault{Kind: FaultHang}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path string
		want         FaultKind
	}{
		{"POST", "/v2/payments", FaultReset},
		{"POST", "/v2/payments/capture", FaultReset},
		{"GET", "/v2/payments/x", ""},
		{"DELETE", "/v2/refunds/r", FaultError},
		{"POST", "/v2/codes", ""},
	}
	for _, tc := range cases {
		got, ok := f.Decide(tc.method, tc.path)
		if ok != (tc.want != "") || got.Kind != tc.want {
			t.Errorf("%s %s: got %v %v, want %q", tc.method, tc.path, got.Kind, ok, tc.want)
		}
	}
	if rules := f.Rules(); rules[0].Method != "POST" || rules[2].Method != "GET" || rules[2].PathPrefix != "" || rules[1].Fault.Status != 500 {
		t.Fatalf("rules not normalized: %+v", rules)
	}
}

func TestFaultCountLimits(t *testing.T) {
	f := NewFaults(1)
	if err := f.Set([]FaultRule{
		{Probability: 1, Count: 3, Fault: Fault{Kind: FaultReset}},
		{Probability: 1, Count: 2, Fault: Fault{Kind: FaultError, Status: 429}},
	}); err != nil {
		t.Fatal(err)
	}
	var got []FaultKind
	for range 7 {
		fault, _ := f.Decide(http.MethodGet, "/x")
		got = append(got, fault.Kind)
	}
	want := []FaultKind{FaultReset, FaultReset, FaultReset, FaultError, FaultError, "", ""}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("faults %v, want %v", got, want)
	}
	if st := f.State(); !reflect.DeepEqual(st.Applied, []int{3, 2}) || st.Stats[FaultReset] != 3 || st.Stats[FaultError] != 2 {
		t.Fatalf("state %+v", st)
	}
	f.Clear()
	if len(f.Rules()) != 0 || len(f.Stats()) != 0 {
		t.Fatal("Clear left rules or counters")
	}
}

// mixedRules fault a fraction of several kinds of request.
var mixedRules = []FaultRule{
	{Method: "POST", PathPrefix: "/v2/payments", Probability: 0.1, Fault: Fault{Kind: FaultCommitThenDrop}},
	{Method: "POST", PathPrefix: "/v2/payments", Probability: 0.2, Fault: Fault{Kind: FaultError, Status: 503}},
	{PathPrefix: "/v2/refunds", Probability: 0.3, Fault: Fault{Kind: FaultReset}, Count: 40},
	{Method: "GET", Probability: 0.5, Fault: Fault{Kind: FaultLatency, Latency: time.Millisecond}},
}

// decisions runs 1000 requests' decisions on a fresh engine seeded with seed.
func decisions(t *testing.T, seed int64) []FaultKind {
	t.Helper()
	f := NewFaults(seed)
	if err := f.Set(mixedRules); err != nil {
		t.Fatal(err)
	}
	requests := [][2]string{{"POST", "/v2/payments"}, {"GET", "/v2/payments/a"}, {"POST", "/v2/refunds"}, {"DELETE", "/v2/codes/c"}}
	out := make([]FaultKind, 1000)
	for i := range out {
		rq := requests[i%len(requests)]
		fault, _ := f.Decide(rq[0], rq[1])
		out[i] = fault.Kind
	}
	return out
}

func TestFaultsDeterministicBySeed(t *testing.T) {
	a, b := decisions(t, 42), decisions(t, 42)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different fault sequences")
	}
	if reflect.DeepEqual(a, decisions(t, 43)) {
		t.Fatal("another seed gave the same 1000 decisions")
	}
	counts := map[FaultKind]int{}
	for _, k := range a {
		counts[k]++
	}
	// Every kind of rule fired, and none on every request: the probabilities are used.
	for _, k := range []FaultKind{FaultCommitThenDrop, FaultError, FaultReset, FaultLatency, ""} {
		if counts[k] == 0 {
			t.Errorf("no %q in 1000 decisions: %v", k, counts)
		}
	}
	if counts[FaultReset] > 40 {
		t.Errorf("reset fired %d times past its count of 40", counts[FaultReset])
	}
}

func TestFaultsConcurrentUse(t *testing.T) {
	f := NewFaults(9)
	if err := f.Set(mixedRules); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var faulted atomic.Int32
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, ok := f.Decide("POST", "/v2/payments"); ok {
					faulted.Add(1)
				}
				if g == 0 {
					_ = f.State()
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range f.Stats() {
		total += n
	}
	if total != int(faulted.Load()) {
		t.Fatalf("stats total %d, faults decided %d", total, faulted.Load())
	}
}

func TestFaultRuleValidation(t *testing.T) {
	bad := []FaultRule{
		{Probability: 1.5, Fault: Fault{Kind: FaultReset}},
		{Probability: -0.1, Fault: Fault{Kind: FaultReset}},
		{Probability: 1, Fault: Fault{Kind: "explode"}},
		{Probability: 1, Fault: Fault{Kind: FaultLatency}},
		{Probability: 1, Fault: Fault{Kind: FaultError, Status: 200}},
		{Probability: 1, Fault: Fault{Kind: FaultReset}, Count: -1},
		{Probability: 1, PathPrefix: "v2/payments", Fault: Fault{Kind: FaultReset}},
	}
	f := NewFaults(1)
	if err := f.Set([]FaultRule{always(Fault{Kind: FaultHang})}); err != nil {
		t.Fatal(err)
	}
	for _, r := range bad {
		if err := f.Set([]FaultRule{r}); err == nil {
			t.Errorf("Set accepted %+v", r)
		}
	}
	if rules := f.Rules(); len(rules) != 1 || rules[0].Fault.Kind != FaultHang {
		t.Fatalf("a refused Set changed the rules: %+v", rules)
	}
}

func TestParseFaultFlag(t *testing.T) {
	got, err := ParseFaultFlag("POST /v2/payments 0.1 commit_then_drop; * /v2/refunds 0.05 error:500 ;" +
		" get * 1 latency:200ms count=3;; * * 0.5 error:500:TRANSACTION_FAILED latency=1s; * /x 1 commit_then_error; * /y 1 error")
	if err != nil {
		t.Fatal(err)
	}
	want := []FaultRule{
		{Method: "POST", PathPrefix: "/v2/payments", Probability: 0.1, Fault: Fault{Kind: FaultCommitThenDrop}},
		{PathPrefix: "/v2/refunds", Probability: 0.05, Fault: Fault{Kind: FaultError, Status: 500}},
		{Method: "GET", Probability: 1, Count: 3, Fault: Fault{Kind: FaultLatency, Latency: 200 * time.Millisecond}},
		{Probability: 0.5, Fault: Fault{Kind: FaultError, Status: 500, Code: "TRANSACTION_FAILED", Latency: time.Second}},
		{PathPrefix: "/x", Probability: 1, Fault: Fault{Kind: FaultCommitThenError, Status: 500}},
		{PathPrefix: "/y", Probability: 1, Fault: Fault{Kind: FaultError, Status: 500}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if rules, err := ParseFaultFlag("  "); err != nil || len(rules) != 0 {
		t.Fatalf("blank flag: %v %v", rules, err)
	}
	for _, bad := range []string{
		"POST /v2/payments 0.1", "POST /v2/payments x reset", "POST /v2/payments 2 reset",
		"* * 1 explode", "* * 1 latency:soon", "* * 1 error:abc", "* * 1 error:200", "* * 1 reset:now",
		"* * 1 reset count=x", "* * 1 reset colour=red", "* * 1 reset count", "* v2 1 reset",
	} {
		if _, err := ParseFaultFlag(bad); err == nil {
			t.Errorf("ParseFaultFlag(%q) accepted", bad)
		}
	}
}

func TestFaultJSONRoundTrip(t *testing.T) {
	rules := []FaultRule{
		{Method: "POST", PathPrefix: "/v2/payments", Probability: 0.25, Count: 2,
			Fault: Fault{Kind: FaultError, Status: 503, Code: "MAINTENANCE_MODE", Latency: 1500 * time.Millisecond, Body: []byte(`{"x":1}`)}},
		{Probability: 0, Fault: Fault{Kind: FaultHang}},
	}
	raw, err := json.Marshal(rules)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"latency":"1.5s"`) || !strings.Contains(string(raw), `"probability":0,`) {
		t.Fatalf("wire form %s", raw)
	}
	var back []FaultRule
	if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(back, rules) {
		t.Fatalf("round trip: %v\n%+v", err, back)
	}
	var r FaultRule
	if err := json.Unmarshal([]byte(`{"fault":{"kind":"reset"}}`), &r); err != nil || r.Probability != 1 {
		t.Fatalf("absent probability: %+v %v", r, err)
	}
	if err := json.Unmarshal([]byte(`{"fault":{"kind":"latency","latency":"soon"}}`), &r); err == nil {
		t.Fatal("bad latency accepted")
	}
}

func TestFaultControlHandler(t *testing.T) {
	f := NewFaults(1)
	srv := httptest.NewServer(f.ControlHandler())
	defer srv.Close()
	send := func(method, body string) (int, FaultState) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL, strings.NewReader(body))
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var st FaultState
		if res.StatusCode == http.StatusOK {
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatalf("%s: %s", method, raw)
			}
		} else if !bytes.Contains(raw, []byte(`"error"`)) {
			t.Fatalf("%s: error answer %s", method, raw)
		}
		return res.StatusCode, st
	}

	put := `{"seed":42,"rules":[{"method":"POST","path_prefix":"/v2/payments","probability":0.1,"fault":{"kind":"commit_then_drop"}},` +
		`{"path_prefix":"/v2/refunds","probability":0.5,"count":40,"fault":{"kind":"reset"}}]}`
	code, st := send(http.MethodPut, put)
	if code != http.StatusOK || st.Seed != 42 || len(st.Rules) != 2 || st.Rules[0].Fault.Kind != FaultCommitThenDrop || st.Rules[1].Count != 40 {
		t.Fatalf("PUT: %d %+v", code, st)
	}

	// The seed restarts the sequence: the engine now decides like a fresh one seeded 42.
	fresh := NewFaults(42)
	if err := fresh.Set(st.Rules); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		path := []string{"/v2/payments", "/v2/refunds"}[i%2]
		a, okA := f.Decide("POST", path)
		b, okB := fresh.Decide("POST", path)
		if okA != okB || a.Kind != b.Kind {
			t.Fatalf("decision %d differs from a fresh engine with the PUT seed", i)
		}
	}

	code, st = send(http.MethodGet, "")
	if code != http.StatusOK || len(st.Rules) != 2 || st.Applied[0]+st.Applied[1] == 0 ||
		st.Stats[FaultCommitThenDrop] != st.Applied[0] || st.Stats[FaultReset] != st.Applied[1] {
		t.Fatalf("GET: %d %+v", code, st)
	}

	for _, bad := range []string{`{"rules":[{"fault":{"kind":"explode"}}]}`, `{"rules":`, `{"rules":[{"probability":3,"fault":{"kind":"reset"}}]}`} {
		if code, _ := send(http.MethodPut, bad); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d, want 400", bad, code)
		}
	}
	if len(f.Rules()) != 2 {
		t.Fatal("a refused PUT changed the rules")
	}
	if code, _ := send(http.MethodPost, "{}"); code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d, want 405", code)
	}
	code, st = send(http.MethodDelete, "")
	if code != http.StatusOK || len(st.Rules) != 0 || len(st.Stats) != 0 {
		t.Fatalf("DELETE: %d %+v", code, st)
	}
}

func ExampleParseFaultFlag() {
	rules, _ := ParseFaultFlag("POST /v2/payments 0.1 commit_then_drop; * /v2/refunds 0.05 error:503 count=2")
	for _, r := range rules {
		fmt.Printf("%q %s %.2f %s %d %d\n", r.Method, r.PathPrefix, r.Probability, r.Fault.Kind, r.Fault.Status, r.Count)
	}
	// Output:
	// "POST" /v2/payments 0.10 commit_then_drop 0 0
	// "" /v2/refunds 0.05 error 503 2
}
