package app

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/audit"
	"payhub/internal/auth"
	"payhub/internal/clock"
	"payhub/internal/store"
)

// clientCLI runs `payhub client …` against the SQLite database db and returns its output.
func clientCLI(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	t.Setenv("PAYHUB_AUDIT_KEY", testAuditKey) // client changes are audited (docs/security.md §9)
	var out bytes.Buffer
	cmd := rootCommand(io.Discard)
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(append(append([]string{"client"}, args...), "--db", "sqlite:"+db))
	err := cmd.Execute()
	return out.String(), err
}

// newPublicKeyFile writes a fresh Ed25519 public key (PKIX PEM) and returns its file and
// private key.
// approvalRequested finds the approval a client change asked for in its output.
var approvalRequested = regexp.MustCompile(`approval (apr_[0-9A-Z]{26}) requested`)

// clientChange runs a `payhub client …` change; when it asked for a two-person approval
// (docs/security.md §8), a second identity, security admin op-sec, approves it through the
// approvals service, and the outcome is appended to the output.
func clientChange(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	out, err := clientCLI(t, db, args...)
	m := approvalRequested.FindStringSubmatch(out)
	if err != nil || m == nil {
		return out, err
	}
	if !strings.Contains(out, "waiting for a security_admin to approve: payhub ops approvals approve "+m[1]) {
		t.Errorf("the request does not say who approves it: %s", out)
	}
	key, _ := base64.StdEncoding.DecodeString(testAuditKey)
	a, err := approvals.New(approvals.Config{Store: openClientDB(t, db), AuditKey: key}).
		Approve(context.Background(), m[1], "op-sec", []string{auth.RoleSecurityAdmin}, "")
	if err != nil {
		return out, err
	}
	if a.Status != contracts.ApprovalExecuted {
		return out, fmt.Errorf("approval %s %s: %s", a.ID, a.Status, a.Result)
	}
	return out + fmt.Sprintf("approved %s: %s\n", a.ID, a.Result), nil
}

func newPublicKeyFile(t *testing.T) (string, crypto.Signer) {
	t.Helper()
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := auth.MarshalPublicKeyPEM(key.Public())
	path := filepath.Join(t.TempDir(), "pub.pem")
	if err := os.WriteFile(path, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

func openClientDB(t *testing.T, db string) contracts.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestClientRegisterRefusesKeyIDsNoTokenCanCarry: issue 15. `payhub client register`
// registered keys under ids no token can name (the verifier takes only
// ^[A-Za-z0-9._-]{1,64}$), such as "bad kid/../x": a key nobody can use, and a kid with
// path and space characters in the database and the logs. Now it is refused and nothing
// is written; client and store ids follow the same rule.
func TestClientRegisterRefusesKeyIDsNoTokenCanCarry(t *testing.T) {
	db := filepath.Join(t.TempDir(), "payhub.db")
	pub, _ := newPublicKeyFile(t)
	for _, bad := range [][]string{
		{"--kid", "bad kid/../x"}, {"--kid", "with space"}, {"--kid", "a/b"}, {"--kid", strings.Repeat("k", 65)},
		{"--kid", "ключ"}, {"--kid", "kid\n"}, {"--kid", ""},
		{"--kid", "ok-1", "--client", "pos 1"}, {"--kid", "ok-2", "--store", "store/../1"},
	} {
		args := append([]string{"register", "--client", "pos-1", "--store", "store-1", "--public-key", pub}, bad...)
		if out, err := clientCLI(t, db, args...); err == nil {
			t.Errorf("register %q was accepted: %s", bad, out)
		}
	}
	st := openClientDB(t, db)
	if _, _, err := st.LookupClientKey(context.Background(), "bad kid/../x"); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("the refused kid was registered: %v", err)
	}
	if _, err := clientChange(t, db, "register", "--client", "pos-1", "--store", "store-1", "--kid", "pos-1.key_2026-01", "--public-key", pub); err != nil {
		t.Fatalf("a good kid: %v", err)
	}
}

// mint signs a token of client pos-1 for store-1 with key kid, issued at at.
func mint(t *testing.T, key crypto.Signer, kid string, at time.Time) string {
	t.Helper()
	tok, err := auth.Mint(auth.TokenRequest{Key: key, KeyID: kid, ClientID: "pos-1", StoreID: "store-1", IssuedAt: at, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

// TestLeakedKeyIsRevokedByACommand: issue 15. A leaked store key could be revoked only in
// SQL. Now `payhub client revoke --kid` does it: a fresh process refuses the key at once,
// and a running one, which trusts a key it read for auth.DefaultKeyTTL (5 s), refuses it
// at the latest 5 s later.
func TestLeakedKeyIsRevokedByACommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "payhub.db")
	pub, key := newPublicKeyFile(t)
	if _, err := clientChange(t, db, "register", "--client", "pos-1", "--store", "store-1", "--kid", "pos-1-key-1", "--public-key", pub); err != nil {
		t.Fatal(err)
	}
	st := openClientDB(t, db)
	clk := clock.NewManual(time.Now())
	running := auth.NewVerifier(st, auth.VerifierOptions{Clock: clk, KeyTTL: auth.DefaultKeyTTL})
	ctx := context.Background()
	if _, err := running.Authenticate(ctx, mint(t, key, "pos-1-key-1", clk.Now())); err != nil {
		t.Fatalf("before the revocation: %v", err)
	}
	// Asking changes nothing: the key works until a second person approves.
	asked, err := clientCLI(t, db, "revoke", "--kid", "pos-1-key-1", "--reason", "leaked")
	if err != nil || !strings.Contains(asked, "revoke key pos-1-key-1 of client pos-1") || !strings.Contains(asked, "within 5s") {
		t.Fatalf("revoke: %v: %s", err, asked)
	}
	if _, err := auth.NewVerifier(st, auth.VerifierOptions{Clock: clk}).Authenticate(ctx, mint(t, key, "pos-1-key-1", clk.Now())); err != nil {
		t.Fatalf("the key was revoked before anyone approved: %v", err)
	}
	id := approvalRequested.FindStringSubmatch(asked)[1]
	auditKey, _ := base64.StdEncoding.DecodeString(testAuditKey)
	svc := approvals.New(approvals.Config{Store: st, AuditKey: auditKey})
	if _, err := svc.Approve(ctx, id, "cli:"+osUser(t), []string{auth.RoleSecurityAdmin}, ""); !isForbidden(err) {
		t.Fatalf("the requester approved their own revocation: %v", err)
	}
	a, err := svc.Approve(ctx, id, "op-sec", []string{auth.RoleSecurityAdmin}, "")
	if err != nil || a.Status != contracts.ApprovalExecuted || !strings.Contains(string(a.Result), `"revoked":["pos-1-key-1"]`) {
		t.Fatalf("approve the revocation: %+v, %v", a, err)
	}
	fresh := auth.NewVerifier(st, auth.VerifierOptions{Clock: clk, KeyTTL: auth.DefaultKeyTTL})
	if _, err := fresh.Authenticate(ctx, mint(t, key, "pos-1-key-1", clk.Now())); err == nil {
		t.Fatal("a process that had not read the key yet accepts it after the revocation")
	}
	clk.Advance(auth.DefaultKeyTTL)
	if _, err := running.Authenticate(ctx, mint(t, key, "pos-1-key-1", clk.Now())); err == nil {
		t.Fatalf("a running process accepts the revoked key %s after the revocation", auth.DefaultKeyTTL)
	}
	if out, err := clientChange(t, db, "revoke", "--kid", "pos-1-key-1"); err != nil || !strings.Contains(out, "already revoked") {
		t.Fatalf("revoke again: %v: %s", err, out)
	}
	if _, err := clientChange(t, db, "revoke", "--kid", "nobody-1"); err == nil {
		t.Fatal("revoking an unknown key succeeded")
	}
}

// TestRotateKeyAndList: rotate-key adds a key while the old one keeps working (no gap),
// --revoke-old revokes the others at once (a leak), and list shows it all.
func TestRotateKeyAndList(t *testing.T) {
	db := filepath.Join(t.TempDir(), "payhub.db")
	pub1, key1 := newPublicKeyFile(t)
	pub2, key2 := newPublicKeyFile(t)
	pub3, key3 := newPublicKeyFile(t)
	if _, err := clientChange(t, db, "register", "--client", "pos-1", "--store", "store-1", "--kid", "k1", "--public-key", pub1,
		"--return-origin", "https://Shop.Example:443/", "--return-origin", "https://shop.example"); err != nil {
		t.Fatal(err)
	}
	st := openClientDB(t, db)
	ctx := context.Background()
	v := auth.NewVerifier(st, auth.VerifierOptions{})
	out, err := clientChange(t, db, "rotate-key", "--client", "pos-1", "--kid", "k2", "--public-key", pub2)
	if err != nil || !strings.Contains(out, "payhub client revoke --kid k1") {
		t.Fatalf("rotate-key: %v: %s", err, out)
	}
	for kid, key := range map[string]crypto.Signer{"k1": key1, "k2": key2} {
		if _, err := v.Authenticate(ctx, mint(t, key, kid, time.Now())); err != nil {
			t.Fatalf("after rotate-key, %s: %v", kid, err)
		}
	}
	for _, bad := range [][]string{
		{"--client", "pos-1", "--kid", "k2", "--public-key", pub3},     // taken
		{"--client", "pos-9", "--kid", "k9", "--public-key", pub3},     // no such client
		{"--client", "pos-1", "--kid", "k 3/..", "--public-key", pub3}, // no token can name it
	} {
		if out, err := clientChange(t, db, append([]string{"rotate-key"}, bad...)...); err == nil {
			t.Errorf("rotate-key %q succeeded: %s", bad, out)
		}
	}
	if out, err := clientChange(t, db, "rotate-key", "--client", "pos-1", "--kid", "k3", "--public-key", pub3, "--revoke-old"); err != nil ||
		!strings.Contains(out, "key k1 is revoked") || !strings.Contains(out, "key k2 is revoked") {
		t.Fatalf("rotate-key --revoke-old: %v: %s", err, out)
	}
	for kid, key := range map[string]crypto.Signer{"k1": key1, "k2": key2} {
		if _, err := v.Authenticate(ctx, mint(t, key, kid, time.Now())); err == nil {
			t.Fatalf("%s still accepted after rotate-key --revoke-old", kid)
		}
	}
	if _, err := v.Authenticate(ctx, mint(t, key3, "k3", time.Now())); err != nil {
		t.Fatalf("the new key: %v", err)
	}
	out, err = clientCLI(t, db, "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"client pos-1 (pos-1)", "stores: store-1", "return origins: https://shop.example\n",
		"key k1 EdDSA", "key k3 EdDSA", ", active", ", revoked "} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
}

// Return origins are checked and normalised when registered, and replaced by
// set-return-origins.
func TestClientReturnOrigins(t *testing.T) {
	db := filepath.Join(t.TempDir(), "payhub.db")
	pub, _ := newPublicKeyFile(t)
	for _, bad := range []string{"http://shop.example", "https://shop.example/thanks", "https://user@shop.example", "shop.example",
		"https://*.example", "https://shop.example?x=1"} {
		if out, err := clientChange(t, db, "register", "--client", "pos-1", "--store", "store-1", "--kid", "k1", "--public-key", pub,
			"--return-origin", bad); err == nil {
			t.Errorf("origin %q accepted: %s", bad, out)
		}
	}
	out, err := clientChange(t, db, "register", "--client", "pos-1", "--store", "store-1", "--kid", "k1", "--public-key", pub,
		"--return-origin", "HTTPS://Shop.Example.:443", "--return-origin", "http://127.0.0.1:8080")
	if err != nil || !strings.Contains(out, "return origins: https://shop.example http://127.0.0.1:8080") ||
		!strings.Contains(out, "loopback origin") {
		t.Fatalf("register: %v: %s", err, out)
	}
	st := openClientDB(t, db)
	ctx := context.Background()
	if c, err := st.GetStoreClient(ctx, "pos-1"); err != nil || !slices.Equal(c.ReturnOrigins, []string{"https://shop.example", "http://127.0.0.1:8080"}) {
		t.Fatalf("stored origins %q (%v)", c.ReturnOrigins, err)
	}
	if _, err := clientCLI(t, db, "set-return-origins", "--client", "pos-1", "--return-origin", "https://pay.shop.example:8443"); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.GetStoreClient(ctx, "pos-1"); !slices.Equal(c.ReturnOrigins, []string{"https://pay.shop.example:8443"}) {
		t.Fatalf("after set-return-origins: %q", c.ReturnOrigins)
	}
	if out, err := clientCLI(t, db, "set-return-origins", "--client", "pos-1"); err != nil || !strings.Contains(out, "cannot make redirect payments") {
		t.Fatalf("clearing: %v: %s", err, out)
	}
	if c, _ := st.GetStoreClient(ctx, "pos-1"); len(c.ReturnOrigins) != 0 {
		t.Fatalf("after clearing: %q", c.ReturnOrigins)
	}
	if _, err := clientCLI(t, db, "set-return-origins", "--client", "pos-9", "--return-origin", "https://shop.example"); err == nil {
		t.Fatal("origins set for an unknown client")
	}
}

// The source allowlist is set at registration (--allow-cidr, networks masked, an address
// taken as its /32 or /128) and replaced by set-allowlist (none: any source); bad networks
// are refused; each change is audited.
func TestClientSourceAllowlist(t *testing.T) {
	db := filepath.Join(t.TempDir(), "payhub.db")
	pub, _ := newPublicKeyFile(t)
	for _, bad := range []string{"203.0.113.0/33", "shop.example", "fe80::1%eth0", ""} {
		if out, err := clientChange(t, db, "register", "--client", "pos-1", "--store", "store-1", "--kid", "k1", "--public-key", pub,
			"--allow-cidr", bad); err == nil {
			t.Errorf("network %q accepted: %s", bad, out)
		}
	}
	if out, err := clientChange(t, db, "register", "--client", "pos-1", "--store", "store-1", "--kid", "k1", "--public-key", pub,
		"--allow-cidr", "203.0.113.7/24", "--allow-cidr", "2001:db8::1"); err != nil {
		t.Fatalf("register: %v: %s", err, out)
	}
	st := openClientDB(t, db)
	ctx := context.Background()
	want := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::1/128")}
	if c, err := st.GetStoreClient(ctx, "pos-1"); err != nil || !slices.Equal(c.SourceAllowlist, want) {
		t.Fatalf("stored allowlist %v (%v)", c.SourceAllowlist, err)
	}
	out, err := clientChange(t, db, "set-allowlist", "--client", "pos-1", "--allow-cidr", "198.51.100.0/24")
	if err != nil || !strings.Contains(out, "may call only from: 198.51.100.0/24") {
		t.Fatalf("set-allowlist: %v: %s", err, out)
	}
	if out, err := clientChange(t, db, "set-allowlist", "--client", "pos-1"); err != nil || !strings.Contains(out, "any source") {
		t.Fatalf("clearing: %v: %s", err, out)
	}
	if c, _ := st.GetStoreClient(ctx, "pos-1"); len(c.SourceAllowlist) != 0 {
		t.Fatalf("after clearing: %v", c.SourceAllowlist)
	}
	if _, err := clientChange(t, db, "set-allowlist", "--client", "pos-9", "--allow-cidr", "198.51.100.0/24"); err == nil {
		t.Fatal("an allowlist set for an unknown client")
	}
	var changes int
	for e, err := range audit.Entries(ctx, st, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Action == "client.set_source_allowlist" {
			changes++
		}
	}
	if changes != 2 {
		t.Errorf("%d audited allowlist changes, want 2", changes)
	}
}

// osUser is the OS user the CLI names as actor without --actor.
func osUser(t *testing.T) string {
	t.Helper()
	return strings.TrimPrefix(cliActor(""), "cli:")
}

// isForbidden reports whether err is a 403 forbidden refusal.
func isForbidden(err error) bool {
	e, ok := contracts.AsError(err)
	return ok && e.Code == contracts.CodeForbidden
}
