package gmopg

import (
	"context"
	"fmt"
	"strconv"

	"payhub/contracts"
)

// accessParams is the AccessID/AccessPass pair for calls, from the trade GMO just answered
// (payhub's stored secret is only a fallback: SearchTrade is read before every change).
func accessParams(t trade) []param {
	return []param{{"AccessID", t.AccessID}, {"AccessPass", t.AccessPass}}
}

// lookup reads the order before a change. ok false carries the reason.
func (a *Adapter) lookup(ctx context.Context, ref contracts.PaymentRef) (trade, reply, string, bool) {
	orderID, err := OrderID(ref.PartnerRef)
	if err != nil {
		return trade{}, reply{err: err}, "", false
	}
	t, r, found := a.searchTrade(ctx, orderID)
	return t, r, orderID, found
}

// CapturePayment captures an authorization (AUTH) with AlterTran SALES. SALES must carry
// the authorised amount (E01060010), so a partial capture first lowers the authorisation
// with ChangeTran (JobCd AUTH). SearchTrade is read first: an order already in SALES with
// the requested amount is this capture landed earlier (OutcomeSucceeded); with another
// amount it is OutcomeUnknown (the money of this payment was taken). A reversed order is
// OutcomeFailed. The result's PartnerSecret carries the captured amount for later refunds.
func (a *Adapter) CapturePayment(ctx context.Context, req contracts.CaptureRequest) contracts.PaymentResult {
	if req.Amount.Currency != contracts.JPY || req.Amount.Amount <= 0 {
		return failedPayment("", contracts.FailurePartnerRejected, "capture amount must be positive JPY")
	}
	t, r, _, found := a.lookup(ctx, req.Payment)
	if !found {
		if r.err == nil && hasInfo(r.resp.Errors, infoNoSuchTrade) {
			return failedPayment(r.code(), contracts.FailurePartnerRejected, "GMO has no such order to capture")
		}
		return unknownPayment(r.code(), "could not read the order before capturing, so nothing was sent: "+a.describe(callSearchTrade, r))
	}
	sec, _ := parseSecret(req.Payment.PartnerSecret)
	sec.AccessID, sec.AccessPass = t.AccessID, t.AccessPass
	if sec.JobCd == "" {
		sec.JobCd = jobAuth
	}
	captured := func(code string) contracts.PaymentResult {
		s := sec
		s.Captured = req.Amount.Amount
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, PartnerPaymentID: t.TranID, PartnerCode: code,
			AmountCaptured: req.Amount.Amount, PartnerSecret: s.encode(), Card: t.card()}
	}
	switch t.Status {
	case jobAuth, jobSAuth:
	case jobSales, jobCapture:
		if t.Amount == req.Amount.Amount {
			return captured(t.Status)
		}
		return unknownPayment(t.Status, fmt.Sprintf("the payment was already captured with %d JPY, not %s", t.Amount, req.Amount))
	case jobVoid, jobReturn, jobReturnX:
		return failedPayment(t.Status, contracts.FailurePartnerRejected, "the authorization was released ("+t.Status+"): nothing to capture")
	default:
		return failedPayment(t.Status, contracts.FailurePartnerRejected, "the payment is not authorized at GMO (status "+truncate(t.Status, 16)+")")
	}
	if req.Amount.Amount > t.Amount {
		return failedPayment(t.Status, contracts.FailurePartnerRejected, fmt.Sprintf("capture of %s exceeds the authorized %d JPY", req.Amount, t.Amount))
	}
	if req.Amount.Amount < t.Amount {
		cr := a.callRetry(ctx, a.cfg.Timeouts.Alter, callChangeTran, append(a.shop(), append(accessParams(t),
			param{"JobCd", jobAuth}, param{"Amount", strconv.FormatInt(req.Amount.Amount, 10)})...))
		switch c := cr.class(); {
		case cr.ok():
		case final(c) || c == classRetryable:
			return failedPayment(cr.code(), failureOf(c, cr.resp.Errors), "lowering the authorization for a partial capture was refused; nothing was captured: "+a.describe(callChangeTran, cr))
		default:
			return unknownPayment(cr.code(), "lowering the authorization for a partial capture: "+a.describe(callChangeTran, cr))
		}
	}
	ar := a.callRetry(ctx, a.cfg.Timeouts.Alter, callAlterTran, append(a.shop(), append(accessParams(t),
		param{"JobCd", jobSales}, param{"Amount", strconv.FormatInt(req.Amount.Amount, 10)})...))
	switch c := ar.class(); {
	case ar.ok():
		res := captured("")
		if id := ar.resp.get("TranID"); id != "" {
			res.PartnerPaymentID = id
		}
		return res
	case c == classSettled:
		return a.captureBySearch(ctx, req, sec, ar)
	case final(c) || c == classRetryable:
		res := failedPayment(ar.code(), failureOf(c, ar.resp.Errors), a.describe(callAlterTran, ar))
		if req.Amount.Amount < t.Amount {
			// The authorization was lowered but not captured: say so.
			res.FailureMessage = "the authorization now holds " + strconv.FormatInt(req.Amount.Amount, 10) + " JPY; " + res.FailureMessage
		}
		return res
	default:
		return unknownPayment(ar.code(), a.describe(callAlterTran, ar))
	}
}

// captureBySearch settles a capture GMO called already settled.
func (a *Adapter) captureBySearch(ctx context.Context, req contracts.CaptureRequest, sec secret, r reply) contracts.PaymentResult {
	t, _, _, found := a.lookup(ctx, req.Payment)
	if found && (t.Status == jobSales || t.Status == jobCapture) && t.Amount == req.Amount.Amount {
		sec.Captured = req.Amount.Amount
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, PartnerPaymentID: t.TranID, PartnerCode: r.code(),
			AmountCaptured: req.Amount.Amount, PartnerSecret: sec.encode(), Card: t.card()}
	}
	return unknownPayment(r.code(), a.describe(callAlterTran, r))
}

// CancelPayment reverses the payment at GMO, reading SearchTrade first: an authorization
// or a captured payment is reversed in full with AlterTran VOID on its JST processing
// day, else RETURN (an authorization, or later in the same JST month) or RETURNX (after a
// month boundary); if GMO refuses VOID as not allowed (E11010003), RETURN is tried once.
// An order already VOID/RETURN/RETURNX is OutcomeSucceeded (a repeat). An order GMO never
// executed (UNPROCESSED) or one waiting for 3-D Secure (AUTHENTICATED; payhub will never
// call SecureTran2 for it) holds no money: OutcomeSucceeded without a call. An order GMO
// does not know is OutcomeSucceeded too (nothing exists to reverse).
func (a *Adapter) CancelPayment(ctx context.Context, ref contracts.PaymentRef) contracts.CancelResult {
	t, r, _, found := a.lookup(ctx, ref)
	if !found {
		if r.err == nil && hasInfo(r.resp.Errors, infoNoSuchTrade) {
			return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded, PartnerCode: r.code(), Message: "GMO has no such order: nothing to cancel"}
		}
		return contracts.CancelResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			Message: "could not read the order before canceling, so nothing was sent: " + a.describe(callSearchTrade, r)}
	}
	switch t.Status {
	case statusEntry, statusTds:
		return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded, PartnerCode: t.Status, Message: "no money was authorized (" + t.Status + "): nothing to reverse"}
	case jobVoid, jobReturn, jobReturnX:
		return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded, PartnerCode: t.Status}
	case jobAuth, jobSAuth, jobCapture, jobSales:
	default:
		return contracts.CancelResult{Outcome: contracts.OutcomeUnknown, PartnerCode: t.Status, Message: "GMO reports status " + truncate(t.Status, 16) + ", which payhub does not use"}
	}
	job := reversalJob(parseGMOTime(t.ProcessDate), a.cfg.Now(), t.Status == jobAuth || t.Status == jobSAuth)
	res := a.reverse(ctx, ref, t, job)
	return contracts.CancelResult{Outcome: res.Outcome, PartnerCode: res.PartnerCode, Message: res.FailureMessage}
}

// reverse sends AlterTran job (VOID/RETURN/RETURNX) for the whole order; a VOID refused as
// not allowed in this state falls back to RETURN once. The answer is a RefundResult (its
// Outcome is Succeeded, Failed or Unknown).
func (a *Adapter) reverse(ctx context.Context, ref contracts.PaymentRef, t trade, job string) contracts.RefundResult {
	r := a.callRetry(ctx, a.cfg.Timeouts.Alter, callAlterTran, append(a.shop(), append(accessParams(t), param{"JobCd", job})...))
	if job == jobVoid && !r.ok() && hasInfo(r.resp.Errors, infoJobNotAllowed) {
		job = jobReturn
		r = a.callRetry(ctx, a.cfg.Timeouts.Alter, callAlterTran, append(a.shop(), append(accessParams(t), param{"JobCd", job})...))
	}
	switch c := r.class(); {
	case r.ok():
		return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded, PartnerCode: job, PartnerRefundID: r.resp.get("TranID")}
	case c == classSettled:
		// Probably reversed already: confirm.
		if t2, _, _, found := a.lookup(ctx, ref); found && (t2.Status == jobVoid || t2.Status == jobReturn || t2.Status == jobReturnX) {
			return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded, PartnerCode: t2.Status, PartnerRefundID: t2.TranID}
		}
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: a.describe(callAlterTran+" "+job, r)}
	case final(c) || c == classRetryable:
		return contracts.RefundResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(), FailureCode: failureOf(c, r.resp.Errors),
			FailureMessage: a.describe(callAlterTran+" "+job, r)}
	default:
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: a.describe(callAlterTran+" "+job, r)}
	}
}

// Refund refunds part or all of a captured payment. GMO has no refund object: a full
// refund (the whole current amount) reverses the order with AlterTran VOID / RETURN /
// RETURNX by date (see CancelPayment); a partial one lowers the order's amount with
// ChangeTran (JobCd CAPTURE). GMO keeps no refund object, so PartnerRefundID is the TranID
// GMO gave the reversing or changing transaction (from SearchTrade when it landed before).
//
// Idempotency without a refund id: the order is read first and refunded-so-far is
// base − current amount (everything, once reversed), where base is the captured amount
// (kept in PartnerSecret by CapturePayment, else Payment.Amount for an automatic capture):
//
//   - refunded-so-far == PriorRefunded + Amount: this refund landed before; OutcomeSucceeded,
//     nothing sent.
//   - refunded-so-far == PriorRefunded: not landed; sent, unless Amount exceeds what is left
//     (OutcomeFailed, nothing sent; also when nothing is left).
//   - anything else: a change payhub does not know of; OutcomeUnknown, nothing sent.
//
// A captured authorization's base is the captured amount from PartnerSecret; without it, a
// SALES order has refunded nothing (a partial refund makes it CAPTURE), so its amount is
// the base; for a partially refunded one the base is inferred between GMO's amount and
// Payment.Amount, and when both readings fit the answer is OutcomeUnknown.
func (a *Adapter) Refund(ctx context.Context, req contracts.RefundRequest) contracts.RefundResult {
	refuse := func(msg string) contracts.RefundResult {
		return contracts.RefundResult{Outcome: contracts.OutcomeFailed, FailureCode: contracts.FailurePartnerRejected, FailureMessage: msg}
	}
	if req.Amount.Currency != contracts.JPY || req.Amount.Amount <= 0 {
		return refuse("refund amount must be positive JPY")
	}
	if req.PriorRefunded < 0 {
		return refuse("PriorRefunded must not be negative")
	}
	original := req.Payment.Amount.Amount
	if req.PriorRefunded+req.Amount.Amount > original {
		return refuse(fmt.Sprintf("refund of %s exceeds what is left of the payment (%d JPY of %d refunded before)", req.Amount, req.PriorRefunded, original))
	}
	t, r, _, found := a.lookup(ctx, req.Payment)
	if !found {
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "could not read the order before refunding, so nothing was sent: " + a.describe(callSearchTrade, r)}
	}
	sec, _ := parseSecret(req.Payment.PartnerSecret)
	reversed := t.Status == jobVoid || t.Status == jobReturn || t.Status == jobReturnX
	switch {
	case reversed, t.Status == jobCapture, t.Status == jobSales:
	default:
		return contracts.RefundResult{Outcome: contracts.OutcomeFailed, PartnerCode: t.Status, FailureCode: contracts.FailurePartnerRejected,
			FailureMessage: "the payment is not captured at GMO (status " + truncate(t.Status, 16) + "): nothing to refund"}
	}
	prior, amount := req.PriorRefunded, req.Amount.Amount
	current := t.Amount
	if reversed {
		current = 0
	}
	base := original
	switch {
	case sec.Captured > 0:
		base = sec.Captured
	case t.Status == jobSales:
		// A partial refund turns the order into CAPTURE (ChangeTran's JobCd is the
		// resulting kind), so a SALES order has refunded nothing: its amount is the
		// captured amount.
		base = current
	case t.Status == jobCapture && sec.JobCd == jobAuth:
		// A captured authorization, partially refunded, whose captured amount payhub did
		// not hand back: it is current+prior (refund not landed) or current+prior+amount
		// (landed), at most Payment.Amount. Only one reading may fit.
		notLanded, landed := current+prior, current+prior+amount
		switch {
		case landed <= original:
			return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: t.Status, FailureMessage: fmt.Sprintf(
				"the captured amount of this authorization is not known and GMO's amount of %d JPY fits both a landed and an unsent refund: nothing was sent; reconcile by hand", t.Amount)}
		case notLanded <= original:
			base = notLanded
		}
	}
	refunded := base - current
	switch {
	case refunded == prior+amount:
		return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded, PartnerCode: t.Status, PartnerRefundID: t.TranID}
	case refunded != prior:
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: t.Status, FailureMessage: fmt.Sprintf(
			"GMO's order shows %d JPY refunded but payhub knows of %d before this refund of %s: a change payhub does not know of exists, so nothing was sent; reconcile by hand",
			refunded, prior, req.Amount)}
	case current == 0:
		return contracts.RefundResult{Outcome: contracts.OutcomeFailed, PartnerCode: t.Status, FailureCode: contracts.FailurePartnerRejected,
			FailureMessage: "nothing is left to refund on this payment"}
	case amount > current:
		return contracts.RefundResult{Outcome: contracts.OutcomeFailed, PartnerCode: t.Status, FailureCode: contracts.FailurePartnerRejected,
			FailureMessage: fmt.Sprintf("refund of %s exceeds the %d JPY left on this payment", req.Amount, current)}
	case amount == current:
		return a.reverse(ctx, req.Payment, t, reversalJob(parseGMOTime(t.ProcessDate), a.cfg.Now(), false))
	}
	cr := a.callRetry(ctx, a.cfg.Timeouts.Alter, callChangeTran, append(a.shop(), append(accessParams(t),
		param{"JobCd", jobCapture}, param{"Amount", strconv.FormatInt(current-amount, 10)})...))
	switch c := cr.class(); {
	case cr.ok():
		return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded, PartnerCode: jobCapture, PartnerRefundID: cr.resp.get("TranID")}
	case final(c) || c == classRetryable:
		return contracts.RefundResult{Outcome: contracts.OutcomeFailed, PartnerCode: cr.code(), FailureCode: failureOf(c, cr.resp.Errors),
			FailureMessage: a.describe(callChangeTran, cr)}
	default:
		return contracts.RefundResult{Outcome: contracts.OutcomeUnknown, PartnerCode: cr.code(), FailureMessage: a.describe(callChangeTran, cr)}
	}
}
