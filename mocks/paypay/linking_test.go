package paypay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// linkBody is a POST /v1/qr/sessions body.
func linkBody(ref string) map[string]any {
	return map[string]any{
		"scopes": []string{"direct_debit", "cashback"}, "nonce": "n-" + ref, "redirectType": "WEB_LINK",
		"redirectUrl": "https://payhub.example/links/return?x=1", "referenceId": ref,
	}
}

// link creates a link session and returns its linkQRCodeURL.
func (h *harness) link(ref string) string {
	h.t.Helper()
	res := h.call(http.MethodPost, "/v1/qr/sessions", linkBody(ref))
	expect(h.t, res, http.StatusCreated, "SUCCESS")
	u, _ := res.dataMap(h.t)["linkQRCodeURL"].(string)
	if !strings.HasPrefix(u, linkURLBase) {
		h.t.Fatalf("linkQRCodeURL %q", u)
	}
	return u
}

// tokenClaims checks an HS256 token against the decoded secret and returns its claims.
func tokenClaims(t *testing.T, token, secret string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	m := hmac.New(sha256.New, decodeSecret(secret))
	m.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != parts[2] {
		t.Fatal("token signature does not verify with the base64-decoded secret")
	}
	head, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(head) != `{"alg":"HS256","typ":"JWT"}` {
		t.Fatalf("header %s", head)
	}
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestLinkApproveIssuesTokenAndUser(t *testing.T) {
	h := newHarness(t)
	linkURL := h.link("ref-1")
	a, err := h.sim.ApproveLink(linkURL)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(a.RedirectURL)
	if err != nil || u.Query().Get("x") != "1" || u.Query().Get("responseToken") != a.ResponseToken {
		t.Fatalf("redirect %q", a.RedirectURL)
	}
	c := tokenClaims(t, a.ResponseToken, testSecret)
	want := map[string]any{
		"iss": "paypay.ne.jp", "aud": testMerchant, "result": "succeeded", "nonce": "n-ref-1",
		"referenceId": "ref-1", "userAuthorizationId": a.UserAuthorizationID,
		"exp": float64(h.clock.Now().Add(DefaultLinkTokenLifetime).Unix()),
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if p, _ := c["profileIdentifier"].(string); p == "" {
		t.Error("no profileIdentifier")
	}
	// Deciding twice is refused.
	if _, err := h.sim.ApproveLink(linkURL); err == nil {
		t.Fatal("second approval accepted")
	}
	// The new user pays like user-ok and has an ACTIVE authorization.
	res := h.call(http.MethodPost, "/v2/payments?agreeSimilarTransaction=true", h.payBody("mp-link-1", a.UserAuthorizationID, 500))
	expect(t, res, http.StatusCreated, "SUCCESS")
	res = h.call(http.MethodGet, "/v2/user/authorizations?userAuthorizationId="+a.UserAuthorizationID, nil)
	expect(t, res, http.StatusOK, "SUCCESS")
	d := res.dataMap(t)
	if d["status"] != "ACTIVE" || len(d["scopes"].([]any)) != 2 || d["issuedAt"] == nil || d["expireAt"] == nil {
		t.Fatalf("authorization %s", res.raw)
	}
	// A second link gives a new user.
	b, err := h.sim.ApproveLink(h.link("ref-2"))
	if err != nil || b.UserAuthorizationID == a.UserAuthorizationID {
		t.Fatalf("second link: %+v %v", b, err)
	}
}

func TestLinkDeclineAndExpiry(t *testing.T) {
	h := newHarness(t)
	id := strings.TrimPrefix(h.link("ref-d"), linkURLBase)
	code, m := h.control(http.MethodPost, "/_sim/links/"+id+"/decline", nil)
	if code != http.StatusOK || m["result"] != "declined" || m["userAuthorizationId"] != nil {
		t.Fatalf("decline: %d %v", code, m)
	}
	c := tokenClaims(t, m["responseToken"].(string), testSecret)
	if c["result"] != "declined" || c["userAuthorizationId"] != nil {
		t.Fatalf("declined claims %v", c)
	}
	if code, _ := h.control(http.MethodPost, "/_sim/links/"+id+"/approve", nil); code != http.StatusConflict {
		t.Fatalf("approve after decline: %d", code)
	}
	if code, _ := h.control(http.MethodPost, "/_sim/links/nope/approve", nil); code != http.StatusNotFound {
		t.Fatalf("unknown session: %d", code)
	}
	late := h.link("ref-late")
	h.clock.Advance(DefaultLinkSessionLifetime)
	if _, err := h.sim.ApproveLink(late); err == nil {
		t.Fatal("expired session approved")
	}
}

func TestLinkSessionValidation(t *testing.T) {
	h := newHarness(t)
	for name, mutate := range map[string]func(map[string]any){
		"no scopes":      func(b map[string]any) { delete(b, "scopes") },
		"unknown scope":  func(b map[string]any) { b["scopes"] = []string{"steal_everything"} },
		"repeated scope": func(b map[string]any) { b["scopes"] = []string{"cashback", "cashback"} },
		"no nonce":       func(b map[string]any) { delete(b, "nonce") },
		"no redirectUrl": func(b map[string]any) { delete(b, "redirectUrl") },
		"relative url":   func(b map[string]any) { b["redirectUrl"] = "/links/return" },
		"bad type":       func(b map[string]any) { b["redirectType"] = "POPUP" },
		"no referenceId": func(b map[string]any) { delete(b, "referenceId") },
	} {
		b := linkBody("ref-v")
		mutate(b)
		res := h.call(http.MethodPost, "/v1/qr/sessions", b)
		if res.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, res.status, res.raw)
		}
	}
}

func TestUnlinkRefusesPayments(t *testing.T) {
	h := newHarness(t)
	a, err := h.sim.ApproveLink(h.link("ref-u"))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, h.call(http.MethodDelete, "/v2/user/authorizations/"+a.UserAuthorizationID, nil), http.StatusOK, "SUCCESS")
	expect(t, h.call(http.MethodDelete, "/v2/user/authorizations/"+a.UserAuthorizationID, nil), http.StatusOK, "SUCCESS")
	res := h.call(http.MethodPost, "/v2/payments", h.payBody("mp-unlinked", a.UserAuthorizationID, 300))
	expect(t, res, http.StatusUnauthorized, "INVALID_USER_AUTHORIZATION_ID")
	res = h.call(http.MethodGet, "/v2/user/authorizations?userAuthorizationId="+a.UserAuthorizationID, nil)
	if res.dataMap(t)["status"] != "INACTIVE" {
		t.Fatalf("after unlink: %s", res.raw)
	}
	expect(t, h.call(http.MethodDelete, "/v2/user/authorizations/nobody", nil), http.StatusUnauthorized, "INVALID_USER_AUTHORIZATION_ID")
	expect(t, h.call(http.MethodGet, "/v2/user/authorizations?userAuthorizationId=nobody", nil), http.StatusUnauthorized, "INVALID_USER_AUTHORIZATION_ID")
	// A fixture user can be unlinked too.
	expect(t, h.call(http.MethodDelete, "/v2/user/authorizations/"+UserOK, nil), http.StatusOK, "SUCCESS")
	expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-ok-unlinked", UserOK, 300)), http.StatusUnauthorized, "INVALID_USER_AUTHORIZATION_ID")
	if ua, ok := h.sim.UserAuthorization(UserOK); !ok || ua.Status != AuthorizationInactive {
		t.Fatalf("fixture after unlink: %+v", ua)
	}
}

func TestLinkedUserExpires(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.UserAuthorizationLifetime = time.Hour })
	a, _ := h.sim.ApproveLink(h.link("ref-e"))
	h.clock.Advance(time.Hour)
	expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-exp", a.UserAuthorizationID, 300)), http.StatusUnauthorized, "EXPIRED_USER_AUTHORIZATION_ID")
}

func TestDecodeSecretMatchesNodeBuffer(t *testing.T) {
	// Expected values are Node 20's Buffer.from(s, "base64").toString("hex").
	for s, want := range map[string]string{
		"payhub-demo-paypay-api-secret": "a5aca1b9bf9d7a6a3ea5aca96b2f9aa62fac79cade",
		"sdk-check-secret":              "b1d93e72179c93eb1e72b7ad",
		"test-secret":                   "b5eb2dfac79cadeb",
		"abc=def":                       "69b7",
		"ab cd":                         "69b71d",
		"a":                             "",
		"YWJj":                          "616263",
		"ab_c/d+e":                      "69bfdcfddf9e",
		"x!y@z":                         "c72c",
	} {
		if got := hexOf(decodeSecret(s)); got != want {
			t.Errorf("decodeSecret(%q) = %s, want %s", s, got, want)
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
