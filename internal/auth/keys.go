package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"

	"payhub/contracts"
)

// ValidKeyID reports whether kid can name a key in a token header: 1 to 64 of A–Z, a–z,
// 0–9, '.', '_' and '-' (docs/security.md §2). The verifier refuses any other kid before
// it looks it up, so a key registered under another name could never sign a token.
func ValidKeyID(kid string) bool { return kidPattern.MatchString(kid) }

// GenerateKey makes a new signing key for alg (contracts.AlgEdDSA or contracts.AlgES256).
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case contracts.AlgEdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case contracts.AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("auth: unsupported key algorithm %q", alg)
	}
}

// AlgorithmFor names the token algorithm a key signs with: contracts.AlgEdDSA for Ed25519,
// contracts.AlgES256 for ECDSA P-256. Other keys are refused.
func AlgorithmFor(key crypto.Signer) (string, error) {
	if key == nil {
		return "", errors.New("auth: nil key")
	}
	return algorithmForPublic(key.Public())
}

func algorithmForPublic(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", errors.New("auth: malformed Ed25519 public key")
		}
		return contracts.AlgEdDSA, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("auth: ECDSA keys must be on P-256")
		}
		return contracts.AlgES256, nil
	default:
		return "", fmt.Errorf("auth: unsupported key type %T", pub)
	}
}

// MarshalPrivateKeyPEM encodes a signing key as PKCS#8 ("PRIVATE KEY") PEM.
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	if _, err := AlgorithmFor(key); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("auth: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes a PKCS#8 ("PRIVATE KEY") PEM signing key, Ed25519 or ECDSA
// P-256. SEC 1 ("EC PRIVATE KEY") is accepted too, since openssl writes P-256 keys that way.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("auth: no PEM block in private key")
	}
	var parsed any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("auth: PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: decode private key: %w", err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("auth: unsupported private key type %T", parsed)
	}
	if _, err := AlgorithmFor(signer); err != nil {
		return nil, err
	}
	return signer, nil
}

// MarshalPublicKeyPEM encodes a public key as PKIX ("PUBLIC KEY") PEM, the form
// contracts.ClientKey.PublicKeyPEM holds.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	if _, err := algorithmForPublic(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("auth: encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// PublicKeyAlgorithm reads a PKIX ("PUBLIC KEY") PEM and names the algorithm it is to be
// pinned to when registered: EdDSA for Ed25519, ES256 for P-256.
func PublicKeyAlgorithm(data []byte) (string, error) {
	_, alg, err := decodePublicKeyPEM(data)
	return alg, err
}

// decodePublicKeyPEM decodes exactly one PKIX PEM block holding an Ed25519 or P-256 key.
func decodePublicKeyPEM(data []byte) (crypto.PublicKey, string, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, "", errors.New("no PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, "", fmt.Errorf("PEM block %q is not a PUBLIC KEY", block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, "", errors.New("data after the PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, "", err
	}
	alg, err := algorithmForPublic(pub)
	return pub, alg, err
}

// parsePublicKeyPEM decodes a registered key and checks it matches its pinned algorithm.
// The result is typed (ed25519.PublicKey or *ecdsa.PublicKey), never bytes: handing a
// verifier bytes is what lets an HS256 token use the public key as an HMAC secret.
func parsePublicKeyPEM(data []byte, alg string) (crypto.PublicKey, error) {
	pub, got, err := decodePublicKeyPEM(data)
	if err != nil {
		return nil, err
	}
	if got != alg {
		return nil, fmt.Errorf("key is %s but pinned to %s", got, alg)
	}
	return pub, nil
}

// keyCacheLimit bounds the parsed-key cache; a registry rarely holds more live keys.
const keyCacheLimit = 4096

// keyCacheEntry identifies one parse: the same kid with another PEM (a re-registered key)
// or another pinned algorithm is a different entry, so the cache never serves a stale key.
type keyCacheEntry struct {
	kid, alg string
	pemHash  [sha256.Size]byte
}

// keyCache keeps parsed public keys, because PKIX parsing costs more than verifying.
type keyCache struct {
	mu   sync.RWMutex
	keys map[keyCacheEntry]crypto.PublicKey
}

func (c *keyCache) publicKey(k contracts.ClientKey) (crypto.PublicKey, error) {
	id := keyCacheEntry{kid: k.KID, alg: k.Algorithm, pemHash: sha256.Sum256(k.PublicKeyPEM)}
	c.mu.RLock()
	pub, ok := c.keys[id]
	c.mu.RUnlock()
	if ok {
		return pub, nil
	}
	pub, err := parsePublicKeyPEM(k.PublicKeyPEM, k.Algorithm)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || len(c.keys) >= keyCacheLimit {
		// Starting over is crude but bounded, and a full cache only costs re-parsing.
		c.keys = make(map[keyCacheEntry]crypto.PublicKey)
	}
	c.keys[id] = pub
	return pub, nil
}
