package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"payhub/internal/audit"
)

// testAuditKey is PAYHUB_AUDIT_KEY in the app's tests.
var testAuditKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// auditCLI runs `payhub audit …` in process against the SQLite database db. An error is
// exit status 1 (cmd/payhub exits 1 when Execute fails).
func auditCLI(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	t.Setenv("PAYHUB_AUDIT_KEY", testAuditKey)
	var out bytes.Buffer
	cmd := rootCommand(io.Discard)
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(append(append([]string{"audit"}, args...), "--db", "sqlite:"+db))
	err := cmd.Execute()
	return out.String(), err
}

// TestClientChangesAreAudited: every client command writes one audit entry, in the
// transaction of its change, and `payhub audit verify` proves the chain intact (exit 0),
// names the first bad entry after an edit in the database (exit 1), and with an anchor
// detects a truncation.
func TestClientChangesAreAudited(t *testing.T) {
	db := filepath.Join(t.TempDir(), "payhub.db")
	pub, _ := newPublicKeyFile(t)
	pub2, _ := newPublicKeyFile(t)
	steps := [][]string{
		{"register", "--client", "pos-1", "--kid", "k1", "--public-key", pub, "--store", "store-1", "--actor", "alice"},
		{"set-return-origins", "--client", "pos-1", "--return-origin", "https://shop.example", "--actor", "alice"},
		{"rotate-key", "--client", "pos-1", "--kid", "k2", "--public-key", pub2, "--revoke-old", "--actor", "bob"},
		{"revoke", "--kid", "k2", "--actor", "bob"},
		{"revoke", "--kid", "k2", "--actor", "bob"}, // already revoked: no change, no entry
	}
	for _, s := range steps {
		if out, err := clientChange(t, db, s...); err != nil {
			t.Fatalf("client %v: %v\n%s", s, err, out)
		}
	}
	// A refused change leaves no entry.
	if _, err := clientCLI(t, db, "register", "--client", "pos-1", "--kid", "k9", "--public-key", pub, "--store", "store-1"); err == nil {
		t.Fatal("a second registration of pos-1 succeeded")
	}
	st := openClientDB(t, db)
	entries, err := st.ListAuditEntries(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Each change to who may call payhub is asked for (approval.request), runs when a
	// second identity approves it (the change's own entry, then approval.approve).
	want := []string{"cli:alice approval.request", "cli:alice client.register client:pos-1", "op-sec approval.approve",
		"cli:alice client.set_return_origins client:pos-1",
		"cli:bob approval.request", "cli:bob client.rotate_key client:pos-1", "op-sec approval.approve",
		"cli:bob approval.request", "cli:bob client.revoke_key client:pos-1", "op-sec approval.approve"}
	if len(entries) != len(want) {
		t.Fatalf("%d audit entries, want %d: %+v", len(entries), len(want), entries)
	}
	for i, e := range entries {
		got := e.Actor + " " + e.Action + " " + e.Target
		if strings.HasSuffix(e.Action, "approval.request") || strings.HasSuffix(e.Action, "approval.approve") {
			got = e.Actor + " " + e.Action
			if !strings.HasPrefix(e.Target, "approval:apr_") {
				t.Errorf("entry %d names %q, want the approval", i+1, e.Target)
			}
		}
		if got != want[i] {
			t.Errorf("entry %d = %q, want %q", i+1, got, want[i])
		}
	}
	if p := string(entries[0].Params); !strings.Contains(p, `"public_key":"sha256:`) || strings.Contains(p, "BEGIN PUBLIC KEY") ||
		!strings.Contains(p, `"params_hash":"sha256:`) {
		t.Errorf("approval.request params = %s", p)
	}
	if p := string(entries[2].Params); !strings.Contains(p, `"requested_by":"cli:alice"`) || !strings.Contains(p, `"approved_by":"op-sec"`) {
		t.Errorf("approval.approve params = %s", p)
	}
	if p := string(entries[1].Params); !strings.Contains(p, `"kid":"k1"`) || !strings.Contains(p, `"public_key":"sha256:`) ||
		strings.Contains(p, "BEGIN PUBLIC KEY") {
		t.Errorf("register params = %s", p)
	}
	if p := string(entries[5].Params); !strings.Contains(p, `"revoked":["k1"]`) {
		t.Errorf("rotate-key params = %s, want k1 revoked", p)
	}

	out, err := auditCLI(t, db, "verify")
	if err != nil || !strings.HasPrefix(out, "10 entries, chain intact, head 10/"+entries[9].Hash) {
		t.Fatalf("verify intact: %v\n%s", err, out)
	}
	anchorFile := filepath.Join(t.TempDir(), "anchor.json")
	if out, err := auditCLI(t, db, "anchor", "--out", anchorFile); err != nil || !strings.Contains(out, "anchored head 10/") {
		t.Fatalf("anchor: %v\n%s", err, out)
	}
	if out, err := auditCLI(t, db, "list", "--limit", "2"); err != nil || strings.Count(out, "\n") != 2 ||
		!strings.HasPrefix(out, "9 ") || !strings.Contains(out, "client.revoke_key") {
		t.Fatalf("list --limit 2: %v\n%s", err, out)
	}

	// An attacker with the database file drops the triggers and edits entry 2.
	raw, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(15000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{"DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete",
		"UPDATE audit_log SET actor = 'cli:mallory' WHERE seq = 2"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	out, err = auditCLI(t, db, "verify")
	var broken *audit.BrokenError
	if !errors.Is(err, errChainBroken) || !errors.As(err, &broken) || broken.Seq != 2 ||
		!strings.Contains(out, "audit log broken at entry 2: hash does not match") {
		t.Fatalf("verify after an edit: %v\n%s", err, out)
	}
	if _, err := auditCLI(t, db, "anchor"); err == nil {
		t.Fatal("a broken chain was anchored")
	}

	// Undo the edit (impossible without the key in general; here the test restores it), then
	// truncate the tail: only the anchor can tell.
	if _, err := raw.Exec("UPDATE audit_log SET actor = 'cli:alice' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("DELETE FROM audit_log WHERE seq >= 3"); err != nil {
		t.Fatal(err)
	}
	if out, err := auditCLI(t, db, "verify"); err != nil || !strings.HasPrefix(out, "2 entries, chain intact") {
		t.Fatalf("verify without the anchor: %v\n%s", err, out)
	}
	out, err = auditCLI(t, db, "verify", "--anchor", anchorFile)
	if !errors.As(err, &broken) || broken.Seq != 3 || !strings.Contains(out, "truncated") {
		t.Fatalf("verify --anchor after truncation: %v\n%s", err, out)
	}

	// No key, no verification and no audited change.
	t.Setenv("PAYHUB_AUDIT_KEY", "")
	cmd := rootCommand(io.Discard)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"audit", "verify", "--db", "sqlite:" + db})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "PAYHUB_AUDIT_KEY") {
		t.Fatalf("verify without a key: %v", err)
	}
	cmd = rootCommand(io.Discard)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"client", "revoke", "--kid", "k1", "--db", "sqlite:" + db})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "PAYHUB_AUDIT_KEY") {
		t.Fatalf("client revoke without an audit key: %v", err)
	}
}

// TestServeRefusesWithoutAuditKey: serve does not start without PAYHUB_AUDIT_KEY.
func TestServeRefusesWithoutAuditKey(t *testing.T) {
	t.Setenv("PAYHUB_PAYPAY_BASE_URL", "http://127.0.0.1:1")
	t.Setenv("PAYHUB_PAYPAY_API_KEY", "k")
	t.Setenv("PAYHUB_PAYPAY_API_SECRET", "s")
	t.Setenv("PAYHUB_PAYPAY_MERCHANT_ID", "m")
	t.Setenv("PAYHUB_SECRET_KEYS", testAuditKey)
	t.Setenv("PAYHUB_AUDIT_KEY", "")
	cmd := rootCommand(io.Discard)
	cmd.SetArgs([]string{"serve", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db"), "--metrics-addr", ""})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "PAYHUB_AUDIT_KEY") {
		t.Fatalf("serve without an audit key: %v", err)
	}
}
