package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/auth"
)

// TestRunbookAgainstTheDemo executes the README's "credential stuffing in progress"
// runbook (issue 17, Done-when 7) as written — every command of its two shell blocks, with
// the payhub binary on PATH — against a running `payhub demo`, and checks what a till sees
// after each: contained (top-ups 503 operation_disabled, the suspect till 503, the fourth
// payment of one nanaco card 429 limit_exceeded, a client registration approved during the
// incident failing on its switch, other payments going on) and recovered (top-ups back).
func TestRunbookAgainstTheDemo(t *testing.T) {
	clearOpsEnv(t)
	work := t.TempDir()
	bin := filepath.Join(t.TempDir(), "payhub")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/payhub").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(work, "payhub-demo")
	url := startDemo(t, dir)
	contain, recover := runbookBlocks(t)

	start := time.Now()
	out := runShell(t, work, filepath.Dir(bin), contain)
	t.Logf("containment ran in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	if !strings.Contains(out, "chain intact") {
		t.Fatalf("the audit chain was not verified:\n%s", out)
	}
	if anchor, err := os.ReadFile(filepath.Join(work, "audit-anchor-INC-credential-stuffing.json")); err != nil || !bytes.Contains(anchor, []byte(`"hash"`)) {
		t.Fatalf("anchor: %s %v", anchor, err)
	}

	till := demoTill{t: t, url: url, dir: dir}
	expectCode(t, till.post("/v1/nanaco/top-ups", topUp("till-01")), http.StatusServiceUnavailable, "operation_disabled")
	expectCode(t, till.post("/v1/payments", nanacoAt("till-13", 100)), http.StatusServiceUnavailable, "operation_disabled")
	for i := range 3 {
		expectCode(t, till.post("/v1/payments", nanacoAt("till-01", 100+i)), http.StatusCreated, "")
	}
	expectCode(t, till.post("/v1/payments", nanacoAt("till-02", 200)), http.StatusTooManyRequests, "limit_exceeded")
	paypay := map[string]any{"amount": 500, "currency": "JPY", "method": "paypay", "flow": "barcode", "barcode": "900081818800000000", "terminal_id": "till-02"}
	expectCode(t, till.post("/v1/payments", paypay), http.StatusCreated, "")
	registrationDuringTheIncident(t, dir)

	out = runShell(t, work, filepath.Dir(bin), recover)
	t.Logf("recovery:\n%s", out)
	if !regexp.MustCompile(`approval apr_\w+: switch\.lift executed by bob`).MatchString(out) {
		t.Fatalf("the top-up switch was not lifted through bob's approval:\n%s", out)
	}
	// Every instance re-reads within 500 ms; the demo is one.
	deadline := time.Now().Add(3 * time.Second)
	for {
		r := till.post("/v1/nanaco/top-ups", topUp("till-01"))
		if r.status == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("top-ups still refused after the recovery: %d %s", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	expectCode(t, till.post("/v1/payments", nanacoAt("till-13", 100)), http.StatusServiceUnavailable, "operation_disabled")
}

// runbookBlocks are the two shell blocks of the README's runbook: contain and recover.
func runbookBlocks(t *testing.T) (string, string) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Runbook: credential stuffing in progress\n")
	if !ok {
		t.Fatal("the README has no credential-stuffing runbook")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) != 2 {
		t.Fatalf("the runbook has %d shell blocks, want 2 (contain, recover)", len(blocks))
	}
	return blocks[0][1], blocks[1][1]
}

// runShell runs script with sh -eu in dir, with binDir first on PATH; any failing command
// fails the test.
func runShell(t *testing.T, dir, binDir, script string) string {
	t.Helper()
	cmd := exec.Command("sh", "-eu", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"), "PAYHUB_URL=", "PAYHUB_OPS_TOKEN=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("runbook block failed: %v\n%s", err, out)
	}
	return string(out)
}

// demoTill is the demo's store client, as a till calls payhub.
type demoTill struct {
	t   *testing.T
	url string
	dir string
}

type tillAnswer struct {
	status int
	body   []byte
}

func (d demoTill) post(path string, body map[string]any) tillAnswer {
	d.t.Helper()
	id, err := readDemoIdentity(d.dir)
	if err != nil {
		d.t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(d.dir, demoKeyFile))
	if err != nil {
		d.t.Fatal(err)
	}
	key, err := auth.ParsePrivateKeyPEM(pemBytes)
	if err != nil {
		d.t.Fatal(err)
	}
	tok, err := auth.Mint(auth.TokenRequest{Key: key, KeyID: id.KeyID, ClientID: id.ClientID, StoreID: id.StoreID,
		IssuedAt: time.Now(), TTL: time.Minute})
	if err != nil {
		d.t.Fatal(err)
	}
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, d.url+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", contracts.PrefixPayment+time.Now().Format("150405.000000000"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return tillAnswer{status: resp.StatusCode, body: buf.Bytes()}
}

func expectCode(t *testing.T, r tillAnswer, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && !bytes.Contains(r.body, []byte(`"code":"`+code+`"`))) {
		t.Fatalf("answered %d %s, want %d %s", r.status, r.body, status, code)
	}
}

// topUp is a cash top-up of ¥1,000 onto the demo's fixture nanaco card at till.
func topUp(till string) map[string]any {
	return map[string]any{"presented_card": map[string]any{"number": "7000000000000001"}, "terminal_id": till,
		"amount": 1000, "currency": "JPY", "funding": "cash"}
}

// nanacoAt is a payment of amount yen by the demo's fixture nanaco card at till.
func nanacoAt(till string, amount int) map[string]any {
	return map[string]any{"amount": amount, "currency": "JPY", "method": "nanaco", "flow": "card_present",
		"presented_card": map[string]any{"number": "7000000000000001"}, "terminal_id": till}
}

// registrationDuringTheIncident: a client registration asked for and approved while the
// client_registration switch is in force fails with its reason; nothing is registered.
func registrationDuringTheIncident(t *testing.T, dir string) {
	t.Helper()
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := auth.MarshalPublicKeyPEM(key.Public())
	pubFile := filepath.Join(t.TempDir(), "pos.pub.pem")
	if err := os.WriteFile(pubFile, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	asked := mustOps(t, as(dir, "alice", "client", "register", "--client", "pos-new", "--kid", "pos-new-1", "--public-key", pubFile, "--store", "store-001")...)
	apr := regexp.MustCompile(`apr_[0-9A-Z]{26}`).FindString(asked)
	if apr == "" {
		t.Fatalf("register printed %q", asked)
	}
	mustOps(t, as(dir, "bob", "step-up")...)
	done, err := opsCLI(t, as(dir, "bob", "approvals", "approve", apr)...)
	if err == nil || !strings.Contains(done, "client.register failed") || !strings.Contains(done, "operation_disabled") {
		t.Fatalf("approving a registration during the incident: %v, printed %q", err, done)
	}
}
