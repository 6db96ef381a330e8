// Package npmcheck runs the npm clients payhub is held to (PayPay's official SDK, the
// standardwebhooks verifier, line-pay-merchant) from Go tests: it installs a check
// directory's locked dependencies into a temporary directory, so no node_modules is left
// in the repository, and runs node there. Tests only.
package npmcheck

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

// Install copies files from checkDir (e.g. tests/npm/standardwebhooks) into a temporary
// directory and runs `npm install` there from the committed lockfile; it returns the
// directory. Without node and npm it skips the test, except under CI=true where it fails;
// with -short it skips.
func Install(t testing.TB, checkDir string, files ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipped in -short mode: installs %s with npm", filepath.Base(checkDir))
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not on PATH; CI must run the %s check", tool, filepath.Base(checkDir))
			}
			t.Skipf("%s is not on PATH: skipping the %s check (set up Node 20+ to run it)", tool, filepath.Base(checkDir))
		}
	}
	dir := t.TempDir()
	for _, name := range files {
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
	Run(t, ctx, dir, nil, nil, "npm", "install", "--no-audit", "--no-fund")
	return dir
}

// Run runs a command in dir with env added and stdin, failing the test with its output
// when it exits non-zero; it returns the combined output.
func Run(t testing.TB, ctx context.Context, dir string, env []string, stdin []byte, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "npm_config_update_notifier=false"), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// Result decodes the JSON after the last "RESULT " a check script printed into v.
func Result(t testing.TB, out string, v any) {
	t.Helper()
	i := strings.LastIndex(out, "RESULT ")
	if i < 0 {
		t.Fatalf("the check printed no RESULT line:\n%s", out)
	}
	line, _, _ := strings.Cut(out[i+len("RESULT "):], "\n")
	if err := json.Unmarshal([]byte(line), v); err != nil {
		t.Fatalf("RESULT line %q: %v", line, err)
	}
}
