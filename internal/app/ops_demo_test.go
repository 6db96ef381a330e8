package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"payhub/internal/auth"
	"payhub/internal/secrets"
	"payhub/internal/store/storetest"
)

// These tests run `payhub demo` in this process on a temporary data directory and drive
// its operator API with `payhub ops …` over HTTP, as the incident runbook does.

// startDemo runs `payhub demo` on free ports with dir as its data directory until the test
// ends, and returns payhub's URL once it is ready.
func startDemo(t *testing.T, dir string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs payhub demo; skipped with -short")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := rootCommand(io.Discard)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"demo", "--data-dir", dir, "--addr", "127.0.0.1:0", "--metrics-addr", "",
		"--paypay-addr", "127.0.0.1:0", "--linepay-addr", "127.0.0.1:0", "--gmopg-addr", "127.0.0.1:0", "--nanaco-addr", "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("demo did not stop")
		}
	})
	var url string
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("demo stopped: %v", err)
		default:
		}
		if d, err := readDemoOperators(dir); err == nil && d.URL != "" {
			url = d.URL
			if resp, err := http.Get(url + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return url
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo not ready within 30 s (url %q)", url)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// as is the flags that act as a demo operator.
func as(dir, operator string, args ...string) []string {
	return append([]string{"--demo-dir", dir, "--as", operator}, args...)
}

// The demo's operators read and step up with no phone: needs-attention answers for the
// operator role and is refused (exit non-zero, "refused: 403 forbidden: …") for a token
// claiming security_admin or viewer only; step-up works twice in a row (the next step's code), and a wrong code is refused
// with 401.
func TestOpsStepUpAndNeedsAttentionAgainstTheDemo(t *testing.T) {
	clearOpsEnv(t)
	dir := t.TempDir()
	startDemo(t, dir)

	if out := mustOps(t, as(dir, "alice", "needs-attention")...); out != "no payments need attention\n" {
		t.Fatalf("needs-attention: %q", out)
	}
	raw := mustOps(t, as(dir, "alice", "--json", "needs-attention")...)
	var list struct {
		Object string `json:"object"`
		Data   []any  `json:"data"`
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil || list.Object != "list" {
		t.Fatalf("--json: %q %v", raw, err)
	}
	_, err := opsCLI(t, as(dir, "alice", "--role", "security_admin", "needs-attention")...)
	var p *opsProblem
	if !errors.As(err, &p) || err.Error() != "refused: 403 forbidden: This route needs the operator role." {
		t.Fatalf("needs-attention with a security_admin token: %v", err)
	}
	if _, err := opsCLI(t, as(dir, "alice", "--role", "viewer", "needs-attention")...); err == nil || err.Error() != "refused: 403 forbidden: This route needs the operator role." {
		t.Fatalf("needs-attention with a viewer token: %v", err)
	}

	stepped := regexp.MustCompile(`^stepped up alice \(stp_[0-9A-Z]+\): changes allowed until \S+\n$`)
	for range 2 {
		if out := mustOps(t, as(dir, "alice", "step-up")...); !stepped.MatchString(out) {
			t.Fatalf("step-up printed %q", out)
		}
	}
	if _, err := opsCLI(t, as(dir, "bob", "step-up", "--code", "12345")...); err == nil || err.Error() != "refused: 400 invalid_request: code: six digits from the authenticator app" {
		t.Fatalf("a malformed code: %v", err)
	}
	wrong := "000000"
	if _, err := opsCLI(t, as(dir, "bob", "step-up", "--code", wrong)...); err == nil || !strings.HasPrefix(err.Error(), "refused: 401 unauthenticated: ") {
		t.Fatalf("a wrong code: %v", err)
	}
	if out := mustOps(t, as(dir, "bob", "step-up")...); !strings.HasPrefix(out, "stepped up bob ") {
		t.Fatalf("bob's step-up printed %q", out)
	}
}

// The incident runbook's kill-switch round against the demo: a change without step-up is
// refused; alice steps up and sets a switch; list shows it; alice's lift is an approval
// request whose id is printed; alice cannot approve her own request; bob steps up and
// approves it; the switch is lifted; the audit log shows both changes.
func TestOpsSwitchRoundAgainstTheDemo(t *testing.T) {
	clearOpsEnv(t)
	dir := t.TempDir()
	startDemo(t, dir)

	_, err := opsCLI(t, as(dir, "alice", "switch", "set", "--method", "card", "--operation", "refund", "--reason", "Card refunds are paused.")...)
	if err == nil || !strings.HasPrefix(err.Error(), "refused: 403 forbidden: ") {
		t.Fatalf("a change without step-up: %v", err)
	}
	mustOps(t, as(dir, "alice", "step-up")...)
	out := mustOps(t, as(dir, "alice", "switch", "set", "--method", "card", "--operation", "refund", "--reason", "Card refunds are paused.",
		"--note", "INC-42", "--expires", "2h")...)
	m := regexp.MustCompile(`^set (ks_[0-9A-Z]+): method=card operation=refund off \(in force on every instance within 1 s\)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("switch set printed %q", out)
	}
	ks := m[1]
	if list := mustOps(t, as(dir, "bob", "switch", "list")...); !strings.Contains(list, ks) || !strings.Contains(list, "method=card operation=refund") ||
		!strings.Contains(list, "alice") || !strings.Contains(list, "in force") || !strings.Contains(list, `"INC-42"`) {
		t.Fatalf("switch list:\n%s", list)
	}

	out = mustOps(t, as(dir, "alice", "switch", "lift", ks, "--reason", "attack over")...)
	m = regexp.MustCompile(`^approval (apr_[0-9A-Za-z]+): switch\.lift pending `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("switch lift printed %q", out)
	}
	apr := m[1]
	if list := mustOps(t, as(dir, "bob", "approvals", "list", "--status", "pending")...); !strings.Contains(list, apr) || !strings.Contains(list, "switch.lift") {
		t.Fatalf("approvals list:\n%s", list)
	}
	if list := mustOps(t, as(dir, "bob", "switch", "list")...); !strings.Contains(list, ks) {
		t.Fatalf("the switch was lifted before its approval:\n%s", list)
	}
	_, err = opsCLI(t, as(dir, "alice", "approvals", "approve", apr)...)
	if err == nil || !strings.HasPrefix(err.Error(), "refused: 403 forbidden: ") {
		t.Fatalf("alice approving her own request: %v", err)
	}
	_, err = opsCLI(t, as(dir, "bob", "approvals", "approve", apr)...)
	if err == nil || !strings.HasPrefix(err.Error(), "refused: 403 forbidden: ") {
		t.Fatalf("bob approving without step-up: %v", err)
	}
	mustOps(t, as(dir, "bob", "step-up")...)
	if out := mustOps(t, as(dir, "bob", "approvals", "approve", apr)...); !strings.HasPrefix(out, "approval "+apr+": switch.lift executed by bob") {
		t.Fatalf("approve printed %q", out)
	}
	if list := mustOps(t, as(dir, "alice", "switch", "list")...); list != "no kill switches\n" {
		t.Fatalf("switch list after the approval:\n%s", list)
	}
	if list := mustOps(t, as(dir, "alice", "switch", "list", "--all")...); !strings.Contains(list, ks) || !strings.Contains(list, "lifted") {
		t.Fatalf("switch list --all:\n%s", list)
	}
	if show := mustOps(t, as(dir, "alice", "approvals", "show", apr)...); !strings.Contains(show, "executed") || !strings.Contains(show, ks) {
		t.Fatalf("approvals show:\n%s", show)
	}
	_, err = opsCLI(t, as(dir, "bob", "approvals", "approve", apr)...)
	if err == nil || !strings.HasPrefix(err.Error(), "refused: 409 invalid_state: ") {
		t.Fatalf("approving twice: %v", err)
	}
	audit := mustOps(t, as(dir, "alice", "audit", "list")...)
	for _, want := range []string{"operator.step_up.enroll", "switch.set", "switch.lift"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit list has no %s:\n%s", want, audit)
		}
	}
}

// Limits against the demo: alice adds one (at once), lists it, asks to remove it (an
// approval request), bob rejects one request and approves another.
func TestOpsLimitRoundAgainstTheDemo(t *testing.T) {
	clearOpsEnv(t)
	dir := t.TempDir()
	startDemo(t, dir)

	mustOps(t, as(dir, "alice", "step-up")...)
	out := mustOps(t, as(dir, "alice", "limit", "set", "--subject", "terminal", "--subject-id", "till-01", "--operation", "pay",
		"--window", "1h", "--max-count", "3", "--max-amount", "500000", "--currency", "JPY", "--reason", "INC-42")...)
	m := regexp.MustCompile(`^set (lim_[0-9A-Za-z]+): terminal=till-01 pay any method: at most 3 operations and 500000 JPY per 1h0m0s\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("limit set printed %q", out)
	}
	lim := m[1]
	if list := mustOps(t, as(dir, "bob", "limit", "list")...); !strings.Contains(list, lim) || !strings.Contains(list, "terminal=till-01") {
		t.Fatalf("limit list:\n%s", list)
	}
	approvalID := regexp.MustCompile(`^approval (apr_[0-9A-Za-z]+): limit\.remove pending `)
	first := approvalID.FindStringSubmatch(mustOps(t, as(dir, "alice", "limit", "remove", lim, "--reason", "wrong till")...))
	if first == nil {
		t.Fatal("limit remove printed no approval")
	}
	mustOps(t, as(dir, "bob", "step-up")...)
	if out := mustOps(t, as(dir, "bob", "approvals", "reject", first[1], "--reason", "keep it")...); !strings.Contains(out, "rejected") {
		t.Fatalf("reject printed %q", out)
	}
	second := approvalID.FindStringSubmatch(mustOps(t, as(dir, "alice", "limit", "remove", lim, "--reason", "incident over")...))
	if second == nil {
		t.Fatal("limit remove printed no approval")
	}
	if out := mustOps(t, as(dir, "bob", "approvals", "approve", second[1])...); !strings.Contains(out, "executed") {
		t.Fatalf("approve printed %q", out)
	}
	if list := mustOps(t, as(dir, "bob", "limit", "list")...); strings.Contains(list, lim) {
		t.Fatalf("limit list after removal:\n%s", list)
	}
}

// A leaked store key in the runbook: alice asks to revoke the demo client's key (an
// approval request for a security admin), bob approves it; the demo's store token is then
// refused within the key TTL.
func TestOpsClientRevokeAgainstTheDemo(t *testing.T) {
	clearOpsEnv(t)
	dir := t.TempDir()
	url := startDemo(t, dir)
	mustOps(t, as(dir, "alice", "step-up")...)
	out := mustOps(t, as(dir, "alice", "client", "revoke", demoClientID, "--kid", demoKeyID, "--reason", "INC-42: key leaked")...)
	m := regexp.MustCompile(`^approval (apr_[0-9A-Za-z]+): client\.revoke pending `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("client revoke printed %q", out)
	}
	if _, err := opsCLI(t, as(dir, "alice", "--role", "operator", "client", "revoke", demoClientID, "--reason", "x")...); err == nil ||
		err.Error() != "refused: 403 forbidden: This route needs the security_admin role." {
		t.Fatalf("revoke with the operator role only: %v", err)
	}
	mustOps(t, as(dir, "bob", "step-up")...)
	if out := mustOps(t, as(dir, "bob", "approvals", "approve", m[1])...); !strings.Contains(out, "client.revoke executed by bob") {
		t.Fatalf("approve printed %q", out)
	}
	storeToken := func() int {
		var tok bytes.Buffer
		cmd := rootCommand(io.Discard)
		cmd.SetOut(&tok)
		cmd.SetArgs([]string{"token", "--demo-dir", dir})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, url+"/v1/payments", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok.String()))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitForStatus := time.Now().Add(revocationDelay + 5*time.Second)
	for storeToken() != http.StatusUnauthorized {
		if time.Now().After(waitForStatus) {
			t.Fatal("the revoked demo key still works")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Enrolment through the API: alice asks for a new enrolment of bob; neither bob (it is his
// credential) nor alice (she asked) may approve it, so it stays pending and there is nothing
// for bob to fetch — with two operators, a new TOTP secret for one of them needs a third
// security admin (the fetch-once path is tested through the router in internal/httpapi).
func TestOpsEnrollAgainstTheDemo(t *testing.T) {
	clearOpsEnv(t)
	dir := t.TempDir()
	startDemo(t, dir)
	mustOps(t, as(dir, "alice", "step-up")...)
	m := regexp.MustCompile(`^approval (apr_[0-9A-Za-z]+): operator\.enroll pending `).FindStringSubmatch(mustOps(t, as(dir, "alice", "enroll", "bob")...))
	if m == nil {
		t.Fatal("enroll printed no approval request")
	}
	mustOps(t, as(dir, "bob", "step-up")...)
	if _, err := opsCLI(t, as(dir, "bob", "approvals", "approve", m[1])...); err == nil || !strings.Contains(err.Error(), "refused: 403 forbidden: This change is for bob") {
		t.Fatalf("bob approving his own enrolment: %v", err)
	}
	if _, err := opsCLI(t, as(dir, "alice", "approvals", "approve", m[1])...); err == nil || !strings.HasPrefix(err.Error(), "refused: 403 forbidden: ") {
		t.Fatalf("alice approving her own request: %v", err)
	}
	if out := mustOps(t, as(dir, "alice", "approvals", "show", m[1])...); !strings.Contains(out, "pending") {
		t.Fatalf("show printed %q", out)
	}
	if _, err := opsCLI(t, as(dir, "bob", "enrollment")...); err == nil || !strings.HasPrefix(err.Error(), "refused: 404 not_found") {
		t.Fatalf("bob's enrolment before any approval: %v", err)
	}
}

// The demo's operators are made once: keys and TOTP secrets owner-only in the data
// directory, each enrolment audited; a restart reuses them (no new enrolment); `payhub
// token --demo-dir --operator alice` mints a token payhub's operator verifier accepts with
// both her roles.
func TestDemoOperatorsAreReusedOnRestart(t *testing.T) {
	dir := t.TempDir()
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	box, err := secrets.NewRing(secrets.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	auditKey := secrets.NewKey()
	start := func() auth.KeySource {
		t.Helper()
		keys, files, err := loadDemoOperatorKeys(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := ensureDemoOperators(ctx, st, box, auditKey, dir, "http://127.0.0.1:7100", files); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	start()
	read := func() map[string][]byte {
		files := map[string][]byte{}
		for _, name := range []string{"operator-alice.pem", "operator-bob.pem", "operator-alice.totp", "operator-bob.totp", demoOperatorsFile} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(filepath.Join(dir, name)); fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v", name, fi.Mode().Perm())
			}
			files[name] = b
		}
		return files
	}
	before := read()
	keys := start()
	after := read()
	for name, b := range before {
		if !bytes.Equal(b, after[name]) {
			t.Errorf("%s changed on restart", name)
		}
	}
	entries, err := st.ListAuditEntries(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var enrolled []string
	for _, e := range entries {
		if e.Action == "operator.step_up.enroll" && e.Actor == demoOperatorActor {
			enrolled = append(enrolled, e.Target)
		}
	}
	if !slices.Equal(enrolled, []string{"operator:alice", "operator:bob"}) {
		t.Fatalf("enrolment entries %v", enrolled)
	}
	for _, op := range demoOperatorNames {
		if _, err := st.GetOperatorTOTP(ctx, op); err != nil {
			t.Fatalf("%s not enrolled: %v", op, err)
		}
	}
	// A lost secret file is a new enrolment (audited, replaced: true).
	if err := os.Remove(filepath.Join(dir, "operator-bob.totp")); err != nil {
		t.Fatal(err)
	}
	start()
	if entries, _ := st.ListAuditEntries(ctx, 0, 0); len(entries) != 3 || !strings.Contains(string(entries[2].Params), `"replaced":true`) {
		t.Fatalf("after a lost secret: %d entries", len(entries))
	}

	var out bytes.Buffer
	cmd := rootCommand(io.Discard)
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"token", "--demo-dir", dir, "--operator", "alice"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	p, err := auth.NewVerifier(keys, auth.VerifierOptions{Operators: true}).Authenticate(ctx, "Bearer "+strings.TrimSpace(out.String()))
	if err != nil || p.ClientID != "alice" || !slices.Equal(p.Roles, demoOperatorRoles) {
		t.Fatalf("alice's token: %+v %v", p, err)
	}
	// A store token is not an operator token, and the other way round.
	if _, err := auth.NewVerifier(st, auth.VerifierOptions{}).Authenticate(ctx, "Bearer "+strings.TrimSpace(out.String())); err == nil {
		t.Fatal("the store verifier took an operator token")
	}
	cmd = rootCommand(io.Discard)
	cmd.SetOut(io.Discard)
	cmd.SetArgs([]string{"token", "--demo-dir", dir, "--operator", "mallory"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), `no operator "mallory"`) {
		t.Fatalf("an unknown demo operator: %v", err)
	}
}
