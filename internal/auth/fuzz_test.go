package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"payhub/contracts"
)

// FuzzAuthenticate asserts the one property that matters: a header is never authorised
// unless its token's signature verifies with an allow-listed key pinned to the token's
// algorithm. The check below is independent of golang-jwt: strict base64url, the standard
// library's Ed25519 and ECDSA verification, over the exact signed bytes.
func FuzzAuthenticate(f *testing.F) {
	fx := newFixture(f)
	f.Add("Bearer " + fx.mint(f, fx.ed, "k-ed", "st_a"))
	f.Add("Bearer " + fx.mint(f, fx.es, "k-es", "st_b"))
	f.Add("Bearer " + fx.mint(f, fx.other, "k-other", "st_c"))
	f.Add("Bearer " + fx.mint(f, fx.revoked, "k-revoked", "st_a"))
	f.Add("")
	f.Add("Bearer ..")
	f.Fuzz(func(t *testing.T, header string) {
		p, err := fx.verifier.Authenticate(context.Background(), header)
		if err != nil {
			if _, ok := contracts.AsError(err); !ok {
				t.Fatalf("refusal without a public error: %v", err)
			}
			if len(header) > len("Bearer ")+16 {
				assertNoTokenInError(t, err, header[len("Bearer "):])
			}
			return
		}
		kid, ok := independentlyVerified(fx, header[len("Bearer "):])
		if !ok {
			t.Fatalf("authorised a token whose signature does not verify with a registered key: %q", header)
		}
		if p.KeyID != kid {
			t.Fatalf("principal names kid %q, signature verified with %q", p.KeyID, kid)
		}
	})
}

// independentlyVerified reports whether token is three strict base64url segments whose
// header names a registered kid and whose signature verifies under that key's pinned
// algorithm.
func independentlyVerified(fx *fixture, token string) (string, bool) {
	segs := strings.Split(token, ".")
	if len(segs) != 3 {
		return "", false
	}
	enc := base64.RawURLEncoding.Strict()
	headerJSON, err := enc.DecodeString(segs[0])
	if err != nil {
		return "", false
	}
	sig, err := enc.DecodeString(segs[2])
	if err != nil {
		return "", false
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(headerJSON, &header) != nil {
		return "", false
	}
	key, ok := fx.keys.keys[header.Kid]
	if !ok || key.Algorithm != header.Alg {
		return "", false
	}
	signed := []byte(segs[0] + "." + segs[1])
	switch header.Alg {
	case contracts.AlgEdDSA:
		pub := map[string]ed25519.PublicKey{"k-ed": fx.ed.Public().(ed25519.PublicKey), "k-other": fx.other.Public().(ed25519.PublicKey)}[header.Kid]
		return header.Kid, pub != nil && ed25519.Verify(pub, signed, sig)
	case contracts.AlgES256:
		if header.Kid != "k-es" || len(sig) != 64 {
			return "", false
		}
		digest := sha256.Sum256(signed)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return header.Kid, ecdsa.Verify(&fx.es.PublicKey, digest[:], r, s)
	}
	return "", false
}

func BenchmarkAuthenticate(b *testing.B) {
	fx := newFixture(b)
	for _, tc := range []struct {
		name string
		tok  string
	}{
		{"EdDSA", fx.mint(b, fx.ed, "k-ed", "st_a")},
		{"ES256", fx.mint(b, fx.es, "k-es", "st_a")},
	} {
		// again: a till's next request with the token it sent before (the signature was
		// checked then); first: a token the verifier has not seen, checked in full.
		b.Run(tc.name+"/again", func(b *testing.B) {
			header := "Bearer " + tc.tok
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fx.verifier.Authenticate(context.Background(), header); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/first", func(b *testing.B) {
			header := "Bearer " + tc.tok
			b.ReportAllocs()
			for b.Loop() {
				fx.verifier.forgetVerified(tc.tok)
				if _, err := fx.verifier.Authenticate(context.Background(), header); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("RefuseDots", func(b *testing.B) {
		header := "Bearer " + strings.Repeat(".", 200<<10)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fx.verifier.Authenticate(context.Background(), header); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
