package paypay

import (
	"errors"
	"fmt"
	"net/http"

	"payhub/mocks/sim"
)

// Errors PayQR reports when a QR payment cannot be paid at all. A user whose fixture
// refuses (no funds, inactive, …) is not an error: the payment becomes FAILED.
var (
	// ErrNoSuchPayment: no payment or QR code has the given id.
	ErrNoSuchPayment = errors.New("paypay sim: no such payment")
	// ErrNotPayable: the payment is not an unpaid, live QR payment.
	ErrNotPayable = errors.New("paypay sim: payment cannot be paid")
)

// PayQR plays the customer paying the dynamic QR of merchantPaymentID in the PayPay app as
// userAuthorizationID ("" means UserOK). UserOK completes the payment (authorizes it, for
// an isAuthorization QR); any other user makes it FAILED. A cancel the merchant sent
// earlier applies right after payment.
func (s *Simulator) PayQR(merchantPaymentID, userAuthorizationID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.payQR(merchantPaymentID, userAuthorizationID)
	return err
}

// payQR is PayQR with s.mu held; it returns the payment paid.
func (s *Simulator) payQR(merchantPaymentID, user string) (*payment, error) {
	if user == "" {
		user = UserOK
	}
	p, ok := s.payments[merchantPaymentID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchPayment, merchantPaymentID)
	}
	c := s.codes[p.codeID]
	now := s.now()
	switch {
	case p.kind != KindQR || c == nil:
		return nil, fmt.Errorf("%w: %q is not a QR payment", ErrNotPayable, merchantPaymentID)
	case p.status != StatusCreated:
		return nil, fmt.Errorf("%w: %q is already %s", ErrNotPayable, merchantPaymentID, p.status)
	case c.deleted:
		return nil, fmt.Errorf("%w: QR code %s was deleted", ErrNotPayable, c.codeID)
	case !now.Before(c.expiresAt):
		return nil, fmt.Errorf("%w: QR code %s expired", ErrNotPayable, c.codeID)
	}
	p.payer = user
	if s.userRefusal(user) != nil {
		p.status = StatusFailed
		p.canceledAt = now
		return p, nil
	}
	p.status = StatusCompleted
	p.acceptedAt = now
	if p.preAuth {
		p.status = StatusAuthorized
		if p.authExpiresAt.IsZero() {
			p.authExpiresAt = now.Add(s.cfg.AuthorizationLifetime)
		}
	}
	p.paymentID = s.newPaymentID()
	s.byPaymentID[p.paymentID] = p
	s.applyEarlyCancel(p)
	s.expireLapsed(p)
	return p, nil
}

// Payment returns the ledger entry for merchantPaymentID.
func (s *Simulator) Payment(merchantPaymentID string) (LedgerPayment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.find(merchantPaymentID)
	if !ok {
		return LedgerPayment{}, false
	}
	return p.ledger(), true
}

// Payments returns the whole ledger in creation order.
func (s *Simulator) Payments() []LedgerPayment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LedgerPayment, 0, len(s.order))
	for _, p := range s.order {
		s.expireLapsed(p)
		out = append(out, p.ledger())
	}
	return out
}

// controlError is the body of a /_sim/ error.
type controlError struct {
	Error string `json:"error"`
}

func writeControlError(w http.ResponseWriter, status int, message string) {
	sim.WriteJSON(w, status, controlError{Error: message})
}

// userBody is the optional body of the /_sim/ endpoints that act as a customer.
type userBody struct {
	UserAuthorizationID string `json:"userAuthorizationId"`
}

// readUser reads the optional {"userAuthorizationId": …}; absent means UserOK.
func readUser(body []byte) (string, bool) {
	var b userBody
	if len(body) > 0 && sim.DecodeJSON(body, &b) != nil {
		return "", false
	}
	if b.UserAuthorizationID == "" {
		return UserOK, true
	}
	return b.UserAuthorizationID, true
}

// simIssueBarcode serves POST /_sim/barcodes: what the customer's app shows at the till.
func (s *Simulator) simIssueBarcode(w http.ResponseWriter, _ *http.Request, in request) {
	user, ok := readUser(in.body)
	if !ok {
		writeControlError(w, http.StatusBadRequest, `body must be {"userAuthorizationId": "..."}`)
		return
	}
	code := s.IssueBarcode(user)
	sim.WriteJSON(w, http.StatusCreated, map[string]string{"barcode": code, "userAuthorizationId": user})
}

// simPayCode serves POST /_sim/codes/{codeId}/pay.
func (s *Simulator) simPayCode(w http.ResponseWriter, _ *http.Request, in request) {
	s.mu.Lock()
	c, ok := s.codes[in.params["codeId"]]
	s.mu.Unlock()
	if !ok {
		writeControlError(w, http.StatusNotFound, "no such QR code")
		return
	}
	s.simPay(w, c.merchantPaymentID, in.body)
}

// simPayPayment serves POST /_sim/payments/{merchantPaymentId}/pay.
func (s *Simulator) simPayPayment(w http.ResponseWriter, _ *http.Request, in request) {
	s.simPay(w, in.params["merchantPaymentId"], in.body)
}

func (s *Simulator) simPay(w http.ResponseWriter, merchantPaymentID string, body []byte) {
	user, ok := readUser(body)
	if !ok {
		writeControlError(w, http.StatusBadRequest, `body must be {"userAuthorizationId": "..."}`)
		return
	}
	s.mu.Lock()
	p, err := s.payQR(merchantPaymentID, user)
	var lp LedgerPayment
	if err == nil {
		lp = p.ledger()
	}
	s.mu.Unlock()
	switch {
	case errors.Is(err, ErrNoSuchPayment):
		writeControlError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeControlError(w, http.StatusConflict, err.Error())
	default:
		sim.WriteJSON(w, http.StatusOK, lp)
	}
}

// simLedger serves GET /_sim/payments.
func (s *Simulator) simLedger(w http.ResponseWriter, _ *http.Request, _ request) {
	sim.WriteJSON(w, http.StatusOK, map[string][]LedgerPayment{"payments": s.Payments()})
}

// simLedgerPayment serves GET /_sim/payments/{merchantPaymentId}.
func (s *Simulator) simLedgerPayment(w http.ResponseWriter, _ *http.Request, in request) {
	lp, ok := s.Payment(in.params["merchantPaymentId"])
	if !ok {
		writeControlError(w, http.StatusNotFound, "no such payment")
		return
	}
	sim.WriteJSON(w, http.StatusOK, lp)
}
