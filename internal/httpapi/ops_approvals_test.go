package httpapi_test

import (
	"context"
	"crypto"
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/operators"
	"payhub/internal/secrets"
	"payhub/internal/store"
	"payhub/internal/store/storetest"
	simcore "payhub/mocks/sim"
)

// Two-person approval through the real router with real operator tokens and step-ups
// (docs/security.md §8, docs/ops-api.md).

// opsEnv is a test environment on a manual clock with four operators, each with their own
// key: alice and bob (operator, security_admin; enrolled for step-up), victor (viewer,
// enrolled), carol (operator, enrolled) and dave (viewer, not enrolled).
type opsEnv struct {
	*testEnv
	roles   map[string][]string
	clk     *simcore.ManualClock
	keys    map[string]crypto.Signer
	secrets map[string]string
	// lastStep is the last TOTP step each operator used (a code counts once).
	lastStep map[string]int64
}

func newOpsEnv(t *testing.T, st contracts.Store, ttl time.Duration) *opsEnv {
	t.Helper()
	ring := secrets.NewKey()
	clk := simcore.NewManualClock(time.Unix(1_750_000_020, 0).Add(10 * time.Second))
	roles := map[string][]string{
		"op-alice":  {auth.RoleOperator, auth.RoleSecurityAdmin, auth.RoleViewer},
		"op-bob":    {auth.RoleOperator, auth.RoleSecurityAdmin, auth.RoleViewer},
		"op-victor": {auth.RoleViewer},
		"op-dave":   {auth.RoleViewer},
		"op-carol":  {auth.RoleOperator, auth.RoleViewer},
	}
	e := &opsEnv{roles: roles, clk: clk, keys: map[string]crypto.Signer{}, secrets: map[string]string{}, lastStep: map[string]int64{}}
	var list []auth.OperatorKey
	for op, r := range roles {
		k, err := auth.GenerateKey(contracts.AlgEdDSA)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := auth.MarshalPublicKeyPEM(k.Public())
		e.keys[op] = k
		list = append(list, auth.OperatorKey{Operator: op, KeyID: op + "-1", PublicKeyPEM: string(pub), Roles: r})
	}
	raw, _ := json.Marshal(list)
	ops, err := auth.ParseOperatorKeys(raw)
	if err != nil {
		t.Fatal(err)
	}
	e.testEnv = newEnvWith(t, st, clk, func(c *app.Config) {
		c.SecretKeys, c.OperatorKeys, c.ApprovalTTL = [][]byte{ring}, ops, ttl
		c.AuditKey = []byte("0123456789abcdef0123456789abcdef")
	})
	box, err := secrets.NewRing(ring)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"op-alice", "op-bob", "op-victor", "op-carol"} {
		err := e.app.Store.InTx(context.Background(), func(tx contracts.Tx) error {
			en, err := operators.Enroll(context.Background(), tx, box, op, "cli:test", clk.Now())
			e.secrets[op] = en.Secret
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// tok mints a token of op claiming roles (all of its roles when none).
func (e *opsEnv) tok(op string, roles ...string) string {
	e.t.Helper()
	if len(roles) == 0 {
		roles = e.roles[op]
	}
	t, err := auth.Mint(auth.TokenRequest{Key: e.keys[op], KeyID: op + "-1", ClientID: op, Roles: roles,
		Audience: auth.OperatorAudience, IssuedAt: e.clk.Now(), TTL: time.Minute})
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

// stepUp steps op up with a fresh code (moving the clock a step when op used this one).
func (e *opsEnv) stepUp(op string) {
	e.t.Helper()
	step := e.clk.Now().Unix() / 30
	if step <= e.lastStep[op] {
		e.clk.Advance(30 * time.Second)
		step = e.clk.Now().Unix() / 30
	}
	code, err := totp.GenerateCodeCustom(e.secrets[op], e.clk.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	expectStatus(e.t, e.do(http.MethodPost, "/v1/ops/step-up", e.tok(op), "", map[string]string{"code": code}), http.StatusOK, "")
	e.lastStep[op] = step
}

func (e *opsEnv) post(op, path string, body any) response {
	e.t.Helper()
	return e.do(http.MethodPost, path, e.tok(op), "", body)
}

// setSwitch sets a card-refund switch as op and returns its id.
func (e *opsEnv) setSwitch(op string) string {
	e.t.Helper()
	r := e.post(op, "/v1/ops/switches", map[string]any{"scope": map[string]string{"method": "card", "operation": "refund"},
		"public_reason": "Card refunds are paused.", "internal_note": "INC-42"})
	expectStatus(e.t, r, http.StatusCreated, "")
	return r.json(e.t)["id"].(string)
}

// rawDatabases runs f on SQLite and PostgreSQL with a second, raw connection to the same
// database (an attacker with database access) and a rebind of ? placeholders.
func rawDatabases(t *testing.T, f func(t *testing.T, st contracts.Store, db *sql.DB, rebind func(string) string)) {
	open := func(t *testing.T, url, driver, dsn string, rebind func(string) string) {
		st, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, st, db, rebind)
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "payhub.db")
		open(t, "sqlite:"+path, "sqlite", "file:"+path+"?_pragma=busy_timeout(15000)", func(q string) string { return q })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.PostgresSchemaURL(t)
		open(t, dsn, "pgx", dsn, func(q string) string {
			n := 0
			return regexp.MustCompile(`\?`).ReplaceAllStringFunc(q, func(string) string { n++; return "$" + strconv.Itoa(n) })
		})
	})
}

// auditActions are the audit log's "actor action" lines.
func (e *opsEnv) auditActions() []string {
	e.t.Helper()
	entries, err := e.app.Store.ListAuditEntries(context.Background(), 0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		out = append(out, en.Actor+" "+en.Action)
	}
	return out
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// A switch set through the API is in force at once; lifting it is a switch.lift request that
// changes nothing until another operator approves it; the requester cannot approve it
// (403, every time); a viewer cannot set a switch; a change without step-up is 403; the
// approval lifts the switch, and a second approval finds it executed (409).
func TestSwitchLiftNeedsASecondOperator(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newOpsEnv(t, st, 0)
		expectStatus(t, e.post("op-alice", "/v1/ops/switches", map[string]any{"scope": map[string]string{"method": "card"}, "public_reason": "x"}),
			http.StatusForbidden, "forbidden") // no step-up yet
		e.stepUp("op-victor")
		expectStatus(t, e.post("op-victor", "/v1/ops/switches", map[string]any{"scope": map[string]string{"method": "card"}, "public_reason": "x"}),
			http.StatusForbidden, "forbidden") // a viewer
		e.stepUp("op-alice")
		expectStatus(t, e.post("op-alice", "/v1/ops/switches", `{"scope":{},"public_reason":"x","bogus":1}`), http.StatusBadRequest, "invalid_request")
		id := e.setSwitch("op-alice")
		list := e.do(http.MethodGet, "/v1/ops/switches", e.tok("op-victor"), "", nil)
		expectStatus(t, list, http.StatusOK, "")
		if !strings.Contains(string(list.body), id) || !strings.Contains(string(list.body), `"set_by":"op-alice"`) {
			t.Fatalf("switches: %s", list.body)
		}

		lift := e.post("op-alice", "/v1/ops/switches/"+id+"/lift", map[string]string{"reason": "attack over"})
		expectStatus(t, lift, http.StatusAccepted, "")
		apr := lift.json(t)
		aprID := apr["id"].(string)
		if apr["object"] != "approval" || apr["action"] != "switch.lift" || apr["status"] != "pending" || apr["required_role"] != "operator" ||
			apr["requested_by"] != "op-alice" || !strings.HasPrefix(apr["params_hash"].(string), "sha256:") || !contracts.ValidID(contracts.PrefixApproval, aprID) {
			t.Fatalf("lift answered %s", lift.body)
		}
		if k, _ := e.app.Store.GetKillSwitch(context.Background(), id); k.LiftedAt != nil {
			t.Fatal("the switch was lifted before anyone approved")
		}
		for range 3 { // the requester, again and again
			r := e.post("op-alice", "/v1/ops/approvals/"+aprID+"/approve", map[string]any{})
			expectStatus(t, r, http.StatusForbidden, "forbidden")
			if !strings.Contains(string(r.body), "two-person") {
				t.Fatalf("refusal does not say why: %s", r.body)
			}
		}
		expectStatus(t, e.post("op-bob", "/v1/ops/approvals/"+aprID+"/approve", map[string]any{}), http.StatusForbidden, "forbidden") // bob: no step-up
		e.stepUp("op-bob")
		expectStatus(t, e.do(http.MethodPost, "/v1/ops/approvals/"+aprID+"/approve", e.tok("op-bob", auth.RoleViewer), "", map[string]any{}),
			http.StatusForbidden, "forbidden") // a token without an approver's role
		ok := e.post("op-bob", "/v1/ops/approvals/"+aprID+"/approve", map[string]any{})
		expectStatus(t, ok, http.StatusOK, "")
		if body := ok.json(t); body["status"] != "executed" || body["decided_by"] != "op-bob" || body["result"] == nil {
			t.Fatalf("approve answered %s", ok.body)
		}
		k, err := e.app.Store.GetKillSwitch(context.Background(), id)
		if err != nil || k.LiftedAt == nil || k.LiftReason != "attack over" {
			t.Fatalf("switch after approval: %+v, %v", k, err)
		}
		expectStatus(t, e.post("op-bob", "/v1/ops/approvals/"+aprID+"/approve", map[string]any{}), http.StatusConflict, "invalid_state")
		got := e.do(http.MethodGet, "/v1/ops/approvals/"+aprID, e.tok("op-victor"), "", nil)
		expectStatus(t, got, http.StatusOK, "")
		actions := e.auditActions()
		for _, want := range []string{"op-alice switch.set", "op-alice approval.request", "op-alice switch.lift", "op-bob approval.approve"} {
			if !contains(actions, want) {
				t.Errorf("audit log lacks %q: %v", want, actions)
			}
		}
	})
}

// Of two operators (alice and bob, three requests each) approving carol's request at once,
// exactly one request runs it.
func TestConcurrentApprovalsRunOnce(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newOpsEnv(t, st, 0)
		e.stepUp("op-carol")
		id := e.setSwitch("op-carol")
		lift := e.post("op-carol", "/v1/ops/switches/"+id+"/lift", map[string]string{"reason": "over"})
		expectStatus(t, lift, http.StatusAccepted, "")
		aprID := lift.json(t)["id"].(string)
		e.stepUp("op-alice")
		e.stepUp("op-bob")
		var wg sync.WaitGroup
		statuses := make([]int, 6)
		toks := []string{e.tok("op-alice"), e.tok("op-bob")}
		for i := range statuses {
			wg.Go(func() {
				statuses[i] = e.do(http.MethodPost, "/v1/ops/approvals/"+aprID+"/approve", toks[i%2], "", map[string]any{}).status
			})
		}
		wg.Wait()
		executed := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				executed++
			case http.StatusConflict:
			default:
				t.Fatalf("approve answered %d", s)
			}
		}
		if executed != 1 {
			t.Fatalf("%d approvals executed, want 1: %v", executed, statuses)
		}
		n := 0
		for _, a := range e.auditActions() {
			if a == "op-carol switch.lift" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("the switch was lifted %d times", n)
		}
	})
}

// A request past its expiry is refused and marked expired; params changed in the database
// after the request are refused (failed, nothing run); a rejected request cannot be approved.
func TestApprovalExpiryTamperAndReject(t *testing.T) {
	rawDatabases(t, func(t *testing.T, st contracts.Store, db *sql.DB, rebind func(string) string) {
		e := newOpsEnv(t, st, time.Hour)
		e.stepUp("op-alice")
		ask := func() string {
			id := e.setSwitch("op-alice")
			r := e.post("op-alice", "/v1/ops/switches/"+id+"/lift", map[string]string{"reason": "over"})
			expectStatus(t, r, http.StatusAccepted, "")
			return r.json(t)["id"].(string)
		}
		expiring, tampered, rejected := ask(), ask(), ask()

		// Tamper: another switch id written into the stored params.
		other := e.setSwitch("op-alice")
		if _, err := db.Exec(rebind("UPDATE approvals SET params = ? WHERE id = ?"),
			`{"reason":"over","switch_id":"`+other+`"}`, tampered); err != nil {
			t.Fatal(err)
		}
		e.stepUp("op-bob")
		r := e.post("op-bob", "/v1/ops/approvals/"+tampered+"/approve", map[string]any{})
		expectStatus(t, r, http.StatusConflict, "invalid_state")
		if a, _ := e.app.Store.GetApproval(context.Background(), tampered); a.Status != contracts.ApprovalFailed {
			t.Fatalf("tampered request is %s", a.Status)
		}
		if k, _ := e.app.Store.GetKillSwitch(context.Background(), other); k.LiftedAt != nil {
			t.Fatal("the tampered parameters ran")
		}

		// Reject.
		expectStatus(t, e.post("op-bob", "/v1/ops/approvals/"+rejected+"/reject", map[string]string{}), http.StatusBadRequest, "invalid_request")
		rj := e.post("op-bob", "/v1/ops/approvals/"+rejected+"/reject", map[string]string{"reason": "not yet"})
		expectStatus(t, rj, http.StatusOK, "")
		if rj.json(t)["status"] != "rejected" {
			t.Fatalf("reject answered %s", rj.body)
		}
		expectStatus(t, e.post("op-bob", "/v1/ops/approvals/"+rejected+"/approve", map[string]any{}), http.StatusConflict, "invalid_state")

		// Expiry.
		e.clk.Advance(time.Hour)
		e.stepUp("op-bob")
		expectStatus(t, e.post("op-bob", "/v1/ops/approvals/"+expiring+"/approve", map[string]any{}), http.StatusConflict, "invalid_state")
		if a, _ := e.app.Store.GetApproval(context.Background(), expiring); a.Status != contracts.ApprovalExpired {
			t.Fatalf("expired request is %s", a.Status)
		}
		pending := e.do(http.MethodGet, "/v1/ops/approvals?status=pending", e.tok("op-victor"), "", nil)
		expectStatus(t, pending, http.StatusOK, "")
		if data := pending.json(t)["data"].([]any); len(data) != 0 {
			t.Fatalf("pending after expiry: %s", pending.body)
		}
		actions := e.auditActions()
		for _, want := range []string{"op-bob approval.reject", "system approval.expire", "op-bob approval.tamper"} {
			if !contains(actions, want) {
				t.Errorf("audit log lacks %q: %v", want, actions)
			}
		}
		audit := e.do(http.MethodGet, "/v1/ops/audit?limit=5", e.tok("op-alice"), "", nil)
		expectStatus(t, audit, http.StatusOK, "")
		if data := audit.json(t)["data"].([]any); len(data) != 5 {
			t.Fatalf("audit page: %s", audit.body)
		}
		expectStatus(t, e.do(http.MethodGet, "/v1/ops/audit", e.tok("op-victor"), "", nil), http.StatusForbidden, "forbidden")
	})
}

// client.register through approval registers a client whose token then works; operator.enroll
// through approval lets the new operator fetch their otpauth URL once.
func TestClientAndOperatorChangesThroughApproval(t *testing.T) {
	e := newOpsEnv(t, nil, 0)
	e.stepUp("op-alice")
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := auth.MarshalPublicKeyPEM(key.Public())
	c := storeClient{key: key, kid: "pos-z-1", clientID: "pos-z", store: "store-z", pubPEM: pub}
	storeToken := func() string {
		return e.token(c, func(r *auth.TokenRequest) { r.IssuedAt = e.clk.Now() })
	}
	expectStatus(t, e.do(http.MethodGet, "/v1/payments/pay_01J00000000000000000000000", storeToken(), "", nil), http.StatusUnauthorized, "unauthenticated")
	r := e.post("op-alice", "/v1/ops/clients", map[string]any{"client_id": "pos-z", "name": "Shop Z", "store_ids": []string{"store-z"},
		"kid": "pos-z-1", "public_key_pem": string(pub), "return_origins": []string{"https://z.example"}, "allow_cidrs": []string{}})
	expectStatus(t, r, http.StatusAccepted, "")
	aprID := r.json(t)["id"].(string)
	expectStatus(t, e.do(http.MethodGet, "/v1/payments/pay_01J00000000000000000000000", storeToken(), "", nil), http.StatusUnauthorized, "unauthenticated")
	e.stepUp("op-bob")
	ok := e.post("op-bob", "/v1/ops/approvals/"+aprID+"/approve", map[string]any{})
	expectStatus(t, ok, http.StatusOK, "")
	if ok.json(t)["status"] != "executed" {
		t.Fatalf("approve answered %s", ok.body)
	}
	expectStatus(t, e.do(http.MethodGet, "/v1/payments/pay_01J00000000000000000000000", storeToken(), "", nil), http.StatusNotFound, "not_found")

	// Enrol dave: the approver never sees the secret; dave fetches it once.
	en := e.post("op-alice", "/v1/ops/operators/op-dave/enroll", map[string]any{})
	expectStatus(t, en, http.StatusAccepted, "")
	enID := en.json(t)["id"].(string)
	expectStatus(t, e.do(http.MethodGet, "/v1/ops/operators/me/enrollment", e.tok("op-dave"), "", nil), http.StatusNotFound, "not_found")
	done := e.post("op-bob", "/v1/ops/approvals/"+enID+"/approve", map[string]any{})
	expectStatus(t, done, http.StatusOK, "")
	if strings.Contains(string(done.body), "otpauth://") || strings.Contains(string(done.body), "secret=") {
		t.Fatalf("the approver saw the secret: %s", done.body)
	}
	first := e.do(http.MethodGet, "/v1/ops/operators/me/enrollment", e.tok("op-dave"), "", nil)
	expectStatus(t, first, http.StatusOK, "")
	url, _ := first.json(t)["otpauth_url"].(string)
	if !strings.HasPrefix(url, "otpauth://totp/payhub:op-dave?") {
		t.Fatalf("enrollment answered %s", first.body)
	}
	expectStatus(t, e.do(http.MethodGet, "/v1/ops/operators/me/enrollment", e.tok("op-dave"), "", nil), http.StatusNotFound, "not_found")
	entries, _ := e.app.Store.ListAuditEntries(context.Background(), 0, 0)
	for _, a := range entries {
		if strings.Contains(string(a.Params), "otpauth://") || strings.Contains(string(a.Params), "secret=") {
			t.Fatalf("the audit log holds the secret: %s", a.Params)
		}
	}
	// The URL's secret steps dave up.
	i := strings.Index(url, "secret=")
	e.secrets["op-dave"] = strings.SplitN(url[i+len("secret="):], "&", 2)[0]
	e.stepUp("op-dave")

	// A new secret for bob, asked for by alice: bob may not approve his own credential.
	again := e.post("op-alice", "/v1/ops/operators/op-bob/enroll", map[string]any{})
	expectStatus(t, again, http.StatusAccepted, "")
	againID := again.json(t)["id"].(string)
	e.stepUp("op-bob")
	expectStatus(t, e.post("op-bob", "/v1/ops/approvals/"+againID+"/approve", map[string]any{}), http.StatusForbidden, "forbidden")
	if got := e.do(http.MethodGet, "/v1/ops/approvals/"+againID, e.tok("op-victor"), "", nil).json(t)["status"]; got != "pending" {
		t.Fatalf("after bob's refused approval the request is %v, want pending", got)
	}
}
