package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"

	"payhub/contracts"
)

// BrokenError names the first entry at which the chain is broken, and why.
type BrokenError struct {
	// Seq is the first bad entry's position (for a deleted entry, the missing seq).
	Seq int64
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit entry %d: %s", e.Seq, e.Reason)
}

// Summary is what Check found on an intact chain.
type Summary struct {
	// Entries is how many entries were verified.
	Entries int64
	// Head is the last entry's seq and hash (zero for an empty log).
	Head Anchor
}

// Anchor is the chain's head (seq, hash) kept outside the database (a file, the log, a
// metric): a log whose head falls below it was truncated, one whose entry at Seq has
// another hash was re-chained. Its JSON is {"seq":12,"hash":"…"}.
type Anchor struct {
	// Seq is the head entry's seq.
	Seq int64 `json:"seq"`
	// Hash is the head entry's hash (hex).
	Hash string `json:"hash"`
}

// WriteAnchor writes a as a small JSON document.
func WriteAnchor(w io.Writer, a Anchor) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadAnchor reads an anchor WriteAnchor wrote.
func ReadAnchor(r io.Reader) (Anchor, error) {
	var a Anchor
	d := json.NewDecoder(r)
	d.DisallowUnknownFields()
	if err := d.Decode(&a); err != nil {
		return Anchor{}, fmt.Errorf("audit: read anchor: %w", err)
	}
	if h, err := hex.DecodeString(a.Hash); a.Seq < 1 || err != nil || len(h) != sha256.Size {
		return Anchor{}, errors.New("audit: read anchor: want {\"seq\": ≥1, \"hash\": 64 hex digits}")
	}
	return a, nil
}

// Verify recomputes the chain of entries (in seq order, as Entries reads them) under key
// and returns nil when it is intact, or a *BrokenError naming the first bad entry:
//
//   - a deleted entry leaves a gap: the missing seq is named;
//   - an edited entry no longer matches its hash;
//   - a reordered, inserted or re-chained entry does not chain to the hash before it;
//   - with an anchor, a head below the anchor is a truncation (the first missing seq is
//     named), and an entry at the anchor's seq with another hash a re-chained log.
//
// Without an anchor, entries removed from the end cannot be told from entries never written.
// An error of the iterator is returned as it is (not a *BrokenError).
func Verify(entries iter.Seq2[Entry, error], key []byte, anchor *Anchor) error {
	_, err := Check(entries, key, anchor)
	return err
}

// Check is Verify that also reports how many entries it verified and the head.
func Check(entries iter.Seq2[Entry, error], key []byte, anchor *Anchor) (Summary, error) {
	if err := CheckKey(key); err != nil {
		return Summary{}, err
	}
	var sum Summary
	prevHash := GenesisHash
	for e, err := range entries {
		if err != nil {
			return sum, err
		}
		want := sum.Head.Seq + 1
		switch {
		case e.Seq > want:
			return sum, &BrokenError{Seq: want, Reason: fmt.Sprintf("missing: the log goes from %d to %d (entry deleted)", sum.Head.Seq, e.Seq)}
		case e.Seq < want:
			return sum, &BrokenError{Seq: e.Seq, Reason: fmt.Sprintf("out of order: read after entry %d", sum.Head.Seq)}
		case !hmac.Equal([]byte(e.PrevHash), []byte(prevHash)):
			what := "the previous entry's hash"
			if want == 1 {
				what = "the genesis hash"
			}
			return sum, &BrokenError{Seq: e.Seq, Reason: "prev_hash does not match " + what + " (entries reordered, inserted or re-chained)"}
		}
		h, err := ComputeHash(key, e)
		if err != nil || !hmac.Equal([]byte(h), []byte(e.Hash)) {
			return sum, &BrokenError{Seq: e.Seq, Reason: "hash does not match the entry (edited, or not written with the audit key)"}
		}
		if anchor != nil && e.Seq == anchor.Seq && !hmac.Equal([]byte(e.Hash), []byte(anchor.Hash)) {
			return sum, &BrokenError{Seq: e.Seq, Reason: "hash differs from the anchor's (the log was rewritten after the anchor)"}
		}
		sum.Entries++
		sum.Head = Anchor{Seq: e.Seq, Hash: e.Hash}
		prevHash = e.Hash
	}
	if anchor != nil && sum.Head.Seq < anchor.Seq {
		return sum, &BrokenError{Seq: sum.Head.Seq + 1, Reason: fmt.Sprintf(
			"missing: the log ends at %d, below the anchor at %d (truncated)", sum.Head.Seq, anchor.Seq)}
	}
	return sum, nil
}

// Entries reads the whole audit log from st in seq order, pageSize entries per query
// (≤ 0: 1000).
func Entries(ctx context.Context, st contracts.AuditStore, pageSize int) iter.Seq2[Entry, error] {
	if pageSize <= 0 {
		pageSize = 1000
	}
	return func(yield func(Entry, error) bool) {
		var after int64
		for {
			page, err := st.ListAuditEntries(ctx, after, pageSize)
			if err != nil {
				yield(Entry{}, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
				after = e.Seq
			}
			if len(page) < pageSize {
				return
			}
		}
	}
}

// Slice iterates over entries already read, for Verify.
func Slice(entries []Entry) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
	}
}
