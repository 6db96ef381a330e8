package nanaco

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// The NCS v1 headers (docs/partners/nanaco.md §B2, §B3).
const (
	headerMerchantID = "NCS-Merchant-Id"
	headerTerminalID = "NCS-Terminal-Id"
	headerTimestamp  = "NCS-Timestamp"
	headerNonce      = "NCS-Nonce"
	headerSignature  = "NCS-Signature"
	headerReplayed   = "NCS-Replayed"
)

// signaturePrefix is the scheme tag of NCS-Signature (§B2).
const signaturePrefix = "v1="

// bodyHash is hex(SHA-256(body)) in lower case (§B2).
func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// mac is "v1=" + base64(HMAC-SHA256(key = secret as UTF-8 bytes, lines joined by "\n")),
// with no newline at the end (§B2).
func mac(secret string, lines ...string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strings.Join(lines, "\n")))
	return signaturePrefix + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignRequest computes a request's NCS-Signature exactly as docs/partners/nanaco.md §B2
// describes: over METHOD, PATH (no scheme, host or query), merchantId, terminalId,
// timestamp, nonce and hex(SHA-256(body)), joined by "\n".
func SignRequest(secret, method, path, merchantID, terminalID, timestamp, nonce string, body []byte) string {
	return mac(secret, method, path, merchantID, terminalID, timestamp, nonce, bodyHash(body))
}

// SignResponse computes a response's NCS-Signature (§B2): over the HTTP status, the
// request's PATH, the response's NCS-Timestamp, the request's nonce and
// hex(SHA-256(response body)), joined by "\n".
func SignResponse(secret string, status int, path, responseTimestamp, requestNonce string, body []byte) string {
	return mac(secret, strconv.Itoa(status), path, responseTimestamp, requestNonce, bodyHash(body))
}

// VerifyResponse reports whether signature is the NCS-Signature of this response (§B2),
// comparing in constant time. A missing signature never verifies.
func VerifyResponse(secret string, status int, path, responseTimestamp, requestNonce string, body []byte, signature string) bool {
	if signature == "" || responseTimestamp == "" {
		return false
	}
	want := SignResponse(secret, status, path, responseTimestamp, requestNonce, body)
	return hmac.Equal([]byte(want), []byte(signature))
}
