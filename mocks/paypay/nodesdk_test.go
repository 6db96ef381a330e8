package paypay

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sdkCheckDir is tests/npm/paypay-sdk, relative to this package.
const sdkCheckDir = "../../tests/npm/paypay-sdk"

// TestOfficialNodeSDK runs the official PayPay Node SDK (tests/npm/paypay-sdk/check.js)
// against the simulator in strict signature mode: QR create → pay via /_sim →
// getCodePaymentDetails, createPayment → getPaymentDetails → paymentRefund →
// getRefundDetails. It needs node and npm (and the npm registry); without them it skips,
// except under CI=true where it fails.
func TestOfficialNodeSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: installs the PayPay Node SDK with npm")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not on PATH; CI must run the official PayPay Node SDK check", tool)
			}
			t.Skipf("%s is not on PATH: skipping the official PayPay Node SDK check (set up Node 20+ to run it)", tool)
		}
	}

	s := New(Config{APIKey: "sdk-check-key", APISecret: "sdk-check-secret", MerchantID: "sdk-check-merchant"})
	srv := httptest.NewUnstartedServer(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	dir := t.TempDir()
	for _, name := range []string{"package.json", "package-lock.json", "check.js"} {
		b, err := os.ReadFile(filepath.Join(sdkCheckDir, name))
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
	out := run(t, ctx, dir, []string{
		"PAYHUB_PAYPAY_API_KEY=sdk-check-key",
		"PAYHUB_PAYPAY_API_SECRET=sdk-check-secret",
		"PAYHUB_PAYPAY_MERCHANT_ID=sdk-check-merchant",
	}, "node", "check.js", "127.0.0.1", port)
	t.Logf("check.js:\n%s", out)

	var result struct {
		QRMerchantPaymentID string `json:"qrMerchantPaymentId"`
		MerchantPaymentID   string `json:"merchantPaymentId"`
		PaymentID           string `json:"paymentId"`
		MerchantRefundID    string `json:"merchantRefundId"`
	}
	_, line, ok := strings.Cut(out, "RESULT ")
	if !ok {
		t.Fatal("check.js printed no RESULT line")
	}
	line, _, _ = strings.Cut(line, "\n")
	if err := json.Unmarshal([]byte(line), &result); err != nil {
		t.Fatalf("RESULT line %q: %v", line, err)
	}

	qr, ok := s.Payment(result.QRMerchantPaymentID)
	if !ok || qr.Kind != KindQR || qr.Status != StatusCompleted || qr.Amount != 1200 {
		t.Fatalf("QR payment in the ledger: %+v (found %v)", qr, ok)
	}
	p, ok := s.Payment(result.MerchantPaymentID)
	if !ok || p.Kind != KindLinkedUser || p.PaymentID != result.PaymentID || p.Amount != 800 || p.Status != StatusRefunded {
		t.Fatalf("linked-user payment in the ledger: %+v (found %v)", p, ok)
	}
	if len(p.Refunds) != 1 || p.Refunds[0].MerchantRefundID != result.MerchantRefundID || p.Refunds[0].Amount != 300 {
		t.Fatalf("refunds in the ledger: %+v", p.Refunds)
	}
}

// run runs a command in dir, failing the test with its output when it exits non-zero.
func run(t *testing.T, ctx context.Context, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "npm_config_update_notifier=false"), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
