package app

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"payhub/contracts"
	"payhub/internal/auth"
)

// opsCLI runs `payhub ops args…` in this process, as the binary does, and returns what it
// printed on stdout and the error main would print before exiting 1.
func opsCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := rootCommand(io.Discard)
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetIn(strings.NewReader(""))
	cmd.SetArgs(append([]string{"ops"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

// mustOps is opsCLI that fails the test on an error.
func mustOps(t *testing.T, args ...string) string {
	t.Helper()
	out, err := opsCLI(t, args...)
	if err != nil {
		t.Fatalf("payhub ops %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// clearOpsEnv keeps the caller's shell out of the ops client's defaults.
func clearOpsEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{"PAYHUB_URL", "PAYHUB_OPS_TOKEN", "PAYHUB_OPS_TOKEN_FILE", "PAYHUB_URL_FILE"} {
		t.Setenv(name, "")
	}
}

// operatorKeyFile writes a new Ed25519 operator key (PKCS#8 PEM) and returns its path and
// the operator keys that verify it (kid = operator).
func operatorKeyFile(t *testing.T, operator string, roles ...string) (string, crypto.Signer, auth.KeySource) {
	t.Helper()
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, _ := auth.MarshalPrivateKeyPEM(key)
	path := filepath.Join(t.TempDir(), operator+".pem")
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	pub, _ := auth.MarshalPublicKeyPEM(key.Public())
	raw, _ := json.Marshal([]auth.OperatorKey{{Operator: operator, KeyID: operator, PublicKeyPEM: string(pub), Roles: roles}})
	keys, err := auth.ParseOperatorKeys(raw)
	if err != nil {
		t.Fatal(err)
	}
	return path, key, keys
}

// fakeOps is an operator API that verifies every token as payhub does and answers what
// the test set, recording the calls.
type fakeOps struct {
	t        *testing.T
	verifier *auth.Verifier
	mu       sync.Mutex
	calls    []fakeCall
	answer   func(w http.ResponseWriter, r *http.Request, body []byte)
}

type fakeCall struct {
	method, path, query, body string
	principal                 auth.Principal
	authorization             string
}

func newFakeOps(t *testing.T, keys auth.KeySource, answer func(w http.ResponseWriter, r *http.Request, body []byte)) (*fakeOps, string) {
	f := &fakeOps{t: t, verifier: auth.NewVerifier(keys, auth.VerifierOptions{Operators: true}), answer: answer}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeOps) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p, err := f.verifier.Authenticate(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"type":"urn:payhub:problem:unauthenticated","title":"Unauthorized","status":401,"code":"unauthenticated","detail":"bad token"}`))
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, body: string(body), principal: p,
		authorization: r.Header.Get("Authorization")})
	f.mu.Unlock()
	f.answer(w, r, body)
}

func writeFake(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// Each call carries a fresh operator token minted with --key: audience payhub-ops, the
// operator as iss, the --role roles, a new jti; the bodies are what docs/ops-api.md names.
func TestOpsClientMintsAnOperatorTokenPerCall(t *testing.T) {
	clearOpsEnv(t)
	keyPath, _, keys := operatorKeyFile(t, "carol", auth.RoleOperator, auth.RoleViewer)
	fake, url := newFakeOps(t, keys, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch r.URL.Path {
		case "/v1/ops/step-up":
			writeFake(w, 200, "application/json", `{"object":"step_up","id":"stp_1","operator":"carol","verified_at":"2026-12-06T12:00:00Z","valid_until":"2026-12-06T12:05:00Z"}`)
		case "/v1/ops/switches":
			if r.Method == http.MethodPost {
				writeFake(w, 201, "application/json", `{"object":"kill_switch","id":"ks_1","scope":{"partner":"","method":"card","operation":"refund","store_id":"","terminal_id":"","client_id":""},"public_reason":"Card refunds are paused.","internal_note":"INC-42","set_by":"carol","set_at":"2026-12-06T12:00:01Z","expires_at":"2026-12-06T14:00:01Z","active":true}`)
				return
			}
			writeFake(w, 200, "application/json", `{"object":"list","data":[{"object":"kill_switch","id":"ks_1","scope":{"partner":"","method":"card","operation":"refund","store_id":"","terminal_id":"","client_id":""},"public_reason":"Card refunds are paused.","internal_note":"INC-42","set_by":"carol","set_at":"2026-12-06T12:00:01Z","expires_at":null,"active":true,"lifted_by":"","lifted_at":null,"lift_reason":""}]}`)
		case "/v1/ops/switches/ks_1/lift":
			writeFake(w, 202, "application/json", `{"object":"approval","id":"apr_9","action":"switch.lift","params":{"switch_id":"ks_1","reason":"over"},"params_hash":"sha256:ab","required_role":"operator","status":"pending","requested_by":"carol","requested_at":"2026-12-06T12:00:02Z","expires_at":"2026-12-07T12:00:02Z","decided_by":"","decided_at":null,"decision_reason":"","result":null}`)
		default:
			writeFake(w, 404, "application/problem+json", `{"status":404,"code":"not_found","detail":"No such route."}`)
		}
	})
	common := []string{"--url", url, "--key", keyPath, "--operator", "carol", "--role", "operator,viewer"}
	if out := mustOps(t, append(common, "step-up", "--code", "123456")...); !strings.Contains(out, "stepped up carol (stp_1): changes allowed until 2026-12-06T12:05:00Z") {
		t.Fatalf("step-up printed %q", out)
	}
	out := mustOps(t, append(common, "switch", "set", "--method", "card", "--operation", "refund", "--reason", "Card refunds are paused.",
		"--note", "INC-42", "--expires", "2h")...)
	if out != "set ks_1: method=card operation=refund off (in force on every instance within 1 s)\n" {
		t.Fatalf("switch set printed %q", out)
	}
	list := mustOps(t, append(common, "switch", "list", "--all")...)
	if !strings.Contains(list, "ks_1") || !strings.Contains(list, "method=card operation=refund") || !strings.Contains(list, "in force") ||
		!strings.Contains(list, `"INC-42"`) {
		t.Fatalf("switch list printed\n%s", list)
	}
	lift := mustOps(t, append(common, "switch", "lift", "ks_1", "--reason", "over")...)
	if !strings.HasPrefix(lift, "approval apr_9: switch.lift pending ") || !strings.Contains(lift, "payhub ops approvals approve apr_9") {
		t.Fatalf("switch lift printed %q", lift)
	}
	if raw := mustOps(t, append(common, "--json", "switch", "lift", "ks_1", "--reason", "over")...); !json.Valid([]byte(raw)) ||
		!strings.Contains(raw, `"id":"apr_9"`) {
		t.Fatalf("--json printed %q", raw)
	}

	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.calls) != 5 {
		t.Fatalf("%d calls", len(fake.calls))
	}
	seen := map[string]bool{}
	for _, c := range fake.calls {
		if c.principal.ClientID != "carol" || !slices.Equal(c.principal.Roles, []string{"operator", "viewer"}) {
			t.Errorf("%s %s: principal %+v", c.method, c.path, c.principal)
		}
		if seen[c.authorization] {
			t.Errorf("a token was sent twice: each call mints its own")
		}
		seen[c.authorization] = true
	}
	want := []struct{ method, path, query, body string }{
		{"POST", "/v1/ops/step-up", "", `{"code":"123456"}`},
		{"POST", "/v1/ops/switches", "", `{"scope":{"partner":"","method":"card","operation":"refund","store_id":"","terminal_id":"","client_id":""},"public_reason":"Card refunds are paused.","internal_note":"INC-42","expires_in_seconds":7200}`},
		{"GET", "/v1/ops/switches", "all=true", ""},
		{"POST", "/v1/ops/switches/ks_1/lift", "", `{"reason":"over"}`},
	}
	for i, w := range want {
		c := fake.calls[i]
		if c.method != w.method || c.path != w.path || c.query != w.query || c.body != w.body {
			t.Errorf("call %d: %s %s?%s %s, want %s %s?%s %s", i, c.method, c.path, c.query, c.body, w.method, w.path, w.query, w.body)
		}
	}
}

// A problem+json answer is printed as "refused: <status> <code>: <detail>" (with
// Retry-After when there is one) and is an error (exit 1); an answer that is not
// problem+json is refused too; the token is in no error.
func TestOpsClientRefusals(t *testing.T) {
	clearOpsEnv(t)
	keyPath, key, keys := operatorKeyFile(t, "carol", auth.RoleViewer)
	_, url := newFakeOps(t, keys, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch r.URL.Path {
		case "/v1/ops/switches":
			writeFake(w, 403, "application/problem+json", `{"type":"urn:payhub:problem:forbidden","title":"Forbidden","status":403,"code":"forbidden","detail":"This route needs the operator role.","errors":[]}`)
		case "/v1/ops/step-up":
			w.Header().Set("Retry-After", "900")
			writeFake(w, 429, "application/problem+json", `{"status":429,"code":"rate_limited","detail":"Step-up is locked."}`)
		default:
			writeFake(w, 502, "text/html", "<html>bad gateway</html>")
		}
	})
	common := []string{"--url", url, "--key", keyPath, "--operator", "carol", "--role", "viewer"}
	_, err := opsCLI(t, append(common, "switch", "set", "--partner", "paypay", "--reason", "x")...)
	if err == nil || err.Error() != "refused: 403 forbidden: This route needs the operator role." {
		t.Fatalf("switch set: %v", err)
	}
	var p *opsProblem
	if !errors.As(err, &p) || p.Status != 403 || p.Code != "forbidden" {
		t.Fatalf("not an opsProblem: %#v", err)
	}
	if _, err := opsCLI(t, append(common, "step-up", "--code", "123456")...); err == nil ||
		err.Error() != "refused: 429 rate_limited: Step-up is locked. (retry after 900 s)" {
		t.Fatalf("step-up: %v", err)
	}
	if _, err := opsCLI(t, append(common, "approvals", "list")...); err == nil || !strings.HasPrefix(err.Error(), "refused: 502 Bad Gateway") {
		t.Fatalf("approvals list: %v", err)
	}
	// A ready token (PAYHUB_OPS_TOKEN) the server refuses: the error does not repeat it.
	tok, err := mintOperatorToken(key, "carol", "carol", []string{"viewer"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAYHUB_OPS_TOKEN", tok)
	if _, err := opsCLI(t, "--url", url, "audit", "list"); err == nil || !strings.HasPrefix(err.Error(), "refused: 502") || strings.Contains(err.Error(), tok) {
		t.Fatalf("audit list with PAYHUB_OPS_TOKEN: %v", err)
	}
	// Nothing listens: the error says that the API must be reachable, without the token.
	if _, err := opsCLI(t, "--url", "http://"+freeAddr(t), "switch", "list"); err == nil ||
		!strings.Contains(err.Error(), "need a running serve or demo") || strings.Contains(err.Error(), tok) {
		t.Fatalf("unreachable: %v", err)
	}
}

// Credentials: exactly one kind; --key needs --operator and --role; unknown roles are
// refused before any call.
func TestOpsClientCredentialFlags(t *testing.T) {
	clearOpsEnv(t)
	keyPath, _, _ := operatorKeyFile(t, "carol", auth.RoleViewer)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"switch", "list"}, "no operator credentials"},
		{[]string{"--token", "x", "--key", keyPath, "switch", "list"}, "give one of"},
		{[]string{"--key", keyPath, "switch", "list"}, "--key needs --operator"},
		{[]string{"--key", keyPath, "--operator", "carol", "--role", "admin", "switch", "list"}, `role "admin"`},
		{[]string{"--demo-dir", t.TempDir(), "switch", "list"}, "--demo-dir needs --as"},
		{[]string{"--demo-dir", t.TempDir(), "--as", "alice", "switch", "list"}, "run 'payhub demo' first"},
		{[]string{"--token", "x", "--url", "ftp://h", "switch", "list"}, "want http(s)://"},
	} {
		if _, err := opsCLI(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

// The demo operator's code: the current step's, then the next step's, then it waits for a
// step not used yet (the steps used are remembered in the data directory).
func TestDemoCodeUsesEachStepOnce(t *testing.T) {
	dir := t.TempDir()
	secret := "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	if err := os.WriteFile(filepath.Join(dir, "operator-alice.totp"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	op, err := demoOperators{Operators: []demoOperatorFiles{{Operator: "alice", KeyFile: "operator-alice.pem", SecretFile: "operator-alice.totp"}}}.find(dir, "alice")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_750_000_020, 0)
	now := func() time.Time { return at }
	code := func(t0 time.Time) string {
		c, _ := totp.GenerateCodeCustom(secret, t0, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		return c
	}
	var wait bytes.Buffer
	// A code payhub never saw (the call did not reach it) is not remembered as used.
	if got, _, err := op.demoCode(context.Background(), now, &wait); err != nil || got != code(at) {
		t.Fatalf("unsent code: %q %v", got, err)
	}
	for i, want := range []string{code(at), code(at.Add(30 * time.Second))} {
		got, used, err := op.demoCode(context.Background(), now, &wait)
		if err != nil || got != want {
			t.Fatalf("code %d: %q %v, want %q", i, got, err, want)
		}
		if err := used(); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := op.demoCode(ctx, now, &wait); !errors.Is(err, context.Canceled) || !strings.Contains(wait.String(), "waiting") {
		t.Fatalf("third code in one step: %v %q", err, wait.String())
	}
	at = at.Add(30 * time.Second) // the next step: its successor is free
	got, used, err := op.demoCode(context.Background(), now, &wait)
	if err != nil || got != code(at.Add(30*time.Second)) {
		t.Fatalf("next step: %q %v", got, err)
	}
	if err := used(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(op.stepPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("step file: %v %v", fi, err)
	}
}

// Step-up without --code and without a demo reads the code from stdin.
func TestOpsStepUpReadsTheCodeFromStdin(t *testing.T) {
	clearOpsEnv(t)
	keyPath, _, keys := operatorKeyFile(t, "carol", auth.RoleViewer)
	fake, url := newFakeOps(t, keys, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		writeFake(w, 200, "application/json", `{"object":"step_up","id":"stp_2","operator":"carol","valid_until":"2026-12-06T12:05:00Z"}`)
	})
	var out, prompt bytes.Buffer
	cmd := rootCommand(io.Discard)
	cmd.SetOut(&out)
	cmd.SetErr(&prompt)
	cmd.SetIn(strings.NewReader("654321\n"))
	cmd.SetArgs([]string{"ops", "--url", url, "--key", keyPath, "--operator", "carol", "--role", "viewer", "step-up"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(prompt.String(), "TOTP code") || !strings.Contains(out.String(), "stepped up carol") {
		t.Fatalf("prompt %q, out %q", prompt.String(), out.String())
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if got := fake.calls[0].body; got != `{"code":"654321"}` {
		t.Fatalf("body %s", got)
	}
}

// The list commands print tables from the API's lists: limits, approvals, audit entries.
func TestOpsClientTables(t *testing.T) {
	clearOpsEnv(t)
	keyPath, _, keys := operatorKeyFile(t, "carol", auth.RoleViewer)
	fake, url := newFakeOps(t, keys, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch r.URL.Path {
		case "/v1/ops/limits":
			writeFake(w, 200, "application/json", `{"object":"list","data":[{"object":"limit_rule","id":"lim_1","subject":"terminal","subject_id":"","operation":"pay","method":"","window_seconds":3600,"max_count":0,"max_amount":2000000,"currency":"JPY","reason":"default","set_by":"system","set_at":"2026-12-06T00:00:00Z","removed_by":"","removed_at":null,"remove_reason":""}]}`)
		case "/v1/ops/approvals":
			writeFake(w, 200, "application/json", `{"object":"list","data":[]}`)
		case "/v1/ops/approvals/apr_1":
			writeFake(w, 200, "application/json", `{"object":"approval","id":"apr_1","action":"limit.remove","params":{"limit_id":"lim_1"},"status":"executed","requested_by":"alice","decided_by":"bob","result":{"object":"limit_rule","id":"lim_1"}}`)
		case "/v1/ops/audit":
			writeFake(w, 200, "application/json", `[{"object":"audit_entry","seq":7,"at":"2026-12-06T12:00:00Z","actor":"alice","action":"switch.set","target":"kill_switch:ks_1","params":{"after":{"x":1}},"request_id":"req_1"}]`)
		}
	})
	common := []string{"--url", url, "--key", keyPath, "--operator", "carol", "--role", "viewer"}
	if out := mustOps(t, append(common, "limit", "list")...); !strings.Contains(out, "lim_1") || !strings.Contains(out, "terminal (each)") ||
		!strings.Contains(out, "2000000 JPY") || !strings.Contains(out, "1h0m0s") {
		t.Fatalf("limit list:\n%s", out)
	}
	if out := mustOps(t, append(common, "approvals", "list", "--status", "pending")...); out != "no approval requests\n" {
		t.Fatalf("approvals list: %q", out)
	}
	if out := mustOps(t, append(common, "approvals", "show", "apr_1")...); !strings.Contains(out, "status:") || !strings.Contains(out, "executed") ||
		!strings.Contains(out, `{"limit_id":"lim_1"}`) {
		t.Fatalf("approvals show:\n%s", out)
	}
	if out := mustOps(t, append(common, "audit", "list", "--after", "6", "--limit", "5")...); out != `7 2026-12-06T12:00:00Z alice switch.set kill_switch:ks_1 {"after":{"x":1}} request req_1`+"\n" {
		t.Fatalf("audit list: %q", out)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	var queries []string
	for _, c := range fake.calls {
		queries = append(queries, c.path+"?"+c.query)
	}
	if want := []string{"/v1/ops/limits?", "/v1/ops/approvals?status=pending", "/v1/ops/approvals/apr_1?", "/v1/ops/audit?after=6&limit=5"}; !slices.Equal(queries, want) {
		t.Fatalf("calls %v, want %v", queries, want)
	}
}

// audit list --tail N pages through the log from --after to its end and prints the last N.
func TestOpsAuditTail(t *testing.T) {
	clearOpsEnv(t)
	keyPath, _, keys := operatorKeyFile(t, "carol", auth.RoleSecurityAdmin)
	const total = 2500
	fake, url := newFakeOps(t, keys, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		var data []map[string]any
		for seq := after + 1; seq <= total && len(data) < limit; seq++ {
			data = append(data, map[string]any{"object": "audit_entry", "seq": seq, "at": "t", "actor": "a", "action": "x", "target": "y", "params": map[string]any{}})
		}
		b, _ := json.Marshal(map[string]any{"object": "list", "data": data})
		writeFake(w, 200, "application/json", string(b))
	})
	out := mustOps(t, "--url", url, "--key", keyPath, "--operator", "carol", "--role", "security_admin", "audit", "list", "--after", "10", "--tail", "3")
	if out != "2498 t a x y {}\n2499 t a x y {}\n2500 t a x y {}\n" {
		t.Fatalf("--tail 3 printed %q", out)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	var queries []string
	for _, c := range fake.calls {
		queries = append(queries, c.query)
	}
	if want := []string{"after=10&limit=1000", "after=1010&limit=1000", "after=2010&limit=1000"}; !slices.Equal(queries, want) {
		t.Fatalf("calls %v, want %v", queries, want)
	}
}
