package jsonin

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
)

// MaxDepth is the deepest nesting of objects and arrays accepted. payhub's bodies are
// shallow; a bound keeps hostile nesting cheap.
const MaxDepth = 64

// frame is one open object or array during the prescan.
type frame struct {
	object  bool
	shape   *shape
	names   map[string]struct{} // member names seen so far (objects)
	wantKey bool                // next token is a member name or '}'
	segment string              // the current member name or element index, unescaped
	index   int                 // the next element's index (arrays)
}

// scan is one prescan: the open containers, innermost last.
type scan []*frame

// pointer is the JSON pointer of the current value of the innermost container, built only
// when needed so deep documents cost nothing extra.
func (s scan) pointer() string {
	var b strings.Builder
	for _, f := range s {
		b.WriteByte('/')
		b.WriteString(escapePointer(f.segment))
	}
	return b.String()
}

// prescan walks the tokens of body once, before any decoding, to refuse what
// encoding/json would silently accept: invalid UTF-8, duplicate member names at any depth,
// names matching a known field only case-insensitively, unknown fields of a known struct,
// nesting deeper than MaxDepth, and data after the first value. root describes the target
// (nil: any JSON). visit, when not nil, sees the input offset just past each value's first
// token, with a function that returns the value's JSON pointer.
func prescan(body []byte, root *shape, visit func(offset int64, pointer func() string)) error {
	if err := validUTF8(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack scan
	done := false
	for {
		tok, err := dec.Token()
		switch {
		case err == io.EOF && done:
			return nil
		case err == io.EOF:
			return invalid("", "the JSON document is empty or incomplete")
		case done:
			return invalid("", "unexpected data after the JSON value")
		case err != nil:
			return decodeError(body, err)
		}

		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				done = len(stack) == 0
				continue
			}
			name, _ := tok.(string) // the decoder guarantees a string here
			if err := top.enter(name, stack); err != nil {
				return err
			}
			continue
		}
		if top != nil && !top.object && tok == json.Delim(']') {
			stack = stack[:len(stack)-1]
			done = len(stack) == 0
			continue
		}

		// tok starts a value: at the root, as a member value, or as an array element.
		sh := root
		if top != nil {
			sh = top.child()
		}
		if visit != nil {
			visit(dec.InputOffset(), stack.pointer)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) == MaxDepth {
				return invalid(stack.pointer(), "the JSON document nests deeper than %d levels", MaxDepth)
			}
			f := &frame{object: tok == json.Delim('{'), shape: sh}
			if f.object {
				f.names, f.wantKey = map[string]struct{}{}, true
			}
			stack = append(stack, f)
		default:
			done = top == nil
		}
	}
}

// enter records member name of the innermost object and checks it against the target's
// fields.
func (f *frame) enter(name string, stack scan) error {
	f.segment = name
	if _, dup := f.names[name]; dup {
		return invalid(stack.pointer(), "member %q appears more than once", name)
	}
	f.names[name] = struct{}{}
	if f.shape != nil && f.shape.kind == kindStruct {
		if _, known := f.shape.fields[name]; !known {
			if field, ok := f.shape.folded[foldName(name)]; ok {
				return invalid(stack.pointer(), "member %q must be spelled %q (names are case-sensitive)", name, field)
			}
			return invalid(stack.pointer(), "unknown member %q", name)
		}
	}
	f.wantKey = false
	return nil
}

// child returns the shape of the value about to start inside f, and moves f on.
func (f *frame) child() *shape {
	if f.object {
		f.wantKey = true
		return f.shape.member(f.segment)
	}
	f.segment = strconv.Itoa(f.index)
	f.index++
	return f.shape.element()
}

// pointerAt finds the JSON pointer of the value whose first token ends at offset, which is
// where encoding/json reports a type error; "" when none does.
func pointerAt(body []byte, offset int64) string {
	found := ""
	_ = prescan(body, nil, func(end int64, pointer func() string) {
		if end == offset && found == "" {
			found = pointer()
		}
	})
	return found
}
