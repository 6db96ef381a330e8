package app

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"payhub/internal/approvals"
	"payhub/internal/auth"
	"payhub/internal/compensate"
)

func compensateCLI(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	t.Setenv("PAYHUB_AUDIT_KEY", testAuditKey)
	var out bytes.Buffer
	cmd := rootCommand(io.Discard)
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(append(append([]string{"compensate"}, args...), "--db", "sqlite:"+db))
	err := cmd.Execute()
	return out.String(), err
}

// TestCompensateNeedsTwoPersonApproval: `compensate request` stores a compensation.run
// approval of the file's SHA-256; `compensate run` refuses while it is pending, and once
// approved by another operator, refuses another file under it.
func TestCompensateNeedsTwoPersonApproval(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "payhub.db")
	claims := filepath.Join(dir, "claims.csv")
	if err := os.WriteFile(claims, []byte("claim_id,victim_id,original_id,amount\nc1,u1,pay_01K00000000000000000000000,100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := compensateCLI(t, db, "request", claims, "--actor", "alice")
	if err != nil {
		t.Fatalf("request: %v\n%s", err, out)
	}
	id := regexp.MustCompile(`apr_[0-9A-Z]+`).FindString(out)
	if id == "" {
		t.Fatalf("no approval id: %s", out)
	}
	if _, err := compensateCLI(t, db, "run", claims); err == nil || !strings.Contains(err.Error(), "--approval") {
		t.Fatalf("run without approval: %v", err)
	}
	if _, err := compensateCLI(t, db, "run", claims, "--approval", id); err == nil || !strings.Contains(err.Error(), "pending") {
		t.Fatalf("run under a pending approval: %v", err)
	}
	st := openClientDB(t, db)
	svc := approvals.New(approvals.Config{Store: st, AuditKey: []byte("0123456789abcdef0123456789abcdef")})
	compensate.RegisterApproval(svc)
	a, err := svc.Approve(context.Background(), id, "op-bob", []string{auth.RoleOperator}, "")
	if err != nil || a.Status != "executed" {
		t.Fatalf("approve: %+v, %v", a, err)
	}
	other := filepath.Join(dir, "other.csv")
	if err := os.WriteFile(other, []byte("claim_id,victim_id,original_id,amount\nc1,u1,pay_01K00000000000000000000000,999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := compensateCLI(t, db, "run", other, "--approval", id); err == nil || !strings.Contains(err.Error(), "not this one") {
		t.Fatalf("another file under the approval: %v", err)
	}
	b, _ := os.ReadFile(claims)
	if err := compensate.CheckApproval(context.Background(), st, id, compensate.FileSHA256(b)); err != nil {
		t.Fatalf("the approved file: %v", err)
	}
}
