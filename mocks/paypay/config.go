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
// expiry. PayPay does not publish its default (docs/partners/paypay.md §4.1, unconfirmed).
const DefaultQRLifetime = 5 * time.Minute

// DefaultAuthorizationLifetime is how long a pre-authorization stays capturable when the
// request names no expiry (authorizationExpiry on a QR, expiresAt on preauthorize). PayPay
// does not publish its default or maximum (docs/partners/paypay.md §14); 7 days is payhub's choice.
const DefaultAuthorizationLifetime = 7 * 24 * time.Hour

// Webhook delivery defaults (docs/partners/paypay.md §10: PayPay waits 1.5–2.0 s and retries
// 3–10 times by type; the simulator tries 3 times, 100 ms apart).
const (
	// DefaultWebhookAttempts is how many times one notification is tried.
	DefaultWebhookAttempts = 3
	// DefaultWebhookRetryDelay is the wait between two attempts.
	DefaultWebhookRetryDelay = 100 * time.Millisecond
	// DefaultWebhookTimeout bounds one attempt, response included.
	DefaultWebhookTimeout = 2 * time.Second
)

// Config configures a Simulator. Empty credentials fall back to the demo constants.
type Config struct {
	// APIKey, APISecret and MerchantID are the credentials requests must be signed with
	// (docs/partners/paypay.md §2). A request naming a different merchant is refused.
	APIKey, APISecret, MerchantID string
	// Clock drives epochs, expiries and cutoffs; nil means the system clock.
	Clock sim.Clock
	// LenientContentType also accepts signatures computed over the content-type strings
	// other official SDKs sign ("application/json", "application/json;charset=UTF-8",
	// "application/json;charset=UTF-8;") instead of only the Content-Type header sent
	// (docs/partners/paypay.md §2.3).
	LenientContentType bool
	// QRLifetime is the lifetime of a dynamic QR code; 0 means DefaultQRLifetime.
	QRLifetime time.Duration
	// ExpiredQRNotFound makes an unpaid QR past its expiry (or deleted) answer 400
	// DYNAMIC_QR_PAYMENT_NOT_FOUND (newer spec) instead of status CREATED, acceptedAt 0
	// (FAQ); docs/partners/paypay.md §4.3.
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

	// LinkSessionLifetime is how long an account-link QR session can be approved; 0 means
	// DefaultLinkSessionLifetime (docs/partners/paypay.md §4.9).
	LinkSessionLifetime time.Duration
	// LinkTokenLifetime is the validity of a response token (its exp claim) from the
	// customer's decision; 0 means DefaultLinkTokenLifetime.
	LinkTokenLifetime time.Duration
	// UserAuthorizationLifetime is how long a user authorization created by an approved link
	// lasts; 0 means DefaultUserAuthorizationLifetime.
	UserAuthorizationLifetime time.Duration
	// CashbackSettleDelay is how long (simulator clock) a cashback or a reversal stays
	// ACCEPTED before it settles (docs/partners/paypay.md §4.8); 0 settles it at once, so the
	// first GET already says SUCCESS.
	CashbackSettleDelay time.Duration
	// CashbackBudget is the merchant's campaign wallet in yen: a cashback that would take
	// the total paid out (less reversals) beyond it is accepted but ends FAILURE. 0 means
	// unlimited.
	CashbackBudget int64

	// WebhookURL receives PayPay's Transaction notifications (docs/partners/paypay.md §10): an
	// unsigned JSON POST when a payment becomes COMPLETED, AUTHORIZED, EXPIRED or (revert)
	// CANCELED. Empty sends none.
	WebhookURL string
	// WebhookDrop is the probability (0 to 1) that a notification is dropped, never sent,
	// as PayPay may do; decided per notification by a fixed-seed random source, so the same
	// sequence of notifications drops the same ones.
	WebhookDrop float64
	// WebhookDuplicate delivers every notification twice, one delivery after the other.
	WebhookDuplicate bool
	// WebhookAttempts is how many times a delivery is tried before it is given up (non-2xx
	// answers and transport errors are retried); 0 means DefaultWebhookAttempts.
	WebhookAttempts int
	// WebhookRetryDelay is the wall-clock wait between attempts; 0 means
	// DefaultWebhookRetryDelay.
	WebhookRetryDelay time.Duration
	// WebhookTimeout bounds one attempt; 0 means DefaultWebhookTimeout.
	WebhookTimeout time.Duration
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
	if c.LinkSessionLifetime <= 0 {
		c.LinkSessionLifetime = DefaultLinkSessionLifetime
	}
	if c.LinkTokenLifetime <= 0 {
		c.LinkTokenLifetime = DefaultLinkTokenLifetime
	}
	if c.UserAuthorizationLifetime <= 0 {
		c.UserAuthorizationLifetime = DefaultUserAuthorizationLifetime
	}
	if c.WebhookAttempts <= 0 {
		c.WebhookAttempts = DefaultWebhookAttempts
	}
	if c.WebhookRetryDelay <= 0 {
		c.WebhookRetryDelay = DefaultWebhookRetryDelay
	}
	if c.WebhookTimeout <= 0 {
		c.WebhookTimeout = DefaultWebhookTimeout
	}
	return c
}
