// Package jsonin owns strict decoding of JSON from outside payhub (docs/security.md
// §12): the size and media-type gate on request bodies, a decoder that refuses what
// encoding/json v1 silently accepts (invalid UTF-8, duplicate member names, names that
// match a field only case-insensitively, unknown fields, trailing data, numbers that do not
// fit), and the canonical form used for idempotency fingerprints.
//
// Every refusal is a *contracts.Error: 400 invalid_request (with the JSON pointer of the
// offending member when known), 413 body_too_large or 415 unsupported_media_type. Details
// name members and expected types, never the values, so a card number sent in the wrong
// place is not echoed (§11).
package jsonin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"payhub/contracts"
)

// Body size limits of §12.
const (
	// APILimit is the largest store API request body.
	APILimit = 64 << 10
	// CallbackLimit is the largest partner callback body.
	CallbackLimit = 256 << 10
)

// ReadBody reads a JSON request body of at most limit bytes (APILimit when limit ≤ 0).
// It refuses a Content-Type other than application/json (parameters allowed, but a charset
// must be UTF-8) with 415 and a body over the limit with 413, reading no more than
// limit+1 bytes.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = APILimit
	}
	tooLarge := contracts.Errorf(contracts.CodeBodyTooLarge,
		"the request body is larger than %d bytes", limit)
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return nil, tooLarge
	case err != nil:
		return nil, contracts.Errorf(contracts.CodeInvalidRequest, "the request body could not be read")
	}
	return body, nil
}

func checkContentType(header string) error {
	unsupported := contracts.Errorf(contracts.CodeUnsupportedMediaType,
		"the request body must be application/json")
	if header == "" {
		return unsupported
	}
	mediaType, params, err := mime.ParseMediaType(header)
	if err != nil || mediaType != "application/json" {
		return unsupported
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return contracts.Errorf(contracts.CodeUnsupportedMediaType,
			"the request body must be UTF-8 encoded")
	}
	return nil
}

// Decode strictly decodes one JSON value from body into v (a non-nil pointer). Integers
// decode exactly into int64 fields; values of interface type hold json.Number, never
// float64. Refusals are 400 invalid_request *contracts.Error values; a v that is not a
// non-nil pointer is a programming error, returned as a plain error.
func Decode(body []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("jsonin: Decode needs a non-nil pointer, got %T", v)
	}
	if err := prescan(body, schemaOf(rv.Type()), nil); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return decodeError(body, err)
	}
	if _, err := dec.Token(); err != io.EOF { // prescan checked this; keep the guarantee local
		return invalid("", "unexpected data after the JSON value")
	}
	return nil
}

// Canonical re-encodes a JSON document canonically: object members sorted by name, no
// insignificant whitespace, strings re-escaped uniformly, numbers kept verbatim. Two
// bodies that differ only in member order, spacing or string escapes have the same
// canonical form; any other difference shows. It applies Decode's checks (UTF-8,
// duplicates, one value only), since a duplicate member has no single meaning to fingerprint.
func Canonical(body []byte) ([]byte, error) {
	if err := prescan(body, nil, nil); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, decodeError(body, err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, invalid("", "the JSON document cannot be re-encoded")
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

func invalid(pointer, format string, args ...any) *contracts.Error {
	e := contracts.Errorf(contracts.CodeInvalidRequest, format, args...)
	e.Pointer = pointer
	return e
}

// decodeError turns encoding/json's errors into a 400 without quoting values.
func decodeError(body []byte, err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return invalid("", "malformed JSON at byte %d", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		pointer := pointerAt(body, typeErr.Offset)
		if pointer == "" {
			pointer = fieldPointer(typeErr.Field)
		}
		got, _, _ := strings.Cut(typeErr.Value, " ") // "number 1e400" → "number": no values echoed
		where := "the body"
		if pointer != "" {
			where = pointer
		}
		if got == "number" && isNumberKind(typeErr.Type) {
			return invalid(pointer, "the number at %s does not fit %s", where, describe(typeErr.Type))
		}
		return invalid(pointer, "%s must be %s, not %s", where, describe(typeErr.Type), withArticle(got))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "the JSON document is empty or incomplete")
	default:
		return invalid("", "the JSON document does not match the expected shape")
	}
}

func withArticle(jsonKind string) string {
	switch jsonKind {
	case "array", "object":
		return "an " + jsonKind
	case "":
		return "that value"
	}
	return "a " + jsonKind
}

// fieldPointer converts encoding/json's dotted field path to a JSON pointer.
func fieldPointer(field string) string {
	if field == "" {
		return ""
	}
	var b strings.Builder
	for _, part := range strings.Split(field, ".") {
		b.WriteByte('/')
		b.WriteString(escapePointer(part))
	}
	return b.String()
}

func isNumberKind(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer (%s)", t.Kind())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return fmt.Sprintf("a non-negative integer (%s)", t.Kind())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "a valid value"
	}
}

// escapePointer escapes one JSON pointer reference token (RFC 6901 §3).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// validUTF8 refuses invalid UTF-8, raw or escaped: encoding/json v1 silently turns both
// into U+FFFD, so two different bodies would decode (and fingerprint) alike.
func validUTF8(body []byte) error {
	if !utf8.Valid(body) {
		return invalid("", "the body is not valid UTF-8")
	}
	if hasLoneSurrogate(body) {
		return invalid("", "the body escapes an unpaired UTF-16 surrogate")
	}
	return nil
}

// hasLoneSurrogate reports a \uD800–\uDFFF escape that is not a high surrogate followed
// by a low one. Syntax errors are left to the decoder.
func hasLoneSurrogate(body []byte) bool {
	inString := false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(body):
			if body[i+1] != 'u' {
				i++ // skip the escaped character (it may be a quote)
				continue
			}
			r, ok := escapedUnit(body, i)
			switch {
			case !ok || r < 0xD800 || r > 0xDFFF:
			case r >= 0xDC00:
				return true // a low surrogate first
			default:
				low, ok := escapedUnit(body, i+6)
				if !ok || low < 0xDC00 || low > 0xDFFF {
					return true
				}
				i += 6
			}
			i += 5
		}
	}
	return false
}

// escapedUnit decodes the \uXXXX escape at body[i:], if there is one.
func escapedUnit(body []byte, i int) (rune, bool) {
	if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 16)
	return rune(n), err == nil
}
