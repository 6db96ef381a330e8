package nanaco

import (
	"fmt"
	"regexp"

	"payhub/contracts"
)

// MaxSeq is the highest sequence payhub's engine allocates per terminal and business date
// (Capabilities.Sequenced); the numbers above it are this adapter's own.
const MaxSeq = 499_999

// CancelSeqOffset derives a cancel's key from the key of what it cancels: the same
// terminal and business date, the sequence plus 500,000 (payhub convention, within §B3's
// 1–999,999). A cancel has no ref of its own, so retrying it sends identical bytes under
// the same key and the centre replays its answer.
const CancelSeqOffset = 500_000

// parseRef reads an engine-allocated SequenceRef (terminal.YYYYMMDD.seq) for a
// value-moving request: well formed and at most MaxSeq, so that its cancel key exists.
func parseRef(s string) (contracts.SequenceRef, error) {
	k, err := contracts.ParseSequenceRef(s)
	if err != nil {
		return k, fmt.Errorf("the partner ref %q is not a sequence ref (terminal.YYYYMMDD.seq)", truncate(s, 80))
	}
	return k, checkKey(k)
}

// checkKey refuses a key the engine could not have allocated.
func checkKey(k contracts.SequenceRef) error {
	if !k.Valid() {
		return fmt.Errorf("the sequence ref %q is not valid (terminal of [A-Za-z0-9_-]{1,40}, a date, seq 1-999999)", truncate(k.String(), 80))
	}
	if k.Seq > MaxSeq {
		return fmt.Errorf("sequence %d of %s is above %d, the highest payhub allocates (the numbers above are cancel keys)", k.Seq, k.String(), MaxSeq)
	}
	return nil
}

// cancelKey is the key of the cancel of the operation keyed by orig.
func cancelKey(orig contracts.SequenceRef) contracts.SequenceRef {
	return contracts.SequenceRef{Terminal: orig.Terminal, BusinessDate: orig.BusinessDate, Seq: orig.Seq + CancelSeqOffset}
}

// Card patterns (§B4): a nanaco number is 16 digits; the app's barcode is the number and
// begins with 7; an IDm is 16 hex characters.
var (
	numberPattern  = regexp.MustCompile(`^[0-9]{16}$`)
	barcodePattern = regexp.MustCompile(`^7[0-9]{15}$`)
	idmPattern     = regexp.MustCompile(`^[0-9A-Fa-f]{16}$`)
)

// checkCard refuses a card read the centre could not take: no number and no IDm, a number
// not of 16 digits, an IDm not of 16 hex characters.
func checkCard(c contracts.PresentedCard) error {
	switch {
	case c.Number == "" && c.IDm == "":
		return fmt.Errorf("the card read carries neither a nanaco number nor an IDm")
	case c.Number != "" && !numberPattern.MatchString(c.Number):
		return fmt.Errorf("the card's nanaco number is not 16 digits")
	case c.IDm != "" && !idmPattern.MatchString(c.IDm):
		return fmt.Errorf("the card's IDm is not 16 hex characters")
	}
	return nil
}
