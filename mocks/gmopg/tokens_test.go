package gmopg

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMintedTokenIsSingleUse(t *testing.T) {
	h := newHarness(t)
	tok := h.sim.IssueToken("")
	if !strings.HasPrefix(tok, "tok_") || len(tok) < 20 {
		t.Fatalf("token %q", tok)
	}
	id, pass := h.entry("tk-1", "AUTH", "100")
	h.ok(h.exec("tk-1", id, pass, tok))
	id2, pass2 := h.entry("tk-2", "AUTH", "100")
	h.fails(h.exec("tk-2", id2, pass2, tok), infoTokenUsed)
	// a decline uses the token up too
	dec := h.sim.IssueToken("decline_g02")
	h.fails(h.exec("tk-2", id2, pass2, dec), "42G020000")
	h.fails(h.exec("tk-2", id2, pass2, dec), infoTokenUsed)
	if h.sim.IssueToken("no_such_kind") != "" {
		t.Fatal("unknown kind should give no token")
	}
}

func TestMintedTokenExpiresAfter30Minutes(t *testing.T) {
	h := newHarness(t)
	late := h.sim.IssueToken("success")
	onTime := h.sim.IssueToken("tok_success")
	h.clock.Advance(TokenLifetime - time.Second)
	id, pass := h.entry("te-1", "AUTH", "100")
	h.ok(h.exec("te-1", id, pass, onTime))
	h.clock.Advance(time.Second)
	id2, pass2 := h.entry("te-2", "AUTH", "100")
	h.fails(h.exec("te-2", id2, pass2, late), infoTokenExpired)
	// an expired token was not used: the order can still go through
	h.ok(h.exec("te-2", id2, pass2, TokenSuccess))
}

func TestTokenErrors(t *testing.T) {
	h := newHarness(t)
	id, pass := h.entry("terr-1", "AUTH", "100")
	h.fails(h.call("ExecTran", "AccessID", id, "AccessPass", pass, "OrderID", "terr-1", "Method", "1"), infoTokenMissing)
	h.fails(h.exec("terr-1", id, pass, "tok_nonsense"), infoTokenInvalid)
	h.fails(h.exec("terr-1", id, pass, strings.Repeat("x", 257)), infoTokenInvalid)
	h.fails(h.exec("terr-1", id, pass, TokenUsed), infoTokenUsed)
	h.fails(h.exec("terr-1", id, pass, TokenExpired), infoTokenExpired)
	if lo := h.ledger("terr-1"); lo.Status != StatusUnprocessed || len(lo.Errors) != 5 {
		t.Fatalf("%+v", lo)
	}
}

func TestFixtureTokensAreReusable(t *testing.T) {
	h := newHarness(t)
	h.authorised("fx-1", "AUTH", "100")
	h.authorised("fx-2", "CAPTURE", "100")
	if st := h.search("fx-2"); st["Status"] != StatusCapture || st["CardNo"] != "************1111" {
		t.Fatalf("%q", st)
	}
}

func TestTokenEndpoint(t *testing.T) {
	h := newHarness(t)
	var out struct {
		Token     string `json:"token"`
		Kind      string `json:"kind"`
		Card      Card   `json:"card"`
		ExpiresAt string `json:"expiresAt"`
	}
	if st := h.simJSON(http.MethodPost, "/_sim/tokens", "application/json",
		`{"kind":"decline_g02","card":{"brand":"amex","last4":"0005","expire":"2901"}}`, &out); st != http.StatusCreated {
		t.Fatalf("status %d", st)
	}
	if out.Kind != "decline_g02" || out.Card != (Card{"AMEX", "0005", "2901"}) || out.ExpiresAt != "2026-03-10T01:30:00Z" {
		t.Fatalf("%+v", out)
	}
	id, pass := h.entry("te-1", "AUTH", "100")
	h.fails(h.exec("te-1", id, pass, out.Token), "42G020000")

	if st := h.simJSON(http.MethodPost, "/_sim/tokens", "", "", &out); st != http.StatusCreated || out.Kind != "success" {
		t.Fatalf("empty body: %d %+v", st, out)
	}
	h.ok(h.exec("te-1", id, pass, out.Token))
	if lo := h.ledger("te-1"); lo.Card == nil || *lo.Card != (Card{"VISA", "1111", "3012"}) {
		t.Fatalf("%+v", lo.Card)
	}
	if st := h.simJSON(http.MethodGet, "/_sim/tokens", "", "", nil); st != http.StatusMethodNotAllowed {
		t.Errorf("GET tokens: %d", st)
	}
}

// mintedToken is the answer of POST /_sim/tokens.
type mintedToken struct {
	Token     string `json:"token"`
	Kind      string `json:"kind"`
	Card      Card   `json:"card"`
	ExpiresAt string `json:"expiresAt"`
}

// postTokens sends body to POST /_sim/tokens with Content-Type ct (none when "") and
// returns the status, the answer's Content-Type and its body.
func (h *harness) postTokens(ct, body string) (int, string, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/_sim/tokens", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

// The README's example, as curl sends it: with -H 'Content-Type: application/json' the
// token is the kind asked for; without it curl -d sends a form, which is refused (it used
// to mint a plain success token) with an error that says what to send.
func TestTokenEndpointREADMECurl(t *testing.T) {
	h := newHarness(t)
	st, ct, body := h.postTokens("application/json", `{"kind":"3ds_challenge"}`)
	var out mintedToken
	if st != http.StatusCreated || ct != "application/json" || json.Unmarshal(body, &out) != nil ||
		out.Kind != "3ds_challenge" || out.Card != (Card{"MASTER", "3002", "3012"}) {
		t.Fatalf("%d %q %s", st, ct, body)
	}
	h.start3DS("readme-1", "AUTH", out.Token)
	if lo := h.ledger("readme-1"); lo.ThreeDS != tdsStatePending {
		t.Fatalf("a 3ds_challenge token waits for the customer: %+v", lo.ThreeDS)
	}

	st, ct, body = h.postTokens("application/x-www-form-urlencoded", `{"kind":"3ds_challenge"}`)
	var e controlError
	if st != http.StatusBadRequest || ct != "application/json" || json.Unmarshal(body, &e) != nil ||
		!strings.Contains(e.Error, "Content-Type: application/json") || !strings.Contains(e.Error, "form") {
		t.Fatalf("curl -d without the JSON content type: %d %q %s", st, ct, body)
	}
	if n := len(h.sim.tokens); n != 1 {
		t.Fatalf("a refused request minted a token: %d tokens", n)
	}
}

func TestTokenEndpointAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		kind           string
		card           Card
	}{
		{"no body, no Content-Type", "", "", "success", Card{"VISA", "1111", "3012"}},
		{"no body, JSON Content-Type", "application/json", "", "success", Card{"VISA", "1111", "3012"}},
		{"no body, form Content-Type (curl -d '')", "application/x-www-form-urlencoded", "", "success", Card{"VISA", "1111", "3012"}},
		{"empty object", "application/json", `{}`, "success", Card{"VISA", "1111", "3012"}},
		{"kind null is kind omitted", "application/json", `{"kind":null}`, "success", Card{"VISA", "1111", "3012"}},
		{"kind", "application/json", `{"kind":"decline_g12"}`, "decline_g12", Card{"JCB", "0012", "3012"}},
		{"kind with tok_ prefix", "application/json", `{"kind":"tok_3ds_frictionless"}`, "3ds_frictionless", Card{"VISA", "3001", "3012"}},
		{"charset parameter", "Application/JSON; charset=utf-8", `{"kind":"slow"}`, "slow", Card{"VISA", "9999", "3012"}},
		{"whitespace around the object", "application/json", " \n{\"kind\": \"cvc_g44\"}\n", "cvc_g44", Card{"VISA", "0044", "3012"}},
		{"card only", "application/json", `{"card":{"last4":"4242"}}`, "success", Card{"VISA", "4242", "3012"}},
		{"kind and card", "application/json", `{"kind":"3ds_challenge","card":{"brand":"jcb","last4":"0005","expire":"2812"}}`,
			"3ds_challenge", Card{"JCB", "0005", "2812"}},
		{"card null", "application/json", `{"kind":"success","card":null}`, "success", Card{"VISA", "1111", "3012"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			st, ct, body := h.postTokens(tc.ct, tc.body)
			var out mintedToken
			if st != http.StatusCreated || ct != "application/json" || json.Unmarshal(body, &out) != nil {
				t.Fatalf("%d %q %s", st, ct, body)
			}
			if out.Kind != tc.kind || out.Card != tc.card || !strings.HasPrefix(out.Token, "tok_") || out.ExpiresAt != "2026-03-10T01:30:00Z" {
				t.Fatalf("%+v", out)
			}
			it := h.sim.tokens[out.Token]
			if it == nil || it.kind.name != tc.kind || it.kind.card != tc.card {
				t.Fatalf("minted %+v", it)
			}
		})
	}
}

func TestTokenEndpointRefuses(t *testing.T) {
	const jsonCT = "application/json"
	for _, tc := range []struct {
		name, ct, body string
		// want is a part of the error message: what the simulator expected.
		want string
	}{
		{"form", "application/x-www-form-urlencoded", "kind=3ds_challenge&last4=4242", "form body is not understood"},
		{"JSON sent as a form (curl -d)", "application/x-www-form-urlencoded", `{"kind":"3ds_challenge"}`, "-H 'Content-Type: application/json'"},
		{"form with charset", "application/x-www-form-urlencoded; charset=utf-8", "kind=success", "form body"},
		{"JSON as text/plain", "text/plain", `{"kind":"3ds_challenge"}`, `Content-Type "text/plain" is not understood`},
		{"multipart", "multipart/form-data; boundary=x", "--x--", "is not understood"},
		{"unparsable Content-Type", "application/json; =", `{}`, "is not understood"},
		{"JSON without Content-Type", "", `{"kind":"3ds_challenge"}`, "without Content-Type"},
		{"whitespace only", jsonCT, " \n", "not a JSON object"},
		{"whitespace only, no Content-Type", "", " ", "without Content-Type"},
		{"malformed JSON", jsonCT, `{"kind":`, "not understood"},
		{"not JSON", jsonCT, `not json`, "not a JSON object"},
		{"null", jsonCT, `null`, "not a JSON object"},
		{"array", jsonCT, `[{"kind":"success"}]`, "not a JSON object"},
		{"string", jsonCT, `"3ds_challenge"`, "not a JSON object"},
		{"unknown field", jsonCT, `{"kind":"success","amount":100}`, `unknown field "amount"`},
		{"misspelt field", jsonCT, `{"Kind ":"3ds_challenge"}`, "unknown field"},
		{"unknown card field", jsonCT, `{"card":{"number":"4111111111111111"}}`, `unknown field "number"`},
		{"kind not a string", jsonCT, `{"kind":3}`, "not understood"},
		{"card not an object", jsonCT, `{"card":"VISA"}`, "not understood"},
		{"two objects", jsonCT, `{"kind":"success"}{"kind":"3ds_challenge"}`, "trailing data"},
		{"trailing garbage", jsonCT, `{"kind":"success"} x`, "trailing data"},
		{"trailing brace", jsonCT, `{"kind":"success"}}`, "trailing data"},
		{"unknown kind", jsonCT, `{"kind":"nope"}`, `unknown kind "nope"; kinds: 3ds_challenge, 3ds_frictionless`},
		{"empty kind", jsonCT, `{"kind":""}`, `unknown kind ""`},
		{"bare prefix", jsonCT, `{"kind":"tok_"}`, `unknown kind "tok_"`},
		{"kind in upper case", jsonCT, `{"kind":"SUCCESS"}`, "unknown kind"},
		{"fixture-only kind used", jsonCT, `{"kind":"used"}`, "unknown kind"},
		{"fixture-only kind expired", jsonCT, `{"kind":"tok_expired"}`, "unknown kind"},
		{"short last4", jsonCT, `{"card":{"last4":"12"}}`, "last4 4 digits"},
		{"unknown brand", jsonCT, `{"card":{"brand":"DISCOVER"}}`, "brand VISA|MASTER"},
		{"bad expire", jsonCT, `{"card":{"expire":"12/30"}}`, "expire YYMM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			st, ct, body := h.postTokens(tc.ct, tc.body)
			var e controlError
			if st != http.StatusBadRequest || ct != "application/json" || json.Unmarshal(body, &e) != nil {
				t.Fatalf("want 400 with a JSON error, got %d %q %s", st, ct, body)
			}
			if !strings.Contains(e.Error, tc.want) {
				t.Fatalf("error %q does not say %q", e.Error, tc.want)
			}
			if len(h.sim.tokens) != 0 {
				t.Fatal("a refused request minted a token")
			}
		})
	}
}

func TestComms42C(t *testing.T) {
	h := newHarness(t)
	id, pass := h.entry("cm-1", "AUTH", "100")
	r := h.exec("cm-1", id, pass, TokenComms42C)
	if string(r.raw) != "ErrCode=C01&ErrInfo=42C010000" {
		t.Fatalf("%s", r.raw)
	}
	st := h.search("cm-1")
	if st["Status"] != StatusAuth || !tranID.MatchString(st["TranID"]) {
		t.Fatalf("TokenComms42C must commit: %q", st)
	}
	if lo := h.ledger("cm-1"); len(lo.Operations) != 1 || lo.Operations[0].Answered {
		t.Fatalf("%+v", lo.Operations)
	}
	h.fails(h.exec("cm-1", id, pass, TokenSuccess), infoAlreadySettled)

	id2, pass2 := h.entry("cm-2", "AUTH", "100")
	h.fails(h.exec("cm-2", id2, pass2, TokenComms42CNoCommit), infoComms)
	if st := h.search("cm-2"); st["Status"] != StatusUnprocessed {
		t.Fatalf("%q", st)
	}
}

func TestRateLimitedProcessesNothing(t *testing.T) {
	h := newHarness(t)
	id, pass := h.entry("rl-1", "AUTH", "100")
	h.fails(h.exec("rl-1", id, pass, TokenRateLimited), infoRateLimited)
	tok := h.sim.IssueToken("rate_limit_e92")
	h.fails(h.exec("rl-1", id, pass, tok), infoRateLimited)
	h.fails(h.exec("rl-1", id, pass, tok), infoRateLimited) // not used up
	if st := h.search("rl-1"); st["Status"] != StatusUnprocessed {
		t.Fatalf("%q", st)
	}
}

func TestSlowTokenCommitsBeforeAnswering(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SlowDelay = time.Hour })
	held := make(chan time.Duration)
	release := make(chan struct{})
	h.sim.sleep = func(ctx context.Context, d time.Duration) error {
		held <- d
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	id, pass := h.entry("slow-1", "AUTH", "100")
	done := make(chan reply)
	go func() { done <- h.exec("slow-1", id, pass, TokenSlow) }()
	if d := <-held; d != time.Hour {
		t.Fatalf("delay %v", d)
	}
	lo := h.ledger("slow-1")
	if lo.Status != StatusAuth || !lo.InFlight || lo.TranID == "" {
		t.Fatalf("committed before answering: %+v", lo)
	}
	h.fails(h.exec("slow-1", id, pass, TokenSuccess), infoInFlight)
	h.fails(h.alter(id, pass, "SALES", "Amount", "100"), infoLocked)
	if st := h.search("slow-1"); st["Status"] != StatusAuth {
		t.Fatalf("%q", st)
	}
	close(release)
	r := <-done
	if kv := h.ok(r); kv["TranID"] != lo.TranID {
		t.Fatalf("%q", kv)
	}
	if h.ledger("slow-1").InFlight {
		t.Fatal("still in flight")
	}
	h.ok(h.alter(id, pass, "SALES", "Amount", "100"))
}

func TestSlowTokenClientGivesUp(t *testing.T) {
	h := newHarness(t)
	held := make(chan struct{})
	h.sim.sleep = func(ctx context.Context, d time.Duration) error {
		close(held)
		<-ctx.Done()
		return ctx.Err()
	}
	id, pass := h.entry("slow-2", "CAPTURE", "100")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/payment/ExecTran.idPass",
		strings.NewReader(raw("AccessID", id, "AccessPass", pass, "OrderID", "slow-2", "Method", "1", "Token", TokenSlow)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	errc := make(chan error, 1)
	go func() {
		res, err := h.srv.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-held
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the client should have given up")
	}
	if st := h.search("slow-2"); st["Status"] != StatusCapture {
		t.Fatalf("the charge must stand: %q", st)
	}
}
