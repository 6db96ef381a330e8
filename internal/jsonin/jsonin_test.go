package jsonin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/render"
)

type line struct {
	SKU string `json:"sku"`
	Qty int64  `json:"qty"`
}

type customer struct {
	Ref    string    `json:"ref"`
	Parent *customer `json:"parent"`
}

type terminal struct {
	TerminalID string `json:"terminal_id"`
}

// payRequest exercises every shape the prescan understands.
type payRequest struct {
	Amount   int64             `json:"amount"`
	Currency string            `json:"currency"`
	Lines    []line            `json:"lines"`
	Customer *customer         `json:"customer,omitempty"`
	Metadata map[string]string `json:"metadata"`
	Extra    any               `json:"extra"`
	terminal
	Ratio   float64   `json:"ratio"`
	Small   int8      `json:"small"`
	At      time.Time `json:"at"`
	Ignored string    `json:"-"`
}

func TestDecodeAccepts(t *testing.T) {
	body := `{"amount":9007199254740993,"currency":"JPY","lines":[{"sku":"a","qty":2}],
		"customer":{"ref":"c1","parent":{"ref":"c0"}},"metadata":{"a":"1","A":"2"},
		"extra":{"n":9007199254740993,"list":[1,2]},"terminal_id":"T1","ratio":0.5,"small":-128,
		"at":"2026-03-01T12:00:00+09:00"}` + " \n\t"
	var got payRequest
	if err := Decode([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Amount != 9007199254740993 {
		t.Fatalf("amount %d lost precision", got.Amount)
	}
	if n := got.Extra.(map[string]any)["n"]; n != json.Number("9007199254740993") {
		t.Fatalf("extra.n = %#v, want the exact json.Number", n)
	}
	if got.TerminalID != "T1" || got.Customer.Parent.Ref != "c0" || got.Metadata["A"] != "2" || got.Small != -128 {
		t.Fatalf("decoded %+v", got)
	}
}

func TestDecodeRefuses(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		pointer string
	}{
		{"duplicate member", `{"amount":1,"amount":2}`, "/amount"},
		{"duplicate via escape", `{"amount":1,"\u0061mount":2}`, "/amount"},
		{"duplicate in array element", `{"lines":[{"sku":"a"},{"sku":"a","sku":"b"}]}`, "/lines/1/sku"},
		{"duplicate in map", `{"metadata":{"a":"1","a":"2"}}`, "/metadata/a"},
		{"duplicate inside any", `{"extra":{"x":[{"y":1,"y":1}]}}`, "/extra/x/0/y"},
		{"case variant", `{"Amount":1}`, "/Amount"},
		{"case variant after the real one", `{"amount":1,"AMOUNT":2}`, "/AMOUNT"},
		{"case variant nested through pointers", `{"customer":{"parent":{"REF":"x"}}}`, "/customer/parent/REF"},
		{"case variant of an embedded field", `{"Terminal_ID":"x"}`, "/Terminal_ID"},
		{"Kelvin sign folds to k", "{\"lines\":[{\"s\u212au\":\"x\"}]}", "/lines/0/s\u212au"},
		{"unknown member", `{"amount":1,"nope":true}`, "/nope"},
		{"unknown nested member", `{"lines":[{"sku":"a","price":1}]}`, "/lines/0/price"},
		{"json:\"-\" field is unknown", `{"Ignored":"x"}`, "/Ignored"},
		{"pointer escaping", `{"a/b~c":1}`, "/a~1b~0c"},
		{"trailing object", `{"amount":1}{}`, ""},
		{"trailing garbage", `{"amount":1} x`, ""},
		{"trailing scalar", `1 2`, ""},
		{"invalid UTF-8", "{\"currency\":\"\xff\"}", ""},
		{"lone high surrogate", `{"currency":"\ud800"}`, ""},
		{"lone low surrogate", `{"currency":"\udc00x"}`, ""},
		{"reversed surrogates", `{"currency":"\udc00\ud800"}`, ""},
		{"high surrogate then letter", `{"currency":"\ud83dA"}`, ""},
		{"integer over int64", `{"amount":9223372036854775808}`, "/amount"},
		{"fraction into int64", `{"amount":1.5}`, "/amount"},
		{"exponent into int64", `{"amount":1e3}`, "/amount"},
		{"over int8", `{"small":300}`, "/small"},
		{"float overflow", `{"ratio":1e400}`, "/ratio"},
		{"string for integer", `{"amount":"1"}`, "/amount"},
		{"object for string", `{"currency":{}}`, "/currency"},
		{"nested type error", `{"lines":[{"qty":1},{"qty":"two"}]}`, "/lines/1/qty"},
		{"element type error", `{"lines":[{"qty":1},7]}`, "/lines/1"},
		{"syntax error", `{"amount":}`, ""},
		{"unterminated", `{"amount":1`, ""},
		{"empty body", ``, ""},
		{"whitespace only", "  \n", ""},
		{"array for object", `[]`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v payRequest
			err := Decode([]byte(tc.body), &v)
			pub := assertInvalid(t, err)
			if pub.Pointer != tc.pointer {
				t.Fatalf("pointer %q, want %q (detail %q)", pub.Pointer, tc.pointer, pub.Detail)
			}
		})
	}
}

func assertInvalid(t *testing.T, err error) *contracts.Error {
	t.Helper()
	pub, ok := contracts.AsError(err)
	if !ok {
		t.Fatalf("error %v is not a *contracts.Error", err)
	}
	if render.ErrorStatus(pub) != http.StatusBadRequest || pub.Code != contracts.CodeInvalidRequest || pub.Detail == "" {
		t.Fatalf("got %d %s %q", render.ErrorStatus(pub), pub.Code, pub.Detail)
	}
	return pub
}

func TestDecodeNeverEchoesValues(t *testing.T) {
	const pan = "4111111111111111"
	for _, body := range []string{
		`{"amount":` + pan + `1111111}`, // too large for int64
		`{"small":` + pan + `}`,
		`{"currency":` + pan + `}`,
		`{"amount":"` + pan + `"}`,
	} {
		var v payRequest
		pub := assertInvalid(t, Decode([]byte(body), &v))
		if strings.Contains(pub.Error(), pan) {
			t.Fatalf("detail %q echoes the value", pub.Detail)
		}
	}
}

func TestDecodeOtherTargets(t *testing.T) {
	var m map[string]any
	assertInvalid(t, Decode([]byte(`{"a":1,"a":1}`), &m))
	if err := Decode([]byte(`{"a":1,"A":9007199254740993}`), &m); err != nil || m["A"] != json.Number("9007199254740993") {
		t.Fatalf("map decode: %v %#v", err, m)
	}
	var anything any
	assertInvalid(t, Decode([]byte(`[{"x":1,"x":2}]`), &anything))
	var n int64
	if err := Decode([]byte(`9007199254740993`), &n); err != nil || n != 9007199254740993 {
		t.Fatalf("int64 decode: %v %d", err, n)
	}
	if err := Decode([]byte(`{}`), nil); err == nil {
		t.Fatal("nil target accepted")
	} else if _, ok := contracts.AsError(err); ok {
		t.Fatal("a programming error must not look like a client error")
	}
	var notPtr payRequest
	if err := Decode([]byte(`{}`), notPtr); err == nil {
		t.Fatal("non-pointer target accepted")
	}
}

func TestCanonical(t *testing.T) {
	same := []string{
		`{"b":1,"a":{"y":[1,"x",null,true],"x":"é"}}`,
		" { \"a\" : { \"x\" : \"\\u00e9\" , \"y\" : [ 1 , \"\\u0078\" , null , true ] } ,\n\"b\":1 } ",
	}
	want := `{"a":{"x":"é","y":[1,"x",null,true]},"b":1}`
	for _, in := range same {
		got, err := Canonical([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("Canonical(%s) = %s, want %s", in, got, want)
		}
	}
	different := map[string]string{
		"value":                   `{"a":{"x":"é","y":[1,"x",null,false]},"b":1}`,
		"array order":             `{"a":{"x":"é","y":["x",1,null,true]},"b":1}`,
		"number spelling is kept": `{"a":{"x":"é","y":[1.0,"x",null,true]},"b":1}`,
		"type":                    `{"a":{"x":"é","y":[1,"x",null,true]},"b":"1"}`,
	}
	for name, in := range different {
		got, err := Canonical([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) == want {
			t.Errorf("%s: a different document has the same canonical form", name)
		}
	}
	if got, err := Canonical([]byte(`["\ud83d\ude00","\\ud800","\"\ud800\udc00"]`)); err != nil || string(got) != `["😀","\\ud800","\"𐀀"]` {
		t.Errorf("surrogate pairs: %s %v", got, err)
	}
	if got, _ := Canonical([]byte(`{"n":9007199254740993,"h":"<&>"}`)); string(got) != `{"h":"<&>","n":9007199254740993}` {
		t.Errorf("got %s", got)
	}
	for _, bad := range []string{`{"a":1,"a":1}`, `{} {}`, "\"\xff\"", ``, `{"a":}`} {
		if _, err := Canonical([]byte(bad)); err == nil {
			t.Errorf("Canonical(%q) accepted", bad)
		} else {
			assertInvalid(t, err)
		}
	}
}

func TestReadBody(t *testing.T) {
	const limit = 16
	request := func(contentType, body string, knownLength bool) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/v1/payments", strings.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		if !knownLength {
			r.ContentLength = -1 // chunked: only MaxBytesReader can stop it
		}
		return r
	}
	cases := []struct {
		name        string
		contentType string
		body        string
		knownLength bool
		status      int // 0: accepted
	}{
		{"at the limit", "application/json", strings.Repeat("1", limit), true, 0},
		{"at the limit, chunked", "application/json", strings.Repeat("1", limit), false, 0},
		{"1 byte over", "application/json", strings.Repeat("1", limit+1), true, http.StatusRequestEntityTooLarge},
		{"1 byte over, chunked", "application/json", strings.Repeat("1", limit+1), false, http.StatusRequestEntityTooLarge},
		{"charset utf-8", "application/json; charset=UTF-8", `{}`, true, 0},
		{"upper-case media type", "Application/JSON", `{}`, true, 0},
		{"no content type", "", `{}`, true, http.StatusUnsupportedMediaType},
		{"text/plain", "text/plain", `{}`, true, http.StatusUnsupportedMediaType},
		{"form", "application/x-www-form-urlencoded", `a=1`, true, http.StatusUnsupportedMediaType},
		{"json-ish suffix", "application/json-patch+json", `[]`, true, http.StatusUnsupportedMediaType},
		{"latin-1 charset", "application/json; charset=iso-8859-1", `{}`, true, http.StatusUnsupportedMediaType},
		{"malformed content type", "application/json; =", `{}`, true, http.StatusUnsupportedMediaType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, err := ReadBody(request(tc.contentType, tc.body, tc.knownLength), limit)
			if tc.status == 0 {
				if err != nil || string(body) != tc.body {
					t.Fatalf("got %q, %v", body, err)
				}
				return
			}
			pub, ok := contracts.AsError(err)
			if !ok || render.ErrorStatus(pub) != tc.status {
				t.Fatalf("got %v, want status %d", err, tc.status)
			}
			wantCode := map[int]contracts.ErrorCode{413: contracts.CodeBodyTooLarge, 415: contracts.CodeUnsupportedMediaType}[tc.status]
			if pub.Code != wantCode {
				t.Fatalf("code %s, want %s", pub.Code, wantCode)
			}
		})
	}
}

func TestReadBodyDefaultLimitAndReadErrors(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat(" ", APILimit+1)))
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = -1
	if _, err := ReadBody(r, 0); err == nil {
		t.Fatal("body over the default limit accepted")
	}
	r = httptest.NewRequest(http.MethodPost, "/", failingReader{})
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = -1
	pub, ok := contracts.AsError(func() error { _, err := ReadBody(r, 10); return err }())
	if !ok || render.ErrorStatus(pub) != http.StatusBadRequest {
		t.Fatalf("read error mapped to %v", pub)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestDepthLimit(t *testing.T) {
	nest := func(depth int) []byte {
		return []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
	}
	var v any
	if err := Decode(nest(MaxDepth), &v); err != nil {
		t.Fatalf("depth %d refused: %v", MaxDepth, err)
	}
	assertInvalid(t, Decode(nest(MaxDepth+1), &v))
	if _, err := Canonical(nest(MaxDepth + 1)); err == nil {
		t.Fatal("Canonical accepted a too-deep document")
	}
	// A whole API body of '[' is refused after MaxDepth tokens, not after quadratic work.
	allocs := testing.AllocsPerRun(5, func() {
		_ = Decode([]byte(strings.Repeat("[", APILimit)), &v)
	})
	if allocs > 1000 {
		t.Fatalf("%.0f allocations to refuse deep nesting", allocs)
	}
}
