package gmopg

import (
	"context"
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
	if st := h.simJSON(http.MethodPost, "/_sim/tokens", "application/x-www-form-urlencoded", "kind=3ds_challenge&last4=4242", &out); st != http.StatusCreated ||
		out.Kind != "3ds_challenge" || out.Card.Last4 != "4242" {
		t.Fatalf("form: %d %+v", st, out)
	}
	for _, bad := range []string{`{"kind":"nope"}`, `{"card":{"last4":"12"}}`, `{"card":{"brand":"DISCOVER"}}`, `not json`} {
		if st := h.simJSON(http.MethodPost, "/_sim/tokens", "application/json", bad, nil); st != http.StatusBadRequest {
			t.Errorf("%s: status %d", bad, st)
		}
	}
	if st := h.simJSON(http.MethodGet, "/_sim/tokens", "", "", nil); st != http.StatusMethodNotAllowed {
		t.Errorf("GET tokens: %d", st)
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
