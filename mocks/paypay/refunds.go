package paypay

import (
	"net/http"
)

// createRefundRequest is the body of POST /v2/refunds (docs/partners/paypay.md §4.7).
type createRefundRequest struct {
	MerchantRefundID string    `json:"merchantRefundId"`
	PaymentID        string    `json:"paymentId"`
	Amount           *amountIn `json:"amount"`
	RequestedAt      *int64    `json:"requestedAt"`
	Reason           string    `json:"reason"`
}

// createRefund serves POST /v2/refunds (and /v2/refunds/). A repeated merchantRefundId for
// the same payment answers the refund already made; nothing is refunded twice.
func (s *Simulator) createRefund(w http.ResponseWriter, _ *http.Request, in request) {
	var req createRefundRequest
	if err := decode(in.body, &req); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if err := checkMerchantID("merchantRefundId", req.MerchantRefundID); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if req.PaymentID == "" {
		writeError(w, resMissingRequest, "paymentId is required")
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
	if prev, ok := s.refunds[req.MerchantRefundID]; ok {
		if prev.paymentID != req.PaymentID {
			writeError(w, resInvalidParams, "merchantRefundId is already used for another payment")
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
	now := s.now()
	switch {
	case p.status != StatusCompleted && p.status != StatusRefunded:
		writeError(w, resUnacceptableOp, "The payment is not in a refundable state")
		return
	case !now.Before(refundCutoff(p.paidAt())):
		writeError(w, resRefundWindow, "The refund window has passed")
		return
	case amount > p.paid()-p.refunded():
		writeError(w, resRefundAmount, "Invalid refund amount")
		return
	}
	rf := &refund{
		merchantRefundID: req.MerchantRefundID,
		paymentID:        p.paymentID,
		status:           RefundRefunded,
		amount:           amount,
		reason:           req.Reason,
		requestedAt:      requestedAt,
		acceptedAt:       now,
	}
	s.refunds[rf.merchantRefundID] = rf
	p.refunds = append(p.refunds, rf)
	p.status = StatusRefunded
	// The refund settles at once, but the answer to the request that made it says CREATED
	// (accepted, in progress), as PayPay's does; every later read says REFUNDED.
	view := rf.view()
	view.Status = RefundCreated
	writeResult(w, resSuccess, "Success", view)
}

// getRefund serves GET /v2/refunds/{merchantRefundId}, with or without ?paymentId=.
func (s *Simulator) getRefund(w http.ResponseWriter, r *http.Request, in request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rf, ok := s.refunds[in.params["merchantRefundId"]]
	if pid := r.URL.Query().Get("paymentId"); ok && pid != "" && pid != rf.paymentID {
		ok = false
	}
	if !ok {
		writeError(w, resNoSuchRefundOrder, "No such refund order")
		return
	}
	writeResult(w, resSuccess, "Success", rf.view())
}
