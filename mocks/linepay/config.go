package linepay

import (
	"time"

	"payhub/mocks/sim"
)

// Demo credentials: documented defaults shared with the LINE Pay adapter so that `payhub
// sim` works out of the box. cmd/payhub uses PAYHUB_LINEPAY_CHANNEL_ID and
// PAYHUB_LINEPAY_CHANNEL_SECRET instead when they are set. They guard nothing: never use
// them against a real LINE Pay host.
const (
	// DemoChannelID is the demo channel id (X-LINE-ChannelId), digits like LINE's.
	DemoChannelID = "1650000000"
	// DemoChannelSecret is the demo channel secret (the HMAC key).
	DemoChannelSecret = "payhub-demo-linepay-channel-secret"
)

// DefaultCurrency is the channel currency when Config.Currency is empty
// (docs/partners/linepay.md §1).
const DefaultCurrency = "TWD"

// Lifetimes on the simulator clock (docs/partners/linepay.md §4.3, §5, §7.4).
const (
	// RequestLifetime is how long an Online v3 request may wait for the customer's
	// approval and the merchant's Confirm; later it is CANCELLED (check 0121).
	RequestLifetime = 20 * time.Minute
	// OneTimeKeyLifetime is how long an issued oneTimeKey (My Code) can be paid with.
	OneTimeKeyLifetime = 5 * time.Minute
	// NonceWindow is how long StrictNonce remembers a nonce (payhub's choice, §3.1).
	NonceWindow = 15 * time.Minute
)

// DefaultAuthorizationLifetime is how long a capture=false authorization can be captured
// when Config.AuthorizationLifetime is 0. LINE does not publish one for all card issuers;
// 7 days is payhub's choice.
const DefaultAuthorizationLifetime = 7 * 24 * time.Hour

// DefaultSlowPayDelay is how long a pay with OneTimeKeySlow takes when Config.SlowPayDelay
// is 0: past payhub's 45-second read timeout (docs/partners/linepay.md §5.1), so the till sees
// a timeout while LINE Pay still completes the payment.
const DefaultSlowPayDelay = 50 * time.Second

// Config configures a Simulator. Empty fields get the documented defaults.
type Config struct {
	// ChannelID and ChannelSecret are the HMAC credentials (docs/partners/linepay.md §3.1);
	// empty means DemoChannelID and DemoChannelSecret. A request naming another channel
	// gets 1104.
	ChannelID, ChannelSecret string
	// Currency is the channel's only currency (TWD, THB or USD); empty means TWD. Other
	// currencies get 1178. TWD amounts are whole dollars, THB and USD take ≤ 2 decimals.
	Currency string
	// Clock drives transaction dates and the three expiries (request 20 min,
	// authorization, oneTimeKey 5 min); nil means the system clock.
	Clock sim.Clock
	// Faults injects faults (latency, errors, hangs, resets, commit then drop, commit then
	// error) into the API, with LINE's envelope as error body (FaultErrorBody), and is
	// controlled through /_sim/faults; nil means no faults and no /_sim/faults.
	Faults *sim.Faults
	// StrictNonce refuses a nonce seen in the last NonceWindow with 1106 (payhub's choice:
	// LINE documents no replay rule).
	StrictNonce bool
	// LenientGETSigning also accepts GET signatures made without the query
	// (WPBrewer/wpbr-linepay-tw) or over "?"+query (CarlLee1983/line-pay-core-v4)
	// (docs/partners/linepay.md §3.2). Strict by default.
	LenientGETSigning bool
	// QuoteTransactionIDs writes transactionId, refundTransactionId and
	// originalTransactionId as JSON strings instead of bare numbers (line-pay-merchant's
	// docs show them quoted; LINE's API sends bare numbers, §7.1).
	QuoteTransactionIDs bool
	// AuthorizationLifetime is how long a capture=false authorization lasts; 0 means
	// DefaultAuthorizationLifetime.
	AuthorizationLifetime time.Duration
	// SlowPayDelay is how long a pay with OneTimeKeySlow runs (wall clock) before it
	// commits and answers; 0 means DefaultSlowPayDelay.
	SlowPayDelay time.Duration
}

func (c Config) withDefaults() Config {
	if c.ChannelID == "" {
		c.ChannelID = DemoChannelID
	}
	if c.ChannelSecret == "" {
		c.ChannelSecret = DemoChannelSecret
	}
	if c.Currency == "" {
		c.Currency = DefaultCurrency
	}
	if c.Clock == nil {
		c.Clock = sim.SystemClock{}
	}
	if c.AuthorizationLifetime <= 0 {
		c.AuthorizationLifetime = DefaultAuthorizationLifetime
	}
	if c.SlowPayDelay <= 0 {
		c.SlowPayDelay = DefaultSlowPayDelay
	}
	return c
}
