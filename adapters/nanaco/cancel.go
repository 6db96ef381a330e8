package nanaco

import (
	"context"

	"payhub/contracts"
)

// cancelBody is the request of the three same-day cancels (§B5): a key of its own and the
// original's centerTxnId.
type cancelBody struct {
	TerminalSeq   int    `json:"terminalSeq"`
	BusinessDate  string `json:"businessDate"`
	OriginalTxnID string `json:"originalTxnId"`
	MerchantRef   string `json:"merchantRef,omitempty"`
}

// cancelKind is one of the same-day cancels.
type cancelKind struct {
	// op and path are the cancel's; inquiryOp names the inquiry that learns the original's
	// centerTxnId when the caller does not know it.
	op, path, inquiryOp string
	// origType is the original transaction's type (§B4).
	origType string
	// refundedIsWindow: ALREADY_REFUNDED (a payment with a refund cannot be cancelled) is
	// OutcomeWindowPassed, so the engine re-credits the rest with a refund.
	refundedIsWindow bool
}

var (
	paymentCancel  = cancelKind{op: "payment_cancel", path: pathPaymentCancel, inquiryOp: "payment_inquiry", origType: typePayment, refundedIsWindow: true}
	chargeCancel   = cancelKind{op: "charge_cancel", path: pathChargeCancel, inquiryOp: "charge_inquiry", origType: typeCharge}
	transferCancel = cancelKind{op: "transfer_cancel", path: pathTransferCancel, inquiryOp: "transfer_inquiry", origType: typeTransfer}
)

// CancelValueResult is the answer to a same-day cancel of a top-up or a transfer (and,
// inside CancelPayment, of a payment).
type CancelValueResult struct {
	// Outcome is OutcomeSucceeded (cancelled, already cancelled, or nothing to cancel),
	// OutcomeWindowPassed (another terminal or day, after the cutoff, or a terminal that
	// cannot cancel), OutcomeFailed (refused: FailureCode) or OutcomeUnknown.
	Outcome contracts.Outcome
	// CenterTxnID is the cancel's own centerTxnId, when one was made.
	CenterTxnID string
	// BalanceAfter and CenterHeldAfter are the card's values after the cancel, when NCS says.
	BalanceAfter, CenterHeldAfter int64
	// PartnerCode is the NCS code (or the cancel's status).
	PartnerCode string
	// FailureCode is payhub's failure code when Outcome is OutcomeFailed.
	FailureCode string
	// Message explains a refusal, an unknown outcome or a trivial success.
	Message string
}

// cancelKeyed cancels the operation keyed by orig (§B5): the cancel's key is orig's
// terminal and date with the sequence plus CancelSeqOffset, so a retry re-sends identical
// bytes and is replayed. Without originalTxnID (the original's answer was lost) the
// inquiry learns it first; found:false means there is nothing to cancel, and the key is
// now fenced.
func (a *Adapter) cancelKeyed(ctx context.Context, kind cancelKind, orig contracts.SequenceRef, originalTxnID string) CancelValueResult {
	if err := checkKey(orig); err != nil {
		a.logUnsent(ctx, kind.op, FailurePartnerConfig, err.Error())
		return CancelValueResult{Outcome: contracts.OutcomeFailed, FailureCode: FailurePartnerConfig, Message: err.Error()}
	}
	if originalTxnID != "" && !centerTxnPattern.MatchString(originalTxnID) {
		msg := "the original's id " + truncate(originalTxnID, 40) + " is not a centerTxnId (NC + 18 digits)"
		a.logUnsent(ctx, kind.op, FailurePartnerConfig, msg)
		return CancelValueResult{Outcome: contracts.OutcomeFailed, FailureCode: FailurePartnerConfig, Message: msg}
	}
	if originalTxnID == "" {
		q, r := a.inquire(ctx, kind.inquiryOp, orig)
		switch {
		case !r.ok():
			return CancelValueResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
				Message: "could not learn the original's centerTxnId, so nothing was cancelled: " + a.describe(r, contracts.PresentedCard{})}
		case !*q.Found:
			return CancelValueResult{Outcome: contracts.OutcomeSucceeded, PartnerCode: "NOT_FOUND",
				Message: "NCS has no transaction under " + orig.String() + ": nothing to cancel, and the inquiry fenced the key"}
		case q.Type != "" && q.Type != kind.origType:
			return CancelValueResult{Outcome: contracts.OutcomeUnknown, PartnerCode: truncate(q.Status, 40),
				Message: "the key " + orig.String() + " holds a " + truncate(q.Type, 40) + ", not a " + kind.origType}
		}
		switch q.Status {
		case statusCancelled, statusReversed:
			return CancelValueResult{Outcome: contracts.OutcomeSucceeded, PartnerCode: q.Status,
				Message: "NCS reports the original " + q.Status + ": nothing left to cancel"}
		case statusInProgress:
			return CancelValueResult{Outcome: contracts.OutcomeUnknown, PartnerCode: q.Status,
				Message: "NCS is still processing the original (IN_PROGRESS): ask again shortly"}
		}
		originalTxnID = q.CenterTxnID
	}
	ck := cancelKey(orig)
	r := a.send(ctx, call{op: kind.op, path: kind.path, terminal: ck.Terminal, key: &ck, timeout: a.cfg.Timeouts.Cancel,
		body: cancelBody{TerminalSeq: ck.Seq, BusinessDate: ck.BusinessDate, OriginalTxnID: originalTxnID, MerchantRef: ck.String()}})
	switch {
	case r.ok():
	case r.definite():
		res := CancelValueResult{PartnerCode: r.code(), Message: a.describe(r, contracts.PresentedCard{})}
		switch code := r.code(); {
		case code == codeCancelWindowExpired || code == codeCancelNotSupported || code == codeTerminalMismatch ||
			code == codeBusinessDateInvalid || (kind.refundedIsWindow && code == codeAlreadyRefunded):
			// BUSINESS_DATE_INVALID: the cancel's new key carries the original's business
			// date, and the centre's date has moved on (§B3): the same-day window is over.
			res.Outcome = contracts.OutcomeWindowPassed
		case code == codeAlreadyCancelled:
			res.Outcome = contracts.OutcomeSucceeded
		default:
			res.Outcome, res.FailureCode = contracts.OutcomeFailed, failureCode(code)
		}
		return res
	default:
		return CancelValueResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), Message: a.describe(r, contracts.PresentedCard{})}
	}
	t, err := parseTxn(r.body, ck)
	switch {
	case err != nil:
		return CancelValueResult{Outcome: contracts.OutcomeUnknown,
			Message: "NCS answered the cancel with HTTP 200 but the answer is unreadable (send it again: it is replayed): " + err.Error()}
	case t.OriginalTxnID != "" && t.OriginalTxnID != originalTxnID:
		return CancelValueResult{Outcome: contracts.OutcomeUnknown, CenterTxnID: t.CenterTxnID,
			Message: "NCS answered the cancel about " + t.OriginalTxnID + ", not " + originalTxnID}
	}
	return CancelValueResult{Outcome: contracts.OutcomeSucceeded, CenterTxnID: t.CenterTxnID, PartnerCode: truncate(t.Status, 40),
		BalanceAfter: value(t.BalanceAfter), CenterHeldAfter: value(t.CenterHeldAfter)}
}

// CancelPayment cancels a payment the same day on the same terminal: POST
// /ncs/v1/payments/cancel keyed by the payment's terminal and business date with its
// sequence plus CancelSeqOffset, originalTxnId = ref.PartnerPaymentID (asked of the
// inquiry when empty; found:false: nothing to cancel, OutcomeSucceeded). A terminal, day
// or cutoff that does not allow it (CANCEL_WINDOW_EXPIRED, CANCEL_NOT_SUPPORTED,
// TERMINAL_MISMATCH, or BUSINESS_DATE_INVALID: the centre's business date is no longer the
// payment's), or a payment that already has a refund, is OutcomeWindowPassed: the
// engine re-credits with a refund instead (§B6). ALREADY_CANCELLED is OutcomeSucceeded.
func (a *Adapter) CancelPayment(ctx context.Context, ref contracts.PaymentRef) contracts.CancelResult {
	orig, err := parseRef(ref.PartnerRef)
	if err != nil {
		a.logUnsent(ctx, paymentCancel.op, FailurePartnerConfig, err.Error())
		return contracts.CancelResult{Outcome: contracts.OutcomeFailed, Message: err.Error()}
	}
	res := a.cancelKeyed(ctx, paymentCancel, orig, ref.PartnerPaymentID)
	return contracts.CancelResult{Outcome: res.Outcome, PartnerCode: res.PartnerCode, Message: res.Message}
}
