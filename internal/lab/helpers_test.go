package lab

import (
	"os/exec"
	"path/filepath"
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
