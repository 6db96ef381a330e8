package paypay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
)

// linkTokenIssuer is the iss claim of PayPay's account-link response token
// (docs/partners/paypay.md §4.9).
const linkTokenIssuer = "paypay.ne.jp"

// jwtHeader is the only header the simulator signs with: HS256.
var jwtHeader = map[string]string{"alg": "HS256", "typ": "JWT"}

// signJWT returns an HS256 JWT of claims keyed with key (docs/partners/paypay.md §4.9: the
// API secret base64-decoded, see decodeSecret).
func signJWT(key []byte, claims any) string {
	head, _ := json.Marshal(jwtHeader)
	body, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(head) + "." + enc.EncodeToString(body)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

// decodeSecret turns the API secret into the JWT key the way PayPay's Node SDK does
// (validateJWT: Buffer.from(secret, "base64")), so a token the simulator signs verifies there
// byte for byte: both base64 alphabets are read, characters outside them are skipped, the
// first "=" ends the input, and bits that do not fill a byte are dropped. A secret that is
// proper base64 decodes as usual. The simulator keeps its own copy of this rule; the adapter
// has another.
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
