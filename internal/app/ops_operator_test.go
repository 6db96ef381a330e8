package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"payhub/internal/audit"
	"payhub/internal/clock"
	"payhub/internal/operators"
	"payhub/internal/secrets"
	"payhub/internal/store"
)

// operatorCLI runs `payhub ops operator …` against the SQLite database db.
func operatorCLI(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := rootCommand(io.Discard)
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(append(append([]string{"ops", "operator"}, args...), "--db", "sqlite:"+db))
	err := cmd.Execute()
	return out.String(), err
}

// Enrolment prints the otpauth URL and the secret once, stores the secret sealed under
// PAYHUB_SECRET_KEYS and records an audit entry without it; the secret then steps up;
// re-enrolment needs --replace; unlock lifts a lockout, audited too.
func TestOpsOperatorEnrollAndUnlock(t *testing.T) {
	ringKey := secrets.NewKey()
	t.Setenv("PAYHUB_AUDIT_KEY", testAuditKey)
	t.Setenv("PAYHUB_SECRET_KEYS", base64.StdEncoding.EncodeToString(ringKey))
	db := filepath.Join(t.TempDir(), "payhub.db")

	out, err := operatorCLI(t, db, "enroll", "--operator", "op-alice", "--actor", "sec-bob")
	if err != nil {
		t.Fatal(err)
	}
	var secret, url string
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, "secret:"); ok {
			secret = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "otpauth URL:"); ok {
			url = strings.TrimSpace(v)
		}
	}
	if len(secret) != 32 || !strings.HasPrefix(url, "otpauth://totp/payhub:op-alice?") || !strings.Contains(url, "secret="+secret) {
		t.Fatalf("enroll printed %q", out)
	}

	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o, err := st.GetOperatorTOTP(ctx, "op-alice")
	if err != nil || strings.Contains(o.SealedSecret, secret) || o.EnrolledBy != "cli:sec-bob" {
		t.Fatalf("stored %+v, %v", o, err)
	}
	entries, err := st.ListAuditEntries(ctx, 0, 0)
	if err != nil || len(entries) != 1 || entries[0].Action != "operator.step_up.enroll" || entries[0].Target != "operator:op-alice" ||
		entries[0].Actor != "cli:sec-bob" || strings.Contains(string(entries[0].Params), secret) {
		t.Fatalf("audit %+v, %v", entries, err)
	}

	// The printed secret steps up against what serve (the same ring) reads.
	box, _ := secrets.NewRing(ringKey)
	clk := clock.NewManual(time.Now())
	ups := operators.New(st, box, clk)
	code, _ := totp.GenerateCodeCustom(secret, clk.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if _, err := ups.Verify(ctx, "op-alice", code); err != nil {
		t.Fatalf("the printed secret does not step up: %v", err)
	}

	if _, err := operatorCLI(t, db, "enroll", "--operator", "op-alice"); err == nil || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("re-enrolment without --replace: %v", err)
	}
	out, err = operatorCLI(t, db, "enroll", "--operator", "op-alice", "--replace")
	if err != nil || strings.Contains(out, secret) {
		t.Fatalf("--replace: %q, %v", out, err)
	}

	// Lock op-alice out, then unlock.
	for range operators.MaxFailures {
		_, _ = ups.Verify(ctx, "op-alice", "000000")
	}
	if o, _ := st.GetOperatorTOTP(ctx, "op-alice"); o.LockedUntil == nil {
		// 000000 may have been right once in a million: then no lockout happened.
		t.Skip("000000 matched")
	}
	out, err = operatorCLI(t, db, "unlock", "--operator", "op-alice", "--actor", "sec-bob")
	if err != nil || !strings.Contains(out, "unlocked operator op-alice") {
		t.Fatalf("unlock: %q, %v", out, err)
	}
	if o, _ := st.GetOperatorTOTP(ctx, "op-alice"); o.LockedUntil != nil || o.Failures != 0 {
		t.Fatalf("after unlock %+v", o)
	}
	if _, err := operatorCLI(t, db, "unlock", "--operator", "op-nobody"); err == nil || !strings.Contains(err.Error(), "not enrolled") {
		t.Fatalf("unlock of an unknown operator: %v", err)
	}
	entries, _ = st.ListAuditEntries(ctx, 0, 0)
	if len(entries) != 3 || entries[2].Action != "operator.step_up.unlock" {
		t.Fatalf("audit after unlock: %+v", entries)
	}
	key, _ := base64.StdEncoding.DecodeString(testAuditKey)
	if _, err := audit.Check(audit.Entries(ctx, st, 0), key, nil); err != nil {
		t.Fatalf("chain: %v", err)
	}
}

// Enrolment needs both keys: no secret ring, or no audit key, and nothing is stored.
func TestOpsOperatorEnrollNeedsKeys(t *testing.T) {
	db := filepath.Join(t.TempDir(), "payhub.db")
	t.Setenv("PAYHUB_AUDIT_KEY", testAuditKey)
	t.Setenv("PAYHUB_SECRET_KEYS", "")
	t.Setenv("PAYHUB_SECRET_KEY", "")
	if _, err := operatorCLI(t, db, "enroll", "--operator", "op-alice"); err == nil || !strings.Contains(err.Error(), "PAYHUB_SECRET_KEYS") {
		t.Fatalf("without a ring: %v", err)
	}
	t.Setenv("PAYHUB_SECRET_KEYS", base64.StdEncoding.EncodeToString(secrets.NewKey()))
	t.Setenv("PAYHUB_AUDIT_KEY", "")
	if _, err := operatorCLI(t, db, "enroll", "--operator", "op-alice"); err == nil || !strings.Contains(err.Error(), "PAYHUB_AUDIT_KEY") {
		t.Fatalf("without an audit key: %v", err)
	}
	st, err := store.Open(context.Background(), "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GetOperatorTOTP(context.Background(), "op-alice"); err == nil {
		t.Fatal("enrolled without keys")
	}
}
