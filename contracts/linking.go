package contracts

import (
	"context"
	"errors"
	"time"
)

// AccountLinking is implemented by partners whose customers link their partner account to
// the merchant (PayPay account link, docs/partners/paypay.md §4.9 and §4.10): payhub asks
// for a link session, the customer approves it in the partner's app, the partner sends the
// browser back to payhub with a signed response token, and from then on payhub charges or
// credits the account by its user authorization id (FlowLinked, Cashbacks).
type AccountLinking interface {
	// CreateLinkSession asks the partner for a link session (PayPay's account-link QR
	// code). Nothing moves; an error is a *PartnerError saying whether the partner refused
	// (OutcomeFailed) or may not have answered (OutcomeUnknown: ask again).
	CreateLinkSession(ctx context.Context, req LinkSessionRequest) (LinkSession, error)
	// VerifyLinkResponse checks the response token the customer's browser brought back
	// to LinkSessionRequest.RedirectURL: its signature (HS256 keyed with the partner's
	// secret as the partner documents; no other algorithm, never "none"), issuer, audience
	// (the merchant), expiry at now, and the fields it must carry. It calls nobody. An
	// error wraps ErrLinkTokenInvalid; a valid token whose Result is not LinkResultSucceeded is
	// no error: the customer declined. The caller compares Nonce and ReferenceID with the
	// session it created.
	VerifyLinkResponse(token string, now time.Time) (LinkResponse, error)
	// UserAuthorization asks the partner where a user authorization stands. An error is a
	// *PartnerError (OutcomeFailed: the partner does not know the id; OutcomeUnknown).
	UserAuthorization(ctx context.Context, userAuthorizationID string) (UserAuthorizationStatus, error)
	// Unlink revokes a user authorization at the partner; later payments and cashbacks
	// with it are refused. Repeating it is harmless. An error is a *PartnerError.
	Unlink(ctx context.Context, userAuthorizationID string) error
}

// LinkSessionRequest asks a partner for an account-link session.
type LinkSessionRequest struct {
	// Scopes are the partner's permissions the customer is asked to grant (PayPay:
	// "direct_debit", "cashback", …). At least one.
	Scopes []string
	// Nonce is a fresh random value the partner echoes in the response token; the caller
	// checks it against the one it sent.
	Nonce string
	// ReferenceID is payhub's id for this link attempt, echoed in the response token.
	ReferenceID string
	// RedirectURL is payhub's return endpoint: where the partner sends the customer's
	// browser (or app) with the response token once the customer decided.
	RedirectURL string
	// DeepLink asks for an app deep link return (PayPay redirectType APP_DEEP_LINK)
	// instead of a web link (WEB_LINK).
	DeepLink bool
	// PhoneNumber pre-fills the customer's phone number, when the partner allows it
	// (optional).
	PhoneNumber string
	// DeviceID identifies the customer's device, when the partner allows it (optional).
	DeviceID string
	// UserAgent is the customer's browser user agent, when known (optional).
	UserAgent string
}

// LinkSession is an account-link session the customer is to approve.
type LinkSession struct {
	// URL is the link to show as a QR code (or to open on the customer's phone).
	URL string
	// ExpiresAt is when payhub stops waiting for the customer (the partner does not say
	// how long its sessions live; the adapter's configured lifetime).
	ExpiresAt time.Time
}

// LinkResult is the customer's decision as a response token reports it.
type LinkResult string

// Link results (PayPay's responseToken "result").
const (
	// LinkResultSucceeded: the customer approved; LinkResponse.UserAuthorizationID is set.
	LinkResultSucceeded LinkResult = "succeeded"
	// LinkResultDeclined: the customer declined; nothing was linked.
	LinkResultDeclined LinkResult = "declined"
)

// LinkResponse is a verified response token.
type LinkResponse struct {
	// Result is the customer's decision (LinkResultSucceeded, LinkResultDeclined, or another value
	// the partner sent, which the caller treats as not linked).
	Result LinkResult
	// UserAuthorizationID is the new user authorization (set when Result is
	// LinkResultSucceeded): PaymentRequest.UserAuthorizationID and CashbackRequest's.
	UserAuthorizationID string
	// ReferenceID echoes LinkSessionRequest.ReferenceID.
	ReferenceID string
	// Nonce echoes LinkSessionRequest.Nonce.
	Nonce string
	// ProfileIdentifier is the partner's masked identifier of the customer (a masked
	// phone number), for display; may be empty.
	ProfileIdentifier string
	// ExpiresAt is the token's expiry.
	ExpiresAt time.Time
}

// ErrLinkTokenInvalid is wrapped by VerifyLinkResponse's error for a token that must not
// be trusted: malformed, another algorithm, a bad signature, wrong issuer or audience,
// expired, or missing a required claim.
var ErrLinkTokenInvalid = errors.New("invalid link response token")

// UserAuthorizationStatus is a partner's view of one user authorization.
type UserAuthorizationStatus struct {
	// UserAuthorizationID is the authorization asked about.
	UserAuthorizationID string
	// Status is the partner's status in its own spelling (PayPay: ACTIVE, …).
	Status string
	// Active reports whether the authorization can be used now.
	Active bool
	// Scopes are the permissions granted.
	Scopes []string
	// IssuedAt and ExpiresAt bound the authorization, when the partner says (zero if not).
	IssuedAt, ExpiresAt time.Time
}

// PartnerError is the error of a partner call that moves no money (link session, user
// authorization, unlink): whether the partner refused or may not have answered.
type PartnerError struct {
	// Outcome is OutcomeFailed (refused: do not repeat as is) or OutcomeUnknown (timeout,
	// 5xx, unreadable answer: repeat later).
	Outcome Outcome
	// PartnerCode is the partner's result code, if any.
	PartnerCode string
	// Message explains the error; never contains secrets or tokens.
	Message string
}

// Error implements error.
func (e *PartnerError) Error() string {
	if e.PartnerCode != "" {
		return string(e.Outcome) + ": " + e.PartnerCode + ": " + e.Message
	}
	return string(e.Outcome) + ": " + e.Message
}

// Cashbacks is implemented by partners that can credit a linked customer's wallet
// (PayPay cashback, docs/partners/paypay.md §4.8). Like Partner, its methods never return a
// Go error for a partner-side problem: they classify it as an Outcome. Giving and reversing
// are asynchronous at PayPay: accepted is OutcomePending until a Get says otherwise.
type Cashbacks interface {
	// GiveCashback credits req.Amount to the user. It is idempotent on
	// req.MerchantCashbackID: after an unknown outcome, send the same request again (the
	// partner answers the original) or ask GetCashback.
	GiveCashback(ctx context.Context, req CashbackRequest) CashbackResult
	// GetCashback asks where a cashback stands: OutcomeSucceeded, OutcomePending,
	// OutcomeFailed, OutcomeNotFound (not found, which right after a give is not yet
	// decisive) or OutcomeUnknown (the query failed).
	GetCashback(ctx context.Context, merchantCashbackID string) CashbackResult
	// ReverseCashback takes back (part of) a cashback. Idempotent on
	// req.MerchantCashbackReversalID.
	ReverseCashback(ctx context.Context, req CashbackReversalRequest) CashbackResult
	// GetCashbackReversal asks where a reversal stands, like GetCashback.
	GetCashbackReversal(ctx context.Context, reversalID, cashbackID string) CashbackResult
}

// CashbackRequest asks a partner to credit a linked user.
type CashbackRequest struct {
	// MerchantCashbackID is payhub's id for the cashback, at most 64 characters of
	// [A-Za-z0-9_-]; the partner's idempotency key.
	MerchantCashbackID string
	// UserAuthorizationID is the linked user credited.
	UserAuthorizationID string
	// Amount is what to credit, in minor units (JPY only at PayPay).
	Amount Money
	// Description is shown to the customer (at most 255 characters).
	Description string
	// WalletType picks the partner's wallet ("" = the partner's default; PayPay: PREPAID
	// or CASHBACK).
	WalletType string
	// ExpiryDate is the last day the credit may be used (only its date counts, in the
	// partner's time zone); zero = the partner's default.
	ExpiryDate time.Time
	// RequestedAt is when payhub asked; zero = now.
	RequestedAt time.Time
}

// CashbackReversalRequest asks a partner to take back (part of) a cashback.
type CashbackReversalRequest struct {
	// MerchantCashbackReversalID is payhub's id for the reversal (same rules as
	// MerchantCashbackID); the partner's idempotency key.
	MerchantCashbackReversalID string
	// MerchantCashbackID is the cashback reversed.
	MerchantCashbackID string
	// Amount is what to take back, at most what is left of the cashback.
	Amount Money
	// Reason is passed to the partner (at most 255 characters).
	Reason string
	// RequestedAt is when payhub asked; zero = now.
	RequestedAt time.Time
}

// CashbackResult is a partner's answer about a cashback or a cashback reversal.
type CashbackResult struct {
	// Outcome is OutcomeSucceeded (credited, or reversed), OutcomePending (accepted, being
	// processed), OutcomeFailed (refused or failed: nothing moved), OutcomeNotFound (Get
	// only) or OutcomeUnknown (timeout, 5xx, unreadable: never guessed).
	Outcome Outcome
	// MerchantCashbackID is the cashback's id.
	MerchantCashbackID string
	// MerchantCashbackReversalID is the reversal's id (reversals only).
	MerchantCashbackReversalID string
	// PartnerID is the partner's own id of the cashback or reversal, when it says.
	PartnerID string
	// Status is the partner's status in its own spelling (PayPay: ACCEPTED, SUCCESS,
	// FAILURE), when it says.
	Status string
	// Amount is the amount the partner reports (zero when it does not say).
	Amount Money
	// AcceptedAt is when the partner accepted or completed it, when it says.
	AcceptedAt *time.Time
	// PartnerCode is the partner's result code.
	PartnerCode string
	// FailureCode is payhub's failure code when Outcome is OutcomeFailed.
	FailureCode string
	// FailureMessage explains a failure or an unknown outcome; never contains secrets.
	FailureMessage string
}
