package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"time"

	"payhub/contracts"
)

// A partner keyed by terminal, business date and sequence number (contracts.Sequenced:
// nanaco's NCS, docs/partners/nanaco.md §B3) gets its PartnerRefs from here. The number
// is handed out in the transaction that writes the attempt carrying it, so it is recorded
// before the partner hears of it and a retry sends the same one.

var terminalIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// sequenceTerminal is the partner's terminal id for a store's till: one per till, so that
// a partner's "same terminal" rules mean the same till. It is "<store>_<till>" when that is
// short and plain enough, else a digest of the two (stable, and never two tills in one).
func sequenceTerminal(storeID, terminalID string) string {
	if terminalID == "" {
		terminalID = "0"
	}
	if id := storeID + "_" + terminalID; terminalIDPattern.MatchString(id) {
		return id
	}
	sum := sha256.Sum256([]byte(storeID + "\x00" + terminalID))
	return "T" + hex.EncodeToString(sum[:10])
}

// sequencedRef allocates the next SequenceRef of the till for method on the business date of
// now, in tx, when the partner wants one (ok false otherwise: the caller derives the ref from
// payhub's ids). A till that used up its numbers for the day is refused with
// limit_exceeded.
func (h *Hub) sequencedRef(ctx context.Context, tx contracts.Tx, method contracts.Method, storeID, terminalID string, now time.Time) (ref string, ok bool, err error) {
	caps, known := h.capabilitiesOf(method)
	if !known || caps.Sequenced == nil {
		return "", false, nil
	}
	r := contracts.SequenceRef{Terminal: sequenceTerminal(storeID, terminalID), BusinessDate: contracts.BusinessDate(now)}
	r.Seq, err = tx.AllocateSequence(ctx, method, r.Terminal, r.BusinessDate, caps.Sequenced.MaxSeq)
	if errors.Is(err, contracts.ErrSequenceExhausted) {
		return "", false, contracts.Errorf(contracts.CodeLimitExceeded,
			"Terminal %s has used every %s sequence number of business date %s; use another terminal_id until the next day.", terminalID, method, r.BusinessDate)
	}
	if err != nil {
		return "", false, err
	}
	return r.String(), true, nil
}
