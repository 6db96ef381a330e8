package paypay

import (
	"encoding/json"
	"net/http"
	"time"
)

// find returns the payment for merchantPaymentID with any lapsed authorization expired.
// Every read and action goes through find or findByPaymentID, so an authorization is seen
// as EXPIRED from its expiry on without a timer. Caller holds s.mu.
func (s *Simulator) find(merchantPaymentID string) (*payment, bool) {
	p, ok := s.payments[merchantPaymentID]
	if ok {
		s.expireLapsed(p)
	}
	return p, ok
}

// findByPaymentID is find by PayPay's paymentId. Caller holds s.mu.
func (s *Simulator) findByPaymentID(paymentID string) (*payment, bool) {
	p, ok := s.byPaymentID[paymentID]
	if ok {
		s.expireLapsed(p)
	}
	return p, ok
}

// expireLapsed turns an AUTHORIZED payment EXPIRED once the simulator clock reaches its
// authorization expiry, and queues the EXPIRED notification. Caller holds s.mu.
func (s *Simulator) expireLapsed(p *payment) {
	if p.status == StatusAuthorized && !s.now().Before(p.authExpiresAt) {
		p.status = StatusExpired
		s.notify(p, StatusExpired)
	}
}

// authorizationExpiry reads an optional expiry (epoch seconds) from field: absent means
// AuthorizationLifetime from now; present, it must lie after now.
func (s *Simulator) authorizationExpiry(at *int64, field string, now time.Time) (time.Time, *apiError) {
	if at == nil {
		return now.Add(s.cfg.AuthorizationLifetime), nil
	}
	t := time.Unix(*at, 0)
	if !t.After(now) {
		return time.Time{}, fail(resInvalidRequest, field+" must be epoch seconds in the future")
	}
	return t, nil
}

// captureRequest is the body of POST /v2/payments/capture (docs/partners/paypay.md §4.6); every
// field is required.
type captureRequest struct {
	MerchantPaymentID string    `json:"merchantPaymentId"`
	Amount            *amountIn `json:"amount"`
	MerchantCaptureID string    `json:"merchantCaptureId"`
	RequestedAt       *int64    `json:"requestedAt"`
	OrderDescription  string    `json:"orderDescription"`
}

// validate checks the capture body and returns the amount and requestedAt.
func (req *captureRequest) validate() (int64, time.Time, *apiError) {
	if err := checkMerchantID("merchantPaymentId", req.MerchantPaymentID); err != nil {
		return 0, time.Time{}, err
	}
	if err := checkMerchantID("merchantCaptureId", req.MerchantCaptureID); err != nil {
		return 0, time.Time{}, err
	}
	amount, err := checkAmount(req.Amount)
	if err != nil {
		return 0, time.Time{}, err
	}
	requestedAt, err := checkRequestedAt(req.RequestedAt)
	if err != nil {
		return 0, time.Time{}, err
	}
	switch {
	case req.OrderDescription == "":
		return 0, time.Time{}, fail(resMissingRequest, "orderDescription is required")
	case len(req.OrderDescription) > 255:
		return 0, time.Time{}, fail(resInvalidRequest, "orderDescription is at most 255 characters")
	}
	return amount, requestedAt, nil
}

// capturePayment serves POST /v2/payments/capture: an AUTHORIZED payment becomes COMPLETED
// for at most the amount authorized (the rest is released). The same merchantCaptureId
// again answers exactly what the first capture answered; refusals reserve nothing.
func (s *Simulator) capturePayment(w http.ResponseWriter, _ *http.Request, in request) {
	var req captureRequest
	if err := decode(in.body, &req); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	amount, requestedAt, verr := req.validate()
	if verr != nil {
		writeError(w, verr.rc, verr.message)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.captures[req.MerchantCaptureID]; ok {
		if prev.merchantPaymentID != req.MerchantPaymentID {
			writeError(w, resInvalidParams, "merchantCaptureId is already used for another payment")
			return
		}
		writeResult(w, resSuccess, "Success", prev.response)
		return
	}
	p, ok := s.find(req.MerchantPaymentID)
	if !ok {
		writeError(w, resResourceMissing, "Payment not found")
		return
	}
	if err := capturable(p, amount); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	c := &capture{
		merchantCaptureID: req.MerchantCaptureID,
		merchantPaymentID: p.merchantPaymentID,
		amount:            amount,
		orderDescription:  req.OrderDescription,
		requestedAt:       requestedAt,
		acceptedAt:        s.now(),
	}
	p.captures = append(p.captures, c)
	p.status = StatusCompleted
	// The answer is kept as bytes so a replay is identical even after later refunds.
	raw, err := json.Marshal(p.view())
	if err != nil {
		panic("paypay sim: payment view does not marshal: " + err.Error())
	}
	c.response = raw
	s.captures[c.merchantCaptureID] = c
	s.notify(p, StatusCompleted)
	writeResult(w, resSuccess, "Success", c.response)
}

// capturable refuses a capture of amount from p, or returns nil. A higher amount than
// authorized is refused outright: the user-confirmation flow (202
// USER_CONFIRMATION_REQUIRED) is not simulated.
func capturable(p *payment, amount int64) *apiError {
	switch {
	case len(p.captures) > 0:
		return fail(resAlreadyCaptured, "The payment is already captured")
	case p.status == StatusExpired:
		return fail(resOrderExpired, "The authorization has expired")
	case p.status != StatusAuthorized:
		return fail(resNotCapturable, "The payment is not authorized")
	case amount > p.amount:
		return fail(resHigherCapture, "The capture amount exceeds the authorized amount")
	}
	return nil
}

// revertRequest is the body of POST /v2/payments/preauthorize/revert
// (docs/partners/paypay.md §4.6).
type revertRequest struct {
	MerchantRevertID string `json:"merchantRevertId"`
	PaymentID        string `json:"paymentId"`
	RequestedAt      *int64 `json:"requestedAt"`
	Reason           string `json:"reason"`
}

// revertView is the data of a revert answer.
type revertView struct {
	Status      string `json:"status"`
	AcceptedAt  int64  `json:"acceptedAt"`
	PaymentID   string `json:"paymentId"`
	RequestedAt int64  `json:"requestedAt"`
	Reason      string `json:"reason,omitempty"`
}

func (r *revert) view() revertView {
	return revertView{
		Status: StatusCanceled, AcceptedAt: r.acceptedAt.Unix(), PaymentID: r.paymentID,
		RequestedAt: r.requestedAt.Unix(), Reason: r.reason,
	}
}

// revertAuthorization serves POST /v2/payments/preauthorize/revert: an AUTHORIZED payment,
// named by PayPay's paymentId, becomes CANCELED and its money is released. The same
// merchantRevertId for the same payment answers the revert already made.
func (s *Simulator) revertAuthorization(w http.ResponseWriter, _ *http.Request, in request) {
	var req revertRequest
	if err := decode(in.body, &req); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if err := checkMerchantID("merchantRevertId", req.MerchantRevertID); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if req.PaymentID == "" {
		writeError(w, resMissingRequest, "paymentId is required")
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
	if prev, ok := s.reverts[req.MerchantRevertID]; ok {
		if prev.paymentID != req.PaymentID {
			writeError(w, resInvalidParams, "merchantRevertId is already used for another payment")
			return
		}
		writeResult(w, resSuccess, "Success", prev.view())
		return
	}
	p, ok := s.findByPaymentID(req.PaymentID)
	if !ok {
		writeError(w, resResourceMissing, "Payment not found")
		return
	}
	if p.status != StatusAuthorized {
		writeError(w, resOrderNotCancelable, "Only an authorized payment can be reverted")
		return
	}
	rv := &revert{
		merchantRevertID: req.MerchantRevertID,
		paymentID:        p.paymentID,
		reason:           req.Reason,
		requestedAt:      requestedAt,
		acceptedAt:       s.now(),
	}
	s.reverts[rv.merchantRevertID] = rv
	p.revert = rv
	p.status = StatusCanceled
	s.notify(p, StatusCanceled)
	writeResult(w, resSuccess, "Success", rv.view())
}
