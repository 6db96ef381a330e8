// Package audit is payhub's tamper-evident audit log (docs/security.md §9): every operator
// action, control change, approval and key change is an Entry appended in the transaction of
// the change it records, chained to the entry before it by a keyed hash:
//
//	hash = HMAC-SHA256(audit key, prev_hash ‖ canonical(entry))
//
// The audit key comes from configuration (PAYHUB_AUDIT_KEY), never from the database, so
// someone who can only write to the database cannot re-chain what they changed. Verify
// recomputes the chain and names the first broken entry; an Anchor (the head's seq and
// hash, kept outside the database) makes a truncated tail detectable too.
package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"payhub/contracts"
)

// Entry is one audit log entry (contracts.AuditEntry).
type Entry = contracts.AuditEntry

// KeySize is the audit key's size in bytes.
const KeySize = 32

// GenesisHash is the PrevHash of the first entry: 32 zero bytes in hex.
var GenesisHash = strings.Repeat("0", 2*sha256.Size)

// canonicalVersion opens every canonical encoding, so a future encoding cannot be confused
// with this one.
const canonicalVersion = "payhub-audit-v1"

// timeLayout is how At enters the canonical encoding: UTC, microseconds (what both
// databases keep), fixed width.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// Canonical is the entry's canonical encoding, the bytes its hash covers besides the
// previous hash. It is stable and documented (docs/security.md §9):
//
//	"payhub-audit-v1", then the fields seq (decimal), at (UTC, "2006-01-02T15:04:05.000000Z"),
//	actor, action, target, params (the stored JSON bytes, as Params made them), request_id,
//	each as an 8-byte big-endian length followed by its bytes (UTF-8).
//
// The length prefixes make the encoding unambiguous: no choice of field values makes two
// different entries encode alike. PrevHash and Hash are not part of it.
func Canonical(e Entry) []byte {
	var b bytes.Buffer
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		b.Write(n[:])
		b.WriteString(s)
	}
	field(canonicalVersion)
	field(strconv.FormatInt(e.Seq, 10))
	field(e.At.UTC().Truncate(time.Microsecond).Format(timeLayout))
	field(e.Actor)
	field(e.Action)
	field(e.Target)
	field(string(e.Params))
	field(e.RequestID)
	return b.Bytes()
}

// ComputeHash is the entry's hash (hex) under key, chained to e.PrevHash:
// HMAC-SHA256(key, prev_hash bytes ‖ Canonical(e)). A PrevHash that is not 32 bytes in hex
// is an error.
func ComputeHash(key []byte, e Entry) (string, error) {
	prev, err := hex.DecodeString(e.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		return "", fmt.Errorf("audit: entry %d: prev_hash is not %d bytes in hex", e.Seq, sha256.Size)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(prev)
	mac.Write(Canonical(e))
	return hex.EncodeToString(mac.Sum(nil)), nil
}

// CheckKey refuses a key that is not KeySize bytes.
func CheckKey(key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("audit: the audit key must be %d bytes (base64 in PAYHUB_AUDIT_KEY), got %d", KeySize, len(key))
	}
	return nil
}

// Append writes e to the audit log in tx, the transaction of the change it records: it
// takes the log's append lock, numbers e after the head, chains it to the head's hash and
// hashes it under key. e.At is stored at microseconds in UTC (now when zero); e.Params must
// come from Params (nil is "{}"). It returns the entry as stored.
func Append(ctx context.Context, tx contracts.AuditTx, key []byte, e Entry) (Entry, error) {
	if err := CheckKey(key); err != nil {
		return Entry{}, err
	}
	if e.Actor == "" || e.Action == "" {
		return Entry{}, errors.New("audit: an entry needs an actor and an action")
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	if e.Params == nil {
		e.Params = []byte("{}")
	} else {
		p, err := canonicalJSON(e.Params)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: params: %w", err)
		}
		e.Params = p
	}
	head, err := tx.LockAuditHead(ctx)
	if err != nil {
		return Entry{}, err
	}
	e.Seq = head.Seq + 1
	e.PrevHash = head.Hash
	if head.Seq == 0 {
		e.PrevHash = GenesisHash
	}
	if e.Hash, err = ComputeHash(key, e); err != nil {
		return Entry{}, err
	}
	if err := tx.InsertAuditEntry(ctx, e); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Change is what an entry's Params say: the state before and after, and why.
type Change struct {
	// Before is the state before the change (omitted when there was none).
	Before any `json:"before,omitempty"`
	// After is the state after it (omitted when there is none).
	After any `json:"after,omitempty"`
	// Reason is the actor's reason, when one was given.
	Reason string `json:"reason,omitempty"`
}

// Redacted is what Params puts in place of a sensitive value.
const Redacted = "***"

// sensitiveKeys are the parts of a JSON member name whose value Params redacts
// (docs/security.md §13): secrets, passwords, tokens, private keys, card security data.
var sensitiveKeys = []string{"secret", "password", "passwd", "passphrase", "token", "authorization",
	"private", "access_pass", "accesspass", "cvv", "cvc", "totp", "otp_code", "signature"}

// Params encodes c as an entry's Params: canonical JSON (members sorted, no insignificant
// space), with the value of every member whose name says secret, password, token, private
// key, AccessPass, CVV/CVC or TOTP replaced by Redacted. Record fingerprints of keys, not
// the keys.
func Params(c Change) ([]byte, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("audit: params: %w", err)
	}
	v, err := decode(raw)
	if err != nil {
		return nil, fmt.Errorf("audit: params: %w", err)
	}
	return encode(redact(v))
}

// redact replaces the values of sensitive members, at any depth.
func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if sensitive(k) {
				t[k] = Redacted
				continue
			}
			t[k] = redact(x)
		}
	case []any:
		for i, x := range t {
			t[i] = redact(x)
		}
	}
	return v
}

func sensitive(name string) bool {
	n := strings.ToLower(name)
	for _, s := range sensitiveKeys {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// canonicalJSON re-encodes a JSON document canonically (members sorted, numbers as written,
// no HTML escaping, no insignificant space).
func canonicalJSON(raw []byte) ([]byte, error) {
	v, err := decode(raw)
	if err != nil {
		return nil, err
	}
	return encode(v)
}

func decode(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
