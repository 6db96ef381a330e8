package carddata

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The skeleton of a text has one byte per character (after NFKC): an ASCII digit for any
// decimal digit, the ASCII letter for an ASCII letter, '-' for a hyphen-minus (a separator
// that identifier shapes need), ' ' for any other separator, and '#' for anything else.
const (
	skSeparator = ' '
	skOther     = '#'
	skMasked    = 'x' // an identifier's characters, which end numbers like a letter
)

// skeleton reduces s to its skeleton.
func skeleton(s string) []byte {
	out := make([]byte, 0, len(s))
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(s); i++ {
			out = append(out, asciiClass[s[i]])
		}
		return out
	}
	for _, r := range norm.NFKC.String(s) {
		out = append(out, classify(r))
	}
	return out
}

// asciiClass is the skeleton byte of each ASCII character.
var asciiClass = func() (t [utf8.RuneSelf]byte) {
	for c := range t {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
			t[c] = byte(c)
		case c < 0x20, c == 0x7f, c == ' ':
			t[c] = skSeparator // tab, newlines and other controls
		default:
			t[c] = skOther
		}
	}
	for _, c := range `.,/\_:;|'~` {
		t[c] = skSeparator
	}
	return t
}()

// classify is the skeleton byte of r (NFKC already applied).
func classify(r rune) byte {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	if d, ok := digitValue(r); ok {
		return '0' + d
	}
	if isSeparator(r) {
		return skSeparator
	}
	return skOther
}

// otherSeparators are the separators outside the Unicode categories isSeparator takes
// whole: middle dots, bullets, minus signs, the katakana long-vowel mark (ー, typed for a
// hyphen), the ideographic comma and full stop, the wave dash, and the replacement
// character (which stands for bytes that were not UTF-8).
var otherSeparators = map[rune]bool{
	0x00B7: true, 0x02D7: true, 0x2022: true, 0x2027: true, 0x2043: true, 0x2212: true,
	0x2219: true, 0x2E31: true, 0x30FB: true, 0x30FC: true, 0x3001: true, 0x3002: true,
	0x301C: true, 0xFF65: true, 0xFF70: true, 0xFFFD: true,
}

// isSeparator reports whether r, not ASCII, may stand between the digit groups of a
// number: white space, dashes, connectors, controls, format characters (zero-width space,
// soft hyphen, word joiner, BOM) and combining marks, and otherSeparators.
func isSeparator(r rune) bool {
	return unicode.IsSpace(r) || otherSeparators[r] ||
		unicode.In(r, unicode.Z, unicode.Pd, unicode.Pc, unicode.Cc, unicode.Cf, unicode.Mn, unicode.Me)
}

// digitValue is the value of a decimal digit of any script (Unicode category Nd). Such
// digits come in contiguous runs of ten from zero to nine (a Unicode stability policy), and
// every range of unicode.Nd is made of whole runs (TestDigitValueTable), so the value is the
// offset from the range's start, modulo ten.
func digitValue(r rune) (byte, bool) {
	if r >= '0' && r <= '9' {
		return byte(r - '0'), true
	}
	if r < utf8.RuneSelf || !unicode.Is(unicode.Nd, r) {
		return 0, false
	}
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10), true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10), true
		}
	}
	return 0, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// maskIdentifiers overwrites, in a skeleton, every identifier of an exact shape (a
// canonical UUID, a ULID, 24 or more hex digits; the last two with at least one letter)
// standing on its own — not touching another letter or digit — so its digits are not read
// as numbers.
func maskIdentifiers(b []byte) {
	for i := 0; i < len(b); {
		if !isAlnum(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && isAlnum(b[j]) {
			j++
		}
		// b[i:j] is a whole token of ASCII letters and digits.
		switch {
		case isUUIDAt(b, i):
			j = i + 36
		case j-i == 26 && isULID(b[i:j]) && hasLetter(b[i:j]), j-i >= 24 && allHex(b[i:j]) && hasLetter(b[i:j]):
			// An identifier of letters and digits has a letter: a run of digits alone is read
			// as one (zero padding, then a card number, is a card number).
		default:
			i = j
			continue
		}
		for k := i; k < j; k++ {
			b[k] = skMasked
		}
		i = j
	}
}

// isUUIDAt: b[i:] starts with 8-4-4-4-12 hex digits joined by hyphens, followed by no
// letter or digit (RFC 9562's canonical form, any version, either case).
func isUUIDAt(b []byte, i int) bool {
	if len(b)-i < 36 {
		return false
	}
	for k, c := range b[i : i+36] {
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return i+36 == len(b) || !isAlnum(b[i+36])
}

// isULID: 26 characters of Crockford's base32 (no I, L, O, U; either case), the first 0–7
// (a 48-bit time).
func isULID(t []byte) bool {
	if t[0] < '0' || t[0] > '7' {
		return false
	}
	for _, c := range t {
		switch c | 0x20 { // lower case for letters; digits are unchanged
		case 'i', 'l', 'o', 'u':
			return false
		}
	}
	return true
}

func hasLetter(t []byte) bool {
	for _, c := range t {
		if !isDigit(c) {
			return true
		}
	}
	return false
}

func allHex(t []byte) bool {
	for _, c := range t {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// scanNumbers looks through a (masked) skeleton for a card number.
func scanNumbers(b []byte) bool {
	var groups [][2]int // the digit groups of the number being read
	for i := 0; i < len(b); {
		if !isDigit(b[i]) {
			i++
			continue
		}
		groups = groups[:0]
		for {
			j := i
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			groups = append(groups, [2]int{i, j})
			k := j
			for k < len(b) && (b[k] == skSeparator || b[k] == '-') {
				k++
			}
			i = k
			if k == j || k == len(b) || !isDigit(b[k]) {
				break // a letter, another character or the end: the number ends
			}
		}
		if numberHoldsCard(b, groups) {
			return true
		}
	}
	return false
}

// numberHoldsCard reports whether consecutive whole groups of one number form a card
// number: one group of 13–18 digits once its leading zeros (padding) are dropped, or
// several of 13–19 digits. Leading zeros are padding only in a run of digits: a group of
// several that starts with 0 (a Japanese phone number's 03-…) starts no card number.
func numberHoldsCard(b []byte, groups [][2]int) bool {
	var d [19]byte
	for gi, g := range groups {
		first := b[g[0]:g[1]]
		if sig := trimZeros(first); len(sig) >= 13 && len(sig) <= 18 && isCardNumber(sig) {
			return true
		}
		if len(first) > 19 || first[0] == '0' {
			continue
		}
		n := copy(d[:], first)
		for _, h := range groups[gi+1:] {
			next := b[h[0]:h[1]]
			if n+len(next) > 19 {
				break
			}
			n += copy(d[n:], next)
			if n >= 13 && isCardNumber(d[:n]) {
				return true
			}
		}
	}
	return false
}

func trimZeros(d []byte) []byte {
	for len(d) > 0 && d[0] == '0' {
		d = d[1:]
	}
	return d
}

// isCardNumber: 13–19 digits whose prefix and length are a card industry's
// (docs/security.md §11) and whose Luhn check digit is right.
func isCardNumber(d []byte) bool {
	return len(d) >= 13 && len(d) <= 19 && issuedLength(d) && luhn(d)
}

// issuedLength reports whether a card brand issues numbers of len(d) digits starting as d
// does. d has at least 13 digits, the first not 0.
func issuedLength(d []byte) bool {
	n := len(d)
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p3 := p2*10 + int(d[2]-'0')
	p4 := p3*10 + int(d[3]-'0')
	switch {
	case p2/10 == 4: // Visa (13-digit numbers are no longer issued; JAN/EAN-13 codes 45…, 49… are)
		return n == 16 || n == 18 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34, p2 == 37: // American Express
		return n == 15
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38: // Diners Club
		return n >= 14
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65: // Discover
		return n >= 16
	case p2 == 62: // UnionPay
		return n >= 16
	}
	return false
}

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
