package nanaco

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	numberRE = regexp.MustCompile(`^[0-9]{16}$`)
	idmRE    = regexp.MustCompile(`^[0-9A-Fa-f]{16}$`)
	txnIDRE  = regexp.MustCompile(`^NC[0-9]{18}$`)
)

// decode reads a request body strictly (docs/partners/nanaco.md §B1): one JSON object,
// nothing after it, every key a field of v spelled exactly (Go's decoder would match keys
// case-insensitively) and given once, values of the field's type. Anything else is
// INVALID_REQUEST.
func decode(body []byte, v any) *apiError {
	allowed := jsonFields(reflect.TypeOf(v).Elem())
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fail(CodeInvalidRequest, "the body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, isKey := tok.(string)
		if err != nil || !isKey {
			return fail(CodeInvalidRequest, "the body is not valid JSON")
		}
		if !allowed[key] {
			return fail(CodeInvalidRequest, "unknown field "+quote(key))
		}
		if seen[key] {
			return fail(CodeInvalidRequest, "field "+quote(key)+" given twice")
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail(CodeInvalidRequest, "the body is not valid JSON")
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return fail(CodeInvalidRequest, "the body is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail(CodeInvalidRequest, "trailing data after the JSON object")
	}
	strict := json.NewDecoder(bytes.NewReader(body))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fail(CodeInvalidRequest, "field "+quote(te.Field)+" must be a JSON "+jsonKind(te.Type))
		}
		return fail(CodeInvalidRequest, "the body is not valid JSON")
	}
	return nil
}

// jsonKind names what a Go type is on the wire.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	}
	return t.String()
}

// jsonFields are the JSON names of a struct's fields, embedded structs included.
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for k := range jsonFields(f.Type) {
				out[k] = true
			}
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + s + `"`
}

// text checks an optional free-text field: at most max characters, no control characters.
func text(name, v string, max int) *apiError {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max || strings.ContainsFunc(v, unicode.IsControl) {
		return fail(CodeInvalidRequest, name+" must be at most "+strconv.Itoa(max)+" characters, none of them control characters")
	}
	return nil
}

// amountField checks a positive amount (AMOUNT_INVALID otherwise).
func amountField(name string, v int) *apiError {
	if v < 1 || v > MaxAmount {
		return fail(CodeAmountInvalid, name+" must be a positive whole number of yen (at most 99,999,999)")
	}
	return nil
}

// seqFields are in every value-moving request: the idempotency key's sequence and date
// (§B3) and the merchant's reference (§B4).
type seqFields struct {
	TerminalSeq  int    `json:"terminalSeq"`
	BusinessDate string `json:"businessDate"`
	MerchantRef  string `json:"merchantRef"`
}

// cardRef names a card by its number, its IDm or both (§B4).
type cardRef struct {
	NanacoNumber string `json:"nanacoNumber"`
	IDm          string `json:"idm"`
}

// valueMoving runs one value-moving request (§B3): decode it into in; answer an existing
// key (replay of identical bytes with NCS-Replayed, SEQ_REUSED, SEQ_FENCED) whatever the
// date; refuse a new key on another date than today (BUSINESS_DATE_INVALID); else run,
// which checks everything before it changes anything, and keep the key with its answer.
// Refusals keep nothing: the key stays unused.
func (s *Simulator) valueMoving(c *call, in any, seq *seqFields, run func(k seqKey) (*txn, any, *apiError)) reply {
	if e := decode(c.body, in); e != nil {
		return refuse(e)
	}
	if seq.TerminalSeq < 1 || seq.TerminalSeq > MaxSeq {
		return refuse(fail(CodeInvalidRequest, "terminalSeq must be 1 to 999999"))
	}
	if _, valid := parseBusinessDate(seq.BusinessDate); !valid {
		return refuse(fail(CodeInvalidRequest, "businessDate must be a date, YYYYMMDD"))
	}
	if e := text("merchantRef", seq.MerchantRef, 64); e != nil {
		return refuse(e)
	}
	k := seqKey{merchant: s.cfg.MerchantID, terminal: c.terminal, date: seq.BusinessDate, seq: seq.TerminalSeq}
	if rec := s.keys[k]; rec != nil {
		switch {
		case rec.fenced:
			return refuse(fail(CodeSeqFenced, "this key was voided by a transaction inquiry (found:false): allocate a new one"))
		case rec.txn != nil && rec.path == c.path && bytes.Equal(rec.request, c.body):
			return reply{status: 200, body: rec.response, replayed: true}
		case rec.txn != nil:
			return refuse(fail(CodeSeqReused, "this key was used for another request").with("centerTxnId", rec.txn.id))
		default: // marked in progress (MarkInProgress): the request has arrived
			delete(s.keys, k)
		}
	}
	if seq.BusinessDate != c.today {
		return refuse(fail(CodeBusinessDateInvalid, "a new key must carry the centre's business date").with("businessDate", c.today))
	}
	t, resp, e := run(k)
	if e != nil {
		return refuse(e)
	}
	body := mustJSON(resp)
	t.response = body
	s.lastTxn++
	s.txns[t.id] = t
	s.order = append(s.order, t)
	s.keys[k] = &keyRecord{path: c.path, request: bytes.Clone(c.body), response: body, txn: t}
	return reply{status: 200, body: body}
}

// newTxn starts the record of the transaction being run; valueMoving commits it.
func (s *Simulator) newTxn(c *call, k seqKey, typ string, cd *card, merchantRef string) *txn {
	return &txn{id: txnID(s.lastTxn + 1), typ: typ, status: StatusApproved, key: k, card: cd,
		merchantRef: merchantRef, processedAt: c.now}
}

// snapshot records the card's values after t.
func (t *txn) snapshot() {
	t.balanceAfter, t.centerHeldLeft, t.pointsAfter = t.card.balance, t.card.centerHeld, t.card.points()
}

// findCard resolves a card reference (INVALID_REQUEST, CARD_NOT_FOUND) and brings it up
// to date at now.
func (s *Simulator) findCard(ref cardRef, c *call) (*card, *apiError) {
	if ref.NanacoNumber == "" && ref.IDm == "" {
		return nil, fail(CodeInvalidRequest, "nanacoNumber or idm is required")
	}
	if ref.NanacoNumber != "" && !numberRE.MatchString(ref.NanacoNumber) {
		return nil, fail(CodeInvalidRequest, "nanacoNumber must be 16 digits")
	}
	if ref.IDm != "" && !idmRE.MatchString(ref.IDm) {
		return nil, fail(CodeInvalidRequest, "idm must be 16 hexadecimal characters")
	}
	var cd *card
	if ref.NanacoNumber != "" {
		cd = s.cards[ref.NanacoNumber]
	}
	if ref.IDm != "" {
		byIDm := s.byIDm[strings.ToUpper(ref.IDm)]
		if cd != nil && byIDm != cd {
			return nil, fail(CodeCardNotFound, "nanacoNumber and idm do not name the same card")
		}
		cd = byIDm
	}
	if cd == nil {
		return nil, fail(CodeCardNotFound, "no such card")
	}
	cd.refresh(c.now)
	return cd, nil
}

// original finds the transaction a cancel or refund names (TXN_NOT_FOUND unless it is of
// type typ).
func (s *Simulator) original(id, typ string, c *call) (*txn, *apiError) {
	if !txnIDRE.MatchString(id) {
		return nil, fail(CodeInvalidRequest, "originalTxnId must be NC and 18 digits")
	}
	t := s.txns[id]
	if t == nil || t.typ != typ {
		return nil, fail(CodeTxnNotFound, "no "+strings.ToLower(typ)+" "+id)
	}
	t.card.refresh(c.now)
	return t, nil
}

// sameTerminalSameDay is the cancel rule (§B5): CANCEL_NOT_SUPPORTED with the flag off,
// ALREADY_CANCELLED, TERMINAL_MISMATCH, CANCEL_WINDOW_EXPIRED after the cutoff.
func (s *Simulator) sameTerminalSameDay(o *txn, c *call) *apiError {
	switch {
	case !s.flags.CancelSupported:
		return fail(CodeCancelNotSupported, "this terminal cannot cancel nanaco: refund instead")
	case o.status == StatusCancelled || o.status == StatusReversed:
		return fail(CodeAlreadyCancelled, "the transaction is "+strings.ToLower(o.status))
	case o.key.terminal != c.terminal:
		return fail(CodeTerminalMismatch, "only the terminal that made the transaction can cancel it").with("terminalId", o.key.terminal)
	case o.key.date != c.today:
		return fail(CodeCancelWindowExpired, "a cancel must be on the transaction's business date, before 23:59:59 JST").
			with("businessDate", o.key.date)
	}
	return nil
}
