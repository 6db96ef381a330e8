package nanaco

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The authentication headers (docs/partners/nanaco.md §B2, §B3).
const (
	HeaderMerchantID = "NCS-Merchant-Id"
	HeaderTerminalID = "NCS-Terminal-Id"
	HeaderTimestamp  = "NCS-Timestamp"
	HeaderNonce      = "NCS-Nonce"
	HeaderSignature  = "NCS-Signature"
	HeaderReplayed   = "NCS-Replayed"
	HeaderMockFault  = "NCS-Mock-Fault"
)

// signaturePrefix is the version tag of NCS-Signature.
const signaturePrefix = "v1="

// TimestampLayout is how NCS writes times: RFC 3339 with the offset +09:00.
const TimestampLayout = "2006-01-02T15:04:05-07:00"

// JST is Japan Standard Time (UTC+9, no daylight saving).
var JST = time.FixedZone("JST", 9*60*60)

var (
	terminalRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
	nonceRE    = regexp.MustCompile(`^[A-Za-z0-9-]{16,64}$`)
)

// bodyHash is hex(SHA-256(body)), lower case.
func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func sign(secret, stringToSign string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return signaturePrefix + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// RequestSignature is a request's NCS-Signature, "v1=" + base64(HMAC-SHA256(secret,
// METHOD \n PATH \n merchantId \n terminalId \n timestamp \n nonce \n hex(SHA-256(body))))
// (docs/partners/nanaco.md §B2). Exported for tests and tools that call the simulator.
func RequestSignature(secret, method, path, merchantID, terminalID, timestamp, nonce string, body []byte) string {
	return sign(secret, strings.Join([]string{method, path, merchantID, terminalID, timestamp, nonce, bodyHash(body)}, "\n"))
}

// ResponseSignature is a response's NCS-Signature, over status \n PATH \n
// responseTimestamp \n requestNonce \n hex(SHA-256(responseBody)) (§B2).
func ResponseSignature(secret string, status int, path, timestamp, requestNonce string, body []byte) string {
	return sign(secret, strings.Join([]string{strconv.Itoa(status), path, timestamp, requestNonce, bodyHash(body)}, "\n"))
}

// SignRequest sets the five authentication headers of req (POST to req.URL's path) for
// body, signed at ts. Exported for tests and tools.
func SignRequest(req *http.Request, secret, merchantID, terminalID, nonce string, ts time.Time, body []byte) {
	stamp := ts.In(JST).Format(TimestampLayout)
	req.Header.Set(HeaderMerchantID, merchantID)
	req.Header.Set(HeaderTerminalID, terminalID)
	req.Header.Set(HeaderTimestamp, stamp)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, RequestSignature(secret, req.Method, req.URL.EscapedPath(), merchantID, terminalID, stamp, nonce, body))
}

// authenticate checks the headers of an API request over path and the raw body (§B2) and
// records the nonce. Needs s.mu. The checks, in order: merchant and terminal (AUTH_FAILED),
// nonce format (AUTH_FAILED), signature (SIGNATURE_INVALID), timestamp format — RFC 3339
// with +09:00 — and skew (TIMESTAMP_SKEW), nonce reuse (NONCE_REUSED). A failing request
// does not consume its nonce.
func (s *Simulator) authenticate(r *http.Request, path string, body []byte, now time.Time) (terminal string, e *apiError) {
	merchant := r.Header.Get(HeaderMerchantID)
	terminal = r.Header.Get(HeaderTerminalID)
	stamp := r.Header.Get(HeaderTimestamp)
	nonce := r.Header.Get(HeaderNonce)
	sig := r.Header.Get(HeaderSignature)
	switch {
	case merchant == "" || !equal(merchant, s.cfg.MerchantID):
		return "", fail(CodeAuthFailed, "unknown merchant")
	case !terminalRE.MatchString(terminal):
		return "", fail(CodeAuthFailed, "unknown terminal: a terminal id is 1 to 40 of A-Z a-z 0-9 _ -")
	case !nonceRE.MatchString(nonce):
		return "", fail(CodeAuthFailed, "NCS-Nonce must be 16 to 64 of A-Z a-z 0-9 -")
	case !strings.HasPrefix(sig, signaturePrefix):
		return "", fail(CodeSignatureInvalid, "NCS-Signature must be v1=<base64>")
	case !equal(sig, RequestSignature(s.cfg.Secret, r.Method, path, merchant, terminal, stamp, nonce, body)):
		return "", fail(CodeSignatureInvalid, "signature does not verify")
	}
	ts, err := time.Parse(time.RFC3339, stamp)
	if err != nil || !strings.HasSuffix(stamp, "+09:00") {
		return "", fail(CodeTimestampSkew, "NCS-Timestamp must be RFC 3339 with the offset +09:00")
	}
	if d := now.Sub(ts); d > MaxSkew || d < -MaxSkew {
		return "", fail(CodeTimestampSkew, "NCS-Timestamp is more than 300 s from the centre's clock").
			with("centerTime", now.In(JST).Format(TimestampLayout))
	}
	s.sweepNonces(now)
	key := merchant + "\n" + nonce
	if at, seen := s.nonces[key]; seen && now.Sub(at) < NonceWindow {
		return "", fail(CodeNonceReused, "nonce already used within 10 minutes")
	}
	s.nonces[key] = now
	return terminal, nil
}

// sweepNonces forgets nonces older than NonceWindow, at most once a minute. Needs s.mu.
func (s *Simulator) sweepNonces(now time.Time) {
	if d := now.Sub(s.noncesSweptAt); d >= 0 && d < time.Minute {
		return
	}
	for k, at := range s.nonces {
		if now.Sub(at) >= NonceWindow {
			delete(s.nonces, k)
		}
	}
	s.noncesSweptAt = now
}

// equal compares secret-derived strings in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
