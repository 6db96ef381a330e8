package linepay

import (
	"encoding/json"
	"net/http"
)

// finder locates the payment an operation acts on (by transactionId or orderId) and
// applies lapsed lifetimes. Needs s.mu.
type finder func(in request) (*payment, *apiError)

// captureInfo is the info of a capture.
type captureInfo struct {
	OrderID       string    `json:"orderId"`
	TransactionID jsonID    `json:"transactionId"`
	PayInfo       []payInfo `json:"payInfo"`
}

// serveCapture captures an authorization, up to the authorized amount (1184); a smaller
// capture releases the rest. Only AUTHORIZED payments: EXPIRED → 1180, others → 1179.
func (s *Simulator) serveCapture(w http.ResponseWriter, in request, find finder) {
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
	info, e := func() (*captureInfo, *apiError) {
		p, e := find(in)
		if e != nil {
			return nil, e
		}
		switch {
		case p.status == StatusExpired:
			return nil, fail(codeExpired)
		case p.status != StatusAuthorized:
			return nil, fail(codeWrongStatus)
		case amt > p.amount:
			return nil, fail(codeAboveAuthorized)
		}
		p.status, p.captured = StatusCaptured, amt
		return &captureInfo{OrderID: p.orderID, TransactionID: s.jid(p.txID), PayInfo: p.payInfoOf(false)}, nil
	}()
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	writeInfo(w, info)
}

// serveVoid voids an authorization: AUTHORIZED → VOIDED, bare envelope. Captured → 1155
// (refund instead), voided → 1165, expired → 1180, anything else → 1179. No body and {}
// are both accepted.
func (s *Simulator) serveVoid(w http.ResponseWriter, in request, find finder) {
	var body struct{}
	if e := decodeOptionalBody(in.body, &body); e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	e := func() *apiError {
		p, e := find(in)
		if e != nil {
			return e
		}
		switch p.status {
		case StatusAuthorized:
			p.status = StatusVoided
			return nil
		case StatusCaptured:
			return fail(codeNotRefundable, "Captured transactions cannot be voided; refund them.")
		case StatusVoided:
			return fail(codeAlreadyDone)
		case StatusExpired:
			return fail(codeExpired)
		default:
			return fail(codeWrongStatus)
		}
	}()
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	writeInfo(w, nil)
}

// refundIn is the body of a refund; an absent refundAmount refunds all that remains.
type refundIn struct {
	RefundAmount json.RawMessage `json:"refundAmount"`
}

// refundInfo is the info of a refund.
type refundInfo struct {
	RefundTransactionID   jsonID `json:"refundTransactionId"`
	RefundTransactionDate string `json:"refundTransactionDate"`
}

// serveRefund refunds a captured payment, partially and repeatedly up to what was captured:
// not captured → 1155, nothing left → 1165, more than what is left → 1164. Each refund gets
// a new refundTransactionId.
func (s *Simulator) serveRefund(w http.ResponseWriter, in request, find finder) {
	var body refundIn
	if e := decodeOptionalBody(in.body, &body); e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	info, e := func() (*refundInfo, *apiError) {
		p, e := find(in)
		if e != nil {
			return nil, e
		}
		if p.status != StatusCaptured {
			return nil, fail(codeNotRefundable)
		}
		var amt amount
		if present(body.RefundAmount) {
			if amt, e = parseAmount(body.RefundAmount, p.currency); e != nil {
				return nil, e
			}
		}
		left := p.captured - p.refunded()
		switch {
		case left <= 0:
			return nil, fail(codeAlreadyDone)
		case amt > left:
			return nil, fail(codeAboveRefundable)
		case amt == 0:
			amt = left
		}
		now := s.now()
		r := &refund{id: s.newTxID(now), amount: amt, at: now}
		p.refunds = append(p.refunds, r)
		s.refundOf[r.id] = p
		return &refundInfo{RefundTransactionID: s.jid(r.id), RefundTransactionDate: lineTime(now)}, nil
	}()
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	writeInfo(w, info)
}
