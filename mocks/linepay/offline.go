package linepay

import (
	"encoding/json"
	"net/http"
)

// payIn is the body of POST /v4/payments/oneTimeKeys/pay (docs/partners/linepay.md §5).
type payIn struct {
	Amount     json.RawMessage `json:"amount"`
	Currency   string          `json:"currency"`
	OrderID    string          `json:"orderId"`
	OneTimeKey string          `json:"oneTimeKey"`
	Packages   []packageIn     `json:"packages"`
	Options    optionsIn       `json:"options"`
}

// payResultInfo is the info of a v4 pay and of v4 check.
type payResultInfo struct {
	TransactionID           *jsonID   `json:"transactionId,omitempty"`
	OrderID                 string    `json:"orderId"`
	TransactionDate         string    `json:"transactionDate,omitempty"`
	Status                  string    `json:"status,omitempty"`
	PayInfo                 []payInfo `json:"payInfo,omitempty"`
	AuthorizationExpireDate string    `json:"authorizationExpireDate,omitempty"`
	PaymentProvider         string    `json:"paymentProvider,omitempty"`
	FailReturnCode          string    `json:"failReturnCode,omitempty"`
	FailReturnMessage       string    `json:"failReturnMessage,omitempty"`
}

// offlinePay serves POST /v4/payments/oneTimeKeys/pay: the till charges the customer's
// My Code. A oneTimeKey fixture that refuses records a FAILED payment (check: FAIL); an
// unknown, expired or used key (1133) records nothing.
func (s *Simulator) offlinePay(w http.ResponseWriter, _ *http.Request, in request) {
	var body payIn
	if e := decodeBody(in.body, &body); e != nil {
		writeError(w, e)
		return
	}
	var raw rawPackages
	_ = json.Unmarshal(in.body, &raw)
	amt, e := s.checkOrder(body.OrderID, body.Currency, body.Amount)
	if e == nil && body.OneTimeKey == "" {
		e = fail(codeParameterError, "Parameter error: oneTimeKey is required.")
	}
	if e == nil {
		e = checkPackages(body.Packages, body.Options, body.Currency, amt)
	}
	if e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	if _, dup := s.byOrder[body.OrderID]; dup {
		s.mu.Unlock()
		writeError(w, fail(codeDuplicateOrder))
		return
	}
	outcome := s.redeemKey(body.OneTimeKey, s.now())
	s.mu.Unlock()
	if outcome.failCode == codeBadOneTimeKey {
		writeError(w, fail(codeBadOneTimeKey))
		return
	}
	if outcome.slow {
		// LINE Pay finishes the payment whether or not the till is still waiting.
		s.sleep(s.cfg.SlowPayDelay)
	}
	s.mu.Lock()
	if _, dup := s.byOrder[body.OrderID]; dup { // paid meanwhile, during a slow pay
		s.mu.Unlock()
		writeError(w, fail(codeDuplicateOrder))
		return
	}
	now := s.now()
	p := &payment{
		kind: KindOffline, orderID: body.OrderID, currency: body.Currency, amount: amt,
		capture: body.Options.captureOption(), packages: raw.Packages, method: outcome.method, createdAt: now,
		branchID: body.Options.Extra.BranchID, branchName: body.Options.Extra.BranchName,
	}
	if outcome.failCode != "" {
		p.status, p.failCode = StatusFailed, outcome.failCode
		s.add(p)
		s.mu.Unlock()
		writeError(w, fail(outcome.failCode))
		return
	}
	p.txID, p.transactionDate = s.newTxID(now), now
	if p.capture {
		p.status, p.captured = StatusCaptured, amt
	} else {
		p.status, p.authExpiresAt = StatusAuthorized, now.Add(s.cfg.AuthorizationLifetime)
	}
	s.add(p)
	info := s.offlineInfo(p)
	info.Status = ""
	s.mu.Unlock()
	writeInfo(w, info)
}

// offlineInfo is the info of pay and check for p. Needs s.mu.
func (s *Simulator) offlineInfo(p *payment) payResultInfo {
	info := payResultInfo{OrderID: p.orderID, Status: offlineStatus(p)}
	if p.status == StatusFailed {
		info.FailReturnCode, info.FailReturnMessage = p.failCode, message(p.failCode)
		return info
	}
	id := s.jid(p.txID)
	info.TransactionID = &id
	info.TransactionDate = lineTime(p.transactionDate)
	info.PayInfo = p.payInfoOf(false)
	info.PaymentProvider = "TSP"
	if !p.capture {
		info.AuthorizationExpireDate = lineTime(p.authExpiresAt)
	}
	return info
}

// offlineStatus is v4 check's info.status (docs/partners/linepay.md §5, working model): AUTH_READY
// authorized, COMPLETE paid, REFUND fully refunded, CANCEL voided or expired, FAIL.
func offlineStatus(p *payment) string {
	switch p.status {
	case StatusAuthorized:
		return "AUTH_READY"
	case StatusCaptured:
		if p.refunded() >= p.captured {
			return "REFUND"
		}
		return "COMPLETE"
	case StatusVoided, StatusExpired:
		return "CANCEL"
	default:
		return "FAIL"
	}
}

// offlinePayment finds an Offline payment by the orderId path parameter and applies lapsed
// lifetimes: 1150 when there is none. Needs s.mu.
func (s *Simulator) offlinePayment(in request) (*payment, *apiError) {
	p := s.byOrder[in.params["orderId"]]
	if p == nil || p.kind != KindOffline {
		return nil, fail(codeNotFound)
	}
	s.expireLapsed(p, s.now())
	return p, nil
}

// offlineCheck serves GET /v4/payments/orders/{orderId}/check.
func (s *Simulator) offlineCheck(w http.ResponseWriter, _ *http.Request, in request) {
	s.mu.Lock()
	p, e := s.offlinePayment(in)
	var info payResultInfo
	if e == nil {
		info = s.offlineInfo(p)
	}
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	writeInfo(w, info)
}

// offlineVoid serves POST /v4/payments/orders/{orderId}/void.
func (s *Simulator) offlineVoid(w http.ResponseWriter, _ *http.Request, in request) {
	s.serveVoid(w, in, s.offlinePayment)
}

// offlineCapture serves POST /v4/payments/orders/{orderId}/capture.
func (s *Simulator) offlineCapture(w http.ResponseWriter, _ *http.Request, in request) {
	s.serveCapture(w, in, s.offlinePayment)
}

// offlineRefund serves POST /v4/payments/orders/{orderId}/refund.
func (s *Simulator) offlineRefund(w http.ResponseWriter, _ *http.Request, in request) {
	s.serveRefund(w, in, s.offlinePayment)
}
