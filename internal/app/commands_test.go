package app

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"payhub/internal/auth"
	"payhub/internal/store/storetest"
)

func TestServeRefusesUnconfiguredPartner(t *testing.T) {
	for _, name := range []string{"PAYHUB_PAYPAY_BASE_URL", "PAYHUB_PAYPAY_API_KEY", "PAYHUB_PAYPAY_API_SECRET", "PAYHUB_PAYPAY_MERCHANT_ID"} {
		t.Setenv(name, "")
	}
	t.Setenv("PAYHUB_PAYPAY_API_KEY", "k")
	cmd := rootCommand(io.Discard)
	cmd.SetArgs([]string{"serve", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db")})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "partner paypay is not configured") ||
		!strings.Contains(err.Error(), "PAYHUB_PAYPAY_API_SECRET") || strings.Contains(err.Error(), "PAYHUB_PAYPAY_API_KEY") {
		t.Fatalf("serve started or said the wrong thing: %v", err)
	}
}

// TestDemoClientAndToken checks the demo's key file and identity: created once, reused on a
// restart, and `payhub token --demo-dir` mints a token the verifier accepts.
func TestDemoClientAndToken(t *testing.T) {
	dir := t.TempDir()
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	if err := ensureDemoClient(ctx, st, dir); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, demoKeyFile))
	if err := ensureDemoClient(ctx, st, dir); err != nil {
		t.Fatalf("second start: %v", err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, demoKeyFile)); !bytes.Equal(first, again) {
		t.Fatal("demo key changed on restart")
	}
	if fi, _ := os.Stat(filepath.Join(dir, demoKeyFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode().Perm())
	}
	var out bytes.Buffer
	cmd := rootCommand(io.Discard)
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"token", "--demo-dir", dir})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	p, err := auth.NewVerifier(st, auth.VerifierOptions{}).Authenticate(ctx, "Bearer "+strings.TrimSpace(out.String()))
	if err != nil || p.ClientID != demoClientID || p.StoreID != demoStoreID {
		t.Fatalf("demo token refused: %+v %v", p, err)
	}
}

func TestRedactorHidesSensitiveKeys(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf).Info("x", "authorization", "Bearer abc", "api_secret", "s3cr3t", "barcode", "900081818800000000", "payment_id", "pay_1")
	out := buf.String()
	for _, s := range []string{"Bearer abc", "s3cr3t", "900081818800000000"} {
		if strings.Contains(out, s) {
			t.Errorf("log shows %q: %s", s, out)
		}
	}
	if !strings.Contains(out, "pay_1") {
		t.Errorf("redactor hid an ordinary value: %s", out)
	}
}
