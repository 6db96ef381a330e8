package sim

import (
	"sync"
	"time"
)

// Clock tells a simulator the time. It has the same method set as contracts.Clock, so
// either can be passed where the other is expected; sim declares its own to keep
// simulators independent of payhub's engine.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// SystemClock is the real wall clock, the default when a simulator gets no clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a clock that moves only when told to. Tests use it to step over a cutoff
// or expiry instead of sleeping. It is safe for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock reading t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the clock's current reading.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t (backwards too: a simulator must cope with skew).
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d and returns the new reading.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}
