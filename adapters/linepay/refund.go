package linepay

import (
	"context"
	"fmt"
	"net/http"

	"payhub/contracts"
)

// refundBody is the refund of §4.2 and §5. refundAmount is always sent: omitted, LINE would
// refund everything that remains.
type refundBody struct {
	RefundAmount int64 `json:"refundAmount"`
}

// Refund refunds part or all of a captured payment: Online v3 POST
// /v3/payments/{transactionId}/refund for QR payments, Offline v4 POST
// /v4/payments/orders/{orderId}/refund otherwise.
//
// LINE refunds carry no idempotency key and partial refunds add up (§6.2 rule 4), so a
// resent refund would refund twice. Before sending, the adapter reads the payment's details
// and compares LINE's refunded total with req.PriorRefunded, what payhub knows was refunded
// by the payment's other refunds:
//
//   - nothing beyond PriorRefunded: this refund has not landed; it is sent.
//   - beyond it by at least req.Amount, with a refund of exactly req.Amount in refundList:
//     this refund landed earlier (its answer was lost); OutcomeSucceeded with the latest such
//     refundTransactionId, nothing sent.
//   - anything else (less than PriorRefunded, or an excess that is not this refund): a
//     refund payhub does not know of exists; OutcomeUnknown, nothing sent, for an operator.
//   - details unreadable: OutcomeUnknown, nothing sent.
//
// This holds only if the engine sends one refund of a payment at a time, which Capabilities
// asks for (SerialRefunds), and PriorRefunded counts all its other refunds that LINE
// accepted. The currency is the payment's, which the engine checked against Capabilities.
func (a *Adapter) Refund(ctx context.Context, req contracts.RefundRequest) contracts.RefundResult {
	major, err := majorUnits(req.Amount)
	if err != nil {
		return refusedRefund("refund: " + err.Error())
	}
	if req.PriorRefunded < 0 {
		return refusedRefund("PriorRefunded must not be negative")
	}
	online := online(req.Payment.Flow)
	tx, hasTx := txOf(req.Payment)
	var path string
	switch {
	case online && !hasTx:
		return refusedRefund("no transactionId (PartnerPaymentID) to refund")
	case online:
		path = "/v3/payments/" + tx.String() + "/refund"
	case !orderIDPattern.MatchString(req.Payment.PartnerRef):
		return refusedRefund("no valid orderId (Payment.PartnerRef) to refund")
	default:
		path = offlineOrderPath(req.Payment.PartnerRef, "refund")
		tx = TxID{} // offline details go by orderId, as the refund does
	}

	if res, settled := a.landedRefund(ctx, req, online, tx); settled {
		return res
	}
	r := a.call(ctx, a.cfg.Timeouts.Refund, http.MethodPost, path, "", refundBody{RefundAmount: major}, nil)
	switch v := r.verdict(); {
	case v == verdictSuccess:
	case r.code() == codeAlreadyDone:
		// Already refunded: an earlier send may have landed. Reconcile by details.
		if res, settled := a.landedRefund(ctx, req, online, tx); settled {
			if res.Outcome != contracts.OutcomeSucceeded {
				res.PartnerCode = r.code()
			}
			return res
		}
		// The details still show exactly what payhub knew of: this refund did not land,
		// and LINE refuses it because nothing is left to refund (payhub sends one refund of
		// a payment at a time, so no other refund can be in flight).
		return contracts.RefundResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(), FailureCode: contracts.FailurePartnerRejected,
			FailureMessage: "nothing is left to refund on this payment: " + a.describe(r)}
	case v == verdictFailed || v == verdictConfig:
		msg := a.describe(r)
		switch r.code() {
		case codeAboveRefundable:
			msg = "refund amount exceeds what is still refundable on this payment: " + msg
		case codeRefundPeriodOver:
			msg = "the refund period is over: " + msg
		case codeNotRefundable:
			msg = "the payment is not refundable: " + msg
		}
		return contracts.RefundResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(),
			FailureCode: contracts.FailurePartnerRejected, FailureMessage: msg}
	default:
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: a.describe(r)}
	}
	var info refundInfo
	if err := r.env.decodeInfo(&info); err != nil || info.RefundTransactionID.IsZero() {
		// LINE said 0000: the money is on its way back, only the id is missing.
		return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded, PartnerCode: r.code(),
			FailureMessage: "LINE Pay accepted the refund without a readable refundTransactionId"}
	}
	return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded, PartnerRefundID: info.RefundTransactionID.String(), PartnerCode: r.code()}
}

// landedRefund reads the payment's details and decides whether req must not be sent
// (settled): because it already landed (OutcomeSucceeded), because the payment cannot be
// refunded (OutcomeFailed), or because payhub cannot tell (OutcomeUnknown). Not settled:
// send it.
func (a *Adapter) landedRefund(ctx context.Context, req contracts.RefundRequest, online bool, tx TxID) (contracts.RefundResult, bool) {
	row, r := a.paymentDetails(ctx, online, tx, req.Payment.PartnerRef)
	if row == nil {
		msg := "LINE Pay details list no such payment"
		if r.err != nil || r.verdict() != verdictSuccess {
			msg = a.describe(r)
		}
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "could not read the payment's refunds before refunding, so nothing was sent: " + msg}, true
	}
	switch row.PayStatus {
	case payStatusCapture, "":
	default:
		return contracts.RefundResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(), FailureCode: contracts.FailurePartnerRejected,
			FailureMessage: "the payment is " + truncate(row.PayStatus, 40) + ", not captured: nothing to refund"}, true
	}
	total, latest, err := refundedTotal(row.RefundList, req.Amount.Amount)
	if err != nil {
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "LINE Pay's refundList is unreadable, so nothing was sent: " + err.Error()}, true
	}
	excess := total - req.PriorRefunded
	switch {
	case excess == 0:
		return contracts.RefundResult{}, false
	case excess >= req.Amount.Amount && !latest.IsZero():
		return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded, PartnerRefundID: latest.String(), PartnerCode: r.code()}, true
	default:
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: fmt.Sprintf(
			"LINE Pay lists %d refunded (minor units) but payhub knows of %d before this refund of %s: "+
				"a refund payhub does not know of exists, so nothing was sent; reconcile by hand",
			total, req.PriorRefunded, req.Amount)}, true
	}
}

// refundedTotal is Σ |refundAmount| of a refundList in minor units, and the id of the
// latest refund of exactly amount (LINE lists refunds oldest first; the last match wins).
func refundedTotal(rows []refundRow, amount int64) (total int64, latest TxID, err error) {
	for _, row := range rows {
		v, err := minorUnits(row.RefundAmount)
		if err != nil {
			return 0, TxID{}, err
		}
		if v < 0 {
			v = -v
		}
		total += v
		if v == amount && !row.RefundTransactionID.IsZero() {
			latest = row.RefundTransactionID
		}
	}
	return total, latest, nil
}

// refusedRefund is a refund refused before LINE was called.
func refusedRefund(msg string) contracts.RefundResult {
	return contracts.RefundResult{Outcome: contracts.OutcomeFailed, FailureCode: contracts.FailurePartnerRejected, FailureMessage: msg}
}
