package paypay

import (
	"encoding/json"
	"time"
)

// Payment statuses the simulator produces (docs/partners/paypay.md §5).
const (
	StatusCreated    = "CREATED"
	StatusAuthorized = "AUTHORIZED"
	StatusCompleted  = "COMPLETED"
	StatusRefunded   = "REFUNDED"
	StatusFailed     = "FAILED"
	StatusCanceled   = "CANCELED"
	StatusExpired    = "EXPIRED"
)

// CaptureCompleted is the status of a capture the simulator made (docs/partners/paypay.md §5);
// captures needing the user's approval (USER_REQUESTED) are not simulated.
const CaptureCompleted = "COMPLETED"

// Refund statuses (docs/partners/paypay.md §4.7).
const (
	RefundCreated  = "CREATED"
	RefundRefunded = "REFUNDED"
)

// Payment kinds as the ledger reports them.
const (
	// KindQR is a dynamic QR code the customer pays in the PayPay app.
	KindQR = "QR"
	// KindLinkedUser is a direct debit of an account-linked user (userAuthorizationId).
	KindLinkedUser = "LINKED_USER"
	// KindBarcode is payhub's in-store barcode stand-in (authorizationCode,
	// docs/partners/paypay.md §11).
	KindBarcode = "BARCODE"
)

// currencyJPY is the only currency PayPay takes.
const currencyJPY = "JPY"

// payment is the simulator's record of one merchantPaymentId.
type payment struct {
	merchantPaymentID string
	paymentID         string // PayPay's id, assigned when the customer pays
	kind              string
	status            string
	amount            int64
	payer             string // the user who paid or tried to (barcodes: the user behind the code)
	codeID            string
	storeID           string
	terminalID        string
	orderDescription  string
	orderReceipt      string
	requestedAt       time.Time // as sent by the merchant
	createdAt         time.Time // simulator clock at creation
	acceptedAt        time.Time // zero while unpaid
	expiresAt         time.Time // QR expiry; zero for direct payments
	canceledAt        time.Time // time the payment became FAILED
	cancelRequested   bool      // a merchant cancel was accepted (maybe before payment)
	refunds           []*refund

	preAuth       bool      // a pre-authorization: paying authorizes, capture completes
	authExpiresAt time.Time // when the authorization lapses; zero until known
	captures      []*capture
	revert        *revert
}

// paid is what the payment took from the customer: the amount, or for a pre-authorization
// what was captured (nothing before capture).
func (p *payment) paid() int64 {
	if !p.preAuth {
		return p.amount
	}
	var n int64
	for _, c := range p.captures {
		n += c.amount
	}
	return n
}

// paidAt is when the money moved, which starts the refund window: acceptance, or for a
// pre-authorization the capture (docs/partners/paypay.md §4.7).
func (p *payment) paidAt() time.Time {
	if p.preAuth && len(p.captures) > 0 {
		return p.captures[len(p.captures)-1].acceptedAt
	}
	return p.acceptedAt
}

// refunded is the sum of all refunds of p.
func (p *payment) refunded() int64 {
	var n int64
	for _, r := range p.refunds {
		n += r.amount
	}
	return n
}

// refund is one accepted refund.
type refund struct {
	merchantRefundID string
	paymentID        string
	status           string
	amount           int64
	reason           string
	requestedAt      time.Time
	acceptedAt       time.Time
}

// capture is one accepted capture of a pre-authorization.
type capture struct {
	merchantCaptureID string
	merchantPaymentID string
	amount            int64
	orderDescription  string
	requestedAt       time.Time
	acceptedAt        time.Time
	response          json.RawMessage // the payment object answered, replayed on a repeat
}

// revert is one accepted revert of a pre-authorization.
type revert struct {
	merchantRevertID string
	paymentID        string
	reason           string
	requestedAt      time.Time
	acceptedAt       time.Time
}

// qrCode is one dynamic QR code.
type qrCode struct {
	codeID            string
	merchantPaymentID string
	deleted           bool
	expiresAt         time.Time
	response          map[string]any // the data answered on creation, replayed on request
	fingerprint       string         // request body without requestedAt, for ReplayDuplicateQR
}

// issuedBarcode is a single-use barcode handed out by IssueBarcode.
type issuedBarcode struct {
	user     string
	issuedAt time.Time
	used     bool
}

// LedgerPayment is the simulator's view of one payment, for tests and the /_sim/ endpoints.
type LedgerPayment struct {
	// MerchantPaymentID is the merchant's id for the payment.
	MerchantPaymentID string `json:"merchantPaymentId"`
	// PaymentID is PayPay's id, empty until the customer pays.
	PaymentID string `json:"paymentId,omitempty"`
	// Kind is KindQR, KindLinkedUser or KindBarcode.
	Kind string `json:"kind"`
	// Status is the OPA payment status (CREATED, AUTHORIZED, COMPLETED, REFUNDED, FAILED,
	// CANCELED, EXPIRED).
	Status string `json:"status"`
	// Amount is the payment amount in yen; for a pre-authorization, the amount authorized.
	Amount int64 `json:"amount"`
	// Currency is always JPY.
	Currency string `json:"currency"`
	// UserAuthorizationID is the user who paid (or failed to); for barcodes, the user
	// behind the code.
	UserAuthorizationID string `json:"userAuthorizationId,omitempty"`
	// CodeID is the dynamic QR code of a QR payment.
	CodeID string `json:"codeId,omitempty"`
	// StoreID and TerminalID are as sent by the merchant.
	StoreID    string `json:"storeId,omitempty"`
	TerminalID string `json:"terminalId,omitempty"`
	// RequestedAt is the merchant's requestedAt; AcceptedAt the payment time (for a
	// pre-authorization, when it was authorized); CanceledAt the time the payment became
	// FAILED.
	RequestedAt time.Time `json:"requestedAt,omitzero"`
	AcceptedAt  time.Time `json:"acceptedAt,omitzero"`
	CanceledAt  time.Time `json:"canceledAt,omitzero"`
	// CancelRequested reports that a merchant cancel was accepted.
	CancelRequested bool `json:"cancelRequested"`
	// PreAuthorization reports a pre-authorization (isAuthorization QR or
	// /v2/payments/preauthorize): paying authorizes Amount, capture takes Captured.
	PreAuthorization bool `json:"preAuthorization"`
	// AuthorizationExpiresAt is when an authorization lapses (AUTHORIZED → EXPIRED); zero
	// until the pre-authorization is authorized, unless the QR named authorizationExpiry.
	AuthorizationExpiresAt time.Time `json:"authorizationExpiresAt,omitzero"`
	// Captured is the amount captured in yen: what a pre-authorization actually took from
	// the customer (≤ Amount; the rest was released). It is 0 before capture and for
	// payments that were not pre-authorized, whose charge is Amount.
	Captured int64 `json:"captured"`
	// Captures lists the captures in the order they were accepted (at most one).
	Captures []LedgerCapture `json:"captures"`
	// MerchantRevertID and RevertedAt record the revert that made the payment CANCELED.
	MerchantRevertID string    `json:"merchantRevertId,omitempty"`
	RevertedAt       time.Time `json:"revertedAt,omitzero"`
	// Refunded is the total refunded so far; it never exceeds Amount, or Captured for a
	// pre-authorization.
	Refunded int64 `json:"refunded"`
	// Refunds lists the refunds in the order they were accepted.
	Refunds []LedgerRefund `json:"refunds"`
}

// LedgerCapture is one capture in a LedgerPayment.
type LedgerCapture struct {
	// MerchantCaptureID is the merchant's id for the capture.
	MerchantCaptureID string `json:"merchantCaptureId"`
	// Amount is the captured amount in yen.
	Amount int64 `json:"amount"`
	// OrderDescription is as sent by the merchant.
	OrderDescription string `json:"orderDescription"`
	// AcceptedAt is when the simulator accepted the capture.
	AcceptedAt time.Time `json:"acceptedAt"`
}

// LedgerRefund is one refund in a LedgerPayment.
type LedgerRefund struct {
	// MerchantRefundID is the merchant's id for the refund.
	MerchantRefundID string `json:"merchantRefundId"`
	// Status is CREATED or REFUNDED.
	Status string `json:"status"`
	// Amount is the refunded amount in yen.
	Amount int64 `json:"amount"`
	// Reason is as sent by the merchant.
	Reason string `json:"reason,omitempty"`
	// AcceptedAt is when the simulator accepted the refund.
	AcceptedAt time.Time `json:"acceptedAt"`
}

// ledger renders p for the ledger.
func (p *payment) ledger() LedgerPayment {
	lp := LedgerPayment{
		MerchantPaymentID:   p.merchantPaymentID,
		PaymentID:           p.paymentID,
		Kind:                p.kind,
		Status:              p.status,
		Amount:              p.amount,
		Currency:            currencyJPY,
		UserAuthorizationID: p.payer,
		CodeID:              p.codeID,
		StoreID:             p.storeID,
		TerminalID:          p.terminalID,
		RequestedAt:         p.requestedAt,
		AcceptedAt:          p.acceptedAt,
		CanceledAt:          p.canceledAt,
		CancelRequested:     p.cancelRequested,
		PreAuthorization:    p.preAuth,
		Refunded:            p.refunded(),
		Refunds:             []LedgerRefund{},
		Captures:            []LedgerCapture{},
	}
	if p.preAuth {
		lp.AuthorizationExpiresAt = p.authExpiresAt
		lp.Captured = p.paid()
	}
	for _, c := range p.captures {
		lp.Captures = append(lp.Captures, LedgerCapture{
			MerchantCaptureID: c.merchantCaptureID, Amount: c.amount,
			OrderDescription: c.orderDescription, AcceptedAt: c.acceptedAt,
		})
	}
	if p.revert != nil {
		lp.MerchantRevertID = p.revert.merchantRevertID
		lp.RevertedAt = p.revert.acceptedAt
	}
	for _, r := range p.refunds {
		lp.Refunds = append(lp.Refunds, LedgerRefund{
			MerchantRefundID: r.merchantRefundID, Status: r.status, Amount: r.amount,
			Reason: r.reason, AcceptedAt: r.acceptedAt,
		})
	}
	return lp
}

// money is OPA's amount object.
type money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

func jpy(n int64) money { return money{Amount: n, Currency: currencyJPY} }

// epochOrNull renders a time as epoch seconds, or null when unset.
func epochOrNull(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	s := t.Unix()
	return &s
}

// epochOrZero renders a time as epoch seconds, 0 when unset (acceptedAt of an unpaid QR).
func epochOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// paymentView is the OPA payment object (docs/partners/paypay.md §4.3).
type paymentView struct {
	PaymentID           string        `json:"paymentId,omitempty"`
	Status              string        `json:"status"`
	AcceptedAt          int64         `json:"acceptedAt"`
	MerchantPaymentID   string        `json:"merchantPaymentId"`
	UserAuthorizationID string        `json:"userAuthorizationId,omitempty"`
	CodeID              string        `json:"codeId,omitempty"`
	Amount              money         `json:"amount"`
	RequestedAt         int64         `json:"requestedAt"`
	ExpiresAt           *int64        `json:"expiresAt"`
	CanceledAt          *int64        `json:"canceledAt"`
	StoreID             string        `json:"storeId,omitempty"`
	TerminalID          string        `json:"terminalId,omitempty"`
	OrderReceiptNumber  string        `json:"orderReceiptNumber,omitempty"`
	OrderDescription    string        `json:"orderDescription,omitempty"`
	AuthorizedAt        *int64        `json:"authorizedAt,omitempty"`
	Refunds             refundList    `json:"refunds"`
	Captures            captureList   `json:"captures"`
	Revert              *revertState  `json:"revert,omitempty"`
	PaymentMethods      []methodEntry `json:"paymentMethods"`
}

type captureList struct {
	Data []captureView `json:"data"`
}

// captureView is one entry of the payment object's captures.data (docs/partners/paypay.md §4.6).
type captureView struct {
	MerchantCaptureID string `json:"merchantCaptureId"`
	Amount            money  `json:"amount"`
	OrderDescription  string `json:"orderDescription"`
	RequestedAt       int64  `json:"requestedAt"`
	ExpiresAt         *int64 `json:"expiresAt"`
	Status            string `json:"status"`
	AcceptedAt        int64  `json:"acceptedAt"`
}

// revertState is the payment object's revert (docs/partners/paypay.md §4.3).
type revertState struct {
	AcceptedAt       int64  `json:"acceptedAt"`
	MerchantRevertID string `json:"merchantRevertId"`
	RequestedAt      int64  `json:"requestedAt"`
	Reason           string `json:"reason,omitempty"`
}

type refundList struct {
	Data []refundView `json:"data"`
}

type methodEntry struct {
	Amount money  `json:"amount"`
	Type   string `json:"type"`
}

// refundView is the OPA refund object (docs/partners/paypay.md §4.7).
type refundView struct {
	Status           string `json:"status"`
	AcceptedAt       int64  `json:"acceptedAt"`
	MerchantRefundID string `json:"merchantRefundId"`
	PaymentID        string `json:"paymentId"`
	Amount           money  `json:"amount"`
	RequestedAt      int64  `json:"requestedAt"`
	Reason           string `json:"reason,omitempty"`
}

func (r *refund) view() refundView {
	return refundView{
		Status: r.status, AcceptedAt: r.acceptedAt.Unix(), MerchantRefundID: r.merchantRefundID,
		PaymentID: r.paymentID, Amount: jpy(r.amount), RequestedAt: r.requestedAt.Unix(), Reason: r.reason,
	}
}

// view renders p as the OPA payment object. The authorization code of a barcode payment is
// never stored, so it cannot be echoed.
func (p *payment) view() paymentView {
	v := paymentView{
		PaymentID:          p.paymentID,
		Status:             p.status,
		AcceptedAt:         epochOrZero(p.acceptedAt),
		MerchantPaymentID:  p.merchantPaymentID,
		CodeID:             p.codeID,
		Amount:             jpy(p.amount),
		RequestedAt:        p.requestedAt.Unix(),
		ExpiresAt:          epochOrNull(p.expiresAt),
		CanceledAt:         epochOrNull(p.canceledAt),
		StoreID:            p.storeID,
		TerminalID:         p.terminalID,
		OrderReceiptNumber: p.orderReceipt,
		OrderDescription:   p.orderDescription,
		Refunds:            refundList{Data: []refundView{}},
		Captures:           captureList{Data: []captureView{}},
		PaymentMethods:     []methodEntry{},
	}
	if p.kind == KindLinkedUser {
		v.UserAuthorizationID = p.payer
	}
	for _, r := range p.refunds {
		v.Refunds.Data = append(v.Refunds.Data, r.view())
	}
	for _, c := range p.captures {
		v.Captures.Data = append(v.Captures.Data, captureView{
			MerchantCaptureID: c.merchantCaptureID, Amount: jpy(c.amount), OrderDescription: c.orderDescription,
			RequestedAt: c.requestedAt.Unix(), Status: CaptureCompleted, AcceptedAt: c.acceptedAt.Unix(),
		})
	}
	if p.preAuth && !p.acceptedAt.IsZero() {
		// Once authorized, expiresAt is the authorization's expiry, no longer the QR's.
		v.AuthorizedAt = epochOrNull(p.acceptedAt)
		v.ExpiresAt = epochOrNull(p.authExpiresAt)
	}
	if r := p.revert; r != nil {
		v.Revert = &revertState{AcceptedAt: r.acceptedAt.Unix(), MerchantRevertID: r.merchantRevertID, RequestedAt: r.requestedAt.Unix(), Reason: r.reason}
	}
	if !p.acceptedAt.IsZero() {
		charged := p.amount
		if len(p.captures) > 0 {
			charged = p.paid()
		}
		v.PaymentMethods = append(v.PaymentMethods, methodEntry{Amount: jpy(charged), Type: "WALLET"})
	}
	return v
}
