package contracts

import "time"

// Method is the payment method a store asks for.
type Method string

// Payment methods.
const (
	// MethodPayPay is PayPay (Japan) code payment.
	MethodPayPay Method = "paypay"
	// MethodLinePay is LINE Pay (Taiwan, Thailand).
	MethodLinePay Method = "linepay"
	// MethodNanaco is nanaco e-money.
	MethodNanaco Method = "nanaco"
	// MethodCard is a credit card through GMO Payment Gateway, online only
	// (docs/partners/gmopg.md): payhub takes a single-use card token, never card data.
	MethodCard Method = "card"
	// MethodAuto asks payhub to pick the method from the scanned barcode's provider prefix
	// (FlowBarcode only); the payment records the method it was routed to.
	MethodAuto Method = "auto"
)

// CaptureMethod says when an authorized payment's money is taken.
type CaptureMethod string

// Capture methods.
const (
	// CaptureAutomatic takes the money with the payment (the default).
	CaptureAutomatic CaptureMethod = "automatic"
	// CaptureManual only authorizes (holds the funds); the store captures later, in full or
	// in part, or cancels to release the hold.
	CaptureManual CaptureMethod = "manual"
)

// Flow is how the customer takes part in a payment.
type Flow string

// Payment flows.
const (
	// FlowBarcode: the POS scanned the code on the customer's phone (customer-presented).
	FlowBarcode Flow = "barcode"
	// FlowQR: payhub returns a QR code for the customer display; the customer scans and pays.
	FlowQR Flow = "qr"
	// FlowLinked: the customer linked their partner account earlier; payhub charges it
	// directly with the partner's user authorization id (PayPay userAuthorizationId).
	FlowLinked Flow = "linked"
	// FlowRedirect: the customer finishes the payment on the partner's page (LINE Pay's
	// payment page, a card issuer's 3-D Secure challenge) and the partner sends the browser
	// back to payhub's return URL, where payhub completes the payment with the partner.
	FlowRedirect Flow = "redirect"
	// FlowCardPresent: the till's reader read the customer's card or phone (nanaco's FeliCa:
	// its number and, optionally, its IDm) and the partner debits it at once.
	FlowCardPresent Flow = "card_present"
)

// Payment is payhub's authoritative record of one payment.
type Payment struct {
	// ID is the payment's id, "pay_" + ULID.
	ID string
	// StoreID is the store the payment belongs to; it comes only from the caller's token.
	StoreID string
	// ClientID is the store client (POS system) that created the payment.
	ClientID string
	// TerminalID is the till that took the payment (store-supplied data, never a key).
	TerminalID string
	// OrderID is the store's order reference (store-supplied data, never a key).
	OrderID string
	// Method is the partner method.
	Method Method
	// Flow is how the customer takes part.
	Flow Flow
	// Amount is what the customer pays.
	Amount Money
	// AmountCaptured is how much of Amount was taken: all of it for automatic capture once
	// succeeded, the captured part for manual capture, 0 before.
	AmountCaptured int64
	// AmountRefunded is the sum of succeeded refunds, in Amount's currency.
	AmountRefunded int64
	// CaptureMethod says whether the money is taken with the payment or captured later.
	CaptureMethod CaptureMethod
	// Status is where the payment stands.
	Status Status
	// UserAuthorizationID is the partner's linked-user reference for FlowLinked.
	UserAuthorizationID string
	// Metadata is the store's free-form key/value data, echoed back.
	Metadata map[string]string
	// NextAction says what the customer must do while Status is requires_action.
	NextAction *NextAction
	// FailureCode is payhub's stable reason when Status is failed (e.g. insufficient_funds).
	FailureCode string
	// FailureMessage is a human-readable explanation of FailureCode.
	FailureMessage string
	// PartnerCode is the partner's own result code of the last partner call, for support.
	PartnerCode string
	// Attempt is the number of the current partner attempt, starting at 1.
	Attempt int
	// PartnerRef is the id payhub gave the partner for the current attempt (PayPay
	// merchantPaymentId), derived from ID and Attempt so a retry can never charge twice.
	PartnerRef string
	// PartnerPaymentID is the partner's own id for the payment (PayPay paymentId), once known.
	PartnerPaymentID string
	// PartnerActionRef is the partner's id for the pending customer action (PayPay QR codeId).
	PartnerActionRef string
	// ReturnURL is where payhub sends the customer's browser once a FlowRedirect payment
	// came back from the partner's page (the store's page), with payment_id appended.
	ReturnURL string
	// PartnerSecret is the partner credential later calls need (PaymentResult.
	// PartnerSecret), sealed by the engine under the configured key: never in clear here,
	// in the database, an event or a response.
	PartnerSecret string
	// Card is what payhub keeps about the card that paid (MethodCard), when known.
	Card *CardDetails
	// CancelRequested records that the store asked to cancel while the outcome was open (or
	// that payhub decided to reverse an outcome it could not settle). The request is never
	// dropped: it stands until the payment is canceled or failed, or refunded in full; the
	// flag stays as its record.
	CancelRequested bool
	// Provisional marks a succeeded payment the partner has not confirmed yet
	// (PaymentResult.Provisional): the resolver asks until the partner confirms it (the
	// flag clears) or reverses it (the payment fails); until then it takes no refund.
	Provisional bool
	// CancellationReason says why a canceled payment was canceled.
	CancellationReason string
	// EventSequence is the sequence number of the latest event about this payment or its
	// refunds; the next event gets EventSequence+1.
	EventSequence int64
	// IdempotencyKey is the Idempotency-Key of the request that created the payment (scoped
	// by ClientID). After a crash the resolver stores the settled payment as that request's
	// response, so the till's retry gets the answer instead of 409 forever.
	IdempotencyKey string
	// Resolution is the resolver's bookkeeping while the outcome is open.
	Resolution Resolution
	// PaidAt is when the partner accepted the payment, if known.
	PaidAt *time.Time
	// CreatedAt is when payhub created the payment.
	CreatedAt time.Time
	// UpdatedAt is when the payment last changed.
	UpdatedAt time.Time
}

// Resolution is the resolver's bookkeeping for a payment or refund whose outcome is open
// (docs/api.md §4.1): how often it asked, when it asks next, and whether it gave up.
type Resolution struct {
	// Attempts counts the resolver's passes over the object.
	Attempts int
	// NextAt is when the resolver looks again; nil means at once.
	NextAt *time.Time
	// NotFoundSeen counts partner answers of "no such payment"; decisive only when seen
	// twice after the original call's read timeout (docs/partners/paypay.md §8).
	NotFoundSeen int
	// NeedsAttention is set when the resolver's budget ran out: an operator must settle it.
	// The status stays as it is (unknown), so the till still does not charge again.
	NeedsAttention bool
}

// RefundableAmount is the captured amount still open for refunds, given the refunds that
// reserve money (succeeded, pending and unknown).
func (p Payment) RefundableAmount(reserved int64) int64 {
	if p.Status != StatusSucceeded {
		return 0
	}
	return p.AmountCaptured - reserved
}

// NextActionType names what the customer must do.
type NextActionType string

// Next action types.
const (
	// NextActionDisplayQR: show QRCodeURL as a QR code on the customer display (or open
	// Deeplink on the customer's phone).
	NextActionDisplayQR NextActionType = "display_qr"
	// NextActionRedirect: send the customer's browser to RedirectURL (FlowRedirect).
	NextActionRedirect NextActionType = "redirect"
)

// NextAction tells the till what the customer must do to finish a requires_action payment.
type NextAction struct {
	// Type names the action.
	Type NextActionType `json:"type"`
	// QRCodeURL is the URL to render as a QR code.
	QRCodeURL string `json:"qr_code_url,omitempty"`
	// Deeplink opens the partner's app directly.
	Deeplink string `json:"deeplink,omitempty"`
	// RedirectURL is where to send the customer's browser (NextActionRedirect).
	RedirectURL string `json:"redirect_url,omitempty"`
	// ExpiresAt is when the code stops working, if the partner says.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// CardDetails is what payhub may keep about a card (docs/partners/gmopg.md §7): never the
// number, the security code or the token.
type CardDetails struct {
	// Brand is the card brand as the partner names it (e.g. "VISA"), when it says.
	Brand string `json:"brand,omitempty"`
	// Last4 is the last four digits of the card number.
	Last4 string `json:"last4,omitempty"`
	// Expiry is the card's expiry as YYMM.
	Expiry string `json:"expiry,omitempty"`
}

// Refund is one (partial or full) refund of a payment.
type Refund struct {
	// ID is the refund's id, "re_" + ULID.
	ID string
	// PaymentID is the refunded payment.
	PaymentID string
	// StoreID is the payment's store.
	StoreID string
	// Amount is how much is refunded, in the payment's currency.
	Amount Money
	// Status is where the refund stands.
	Status RefundStatus
	// Reason is the store's reason, free text.
	Reason string
	// PartnerRef is the id payhub gave the partner (PayPay merchantRefundId), derived from ID.
	PartnerRef string
	// PartnerRefundID is the partner's own id for the refund, if it has one.
	PartnerRefundID string
	// PartnerCode is the partner's own result code of the refund call.
	PartnerCode string
	// FailureCode is payhub's stable reason when Status is failed.
	FailureCode string
	// FailureMessage explains FailureCode.
	FailureMessage string
	// ClientID and IdempotencyKey name the request that created the refund; after a crash
	// the resolver stores the settled refund as its response.
	ClientID, IdempotencyKey string
	// Resolution is the resolver's bookkeeping while the outcome is open.
	Resolution Resolution
	// CreatedAt is when payhub created the refund.
	CreatedAt time.Time
	// UpdatedAt is when the refund last changed.
	UpdatedAt time.Time
}

// AttemptOperation names the partner call an Attempt records.
type AttemptOperation string

// Attempt operations.
const (
	// OpPay creates a payment at the partner.
	OpPay AttemptOperation = "pay"
	// OpCancel cancels a payment (or reverts an authorization) at the partner.
	OpCancel AttemptOperation = "cancel"
	// OpCapture captures an authorized payment at the partner.
	OpCapture AttemptOperation = "capture"
	// OpRefund refunds a payment at the partner.
	OpRefund AttemptOperation = "refund"
)

// Attempt is payhub's written intent to call a partner, recorded before the call and
// finished with the call's outcome. After a crash the unfinished attempts say what was in
// flight.
type Attempt struct {
	// ID is "att_" + ULID.
	ID string
	// PaymentID is the payment the call is about.
	PaymentID string
	// RefundID is set for refund calls.
	RefundID string
	// Operation is the partner call.
	Operation AttemptOperation
	// PartnerRef is the partner-facing id used in the call.
	PartnerRef string
	// Outcome is empty while in flight, then the call's outcome.
	Outcome Outcome
	// PartnerCode is the partner's result code, if any.
	PartnerCode string
	// StartedAt is when the intent was written.
	StartedAt time.Time
	// FinishedAt is when the outcome was written.
	FinishedAt *time.Time
	// ClientID and IdempotencyKey name the store request that sent the call, if one did
	// (keys are per client): when a crash cuts the call off, the resolver answers that
	// request once it learns the outcome.
	ClientID, IdempotencyKey string
}

// EventType names an event, dot-separated (docs/api.md §8.2).
type EventType string

// Event types.
const (
	// EventPaymentProcessing: a payment was created and its partner call is in flight.
	EventPaymentProcessing EventType = "payment.processing"
	// EventPaymentRequiresAction: a payment waits for the customer.
	EventPaymentRequiresAction EventType = "payment.requires_action"
	// EventPaymentAuthorized: funds are held.
	EventPaymentAuthorized EventType = "payment.authorized"
	// EventPaymentSucceeded: money was taken.
	EventPaymentSucceeded EventType = "payment.succeeded"
	// EventPaymentFailed: the payment definitely failed.
	EventPaymentFailed EventType = "payment.failed"
	// EventPaymentCanceled: the payment was canceled or reversed.
	EventPaymentCanceled EventType = "payment.canceled"
	// EventPaymentUnknown: the outcome is unknown; do not charge again.
	EventPaymentUnknown EventType = "payment.unknown"
	// EventPaymentCancelRequested: the store asked to abandon a payment whose outcome is open.
	EventPaymentCancelRequested EventType = "payment.cancel_requested"
	// EventPaymentNeedsAttention: the resolver could not settle the payment within its
	// budget; an operator must. The status is unchanged.
	EventPaymentNeedsAttention EventType = "payment.needs_attention"
	// EventPaymentCancelRefused is no longer sent: a requested cancel the partner refuses is
	// carried out as a refund in full. The type stays so that receivers keep parsing it.
	EventPaymentCancelRefused EventType = "payment.cancel_refused"
	// EventRefundPending: a refund was created and its partner call is in flight.
	EventRefundPending EventType = "refund.pending"
	// EventRefundSucceeded: the partner accepted a refund.
	EventRefundSucceeded EventType = "refund.succeeded"
	// EventRefundFailed: the partner refused a refund.
	EventRefundFailed EventType = "refund.failed"
	// EventRefundUnknown: a refund's outcome is unknown.
	EventRefundUnknown EventType = "refund.unknown"
	// EventLimitExceeded: a velocity or amount limit refused one of the store's requests
	// (docs/security.md §5); the object is a limit_breach.
	EventLimitExceeded EventType = "limit.exceeded"
)

// PaymentEventType is the event that announces a payment entering status s.
func PaymentEventType(s Status) EventType { return EventType("payment." + string(s)) }

// RefundEventType is the event that announces a refund entering status s.
func RefundEventType(s RefundStatus) EventType { return EventType("refund." + string(s)) }

// Event is an outbox entry: a fact about a payment or refund, written in the same
// transaction as the state change it describes, and delivered to stores later.
type Event struct {
	// ID is "evt_" + ULID; it is the webhook-id of every delivery of the event.
	ID string
	// Type names the fact.
	Type EventType
	// StoreID is the store the event belongs to.
	StoreID string
	// PaymentID is the payment the event is about (also for refund events); empty for an
	// event about an endpoint.
	PaymentID string
	// RefundID is set for refund events.
	RefundID string
	// Sequence orders the payment's events: 1, 2, 3, … per payment, refunds included (0
	// for an event about no payment).
	Sequence int64
	// Payload is the event's JSON body as delivered (docs/api.md §8.2).
	Payload []byte
	// CreatedAt is when the fact happened.
	CreatedAt time.Time
}
