package contracts

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SequenceRef is a partner-facing id of the kind Japanese payment terminals use: a terminal,
// its business date and a processing sequence number (端末処理通番). The partner keeps the
// triple as its idempotency key (nanaco's NCS, docs/partners/nanaco.md §B3), so the engine
// allocates the sequence and writes it with the attempt before the request is sent: a
// retry sends the same triple, never a new number. Partners that want one declare
// Capabilities.Sequenced.
type SequenceRef struct {
	// Terminal is the partner's terminal id: 1 to 40 of A–Z, a–z, 0–9, '_' and '-'.
	Terminal string
	// BusinessDate is the terminal's business date, YYYYMMDD (BusinessDate).
	BusinessDate string
	// Seq is the sequence number within (Terminal, BusinessDate), from 1.
	Seq int
}

var (
	terminalPattern     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
	businessDatePattern = regexp.MustCompile(`^[0-9]{8}$`)
)

// String is the ref as PaymentRequest.PartnerRef and RefundRequest.PartnerRef carry it:
// "<terminal>.<YYYYMMDD>.<seq>", e.g. "store-001_till-01.20261206.000042".
func (r SequenceRef) String() string {
	return fmt.Sprintf("%s.%s.%06d", r.Terminal, r.BusinessDate, r.Seq)
}

// Valid reports whether r is well formed: a terminal id of the allowed characters, a
// calendar date, a sequence from 1 to 999,999.
func (r SequenceRef) Valid() bool {
	if !terminalPattern.MatchString(r.Terminal) || !businessDatePattern.MatchString(r.BusinessDate) || r.Seq < 1 || r.Seq > 999_999 {
		return false
	}
	_, err := time.Parse("20060102", r.BusinessDate)
	return err == nil
}

// ParseSequenceRef reads a ref written by SequenceRef.String.
func ParseSequenceRef(s string) (SequenceRef, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return SequenceRef{}, fmt.Errorf("contracts: %q is not a sequence ref (terminal.date.seq)", s)
	}
	seq, err := strconv.Atoi(parts[2])
	r := SequenceRef{Terminal: parts[0], BusinessDate: parts[1], Seq: seq}
	if err != nil || !r.Valid() {
		return SequenceRef{}, fmt.Errorf("contracts: %q is not a sequence ref (terminal.date.seq)", s)
	}
	return r, nil
}

// BusinessDate is t's business date, YYYYMMDD: its calendar date in JST.
func BusinessDate(t time.Time) string { return t.In(JST).Format("20060102") }

// Sequenced is how a partner keyed by SequenceRef wants its refs (Capabilities.Sequenced).
type Sequenced struct {
	// MaxSeq is the highest sequence the engine allocates for a business date; the numbers
	// above it are the adapter's own, derived from a ref the engine allocated (NCS cancels:
	// the payment's sequence plus 500,000, so a cancel is idempotent without a ref of its
	// own). A terminal that runs out on a date is refused (limit_exceeded) until the next.
	MaxSeq int
}
