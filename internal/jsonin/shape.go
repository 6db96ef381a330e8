package jsonin

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

type shapeKind int

const (
	kindStruct shapeKind = iota + 1 // members are the struct's JSON field names
	kindMap                         // members are free keys, every value has elem's shape
	kindList                        // elements have elem's shape
)

// shape is what the prescan knows about a target type. A nil *shape means "anything":
// interface values, types that decode themselves, scalars.
type shape struct {
	kind   shapeKind
	fields map[string]*shape // exact JSON names (kindStruct)
	folded map[string]string // foldName(name) → name, to recognise case tricks (kindStruct)
	elem   *shape            // kindMap, kindList
}

func (s *shape) member(name string) *shape {
	switch {
	case s == nil:
		return nil
	case s.kind == kindStruct:
		return s.fields[name]
	case s.kind == kindMap:
		return s.elem
	}
	return nil
}

func (s *shape) element() *shape {
	if s != nil && s.kind == kindList {
		return s.elem
	}
	return nil
}

var shapes sync.Map // reflect.Type → *shape

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// schemaOf describes t (cached; recursive types are fine).
func schemaOf(t reflect.Type) *shape {
	if s, ok := shapes.Load(t); ok {
		return s.(*shape)
	}
	s := buildShape(t, map[reflect.Type]*shape{})
	shapes.Store(t, s)
	return s
}

func buildShape(t reflect.Type, building map[reflect.Type]*shape) *shape {
	if s, ok := building[t]; ok {
		return s
	}
	if t.Kind() != reflect.Pointer && (t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		return nil // decodes itself: its member names are its own business
	}
	switch t.Kind() {
	case reflect.Pointer:
		return buildShape(t.Elem(), building)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return nil // []byte is a base64 string
		}
		s := &shape{kind: kindList}
		building[t] = s
		s.elem = buildShape(t.Elem(), building)
		return s
	case reflect.Map:
		s := &shape{kind: kindMap}
		building[t] = s
		s.elem = buildShape(t.Elem(), building)
		return s
	case reflect.Struct:
		s := &shape{kind: kindStruct, fields: map[string]*shape{}, folded: map[string]string{}}
		building[t] = s
		addFields(s, t, building, map[reflect.Type]bool{})
		return s
	}
	return nil
}

// addFields collects the JSON names of t's fields, promoting embedded structs' fields.
// It may collect a few names encoding/json would drop (conflicting promoted fields); a
// superset is safe, since encoding/json itself refuses the unknown ones.
func addFields(s *shape, t reflect.Type, building map[reflect.Type]*shape, embedding map[reflect.Type]bool) {
	if embedding[t] {
		return
	}
	embedding[t] = true
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			addFields(s, ft, building, embedding)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if !isValidTag(name) { // encoding/json falls back to the Go name, as here
			name = sf.Name
		}
		s.fields[name] = buildShape(sf.Type, building)
		s.folded[foldName(name)] = name
	}
}

// isValidTag is encoding/json's rule for a usable tag name.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// foldName folds a member name the way encoding/json v1 matches names case-insensitively,
// so every name it would match to a field is recognised here.
func foldName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			continue
		}
		b.WriteRune(unicode.ToUpper(unicode.ToLower(r)))
	}
	return b.String()
}
