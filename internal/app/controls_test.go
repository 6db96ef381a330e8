package app

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"payhub/internal/store/storetest"
	linepaysim "payhub/mocks/linepay"
)

// runOps runs `payhub ops …` in this process and returns its output.
func runOps(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	cmd := OpsCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append(args, "--db", dbURL))
	if err := cmd.Execute(); err != nil {
		t.Fatalf("payhub ops %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

// envValue is the value of name in env.
func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// TestKillSwitchReachesEveryServeWithinASecond: two `payhub serve` processes on one
// PostgreSQL; both start although LINE Pay is configured and switched off. A switch set by
// `payhub ops switch set` (the CLI, in this process) is enforced by the second process
// within 1 s: its next PayPay payment answers 503 operation_disabled with the public
// reason. The measured delay is logged (README, "Kill switches").
func TestKillSwitchReachesEveryServeWithinASecond(t *testing.T) {
	dbURL := storetest.PostgresSchemaURL(t)
	e := newProcessEnv(t, dbURL, linepaysim.Config{})
	e.registerTill()
	t.Setenv("PAYHUB_AUDIT_KEY", envValue(e.env, "PAYHUB_AUDIT_KEY"))
	runOps(t, e.dbURL, "switch", "set", "--partner", "linepay", "--reason", "LINE Pay is paused.", "--actor", "test")

	first := e.startServe("serve-1", e.dbURL)
	second := e.startServe("serve-2", e.dbURL)
	for _, p := range []*serveProcess{first, second} {
		waitFor(t, 30*time.Second, "serve ready with a partner switched off", func() bool { return p.status("/readyz") == http.StatusOK })
	}
	n := 0
	pay := func(p *serveProcess) (int, map[string]any) {
		n++
		status, body, err := e.post(p.url, "/v1/payments", fmt.Sprintf("ks-%d-%d", time.Now().UnixNano(), n),
			barcodePayment(500, barcodeOK), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return status, body
	}
	for _, p := range []*serveProcess{first, second} {
		if status, body := pay(p); status != http.StatusCreated {
			t.Fatalf("PayPay before the switch: %d %v", status, body)
		}
	}
	status, body, err := e.post(second.url, "/v1/payments", "ks-linepay",
		map[string]any{"amount": 30000, "currency": "TWD", "method": "linepay", "flow": "barcode", "barcode": "12345678901234567"}, 10*time.Second)
	if err != nil || status != http.StatusServiceUnavailable || body["code"] != "operation_disabled" || body["detail"] != "LINE Pay is paused." {
		t.Fatalf("LINE Pay while switched off: %d %v %v", status, body, err)
	}

	runOps(t, e.dbURL, "switch", "set", "--partner", "paypay", "--operation", "pay", "--reason", "PayPay payments are paused.", "--actor", "test")
	set := time.Now()
	var took time.Duration
	for {
		status, body := pay(second)
		if status == http.StatusServiceUnavailable && body["code"] == "operation_disabled" {
			took = time.Since(set)
			if body["detail"] != "PayPay payments are paused." {
				t.Fatalf("refusal detail %v, want the public reason", body["detail"])
			}
			break
		}
		if status != http.StatusCreated {
			t.Fatalf("PayPay while the switch propagates: %d %v", status, body)
		}
		if time.Since(set) > 5*time.Second {
			t.Fatal("the second serve still takes PayPay payments 5 s after the switch was set")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("kill switch set by the CLI enforced by the second serve process after %s", took.Round(time.Millisecond))
	if took > time.Second {
		t.Fatalf("enforced after %s; want within 1 s", took)
	}
	// The first process refreshes on its own schedule: within 1 s of the set as well.
	waitFor(t, time.Second-time.Since(set), "the first serve refusing too", func() bool {
		status, _ := pay(first)
		return status == http.StatusServiceUnavailable
	})
	if out := runOps(t, e.dbURL, "switch", "list"); !strings.Contains(out, "partner=paypay operation=pay") || !strings.Contains(out, "cli:test") {
		t.Fatalf("switch list:\n%s", out)
	}
}

// TestOpsSwitchCLI: set, list and lift through the CLI on SQLite; each change is an audit
// entry; lifting twice is refused.
func TestOpsSwitchCLI(t *testing.T) {
	dbURL := "sqlite:" + t.TempDir() + "/payhub.db"
	t.Setenv("PAYHUB_AUDIT_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	out := runOps(t, dbURL, "switch", "set", "--method", "card", "--operation", "refund", "--reason", "Card refunds are paused.",
		"--note", "INC-1", "--expires", "2h", "--actor", "alice")
	id := strings.Fields(strings.TrimPrefix(out, "set "))[0]
	id = strings.TrimSuffix(id, ":")
	if list := runOps(t, dbURL, "switch", "list"); !strings.Contains(list, id) || !strings.Contains(list, "method=card operation=refund") || !strings.Contains(list, "cli:alice") {
		t.Fatalf("list:\n%s", list)
	}
	runOps(t, dbURL, "switch", "lift", id, "--reason", "incident over", "--actor", "bob")
	if list := runOps(t, dbURL, "switch", "list"); !strings.Contains(list, "no kill switches") {
		t.Fatalf("list after lift:\n%s", list)
	}
	if list := runOps(t, dbURL, "switch", "list", "--all"); !strings.Contains(list, "lifted") || !strings.Contains(list, "cli:bob") {
		t.Fatalf("list --all:\n%s", list)
	}
	cmd := OpsCommand()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"switch", "lift", id, "--reason", "again", "--db", dbURL})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "lifted before") {
		t.Fatalf("lift twice: %v", err)
	}
	st := openStore(t, dbURL)
	entries, err := st.ListAuditEntries(t.Context(), 0, 0)
	if err != nil || len(entries) != 2 || entries[0].Action != "switch.set" || entries[1].Action != "switch.lift" || entries[1].Actor != "cli:bob" {
		t.Fatalf("audit entries: %+v %v", entries, err)
	}
}
