package webhooks

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Header names of a delivery (Standard Webhooks; canonicalised by http.Header).
const (
	HeaderID        = standardwebhooks.HeaderWebhookID
	HeaderTimestamp = standardwebhooks.HeaderWebhookTimestamp
	HeaderSignature = standardwebhooks.HeaderWebhookSignature
)

// Tolerance is how far a delivery's timestamp may be from the receiver's clock, in the past
// or the future (spec: 5 minutes). It bounds how long a captured delivery can be replayed.
const Tolerance = 5 * time.Minute

// secretPrefix marks a Standard Webhooks secret; the key is the base64 after it.
const secretPrefix = "whsec_"

// secretBytes is how much randomness payhub puts in a new secret (the spec allows 24..64).
const secretBytes = 32

// The ways a signature check fails. Verify wraps exactly one of them, so a receiver (or a
// log line) can tell a clock problem from a forgery without seeing any secret.
var (
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature is absent or empty.
	ErrMissingHeaders = errors.New("webhooks: missing webhook-id, webhook-timestamp or webhook-signature header")
	// ErrBadTimestamp: webhook-timestamp is not integer Unix seconds.
	ErrBadTimestamp = errors.New("webhooks: webhook-timestamp is not integer Unix seconds")
	// ErrStaleTimestamp: the delivery was signed more than Tolerance ago (a possible replay).
	ErrStaleTimestamp = errors.New("webhooks: webhook-timestamp is too old")
	// ErrFutureTimestamp: the delivery claims to be signed more than Tolerance from now.
	ErrFutureTimestamp = errors.New("webhooks: webhook-timestamp is too far in the future")
	// ErrNoMatchingSignature: no v1 signature matches any of the secrets.
	ErrNoMatchingSignature = errors.New("webhooks: no matching signature")
	// ErrInvalidSecret: a secret is not "whsec_" + base64 of 24..64 bytes, or none was given.
	ErrInvalidSecret = errors.New("webhooks: invalid or missing signing secret")
	// ErrMissingID: Headers was asked to sign a delivery without an id.
	ErrMissingID = errors.New("webhooks: delivery has no id")
)

// Secret is an endpoint's signing secret: "whsec_" + base64 of 32 random bytes. It is
// shown to the store once, at creation, and never logged: String and GoString redact it and
// no error of this package quotes it.
type Secret string

// NewSecret mints a secret for a new endpoint or a rotation from crypto/rand, so that
// nobody but payhub and the store can sign its deliveries.
func NewSecret() (Secret, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhooks: new secret: %w", err)
	}
	return Secret(secretPrefix + base64.StdEncoding.EncodeToString(b)), nil
}

// Valid reports whether s is a usable Standard Webhooks secret: the "whsec_" prefix and
// 24..64 key bytes in padded standard base64. Checked before signing so that a corrupted
// secret fails loudly instead of producing signatures no receiver accepts.
func (s Secret) Valid() bool {
	_, ok := s.key()
	return ok
}

// String hides the secret so that fmt, slog and error messages never print it by accident;
// use string(s) where the secret itself is meant (storage, signing).
func (s Secret) String() string { return "whsec_[redacted]" }

// GoString hides the secret from %#v as well.
func (s Secret) GoString() string { return `webhooks.Secret("whsec_[redacted]")` }

// key decodes the HMAC key behind the prefix.
func (s Secret) key() ([]byte, bool) {
	enc, ok := strings.CutPrefix(string(s), secretPrefix)
	if !ok {
		return nil, false
	}
	k, err := base64.StdEncoding.DecodeString(enc)
	return k, err == nil && len(k) >= 24 && len(k) <= 64
}

// webhook is the reference library's signer/verifier for s.
func (s Secret) webhook() (*standardwebhooks.Webhook, error) {
	if !s.Valid() {
		return nil, ErrInvalidSecret
	}
	wh, err := standardwebhooks.NewWebhook(string(s))
	if err != nil { // unreachable after Valid; the library's message may quote the secret
		return nil, ErrInvalidSecret
	}
	return wh, nil
}

// Headers returns the three Standard Webhooks headers for one delivery attempt: webhook-id
// (the event id, the receiver's dedupe key, the same on every retry), webhook-timestamp
// (Unix seconds of this attempt, so retries stay inside the receiver's tolerance) and
// webhook-signature — one "v1,<sig>" per secret, space-separated, in the order given (two
// during a rotation, newest first), so receivers holding either secret accept it.
func Headers(id string, at time.Time, body []byte, secrets ...Secret) (http.Header, error) {
	if id == "" {
		return nil, ErrMissingID
	}
	if len(secrets) == 0 {
		return nil, ErrInvalidSecret
	}
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sig, err := sign(s, id, at, body)
		if err != nil {
			return nil, err
		}
		sigs[i] = sig
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	return h, nil
}

// sign is one "v1,<base64 HMAC-SHA256>" of "{id}.{unix seconds}.{body}", by the reference
// library so payhub's bytes are the spec's bytes.
func sign(s Secret, id string, at time.Time, body []byte) (string, error) {
	wh, err := s.webhook()
	if err != nil {
		return "", err
	}
	return wh.Sign(id, at, body)
}

// Verify checks a delivery as a receiver would, against the raw body bytes: all three
// headers present, the timestamp within Tolerance of now (past or future), and at least one
// v1 signature matching one of the secrets (compared in constant time by the reference
// library). now is injected rather than read from time.Now so that tests and replays of
// recorded traffic use the caller's clock. The error wraps one of the Err* values above.
func Verify(body []byte, h http.Header, now time.Time, secrets ...Secret) error {
	if h.Get(HeaderID) == "" || h.Get(HeaderTimestamp) == "" || h.Get(HeaderSignature) == "" {
		return ErrMissingHeaders
	}
	if err := checkTimestamp(h.Get(HeaderTimestamp), now); err != nil {
		return err
	}
	return matchSignature(body, h, secrets)
}

// checkTimestamp rejects a timestamp that is not integer seconds or lies more than
// Tolerance before or after now; that window is what makes a captured delivery useless
// for replay later.
func checkTimestamp(raw string, now time.Time) error {
	sec, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	ts := time.Unix(sec, 0)
	switch {
	case now.Sub(ts) > Tolerance:
		return ErrStaleTimestamp
	case ts.Sub(now) > Tolerance:
		return ErrFutureTimestamp
	}
	return nil
}

// matchSignature accepts when any secret verifies any v1 signature in h. The timestamp was
// checked against the injected clock already, hence VerifyIgnoringTimestamp.
func matchSignature(body []byte, h http.Header, secrets []Secret) error {
	if len(secrets) == 0 {
		return ErrInvalidSecret
	}
	for _, s := range secrets {
		wh, err := s.webhook()
		if err != nil {
			return err
		}
		if wh.VerifyIgnoringTimestamp(body, h) == nil {
			return nil
		}
	}
	return ErrNoMatchingSignature
}
