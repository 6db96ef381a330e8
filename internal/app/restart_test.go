package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/secrets"
	"payhub/internal/store"
	"payhub/internal/store/storetest"
	linepaysim "payhub/mocks/linepay"
	paypaysim "payhub/mocks/paypay"
	simcore "payhub/mocks/sim"
)

// These tests run `payhub serve` as a process, as production does, and crash, stop and
// starve it: a SIGKILL in the middle of a till's request, a database that is not there at
// start, a SIGTERM while the background jobs work.

// processEnv is the partners (simulated in this process, on one fault engine), a database
// and a registered till, for serve processes to run against.
type processEnv struct {
	t       *testing.T
	bin     string
	dir     string
	dbURL   string
	faults  *simcore.Faults
	paypay  *paypaysim.Simulator
	linepay *linepaysim.Simulator
	env     []string
	till    storeClient
}

func newProcessEnv(t *testing.T, dbURL string, lp linepaysim.Config) *processEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("starts payhub processes; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "payhub")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/payhub").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	faults := simcore.NewFaults(1)
	pp := paypaysim.New(paypaysim.Config{APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant,
		Faults: faults, Clock: simcore.SystemClock{}})
	ppSrv := httptest.NewServer(pp)
	t.Cleanup(ppSrv.Close)
	lp.ChannelID, lp.ChannelSecret, lp.Faults, lp.Clock = testLinePayChannel, testLinePaySecret, faults, simcore.SystemClock{}
	lpSim := linepaysim.New(lp)
	lpSrv := httptest.NewServer(lpSim)
	t.Cleanup(lpSrv.Close)
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(dir, "payhub.db")
	}
	e := &processEnv{t: t, bin: bin, dir: dir, dbURL: dbURL, faults: faults, paypay: pp, linepay: lpSim,
		env: []string{"PAYHUB_SECRET_KEYS=" + base64.StdEncoding.EncodeToString(secrets.NewKey()), "PAYHUB_AUDIT_KEY=" + base64.StdEncoding.EncodeToString(secrets.NewKey()),
			"PAYHUB_PAYPAY_BASE_URL=" + ppSrv.URL, "PAYHUB_PAYPAY_API_KEY=" + testPayPayKey,
			"PAYHUB_PAYPAY_API_SECRET=" + testPayPaySecret, "PAYHUB_PAYPAY_MERCHANT_ID=" + testPayPayMerchant,
			"PAYHUB_LINEPAY_BASE_URL=" + lpSrv.URL, "PAYHUB_LINEPAY_CHANNEL_ID=" + testLinePayChannel,
			"PAYHUB_LINEPAY_CHANNEL_SECRET=" + testLinePaySecret, "PAYHUB_LINEPAY_CURRENCY=TWD"}}
	return e
}

// registerTill registers the till's client in the database (migrating it first).
func (e *processEnv) registerTill() {
	e.t.Helper()
	st, err := store.Open(context.Background(), e.dbURL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		e.t.Fatal(err)
	}
	pub, _ := auth.MarshalPublicKeyPEM(key.Public())
	now := time.Now().UTC()
	if err := st.CreateStoreClient(context.Background(), contracts.StoreClient{ID: "till-client", Name: "till", Stores: []string{"store-1"},
		Keys:      []contracts.ClientKey{{KID: "till-key-1", ClientID: "till-client", Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pub, CreatedAt: now}},
		CreatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
	e.till = storeClient{key: key, kid: "till-key-1", clientID: "till-client", store: "store-1"}
}

// serveProcess is one `payhub serve`.
type serveProcess struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	log    string
	exited chan struct{}
	err    error
}

// startServe starts serve on a free port with the given extra flags; it does not wait for
// it to be ready.
func (e *processEnv) startServe(name string, db string, flags ...string) *serveProcess {
	e.t.Helper()
	addr := freeAddr(e.t)
	logPath := filepath.Join(e.dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(e.bin, append([]string{"serve", "--addr", addr, "--db", db, "--metrics-addr", freeAddr(e.t)}, flags...)...)
	cmd.Env = append(os.Environ(), e.env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	p := &serveProcess{t: e.t, cmd: cmd, url: "http://" + addr, log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	e.t.Cleanup(func() { p.kill() })
	return p
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (p *serveProcess) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// status is the HTTP status of GET path, or 0 when serve does not answer.
func (p *serveProcess) status(path string) int {
	resp, err := http.Get(p.url + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// post sends a till request.
func (e *processEnv) post(base, path, key string, body any, timeout time.Duration) (int, map[string]any, error) {
	tok, err := auth.Mint(auth.TokenRequest{Key: e.till.key, KeyID: e.till.kid, ClientID: e.till.clientID, StoreID: e.till.store,
		IssuedAt: time.Now(), TTL: 2 * time.Minute})
	if err != nil {
		return 0, nil, err
	}
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Idempotency-Key", key)
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("body %q: %w", b, err)
	}
	return resp.StatusCode, m, nil
}

// A till's payment request is cut by a SIGKILL of serve while the partner call is in
// flight. The till retries with the same key against the restarted serve, with production
// timings: it gets its payment within 10 s of the kill — settled, or unknown with its
// resolution while the partner's rule still needs time — and never 409.
func TestRetryAfterASIGKILLIsAnsweredWithinTenSeconds(t *testing.T) {
	cases := map[string]struct {
		body func(e *processEnv) map[string]any
		// slow makes the partner call outlast the kill.
		slow func(e *processEnv)
		want []string
	}{
		// LINE Pay's slow My Code: LINE finishes the payment whether or not payhub still
		// waits, so by the takeover it is settled.
		"LINE Pay lands after the kill": {
			body: func(*processEnv) map[string]any {
				return map[string]any{"amount": 30000, "currency": "TWD", "method": "linepay", "flow": "barcode", "barcode": linepaysim.OneTimeKeySlow}
			},
			want: []string{"succeeded"},
		},
		// PayPay held up: the call dies with serve and PayPay never gets it; the retry gets
		// unknown ("do not charge again") while PayPay's not-found rule runs.
		"PayPay never got it": {
			body: func(*processEnv) map[string]any { return barcodePayment(1200, barcodeOK) },
			slow: func(e *processEnv) {
				if err := e.faults.Set([]simcore.FaultRule{{Method: "POST", PathPrefix: "/v2/payments", Probability: 1, Count: 1,
					Fault: simcore.Fault{Kind: simcore.FaultLatency, Latency: 3 * time.Second}}}); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"unknown", "succeeded"},
		},
	}
	for name, c := range cases {
		for _, db := range []string{"sqlite", "postgres"} {
			t.Run(name+"/"+db, func(t *testing.T) {
				dbURL := ""
				if db == "postgres" {
					dbURL = storetest.PostgresSchemaURL(t)
				}
				e := newProcessEnv(t, dbURL, linepaysim.Config{SlowPayDelay: 2 * time.Second})
				e.registerTill()
				if c.slow != nil {
					c.slow(e)
				}
				first := e.startServe("serve-1", e.dbURL)
				waitFor(t, 30*time.Second, "serve ready", func() bool { return first.status("/readyz") == http.StatusOK })
				key := fmt.Sprintf("till-%d", time.Now().UnixNano())
				body := c.body(e)
				firstAnswer := make(chan string, 1)
				go func() {
					status, body, err := e.post(first.url, "/v1/payments", key, body, time.Minute)
					firstAnswer <- fmt.Sprint(status, body, err)
				}()
				st := openStore(t, e.dbURL)
				waitFor(t, 10*time.Second, "the partner call in flight", func() bool {
					select {
					case a := <-firstAnswer:
						t.Fatalf("the first request was answered before the kill: %s", a)
					default:
					}
					ps, _ := st.ListPaymentsByStatus(context.Background(), contracts.StatusProcessing, 0)
					return len(ps) == 1
				})
				first.kill()
				killed := time.Now()
				second := e.startServe("serve-2", e.dbURL)
				var status int
				var got map[string]any
				for {
					var err error
					status, got, err = e.post(second.url, "/v1/payments", key, body, 30*time.Second)
					if err == nil && status != http.StatusServiceUnavailable {
						break
					}
					if time.Since(killed) > 20*time.Second {
						t.Fatalf("no answer 20 s after the kill: %d %v %v", status, got, err)
					}
					time.Sleep(50 * time.Millisecond) // serve-2 starting: the till retries
				}
				took := time.Since(killed)
				t.Logf("%s: retry answered %d %v %s after the kill", name, status, got["status"], took.Round(time.Millisecond))
				if status != http.StatusCreated || !contains(c.want, fmt.Sprint(got["status"])) {
					t.Fatalf("retry: %d %v; want 201 %v", status, got, c.want)
				}
				if got["status"] == "unknown" && got["resolution"] == nil {
					t.Fatalf("unknown without its resolution: %v", got)
				}
				if took > 10*time.Second {
					t.Fatalf("answered %s after the kill; want within 10 s", took)
				}
			})
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func openStore(t *testing.T, dbURL string) contracts.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// dbGate is a TCP proxy in front of PostgreSQL that refuses connections until opened: the
// database is down, then back.
type dbGate struct {
	ln     net.Listener
	target string
	open   atomic.Bool
	wg     sync.WaitGroup
}

func newDBGate(t *testing.T, target string) *dbGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &dbGate{ln: ln, target: target}
	g.wg.Go(g.accept)
	t.Cleanup(func() { ln.Close(); g.wg.Wait() })
	return g
}

func (g *dbGate) accept() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		if !g.open.Load() {
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close() // connection reset: the server is not there
			continue
		}
		g.wg.Go(func() { g.pipe(c) })
	}
}

func (g *dbGate) pipe(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", g.target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// serve started while PostgreSQL refuses connections stays up, reports not ready (and
// answers the API 503 service_unavailable), and serves once the database is back.
func TestServeWaitsForTheDatabase(t *testing.T) {
	dbURL := storetest.PostgresSchemaURL(t)
	e := newProcessEnv(t, dbURL, linepaysim.Config{})
	e.registerTill()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	gate := newDBGate(t, u.Host)
	u.Host = gate.ln.Addr().String()
	p := e.startServe("serve", u.String())
	waitFor(t, 30*time.Second, "healthz while the database is down", func() bool { return p.status("/healthz") == http.StatusOK })
	for range 10 {
		if s := p.status("/readyz"); s != http.StatusServiceUnavailable {
			t.Fatalf("readyz %d while the database is down", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	status, body, err := e.post(p.url, "/v1/payments", "k-down", barcodePayment(500, barcodeOK), 5*time.Second)
	if err != nil || status != http.StatusServiceUnavailable || body["code"] != "service_unavailable" {
		t.Fatalf("payment while the database is down: %d %v %v", status, body, err)
	}
	select {
	case <-p.exited:
		t.Fatalf("serve exited while the database was down: %v", p.err)
	default:
	}
	gate.open.Store(true)
	waitFor(t, 30*time.Second, "ready once the database is back", func() bool { return p.status("/readyz") == http.StatusOK })
	status, body, err = e.post(p.url, "/v1/payments", "k-up", barcodePayment(500, barcodeOK), 10*time.Second)
	if err != nil || status != http.StatusCreated || body["status"] != "succeeded" {
		t.Fatalf("payment once the database is back: %d %v %v", status, body, err)
	}
	logs, _ := os.ReadFile(p.log)
	if !strings.Contains(string(logs), "database unreachable") {
		t.Errorf("the log does not say why serve is not ready:\n%s", logs)
	}
}

// SIGTERM while the background jobs are busy (a QR payment polled, unknown payments being
// resolved, slow partner answers): serve drains, the jobs finish what they began and only
// then does the database close. The log holds no error.
func TestSIGTERMStopsTheWorkersBeforeTheDatabase(t *testing.T) {
	e := newProcessEnv(t, "", linepaysim.Config{})
	e.registerTill()
	p := e.startServe("serve", e.dbURL, "--poll-interval", "20ms", "--resolve-interval", "20ms", "--deliver-interval", "20ms",
		"--resolver-first-backoff", "1ms", "--resolver-max-backoff", "1ms", "--resolver-stuck-after", "1s")
	waitFor(t, 30*time.Second, "serve ready", func() bool { return p.status("/readyz") == http.StatusOK })
	// Unknown payments (the answer lost, then every query slow and failing) keep the
	// resolver busy; QR payments keep the poller busy.
	for i := range 3 {
		status, body, err := e.post(p.url, "/v1/payments", fmt.Sprintf("k-qr-%d", i),
			map[string]any{"amount": 300 + i, "currency": "JPY", "method": "paypay", "flow": "qr"}, 10*time.Second)
		if err != nil || status != http.StatusCreated {
			t.Fatalf("QR payment: %d %v %v", status, body, err)
		}
	}
	if err := e.faults.Set([]simcore.FaultRule{
		{Method: "POST", PathPrefix: "/v2/payments", Probability: 1, Count: 3, Fault: simcore.Fault{Kind: simcore.FaultCommitThenDrop}},
		{Method: "GET", PathPrefix: "/v2/", Probability: 1, Fault: simcore.Fault{Kind: simcore.FaultError, Status: 500, Latency: 300 * time.Millisecond}},
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // fewer than would open PayPay's circuit breaker
		status, body, err := e.post(p.url, "/v1/payments", fmt.Sprintf("k-unknown-%d", i), barcodePayment(100+i, barcodeOK), 10*time.Second)
		if err != nil || status != http.StatusCreated || body["status"] != "unknown" {
			t.Fatalf("unknown payment: %d %v %v", status, body, err)
		}
	}
	time.Sleep(500 * time.Millisecond) // let the jobs get into their slow partner calls
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60 s of SIGTERM")
	}
	logs, _ := os.ReadFile(p.log)
	var exitErr *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exitErr) {
		t.Fatalf("serve: %v", p.err)
	}
	if p.err != nil {
		t.Errorf("serve exited with %v after SIGTERM:\n%s", p.err, logs)
	}
	for _, line := range strings.Split(string(logs), "\n") {
		if strings.Contains(line, "database is closed") || strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("log line after SIGTERM: %s", line)
		}
	}
	// The orderly path ran to its end: the jobs stopped in time and the instance recorded
	// its stop before the database closed.
	st := openStore(t, e.dbURL)
	var instance string
	for _, line := range strings.Split(string(logs), "\n") {
		var l struct {
			Msg, Instance string
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "payhub ready" {
			instance = l.Instance
		}
	}
	if in, err := st.GetInstance(context.Background(), instance); err != nil || in.StoppedAt == nil {
		t.Errorf("instance %q after SIGTERM: %+v, %v; want its stop recorded", instance, in, err)
	}
}
