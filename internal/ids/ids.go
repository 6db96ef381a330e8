// Package ids mints payhub's typed, sortable ids: a lower-case prefix, "_", and a ULID
// (docs/api.md §2). ULIDs sort by creation time, which cursor pagination relies on.
package ids

import (
	"crypto/rand"
	"io"
	"sync"

	"github.com/oklog/ulid/v2"

	"payhub/contracts"
)

// Generator mints ids whose time part comes from an injected clock. Ids minted by one
// Generator strictly increase, even within one millisecond. Safe for concurrent use.
type Generator struct {
	clock   contracts.Clock
	mu      sync.Mutex
	entropy io.Reader
}

// New returns a Generator reading time from clock.
func New(clock contracts.Clock) *Generator {
	return &Generator{clock: clock, entropy: ulid.Monotonic(rand.Reader, 0)}
}

// New mints prefix + "_" + a fresh ULID, e.g. New(contracts.PrefixPayment) = "pay_01J…".
func (g *Generator) New(prefix string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := ulid.MustNew(ulid.Timestamp(g.clock.Now()), g.entropy)
	return prefix + "_" + id.String()
}
