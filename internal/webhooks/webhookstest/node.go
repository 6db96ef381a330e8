// Package webhookstest checks payhub's store notifications the way a store's Node receiver
// does: with the reference npm library standardwebhooks (pinned in
// tests/npm/standardwebhooks), unchanged. A signature it rejects is wrong. Tests only.
package webhookstest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Case is one delivery for the library: the receiver's secret and what arrived.
type Case struct {
	// Secret is the receiver's whsec_ secret.
	Secret string `json:"secret"`
	// ID, Timestamp and Signature are the webhook-id, webhook-timestamp and
	// webhook-signature headers.
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Signature string `json:"signature"`
	// Body is the raw body.
	Body string `json:"body"`
}

// NodeVerify installs the pinned library from checkDir (tests/npm/standardwebhooks) into a
// temporary directory and reports, per case, whether new Webhook(secret).verify(body,
// headers) accepts it. The library checks timestamps against the real clock, so cases must
// be signed now. Without node and npm it skips the test, except under CI=true where it
// fails; with -short it skips.
func NodeVerify(t testing.TB, checkDir string, cases []Case) []bool {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped in -short mode: installs standardwebhooks with npm")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not on PATH; CI must run the standardwebhooks check", tool)
			}
			t.Skipf("%s is not on PATH: skipping the standardwebhooks check (set up Node 20+ to run it)", tool)
		}
	}
	dir := t.TempDir()
	for _, name := range []string{"package.json", "package-lock.json", "verify.js"} {
		b, err := os.ReadFile(filepath.Join(checkDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run(t, ctx, dir, nil, "npm", "install", "--no-audit", "--no-fund")
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, ctx, dir, in, "node", "verify.js")
	t.Logf("verify.js:\n%s", out)
	_, line, ok := strings.Cut(out, "RESULT ")
	if !ok {
		t.Fatal("verify.js printed no RESULT line")
	}
	line, _, _ = strings.Cut(line, "\n")
	var got []bool
	if err := json.Unmarshal([]byte(line), &got); err != nil || len(got) != len(cases) {
		t.Fatalf("RESULT line %q: %v", line, err)
	}
	return got
}

// run runs a command in dir with stdin and fails the test with its output when it exits
// non-zero.
func run(t testing.TB, ctx context.Context, dir string, stdin []byte, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
