package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"payhub/contracts"
	"payhub/internal/render"
)

func TestAuthenticateRefusesBadTokens(t *testing.T) {
	f := newFixture(t)
	withClaims := func(edit func(c map[string]any)) map[string]any {
		c := baseClaims()
		edit(c)
		return c
	}
	edSigned := func(claims any) string { return craft(t, edHeader("k-ed"), claims, jwt.SigningMethodEdDSA, f.ed) }
	valid := f.mint(t, f.ed, "k-ed", "st_a")
	segs := strings.Split(valid, ".")

	pubPEM := f.keys.keys["k-ed"].PublicKeyPEM
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f.keys.register(t, "cl_pos1", "k-rsa", contracts.AlgEdDSA, f.ed.Public()) // a kid an RS256 token could name

	tampered := edSigned(baseClaims())
	{
		s := strings.Split(tampered, ".")
		s[1] = b64(withClaims(func(c map[string]any) { c["store"] = "st_b" }))
		tampered = strings.Join(s, ".")
	}
	nonCanonical := segs[0] + "." + segs[1] + "." + flipUnusedBits(t, segs[2])

	cases := []struct {
		name   string
		header string // full Authorization header
		status int
	}{
		{"alg none, empty signature", "Bearer " + craft(t, map[string]any{"alg": "none", "typ": "JWT", "kid": "k-ed"}, baseClaims(), nil, nil), 401},
		{"HS256 with the public key PEM as secret", "Bearer " + craft(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k-ed"}, baseClaims(), jwt.SigningMethodHS256, pubPEM), 401},
		{"wrong aud", "Bearer " + edSigned(withClaims(func(c map[string]any) { c["aud"] = "payhub-ops" })), 401},
		{"wrong iss", "Bearer " + edSigned(withClaims(func(c map[string]any) { c["iss"] = "cl_other" })), 401},
		{"unknown kid", "Bearer " + craft(t, edHeader("k-nope"), baseClaims(), jwt.SigningMethodEdDSA, f.ed), 401},
		{"kid with ../", "Bearer " + craft(t, edHeader("../k-ed"), baseClaims(), jwt.SigningMethodEdDSA, f.ed), 401},
		{"kid missing", "Bearer " + craft(t, map[string]any{"alg": "EdDSA"}, baseClaims(), jwt.SigningMethodEdDSA, f.ed), 401},
		{"exp missing", "Bearer " + edSigned(withClaims(func(c map[string]any) { delete(c, "exp") })), 401},
		{`exp "soon"`, "Bearer " + edSigned(withClaims(func(c map[string]any) { c["exp"] = "soon" })), 401},
		{"exp true", "Bearer " + edSigned(withClaims(func(c map[string]any) { c["exp"] = true })), 401},
		{"expired", "Bearer " + edSigned(withClaims(func(c map[string]any) {
			c["iat"] = testNow.Add(-5 * time.Minute).Unix()
			c["exp"] = testNow.Add(-time.Minute).Unix()
		})), 401},
		{"exp − iat over 5 min", "Bearer " + edSigned(withClaims(func(c map[string]any) {
			c["exp"] = testNow.Add(5*time.Minute + time.Second).Unix()
		})), 401},
		{"exp before iat", "Bearer " + edSigned(withClaims(func(c map[string]any) {
			c["iat"] = testNow.Add(20 * time.Second).Unix() // within leeway, so only the order is wrong
			c["exp"] = testNow.Add(10 * time.Second).Unix()
		})), 401},
		{"iat in the future", "Bearer " + edSigned(withClaims(func(c map[string]any) {
			c["iat"] = testNow.Add(2 * time.Minute).Unix()
			c["exp"] = testNow.Add(4 * time.Minute).Unix()
		})), 401},
		{"iat missing", "Bearer " + edSigned(withClaims(func(c map[string]any) { delete(c, "iat") })), 401},
		{"nbf in the future", "Bearer " + edSigned(withClaims(func(c map[string]any) { c["nbf"] = testNow.Add(time.Minute).Unix() })), 401},
		{"jti missing", "Bearer " + edSigned(withClaims(func(c map[string]any) { delete(c, "jti") })), 401},
		{"store missing", "Bearer " + edSigned(withClaims(func(c map[string]any) { delete(c, "store") })), 401},
		{"payload tampered, old signature", "Bearer " + tampered, 401},
		{"RS256 token", "Bearer " + craft(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k-rsa"}, baseClaims(), jwt.SigningMethodRS256, rsaKey), 401},
		{"jku header", "Bearer " + craft(t, map[string]any{"alg": "EdDSA", "kid": "k-ed", "jku": "https://evil.example/jwks"}, baseClaims(), jwt.SigningMethodEdDSA, f.ed), 401},
		{"jwk header", "Bearer " + craft(t, map[string]any{"alg": "EdDSA", "kid": "k-ed", "jwk": map[string]any{"kty": "OKP"}}, baseClaims(), jwt.SigningMethodEdDSA, f.ed), 401},
		{"x5u header", "Bearer " + craft(t, map[string]any{"alg": "EdDSA", "kid": "k-ed", "x5u": "https://evil.example/cert"}, baseClaims(), jwt.SigningMethodEdDSA, f.ed), 401},
		{"x5c header", "Bearer " + craft(t, map[string]any{"alg": "EdDSA", "kid": "k-ed", "x5c": []string{"MIIB"}}, baseClaims(), jwt.SigningMethodEdDSA, f.ed), 401},
		{"crit header", "Bearer " + craft(t, map[string]any{"alg": "EdDSA", "kid": "k-ed", "crit": []string{"exp"}}, baseClaims(), jwt.SigningMethodEdDSA, f.ed), 401},
		{"typ not JWT", "Bearer " + craft(t, map[string]any{"alg": "EdDSA", "kid": "k-ed", "typ": "at+jwt"}, baseClaims(), jwt.SigningMethodEdDSA, f.ed), 401},
		{"padded base64", "Bearer " + valid + "==", 401},
		{"padded base64 in payload", "Bearer " + segs[0] + "." + segs[1] + "=." + segs[2], 401},
		{"non-canonical base64 signature", "Bearer " + nonCanonical, 401},
		{"standard base64 alphabet", "Bearer " + segs[0] + "." + segs[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(segs[2]) + "+/", 401},
		{"four segments", "Bearer " + valid + ".AAAA", 401},
		{"two segments", "Bearer " + segs[0] + "." + segs[1], 401},
		{"no Authorization header", "", 401},
		{"Basic scheme", "Basic Y2xfcG9zMTpzZWNyZXQ=", 401},
		{"Bearer without token", "Bearer ", 401},
		{"token over 4 KiB", "Bearer " + segs[0] + "." + segs[1] + strings.Repeat("A", MaxTokenBytes) + "." + segs[2], 401},
		{"ES256 key on an EdDSA-pinned kid", "Bearer " + craft(t, map[string]any{"alg": "ES256", "typ": "JWT", "kid": "k-ed"}, baseClaims(), jwt.SigningMethodES256, f.es), 401},
		{"EdDSA token on an ES256-pinned kid", "Bearer " + craft(t, edHeader("k-es"), baseClaims(), jwt.SigningMethodEdDSA, f.ed), 401},
		{"revoked key (not found)", "Bearer " + f.mint(t, f.revoked, "k-revoked", "st_a"), 401},
		{"other client's key signing for cl_pos1", "Bearer " + craft(t, edHeader("k-other"), baseClaims(), jwt.SigningMethodEdDSA, f.other), 401},
		{"store not granted", "Bearer " + edSigned(withClaims(func(c map[string]any) { c["store"] = "st_c" })), 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.verifier.Authenticate(context.Background(), tc.header)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if !reflect.DeepEqual(p, Principal{}) {
				t.Fatalf("refusal returned a principal: %+v", p)
			}
			assertRefusal(t, err, tc.status)
			token := strings.TrimPrefix(tc.header, "Bearer ")
			if len(token) >= 8 {
				assertNoTokenInError(t, err, token)
			}
		})
	}
}

func assertRefusal(t *testing.T, err error, status int) {
	t.Helper()
	pub, ok := contracts.AsError(err)
	if !ok {
		t.Fatalf("error %v carries no *contracts.Error", err)
	}
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Reason == "" {
		t.Fatalf("error %v is not an *AuthError with a reason", err)
	}
	t.Logf("refused %d: %s", render.ErrorStatus(pub), ae.Reason)
	if render.ErrorStatus(pub) != status {
		t.Fatalf("status %d, want %d (reason: %s)", render.ErrorStatus(pub), status, ae.Reason)
	}
	switch status {
	case http.StatusUnauthorized:
		if pub.Code != contracts.CodeUnauthenticated || pub.Detail != unauthenticatedDetail {
			t.Fatalf("401 must be generic, got %q / %q", pub.Code, pub.Detail)
		}
	case http.StatusForbidden:
		if pub.Code != contracts.CodeStoreNotGranted {
			t.Fatalf("code %q, want store_not_granted", pub.Code)
		}
	}
}

// flipUnusedBits re-encodes a base64url segment non-canonically: same bytes, but the
// unused low bits of the last character set.
func flipUnusedBits(t *testing.T, seg string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	unused := map[int]int{2: 4, 3: 2}[len(seg)%4] // bits of the last char that carry no data
	if unused == 0 {
		t.Fatalf("segment length %d has no unused bits", len(seg))
	}
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last|1])
}

func TestAuthenticateAcceptsValidTokens(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name string
		tok  string
		kid  string
	}{
		{"EdDSA", f.mint(t, f.ed, "k-ed", "st_a"), "k-ed"},
		{"ES256", f.mint(t, f.es, "k-es", "st_b"), "k-es"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, scheme := range []string{"Bearer ", "bearer "} {
				p, err := f.verifier.Authenticate(context.Background(), scheme+tc.tok)
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if p.ClientID != "cl_pos1" || p.KeyID != tc.kid || p.TokenID != "tok-1" ||
					!p.ExpiresAt.Equal(testNow.Add(2*time.Minute)) || (p.StoreID != "st_a" && p.StoreID != "st_b") {
					t.Fatalf("principal %+v", p)
				}
			}
		})
	}
}

func TestAuthenticateLeewayAndLifetimeEdges(t *testing.T) {
	f := newFixture(t)
	tok := func(iat time.Time, ttl time.Duration) string {
		s, err := Mint(TokenRequest{Key: f.ed, KeyID: "k-ed", ClientID: "cl_pos1", StoreID: "st_a", IssuedAt: iat, TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"exactly 5 minutes", tok(testNow, 5*time.Minute), true},
		{"iat 20 s ahead (within leeway)", tok(testNow.Add(20*time.Second), time.Minute), true},
		{"expired 20 s ago (within leeway)", tok(testNow.Add(-80*time.Second), time.Minute), true},
		{"expired 40 s ago", tok(testNow.Add(-100*time.Second), time.Minute), false},
		{"5 minutes and 1 second", tok(testNow, 5*time.Minute+time.Second), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.verifier.Authenticate(context.Background(), "Bearer "+tc.tok)
			if (err == nil) != tc.ok {
				t.Fatalf("ok=%v, err=%v", tc.ok, err)
			}
		})
	}
}

func TestAuthenticateRegistryFailures(t *testing.T) {
	t.Run("database down is 500, not 401", func(t *testing.T) {
		f := newFixture(t)
		f.keys.err = errors.New("connection refused")
		tok := f.mint(t, f.ed, "k-ed", "st_a")
		_, err := f.verifier.Authenticate(context.Background(), "Bearer "+tok)
		pub, ok := contracts.AsError(err)
		if !ok || render.ErrorStatus(pub) != http.StatusInternalServerError || pub.Code != contracts.CodeInternalError {
			t.Fatalf("got %v", err)
		}
		assertNoTokenInError(t, err, tok)
	})
	t.Run("key marked revoked is refused", func(t *testing.T) {
		f := newFixture(t)
		k := f.keys.keys["k-ed"]
		revokedAt := testNow.Add(-time.Second)
		k.RevokedAt = &revokedAt
		f.keys.keys["k-ed"] = k
		_, err := f.verifier.Authenticate(context.Background(), "Bearer "+f.mint(t, f.ed, "k-ed", "st_a"))
		assertRefusal(t, err, http.StatusUnauthorized)
	})
	t.Run("unknown kid wraps ErrNotFound for logs", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.verifier.Authenticate(context.Background(), "Bearer "+f.mint(t, f.revoked, "k-revoked", "st_a"))
		assertRefusal(t, err, http.StatusUnauthorized)
	})
	t.Run("pre-parse refusals never reach the registry", func(t *testing.T) {
		f := newFixture(t)
		for _, h := range []string{"", "Bearer a.b", "Bearer a.b.c.d", "Bearer " + strings.Repeat(".", 5000), "Token x.y.z"} {
			if _, err := f.verifier.Authenticate(context.Background(), h); err == nil {
				t.Fatalf("%q accepted", h)
			}
		}
		if f.keys.lookups != 0 {
			t.Fatalf("%d registry lookups", f.keys.lookups)
		}
	})
}

// TestKeyCacheFollowsPEMChanges: the same kid re-registered with another key must verify
// against the new key, never a cached old one.
func TestKeyCacheFollowsPEMChanges(t *testing.T) {
	f := newFixture(t)
	old := f.mint(t, f.ed, "k-ed", "st_a")
	if _, err := f.verifier.Authenticate(context.Background(), "Bearer "+old); err != nil {
		t.Fatal(err)
	}
	replacement := testEdKey("payhub auth test replacement")
	f.keys.register(t, "cl_pos1", "k-ed", contracts.AlgEdDSA, replacement.Public())
	if _, err := f.verifier.Authenticate(context.Background(), "Bearer "+old); err == nil {
		t.Fatal("token of the replaced key accepted from the cache")
	}
	if _, err := f.verifier.Authenticate(context.Background(), "Bearer "+f.mint(t, replacement, "k-ed", "st_a")); err != nil {
		t.Fatalf("new key refused: %v", err)
	}
}

func TestHugeDottedHeaderIsRefusedCheaply(t *testing.T) {
	f := newFixture(t)
	header := "Bearer " + strings.Repeat(".", 200<<10)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := f.verifier.Authenticate(context.Background(), header); err == nil {
			t.Fatal("accepted")
		}
	})
	// The refusal allocates only its error (and the reason string); never anything
	// proportional to the header.
	if allocs > 4 {
		t.Fatalf("%.0f allocations to refuse 200 KB of dots", allocs)
	}
}

func TestMaxLifetimeIsNeverRaised(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.keys, VerifierOptions{Clock: fixedClock{testNow}, MaxLifetime: time.Hour})
	tok, err := Mint(TokenRequest{Key: f.ed, KeyID: "k-ed", ClientID: "cl_pos1", StoreID: "st_a", IssuedAt: testNow, TTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authenticate(context.Background(), "Bearer "+tok); err == nil {
		t.Fatal("10-minute token accepted")
	}
}

// movingClock is a clock a test moves.
type movingClock struct{ t *time.Time }

func (c movingClock) Now() time.Time { return *c.t }

// TestKeyTTLTrustsAFoundKeyBriefly: with KeyTTL, a busy till costs one registry query per
// TTL, not one per request; a revocation in the registry takes effect once the TTL is
// over; an unknown kid is remembered as unknown (UnknownKeyTTL defaults to KeyTTL).
func TestKeyTTLTrustsAFoundKeyBriefly(t *testing.T) {
	f := newFixture(t)
	now := testNow
	f.verifier = NewVerifier(f.keys, VerifierOptions{Clock: movingClock{&now}, KeyTTL: 5 * time.Second})
	tok := f.mint(t, f.ed, "k-ed", "st_a")
	for range 3 {
		if _, err := f.verifier.Authenticate(context.Background(), "Bearer "+tok); err != nil {
			t.Fatal(err)
		}
	}
	if f.keys.lookups != 1 {
		t.Fatalf("%d registry lookups for 3 requests within the TTL, want 1", f.keys.lookups)
	}
	k := f.keys.keys["k-ed"]
	revokedAt := testNow
	k.RevokedAt = &revokedAt
	f.keys.keys["k-ed"] = k
	now = testNow.Add(5 * time.Second)
	_, err := f.verifier.Authenticate(context.Background(), "Bearer "+tok)
	assertRefusal(t, err, http.StatusUnauthorized)
	if f.keys.lookups != 2 {
		t.Fatalf("%d registry lookups, want a second one after the TTL", f.keys.lookups)
	}
	unknown := f.mint(t, f.revoked, "k-revoked", "st_a")
	for range 2 {
		_, err := f.verifier.Authenticate(context.Background(), "Bearer "+unknown)
		assertRefusal(t, err, http.StatusUnauthorized)
	}
	if f.keys.lookups != 3 {
		t.Fatalf("%d registry lookups, want an unknown kid asked once within the TTL", f.keys.lookups)
	}
}

// TestUnknownKidsAreRememberedBriefly: the negative kid cache of docs/security.md §6. A
// repeated unknown kid costs one registry query per UnknownKeyTTL; a key registered
// meanwhile is found once the TTL is over; a registry failure is never remembered; a
// negative UnknownKeyTTL asks every time; revocation still takes effect after KeyTTL.
func TestUnknownKidsAreRememberedBriefly(t *testing.T) {
	f := newFixture(t)
	now := testNow
	f.verifier = NewVerifier(f.keys, VerifierOptions{Clock: movingClock{&now}, KeyTTL: 5 * time.Second, UnknownKeyTTL: 10 * time.Second})
	unknown := f.mint(t, f.revoked, "k-revoked", "st_a")
	for range 100 {
		_, err := f.verifier.Authenticate(context.Background(), "Bearer "+unknown)
		assertRefusal(t, err, http.StatusUnauthorized)
	}
	if f.keys.lookups != 1 {
		t.Fatalf("%d registry lookups for 100 tokens with one unknown kid, want 1", f.keys.lookups)
	}
	// The key is registered now; within the TTL the kid is still taken for unknown.
	f.keys.register(t, "cl_pos1", "k-revoked", contracts.AlgEdDSA, f.revoked.Public())
	now = testNow.Add(9 * time.Second)
	_, err := f.verifier.Authenticate(context.Background(), "Bearer "+unknown)
	assertRefusal(t, err, http.StatusUnauthorized)
	now = testNow.Add(10 * time.Second)
	if _, err := f.verifier.Authenticate(context.Background(), "Bearer "+unknown); err != nil {
		t.Fatalf("a key registered during the TTL is not found after it: %v", err)
	}
	if f.keys.lookups != 2 {
		t.Fatalf("%d registry lookups, want 2", f.keys.lookups)
	}
	// Revoking it takes effect after KeyTTL, as before the negative cache.
	f.keys.mu.Lock()
	delete(f.keys.keys, "k-revoked")
	f.keys.mu.Unlock()
	now = now.Add(5 * time.Second)
	_, err = f.verifier.Authenticate(context.Background(), "Bearer "+unknown)
	assertRefusal(t, err, http.StatusUnauthorized)

	// A failing registry is asked again every time: an outage is not remembered as absence.
	f.keys.err = errors.New("database is down")
	other := f.mint(t, f.es, "k-es", "st_b")
	for range 3 {
		_, err := f.verifier.Authenticate(context.Background(), "Bearer "+other)
		assertRefusal(t, err, http.StatusInternalServerError)
	}
	f.keys.err = nil
	if _, err := f.verifier.Authenticate(context.Background(), "Bearer "+other); err != nil {
		t.Fatalf("after the outage: %v", err)
	}

	// Negative: every unknown kid is asked.
	f2 := newFixture(t)
	f2.verifier = NewVerifier(f2.keys, VerifierOptions{Clock: fixedClock{testNow}, KeyTTL: 5 * time.Second, UnknownKeyTTL: -1})
	unknown2 := f2.mint(t, f2.revoked, "k-revoked", "st_a")
	for range 3 {
		_, err := f2.verifier.Authenticate(context.Background(), "Bearer "+unknown2)
		assertRefusal(t, err, http.StatusUnauthorized)
	}
	if f2.keys.lookups != 3 {
		t.Fatalf("UnknownKeyTTL -1: %d lookups, want 3", f2.keys.lookups)
	}
}

// TestAVerifiedTokenIsCheckedAgainEveryTime: a token sent again skips only its signature
// check. Its expiry, its key's revocation or replacement and its client's grants are
// checked on every request, and a token differing by one character is verified in full.
func TestAVerifiedTokenIsCheckedAgainEveryTime(t *testing.T) {
	ctx := context.Background()
	fresh := func(t *testing.T) (*fixture, *time.Time, string) {
		f := newFixture(t)
		now := testNow
		f.verifier = NewVerifier(f.keys, VerifierOptions{Clock: movingClock{&now}})
		tok := f.mint(t, f.ed, "k-ed", "st_a")
		for range 2 {
			if _, err := f.verifier.Authenticate(ctx, "Bearer "+tok); err != nil {
				t.Fatal(err)
			}
		}
		if len(f.verifier.verified) != 1 {
			t.Fatalf("%d tokens kept after two requests with one, want 1", len(f.verifier.verified))
		}
		return f, &now, tok
	}
	t.Run("expired", func(t *testing.T) {
		f, now, tok := fresh(t)
		*now = testNow.Add(2*time.Minute + DefaultLeeway + time.Second)
		_, err := f.verifier.Authenticate(ctx, "Bearer "+tok)
		assertRefusal(t, err, http.StatusUnauthorized)
		if len(f.verifier.verified) != 0 {
			t.Fatal("an expired token stays kept")
		}
	})
	t.Run("key revoked", func(t *testing.T) {
		f, _, tok := fresh(t)
		k := f.keys.keys["k-ed"]
		revokedAt := testNow
		k.RevokedAt = &revokedAt
		f.keys.keys["k-ed"] = k
		_, err := f.verifier.Authenticate(ctx, "Bearer "+tok)
		assertRefusal(t, err, http.StatusUnauthorized)
	})
	t.Run("key removed", func(t *testing.T) {
		f, _, tok := fresh(t)
		delete(f.keys.keys, "k-ed")
		_, err := f.verifier.Authenticate(ctx, "Bearer "+tok)
		assertRefusal(t, err, http.StatusUnauthorized)
	})
	t.Run("kid now names another key", func(t *testing.T) {
		f, _, tok := fresh(t)
		f.keys.register(t, "cl_pos1", "k-ed", contracts.AlgEdDSA, f.other.Public())
		_, err := f.verifier.Authenticate(ctx, "Bearer "+tok)
		assertRefusal(t, err, http.StatusUnauthorized) // verified afresh: the signature fails
		if len(f.verifier.verified) != 0 {
			t.Fatal("a token of a replaced key stays kept")
		}
	})
	t.Run("store no longer granted", func(t *testing.T) {
		f, _, tok := fresh(t)
		c := f.keys.clients["cl_pos1"]
		c.Stores = []string{"st_b"}
		f.keys.clients["cl_pos1"] = c
		_, err := f.verifier.Authenticate(ctx, "Bearer "+tok)
		assertRefusal(t, err, http.StatusForbidden)
	})
	t.Run("one character changed", func(t *testing.T) {
		f, _, tok := fresh(t)
		last := tok[len(tok)-1]
		swapped := byte('A')
		if last == 'A' {
			swapped = 'B'
		}
		_, err := f.verifier.Authenticate(ctx, "Bearer "+tok[:len(tok)-1]+string(swapped))
		assertRefusal(t, err, http.StatusUnauthorized)
	})
}
