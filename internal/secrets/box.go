// Package secrets seals the few secrets payhub must keep — GMO-PG's AccessID and AccessPass
// per card payment (docs/partners/gmopg.md §7) and the signing secrets of store webhook
// endpoints — so that they are encrypted at rest (docs/security.md §13).
//
// A Box is AES-256-GCM under a key ring from configuration: the newest key seals, every key
// of the ring opens, so the key can be rotated (add a new key in front, run `payhub secrets
// reseal`, then drop the old one). Each sealed value names the key that sealed it by a key
// id derived from the key (a truncated SHA-256 that reveals nothing of it), and is bound to
// what it belongs to (its owner — the payment or endpoint id — as additional data), so a
// sealed value copied onto another owner does not open.
//
// Formats:
//
//	v2.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>   additional data "v2.<key id>.<owner>"
//	v1.<base64url(nonce ‖ ciphertext ‖ tag)>             additional data "<owner>" (before key ids;
//	                                                     opened by trying every key of the ring)
//
// Seal always writes v2.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the key length: AES-256.
const KeySize = 32

// KeyIDLength is the length of a key id: 12 hex digits (48 bits of SHA-256).
const KeyIDLength = 12

// Sealed formats: "v1." (no key id, the first format) and "v2." + key id + ".".
const (
	prefixV1 = "v1."
	prefixV2 = "v2."
)

// keyIDLabel separates key ids from any other use of SHA-256 over a key.
const keyIDLabel = "payhub/secrets key id\x00"

// ErrUnreadable is returned for a sealed value that is malformed, sealed under a key that
// is not in the ring, or bound to another owner.
var ErrUnreadable = errors.New("secrets: sealed value cannot be opened")

// Box seals under the newest key of its ring and opens under any. It is safe for
// concurrent use.
type Box struct {
	// keys are the ring, newest (sealing) first.
	keys []key
}

// key is one key of a ring.
type key struct {
	id   string
	aead cipher.AEAD
}

// KeyID is the id of key as sealed values carry it: the first KeyIDLength hex digits of
// SHA-256 over a fixed label and the key. It identifies a key without revealing it.
func KeyID(k []byte) string {
	sum := sha256.Sum256(append([]byte(keyIDLabel), k...))
	return hex.EncodeToString(sum[:])[:KeyIDLength]
}

// NewBox makes a Box from one KeySize-byte key (PAYHUB_SECRET_KEY).
func NewBox(k []byte) (*Box, error) { return NewRing(k) }

// NewRing makes a Box from a key ring, newest first (PAYHUB_SECRET_KEYS): the first key
// seals, every key opens. A key given twice is an error.
func NewRing(keys ...[]byte) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("secrets: no key")
	}
	b := &Box{}
	seen := map[string]bool{}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secrets: key %d must be %d bytes, got %d", i+1, KeySize, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(k)
		if seen[id] {
			return nil, fmt.Errorf("secrets: key %d (id %s) is listed twice", i+1, id)
		}
		seen[id] = true
		b.keys = append(b.keys, key{id: id, aead: aead})
	}
	return b, nil
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

// ParseKeys reads a key ring as configured: keys as ParseKey reads them, separated by
// commas, spaces or newlines, newest first. The error names a bad key by its position,
// never by its text.
func ParseKeys(s string) ([][]byte, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(fields) == 0 {
		return nil, errors.New("secrets: no key")
	}
	keys := make([][]byte, 0, len(fields))
	seen := map[string]bool{}
	for i, f := range fields {
		k, err := ParseKey(f)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		id := KeyID(k)
		if seen[id] {
			return nil, fmt.Errorf("key %d (id %s) is listed twice", i+1, id)
		}
		seen[id] = true
		keys = append(keys, k)
	}
	return keys, nil
}

// NewKey returns a fresh random key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // never fails (crypto/rand)
	return k
}

// KeyID is the id of the key that seals: the newest of the ring.
func (b *Box) KeyID() string { return b.keys[0].id }

// KeyIDs are the ids of the ring's keys, newest (sealing) first.
func (b *Box) KeyIDs() []string {
	out := make([]string, len(b.keys))
	for i, k := range b.keys {
		out[i] = k.id
	}
	return out
}

// Has reports whether the ring holds the key with id.
func (b *Box) Has(id string) bool {
	for _, k := range b.keys {
		if k.id == id {
			return true
		}
	}
	return false
}

// CurrentPrefix is how every value sealed under the ring's sealing key begins: what the
// store compares to find values still to reseal.
func (b *Box) CurrentPrefix() string { return prefixV2 + b.keys[0].id + "." }

// aad is a v2 value's additional data: the format, the key id and the owner.
func aad(id, owner string) []byte { return []byte(prefixV2 + id + "." + owner) }

// Seal encrypts plaintext for owner under the sealing key. An empty plaintext seals to "".
func (b *Box) Seal(owner, plaintext string) string {
	if plaintext == "" {
		return ""
	}
	k := b.keys[0]
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	_, _ = rand.Read(nonce)
	return prefixV2 + k.id + "." + base64.RawURLEncoding.EncodeToString(k.aead.Seal(nonce, nonce, []byte(plaintext), aad(k.id, owner)))
}

// Open decrypts a value Seal made for owner, under whichever key of the ring sealed it
// (v1 values, which name no key, are tried under each). "" opens to "".
func (b *Box) Open(owner, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	if rest, ok := strings.CutPrefix(sealed, prefixV2); ok {
		id, data, ok := strings.Cut(rest, ".")
		if !ok {
			return "", ErrUnreadable
		}
		for _, k := range b.keys {
			if k.id == id {
				return open(k.aead, data, aad(id, owner))
			}
		}
		return "", ErrUnreadable
	}
	if data, ok := strings.CutPrefix(sealed, prefixV1); ok {
		for _, k := range b.keys {
			if plain, err := open(k.aead, data, []byte(owner)); err == nil {
				return plain, nil
			}
		}
	}
	return "", ErrUnreadable
}

func open(aead cipher.AEAD, data string, additional []byte) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", ErrUnreadable
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, raw[:n], raw[n:], additional)
	if err != nil {
		return "", ErrUnreadable
	}
	return string(plain), nil
}

// Current reports whether sealed is sealed under the sealing key in the current format
// (nothing to reseal); "" counts as current.
func (b *Box) Current(sealed string) bool {
	return sealed == "" || strings.HasPrefix(sealed, b.CurrentPrefix())
}

// Reseal moves a value sealed for owner under any key of the ring (or in format v1) to the
// sealing key; changed is false when it already was there. A value that does not open is
// ErrUnreadable and stays as it is.
func (b *Box) Reseal(owner, sealed string) (resealed string, changed bool, err error) {
	if b.Current(sealed) {
		return sealed, false, nil
	}
	plain, err := b.Open(owner, sealed)
	if err != nil {
		return sealed, false, err
	}
	return b.Seal(owner, plain), true, nil
}

// Format describes a stored value without opening it: "v2" with the key id that sealed it,
// "v1" (no key id), or "" for a value in no sealed format (clear, or garbage).
func Format(sealed string) (format, keyID string) {
	if rest, ok := strings.CutPrefix(sealed, prefixV2); ok {
		if id, _, ok := strings.Cut(rest, "."); ok && len(id) == KeyIDLength {
			return "v2", id
		}
		return "", ""
	}
	if strings.HasPrefix(sealed, prefixV1) {
		return "v1", ""
	}
	return "", ""
}
