package linepay

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// taipei is the zone of transactionId date prefixes (LINE Pay's remaining markets are UTC+8
// and UTC+7; the prefix is informational).
var taipei = time.FixedZone("Asia/Taipei", 8*3600)

// txID is a LINE Pay transaction id: yyyyMMdd + 11 digits, 19 digits in all, far above
// 2^53 (docs/partners/linepay.md §7.1). It is kept as an int64 and written as a bare JSON
// number (or a string, Config.QuoteTransactionIDs).
type txID int64

func (id txID) String() string { return strconv.FormatInt(int64(id), 10) }

// parseTxID reads a path or query transactionId: 1 to 19 digits.
func parseTxID(s string) (txID, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return txID(n), err == nil
}

// jsonID is a txID as a response writes it: bare, or quoted under QuoteTransactionIDs.
type jsonID struct {
	id     txID
	quoted bool
}

// MarshalJSON writes the id as a bare number or a string.
func (j jsonID) MarshalJSON() ([]byte, error) {
	s := j.id.String()
	if j.quoted {
		return []byte(`"` + s + `"`), nil
	}
	return []byte(s), nil
}

// jid wraps id for a response.
func (s *Simulator) jid(id txID) jsonID { return jsonID{id: id, quoted: s.cfg.QuoteTransactionIDs} }

// newTxID returns an unused transaction id dated now. The 11 random digits never leave the
// low byte zero, so float64 (which keeps multiples of 256 at this size) cannot hold the id
// exactly: a client that parses it as a double visibly gets it wrong. Needs s.mu.
func (s *Simulator) newTxID(now time.Time) txID {
	d := now.In(taipei)
	prefix := int64(d.Year()*10000+int(d.Month())*100+d.Day()) * 1e11
	for {
		id := txID(prefix + rand.Int64N(1e11))
		if id%256 == 0 || id%10 == 0 || s.usedIDs[id] {
			continue
		}
		s.usedIDs[id] = true
		return id
	}
}

// digits returns n random decimal digits, the first non-zero.
func digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rand.IntN(10))
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

// lineTime formats t as LINE's dates: ISO-8601 UTC, whole seconds ("2026-03-10T06:00:00Z").
func lineTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
