package nanaco

import (
	"time"

	"payhub/mocks/sim"
)

// Demo credentials: documented defaults shared with the nanaco adapter so that `payhub sim`
// works out of the box (docs/partners/nanaco.md §B1, §B2). DemoSecret is the secret of the
// doc's test vector. They guard nothing: never use them against a real centre.
const (
	// DemoMerchantID is the demo merchant id (NCS-Merchant-Id).
	DemoMerchantID = "M0001"
	// DemoSecret is the demo HMAC key.
	DemoSecret = "ncs-demo-secret-0001"
)

// Protocol constants (docs/partners/nanaco.md §B1, §B2, §A2).
const (
	// BasePath prefixes every NCS operation.
	BasePath = "/ncs/v1"
	// MaxBodyBytes caps a request body: NCS requests are a few hundred bytes.
	MaxBodyBytes = 64 << 10
	// MaxSkew is the allowed difference between NCS-Timestamp and the centre's clock.
	MaxSkew = 300 * time.Second
	// NonceWindow is how long a nonce stays used (per merchant).
	NonceWindow = 10 * time.Minute
	// BalanceCap caps the on-card balance; CenterHeldCap caps centre-held value.
	BalanceCap    = 50_000
	CenterHeldCap = 50_000
	// CashUnit, CashMax: a cash top-up is a multiple of ¥1,000 up to ¥49,000.
	CashUnit = 1_000
	CashMax  = 49_000
	// MaxSeq is the largest terminalSeq (§B3).
	MaxSeq = 999_999
	// MaxAmount bounds every amount field: far above any cap, it keeps arithmetic exact.
	MaxAmount = 99_999_999
)

// Merchant settings for points (docs/partners/nanaco.md §B5, "Pay").
const (
	DefaultPointRate       = 200
	DefaultPointMultiplier = 1
)

// TransferTerminalPrefix: terminal ids beginning with it are enabled for /transfers
// whatever Config.TransferTerminals says (payhub's migration and compensation terminals,
// docs/partners/nanaco.md §B3).
const TransferTerminalPrefix = "MIG-"

// Flags are the realism flags and the limits that are merchant settings
// (docs/partners/nanaco.md §B8). They can be changed while the simulator runs (SetFlags,
// PUT /_sim/flags). Limits of 0 mean "no limit".
type Flags struct {
	// CancelSupported lets terminals cancel (payments, charges, transfers); off models
	// terminals that cannot cancel nanaco: every cancel answers CANCEL_NOT_SUPPORTED.
	CancelSupported bool `json:"cancelSupported"`
	// PendingChipWrite: every payment answers PENDING_CONFIRMATION (the chip write is not
	// confirmed) until it is settled by SettlePending (PUT /_sim/pending/{id}), by a balance
	// check with receivePending:true (confirmed), or by a cancel or refund (confirmed).
	PendingChipWrite bool `json:"pendingChipWrite"`
	// SuspendNextDay: /cards/suspend takes effect at the next 00:00 JST; payments succeed
	// until then. Off: at once.
	SuspendNextDay bool `json:"suspendNextDay"`
	// RefundWindowDays: a payment can be refunded until its business date plus this many
	// days (JST dates); ≤ 0 means no window.
	RefundWindowDays int `json:"refundWindowDays"`
	// CreditPerCharge, CreditDaily, CreditMonthly limit CREDIT top-ups per card (daily by
	// JST date, monthly by JST calendar month; cancelled charges do not count).
	CreditPerCharge int `json:"creditPerCharge"`
	CreditDaily     int `json:"creditDaily"`
	CreditMonthly   int `json:"creditMonthly"`
	// TransferMax and TransferDaily limit /transfers per transfer and per card and business
	// date (optional merchant settings; 0: none).
	TransferMax   int `json:"transferMax"`
	TransferDaily int `json:"transferDaily"`
}

// DefaultFlags are the flags when Config.Flags is nil: cancels supported, no pending chip
// writes, suspension at once, a 90-day refund window, credit limits ¥30,000 per charge,
// ¥30,000 a day, ¥200,000 a month, no transfer limits.
func DefaultFlags() Flags {
	return Flags{CancelSupported: true, RefundWindowDays: 90,
		CreditPerCharge: 30_000, CreditDaily: 30_000, CreditMonthly: 200_000}
}

// Config configures a Simulator. Empty fields get the documented defaults.
type Config struct {
	// MerchantID and Secret are the one merchant's credentials (§B2); empty means
	// DemoMerchantID and DemoSecret. Another merchant id answers 401 AUTH_FAILED.
	MerchantID, Secret string
	// Clock is the centre's clock: timestamps, skew, nonce expiry, business dates (the JST
	// calendar date; cutoff 23:59:59 JST), next-day suspension, point expiry. nil means the
	// system clock. /_sim/clock moves it (a *sim.ManualClock directly, any other clock by an
	// offset).
	Clock sim.Clock
	// Faults injects faults into the API (latency, errors, hangs, resets, commit then drop,
	// commit then error), with NCS error bodies (FaultErrorBody), controlled through
	// /_sim/faults; nil means no rule-based faults and no /_sim/faults.
	Faults *sim.Faults
	// AllowFaultHeader honours the per-request header NCS-Mock-Fault (`--allow-faults`);
	// off, the header is ignored.
	AllowFaultHeader bool
	// Flags are the realism flags; nil means DefaultFlags().
	Flags *Flags
	// TransferTerminals are the terminal ids enabled for /transfers, besides every id
	// beginning with TransferTerminalPrefix ("MIG-").
	TransferTerminals []string
	// PointRate and PointMultiplier: points = floor(pointEligibleAmount / rate) ×
	// multiplier; 0 means DefaultPointRate (200) and DefaultPointMultiplier (1).
	PointRate, PointMultiplier int
}

func (c Config) withDefaults() Config {
	if c.MerchantID == "" {
		c.MerchantID = DemoMerchantID
	}
	if c.Secret == "" {
		c.Secret = DemoSecret
	}
	if c.Clock == nil {
		c.Clock = sim.SystemClock{}
	}
	if c.Flags == nil {
		f := DefaultFlags()
		c.Flags = &f
	} else {
		f := *c.Flags // the simulator owns its copy
		c.Flags = &f
	}
	if c.PointRate <= 0 {
		c.PointRate = DefaultPointRate
	}
	if c.PointMultiplier <= 0 {
		c.PointMultiplier = DefaultPointMultiplier
	}
	c.TransferTerminals = append([]string(nil), c.TransferTerminals...)
	return c
}
