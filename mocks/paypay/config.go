package paypay

import (
	"time"

	"payhub/mocks/sim"
)

// Demo credentials: documented defaults shared with the PayPay adapter so that `payhub demo`
// and `payhub sim` work out of the box. cmd/payhub uses PAYHUB_PAYPAY_API_KEY,
// PAYHUB_PAYPAY_API_SECRET and PAYHUB_PAYPAY_MERCHANT_ID instead when they are set. They
// guard nothing: never use them against a real PayPay host.
const (
	// DemoAPIKey is the demo OPA API key.
	DemoAPIKey = "payhub-demo-paypay-api-key"
	// DemoAPISecret is the demo OPA API secret.
	DemoAPISecret = "payhub-demo-paypay-api-secret"
	// DemoMerchantID is the demo merchant (X-ASSUME-MERCHANT).
	DemoMerchantID = "payhub-demo-merchant"
)

// DefaultQRLifetime is how long a dynamic QR code stays payable when the request names no
// expiry. PayPay does not publish its default (paypay.md §4.1, unconfirmed).
const DefaultQRLifetime = 5 * time.Minute

// DefaultAuthorizationLifetime is how long a pre-authorization stays capturable when the
// request names no expiry (authorizationExpiry on a QR, expiresAt on preauthorize). PayPay
// does not publish its default or maximum (paypay.md §14); 7 days is payhub's choice.
const DefaultAuthorizationLifetime = 7 * 24 * time.Hour

// Config configures a Simulator. Empty credentials fall back to the demo constants.
type Config struct {
	// APIKey, APISecret and MerchantID are the credentials requests must be signed with
	// (paypay.md §2). A request naming a different merchant is refused.
	APIKey, APISecret, MerchantID string
	// Clock drives epochs, expiries and cutoffs; nil means the system clock.
	Clock sim.Clock
	// LenientContentType also accepts signatures computed over the content-type strings
	// other official SDKs sign ("application/json", "application/json;charset=UTF-8",
	// "application/json;charset=UTF-8;") instead of only the Content-Type header sent
	// (paypay.md §2.3).
	LenientContentType bool
	// QRLifetime is the lifetime of a dynamic QR code; 0 means DefaultQRLifetime.
	QRLifetime time.Duration
	// ExpiredQRNotFound makes an unpaid QR past its expiry (or deleted) answer 400
	// DYNAMIC_QR_PAYMENT_NOT_FOUND (newer spec) instead of status CREATED, acceptedAt 0
	// (FAQ); paypay.md §4.3.
	ExpiredQRNotFound bool
	// AuthorizationLifetime is how long a pre-authorization lasts from the moment it is
	// authorized when the request names no expiry; 0 means DefaultAuthorizationLifetime.
	AuthorizationLifetime time.Duration
	// ReplayDuplicateQR answers a repeated POST /v2/codes whose body matches the first one
	// (requestedAt aside) with the first result, instead of 400 DUPLICATE_DYNAMIC_QR_REQUEST.
	ReplayDuplicateQR bool
	// Faults injects faults (latency, 5xx, hangs, resets, commit then drop) into /v2/
	// requests, with PayPay's error bodies (FaultErrorBody), and is controlled through
	// /_sim/faults; nil means no faults and no /_sim/faults.
	Faults *sim.Faults
}

func (c Config) withDefaults() Config {
	if c.APIKey == "" {
		c.APIKey = DemoAPIKey
	}
	if c.APISecret == "" {
		c.APISecret = DemoAPISecret
	}
	if c.MerchantID == "" {
		c.MerchantID = DemoMerchantID
	}
	if c.Clock == nil {
		c.Clock = sim.SystemClock{}
	}
	if c.QRLifetime <= 0 {
		c.QRLifetime = DefaultQRLifetime
	}
	if c.AuthorizationLifetime <= 0 {
		c.AuthorizationLifetime = DefaultAuthorizationLifetime
	}
	return c
}
