// Package secrets seals the few partner credentials payhub must keep per payment (GMO-PG's
// AccessID and AccessPass, which with the shop's credentials can void or refund a card
// payment) so that they are encrypted at rest (docs/partners/gmopg.md §7).
//
// A Box is AES-256-GCM under a key from configuration. Each sealed value is bound to what
// it belongs to (the payment id, as additional data), so a sealed value copied onto
// another payment does not open.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the key length: AES-256.
const KeySize = 32

// prefix versions the sealed format: "v1." + base64url(nonce ‖ ciphertext ‖ tag).
const prefix = "v1."

// ErrUnreadable is returned for a sealed value that is malformed, sealed under another key
// or bound to another owner.
var ErrUnreadable = errors.New("secrets: sealed value cannot be opened")

// Box seals and opens values under one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// NewBox makes a Box from a KeySize-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secrets: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// ParseKey reads a key as configured: standard or URL-safe base64 of KeySize bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("secrets: the key must be %d bytes in base64 (e.g. openssl rand -base64 32)", KeySize)
}

// NewKey returns a fresh random key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // never fails (crypto/rand)
	return k
}

// Seal encrypts plaintext for owner. An empty plaintext seals to "".
func (b *Box) Seal(owner, plaintext string) string {
	if plaintext == "" {
		return ""
	}
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	_, _ = rand.Read(nonce)
	return prefix + base64.RawURLEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(owner)))
}

// Open decrypts a value Seal made for owner. "" opens to "".
func (b *Box) Open(owner, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	raw, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", ErrUnreadable
	}
	data, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(data) < b.aead.NonceSize()+b.aead.Overhead() {
		return "", ErrUnreadable
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, data[:n], data[n:], []byte(owner))
	if err != nil {
		return "", ErrUnreadable
	}
	return string(plain), nil
}
