package linepay

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"payhub/mocks/sim"
)

// Errors of the customer-side and test hooks (Approve, Cancel, Fail, ExpireAuthorization).
var (
	// ErrNoSuchPayment: no payment has the given orderId or transactionId.
	ErrNoSuchPayment = errors.New("linepay sim: no such payment")
	// ErrWrongState: the payment is not in a state the hook applies to.
	ErrWrongState = errors.New("linepay sim: payment is not in the right state")
)

// find resolves id as an orderId, else as a transactionId. Needs s.mu.
func (s *Simulator) find(id string) *payment {
	if p := s.byOrder[id]; p != nil {
		return p
	}
	if tx, ok := parseTxID(id); ok {
		return s.byTx[tx]
	}
	return nil
}

// transition applies change to the payment id names when it is in one of from, after
// lapsed lifetimes.
func (s *Simulator) transition(id string, change func(p *payment, now time.Time), from ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(id)
	if p == nil {
		return fmt.Errorf("%w: %q", ErrNoSuchPayment, id)
	}
	now := s.now()
	s.expireLapsed(p, now)
	for _, st := range from {
		if p.status == st {
			change(p, now)
			return nil
		}
	}
	return fmt.Errorf("%w: %s is %s", ErrWrongState, id, p.status)
}

// Approve plays the customer approving the Online request id (orderId or transactionId)
// in the LINE app: RESERVED → APPROVED (check 0110), paid by credit card. A request past
// its 20 minutes is CANCELLED and cannot be approved.
func (s *Simulator) Approve(id string) error {
	return s.transition(id, func(p *payment, _ time.Time) {
		p.status, p.method = StatusApproved, methodCard
	}, StatusReserved)
}

// BrowserReturn is where LINE sends the customer's browser after the Online request id
// was approved (cancelled: false) or cancelled on the payment page (true): the request's
// confirmUrl or cancelUrl with transactionId and orderId added (§4.1).
func (s *Simulator) BrowserReturn(id string, cancelled bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(id)
	if p == nil || p.kind != KindOnline {
		return "", fmt.Errorf("%w: %q", ErrNoSuchPayment, id)
	}
	target := p.confirmURL
	if cancelled {
		target = p.cancelURL
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("transactionId", p.txID.String())
	q.Set("orderId", p.orderID)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Cancel plays the customer cancelling the Online request id: RESERVED or APPROVED →
// CANCELLED (check 0121, Confirm 1180).
func (s *Simulator) Cancel(id string) error {
	return s.transition(id, func(p *payment, _ time.Time) { p.status = StatusCancelled },
		StatusReserved, StatusApproved)
}

// Fail makes the Online request id fail: RESERVED or APPROVED → FAILED (check 0122).
func (s *Simulator) Fail(id string) error {
	return s.transition(id, func(p *payment, _ time.Time) { p.status = StatusFailed },
		StatusReserved, StatusApproved)
}

// ExpireAuthorization makes the authorization id (orderId or transactionId) lapse now:
// AUTHORIZED → EXPIRED (EXPIRED_AUTHORIZATION; capture 1180).
func (s *Simulator) ExpireAuthorization(id string) error {
	return s.transition(id, func(p *payment, now time.Time) {
		p.status, p.authExpiresAt = StatusExpired, now
	}, StatusAuthorized)
}

// Payment returns the ledger entry for id: an orderId, else a transactionId.
func (s *Simulator) Payment(id string) (LedgerPayment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(id)
	if p == nil {
		return LedgerPayment{}, false
	}
	s.expireLapsed(p, s.now())
	return p.ledger(), true
}

// Ledger returns every payment in creation order, lapsed lifetimes applied.
func (s *Simulator) Ledger() []LedgerPayment {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]LedgerPayment, 0, len(s.order))
	for _, p := range s.order {
		s.expireLapsed(p, now)
		out = append(out, p.ledger())
	}
	return out
}

// controlError is the body of a /_sim/ error (and of unknown API paths).
type controlError struct {
	Error string `json:"error"`
}

func writeControlError(w http.ResponseWriter, status int, message string) {
	sim.WriteJSON(w, status, controlError{Error: message})
}

// simIssueKey serves POST /_sim/oneTimeKeys: optional {"countryCode": "TW"|"TH"}.
func (s *Simulator) simIssueKey(w http.ResponseWriter, _ *http.Request, in request) {
	var body struct {
		CountryCode string `json:"countryCode"`
	}
	if len(in.body) > 0 && sim.DecodeJSON(in.body, &body) != nil {
		writeControlError(w, http.StatusBadRequest, `body must be {"countryCode": "TW"|"TH"}`)
		return
	}
	switch body.CountryCode {
	case "":
		body.CountryCode = "TW"
	case "TW", "TH":
	default:
		writeControlError(w, http.StatusBadRequest, "countryCode must be TW or TH")
		return
	}
	key := s.IssueOneTimeKey(body.CountryCode)
	sim.WriteJSON(w, http.StatusCreated, map[string]any{"oneTimeKey": key, "countryCode": body.CountryCode,
		"expiresAt": s.now().Add(OneTimeKeyLifetime)})
}

// simLedger serves GET /_sim/payments.
func (s *Simulator) simLedger(w http.ResponseWriter, _ *http.Request, _ request) {
	sim.WriteJSON(w, http.StatusOK, map[string][]LedgerPayment{"payments": s.Ledger()})
}

// simLedgerPayment serves GET /_sim/payments/{id}.
func (s *Simulator) simLedgerPayment(w http.ResponseWriter, _ *http.Request, in request) {
	lp, ok := s.Payment(in.params["id"])
	if !ok {
		writeControlError(w, http.StatusNotFound, "no such payment")
		return
	}
	sim.WriteJSON(w, http.StatusOK, lp)
}

// simHook serves one POST /_sim/payments/{id}/… hook: 200 with the ledger entry, 404
// unknown, 409 wrong state.
func (s *Simulator) simHook(w http.ResponseWriter, id string, hook func(string) error) {
	err := hook(id)
	switch {
	case errors.Is(err, ErrNoSuchPayment):
		writeControlError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeControlError(w, http.StatusConflict, err.Error())
	default:
		lp, _ := s.Payment(id)
		sim.WriteJSON(w, http.StatusOK, lp)
	}
}

func (s *Simulator) simApprove(w http.ResponseWriter, _ *http.Request, in request) {
	s.simHook(w, in.params["id"], s.Approve)
}

func (s *Simulator) simCancel(w http.ResponseWriter, _ *http.Request, in request) {
	s.simHook(w, in.params["id"], s.Cancel)
}

func (s *Simulator) simFail(w http.ResponseWriter, _ *http.Request, in request) {
	s.simHook(w, in.params["id"], s.Fail)
}

func (s *Simulator) simExpire(w http.ResponseWriter, _ *http.Request, in request) {
	s.simHook(w, in.params["id"], s.ExpireAuthorization)
}
