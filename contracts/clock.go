package contracts

import "time"

// Clock tells the time. It is injected wherever time matters (cutoffs, retries, token
// expiry) so tests control it and never sleep.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// SystemClock is the real wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// JST is Japan Standard Time (UTC+9, no daylight saving), in which PayPay's cutoffs are
// computed.
var JST = time.FixedZone("JST", 9*60*60)
