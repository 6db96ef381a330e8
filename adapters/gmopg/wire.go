package gmopg

import (
	"errors"
	"net/url"
	"strings"

	"golang.org/x/text/encoding/japanese"
)

// Call names of the protocol API (docs/partners/gmopg.md §3); the path is /payment/<name>.idPass.
const (
	callEntryTran   = "EntryTran"
	callExecTran    = "ExecTran"
	callSecureTran2 = "SecureTran2"
	callAlterTran   = "AlterTran"
	callChangeTran  = "ChangeTran"
	callSearchTrade = "SearchTrade"
)

// errorKeys are present in every call's key set.
var errorKeys = []string{"ErrCode", "ErrInfo"}

// settleKeys are the success fields of ExecTran and SecureTran2 (§3).
var settleKeys = []string{"ACS", "OrderID", "Forward", "Method", "PayTimes", "Approve", "TranID", "TranDate",
	"CheckString", "ClientField1", "ClientField2", "ClientField3", "ClientFieldFlag", "RedirectUrl", "ACSUrl", "PaReq", "MD"}

// alterKeys are the success fields of AlterTran and ChangeTran.
var alterKeys = []string{"AccessID", "AccessPass", "Forward", "Approve", "TranID", "TranDate"}

// responseKeys lists, per call, the keys its response may carry. A part of a response
// whose key is not listed belongs to the previous value (the unencoded-URL trap, §1).
var responseKeys = map[string]map[string]bool{
	callEntryTran:   keySet([]string{"AccessID", "AccessPass"}),
	callExecTran:    keySet(settleKeys),
	callSecureTran2: keySet(settleKeys),
	callAlterTran:   keySet(alterKeys),
	callChangeTran:  keySet(alterKeys),
	callSearchTrade: keySet([]string{"OrderID", "Status", "ProcessDate", "JobCd", "AccessID", "AccessPass", "ItemCode",
		"Amount", "Tax", "SiteID", "MemberID", "CardNo", "Expire", "Method", "PayTimes", "Forward", "TranID", "Approve",
		"ClientField1", "ClientField2", "ClientField3"}),
}

func keySet(keys []string) map[string]bool {
	m := make(map[string]bool, len(keys)+len(errorKeys))
	for _, k := range append(keys, errorKeys...) {
		m[k] = true
	}
	return m
}

// gmoError is one ErrCode/ErrInfo pair.
type gmoError struct {
	Code string // 3 characters: E01, G02, C01
	Info string // 9 characters: E01090008, 42G020000
}

// String renders the pair for messages, e.g. "E01/E01040010".
func (e gmoError) String() string { return e.Code + "/" + e.Info }

// response is one parsed GMO answer.
type response struct {
	// Fields are the key/value pairs, values exactly as sent (never unescaped).
	Fields map[string]string
	// Errors are the paired ErrCode/ErrInfo entries; any entry makes the answer an error.
	Errors []gmoError
}

// get returns a field's value ("" when absent).
func (r response) get(key string) string { return r.Fields[key] }

// maxErrors bounds how many ErrCode/ErrInfo pairs are read from one answer.
const maxErrors = 32

// errNotShiftJIS marks a body that does not decode as Windows-31J.
var errNotShiftJIS = errors.New("response body is not Windows-31J text")

// decodeBody turns a Windows-31J (Shift_JIS) body into a Go string.
func decodeBody(body []byte) (string, error) {
	s, err := japanese.ShiftJIS.NewDecoder().String(string(body))
	if err != nil {
		return "", errNotShiftJIS
	}
	return s, nil
}

// parseResponse reads a decoded body of call by §1: split on '&', split each part on the
// first '=', never unescape, and glue any part whose key is not one of known back onto the
// previous value with '&' (RedirectUrl=https://…?transId=…&t=…). A leading part that is
// not a known key is dropped. ErrCode and ErrInfo are '|'-joined lists paired by position.
// It never panics, whatever the input.
func parseResponse(body string, known map[string]bool) response {
	body = strings.TrimRight(body, "\r\n")
	r := response{Fields: map[string]string{}}
	last := ""
	for _, part := range strings.Split(body, "&") {
		key, value, hasEq := strings.Cut(part, "=")
		if hasEq && known[key] {
			if _, dup := r.Fields[key]; !dup {
				r.Fields[key] = value
				last = key
				continue
			}
		}
		if last != "" {
			r.Fields[last] += "&" + part
		}
	}
	codes, infos := splitList(r.Fields["ErrCode"]), splitList(r.Fields["ErrInfo"])
	n := max(len(codes), len(infos))
	for i := 0; i < n && i < maxErrors; i++ {
		var e gmoError
		if i < len(codes) {
			e.Code = strings.TrimSpace(codes[i])
		}
		if i < len(infos) {
			e.Info = strings.TrimSpace(infos[i])
		}
		r.Errors = append(r.Errors, e)
	}
	return r
}

// splitList splits a '|'-joined list; an empty string is no list.
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Split(s, "|")
}

// param is one request field, in order.
type param struct{ key, value string }

// encodeForm builds an application/x-www-form-urlencoded body: each value is converted to
// Shift_JIS first and those bytes are percent-encoded (§1). A value with a character
// Shift_JIS cannot carry is an error. Empty values are omitted.
func encodeForm(params []param) (string, error) {
	enc := japanese.ShiftJIS.NewEncoder()
	var b strings.Builder
	for _, p := range params {
		if p.value == "" {
			continue
		}
		sj, err := enc.String(p.value)
		if err != nil {
			return "", errors.New("field " + p.key + " has characters Shift_JIS cannot carry")
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(sj))
	}
	return b.String(), nil
}
