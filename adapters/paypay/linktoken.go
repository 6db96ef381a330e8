package paypay

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"payhub/contracts"
)

// DefaultLinkTokenIssuer is the iss claim of PayPay's account-link response token
// (docs/partners/paypay.md §4.9).
const DefaultLinkTokenIssuer = "paypay.ne.jp"

// maxLinkTokenBytes bounds a response token; PayPay's are a few hundred bytes.
const maxLinkTokenBytes = 8 << 10

// linkTokenHeader is the JOSE header of a response token.
type linkTokenHeader struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// linkTokenClaims are the response token's claims (docs/partners/paypay.md §4.9).
type linkTokenClaims struct {
	Iss                 string          `json:"iss"`
	Aud                 json.RawMessage `json:"aud"`
	Exp                 *json.Number    `json:"exp"`
	Nbf                 *json.Number    `json:"nbf"`
	Result              string          `json:"result"`
	ProfileIdentifier   string          `json:"profileIdentifier"`
	Nonce               string          `json:"nonce"`
	UserAuthorizationID string          `json:"userAuthorizationId"`
	ReferenceID         string          `json:"referenceId"`
}

// VerifyLinkResponse checks PayPay's responseToken (docs/partners/paypay.md §4.9): an HS256
// JWT keyed with the API secret base64-decoded (as PayPay's SDKs verify it), issued by
// paypay.ne.jp for this merchant (aud), not expired at now, carrying result, nonce and
// referenceId (and userAuthorizationId when the link succeeded). Any other algorithm —
// "none" included — is refused. The token itself never appears in an error.
func (a *Adapter) VerifyLinkResponse(token string, now time.Time) (contracts.LinkResponse, error) {
	invalid := func(reason string) (contracts.LinkResponse, error) {
		return contracts.LinkResponse{}, fmt.Errorf("paypay: %w: %s", contracts.ErrLinkTokenInvalid, reason)
	}
	if token == "" || len(token) > maxLinkTokenBytes {
		return invalid("empty or oversized token")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return invalid("not a signed JWT (want three parts)")
	}
	enc := base64.RawURLEncoding
	rawHead, err1 := enc.DecodeString(parts[0])
	rawBody, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return invalid("a part is not base64url")
	}
	var head linkTokenHeader
	if err := strictJSON(rawHead, &head); err != nil {
		return invalid("unreadable header")
	}
	switch {
	case head.Alg != "HS256":
		return invalid("algorithm " + truncate(head.Alg, 16) + " is not HS256")
	case head.Typ != "" && head.Typ != "JWT":
		return invalid("type is not JWT")
	case len(head.Crit) > 0:
		return invalid("critical header extensions are not supported")
	}
	key := decodeSecret(a.cfg.APISecret)
	if len(key) == 0 {
		return invalid("the API secret decodes to no key")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(mac.Sum(nil), sig) {
		return invalid("bad signature")
	}
	var c linkTokenClaims
	if err := strictJSON(rawBody, &c); err != nil {
		return invalid("unreadable claims")
	}
	issuer := a.cfg.LinkTokenIssuer
	if issuer == "" {
		issuer = DefaultLinkTokenIssuer
	}
	if c.Iss != issuer {
		return invalid("wrong issuer")
	}
	if !audienceHas(c.Aud, a.cfg.MerchantID) {
		return invalid("wrong audience")
	}
	exp, ok := epochClaim(c.Exp)
	if !ok {
		return invalid("no valid exp")
	}
	if !now.Before(exp) {
		return invalid("expired")
	}
	if c.Nbf != nil {
		nbf, ok := epochClaim(c.Nbf)
		if !ok || now.Before(nbf) {
			return invalid("not valid yet")
		}
	}
	switch {
	case c.Result == "":
		return invalid("no result")
	case c.Nonce == "":
		return invalid("no nonce")
	case c.ReferenceID == "":
		return invalid("no referenceId")
	case contracts.LinkResult(c.Result) == contracts.LinkResultSucceeded && c.UserAuthorizationID == "":
		return invalid("a succeeded link without userAuthorizationId")
	}
	return contracts.LinkResponse{
		Result: contracts.LinkResult(c.Result), UserAuthorizationID: c.UserAuthorizationID, ReferenceID: c.ReferenceID,
		Nonce: c.Nonce, ProfileIdentifier: c.ProfileIdentifier, ExpiresAt: exp,
	}, nil
}

// strictJSON decodes exactly one JSON object, numbers kept as json.Number.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// audienceHas reports whether the aud claim (a string or an array of strings) names want.
func audienceHas(raw json.RawMessage, want string) bool {
	if want == "" || len(raw) == 0 {
		return false
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return false
	}
	for _, s := range many {
		if s == want {
			return true
		}
	}
	return false
}

// epochClaim reads a NumericDate (whole seconds; a fraction is dropped).
func epochClaim(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f <= 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0).UTC(), true
}

// decodeSecret is the JWT key: the API secret read as base64 the way PayPay's Node SDK
// reads it (Buffer.from(secret, "base64"), docs/partners/paypay.md §4.9): both alphabets,
// other characters skipped, the first "=" ends the input, a trailing partial byte dropped.
// For a secret that is proper base64 this is plain base64 decoding.
func decodeSecret(secret string) []byte {
	var out []byte
	var acc uint32
	bits := 0
	for i := 0; i < len(secret); i++ {
		c := secret[i]
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a' + 26
		case c >= '0' && c <= '9':
			v = c - '0' + 52
		case c == '+' || c == '-':
			v = 62
		case c == '/' || c == '_':
			v = 63
		case c == '=':
			return out
		default:
			continue
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
			acc &= 1<<bits - 1
		}
	}
	return out
}
