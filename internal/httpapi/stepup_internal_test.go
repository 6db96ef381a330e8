package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/clock"
	"payhub/internal/operators"
	"payhub/internal/secrets"
	"payhub/internal/store/storetest"
)

// changeRig is a Server with a test-only changing route, POST /v1/ops/test-change,
// registered through opsChangeRoute as every changing operator route is.
type changeRig struct {
	t       *testing.T
	srv     *Server
	clk     *clock.Manual
	mint    func(roles ...string) string
	secret  string
	changes int
}

func newChangeRig(t *testing.T, withStepUps bool) *changeRig {
	t.Helper()
	st := storetest.OpenSQLite(t)
	clk := clock.NewManual(time.Unix(1_750_000_020, 0).Add(10 * time.Second))
	box, err := secrets.NewRing(secrets.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	opKey, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := auth.MarshalPublicKeyPEM(opKey.Public())
	list, _ := json.Marshal([]auth.OperatorKey{{Operator: "op-alice", KeyID: "op-alice-1", PublicKeyPEM: string(pub),
		Roles: []string{auth.RoleViewer, auth.RoleOperator, auth.RoleSecurityAdmin}}})
	keys, err := auth.ParseOperatorKeys(list)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Registry: prometheus.NewRegistry(),
		Operators: auth.NewVerifier(keys, auth.VerifierOptions{Clock: clk, Operators: true})}
	if withStepUps {
		cfg.StepUps = operators.New(st, box, clk)
	}
	r := &changeRig{t: t, srv: New(cfg), clk: clk}
	r.mint = func(roles ...string) string {
		tok, err := auth.Mint(auth.TokenRequest{Key: opKey, KeyID: "op-alice-1", ClientID: "op-alice", Roles: roles,
			Audience: auth.OperatorAudience, IssuedAt: clk.Now(), TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	r.srv.opsChangeRoute(r.srv.engine.Group("/v1/ops"), http.MethodPost, "/test-change", auth.RoleOperator, func(c *gin.Context) {
		r.changes++
		c.Status(http.StatusNoContent)
	})
	err = st.InTx(context.Background(), func(tx contracts.Tx) error {
		e, err := operators.Enroll(context.Background(), tx, box, "op-alice", "cli:test", clk.Now())
		r.secret = e.Secret
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *changeRig) do(path, token, body string) *httptest.ResponseRecorder {
	r.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	r.srv.ServeHTTP(w, req)
	return w
}

func (r *changeRig) change(token string, want int) {
	r.t.Helper()
	before := r.changes
	w := r.do("/v1/ops/test-change", token, "{}")
	if w.Code != want {
		r.t.Fatalf("change: %d, want %d: %s", w.Code, want, w.Body)
	}
	if ran := r.changes > before; ran != (want == http.StatusNoContent) {
		r.t.Fatalf("change ran: %v with status %d", ran, w.Code)
	}
}

func (r *changeRig) stepUp() {
	r.t.Helper()
	code, err := totp.GenerateCodeCustom(r.secret, r.clk.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		r.t.Fatal(err)
	}
	if w := r.do("/v1/ops/step-up", r.mint(auth.RoleOperator), `{"code":"`+code+`"}`); w.Code != http.StatusOK {
		r.t.Fatalf("step-up: %d %s", w.Code, w.Body)
	}
}

// A change without a step-up, or with one older than five minutes, is refused (403) and
// does not run; within five minutes it runs; the route's role is still required.
func TestRequireStepUp(t *testing.T) {
	r := newChangeRig(t, true)
	r.change(r.mint(auth.RoleOperator), http.StatusForbidden)
	r.stepUp()
	r.change(r.mint(auth.RoleOperator), http.StatusNoContent)
	r.change(r.mint(auth.RoleViewer), http.StatusForbidden) // the role first
	r.clk.Advance(operators.ValidFor)
	r.change(r.mint(auth.RoleOperator), http.StatusNoContent)
	r.clk.Advance(time.Second)
	r.change(r.mint(auth.RoleOperator), http.StatusForbidden)
	r.stepUp()
	r.change(r.mint(auth.RoleOperator), http.StatusNoContent)
	r.change("", http.StatusUnauthorized)
}

// Without step-up configured, every change is refused: it fails closed.
func TestRequireStepUpFailsClosed(t *testing.T) {
	r := newChangeRig(t, false)
	r.change(r.mint(auth.RoleOperator), http.StatusForbidden)
	if w := r.do("/v1/ops/step-up", r.mint(auth.RoleOperator), `{"code":"123456"}`); w.Code != http.StatusNotFound {
		t.Fatalf("step-up without StepUps: %d", w.Code)
	}
}
