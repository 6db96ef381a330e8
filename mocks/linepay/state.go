package linepay

import (
	"encoding/json"
	"time"
)

// Payment statuses (docs/partners/linepay.md §4.4, §5). The ledger reports them; LINE's own answers
// use the check codes, check statuses and payStatus values derived from them.
const (
	// StatusReserved: an Online request waits for the customer (check 0000).
	StatusReserved = "RESERVED"
	// StatusApproved: the customer approved; the merchant must Confirm (check 0110).
	StatusApproved = "APPROVED"
	// StatusCaptured: paid (check 0123, payStatus CAPTURE, offline COMPLETE). Refunds
	// keep this status; the ledger shows Refunded.
	StatusCaptured = "CAPTURED"
	// StatusAuthorized: confirmed or paid with capture=false (payStatus AUTHORIZATION,
	// offline AUTH_READY).
	StatusAuthorized = "AUTHORIZED"
	// StatusVoided: an authorization voided (VOIDED_AUTHORIZATION, offline CANCEL).
	StatusVoided = "VOIDED"
	// StatusExpired: an authorization past its expiry (EXPIRED_AUTHORIZATION).
	StatusExpired = "EXPIRED"
	// StatusCancelled: an Online request the customer cancelled or that lapsed after
	// RequestLifetime (check 0121, Confirm 1180).
	StatusCancelled = "CANCELLED"
	// StatusFailed: an Online request that failed (check 0122), or an Offline pay refused
	// by its oneTimeKey fixture (offline FAIL with failReturnCode).
	StatusFailed = "FAILED"
)

// Payment kinds as the ledger reports them.
const (
	// KindOnline is an Online v3 payment (request, approval, Confirm).
	KindOnline = "ONLINE"
	// KindOffline is an Offline v4 payment (the till scans the customer's My Code).
	KindOffline = "OFFLINE"
)

// Pay methods in payInfo (docs/partners/linepay.md §4.2, §5).
const (
	methodCard    = "CREDIT_CARD"
	methodBalance = "BALANCE"
)

// payment is the simulator's record of one orderId.
type payment struct {
	kind               string
	orderID            string
	txID               txID
	status             string
	currency           string
	amount             amount // requested (online) or paid/authorized (offline)
	captured           amount // what a capture or a capture=true payment took
	capture            bool   // options.payment.capture
	packages           json.RawMessage
	paymentAccessToken string
	method             string
	createdAt          time.Time // request or pay time
	transactionDate    time.Time // Confirm, or the pay: zero before
	authExpiresAt      time.Time // capture=false only
	failCode           string    // FAILED: why
	branchID           string
	branchName         string
	refunds            []*refund
	// confirmURL and cancelURL are the request's redirectUrls (Online only).
	confirmURL, cancelURL string
}

// refund is one (partial) refund.
type refund struct {
	id     txID
	amount amount
	at     time.Time
}

// refunded is the sum of the payment's refunds.
func (p *payment) refunded() amount {
	var n amount
	for _, r := range p.refunds {
		n += r.amount
	}
	return n
}

// confirmed reports whether the payment went past its request: the states details lists.
func (p *payment) confirmed() bool {
	switch p.status {
	case StatusCaptured, StatusAuthorized, StatusVoided, StatusExpired:
		return true
	}
	return false
}

// expireLapsed applies the lifetimes that ended by now: an Online request unconfirmed after
// RequestLifetime becomes CANCELLED, an authorization past its expiry EXPIRED. There is no
// timer: every read and action calls it first. Needs s.mu.
func (s *Simulator) expireLapsed(p *payment, now time.Time) {
	switch p.status {
	case StatusReserved, StatusApproved:
		if !now.Before(p.createdAt.Add(RequestLifetime)) {
			p.status = StatusCancelled
		}
	case StatusAuthorized:
		if !p.authExpiresAt.IsZero() && !now.Before(p.authExpiresAt) {
			p.status = StatusExpired
		}
	}
}

// LedgerPayment is the simulator's view of one payment, for tests and GET /_sim/payments.
// Amounts are decimal numbers in major units (json.Number, e.g. "1000" or "12.5").
type LedgerPayment struct {
	Kind          string      `json:"kind"`
	OrderID       string      `json:"orderId"`
	TransactionID string      `json:"transactionId"` // "" for a refused Offline pay
	Status        string      `json:"status"`
	Currency      string      `json:"currency"`
	Amount        json.Number `json:"amount"`
	// Capture is options.payment.capture: false means authorize, then Capture.
	Capture bool `json:"capture"`
	// Captured is what was captured (0 while uncaptured or voided).
	Captured json.Number `json:"captured"`
	// Refunded is the sum of Refunds.
	Refunded           json.Number    `json:"refunded"`
	Refunds            []LedgerRefund `json:"refunds"`
	PaymentAccessToken string         `json:"paymentAccessToken,omitempty"`
	// FailReturnCode says why a FAILED payment failed (e.g. 1142), when known.
	FailReturnCode         string     `json:"failReturnCode,omitempty"`
	CreatedAt              time.Time  `json:"createdAt"`
	TransactionDate        *time.Time `json:"transactionDate,omitempty"`
	AuthorizationExpiresAt *time.Time `json:"authorizationExpiresAt,omitempty"`
}

// LedgerRefund is one refund of a LedgerPayment.
type LedgerRefund struct {
	RefundTransactionID string      `json:"refundTransactionId"`
	Amount              json.Number `json:"amount"`
	At                  time.Time   `json:"at"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (p *payment) ledger() LedgerPayment {
	lp := LedgerPayment{
		Kind: p.kind, OrderID: p.orderID, Status: p.status,
		Currency: p.currency, Amount: p.amount.number(), Capture: p.capture,
		Captured: p.captured.number(), Refunded: p.refunded().number(), Refunds: []LedgerRefund{},
		PaymentAccessToken: p.paymentAccessToken, FailReturnCode: p.failCode, CreatedAt: p.createdAt,
		TransactionDate: timeOrNil(p.transactionDate), AuthorizationExpiresAt: timeOrNil(p.authExpiresAt),
	}
	if p.txID != 0 { // a refused Offline pay has none
		lp.TransactionID = p.txID.String()
	}
	for _, r := range p.refunds {
		lp.Refunds = append(lp.Refunds, LedgerRefund{RefundTransactionID: r.id.String(), Amount: r.amount.number(), At: r.at})
	}
	return lp
}
