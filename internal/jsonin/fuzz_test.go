package jsonin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"unicode/utf8"

	"payhub/contracts"
	"payhub/internal/render"
)

// FuzzDecode: Decode never panics, refuses only with 400 invalid_request, and what it
// accepts is valid UTF-8 JSON without duplicate members that encoding/json alone decodes to
// the same value.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"amount":9007199254740993,"currency":"JPY","lines":[{"sku":"a","qty":2}],"terminal_id":"T1"}`))
	f.Add([]byte(`{"amount":1,"amount":2}`))
	f.Add([]byte(`{"Amount":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got payRequest
		err := Decode(body, &got)
		if err != nil {
			pub, ok := contracts.AsError(err)
			if !ok || render.ErrorStatus(pub) != http.StatusBadRequest || pub.Code != contracts.CodeInvalidRequest {
				t.Fatalf("refusal %v is not a 400 invalid_request", err)
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted invalid input %q", body)
		}
		if _, err := Canonical(body); err != nil {
			t.Fatalf("accepted %q that Canonical refuses: %v", body, err)
		}
		var want payRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("accepted %q that encoding/json refuses: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %#v, encoding/json says %#v", got, want)
		}
	})
}

// FuzzCanonical: the canonical form is valid compact JSON, idempotent, and means the
// same document as its input.
func FuzzCanonical(f *testing.F) {
	f.Add([]byte(`{"b":1,"a":{"y":[1,"x",null,true],"x":"\u00e9"}}`))
	f.Add([]byte(` [ 1.0 , -0 , 1e5 , "\u2028<&>" ] `))
	f.Fuzz(func(t *testing.T, body []byte) {
		canon, err := Canonical(body)
		if err != nil {
			if _, ok := contracts.AsError(err); !ok {
				t.Fatalf("refusal %v is not a *contracts.Error", err)
			}
			return
		}
		if !json.Valid(canon) {
			t.Fatalf("Canonical(%q) = %q is not JSON", body, canon)
		}
		again, err := Canonical(canon)
		if err != nil || !bytes.Equal(again, canon) {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", body, canon, again, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, canon); err != nil || !bytes.Equal(compact.Bytes(), canon) {
			t.Fatalf("%q is not compact", canon)
		}
		if !reflect.DeepEqual(decodeAny(t, body), decodeAny(t, canon)) {
			t.Fatalf("Canonical(%q) = %q means something else", body, canon)
		}
	})
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}
