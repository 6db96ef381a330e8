package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"payhub/contracts"
)

// testNow is the fixed clock of every test; seed corpora hold tokens valid at this instant.
var testNow = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// Deterministic test keys, derived from labels so the committed fuzz corpus stays valid.
func testEdKey(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(label))
	return ed25519.NewKeyFromSeed(seed[:])
}

func testESKey(t testing.TB, label string) *ecdsa.PrivateKey {
	t.Helper()
	scalar := sha256.Sum256([]byte(label))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// memKeys is an in-memory KeySource.
type memKeys struct {
	mu      sync.Mutex
	keys    map[string]contracts.ClientKey
	clients map[string]contracts.StoreClient
	err     error // returned for every lookup when set
	lookups int
}

func (m *memKeys) LookupClientKey(_ context.Context, kid string) (contracts.ClientKey, contracts.StoreClient, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	if m.err != nil {
		return contracts.ClientKey{}, contracts.StoreClient{}, m.err
	}
	k, ok := m.keys[kid]
	if !ok {
		return contracts.ClientKey{}, contracts.StoreClient{}, fmt.Errorf("client key %s: %w", kid, contracts.ErrNotFound)
	}
	return k, m.clients[k.ClientID], nil
}

func (m *memKeys) register(t testing.TB, clientID, kid, alg string, pub crypto.PublicKey) {
	t.Helper()
	pemBytes, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[kid] = contracts.ClientKey{KID: kid, ClientID: clientID, Algorithm: alg, PublicKeyPEM: pemBytes, CreatedAt: testNow}
}

// fixture is a registry of two clients and the keys the tests sign with.
type fixture struct {
	keys     *memKeys
	verifier *Verifier
	ed       ed25519.PrivateKey // kid k-ed, client cl_pos1, EdDSA
	es       *ecdsa.PrivateKey  // kid k-es, client cl_pos1, ES256
	other    ed25519.PrivateKey // kid k-other, client cl_other
	revoked  ed25519.PrivateKey // kid k-revoked, never registered (a revoked key is not found)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{
		keys: &memKeys{
			keys: map[string]contracts.ClientKey{},
			clients: map[string]contracts.StoreClient{
				"cl_pos1":  {ID: "cl_pos1", Name: "POS one", Stores: []string{"st_a", "st_b"}},
				"cl_other": {ID: "cl_other", Name: "POS two", Stores: []string{"st_c"}},
			},
		},
		ed:      testEdKey("payhub auth test ed"),
		es:      testESKey(t, "payhub auth test es"),
		other:   testEdKey("payhub auth test other"),
		revoked: testEdKey("payhub auth test revoked"),
	}
	f.keys.register(t, "cl_pos1", "k-ed", contracts.AlgEdDSA, f.ed.Public())
	f.keys.register(t, "cl_pos1", "k-es", contracts.AlgES256, f.es.Public())
	f.keys.register(t, "cl_other", "k-other", contracts.AlgEdDSA, f.other.Public())
	f.verifier = NewVerifier(f.keys, VerifierOptions{Clock: fixedClock{testNow}})
	return f
}

// mint signs a well-formed token with Mint.
func (f *fixture) mint(t testing.TB, key crypto.Signer, kid, store string) string {
	t.Helper()
	tok, err := Mint(TokenRequest{Key: key, KeyID: kid, ClientID: "cl_pos1", StoreID: store,
		IssuedAt: testNow, TTL: 2 * time.Minute, TokenID: "tok-1"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// baseClaims are valid claims for cl_pos1 at testNow; cases edit a copy.
func baseClaims() map[string]any {
	return map[string]any{
		"iss": "cl_pos1", "aud": "payhub", "iat": testNow.Unix(), "exp": testNow.Add(2 * time.Minute).Unix(),
		"jti": "tok-1", "store": "st_a",
	}
}

func b64(v any) string {
	var raw []byte
	switch x := v.(type) {
	case string:
		raw = []byte(x)
	default:
		var err error
		if raw, err = json.Marshal(x); err != nil {
			panic(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// craft assembles a token by hand: header and claims are maps or raw JSON strings, and
// method signs with key (nil method leaves the signature empty).
func craft(t testing.TB, header, claims any, method jwt.SigningMethod, key any) string {
	t.Helper()
	input := b64(header) + "." + b64(claims)
	if method == nil {
		return input + "."
	}
	sig, err := method.Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func edHeader(kid string) map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}
}

// assertNoTokenInError fails when the error text or reason quotes the token or a segment.
func assertNoTokenInError(t *testing.T, err error, token string) {
	t.Helper()
	texts := []string{err.Error()}
	if ae, ok := err.(*AuthError); ok {
		texts = append(texts, ae.Reason, ae.Public.Detail)
	}
	needles := []string{token}
	for _, seg := range strings.Split(token, ".") {
		if len(seg) >= 8 {
			needles = append(needles, seg)
		}
	}
	for _, text := range texts {
		for _, n := range needles {
			if n != "" && strings.Contains(text, n) {
				t.Fatalf("error text %q quotes the token", text)
			}
		}
	}
}
