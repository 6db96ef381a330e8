package gmopg

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var redirectRE = regexp.MustCompile(`^ACS=2&RedirectUrl=(http://127\.0\.0\.1:[0-9]+/tds2/challenge\?transId=([0-9a-f-]{36})&t=([0-9a-f]{32}))$`)

// start3DS registers orderID with TdFlag=2 and runs ExecTran with token and RetUrl; it
// returns AccessID, AccessPass, the re-joined RedirectUrl and the transId.
func (h *harness) start3DS(orderID, jobCd, token string, extra ...string) (string, string, string, string) {
	h.t.Helper()
	id, pass := h.entry(orderID, jobCd, "3000", "TdFlag", "2", "Tds2Type", "2", "TdTenantName", "payhub")
	r := h.exec(orderID, id, pass, token, append([]string{"RetUrl", "https://shop.example/gmo/return"}, extra...)...)
	m := redirectRE.FindStringSubmatch(string(r.raw))
	if m == nil {
		h.t.Fatalf("want ACS=2 with a raw RedirectUrl, got %s", r.raw)
	}
	if r.kv["t"] != m[3] {
		h.t.Fatalf("the &t= trap: a naive split should give key t, got %q", r.kv)
	}
	if got := ParseResponse(r.raw, "ACS", "RedirectUrl"); got["RedirectUrl"] != m[1] {
		h.t.Fatalf("re-joined RedirectUrl %q, want %q", got["RedirectUrl"], m[1])
	}
	return id, pass, m[1], m[2]
}

func (h *harness) secure(id, pass string) reply {
	h.t.Helper()
	return h.call("SecureTran2", "AccessID", id, "AccessPass", pass)
}

func (h *harness) get(u string) (int, string) {
	h.t.Helper()
	res, err := h.srv.Client().Get(u)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestTDS2ChallengeApproved(t *testing.T) {
	h := newHarness(t)
	id, pass, redirect, transID := h.start3DS("tds-1", "AUTH", Token3DSChallenge)
	if st := h.search("tds-1"); st["Status"] != StatusAuthenticated || st["JobCd"] != "AUTH" {
		t.Fatalf("%q", st)
	}
	h.fails(h.secure(id, pass), info3DSIncomplete)
	h.fails(h.exec("tds-1", id, pass, TokenSuccess, "RetUrl", "https://x.example"), infoAlreadySettled)

	status, page := h.get(redirect)
	if status != http.StatusOK || !strings.Contains(page, `id="approve"`) || !strings.Contains(page, `id="reject"`) ||
		!strings.Contains(page, `id="abandon"`) || strings.Contains(page, "shop.example") {
		t.Fatalf("challenge page %d:\n%s", status, page)
	}
	if status, _ := h.get(strings.Replace(redirect, "&t=", "&t=0", 1)); status != http.StatusNotFound {
		t.Fatalf("wrong t: %d", status)
	}

	var res ChallengeResult
	if st := h.simJSON(http.MethodPost, "/_sim/tds2/"+transID+"/approve", "", "", &res); st != http.StatusOK {
		t.Fatalf("approve hook: %d", st)
	}
	if res.RetURL != "https://shop.example/gmo/return" || res.Method != "POST" || res.Form["AccessID"] != id || res.State != "approved" {
		t.Fatalf("%+v", res)
	}
	_, page = h.get(redirect)
	if !strings.Contains(page, `action="https://shop.example/gmo/return"`) || !strings.Contains(page, `name="AccessID" value="`+id+`"`) ||
		!strings.Contains(page, ".submit()") {
		t.Fatalf("an approved flow's page must post AccessID to RetUrl:\n%s", page)
	}
	kv := h.ok(h.secure(id, pass))
	if _, hasACS := kv["ACS"]; hasACS || kv["OrderID"] != "tds-1" || !tranID.MatchString(kv["TranID"]) ||
		kv["CheckString"] != CheckString("tds-1", forward, "1", "", kv["Approve"], kv["TranID"], kv["TranDate"], testShopPass) {
		t.Fatalf("SecureTran2: %q", kv)
	}
	if st := h.search("tds-1"); st["Status"] != StatusAuth || st["CardNo"] != "************3002" {
		t.Fatalf("%q", st)
	}
	h.fails(h.secure(id, pass), infoAlreadySettled)
	if lo := h.ledger("tds-1"); lo.ThreeDS != "approved" || len(lo.Operations) != 1 || lo.Operations[0].Call != "SecureTran2" {
		t.Fatalf("%+v", lo)
	}
}

func TestTDS2ChallengeRejected(t *testing.T) {
	h := newHarness(t)
	id, pass, _, _ := h.start3DS("tds-2", "CAPTURE", Token3DSChallenge)
	ret, err := h.sim.RejectChallenge(id)
	if err != nil || ret != "https://shop.example/gmo/return" {
		t.Fatalf("%q %v", ret, err)
	}
	if _, err := h.sim.ApproveChallenge(id); err == nil {
		t.Fatal("approving a rejected challenge should fail")
	}
	h.fails(h.secure(id, pass), info3DSFailed)
	if st := h.search("tds-2"); st["Status"] != StatusAuthenticated {
		t.Fatalf("%q", st)
	}
}

func TestTDS2PageButtons(t *testing.T) {
	h := newHarness(t)
	id, pass, _, transID := h.start3DS("tds-3", "AUTH", Token3DSChallenge, "CallbackType", "3")
	ch, _ := h.sim.Challenge(transID)
	secret := h.sim.secretOf(transID)
	res, err := h.srv.Client().PostForm(h.srv.URL+challengePath, url.Values{"transId": {transID}, "t": {secret}, "action": {"reject"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	page := string(b)
	if ch.Method != "GET" || !strings.Contains(page, `method="GET"`) || !strings.Contains(page, `value="`+id+`"`) {
		t.Fatalf("reject page:\n%s", page)
	}
	h.fails(h.secure(id, pass), info3DSFailed)

	id2, pass2, _, transID2 := h.start3DS("tds-4", "AUTH", Token3DSChallenge)
	res, _ = h.srv.Client().PostForm(h.srv.URL+challengePath, url.Values{"transId": {transID2}, "t": {h.sim.secretOf(transID2)}, "action": {"abandon"}})
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `id="abandoned"`) || strings.Contains(string(b), "shop.example") {
		t.Fatalf("abandon page:\n%s", b)
	}
	h.fails(h.secure(id2, pass2), info3DSIncomplete)
	if st := h.search("tds-4"); st["Status"] != StatusAuthenticated {
		t.Fatalf("%q", st)
	}
}

func TestTDS2Frictionless(t *testing.T) {
	h := newHarness(t)
	// a 3DS token goes through 3DS even without TdFlag=2
	id, pass := h.entry("fr-1", "CAPTURE", "100")
	r := h.exec("fr-1", id, pass, Token3DSFrictionless, "RetUrl", "https://shop.example/ret")
	redirect := ParseResponse(r.raw, "ACS", "RedirectUrl")["RedirectUrl"]
	_, page := h.get(redirect)
	if !strings.Contains(page, `action="https://shop.example/ret"`) || !strings.Contains(page, id) || strings.Contains(page, `id="approve"`) {
		t.Fatalf("frictionless page must return by itself:\n%s", page)
	}
	h.ok(h.secure(id, pass))
	if st := h.search("fr-1"); st["Status"] != StatusCapture {
		t.Fatalf("%q", st)
	}
	// tok_success under TdFlag=2: ACS=2, frictionless
	id2, pass2, _, _ := h.start3DS("fr-2", "AUTH", TokenSuccess)
	h.ok(h.secure(id2, pass2))
	// a 3DS token without RetUrl
	id3, pass3 := h.entry("fr-3", "AUTH", "100")
	h.fails(h.exec("fr-3", id3, pass3, Token3DSChallenge), info3DSNoRetURL)
}

func TestTDS2DeclineAtSecureTran2(t *testing.T) {
	h := newHarness(t)
	id, pass, _, _ := h.start3DS("trd-1", "AUTH", TokenDeclineG02)
	h.fails(h.secure(id, pass), "42G020000")
	if st := h.search("trd-1"); st["Status"] != StatusUnprocessed {
		t.Fatalf("%q", st)
	}
	h.fails(h.secure(id, pass), infoNotExecuted)
	// the order can be executed again
	kv := h.ok(h.exec("trd-1", id, pass, TokenSuccess, "RetUrl", "https://shop.example/gmo/return"))
	if kv["ACS"] != "2" {
		t.Fatalf("%q", kv)
	}
	h.ok(h.secure(id, pass))
}

func TestTDS2RedirectUsesPublicURL(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PublicURL = "https://gmo-sim.example/" })
	id, pass := h.entry("pu-1", "AUTH", "100", "TdFlag", "2")
	r := h.exec("pu-1", id, pass, TokenSuccess, "RetUrl", "https://shop.example/ret")
	if !strings.HasPrefix(string(r.raw), "ACS=2&RedirectUrl=https://gmo-sim.example/tds2/challenge?transId=") {
		t.Fatalf("%s", r.raw)
	}
	if _, err := h.sim.ApproveChallenge("nope"); err == nil {
		t.Fatal("unknown challenge")
	}
	if st := h.simJSON(http.MethodPost, "/_sim/tds2/nope/approve", "", "", nil); st != http.StatusNotFound {
		t.Fatalf("%d", st)
	}
}

// secretOf is the t parameter of the flow transID.
func (s *Simulator) secretOf(transID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.challenges[transID].secret
}
