package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/operators"
	"payhub/internal/secrets"
	simcore "payhub/mocks/sim"
)

// stepUpEnv is the test environment on a manual clock with op-alice enrolled under the
// app's own secrets ring; secret is op-alice's TOTP secret.
type stepUpEnv struct {
	*testEnv
	clk    *simcore.ManualClock
	secret string
}

func newStepUpEnv(t *testing.T, enrol bool) *stepUpEnv {
	t.Helper()
	key := secrets.NewKey()
	clk := simcore.NewManualClock(time.Unix(1_750_000_020, 0).Add(10 * time.Second))
	e := &stepUpEnv{testEnv: newEnvWith(t, nil, clk, func(c *app.Config) { c.SecretKeys = [][]byte{key} }), clk: clk}
	if !enrol {
		return e
	}
	box, err := secrets.NewRing(key)
	if err != nil {
		t.Fatal(err)
	}
	err = e.app.Store.InTx(context.Background(), func(tx contracts.Tx) error {
		en, err := operators.Enroll(context.Background(), tx, box, "op-alice", "cli:test", clk.Now())
		e.secret = en.Secret
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// opToken mints a token of op-alice claiming roles, issued on the env's clock.
func (e *stepUpEnv) opToken(roles ...string) string {
	e.t.Helper()
	tok, err := auth.Mint(auth.TokenRequest{Key: e.operator, KeyID: "op-alice-1", ClientID: "op-alice", Roles: roles,
		Audience: auth.OperatorAudience, IssuedAt: e.clk.Now(), TTL: time.Minute})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *stepUpEnv) code(at time.Time) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(e.secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// wrongCode is a code valid in none of the steps around now.
func (e *stepUpEnv) wrongCode() string {
	now := e.clk.Now()
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if c != e.code(now.Add(-30*time.Second)) && c != e.code(now) && c != e.code(now.Add(30*time.Second)) {
			return c
		}
	}
	e.t.Fatal("no wrong code")
	return ""
}

func (e *stepUpEnv) stepUp(token, code string) response {
	e.t.Helper()
	return e.do(http.MethodPost, "/v1/ops/step-up", token, "", map[string]string{"code": code})
}

// POST /v1/ops/step-up through the router with real operator tokens: any operator role may
// step up; a right code answers valid_until five minutes on; the same code again, a wrong
// one, or one from an older step is 401; a store token never reaches it.
func TestStepUpEndpoint(t *testing.T) {
	e := newStepUpEnv(t, true)
	now := e.clk.Now()
	expectStatus(t, e.stepUp("", e.code(now)), http.StatusUnauthorized, "unauthenticated")
	expectStatus(t, e.stepUp(e.token(e.a), e.code(now)), http.StatusUnauthorized, "unauthenticated")
	expectStatus(t, e.stepUp(e.opToken(auth.RoleViewer), "12345"), http.StatusBadRequest, "invalid_request")
	expectStatus(t, e.do(http.MethodPost, "/v1/ops/step-up", e.opToken(auth.RoleViewer), "", `{"code":"123456","x":1}`), http.StatusBadRequest, "invalid_request")

	ok := e.stepUp(e.opToken(auth.RoleViewer), e.code(now))
	expectStatus(t, ok, http.StatusOK, "")
	body := ok.json(t)
	if body["valid_until"] != now.Add(5*time.Minute).UTC().Format(time.RFC3339) || !strings.HasPrefix(body["id"].(string), "stp_") {
		t.Fatalf("answer %s, want valid_until %s", ok.body, now.Add(5*time.Minute).UTC().Format(time.RFC3339))
	}
	e.clk.Advance(5 * time.Second)
	used := e.stepUp(e.opToken(auth.RoleOperator), e.code(now))
	expectStatus(t, used, http.StatusUnauthorized, "unauthenticated")
	if strings.Contains(used.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Error("a wrong code is not a bad token")
	}
	expectStatus(t, e.stepUp(e.opToken(auth.RoleOperator), e.code(now.Add(-30*time.Second))), http.StatusUnauthorized, "unauthenticated")
	expectStatus(t, e.stepUp(e.opToken(auth.RoleOperator), e.wrongCode()), http.StatusUnauthorized, "unauthenticated")
	expectStatus(t, e.stepUp(e.opToken(auth.RoleOperator), e.code(now.Add(30*time.Second))), http.StatusOK, "")
}

// Five wrong codes answer 401 four times, then 429 with Retry-After for the rest of the
// 15 minutes, raise an alert in the log, and refuse even the right code until the lockout
// ends on time.
func TestStepUpLockoutThroughTheRouter(t *testing.T) {
	e := newStepUpEnv(t, true)
	for range operators.MaxFailures - 1 {
		expectStatus(t, e.stepUp(e.opToken(auth.RoleOperator), e.wrongCode()), http.StatusUnauthorized, "unauthenticated")
	}
	fifth := e.stepUp(e.opToken(auth.RoleOperator), e.wrongCode())
	expectStatus(t, fifth, http.StatusTooManyRequests, "rate_limited")
	if ra := fifth.header.Get("Retry-After"); ra != "900" {
		t.Errorf("Retry-After %q, want 900", ra)
	}
	if !strings.Contains(e.logs.String(), "ALERT operator step-up locked") {
		t.Error("no alert logged for the lockout")
	}
	e.clk.Advance(10 * time.Minute)
	right := e.stepUp(e.opToken(auth.RoleOperator), e.code(e.clk.Now()))
	expectStatus(t, right, http.StatusTooManyRequests, "rate_limited")
	if ra := right.header.Get("Retry-After"); ra != "300" {
		t.Errorf("Retry-After %q, want 300", ra)
	}
	e.clk.Advance(5 * time.Minute)
	expectStatus(t, e.stepUp(e.opToken(auth.RoleOperator), e.code(e.clk.Now())), http.StatusOK, "")
}

// An operator nobody enrolled cannot step up: 403.
func TestStepUpNeedsEnrolment(t *testing.T) {
	e := newStepUpEnv(t, false)
	expectStatus(t, e.stepUp(e.opToken(auth.RoleOperator), "123456"), http.StatusForbidden, "forbidden")
}
