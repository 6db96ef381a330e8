package paypay

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// authScheme prefixes every OPA Authorization header (docs/partners/paypay.md §2.1).
const authScheme = "hmac OPA-Auth:"

// epochWindow is how far a request's epoch may sit from the simulator's clock, either way.
const epochWindow = 2 * time.Minute

// emptyMarker replaces both the content type and the body hash when a request has no body.
const emptyMarker = "empty"

// lenientContentTypes are the strings official SDKs sign instead of the header they send
// (docs/partners/paypay.md §2.3); tried only in lenient mode.
var lenientContentTypes = []string{"application/json", "application/json;charset=UTF-8", "application/json;charset=UTF-8;"}

// bodyHash is base64(MD5(contentType ‖ body)), or "empty" without a body.
func bodyHash(contentType string, body []byte) string {
	if len(body) == 0 {
		return emptyMarker
	}
	h := md5.New()
	h.Write([]byte(contentType))
	h.Write(body)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// requestMAC is base64(HMAC-SHA256(secret, path\nmethod\nnonce\nepoch\ncontentType\nhash)).
func requestMAC(secret, path, method, nonce, epoch, contentType, hash string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strings.Join([]string{path, method, nonce, epoch, contentType, hash}, "\n")))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// authHeader builds the Authorization header a client sends; the simulator's own tests sign
// with it, the verifier below never does.
func authHeader(apiKey, secret, method, path, nonce string, epoch int64, contentType string, body []byte) string {
	if len(body) == 0 {
		contentType = emptyMarker
	}
	hash := bodyHash(contentType, body)
	ep := strconv.FormatInt(epoch, 10)
	mac := requestMAC(secret, path, method, nonce, ep, contentType, hash)
	return authScheme + strings.Join([]string{apiKey, mac, nonce, ep, hash}, ":")
}

// signedPath is the request path exactly as the client sent it, without the query: what
// the client signed. RequestURI is absent only for requests built in-process.
func signedPath(r *http.Request) string {
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		return r.URL.EscapedPath()
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

// verifyAuth checks the OPA-Auth header of r with raw body against the configured
// credentials and clock. It reports only whether the request is authentic: the reason for
// a refusal is deliberately not returned to the client.
func (s *Simulator) verifyAuth(r *http.Request, body []byte) bool {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), authScheme)
	if !ok {
		return false
	}
	fields := strings.Split(raw, ":")
	if len(fields) != 5 {
		return false
	}
	apiKey, mac, nonce, epoch, hash := fields[0], fields[1], fields[2], fields[3], fields[4]
	if nonce == "" || !equal(apiKey, s.cfg.APIKey) {
		return false
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return false
	}
	skew := s.cfg.Clock.Now().Sub(time.Unix(sec, 0))
	if skew > epochWindow || skew < -epochWindow {
		return false
	}
	path := signedPath(r)
	if len(body) == 0 {
		return hash == emptyMarker && equal(mac, requestMAC(s.cfg.APISecret, path, r.Method, nonce, epoch, emptyMarker, emptyMarker))
	}
	candidates := []string{r.Header.Get("Content-Type")}
	if s.cfg.LenientContentType {
		candidates = append(candidates, lenientContentTypes...)
	}
	for _, ct := range candidates {
		want := bodyHash(ct, body)
		if equal(hash, want) && equal(mac, requestMAC(s.cfg.APISecret, path, r.Method, nonce, epoch, ct, want)) {
			return true
		}
	}
	return false
}

// equal compares secrets-derived strings in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
