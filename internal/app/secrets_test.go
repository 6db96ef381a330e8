package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
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
	"testing"
	"time"

	gmopgadapter "payhub/adapters/gmopg"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/secrets"
	"payhub/internal/store"
	"payhub/internal/store/storetest"
	"payhub/internal/webhooks"
	gmopgsim "payhub/mocks/gmopg"
	paypaysim "payhub/mocks/paypay"
)

// resealHelperEnv makes TestResealHelperProcess run `payhub secrets` with the arguments
// in resealArgsEnv (tab-separated): the test binary stands in for the payhub binary in a
// child process the parent can kill.
const (
	resealHelperEnv = "PAYHUB_TEST_RESEAL_HELPER"
	resealArgsEnv   = "PAYHUB_TEST_RESEAL_ARGS"
)

// TestResealHelperProcess is the child process of TestResealKilledHalfway: not a test of
// its own.
func TestResealHelperProcess(t *testing.T) {
	if os.Getenv(resealHelperEnv) != "1" {
		t.Skip("the child process of TestResealKilledHalfway")
	}
	cmd := SecretsCommand()
	cmd.SetArgs(strings.Split(os.Getenv(resealArgsEnv), "\t"))
	cmd.SetOut(os.Stdout)
	cmd.SetErr(os.Stderr)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
}

// TestResealKilledHalfway rotates the key that seals secrets at rest on a database holding
// card payments waiting for their 3-D Secure return (their GMO credentials sealed under
// the old key, half of them in the format before key ids) and webhook endpoints (one
// rotated): `payhub secrets reseal` is SIGKILLed after two batches and run again, then
// once more (nothing left to do). payhub then runs with the new key alone: every payment
// completes its 3-D Secure return with its credentials opened (none recovered from GMO),
// the endpoints' deliveries verify with the secrets their first answers showed, and no
// secret is in the database files or the logs.
func TestResealKilledHalfway(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process; skipped with -short")
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "payhub.db")
		testResealKilledHalfway(t, "sqlite:"+path, path)
	})
	t.Run("postgres", func(t *testing.T) {
		testResealKilledHalfway(t, storetest.PostgresSchemaURL(t), "")
	})
}

// resealEnv is payhub against the GMO-PG simulator on one listener, restartable with
// other keys.
type resealEnv struct {
	t        *testing.T
	dsn      string
	url      string
	gmo      *gmopgsim.Simulator
	gmoURL   string
	paypay   string
	handler  atomic.Value // http.Handler of the running app
	logs     *lockedBuffer
	app      *App
	till     storeClient
	received *receiver
}

// start builds payhub on the database with keys (the first seals) and serves it.
func (e *resealEnv) start(keys ...[]byte) {
	e.t.Helper()
	a, err := Build(context.Background(), Config{DatabaseURL: e.dsn, SecretKeys: keys,
		PublicURL: e.url, Logger: NewLogger(e.logs), WebhookLoopback: true,
		PayPay: paypayadapter.Config{BaseURL: e.paypay, APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant},
		Card:   &gmopgadapter.Config{BaseURL: e.gmoURL, ShopID: "tshop00000077", ShopPass: "rs-pass-1"}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.app = a
	e.handler.Store(a.Handler)
}

func (e *resealEnv) stop() {
	e.t.Helper()
	if err := e.app.Close(); err != nil {
		e.t.Fatal(err)
	}
}

// call sends a till request (POST with a new Idempotency-Key unless key is set).
func (e *resealEnv) call(method, path, key string, body any) (int, http.Header, []byte) {
	e.t.Helper()
	tok, err := auth.Mint(auth.TokenRequest{Key: e.till.key, KeyID: e.till.kid, ClientID: e.till.clientID, StoreID: e.till.store,
		IssuedAt: time.Now(), TTL: 2 * time.Minute})
	if err != nil {
		e.t.Fatal(err)
	}
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if method == http.MethodPost {
		if key == "" {
			key = rand.Text()
		}
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// receiver is a store's webhook endpoint: it keeps what it is sent.
type receiver struct {
	mu  sync.Mutex
	got []delivered
}

type delivered struct {
	path   string
	header http.Header
	body   []byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, delivered{path: req.URL.Path, header: req.Header.Clone(), body: b})
	r.mu.Unlock()
}

func (r *receiver) deliveries(path string) []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivered
	for _, d := range r.got {
		if d.path == path {
			out = append(out, d)
		}
	}
	return out
}

// cardReturn is a card payment waiting for the customer's browser to come back from the
// issuer's page: where it comes back to and what it brings.
type cardReturn struct {
	id, retURL, method string
	form               url.Values
}

func testResealKilledHalfway(t *testing.T, dsn, sqlitePath string) {
	ctx := context.Background()
	oldKey, newKey := secrets.NewKey(), secrets.NewKey()
	newID := secrets.KeyID(newKey)
	enc := base64.StdEncoding.EncodeToString

	e := &resealEnv{t: t, dsn: dsn, logs: &lockedBuffer{}, received: &receiver{}}
	e.gmo = gmopgsim.New(gmopgsim.Config{ShopID: "tshop00000077", ShopPass: "rs-pass-1"})
	gmoSrv := httptest.NewServer(e.gmo)
	t.Cleanup(gmoSrv.Close)
	e.gmoURL = gmoSrv.URL
	pp := httptest.NewServer(paypaysim.New(paypaysim.Config{APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant}))
	t.Cleanup(pp.Close)
	e.paypay = pp.URL
	hooks := httptest.NewServer(e.received)
	t.Cleanup(hooks.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	api := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.handler.Load().(http.Handler).ServeHTTP(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = api.Serve(ln) }()
	t.Cleanup(func() { _ = api.Close() })

	// payhub under the old key: endpoints, and card payments up to the issuer's page.
	e.start(oldKey)
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := auth.MarshalPublicKeyPEM(key.Public())
	now := time.Now().UTC()
	if err := e.app.Store.CreateStoreClient(ctx, contracts.StoreClient{ID: "shop-client", Name: "web shop", Stores: []string{"store-web"},
		Keys:          []contracts.ClientKey{{KID: "shop-key-1", ClientID: "shop-client", Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pub, CreatedAt: now}},
		ReturnOrigins: []string{"https://shop.example"}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e.till = storeClient{key: key, kid: "shop-key-1", clientID: "shop-client", store: "store-web"}

	var shown []string // every signing secret an answer showed
	endpoint := func(path string) (id, secret, idemKey string) {
		idemKey = rand.Text()
		status, _, b := e.call(http.MethodPost, "/v1/webhook-endpoints", idemKey, map[string]any{"url": hooks.URL + path})
		ep := decode(t, b)
		if status != http.StatusCreated || !strings.HasPrefix(ep["secret"].(string), "whsec_") {
			t.Fatalf("create endpoint: %d %s", status, b)
		}
		shown = append(shown, ep["secret"].(string))
		return ep["id"].(string), ep["secret"].(string), idemKey
	}
	plainID, plainSecret, createKey := endpoint("/plain")
	rotatedID, firstSecret, _ := endpoint("/rotated")
	status, _, b := e.call(http.MethodPost, "/v1/webhook-endpoints/"+rotatedID+"/rotate-secret", "", nil)
	if status != http.StatusOK {
		t.Fatalf("rotate: %d %s", status, b)
	}
	rotatedSecret := decode(t, b)["secret"].(string)
	shown = append(shown, rotatedSecret)
	// A replay of the create shows the endpoint, never its secret.
	status, h, b := e.call(http.MethodPost, "/v1/webhook-endpoints", createKey, map[string]any{"url": hooks.URL + "/plain"})
	if replay := decode(t, b); status != http.StatusCreated || h.Get("Idempotent-Replayed") != "true" || replay["id"] != plainID ||
		replay["secret_withheld"] != true || strings.Contains(string(b), "whsec_") {
		t.Fatalf("replayed create: %d %s", status, b)
	}

	const payments = 6
	var returns []cardReturn
	for i := range payments {
		status, _, b := e.call(http.MethodPost, "/v1/payments", "", map[string]any{"amount": 5400 + i, "currency": "JPY", "method": "card",
			"flow": "redirect", "card_token": e.gmo.IssueToken("3ds_challenge"), "return_url": "https://shop.example/done",
			"order_id": "web-" + rand.Text()[:8]})
		p := decode(t, b)
		na, _ := p["next_action"].(map[string]any)
		if status != http.StatusCreated || p["status"] != "requires_action" || na == nil {
			t.Fatalf("card payment: %d %s", status, b)
		}
		u, _ := url.Parse(na["redirect_url"].(string))
		transID := u.Query().Get("transId")
		if _, err := e.gmo.ApproveChallenge(transID); err != nil {
			t.Fatal(err)
		}
		ch, ok := e.gmo.Challenge(transID)
		if !ok || !strings.HasPrefix(ch.RetURL, e.url+"/v1/payment-returns/") {
			t.Fatalf("the issuer's page returns to %q", ch.RetURL)
		}
		form := url.Values{}
		for k, v := range ch.Form {
			form.Set(k, v)
		}
		returns = append(returns, cardReturn{id: p["id"].(string), retURL: ch.RetURL, method: ch.Method, form: form})
	}
	e.stop()

	// Half the payments hold their credentials as payhub sealed them before key ids (v1).
	rewriteV1(t, dsn, oldKey, returns[:payments/2])

	// No key, no key id, or a key id that is not the newest: refused, nothing done.
	t.Setenv("PAYHUB_SECRET_KEY", "")
	t.Setenv("PAYHUB_SECRET_KEYS", "")
	for _, c := range []struct {
		keys string
		args []string
		want string
	}{
		{"", []string{"--key-id", newID}, "no key configured"},
		{enc(newKey) + "," + enc(oldKey), nil, "--key-id is required"},
		{enc(newKey) + "," + enc(oldKey), []string{"--key-id", secrets.KeyID(oldKey)}, "does not seal"},
		{enc(oldKey), []string{"--key-id", newID}, "is not configured"},
	} {
		t.Setenv("PAYHUB_SECRET_KEYS", c.keys)
		_, err := runSecrets(t, append([]string{"reseal", "--db", dsn}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("reseal (keys set: %v) %v: %v; want %q", c.keys != "", c.args, err, c.want)
		}
	}
	ring := func(keys ...[]byte) *secrets.Box {
		b, err := secrets.NewRing(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	underNew := func() (moved, left int) {
		t.Helper()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		inv, err := store.Inventory(ctx, st, ring(newKey, oldKey))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range inv {
			for k, n := range c.ByKey {
				if k == newID {
					moved += n
				} else {
					left += n
				}
			}
		}
		return moved, left
	}
	if moved, left := underNew(); moved != 0 || left != payments+3 {
		t.Fatalf("before the reseal: %d values under the new key, %d under others", moved, left)
	}

	// The reseal, SIGKILLed after two committed batches.
	keys := enc(newKey) + "," + enc(oldKey)
	child := exec.Command(os.Args[0], "-test.run=^TestResealHelperProcess$", "-test.v")
	child.Env = append(os.Environ(), resealHelperEnv+"=1", "PAYHUB_SECRET_KEYS="+keys, "PAYHUB_SECRET_KEY=",
		resealArgsEnv+"="+strings.Join([]string{"reseal", "--db", dsn, "--key-id", newID, "--batch-size", "1", "--pause", "400ms"}, "\t"))
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var childOut bytes.Buffer
	childErr := &lockedBuffer{}
	child.Stderr = childErr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	batches := 0
	for batches < 2 && lines.Scan() {
		childOut.WriteString(lines.Text() + "\n")
		if strings.HasPrefix(lines.Text(), "batch ") {
			batches++
		}
	}
	_ = child.Process.Kill()
	_, _ = io.Copy(&childOut, stdout)
	_ = child.Wait()
	childOut.WriteString(childErr.String())
	if batches != 2 {
		t.Fatalf("the reseal printed %d batches before the kill:\n%s", batches, childOut.String())
	}
	moved, left := underNew()
	if moved < 2 || left == 0 {
		t.Fatalf("killed after two batches: %d values under the new key, %d left; want some of each\n%s", moved, left, childOut.String())
	}
	t.Logf("killed halfway: %d values moved, %d left", moved, left)

	// Run again: it finishes; once more: nothing to do.
	t.Setenv("PAYHUB_SECRET_KEYS", keys)
	out, err := runSecrets(t, "reseal", "--db", dsn, "--key-id", newID, "--batch-size", "2")
	if err != nil || !strings.Contains(out, "done: every sealed value is under key "+newID) {
		t.Fatalf("reseal run again: %v\n%s", err, out)
	}
	if moved, left := underNew(); moved != payments+3 || left != 0 {
		t.Fatalf("after the reseal: %d values under the new key, %d under others", moved, left)
	}
	out, err = runSecrets(t, "reseal", "--db", dsn, "--key-id", newID)
	if err != nil || !strings.Contains(out, store.ColumnPartnerSecrets+": resealed 0") || !strings.Contains(out, store.ColumnWebhookSecrets+": resealed 0") {
		t.Fatalf("a third reseal changed something: %v\n%s", err, out)
	}
	out, err = runSecrets(t, "status", "--db", dsn)
	if err != nil || !strings.Contains(out, "every sealed value is under "+newID) {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, s := range append(shown, enc(newKey), enc(oldKey)) {
		if strings.Contains(out+childOut.String(), s) {
			t.Fatal("the reseal's output shows a secret or a key")
		}
	}

	// payhub with the new key alone: every payment completes its 3-D Secure return.
	e.start(newKey)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, r := range returns {
		var resp *http.Response
		if r.method == http.MethodGet {
			resp, err = noFollow.Get(r.retURL + "?" + r.form.Encode())
		} else {
			resp, err = noFollow.PostForm(r.retURL, r.form)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("return of %s answered %d", r.id, resp.StatusCode)
		}
		_, _, b := e.call(http.MethodGet, "/v1/payments/"+r.id, "", nil)
		if p := decode(t, b); p["status"] != "succeeded" {
			t.Errorf("payment %s after its 3-D Secure return: %s", r.id, b)
		}
	}
	if strings.Contains(e.logs.String(), "does not open") {
		t.Errorf("a partner credential did not open after the reseal:\n%s", e.logs.String())
	}

	// The endpoints' deliveries are signed with the secrets their first answers showed.
	if _, err := e.app.Deliverer.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(path string, secret webhooks.Secret) {
		t.Helper()
		got := e.received.deliveries(path)
		if len(got) == 0 {
			t.Fatalf("nothing delivered to %s", path)
		}
		for _, d := range got {
			if err := webhooks.Verify(d.body, d.header, time.Now(), secret); err != nil {
				t.Errorf("a delivery to %s does not verify: %v", path, err)
			}
		}
	}
	check("/plain", webhooks.Secret(plainSecret))
	check("/rotated", webhooks.Secret(rotatedSecret))
	check("/rotated", webhooks.Secret(firstSecret)) // still in its grace period
	e.stop()

	logs := e.logs.String()
	for _, s := range shown {
		if strings.Contains(logs, s) {
			t.Error("the logs show a webhook secret")
		}
	}
	if sqlitePath == "" {
		return
	}
	files, _ := filepath.Glob(sqlitePath + "*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, s := range shown {
			if bytes.Contains(b, []byte(s)) || bytes.Contains(b, []byte(strings.TrimPrefix(s, "whsec_"))) {
				t.Errorf("%s holds a webhook secret in clear", filepath.Base(f))
			}
		}
		for _, r := range returns {
			if o, ok := e.gmo.Order(orderIDOf(t, dsn, r.id)); ok && (bytes.Contains(b, []byte(o.AccessPass)) || bytes.Contains(b, []byte(o.AccessID))) {
				t.Errorf("%s holds a GMO credential in clear", filepath.Base(f))
			}
		}
	}
}

// runSecrets runs `payhub secrets args…` in this process and returns what it printed.
func runSecrets(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := SecretsCommand()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage = true
	err := cmd.Execute()
	return out.String(), err
}

// rawDB opens dsn's database directly.
func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver, source := "pgx", dsn
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		driver, source = "sqlite", "file:"+path+"?_pragma=busy_timeout(15000)"
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// rewriteV1 rewrites the partner credentials of the payments as payhub sealed them before
// key ids: "v1." + base64url(nonce ‖ ciphertext ‖ tag) under key, the payment id as
// additional data.
func rewriteV1(t *testing.T, dsn string, key []byte, payments []cardReturn) {
	t.Helper()
	db := rawDB(t, dsn)
	defer db.Close()
	box, err := secrets.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	q := func(s string) string {
		if strings.HasPrefix(dsn, "sqlite:") {
			return s
		}
		return strings.NewReplacer("?1", "$1", "?2", "$2").Replace(s)
	}
	for _, p := range payments {
		var sealed string
		if err := db.QueryRow(q("SELECT partner_secret FROM payments WHERE id = ?1"), p.id).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		plain, err := box.Open(p.id, sealed)
		if err != nil || plain == "" {
			t.Fatalf("payment %s holds no credential under the old key: %v", p.id, err)
		}
		nonce := make([]byte, aead.NonceSize())
		_, _ = rand.Read(nonce)
		v1 := "v1." + base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plain), []byte(p.id)))
		if _, err := db.Exec(q("UPDATE payments SET partner_secret = ?1 WHERE id = ?2"), v1, p.id); err != nil {
			t.Fatal(err)
		}
	}
}

// orderIDOf is GMO's OrderID of payment id (its partner reference).
func orderIDOf(t *testing.T, dsn, id string) string {
	t.Helper()
	db := rawDB(t, dsn)
	defer db.Close()
	var ref string
	q := "SELECT partner_ref FROM payments WHERE id = ?"
	if !strings.HasPrefix(dsn, "sqlite:") {
		q = "SELECT partner_ref FROM payments WHERE id = $1"
	}
	if err := db.QueryRow(q, id).Scan(&ref); err != nil {
		t.Fatal(err)
	}
	oid, err := gmopgadapter.OrderID(ref)
	if err != nil {
		t.Fatal(err)
	}
	return oid
}
