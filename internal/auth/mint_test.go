package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"payhub/contracts"
)

func TestKeyRoundTripAndMint(t *testing.T) {
	for _, alg := range []string{contracts.AlgEdDSA, contracts.AlgES256} {
		t.Run(alg, func(t *testing.T) {
			key, err := GenerateKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := AlgorithmFor(key); err != nil || got != alg {
				t.Fatalf("AlgorithmFor = %q, %v", got, err)
			}
			privPEM, err := MarshalPrivateKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(privPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
				t.Fatalf("not PKCS#8 PEM: %.40s", privPEM)
			}
			back, err := ParsePrivateKeyPEM(privPEM)
			if err != nil {
				t.Fatal(err)
			}
			pubPEM, err := MarshalPublicKeyPEM(back.Public())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----")) {
				t.Fatalf("not PKIX PEM: %.40s", pubPEM)
			}
			keys := &memKeys{
				keys:    map[string]contracts.ClientKey{"kid-1": {KID: "kid-1", ClientID: "cl_x", Algorithm: alg, PublicKeyPEM: pubPEM}},
				clients: map[string]contracts.StoreClient{"cl_x": {ID: "cl_x", Stores: []string{"st_x"}}},
			}
			tok, err := Mint(TokenRequest{Key: key, KeyID: "kid-1", ClientID: "cl_x", StoreID: "st_x", IssuedAt: testNow})
			if err != nil {
				t.Fatal(err)
			}
			p, err := NewVerifier(keys, VerifierOptions{Clock: fixedClock{testNow.Add(4 * time.Minute)}}).
				Authenticate(context.Background(), "Bearer "+tok)
			if err != nil {
				t.Fatalf("minted token refused: %v", err)
			}
			if p.TokenID == "" || p.StoreID != "st_x" || !p.ExpiresAt.Equal(testNow.Add(DefaultTokenTTL)) {
				t.Fatalf("principal %+v", p)
			}
		})
	}
}

func TestMintGivesDistinctRandomTokenIDs(t *testing.T) {
	key := testEdKey("ids")
	seen := map[string]bool{}
	for range 20 {
		tok, err := Mint(TokenRequest{Key: key, KeyID: "k", ClientID: "c", StoreID: "s", IssuedAt: testNow})
		if err != nil {
			t.Fatal(err)
		}
		if seen[tok] {
			t.Fatal("two identical tokens: jti is not random")
		}
		seen[tok] = true
	}
}

func TestMintAndKeysRefuseBadInput(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed := testEdKey("bad input")
	good := TokenRequest{Key: ed, KeyID: "k", ClientID: "c", StoreID: "s", IssuedAt: testNow}
	edit := func(f func(*TokenRequest)) TokenRequest { r := good; f(&r); return r }
	for name, req := range map[string]TokenRequest{
		"P-384 key":    edit(func(r *TokenRequest) { r.Key = p384 }),
		"nil key":      edit(func(r *TokenRequest) { r.Key = nil }),
		"bad kid":      edit(func(r *TokenRequest) { r.KeyID = "../k" }),
		"no store":     edit(func(r *TokenRequest) { r.StoreID = "" }),
		"no iat":       edit(func(r *TokenRequest) { r.IssuedAt = time.Time{} }),
		"negative TTL": edit(func(r *TokenRequest) { r.TTL = -time.Second }),
	} {
		if _, err := Mint(req); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
	if _, err := GenerateKey("HS256"); err == nil {
		t.Error("GenerateKey(HS256) succeeded")
	}
	if _, err := MarshalPublicKeyPEM(p384.Public()); err == nil {
		t.Error("P-384 public key marshalled")
	}
	if _, err := ParsePrivateKeyPEM([]byte("not pem")); err == nil {
		t.Error("garbage parsed as a private key")
	}
	// SEC 1 keys (openssl's default for EC) are accepted.
	p256, _ := GenerateKey(contracts.AlgES256)
	der, err := x509.MarshalECPrivateKey(p256.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})); err != nil {
		t.Errorf("SEC 1 key refused: %v", err)
	}
	// A registered key whose PEM does not match its pinned algorithm never verifies.
	edPub, _ := MarshalPublicKeyPEM(ed.Public())
	if _, err := parsePublicKeyPEM(edPub, contracts.AlgES256); err == nil {
		t.Error("Ed25519 PEM accepted as ES256")
	}
	if _, err := parsePublicKeyPEM(append(edPub, "junk"...), contracts.AlgEdDSA); err == nil {
		t.Error("trailing data after PEM accepted")
	}
}
