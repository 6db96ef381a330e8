package compensate

import (
	"strings"
	"testing"

	"payhub/contracts"
)

// TestNanacoRef: a claim's re-credit refs are valid sequence refs on a transfer-enabled
// (MIG-…) terminal within the adapter's sequences, the same for the same claim, attempt
// and day, different for another attempt or claim, and name their attempt.
func TestNanacoRef(t *testing.T) {
	id := strings.Repeat("Z", 64)
	seen := map[string]bool{}
	for _, claim := range []string{"c1", "c2", id} {
		for attempt := 1; attempt <= MaxNanacoAttempts; attempt++ {
			ref := NanacoRef(claim, attempt, "20261206")
			r, err := contracts.ParseSequenceRef(ref)
			if err != nil || !strings.HasPrefix(r.Terminal, "MIG-") || r.Seq > maxSeq || r.BusinessDate != "20261206" {
				t.Fatalf("%s: %+v, %v", ref, r, err)
			}
			if ref != NanacoRef(claim, attempt, "20261206") || seen[ref] || nanacoAttempt(ref) != attempt {
				t.Fatalf("%s: not stable, not unique or not its attempt (%d)", ref, nanacoAttempt(ref))
			}
			seen[ref] = true
		}
	}
	if nanacoAttempt("store-001_till-01.20261206.000042") != 0 || nanacoAttempt("re_x") != 0 {
		t.Fatal("a ref of another kind names an attempt")
	}
	if len(sourceRef(id)) > 64 {
		t.Fatal("sourceRef over 64 characters")
	}
}
