package linepay

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
)

// requestIn is the body of POST /v3/payments/request (docs/partners/linepay.md §4.1).
type requestIn struct {
	Amount       json.RawMessage `json:"amount"`
	Currency     string          `json:"currency"`
	OrderID      string          `json:"orderId"`
	Packages     []packageIn     `json:"packages"`
	RedirectURLs *struct {
		ConfirmURL     string `json:"confirmUrl"`
		CancelURL      string `json:"cancelUrl"`
		ConfirmURLType string `json:"confirmUrlType"`
	} `json:"redirectUrls"`
	Options optionsIn `json:"options"`
}

// rawPackages keeps the packages exactly as sent, for Confirm and details to echo.
type rawPackages struct {
	Packages json.RawMessage `json:"packages"`
}

// paymentURL is info.paymentUrl of a request.
type paymentURL struct {
	Web string `json:"web"`
	App string `json:"app"`
}

// requestInfo is the info of a request.
type requestInfo struct {
	TransactionID      jsonID     `json:"transactionId"`
	PaymentAccessToken string     `json:"paymentAccessToken"`
	PaymentURL         paymentURL `json:"paymentUrl"`
}

// onlineRequest serves POST /v3/payments/request: a RESERVED payment waiting for the
// customer (approve it with Approve or POST /_sim/payments/{id}/approve).
func (s *Simulator) onlineRequest(w http.ResponseWriter, _ *http.Request, in request) {
	var body requestIn
	if e := decodeBody(in.body, &body); e != nil {
		writeError(w, e)
		return
	}
	var raw rawPackages
	_ = json.Unmarshal(in.body, &raw)
	amt, e := s.checkOrder(body.OrderID, body.Currency, body.Amount)
	if e == nil && (body.RedirectURLs == nil || body.RedirectURLs.ConfirmURL == "" || body.RedirectURLs.CancelURL == "") {
		e = fail(codeParameterError, "Parameter error: redirectUrls.confirmUrl and cancelUrl are required.")
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
	now := s.now()
	p := &payment{
		kind: KindOnline, orderID: body.OrderID, txID: s.newTxID(now), status: StatusReserved,
		currency: body.Currency, amount: amt, capture: body.Options.captureOption(), packages: raw.Packages,
		paymentAccessToken: digits(12), createdAt: now,
		branchID: body.Options.Extra.BranchID, branchName: body.Options.Extra.BranchName,
		confirmURL: body.RedirectURLs.ConfirmURL, cancelURL: body.RedirectURLs.CancelURL,
	}
	s.add(p)
	info := requestInfo{TransactionID: s.jid(p.txID), PaymentAccessToken: p.paymentAccessToken}
	s.mu.Unlock()
	reserveID := reserveID()
	info.PaymentURL = paymentURL{
		Web: "https://sandbox-web-pay.line.me/web/payment/wait?transactionReserveId=" + reserveID,
		App: "line://pay/payment/" + reserveID,
	}
	writeInfo(w, info)
}

// add records a new payment. Needs s.mu.
func (s *Simulator) add(p *payment) {
	s.byOrder[p.orderID] = p
	if p.txID != 0 {
		s.byTx[p.txID] = p
	}
	s.order = append(s.order, p)
}

// reserveID is the transactionReserveId of a payment URL: opaque, URL-safe.
func reserveID() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// amountCurrencyIn is the body of Confirm and Capture.
type amountCurrencyIn struct {
	Amount   json.RawMessage `json:"amount"`
	Currency string          `json:"currency"`
}

// payInfo is one entry of payInfo[].
type payInfo struct {
	Method                 string `json:"method"`
	Amount                 amount `json:"amount"`
	CreditCardBrand        string `json:"creditCardBrand,omitempty"`
	MaskedCreditCardNumber string `json:"maskedCreditCardNumber,omitempty"`
}

// payInfoOf is what the payment charged (or holds): the captured amount once captured.
func (p *payment) payInfoOf(withCard bool) []payInfo {
	a := p.amount
	if p.status == StatusCaptured {
		a = p.captured
	}
	pi := payInfo{Method: p.method, Amount: a}
	if withCard && p.method == methodCard {
		pi.CreditCardBrand, pi.MaskedCreditCardNumber = "VISA", "************1111"
	}
	return []payInfo{pi}
}

// confirmInfo is the info of Confirm.
type confirmInfo struct {
	OrderID                 string          `json:"orderId"`
	TransactionID           jsonID          `json:"transactionId"`
	PayInfo                 []payInfo       `json:"payInfo"`
	Packages                json.RawMessage `json:"packages,omitempty"`
	AuthorizationExpireDate string          `json:"authorizationExpireDate,omitempty"`
}

// onlinePayment finds an Online payment by the transactionId path parameter and applies
// lapsed lifetimes: 1150 when there is none. Needs s.mu.
func (s *Simulator) onlinePayment(in request) (*payment, *apiError) {
	id, ok := parseTxID(in.params["transactionId"])
	p := s.byTx[id]
	if !ok || p == nil || p.kind != KindOnline {
		return nil, fail(codeNotFound)
	}
	s.expireLapsed(p, s.now())
	return p, nil
}

// onlineConfirm serves POST /v3/payments/{transactionId}/confirm.
func (s *Simulator) onlineConfirm(w http.ResponseWriter, _ *http.Request, in request) {
	var body amountCurrencyIn
	if e := decodeBody(in.body, &body); e != nil {
		writeError(w, e)
		return
	}
	amt, e := s.checkAmountCurrency(body.Amount, body.Currency)
	if e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	info, e := s.confirm(in, amt, body.Currency)
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	writeInfo(w, info)
}

// confirm is Confirm with s.mu held.
func (s *Simulator) confirm(in request, amt amount, currency string) (*confirmInfo, *apiError) {
	p, e := s.onlinePayment(in)
	if e != nil {
		return nil, e
	}
	switch p.status {
	case StatusReserved:
		return nil, fail(codeNotApproved)
	case StatusCancelled:
		return nil, fail(codeExpired)
	case StatusFailed:
		return nil, fail(codeWrongStatus)
	case StatusApproved:
	default: // confirmed before
		return nil, fail(codeDuplicateOrder, "The transaction has already been confirmed.")
	}
	if amt != p.amount || currency != p.currency {
		return nil, fail(codeAmountDiffers)
	}
	now := s.now()
	p.transactionDate = now
	if p.capture {
		p.status, p.captured = StatusCaptured, p.amount
	} else {
		p.status, p.authExpiresAt = StatusAuthorized, now.Add(s.cfg.AuthorizationLifetime)
	}
	info := &confirmInfo{OrderID: p.orderID, TransactionID: s.jid(p.txID), PayInfo: p.payInfoOf(true), Packages: p.packages}
	if !p.capture {
		info.AuthorizationExpireDate = lineTime(p.authExpiresAt)
	}
	return info, nil
}

// onlineCapture serves POST /v3/payments/authorizations/{transactionId}/capture.
func (s *Simulator) onlineCapture(w http.ResponseWriter, _ *http.Request, in request) {
	s.serveCapture(w, in, s.onlinePayment)
}

// onlineVoid serves POST /v3/payments/authorizations/{transactionId}/void.
func (s *Simulator) onlineVoid(w http.ResponseWriter, _ *http.Request, in request) {
	s.serveVoid(w, in, s.onlinePayment)
}

// onlineRefund serves POST /v3/payments/{transactionId}/refund.
func (s *Simulator) onlineRefund(w http.ResponseWriter, _ *http.Request, in request) {
	s.serveRefund(w, in, s.onlinePayment)
}

// onlineCheck serves GET /v3/payments/requests/{transactionId}/check: the answer is in
// returnCode (docs/partners/linepay.md §4.3), with no info.
func (s *Simulator) onlineCheck(w http.ResponseWriter, _ *http.Request, in request) {
	s.mu.Lock()
	p, e := s.onlinePayment(in)
	var code string
	if e == nil {
		switch p.status {
		case StatusReserved:
			code = codeSuccess
		case StatusApproved:
			code = codeCheckApproved
		case StatusCancelled:
			code = codeCheckCancelled
		case StatusFailed:
			code = codeCheckFailed
		default:
			code = codeCheckCompleted
		}
	}
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	writeCode(w, code, "")
}
