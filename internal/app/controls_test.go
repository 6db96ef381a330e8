package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/operators"
	"payhub/internal/secrets"
	"payhub/internal/store/storetest"
	linepaysim "payhub/mocks/linepay"
)

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
// `payhub ops switch set` (the CLI, in this process) through the operator API of the first
// process is enforced by the second within 1 s: its next PayPay payment answers 503
// operation_disabled with the public reason. The measured delay is logged (README, "Kill
// switches").
func TestKillSwitchReachesEveryServeWithinASecond(t *testing.T) {
	clearOpsEnv(t)
	dbURL := storetest.PostgresSchemaURL(t)
	e := newProcessEnv(t, dbURL, linepaysim.Config{})
	e.registerTill()
	keyPath, key, _ := operatorKeyFile(t, "op-alice", auth.RoleViewer, auth.RoleOperator)
	pub, _ := auth.MarshalPublicKeyPEM(key.Public())
	opKeys, _ := json.Marshal([]auth.OperatorKey{{Operator: "op-alice", KeyID: "op-alice", PublicKeyPEM: string(pub),
		Roles: []string{auth.RoleViewer, auth.RoleOperator}}})
	e.env = append(e.env, "PAYHUB_OPERATOR_KEYS="+string(opKeys))
	secret := enrolInProcessEnv(t, e, "op-alice")

	// LINE Pay is off before any serve starts (written to the database directly: the API
	// is not up yet).
	auditKey, _ := base64.StdEncoding.DecodeString(envValue(e.env, "PAYHUB_AUDIT_KEY"))
	st := openStore(t, e.dbURL)
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := hub.SetKillSwitch(context.Background(), st, auditKey, "", contracts.KillSwitch{ID: ids.New(contracts.SystemClock{}).New(contracts.PrefixKillSwitch),
		Scope: contracts.ControlScope{Partner: "linepay"}, PublicReason: "LINE Pay is paused.", SetBy: "test", SetAt: now}); err != nil {
		t.Fatal(err)
	}

	// No default limits: the propagation loop below pays every 5 ms from one till.
	first := e.startServe("serve-1", e.dbURL, "--no-default-limits")
	second := e.startServe("serve-2", e.dbURL, "--no-default-limits")
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

	ops := []string{"--url", first.url, "--key", keyPath, "--operator", "op-alice", "--role", "viewer", "--role", "operator"}
	if list := mustOps(t, append(ops, "switch", "list")...); !strings.Contains(list, "partner=linepay") {
		t.Fatalf("switch list:\n%s", list)
	}
	code, err := totp.GenerateCodeCustom(secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	mustOps(t, append(ops, "step-up", "--code", code)...)
	mustOps(t, append(ops, "switch", "set", "--partner", "paypay", "--operation", "pay", "--reason", "PayPay payments are paused.")...)
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
	t.Logf("kill switch set through the first serve's operator API (payhub ops) enforced by the second serve process after %s", took.Round(time.Millisecond))
	if took > time.Second {
		t.Fatalf("enforced after %s; want within 1 s", took)
	}
	// The first process refreshes on its own schedule: within 1 s of the set as well.
	waitFor(t, time.Second-time.Since(set), "the first serve refusing too", func() bool {
		status, _ := pay(first)
		return status == http.StatusServiceUnavailable
	})
	if out := mustOps(t, append(ops, "switch", "list")...); !strings.Contains(out, "partner=paypay operation=pay") || !strings.Contains(out, "op-alice") {
		t.Fatalf("switch list:\n%s", out)
	}
}

// enrolInProcessEnv enrols operator for step-up in e's database under the key ring its
// serve processes run with, and returns the TOTP secret.
func enrolInProcessEnv(t *testing.T, e *processEnv, operator string) string {
	t.Helper()
	ring, err := base64.StdEncoding.DecodeString(envValue(e.env, "PAYHUB_SECRET_KEYS"))
	if err != nil {
		t.Fatal(err)
	}
	box, err := secrets.NewRing(ring)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, e.dbURL)
	var secret string
	err = st.InTx(context.Background(), func(tx contracts.Tx) error {
		en, err := operators.Enroll(context.Background(), tx, box, operator, "cli:test", time.Now().UTC())
		secret = en.Secret
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}
