package paypay

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"payhub/mocks/sim"
)

// Cashback (docs/partners/paypay.md §4.8): give, check, reverse, check the reversal.

// Cashback and cashback-reversal statuses (docs/partners/paypay.md §4.8).
const (
	// CashbackAccepted: accepted, not processed yet.
	CashbackAccepted = "ACCEPTED"
	// CashbackSuccess: credited (or, for a reversal, taken back).
	CashbackSuccess = "SUCCESS"
	// CashbackFailure: processing failed; nothing moved.
	CashbackFailure = "FAILURE"
)

// Wallet types a cashback may name.
var walletTypes = map[string]bool{"": true, "PREPAID": true, "CASHBACK": true}

// cashback is one accepted give-cashback request.
type cashback struct {
	merchantCashbackID string
	cashbackID         string
	user               string
	amount             int64
	orderDescription   string
	walletType         string
	expiryDate         string
	requestedAt        time.Time
	acceptedAt         time.Time
	settlesAt          time.Time
	final              string // SUCCESS or FAILURE once settled
	fingerprint        string
	reversals          []*cashbackReversal
}

// status is the cashback's status at now.
func (c *cashback) status(now time.Time) string {
	if now.Before(c.settlesAt) {
		return CashbackAccepted
	}
	return c.final
}

// reserved is what reversals accepted so far take (pending ones included).
func (c *cashback) reserved(now time.Time) int64 {
	var n int64
	for _, r := range c.reversals {
		if r.status(now) != CashbackFailure {
			n += r.amount
		}
	}
	return n
}

// cashbackReversal is one accepted reversal.
type cashbackReversal struct {
	merchantReversalID string
	merchantCashbackID string
	reversalID         string
	amount             int64
	reason             string
	requestedAt        time.Time
	acceptedAt         time.Time
	settlesAt          time.Time
	fingerprint        string
}

func (r *cashbackReversal) status(now time.Time) string {
	if now.Before(r.settlesAt) {
		return CashbackAccepted
	}
	return CashbackSuccess
}

// giveCashbackRequest is the body of POST /v2/cashback.
type giveCashbackRequest struct {
	MerchantCashbackID  string          `json:"merchantCashbackId"`
	UserAuthorizationID string          `json:"userAuthorizationId"`
	Amount              *amountIn       `json:"amount"`
	RequestedAt         *int64          `json:"requestedAt"`
	OrderDescription    string          `json:"orderDescription"`
	WalletType          string          `json:"walletType"`
	ExpiryDate          *string         `json:"expiryDate"`
	Metadata            json.RawMessage `json:"metadata"`
}

// giveCashback serves POST /v2/cashback: 202 REQUEST_ACCEPTED, data null. The same
// merchantCashbackId with the same body (requestedAt aside) answers the same again and
// credits nothing more; with another body → 400 INVALID_PARAMS (payhub convention).
func (s *Simulator) giveCashback(w http.ResponseWriter, _ *http.Request, in request) {
	var req giveCashbackRequest
	if err := decode(in.body, &req); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if err := checkMerchantID("merchantCashbackId", req.MerchantCashbackID); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if req.UserAuthorizationID == "" {
		writeError(w, resMissingRequest, "userAuthorizationId is required")
		return
	}
	amount, err := checkAmount(req.Amount)
	if err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	requestedAt, err := checkRequestedAt(req.RequestedAt)
	if err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	switch {
	case len(req.OrderDescription) > 255:
		writeError(w, resInvalidRequest, "orderDescription is at most 255 characters")
		return
	case !walletTypes[req.WalletType]:
		writeError(w, resInvalidRequest, "walletType must be PREPAID or CASHBACK")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	expiry := ""
	if req.ExpiryDate != nil {
		d, perr := time.ParseInLocation(time.DateOnly, *req.ExpiryDate, jst)
		if perr != nil || d.Before(dayOf(now)) {
			writeError(w, resInvalidRequest, "expiryDate must be a date (YYYY-MM-DD), today or later")
			return
		}
		expiry = *req.ExpiryDate
	}
	fp := codeFingerprint(in.body)
	if prev, dup := s.cashbacks[req.MerchantCashbackID]; dup {
		if prev.fingerprint != fp {
			writeError(w, resInvalidParams, "Duplicate merchantCashbackId with a different request")
			return
		}
		writeResult(w, resRequestAccepted, "Request accepted", nil)
		return
	}
	if rerr := s.userRefusal(req.UserAuthorizationID); rerr != nil && rerr.rc != resNoFunds {
		writeError(w, rerr.rc, rerr.message)
		return
	}
	c := &cashback{
		merchantCashbackID: req.MerchantCashbackID, cashbackID: s.newCashbackID(), user: req.UserAuthorizationID,
		amount: amount, orderDescription: req.OrderDescription, walletType: req.WalletType, expiryDate: expiry,
		requestedAt: requestedAt, acceptedAt: now, settlesAt: now.Add(s.cfg.CashbackSettleDelay),
		final: CashbackSuccess, fingerprint: fp,
	}
	if s.cfg.CashbackBudget > 0 && s.cashbackSpent()+amount > s.cfg.CashbackBudget {
		c.final = CashbackFailure // the merchant's campaign balance is short
	}
	s.cashbacks[c.merchantCashbackID] = c
	s.cashbackOrder = append(s.cashbackOrder, c)
	writeResult(w, resRequestAccepted, "Request accepted", nil)
}

// cashbackSpent is what the merchant's campaign wallet has paid out or committed: every
// cashback that did not fail, less what reversals took back. Caller holds s.mu.
func (s *Simulator) cashbackSpent() int64 {
	var n int64
	now := s.now()
	for _, c := range s.cashbackOrder {
		if c.final == CashbackSuccess {
			n += c.amount - c.reserved(now)
		}
	}
	return n
}

// dayOf is the JST calendar day of t, at midnight.
func dayOf(t time.Time) time.Time {
	t = t.In(jst)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, jst)
}

// newCashbackID returns PayPay's id for a cashback or reversal (a 19-digit number).
// Caller holds s.mu.
func (s *Simulator) newCashbackID() string { return "2" + randomDigits(18) }

// cashbackView is the data of GET /v2/cashback/{merchantCashbackId}.
type cashbackView struct {
	Status              string   `json:"status"`
	AcceptedAt          int64    `json:"acceptedAt"`
	MerchantCashbackID  string   `json:"merchantCashbackId"`
	CashbackID          string   `json:"cashbackId"`
	UserAuthorizationID string   `json:"userAuthorizationId"`
	Amount              money    `json:"amount"`
	RequestedAt         int64    `json:"requestedAt"`
	OrderDescription    string   `json:"orderDescription,omitempty"`
	WalletType          string   `json:"walletType,omitempty"`
	ExpiryDate          *string  `json:"expiryDate"`
	Metadata            struct{} `json:"metadata"`
}

// getCashback serves GET /v2/cashback/{merchantCashbackId}; unknown → 404
// TRANSACTION_NOT_FOUND.
func (s *Simulator) getCashback(w http.ResponseWriter, _ *http.Request, in request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cashbacks[in.params["merchantCashbackId"]]
	if !ok {
		writeError(w, resTransactionNotFound, "Transaction not found")
		return
	}
	v := cashbackView{
		Status: c.status(s.now()), AcceptedAt: c.acceptedAt.Unix(), MerchantCashbackID: c.merchantCashbackID,
		CashbackID: c.cashbackID, UserAuthorizationID: c.user, Amount: jpy(c.amount), RequestedAt: c.requestedAt.Unix(),
		OrderDescription: c.orderDescription, WalletType: c.walletType,
	}
	if c.expiryDate != "" {
		v.ExpiryDate = &c.expiryDate
	}
	writeResult(w, resSuccess, "Success", v)
}

// reverseCashbackRequest is the body of POST /v2/cashback_reversal.
type reverseCashbackRequest struct {
	MerchantCashbackReversalID string          `json:"merchantCashbackReversalId"`
	MerchantCashbackID         string          `json:"merchantCashbackId"`
	Amount                     *amountIn       `json:"amount"`
	RequestedAt                *int64          `json:"requestedAt"`
	Reason                     string          `json:"reason"`
	Metadata                   json.RawMessage `json:"metadata"`
}

// reverseCashback serves POST /v2/cashback_reversal: 202 REQUEST_ACCEPTED, data null. The
// cashback must have succeeded (else 400 UNACCEPTABLE_OP; unknown → 404
// TRANSACTION_NOT_FOUND) and keep enough after earlier reversals (else 400 INVALID_PARAMS).
// Idempotent on merchantCashbackReversalId like giveCashback.
func (s *Simulator) reverseCashback(w http.ResponseWriter, _ *http.Request, in request) {
	var req reverseCashbackRequest
	if err := decode(in.body, &req); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if err := checkMerchantID("merchantCashbackReversalId", req.MerchantCashbackReversalID); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if err := checkMerchantID("merchantCashbackId", req.MerchantCashbackID); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	amount, err := checkAmount(req.Amount)
	if err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	requestedAt, err := checkRequestedAt(req.RequestedAt)
	if err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if len(req.Reason) > 255 {
		writeError(w, resInvalidRequest, "reason is at most 255 characters")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fp := codeFingerprint(in.body)
	if prev, dup := s.cashbackReversals[req.MerchantCashbackReversalID]; dup {
		if prev.fingerprint != fp {
			writeError(w, resInvalidParams, "Duplicate merchantCashbackReversalId with a different request")
			return
		}
		writeResult(w, resRequestAccepted, "Request accepted", nil)
		return
	}
	c, ok := s.cashbacks[req.MerchantCashbackID]
	if !ok {
		writeError(w, resTransactionNotFound, "Transaction not found")
		return
	}
	now := s.now()
	switch {
	case c.status(now) != CashbackSuccess:
		writeError(w, resUnacceptableOp, "The cashback has not succeeded")
		return
	case amount > c.amount-c.reserved(now):
		writeError(w, resInvalidParams, "Invalid reversal amount")
		return
	}
	r := &cashbackReversal{
		merchantReversalID: req.MerchantCashbackReversalID, merchantCashbackID: c.merchantCashbackID,
		reversalID: s.newCashbackID(), amount: amount, reason: req.Reason, requestedAt: requestedAt,
		acceptedAt: now, settlesAt: now.Add(s.cfg.CashbackSettleDelay), fingerprint: fp,
	}
	s.cashbackReversals[r.merchantReversalID] = r
	c.reversals = append(c.reversals, r)
	writeResult(w, resRequestAccepted, "Request accepted", nil)
}

// reversalView is the data of GET /v2/cashback_reversal/{…}/{…}.
type reversalView struct {
	Status                     string   `json:"status"`
	AcceptedAt                 int64    `json:"acceptedAt"`
	MerchantCashbackReversalID string   `json:"merchantCashbackReversalId"`
	MerchantCashbackID         string   `json:"merchantCashbackId"`
	CashbackReversalID         string   `json:"cashbackReversalId"`
	Amount                     money    `json:"amount"`
	RequestedAt                int64    `json:"requestedAt"`
	Reason                     string   `json:"reason,omitempty"`
	Metadata                   struct{} `json:"metadata"`
}

// getCashbackReversal serves GET
// /v2/cashback_reversal/{merchantCashbackReversalId}/{merchantCashbackId}; unknown, or
// another cashback's reversal → 404 TRANSACTION_NOT_FOUND.
func (s *Simulator) getCashbackReversal(w http.ResponseWriter, _ *http.Request, in request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.cashbackReversals[in.params["merchantCashbackReversalId"]]
	if !ok || r.merchantCashbackID != in.params["merchantCashbackId"] {
		writeError(w, resTransactionNotFound, "Transaction not found")
		return
	}
	writeResult(w, resSuccess, "Success", reversalView{
		Status: r.status(s.now()), AcceptedAt: r.acceptedAt.Unix(), MerchantCashbackReversalID: r.merchantReversalID,
		MerchantCashbackID: r.merchantCashbackID, CashbackReversalID: r.reversalID, Amount: jpy(r.amount),
		RequestedAt: r.requestedAt.Unix(), Reason: r.reason,
	})
}

// LedgerCashback is the simulator's view of one cashback, for tests and /_sim/.
type LedgerCashback struct {
	// MerchantCashbackID is the merchant's id; CashbackID PayPay's.
	MerchantCashbackID string `json:"merchantCashbackId"`
	CashbackID         string `json:"cashbackId"`
	// UserAuthorizationID is the user credited.
	UserAuthorizationID string `json:"userAuthorizationId"`
	// Status is ACCEPTED, SUCCESS or FAILURE (by the simulator clock).
	Status string `json:"status"`
	// Amount is the cashback in yen; Reversed what settled reversals took back.
	Amount   int64 `json:"amount"`
	Reversed int64 `json:"reversed"`
	// WalletType, ExpiryDate and OrderDescription are as sent.
	WalletType       string `json:"walletType,omitempty"`
	ExpiryDate       string `json:"expiryDate,omitempty"`
	OrderDescription string `json:"orderDescription,omitempty"`
	// AcceptedAt is when the simulator accepted it.
	AcceptedAt time.Time `json:"acceptedAt"`
	// Reversals lists its reversals in the order accepted.
	Reversals []LedgerCashbackReversal `json:"reversals"`
}

// LedgerCashbackReversal is one reversal in a LedgerCashback.
type LedgerCashbackReversal struct {
	// MerchantCashbackReversalID is the merchant's id.
	MerchantCashbackReversalID string `json:"merchantCashbackReversalId"`
	// Status is ACCEPTED or SUCCESS.
	Status string `json:"status"`
	// Amount is what it takes back, in yen.
	Amount int64 `json:"amount"`
	// Reason is as sent.
	Reason string `json:"reason,omitempty"`
	// AcceptedAt is when the simulator accepted it.
	AcceptedAt time.Time `json:"acceptedAt"`
}

// CashbackAccount is what one user received by cashback: the per-user ledger.
type CashbackAccount struct {
	// UserAuthorizationID is the user.
	UserAuthorizationID string `json:"userAuthorizationId"`
	// Received is the sum of the user's succeeded cashbacks, in yen.
	Received int64 `json:"received"`
	// Reversed is what settled reversals took back.
	Reversed int64 `json:"reversed"`
	// Balance is Received - Reversed.
	Balance int64 `json:"balance"`
	// Cashbacks lists the user's cashbacks (failed and pending ones too) in the order accepted.
	Cashbacks []LedgerCashback `json:"cashbacks"`
}

// ledger renders c at now.
func (c *cashback) ledger(now time.Time) LedgerCashback {
	lc := LedgerCashback{
		MerchantCashbackID: c.merchantCashbackID, CashbackID: c.cashbackID, UserAuthorizationID: c.user,
		Status: c.status(now), Amount: c.amount, WalletType: c.walletType, ExpiryDate: c.expiryDate,
		OrderDescription: c.orderDescription, AcceptedAt: c.acceptedAt, Reversals: []LedgerCashbackReversal{},
	}
	for _, r := range c.reversals {
		st := r.status(now)
		if st == CashbackSuccess {
			lc.Reversed += r.amount
		}
		lc.Reversals = append(lc.Reversals, LedgerCashbackReversal{
			MerchantCashbackReversalID: r.merchantReversalID, Status: st, Amount: r.amount, Reason: r.reason, AcceptedAt: r.acceptedAt,
		})
	}
	return lc
}

// Cashback returns the ledger entry of merchantCashbackID.
func (s *Simulator) Cashback(merchantCashbackID string) (LedgerCashback, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cashbacks[merchantCashbackID]
	if !ok {
		return LedgerCashback{}, false
	}
	return c.ledger(s.now()), true
}

// CashbackAccount returns what user received by cashback (an empty account for a user who
// received none).
func (s *Simulator) CashbackAccount(user string) CashbackAccount {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	acct := CashbackAccount{UserAuthorizationID: user, Cashbacks: []LedgerCashback{}}
	for _, c := range s.cashbackOrder {
		if c.user != user {
			continue
		}
		lc := c.ledger(now)
		if lc.Status == CashbackSuccess {
			acct.Received += lc.Amount
			acct.Reversed += lc.Reversed
		}
		acct.Cashbacks = append(acct.Cashbacks, lc)
	}
	acct.Balance = acct.Received - acct.Reversed
	return acct
}

// CashbackAccounts returns every user's account, by user id.
func (s *Simulator) CashbackAccounts() []CashbackAccount {
	s.mu.Lock()
	users := map[string]bool{}
	for _, c := range s.cashbackOrder {
		users[c.user] = true
	}
	s.mu.Unlock()
	ids := make([]string, 0, len(users))
	for u := range users {
		ids = append(ids, u)
	}
	sort.Strings(ids)
	out := make([]CashbackAccount, 0, len(ids))
	for _, u := range ids {
		out = append(out, s.CashbackAccount(u))
	}
	return out
}

// simCashbackAccounts serves GET /_sim/cashback.
func (s *Simulator) simCashbackAccounts(w http.ResponseWriter, _ *http.Request, _ request) {
	sim.WriteJSON(w, http.StatusOK, map[string][]CashbackAccount{"accounts": s.CashbackAccounts()})
}

// simCashbackAccount serves GET /_sim/cashback/{userAuthorizationId}.
func (s *Simulator) simCashbackAccount(w http.ResponseWriter, _ *http.Request, in request) {
	sim.WriteJSON(w, http.StatusOK, s.CashbackAccount(in.params["userAuthorizationId"]))
}

// simCashback serves GET /_sim/cashbacks/{merchantCashbackId}.
func (s *Simulator) simCashback(w http.ResponseWriter, _ *http.Request, in request) {
	lc, ok := s.Cashback(in.params["merchantCashbackId"])
	if !ok {
		writeControlError(w, http.StatusNotFound, "no such cashback")
		return
	}
	sim.WriteJSON(w, http.StatusOK, lc)
}
