// Package carddata finds card data in what store systems send payhub. payhub takes card
// tokens only and must never store, log or pass on a card number or security code
// (docs/partners/gmopg.md §7, docs/security.md): a request carrying anything that
// looks like one is refused before any of it is used.
//
// A card number here is 13 to 19 digits, optionally grouped by single spaces or hyphens,
// whose first digit is a card industry's (2 to 6: Mastercard 2-series, Amex, JCB, Diners,
// Visa, Mastercard, Discover, UnionPay) and whose Luhn check digit is right. A security
// code is any value under a key that names one (cvc, cvv, security_code, …), and a key
// naming a card number is refused whatever its value.
package carddata

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Finding says where card data was found: a JSON pointer into the body, or "" for the
// raw body, query or path. Never the data itself.
type Finding struct {
	// Pointer is the JSON pointer of the offending field, "" when not in a JSON field.
	Pointer string
	// What is "card_number" or "security_code".
	What string
}

// Exempt reports whether value at pointer is known not to be card data although it looks
// like a card number (a partner's barcode its routing table recognises, say).
type Exempt func(pointer, value string) bool

// cardKeys are key names (lower case, without separators) that carry card data.
var cardKeys = map[string]string{
	"cvc": "security_code", "cvc2": "security_code", "cvv": "security_code", "cvv2": "security_code",
	"cid": "security_code", "csc": "security_code", "cav2": "security_code",
	"securitycode": "security_code", "cardsecuritycode": "security_code", "cardverificationvalue": "security_code",
	"cardcode": "security_code", "cardcvc": "security_code", "cardcvv": "security_code",
	"cardnumber": "card_number", "cardno": "card_number", "pan": "card_number", "primaryaccountnumber": "card_number",
	"creditcardnumber": "card_number", "ccnumber": "card_number", "accountnumber": "card_number",
	"track1": "card_number", "track2": "card_number", "trackdata": "card_number", "pin": "security_code",
}

// KeyNamesCardData reports what a key names, if card data ("" otherwise).
func KeyNamesCardData(key string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(key) {
		if r != '_' && r != '-' && r != ' ' && r != '.' {
			b.WriteRune(r)
		}
	}
	return cardKeys[b.String()]
}

// ContainsCardNumber reports whether s contains something that looks like a card number.
func ContainsCardNumber(s string) bool {
	digits := make([]byte, 0, 19)
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) || (i > 0 && isDigit(s[i-1])) {
			continue
		}
		// A run starts at i: collect digits, allowing one space or hyphen between groups.
		digits = digits[:0]
		for j := i; j < len(s) && len(digits) <= 19; j++ {
			switch c := s[j]; {
			case isDigit(c):
				digits = append(digits, c)
				if looksLikeCard(digits) && (j+1 == len(s) || !isDigit(s[j+1])) {
					return true
				}
			case (c == ' ' || c == '-') && j+1 < len(s) && isDigit(s[j+1]) && j > i && isDigit(s[j-1]):
			default:
				j = len(s)
			}
		}
	}
	return false
}

// looksLikeCard: 13–19 digits, a card industry's first digit, a valid Luhn check digit.
func looksLikeCard(d []byte) bool {
	return len(d) >= 13 && len(d) <= 19 && d[0] >= '2' && d[0] <= '6' && luhn(d)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// luhn reports whether the digits end in a valid Luhn check digit.
func luhn(d []byte) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if (len(d)-1-i)%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

// ScanJSON looks for card data in a request body: in JSON, every key and every string or
// number value (a value under a card key is card data whatever it holds); a body that is
// not JSON is scanned as text. exempt may be nil.
func ScanJSON(body []byte, exempt Exempt) (Finding, bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		if ContainsCardNumber(string(body)) {
			return Finding{What: "card_number"}, true
		}
		return Finding{}, false
	}
	if f, ok := walk(v, "", exempt); ok {
		return f, true
	}
	// Trailing data after the value is refused later anyway; with any, scan the whole body
	// as text, since a number can straddle the end of the value.
	rest := body[dec.InputOffset():]
	if len(bytes.TrimSpace(rest)) > 0 && ContainsCardNumber(string(body)) {
		return Finding{What: "card_number"}, true
	}
	return Finding{}, false
}

// walk looks through one JSON value at pointer.
func walk(v any, pointer string, exempt Exempt) (Finding, bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			p := pointer + "/" + escapePointer(k)
			if what := KeyNamesCardData(k); what != "" {
				return Finding{Pointer: p, What: what}, true
			}
			if ContainsCardNumber(k) {
				return Finding{Pointer: p, What: "card_number"}, true
			}
			if f, ok := walk(child, p, exempt); ok {
				return f, true
			}
		}
	case []any:
		for i, child := range x {
			if f, ok := walk(child, pointer+"/"+strconv.Itoa(i), exempt); ok {
				return f, true
			}
		}
	case string:
		if ContainsCardNumber(x) && (exempt == nil || !exempt(pointer, x)) {
			return Finding{Pointer: pointer, What: "card_number"}, true
		}
	case json.Number:
		if ContainsCardNumber(x.String()) {
			return Finding{Pointer: pointer, What: "card_number"}, true
		}
	}
	return Finding{}, false
}

// escapePointer escapes a key for a JSON pointer (RFC 6901).
func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
