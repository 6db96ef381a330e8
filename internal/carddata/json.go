package carddata

import (
	"bytes"
	"encoding/json"
	"io"
	"math/big"
	"strconv"
	"strings"
)

// ScanJSON looks for card data in a request body: in JSON, every key (its name and its
// text) and every string or number value, in the order sent (duplicate keys included); a
// value under a key naming card data is card data whatever it holds. A body that is not
// one JSON value, or has data after it, is also scanned as text. exempt may be nil; it is
// asked only about values whose pointer is exact (Member 0).
func ScanJSON(body []byte, exempt Exempt) (Finding, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := walker{}
	for !w.done {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if n := len(w.stack); n > 0 && w.stack[n-1].object && w.stack[n-1].wantKey {
			if key, ok := tok.(string); ok {
				if f, found := w.key(key); found {
					return f, true
				}
			} else { // '}'
				w.pop()
			}
			continue
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				w.push(v == '{', w.value())
			} else { // ']'
				w.pop()
			}
		case string:
			at := w.value()
			if ContainsCardNumber(v) && (exempt == nil || at.member != 0 || !exempt(w.pointer(at), v)) {
				return w.finding(at), true
			}
			w.ended()
		case json.Number:
			at := w.value()
			if numberIsCard(string(v)) {
				return w.finding(at), true
			}
			w.ended()
		default: // true, false, null
			w.value()
			w.ended()
		}
	}
	clean := false
	if w.done {
		_, err := dec.Token()
		clean = err == io.EOF
	}
	if !clean && ContainsCardNumber(string(body)) {
		// Not JSON, or data after the value: read the whole body as text.
		return Finding{What: "card_number"}, true
	}
	return Finding{}, false
}

// walker follows a JSON token stream: where each value is, as a pointer of plain keys and
// indices kept in one buffer (path) and written out only for a finding, so that deep
// nesting costs no more than its length.
type walker struct {
	stack []frame
	path  []byte // the pointer of the innermost container named exactly
	done  bool   // the top-level value is complete
}

// place is where a JSON value is: exactly at path[:end] plus its own segment (a plain key,
// an index, or none at the top), or (member > 0) somewhere in the value of that member of
// the object at path[:end], whose key is not repeated.
type place struct {
	end    int
	key    string // the value's plain key, or
	index  int    // its index in an array (-1: none)
	member int
}

// frame is an open object or array.
type frame struct {
	object  bool
	wantKey bool  // object: the next token is a key or '}'
	n       int   // members or elements so far
	end     int   // exact: the container's pointer is path[:end]; else its anchor's
	member  int   // not 0: the container is in that member of the object at path[:end]
	restore int   // len(path) before the container was entered
	child   place // object: where the current member's value is
}

// value is the place of the next value, counting it in its array.
func (w *walker) value() place {
	if len(w.stack) == 0 {
		return place{index: -1}
	}
	top := &w.stack[len(w.stack)-1]
	if top.object {
		return top.child
	}
	i := top.n
	top.n++
	if top.member != 0 {
		return place{end: top.end, index: -1, member: top.member}
	}
	return place{end: top.end, index: i}
}

// push enters an object or array at place at.
func (w *walker) push(object bool, at place) {
	f := frame{object: object, wantKey: object, restore: len(w.path)}
	if at.member == 0 {
		// An exact place is in the innermost exact container, whose pointer is all of path.
		switch {
		case at.key != "":
			w.path = append(append(w.path, '/'), at.key...)
		case at.index >= 0:
			w.path = strconv.AppendInt(append(w.path, '/'), int64(at.index), 10)
		}
		f.end = len(w.path)
	} else {
		f.end, f.member = at.end, at.member
	}
	w.stack = append(w.stack, f)
}

// pop leaves the innermost object or array.
func (w *walker) pop() {
	f := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	w.path = w.path[:f.restore]
	w.ended()
}

// ended notes that a value is complete.
func (w *walker) ended() {
	if len(w.stack) == 0 {
		w.done = true
	} else if top := &w.stack[len(w.stack)-1]; top.object {
		top.wantKey = true
	}
}

// key reads a member's key in the innermost object: card data itself, or where its value is.
func (w *walker) key(key string) (Finding, bool) {
	top := &w.stack[len(w.stack)-1]
	top.n++
	top.wantKey = false
	what := KeyNamesCardData(key)
	if what == "" && ContainsCardNumber(key) {
		what = "card_number"
	}
	switch {
	case what != "" && top.member != 0:
		return Finding{Pointer: string(w.path[:top.end]), Member: top.member, What: what}, true
	case what != "":
		return Finding{Pointer: string(w.path[:top.end]), Member: top.n, Key: true, What: what}, true
	case top.member != 0:
		top.child = place{end: top.end, index: -1, member: top.member}
	case plainKey(key):
		top.child = place{end: top.end, key: key, index: -1}
	default:
		top.child = place{end: top.end, index: -1, member: top.n}
	}
	return Finding{}, false
}

// pointer writes out the pointer of a place.
func (w *walker) pointer(at place) string {
	p := string(w.path[:at.end])
	switch {
	case at.member != 0:
	case at.key != "":
		p += "/" + at.key
	case at.index >= 0:
		p += "/" + strconv.Itoa(at.index)
	}
	return p
}

func (w *walker) finding(at place) Finding {
	return Finding{Pointer: w.pointer(at), Member: at.member, What: "card_number"}
}

// plainKey reports whether a key may be written into a pointer: 1–64 ASCII letters, digits
// and _ . -, starting with a letter or _, with at most four digits (nothing of a card
// number or a whole security code beyond what a field name like line4 holds).
func plainKey(k string) bool {
	if len(k) == 0 || len(k) > 64 {
		return false
	}
	digits := 0
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
			digits++
		case (c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return digits <= 4
}

// numberIsCard reports whether a JSON number holds a card number: as written, or written
// out in full when it is a whole number in exponent or decimal form (4.111111111111111e15,
// 4111111111111111.0).
func numberIsCard(s string) bool {
	if ContainsCardNumber(s) {
		return true
	}
	if !strings.ContainsAny(s, ".eE") {
		return false
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		if exp, err := strconv.Atoi(s[i+1:]); err != nil || exp < -40 || exp > 40 {
			return false // no whole number of 13–19 digits is written so
		}
	}
	r, ok := new(big.Rat).SetString(s)
	return ok && r.IsInt() && ContainsCardNumber(r.Num().String())
}
