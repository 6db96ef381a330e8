package linepay

import (
	"bytes"
	"errors"
)

// maxTxIDDigits is the longest id accepted: LINE's ids are 19 digits, date-prefixed
// (docs/partners/linepay.md §7.1).
const maxTxIDDigits = 19

// errBadTxID is returned for anything that is not 1–19 decimal digits.
var errBadTxID = errors.New("linepay: transaction id must be 1-19 decimal digits without a leading zero")

// TxID is a LINE Pay transactionId, refundTransactionId or originalTransactionId: a 19-digit
// number such as 2021121600698709519, above 2^53, so a float64 would round it (§7.1). It
// holds the id as its decimal string and never goes through a float: UnmarshalJSON accepts
// a bare JSON number or a quoted digit string (1–19 digits, no sign, fraction, exponent or
// leading zero), String renders the digits verbatim (as written into paths), and
// MarshalJSON writes a bare number as LINE does. The zero TxID (IsZero) means "none", which
// is also what a JSON null decodes to.
type TxID struct {
	digits string
}

// ParseTxID reads an id from its decimal digits (1–19, no leading zero).
func ParseTxID(s string) (TxID, error) {
	if !validTxID(s) {
		return TxID{}, errBadTxID
	}
	return TxID{digits: s}, nil
}

// validTxID reports whether s is 1–19 ASCII digits without a leading zero.
func validTxID(s string) bool {
	return len(s) >= 1 && len(s) <= maxTxIDDigits && s[0] != '0' && isDigits(s)
}

// String returns the id's decimal digits, or "" for the zero TxID.
func (t TxID) String() string { return t.digits }

// IsZero reports whether t holds no id.
func (t TxID) IsZero() bool { return t.digits == "" }

// UnmarshalJSON accepts 2021121600698709519 and "2021121600698709519"; null leaves t
// unchanged (the zero TxID when decoding into a fresh value).
func (t *TxID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	if !validTxID(string(b)) {
		return errBadTxID
	}
	t.digits = string(b)
	return nil
}

// MarshalJSON writes the id as a bare JSON number (null for the zero TxID).
func (t TxID) MarshalJSON() ([]byte, error) {
	if t.digits == "" {
		return []byte("null"), nil
	}
	return []byte(t.digits), nil
}
