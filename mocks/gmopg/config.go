package gmopg

import (
	"time"

	"payhub/mocks/sim"
)

// Demo credentials: documented defaults shared with the card adapter so that `payhub sim`
// works out of the box. cmd/payhub uses PAYHUB_GMOPG_SHOP_ID and PAYHUB_GMOPG_SHOP_PASS
// instead when they are set. They guard nothing: never use them against a real GMO host.
const (
	// DemoShopID is the demo shop id (13 characters, GMO's limit).
	DemoShopID = "tshop00000001"
	// DemoShopPass is the demo shop password (9 characters; GMO's limit is 10).
	DemoShopPass = "demo-pass"
)

// Lifetimes and limits on the simulator clock (docs/partners/gmopg.md §2, §7).
const (
	// TokenLifetime is how long a minted MP token can be used (GMO: 30 minutes).
	TokenLifetime = 30 * time.Minute
	// ChangeWindow is how long after the authorisation a transaction can still be
	// altered or changed (E11010010 afterwards).
	ChangeWindow = 180 * 24 * time.Hour
	// DefaultAuthValidity is how long an AUTH can be captured when Config.AuthValidity
	// is 0 (issuer and contract dependent at GMO; 60 days is payhub's choice).
	DefaultAuthValidity = 60 * 24 * time.Hour
	// DefaultSlowDelay is how long TokenSlow holds the answer, after committing, when
	// Config.SlowDelay is 0: past a 45-second client timeout.
	DefaultSlowDelay = 50 * time.Second
)

// JST is the zone of TranDate, ProcessDate and the same-day VOID rule when
// Config.Location is nil (a fixed UTC+9 zone: Japan has no daylight saving time, and a
// fixed zone needs no tzdata).
var JST = time.FixedZone("JST", 9*3600)

// Config configures a Simulator. Empty fields get the documented defaults.
type Config struct {
	// ShopID and ShopPass are the shop credentials (docs/partners/gmopg.md §1); empty means
	// DemoShopID and DemoShopPass. Wrong ones get E01030002.
	ShopID, ShopPass string
	// Clock drives TranDate, token expiry, the authorisation validity, the 180-day limit
	// and the same-day VOID rule; nil means the system clock.
	Clock sim.Clock
	// Faults injects faults into the API with GMO's KV error body (FaultErrorBody) and is
	// controlled through /_sim/faults; nil means no faults and no /_sim/faults.
	Faults *sim.Faults
	// Require3DS makes the shop require EMV 3-D Secure: EntryTran without TdFlag=2 gets
	// E01080101. Off by default so plain token flows work.
	Require3DS bool
	// No3DSContract makes the shop have no 3DS contract: EntryTran with TdFlag=2 gets
	// E01080010. Ignored when Require3DS is set.
	No3DSContract bool
	// Location is the zone of dates; nil means JST.
	Location *time.Location
	// AuthValidity is how long an AUTH (or SAUTH) can be captured or changed
	// (E01420010 afterwards); 0 means DefaultAuthValidity.
	AuthValidity time.Duration
	// SlowDelay is how long an ExecTran or SecureTran2 with TokenSlow waits (wall clock)
	// after committing before it answers; 0 means DefaultSlowDelay. The wait ends early
	// when the client goes away.
	SlowDelay time.Duration
	// PublicURL is the simulator's base URL as browsers reach it (e.g.
	// "http://127.0.0.1:7103"), used in RedirectUrl; empty means http(s):// plus the
	// request's Host header.
	PublicURL string
}

func (c Config) withDefaults() Config {
	if c.ShopID == "" {
		c.ShopID = DemoShopID
	}
	if c.ShopPass == "" {
		c.ShopPass = DemoShopPass
	}
	if c.Clock == nil {
		c.Clock = sim.SystemClock{}
	}
	if c.Location == nil {
		c.Location = JST
	}
	if c.AuthValidity <= 0 {
		c.AuthValidity = DefaultAuthValidity
	}
	if c.SlowDelay <= 0 {
		c.SlowDelay = DefaultSlowDelay
	}
	return c
}
