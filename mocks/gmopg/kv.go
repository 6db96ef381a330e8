package gmopg

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// contentType is the Content-Type of every API answer (docs/partners/gmopg.md §1).
const contentType = "text/plain;charset=Windows-31J"

// field is one Key=Value of an answer, in order.
type field struct{ key, value string }

// encodeKV writes fields as GMO does: Key=Value joined by &, values not URL-encoded, keys
// present even when the value is empty, the whole body in Shift_JIS (Windows-31J).
// Characters Shift_JIS cannot hold become '?'.
func encodeKV(fields []field) []byte {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(f.key)
		b.WriteByte('=')
		b.WriteString(f.value)
	}
	out, err := encoding.ReplaceUnsupported(japanese.ShiftJIS.NewEncoder()).Bytes([]byte(b.String()))
	if err != nil {
		return []byte(b.String())
	}
	return out
}

// writeKV answers HTTP 200 with fields.
func writeKV(w http.ResponseWriter, fields []field) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(encodeKV(fields))
}

// errorFields are the fields of an error answer: ErrCode and ErrInfo as |-joined lists
// that pair by position.
func errorFields(infos ...string) []field {
	codes := make([]string, len(infos))
	for i, info := range infos {
		codes[i] = errCodeOf(info)
	}
	return []field{{"ErrCode", strings.Join(codes, "|")}, {"ErrInfo", strings.Join(infos, "|")}}
}

// writeErrors answers HTTP 200 with one or more GMO errors.
func writeErrors(w http.ResponseWriter, infos ...string) {
	writeKV(w, errorFields(infos...))
}

// form is a parsed request body. The first occurrence of a key wins.
type form map[string]string

// parseForm reads an application/x-www-form-urlencoded body the way GMO must cope with it:
// properly encoded bodies (values as percent-encoded Shift_JIS bytes, '+' for space) and
// the raw bodies the gmopg npm client sends (qs.stringify with encode:false: nothing is
// escaped, non-ASCII goes out as UTF-8). The body is split on '&' and each part on its
// first '='; a key or value is percent-decoded only when every '%' in it starts a valid
// escape, else taken literally. '+' means a space only in a body that contains at least
// one valid percent escape (an encoded body); in a raw body it is a literal '+'. Decoded
// bytes that are valid UTF-8 are taken as UTF-8 (raw bodies, ASCII); others are decoded
// as Shift_JIS.
func parseForm(body []byte) form {
	f := form{}
	s := string(body)
	encoded := hasValidEscape(s)
	for _, part := range strings.Split(s, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key := decodeComponent(k, encoded)
		if _, seen := f[key]; seen || key == "" {
			continue
		}
		f[key] = decodeComponent(v, encoded)
	}
	return f
}

// hasValidEscape reports whether s contains a %XX escape.
func hasValidEscape(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' && isHex(s[i+1]) && isHex(s[i+2]) {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// decodeComponent decodes one key or value (see parseForm).
func decodeComponent(s string, plusIsSpace bool) string {
	if plusIsSpace {
		s = strings.ReplaceAll(s, "+", " ")
	}
	raw := []byte(s)
	if strings.IndexByte(s, '%') >= 0 {
		if dec, ok := percentDecode(s); ok {
			raw = dec
		}
	}
	if utf8.Valid(raw) {
		return string(raw)
	}
	out, err := japanese.ShiftJIS.NewDecoder().Bytes(raw)
	if err != nil {
		return string(raw)
	}
	return string(out)
}

// percentDecode decodes %XX escapes; ok is false when a '%' does not start one.
func percentDecode(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			out = append(out, s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return nil, false
		}
		out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	return out, true
}

// ParseResponse parses a GMO answer body (Shift_JIS) the way docs/partners/gmopg.md §1 tells the
// adapter to: decode Shift_JIS, split on '&', split each part on its first '=', never
// unescape, and glue a part whose key is not in known back onto the previous value with
// '&' (so RedirectUrl keeps its "&t=…"). With known nil every part is its own key. Tests
// and tools use it; it is not used to serve requests.
func ParseResponse(body []byte, known ...string) map[string]string {
	text, err := japanese.ShiftJIS.NewDecoder().Bytes(body)
	if err != nil {
		text = body
	}
	isKnown := map[string]bool{}
	for _, k := range known {
		isKnown[k] = true
	}
	out := map[string]string{}
	last := ""
	for _, part := range strings.Split(string(text), "&") {
		k, v, hasEq := strings.Cut(part, "=")
		if last != "" && len(known) > 0 && (!hasEq || !isKnown[k]) {
			out[last] += "&" + part
			continue
		}
		out[k] = v
		last = k
	}
	return out
}
