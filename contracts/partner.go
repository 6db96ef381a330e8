package contracts

import (
	"context"
	"errors"
	"net/url"
	"time"
)

// Outcome classifies a partner call's result the way the engine acts on it. Adapters map
// every partner result code to one of these; a code they do not recognise on a call that
// moves money is OutcomeUnknown, never a success.
type Outcome string

// Partner call outcomes.
const (
	// OutcomeSucceeded: money was taken (or, for cancel/refund, the partner accepted).
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeAuthorized: funds are held, awaiting capture.
	OutcomeAuthorized Outcome = "authorized"
	// OutcomePending: the partner is waiting for the customer (QR shown, not yet paid).
	OutcomePending Outcome = "pending"
	// OutcomeFailed: definitely nothing moved (a decline or a refused request).
	OutcomeFailed Outcome = "failed"
	// OutcomeCanceled: the payment was canceled or reversed at the partner.
	OutcomeCanceled Outcome = "canceled"
	// OutcomeNotFound: the partner has no such payment (decisive only under the partner's
	// unknown-outcome rule, e.g. seen twice after the read timeout).
	OutcomeNotFound Outcome = "not_found"
	// OutcomeWindowPassed: a cancel refused because the partner's cancel window is over.
	OutcomeWindowPassed Outcome = "window_passed"
	// OutcomeUnknown: the partner may or may not have acted (timeout, 5xx, lost response).
	OutcomeUnknown Outcome = "unknown"
)

// PaymentRequest asks a partner to take a payment.
type PaymentRequest struct {
	// PartnerRef is the partner-facing payment id (PayPay merchantPaymentId), derived from
	// the payment id and attempt number.
	PartnerRef string
	// Amount is what to charge.
	Amount Money
	// Flow selects the partner call (barcode, QR, linked account).
	Flow Flow
	// CaptureMethod CaptureManual asks for an authorization only (PayPay pre-authorization).
	CaptureMethod CaptureMethod
	// Barcode is the scanned customer code for FlowBarcode. Never logged or stored.
	Barcode string
	// UserAuthorizationID is the linked account for FlowLinked.
	UserAuthorizationID string
	// CardToken is the single-use card token the customer's browser got from the partner's
	// token script (GMO MP token) for MethodCard. Never logged or stored.
	CardToken string
	// Card is what the till's reader read for FlowCardPresent. Never logged or stored.
	Card *PresentedCard
	// AllowPartial lets a stored-value partner debit less than Amount when the balance is
	// short (split tender): the result's AmountReceived says how much, and the till
	// collects the rest another way.
	AllowPartial bool
	// ReturnURL is payhub's return endpoint for this payment (FlowRedirect): where the
	// partner sends the customer's browser back when the customer is done on its page.
	ReturnURL string
	// CancelURL is where the partner sends the browser when the customer gives up, if
	// the partner has such a link (LINE Pay cancelUrl); empty: ReturnURL.
	CancelURL string
	// StoreID and TerminalID identify where the payment happens.
	StoreID, TerminalID string
	// Description is shown to the customer (e.g. the order id).
	Description string
	// RequestedAt is when payhub asked.
	RequestedAt time.Time
}

// PaymentResult is what a partner said about a payment.
type PaymentResult struct {
	// Outcome classifies the result.
	Outcome Outcome
	// PartnerPaymentID is the partner's id for the payment (PayPay paymentId), when known.
	PartnerPaymentID string
	// PartnerActionRef is the partner's id for the customer action (PayPay QR codeId).
	PartnerActionRef string
	// NextAction tells the customer what to do when Outcome is OutcomePending.
	NextAction *NextAction
	// PaidAt is when the partner accepted the payment, if it says.
	PaidAt *time.Time
	// PartnerSecret is a credential the partner issued for this payment that later calls
	// need (GMO AccessID and AccessPass, opaque to the engine). payhub stores it encrypted
	// and hands it back in PaymentRef.PartnerSecret; it is never shown, logged or evented.
	PartnerSecret string
	// Card is what the partner reports about the card that paid (MethodCard), if anything.
	Card *CardDetails
	// AmountCaptured is what the partner took for a succeeded payment, in the payment's
	// currency: the whole amount, or for a captured authorization the sum of its captures.
	// Zero when the partner does not say.
	AmountCaptured int64
	// Provisional marks an OutcomeSucceeded the partner counts as a sale but may still
	// reverse (nanaco's 処理未了, PENDING_CONFIRMATION: the chip write is not confirmed,
	// docs/partners/nanaco.md §B6). The engine records the payment succeeded and keeps
	// asking until the partner confirms it or reverses it (the payment then fails).
	Provisional bool
	// AmountReceived is, for a payment made with PaymentRequest.AllowPartial, what the
	// partner debited when it is less than the amount asked (split tender); zero when it
	// took the whole amount or does not say.
	AmountReceived int64
	// PartnerCode is the partner's result code (e.g. "NO_SUFFICIENT_FUND"), for support.
	PartnerCode string
	// FailureCode is payhub's failure code when Outcome is OutcomeFailed.
	FailureCode string
	// FailureMessage explains the failure or the unknown outcome. Never contains secrets.
	FailureMessage string
}

// PresentedCard is a card or phone the till's reader read (FlowCardPresent).
type PresentedCard struct {
	// Number is the card's number as the reader gives it (nanaco: 16 digits).
	Number string
	// IDm is the FeliCa chip's id, 16 hex characters, when the reader gives it.
	IDm string
}

// PaymentRef names an existing payment at the partner.
type PaymentRef struct {
	// PartnerRef is the partner-facing payment id of the attempt.
	PartnerRef string
	// PartnerPaymentID is the partner's own id, when known.
	PartnerPaymentID string
	// PartnerActionRef is the pending customer action's id (PayPay QR codeId), if any.
	PartnerActionRef string
	// PartnerSecret is the PaymentResult.PartnerSecret payhub stored (decrypted), if any.
	PartnerSecret string
	// Flow is the payment's flow (partners query some flows differently).
	Flow Flow
	// Amount is the payment's amount.
	Amount Money
	// Status is payhub's current status of the payment.
	Status Status
	// CreatedAt is when payhub created the payment, just before its first partner call.
	// A partner whose late landings have a horizon (LINE Pay: the customer's code lives 5
	// minutes) knows from it when "no such payment" has become final.
	CreatedAt time.Time
}

// CancelResult is a partner's answer to a cancel.
type CancelResult struct {
	// Outcome is OutcomeSucceeded (accepted; the money returns), OutcomeWindowPassed,
	// OutcomeFailed (refused for another reason) or OutcomeUnknown.
	Outcome Outcome
	// PartnerCode is the partner's result code.
	PartnerCode string
	// Message explains a refusal or an unknown outcome.
	Message string
}

// CaptureRequest asks a partner to take (part of) an authorized payment.
type CaptureRequest struct {
	// PartnerRef is the partner-facing capture id (PayPay merchantCaptureId), derived from
	// the payment's id.
	PartnerRef string
	// Payment names the authorized payment.
	Payment PaymentRef
	// Amount is how much to capture, at most the authorized amount.
	Amount Money
	// Description is shown to the customer.
	Description string
	// RequestedAt is when payhub asked.
	RequestedAt time.Time
}

// RefundRequest asks a partner to refund (part of) a payment.
type RefundRequest struct {
	// PartnerRef is the partner-facing refund id (PayPay merchantRefundId), derived from the
	// refund id.
	PartnerRef string
	// Payment names the refunded payment.
	Payment PaymentRef
	// Amount is how much to refund.
	Amount Money
	// PriorRefunded is what payhub knows the partner refunded of this payment before this
	// refund (its other succeeded refunds). Partners without a refund id (LINE Pay) tell a
	// resent refund that already landed by it: the partner's total beyond PriorRefunded.
	PriorRefunded int64
	// Reason is passed to the partner.
	Reason string
	// RequestedAt is when payhub asked.
	RequestedAt time.Time
}

// RefundResult is a partner's answer to a refund.
type RefundResult struct {
	// Outcome is OutcomeSucceeded, OutcomeFailed or OutcomeUnknown.
	Outcome Outcome
	// PartnerRefundID is the partner's id for the refund, if any.
	PartnerRefundID string
	// PartnerCode is the partner's result code.
	PartnerCode string
	// FailureCode is payhub's failure code when Outcome is OutcomeFailed.
	FailureCode string
	// FailureMessage explains a failure or an unknown outcome.
	FailureMessage string
}

// Partner is one payment partner's API as payhub uses it. Adapters in adapters/<partner>
// implement it over the partner's wire protocol. Methods never return a Go error for a
// partner-side problem: they classify it as an Outcome (OutcomeUnknown when in doubt).
type Partner interface {
	// Method is the payment method the partner serves.
	Method() Method
	// Capabilities declares what the partner takes (currencies, flows, cap, minor-unit
	// step, serial refunds, manual capture): the engine enforces it, once, before it calls
	// any other method, so the adapter need not check those rules again.
	Capabilities() Capabilities
	// CreatePayment starts a payment: charges a scanned barcode or a linked account, or
	// creates a QR code for the customer (OutcomePending with NextAction).
	CreatePayment(ctx context.Context, req PaymentRequest) PaymentResult
	// GetPayment asks the partner where a payment stands. OutcomeUnknown means the query
	// itself failed.
	GetPayment(ctx context.Context, ref PaymentRef) PaymentResult
	// CapturePayment takes (part of) an authorized payment: OutcomeSucceeded once captured,
	// OutcomeFailed when refused (nothing taken), OutcomeUnknown when in doubt.
	CapturePayment(ctx context.Context, req CaptureRequest) PaymentResult
	// CancelPayment reverses a payment within the partner's cancel window, reverts an
	// authorization (ref.Status authorized), or withdraws a pending customer action (and
	// fences a late payment).
	CancelPayment(ctx context.Context, ref PaymentRef) CancelResult
	// Refund refunds part or all of a succeeded payment. It must be idempotent on
	// req.PartnerRef: the resolver settles a refund whose outcome was lost by sending the
	// same request again (PayPay replays the first result for a repeated merchantRefundId).
	Refund(ctx context.Context, req RefundRequest) RefundResult
}

// ReturnHandler is implemented by partners whose FlowRedirect payments are completed when
// the customer's browser comes back to PaymentRequest.ReturnURL (LINE Pay confirm, GMO
// SecureTran2). The return itself proves nothing: query is whatever the browser brought,
// and the adapter checks it against ref before it completes anything, and completes
// nothing the partner does not confirm. Calling it again for a completed payment answers
// the payment's state without moving money twice.
type ReturnHandler interface {
	// CompleteReturn completes the redirect payment ref after the customer came back.
	CompleteReturn(ctx context.Context, ref PaymentRef, query url.Values) PaymentResult
}

// PartnerNotification is a partner's callback as payhub reads it: a hint that a payment
// may have moved. payhub never changes state on a callback's say-so; it confirms with
// GetPayment first (docs/partners/paypay.md §10).
type PartnerNotification struct {
	// EventID identifies the callback for dedupe; a partner's retry carries the same one
	// (PayPay: order_id + ":" + state).
	EventID string
	// PartnerRef is the partner-facing payment id the callback names (PayPay
	// merchant_order_id); it may be empty, and then PartnerPaymentID identifies it.
	PartnerRef string
	// PartnerPaymentID is the partner's own payment id (PayPay order_id).
	PartnerPaymentID string
	// State is the partner's state as the callback claims it; kept for audit, never trusted.
	State string
	// OccurredAt is when the partner says the change happened, when it says.
	OccurredAt *time.Time
}

// ErrNotAPaymentNotification is wrapped by a NotificationParser's error for a well-formed
// callback that is about no payment (a reconciliation file, say): acknowledged, kept for
// audit, moving nothing.
var ErrNotAPaymentNotification = errors.New("callback about no payment")

// NotificationParser is implemented by adapters whose partner sends callbacks: it reads
// one callback body. Bodies come from outside and may be anything: an unreadable one is an
// error, never a panic.
type NotificationParser interface {
	// ParseNotification reads one callback body.
	ParseNotification(body []byte) (PartnerNotification, error)
}

// StoredValue is implemented by partners whose customers keep a balance with them (nanaco
// e-money): the till may ask what a presented card holds before it takes a payment.
type StoredValue interface {
	// InquireBalance asks what card holds, from the partner's terminal terminal (the
	// SequenceRef terminal of the till). It moves no money.
	InquireBalance(ctx context.Context, terminal string, card PresentedCard) BalanceInquiry
}

// BalanceInquiry is a stored-value partner's answer about a card.
type BalanceInquiry struct {
	// Outcome is OutcomeSucceeded (the fields below are the partner's), OutcomeFailed (no
	// such card, or refused: FailureCode) or OutcomeUnknown (the query failed).
	Outcome Outcome
	// CardStatus is the card's state in lower case: active, suspended, lost, migrating,
	// migrated, closed.
	CardStatus string
	// Balance is what the card holds and may spend; CenterHeld what the partner holds for
	// it and moves onto the card at its next balance-check tap, in minor units.
	Balance, CenterHeld int64
	// MaxChargeable is how much more the card may take before its cap.
	MaxChargeable int64
	// Points are the card's loyalty points.
	Points int64
	// FailureCode is payhub's code of a refusal; FailureMessage explains a refusal or an
	// unknown outcome. Neither holds the card's number.
	FailureCode, FailureMessage string
}
