package httpapi_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	gmopgadapter "payhub/adapters/gmopg"
	linepayadapter "payhub/adapters/linepay"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/config"
	"payhub/internal/httpapi"
	"payhub/internal/hub"
	"payhub/internal/store/storetest"
	gmopgsim "payhub/mocks/gmopg"
	linepaysim "payhub/mocks/linepay"
	paypaysim "payhub/mocks/paypay"
	simcore "payhub/mocks/sim"
)

// Test credentials: distinctive strings so the log scan can look for them.
const (
	testPayPayKey      = "test-paypay-key-7f3a"
	testPayPaySecret   = "test-paypay-secret-c0ffee-do-not-log"
	testPayPayMerchant = "test-merchant-01"
	testLinePayChannel = "1650000077"
	testLinePaySecret  = "test-linepay-secret-5eed-do-not-log"
	testGMOShopID      = "tshop00000077"
	testGMOShopPass    = "gmo-s3cret"
)

// syncBuffer collects logs written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// storeClient is a registered test POS client with its private key.
type storeClient struct {
	key      crypto.Signer
	kid      string
	clientID string
	store    string
	pubPEM   []byte
}

// testEnv is a whole payhub wired as cmd/payhub wires it, against the PayPay simulator over
// real HTTP, with two store clients registered.
type testEnv struct {
	t      *testing.T
	app    *app.App
	url    string
	sim    *paypaysim.Simulator
	faults *simcore.Faults
	// linepay is the LINE Pay simulator (TWD channel), on the same faults and clock.
	linepay *linepaysim.Simulator
	// gmopg is the GMO-PG (cards) simulator, on the same faults and clock.
	gmopg *gmopgsim.Simulator
	logs  *syncBuffer
	// operator is the private key of operator op-alice (kid op-alice-1, role ops).
	operator crypto.Signer
	a, b     storeClient
}

// eachDatabase runs f on SQLite and, when PAYHUB_TEST_POSTGRES_URL is set, PostgreSQL.
func eachDatabase(t *testing.T, f func(t *testing.T, st contracts.Store)) {
	t.Run("sqlite", func(t *testing.T) { f(t, storetest.OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, storetest.OpenPostgres(t)) })
}

func newEnv(t *testing.T, st contracts.Store) *testEnv {
	t.Helper()
	return newEnvOnClock(t, st, nil)
}

// newEnvOnClock is newEnv with payhub and the simulator on one clock (nil: the system's).
func newEnvOnClock(t *testing.T, st contracts.Store, clk *simcore.ManualClock) *testEnv {
	t.Helper()
	return newEnvWith(t, st, clk)
}

// newEnvWith is newEnvOnClock with mods applied to the app's configuration last. The
// per-client request-rate limit is off unless a mod sets it: tests fire requests faster
// than any till, and netpolicy_test.go tests the limit itself; the bad-token throttling
// keeps its defaults.
func newEnvWith(t *testing.T, st contracts.Store, clk *simcore.ManualClock, mods ...func(*app.Config)) *testEnv {
	t.Helper()
	var appClock contracts.Clock = contracts.SystemClock{}
	var simClock simcore.Clock = simcore.SystemClock{}
	if clk != nil {
		appClock, simClock = clk, clk
	}
	if st == nil {
		st = storetest.OpenSQLite(t)
	}
	logs := &syncBuffer{}
	faults := simcore.NewFaults(1)
	sim := paypaysim.New(paypaysim.Config{APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant, Faults: faults, Clock: simClock})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	lp := linepaysim.New(linepaysim.Config{ChannelID: testLinePayChannel, ChannelSecret: testLinePaySecret, Faults: faults, Clock: simClock})
	lpSrv := httptest.NewServer(lp)
	t.Cleanup(lpSrv.Close)
	gmo := gmopgsim.New(gmopgsim.Config{ShopID: testGMOShopID, ShopPass: testGMOShopPass, Faults: faults, Clock: simClock})
	gmoSrv := httptest.NewServer(gmo)
	t.Cleanup(gmoSrv.Close)
	opKey, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	opPub, _ := auth.MarshalPublicKeyPEM(opKey.Public())
	opList, _ := json.Marshal([]auth.OperatorKey{{Operator: "op-alice", KeyID: "op-alice-1", PublicKeyPEM: string(opPub), Roles: []string{"operator", "viewer"}}})
	ops, err := auth.ParseOperatorKeys(opList)
	if err != nil {
		t.Fatal(err)
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{Store: st, PublicURL: "http://" + apiLn.Addr().String(), Logger: app.NewLogger(logs), OperatorKeys: ops, Clock: appClock, WebhookLoopback: true,
		Callbacks: hub.CallbackConfig{Allow: map[contracts.Method][]netip.Prefix{contracts.MethodPayPay: config.LoopbackOnly}},
		PayPay:    paypayadapter.Config{BaseURL: simSrv.URL, APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant},
		LinePay: &linepayadapter.Config{BaseURL: lpSrv.URL, ChannelID: testLinePayChannel, ChannelSecret: testLinePaySecret,
			Currency: contracts.TWD},
		Card:    &gmopgadapter.Config{BaseURL: gmoSrv.URL, ShopID: testGMOShopID, ShopPass: testGMOShopPass},
		Network: httpapi.NetworkPolicy{ClientRate: -1}}
	for _, m := range mods {
		m(&cfg)
	}
	a, err := app.Build(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler)
	srv.Listener.Close()
	srv.Listener = apiLn
	srv.Start()
	t.Cleanup(func() { srv.Close(); a.Close() })
	e := &testEnv{t: t, app: a, url: srv.URL, sim: sim, faults: faults, linepay: lp, gmopg: gmo, logs: logs, operator: opKey}
	e.a = e.register("pos-a", "pos-a-key-1", "store-a", contracts.AlgEdDSA)
	e.b = e.register("pos-b", "pos-b-key-1", "store-b", contracts.AlgES256)
	return e
}

func (e *testEnv) register(clientID, kid, store, alg string) storeClient {
	e.t.Helper()
	key, err := auth.GenerateKey(alg)
	if err != nil {
		e.t.Fatal(err)
	}
	pub, err := auth.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := e.app.Store.CreateStoreClient(context.Background(), contracts.StoreClient{ID: clientID, Name: clientID,
		Stores: []string{store}, Keys: []contracts.ClientKey{{KID: kid, ClientID: clientID, Algorithm: alg, PublicKeyPEM: pub, CreatedAt: now}},
		ReturnOrigins: []string{"https://shop.example", "http://127.0.0.1:9"}, CreatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
	return storeClient{key: key, kid: kid, clientID: clientID, store: store, pubPEM: pub}
}

// token mints a valid token for c, adjusted by mods.
func (e *testEnv) token(c storeClient, mods ...func(*auth.TokenRequest)) string {
	e.t.Helper()
	req := auth.TokenRequest{Key: c.key, KeyID: c.kid, ClientID: c.clientID, StoreID: c.store, IssuedAt: time.Now(), TTL: 2 * time.Minute}
	for _, m := range mods {
		m(&req)
	}
	tok, err := auth.Mint(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// operatorToken mints a token of operator op-alice.
func (e *testEnv) operatorToken() string {
	e.t.Helper()
	tok, err := auth.Mint(auth.TokenRequest{Key: e.operator, KeyID: "op-alice-1", ClientID: "op-alice", Roles: []string{"operator"},
		Audience: auth.OperatorAudience, IssuedAt: time.Now(), TTL: time.Minute})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// response is an HTTP answer with its decoded JSON body.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return m
}

// do sends a request; body is JSON-encoded unless it is a string (sent verbatim).
func (e *testEnv) do(method, path, token, idemKey string, body any) response {
	e.t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rdr = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rdr)
	if err != nil {
		e.t.Fatal(err)
	}
	if rdr != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	checkAgainstContract(e.t, req, resp.StatusCode, resp.Header, raw)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// newKey returns a fresh Idempotency-Key.
func newKey() string { return rand.Text() }

// pay creates a payment for store client c and returns the decoded response.
func (e *testEnv) pay(c storeClient, body map[string]any) response {
	e.t.Helper()
	return e.do(http.MethodPost, "/v1/payments", e.token(c), newKey(), body)
}

func barcodePayment(amount int, barcode string) map[string]any {
	return map[string]any{"amount": amount, "currency": "JPY", "method": "paypay", "flow": "barcode",
		"barcode": barcode, "terminal_id": "till-01", "order_id": "order-1"}
}

// Fixture barcodes of the PayPay simulator.
const (
	barcodeOK      = "900081818800000000"
	barcodeNoFunds = "900081818800000001"
)

func expectStatus(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if code != "" {
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("content type %q, want application/problem+json", ct)
		}
		if got := r.json(t)["code"]; got != code {
			t.Fatalf("code %v, want %s: %s", got, code, r.body)
		}
	}
}

// metrics reads payhub's Prometheus metrics, which are served apart from the API.
func (e *testEnv) metrics() string {
	rec := httptest.NewRecorder()
	e.app.MetricsHandler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}
