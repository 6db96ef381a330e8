package paypay

import (
	"net/http"
	"time"
)

// createPaymentRequest is the body of POST /v2/payments and POST /v2/payments/preauthorize:
// a linked-user debit (userAuthorizationId, docs/partners/paypay.md §4.4) or payhub's barcode
// stand-in (authorizationCode, §11). Exactly one of the two is present. ExpiresAt is read only
// by preauthorize: when the authorization lapses.
type createPaymentRequest struct {
	MerchantPaymentID   string    `json:"merchantPaymentId"`
	UserAuthorizationID string    `json:"userAuthorizationId"`
	AuthorizationCode   string    `json:"authorizationCode"`
	Amount              *amountIn `json:"amount"`
	RequestedAt         *int64    `json:"requestedAt"`
	StoreID             string    `json:"storeId"`
	TerminalID          string    `json:"terminalId"`
	OrderReceiptNumber  string    `json:"orderReceiptNumber"`
	OrderDescription    string    `json:"orderDescription"`
	ExpiresAt           *int64    `json:"expiresAt"`
}

// createPayment serves POST /v2/payments?agreeSimilarTransaction=….
func (s *Simulator) createPayment(w http.ResponseWriter, r *http.Request, in request) {
	s.debit(w, r, in, false)
}

// preauthorize serves POST /v2/payments/preauthorize?agreeSimilarTransaction=…: the same
// request and rules as createPayment, but the money is only blocked (AUTHORIZED) until a
// capture, revert, cancel or the authorization's expiry.
func (s *Simulator) preauthorize(w http.ResponseWriter, r *http.Request, in request) {
	s.debit(w, r, in, true)
}

// debit creates a payment charged at once (COMPLETED) or, with preAuth, authorized.
func (s *Simulator) debit(w http.ResponseWriter, r *http.Request, in request, preAuth bool) {
	var req createPaymentRequest
	if err := decode(in.body, &req); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	agree, aerr := agreeSimilar(r)
	if aerr != nil {
		writeError(w, aerr.rc, aerr.message)
		return
	}
	if err := checkMerchantID("merchantPaymentId", req.MerchantPaymentID); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if (req.UserAuthorizationID == "") == (req.AuthorizationCode == "") {
		writeError(w, resInvalidRequest, "Exactly one of userAuthorizationId and authorizationCode is required")
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

	s.mu.Lock()
	defer s.mu.Unlock()
	if p, dup := s.payments[req.MerchantPaymentID]; dup {
		// A repeat while the first is still in progress sees it in progress; afterwards the
		// id is spent (docs/partners/paypay.md §9, payhub convention).
		if p.kind != KindQR && p.status == StatusCreated {
			writeResult(w, resCreated, "Success", p.view())
			return
		}
		writeError(w, resInvalidParams, "Duplicate merchantPaymentId")
		return
	}
	now := s.now()
	var authExpiry time.Time
	if preAuth {
		if authExpiry, err = s.authorizationExpiry(req.ExpiresAt, "expiresAt", now); err != nil {
			writeError(w, err.rc, err.message)
			return
		}
	}
	kind, user := KindLinkedUser, req.UserAuthorizationID
	if req.AuthorizationCode != "" {
		kind = KindBarcode
		if user, err = s.redeemBarcode(req.AuthorizationCode, now); err != nil {
			writeError(w, err.rc, err.message)
			return
		}
	}
	if err := s.userRefusal(user); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if !agree && s.similarPaymentExists(user, amount) {
		writeError(w, resSuspectedDuplicate, "A similar payment was made in the last 5 minutes")
		return
	}
	if kind == KindBarcode {
		s.consumeBarcode(req.AuthorizationCode)
	}
	p := &payment{
		merchantPaymentID: req.MerchantPaymentID,
		paymentID:         s.newPaymentID(),
		kind:              kind,
		status:            StatusCompleted,
		amount:            amount,
		payer:             user,
		storeID:           req.StoreID,
		terminalID:        req.TerminalID,
		orderDescription:  req.OrderDescription,
		orderReceipt:      req.OrderReceiptNumber,
		requestedAt:       requestedAt,
		createdAt:         now,
		acceptedAt:        now,
	}
	if preAuth {
		p.preAuth, p.status, p.authExpiresAt = true, StatusAuthorized, authExpiry
	}
	s.addPayment(p)
	// The answer reports the payment as made; a cancel recorded before it arrived applies
	// right after, visible on the next read.
	view := p.view()
	s.applyEarlyCancel(p)
	writeResult(w, resCreated, "Success", view)
}

// agreeSimilar reads ?agreeSimilarTransaction=true|false (absent means false).
func agreeSimilar(r *http.Request) (bool, *apiError) {
	switch r.URL.Query().Get("agreeSimilarTransaction") {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, fail(resInvalidRequest, "agreeSimilarTransaction must be true or false")
}

// similarPaymentExists applies the SUSPECTED_DUPLICATE_PAYMENT guard: the same user paid
// the same amount less than 5 minutes ago (any kind of payment). Caller holds s.mu.
func (s *Simulator) similarPaymentExists(user string, amount int64) bool {
	now := s.now()
	for _, p := range s.order {
		if p.payer == user && p.amount == amount && !p.acceptedAt.IsZero() && now.Sub(p.acceptedAt) < similarWindow {
			return true
		}
	}
	return false
}

// applyEarlyCancel runs right after a payment is made (debit, or the customer paying a
// QR): it queues the payment's Transaction notification (COMPLETED or AUTHORIZED; PayPay
// notifies the payment, and the cancel that follows has no notification), then turns the
// just-completed or just-authorized payment FAILED when the merchant canceled it before it
// was paid. Caller holds s.mu.
func (s *Simulator) applyEarlyCancel(p *payment) {
	if p.status == StatusCompleted || p.status == StatusAuthorized {
		s.notify(p, p.status)
	}
	if p.cancelRequested && (p.status == StatusCompleted || p.status == StatusAuthorized) {
		p.status = StatusFailed
		p.canceledAt = s.now()
	}
}

// getPayment serves GET /v2/payments/{merchantPaymentId}.
func (s *Simulator) getPayment(w http.ResponseWriter, _ *http.Request, in request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.find(in.params["merchantPaymentId"])
	if !ok {
		writeError(w, resResourceMissing, "Payment not found")
		return
	}
	writeResult(w, resSuccess, "Success", p.view())
}

// cancelPayment serves DELETE /v2/payments/{merchantPaymentId} (docs/partners/paypay.md §4.5):
// COMPLETED becomes FAILED until 00:14:59 JST the day after acceptance, AUTHORIZED becomes
// FAILED for as long as it is authorized; a cancel before payment (or before the payment exists
// at all) is recorded and applied once paid; repeats answer 202. A captured pre-authorization
// is refunded, not canceled.
func (s *Simulator) cancelPayment(w http.ResponseWriter, _ *http.Request, in request) {
	id := in.params["merchantPaymentId"]
	if !validMerchantID(id) {
		writeError(w, resInvalidRequest, "merchantPaymentId must be at most 64 characters of [A-Za-z0-9_-]")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.find(id)
	if !ok {
		s.pendingCancels[id] = true
		writeResult(w, resRequestAccepted, "Request accepted", nil)
		return
	}
	switch p.status {
	case StatusCreated, StatusFailed:
		p.cancelRequested = true
	case StatusAuthorized:
		p.cancelRequested = true
		p.status = StatusFailed
		p.canceledAt = s.now()
	case StatusCompleted:
		if p.preAuth {
			writeError(w, resNotReversible, "A captured payment can no longer be canceled; refund instead")
			return
		}
		if !s.now().Before(cancelCutoff(p.acceptedAt)) {
			writeError(w, resNotReversible, "The cancel window has passed; refund instead")
			return
		}
		p.cancelRequested = true
		p.status = StatusFailed
		p.canceledAt = s.now()
	default:
		writeError(w, resNotReversible, "The payment can no longer be canceled")
		return
	}
	writeResult(w, resRequestAccepted, "Request accepted", nil)
}
