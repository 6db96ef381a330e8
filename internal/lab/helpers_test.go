package lab

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Test credentials of the PayPay simulator the benchmarks start.
const (
	testPayPayKey      = "test-paypay-key-7f3a"
	testPayPaySecret   = "test-paypay-secret-c0ffee-do-not-log"
	testPayPayMerchant = "test-merchant-01"
)

// buildLab builds payhub and payhub-lab side by side into dir, as the README does, and
// returns payhub-lab's path.
func buildLab(t *testing.T, dir string) string {
	t.Helper()
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "../../cmd/payhub", "../../cmd/payhub-lab")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "payhub-lab")
}

// A child gets exactly the PAYHUB_* variables the lab gives it: half a partner's variables
// exported in the caller's shell would otherwise stop serve.
func TestChildEnvDropsTheCallersPayhubVariables(t *testing.T) {
	t.Setenv("PAYHUB_LINEPAY_CHANNEL_ID", "half-configured")
	t.Setenv("PAYHUB_DATABASE_URL", "postgres://elsewhere")
	env := childEnv([]string{"PAYHUB_PAYPAY_BASE_URL=http://127.0.0.1:1"})
	var payhub []string
	path := false
	for _, kv := range env {
		if strings.HasPrefix(kv, "PAYHUB_") {
			payhub = append(payhub, kv)
		}
		path = path || strings.HasPrefix(kv, "PATH=")
	}
	if len(payhub) != 1 || payhub[0] != "PAYHUB_PAYPAY_BASE_URL=http://127.0.0.1:1" || !path {
		t.Fatalf("child PAYHUB_* %v (PATH kept %v)", payhub, path)
	}
}
