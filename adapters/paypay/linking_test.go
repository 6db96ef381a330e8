package paypay

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
)

// makeToken signs claims under header with key (HS256 whatever the header says).
func makeToken(t *testing.T, header map[string]any, claims map[string]any, key []byte) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

func goodClaims() map[string]any {
	return map[string]any{
		"iss": "paypay.ne.jp", "aud": testMerchant, "exp": testNow.Add(5 * time.Minute).Unix(), "result": "succeeded",
		"profileIdentifier": "*******1234", "nonce": "nonce-1", "userAuthorizationId": "ua-1", "referenceId": "ref-1",
	}
}

var hs256 = map[string]any{"alg": "HS256", "typ": "JWT"}

func TestVerifyLinkResponse(t *testing.T) {
	_, a := newFake(t, answer(http.StatusOK, "SUCCESS", nil))
	key := decodeSecret(testSecret)
	res, err := a.VerifyLinkResponse(makeToken(t, hs256, goodClaims(), key), testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := contracts.LinkResponse{Result: contracts.LinkResultSucceeded, UserAuthorizationID: "ua-1", ReferenceID: "ref-1",
		Nonce: "nonce-1", ProfileIdentifier: "*******1234", ExpiresAt: testNow.Add(5 * time.Minute).UTC()}
	if res != want {
		t.Fatalf("got %+v\nwant %+v", res, want)
	}

	declined := goodClaims()
	declined["result"] = "declined"
	delete(declined, "userAuthorizationId")
	if res, err := a.VerifyLinkResponse(makeToken(t, hs256, declined, key), testNow); err != nil || res.Result != contracts.LinkResultDeclined {
		t.Fatalf("declined: %+v %v", res, err)
	}
	audList := goodClaims()
	audList["aud"] = []string{"other", testMerchant}
	if _, err := a.VerifyLinkResponse(makeToken(t, hs256, audList, key), testNow); err != nil {
		t.Fatalf("audience list: %v", err)
	}

	with := func(k string, v any) map[string]any {
		c := goodClaims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	good := makeToken(t, hs256, goodClaims(), key)
	parts := strings.Split(good, ".")
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	tampered := goodClaims()
	tampered["userAuthorizationId"] = "ua-attacker"
	tamperedBody, _ := json.Marshal(tampered)
	bad := map[string]string{
		"forged with the raw secret":  makeToken(t, hs256, goodClaims(), []byte(testSecret)),
		"forged with another key":     makeToken(t, hs256, goodClaims(), []byte("attacker-key")),
		"expired":                     makeToken(t, hs256, with("exp", testNow.Unix()), key),
		"no exp":                      makeToken(t, hs256, with("exp", nil), key),
		"not yet valid":               makeToken(t, hs256, with("nbf", testNow.Add(time.Minute).Unix()), key),
		"wrong audience":              makeToken(t, hs256, with("aud", "merchant-2"), key),
		"no audience":                 makeToken(t, hs256, with("aud", nil), key),
		"wrong issuer":                makeToken(t, hs256, with("iss", "evil.example"), key),
		"no nonce":                    makeToken(t, hs256, with("nonce", nil), key),
		"no referenceId":              makeToken(t, hs256, with("referenceId", nil), key),
		"succeeded without user":      makeToken(t, hs256, with("userAuthorizationId", nil), key),
		"no result":                   makeToken(t, hs256, with("result", nil), key),
		"alg none, no signature":      noneHeader + "." + parts[1] + ".",
		"alg none, kept signature":    noneHeader + "." + parts[1] + "." + parts[2],
		"alg HS512":                   makeToken(t, map[string]any{"alg": "HS512", "typ": "JWT"}, goodClaims(), key),
		"alg hs256 lower case":        makeToken(t, map[string]any{"alg": "hs256"}, goodClaims(), key),
		"critical extension":          makeToken(t, map[string]any{"alg": "HS256", "crit": []string{"exp"}}, goodClaims(), key),
		"tampered claims":             parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedBody) + "." + parts[2],
		"two parts":                   parts[0] + "." + parts[1],
		"padded base64":               parts[0] + "=." + parts[1] + "." + parts[2],
		"empty":                       "",
		"garbage":                     "not-a-token",
		"oversized":                   strings.Repeat("a", maxLinkTokenBytes+1),
		"claims not an object":        makeTokenRaw(hs256, []byte(`["x"]`), key),
		"trailing data in the claims": makeTokenRaw(hs256, []byte(`{"iss":"paypay.ne.jp"} {}`), key),
	}
	for name, token := range bad {
		_, err := a.VerifyLinkResponse(token, testNow)
		if !errors.Is(err, contracts.ErrLinkTokenInvalid) {
			t.Errorf("%s: err = %v, want ErrLinkTokenInvalid", name, err)
			continue
		}
		if len(token) > 20 && strings.Contains(err.Error(), token[len(token)-20:]) {
			t.Errorf("%s: the error quotes the token", name)
		}
	}
}

func makeTokenRaw(header map[string]any, claims, key []byte) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

func TestDecodeSecretLikeNodeBuffer(t *testing.T) {
	// Node 20: Buffer.from(s, "base64").
	for s, want := range map[string][]byte{
		"YWJj": []byte("abc"), "YW=Jj": []byte("a"), "a": nil, "ab cd": {0x69, 0xb7, 0x1d},
		"ab_c/d+e": {0x69, 0xbf, 0xdc, 0xfd, 0xdf, 0x9e}, "test-secret": {0xb5, 0xeb, 0x2d, 0xfa, 0xc7, 0x9c, 0xad, 0xeb},
	} {
		if got := decodeSecret(s); string(got) != string(want) {
			t.Errorf("decodeSecret(%q) = %x, want %x", s, got, want)
		}
	}
}

func TestCreateLinkSession(t *testing.T) {
	f, a := newFake(t, answer(http.StatusCreated, "SUCCESS", map[string]any{"linkQRCodeURL": "https://qr.paypay.ne.jp/link/abc"}))
	s, err := a.CreateLinkSession(context.Background(), contracts.LinkSessionRequest{
		Scopes: []string{"direct_debit", "cashback"}, Nonce: "n1", ReferenceID: "la_1",
		RedirectURL: "https://payhub.example/v1/links/return", PhoneNumber: "09012345678",
	})
	if err != nil || s.URL != "https://qr.paypay.ne.jp/link/abc" || !s.ExpiresAt.Equal(testNow.Add(DefaultLinkSessionLifetime)) {
		t.Fatalf("session %+v %v", s, err)
	}
	got := f.requests()[0]
	if got.method != http.MethodPost || got.path != "/v1/qr/sessions" || got.body["redirectType"] != "WEB_LINK" ||
		got.body["referenceId"] != "la_1" || got.body["nonce"] != "n1" || got.body["phoneNumber"] != "09012345678" ||
		len(got.body["scopes"].([]any)) != 2 || got.body["redirectUrl"] != "https://payhub.example/v1/links/return" {
		t.Fatalf("sent %+v", got)
	}
	if _, has := got.body["deviceId"]; has {
		t.Error("empty deviceId sent")
	}

	for name, tc := range map[string]struct {
		respond func(http.ResponseWriter, *http.Request)
		want    contracts.Outcome
	}{
		"refused":     {answer(http.StatusBadRequest, "INVALID_REQUEST_PARAMS", nil), contracts.OutcomeFailed},
		"5xx":         {answer(http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", nil), contracts.OutcomeUnknown},
		"no url":      {answer(http.StatusCreated, "SUCCESS", map[string]any{}), contracts.OutcomeUnknown},
		"unknown 4xx": {answer(http.StatusBadRequest, "SOMETHING_NEW", nil), contracts.OutcomeUnknown},
	} {
		_, a := newFake(t, tc.respond)
		_, err := a.CreateLinkSession(context.Background(), contracts.LinkSessionRequest{Scopes: []string{"cashback"}, Nonce: "n", ReferenceID: "r", RedirectURL: "https://x.example/r"})
		var pe *contracts.PartnerError
		if !errors.As(err, &pe) || pe.Outcome != tc.want {
			t.Errorf("%s: err = %v, want outcome %s", name, err, tc.want)
		}
	}
	_, err = a.CreateLinkSession(context.Background(), contracts.LinkSessionRequest{Nonce: "n", ReferenceID: "r", RedirectURL: "https://x.example/r"})
	if err == nil || len(f.requests()) != 1 {
		t.Fatal("a session without scopes was sent")
	}
}

func TestUserAuthorizationAndUnlink(t *testing.T) {
	f, a := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			writeEnvelope(w, http.StatusOK, "SUCCESS", nil)
			return
		}
		writeEnvelope(w, http.StatusOK, "SUCCESS", map[string]any{
			"userAuthorizationId": "ua-1", "referenceIds": []string{"ref-1"}, "status": "ACTIVE",
			"scopes": []string{"direct_debit"}, "expireAt": testNow.Add(time.Hour).Unix(), "issuedAt": testNow.Unix(),
		})
	})
	st, err := a.UserAuthorization(context.Background(), "ua-1")
	if err != nil || !st.Active || st.Status != "ACTIVE" || len(st.Scopes) != 1 || !st.ExpiresAt.Equal(testNow.Add(time.Hour)) || !st.IssuedAt.Equal(testNow) {
		t.Fatalf("status %+v %v", st, err)
	}
	if err := a.Unlink(context.Background(), "ua-1"); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if reqs[0].method != http.MethodGet || reqs[0].path != "/v2/user/authorizations" || reqs[0].query != "userAuthorizationId=ua-1" {
		t.Errorf("status sent %+v", reqs[0])
	}
	if reqs[1].method != http.MethodDelete || reqs[1].path != "/v2/user/authorizations/ua-1" {
		t.Errorf("unlink sent %+v", reqs[1])
	}
	if _, err := a.UserAuthorization(context.Background(), "ua-2"); err == nil {
		t.Error("an answer about another authorization was accepted")
	}

	_, a = newFake(t, answer(http.StatusUnauthorized, "INVALID_USER_AUTHORIZATION_ID", nil))
	var pe *contracts.PartnerError
	if err := a.Unlink(context.Background(), "ua-x"); !errors.As(err, &pe) || pe.Outcome != contracts.OutcomeFailed || pe.PartnerCode != "INVALID_USER_AUTHORIZATION_ID" {
		t.Fatalf("unlink unknown: %v", err)
	}
	_, a = newFake(t, answer(http.StatusServiceUnavailable, "MAINTENANCE_MODE", nil))
	if _, err := a.UserAuthorization(context.Background(), "ua-x"); !errors.As(err, &pe) || pe.Outcome != contracts.OutcomeUnknown {
		t.Fatalf("status in maintenance: %v", err)
	}
}
