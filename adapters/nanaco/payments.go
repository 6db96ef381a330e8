package nanaco

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"payhub/contracts"
)

// NCS v1 operation paths below BasePath (docs/partners/nanaco.md §B5).
const (
	pathPayments       = "/payments"
	pathPaymentCancel  = "/payments/cancel"
	pathRefunds        = "/refunds"
	pathCharges        = "/charges"
	pathChargeCancel   = "/charges/cancel"
	pathTransfers      = "/transfers"
	pathTransferCancel = "/transfers/cancel"
	pathTxnInquiry     = "/transactions/inquiry"
	pathCardInquiry    = "/cards/inquiry"
)

// payBody is the /payments request (§B5). Field order is fixed, and nothing in it comes
// from a clock or a random source: the same request always gives the same bytes (§B3).
// pointEligibleAmount is not sent (0: no points) because payhub's payment request carries
// no pre-tax breakdown; refunds then reverse no points either.
type payBody struct {
	TerminalSeq  int    `json:"terminalSeq"`
	BusinessDate string `json:"businessDate"`
	NanacoNumber string `json:"nanacoNumber,omitempty"`
	IDm          string `json:"idm,omitempty"`
	Amount       int64  `json:"amount"`
	AllowPartial bool   `json:"allowPartial,omitempty"`
	MerchantRef  string `json:"merchantRef,omitempty"`
}

// inquiryBody is the /transactions/inquiry request by key (§B5); the terminal is the
// caller's (NCS-Terminal-Id), which the adapter sets to the key's terminal.
type inquiryBody struct {
	BusinessDate string `json:"businessDate"`
	TerminalSeq  int    `json:"terminalSeq"`
}

// CreatePayment debits a nanaco: POST /ncs/v1/payments keyed by the SequenceRef in
// req.PartnerRef (§B3), with the barcode's number (FlowBarcode) or the reader's number
// and/or IDm (FlowCardPresent), and allowPartial for split tender. APPROVED and
// PENDING_CONFIRMATION are OutcomeSucceeded (the latter provisionally, PartnerCode
// "PENDING_CONFIRMATION": a later inquiry may find it REVERSED, §B6); a NOT_PROCESSED
// error is OutcomeFailed with its failure code; anything else is OutcomeUnknown (§B6).
// Requests the adapter cannot put on the wire are refused without a call.
func (a *Adapter) CreatePayment(ctx context.Context, req contracts.PaymentRequest) contracts.PaymentResult {
	key, err := parseRef(req.PartnerRef)
	if err != nil {
		return a.unsentPayment(ctx, "pay", FailurePartnerConfig, err.Error())
	}
	switch {
	case req.Amount.Currency != contracts.JPY:
		return a.unsentPayment(ctx, "pay", contracts.FailurePartnerRejected, "nanaco takes JPY only, not "+string(req.Amount.Currency))
	case req.Amount.Amount < 1:
		return a.unsentPayment(ctx, "pay", contracts.FailurePartnerRejected, "the amount must be at least ¥1")
	case req.CaptureMethod == contracts.CaptureManual:
		return a.unsentPayment(ctx, "pay", contracts.FailurePartnerRejected, "nanaco has no manual capture")
	}
	var card contracts.PresentedCard
	switch req.Flow {
	case contracts.FlowBarcode:
		if !barcodePattern.MatchString(req.Barcode) {
			return a.unsentPayment(ctx, "pay", contracts.FailureBarcodeInvalid, "the scanned code is not a nanaco barcode (16 digits beginning with 7)")
		}
		card.Number = req.Barcode
	case contracts.FlowCardPresent:
		if req.Card == nil {
			return a.unsentPayment(ctx, "pay", FailureCardNotFound, "a card_present payment without a card read")
		}
		if err := checkCard(*req.Card); err != nil {
			return a.unsentPayment(ctx, "pay", FailureCardNotFound, err.Error())
		}
		card = contracts.PresentedCard{Number: req.Card.Number, IDm: strings.ToUpper(req.Card.IDm)}
	default:
		return a.unsentPayment(ctx, "pay", contracts.FailurePartnerRejected, "nanaco has no call for flow "+string(req.Flow))
	}
	r := a.send(ctx, call{op: "pay", path: pathPayments, terminal: key.Terminal, key: &key, card: card, timeout: a.cfg.Timeouts.Pay,
		body: payBody{TerminalSeq: key.Seq, BusinessDate: key.BusinessDate, NanacoNumber: card.Number, IDm: card.IDm,
			Amount: req.Amount.Amount, AllowPartial: req.AllowPartial, MerchantRef: key.String()}})
	return a.payResult(r, req, key, card)
}

// payResult reads the answer of /payments.
func (a *Adapter) payResult(r reply, req contracts.PaymentRequest, key contracts.SequenceRef, card contracts.PresentedCard) contracts.PaymentResult {
	switch {
	case r.ok():
	case r.definite():
		res := contracts.PaymentResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(), FailureCode: failureCode(r.code()),
			FailureMessage: a.describe(r, card)}
		if b, ok := r.ncs.Details["balance"]; ok && r.code() == codeInsufficientBalance {
			res.FailureMessage += fmt.Sprintf(" (balance ¥%d)", b)
		}
		return res
	default:
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: a.describe(r, card)}
	}
	t, err := parseTxn(r.body, key)
	unknown := func(msg string) contracts.PaymentResult {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerPaymentID: t.CenterTxnID, PartnerCode: truncate(t.Status, 40),
			FailureMessage: a.redact(msg, card)}
	}
	switch {
	case err != nil:
		return unknown("NCS answered the payment with HTTP 200 but the answer is unreadable: " + err.Error())
	case t.Type != "" && t.Type != typePayment:
		return unknown("NCS answered the payment with a transaction of type " + truncate(t.Type, 40))
	case t.Status != statusApproved && t.Status != statusPending:
		return unknown("NCS answered the payment with status " + truncate(t.Status, 40))
	case t.Amount == nil:
		return unknown("NCS accepted the payment without saying what it debited")
	}
	asked, took := req.Amount.Amount, *t.Amount
	res := contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, PartnerPaymentID: t.CenterTxnID, PartnerCode: t.Status,
		PaidAt: parseTime(t.ProcessedAt), AmountCaptured: took, Provisional: t.Status == statusPending}
	switch {
	case took == asked:
	case req.AllowPartial && took > 0 && took < asked:
		res.AmountReceived = took
	default:
		return unknown(fmt.Sprintf("NCS debited ¥%d for a payment of ¥%d: reverse it", took, asked))
	}
	return res
}

// unsentPayment is a payment refused before any call.
func (a *Adapter) unsentPayment(ctx context.Context, op, code, msg string) contracts.PaymentResult {
	a.logUnsent(ctx, op, code, msg)
	return contracts.PaymentResult{Outcome: contracts.OutcomeFailed, FailureCode: code, FailureMessage: msg}
}

// logUnsent logs a request the adapter refused to send; a partner_config refusal (an
// unparseable ref: a payhub bug) loudly.
func (a *Adapter) logUnsent(ctx context.Context, op, code, msg string) {
	if a.cfg.Logger == nil {
		return
	}
	level := slog.LevelInfo
	if code == FailurePartnerConfig {
		level = slog.LevelError
	}
	a.cfg.Logger.Log(ctx, level, "partner call not sent", "partner", "nanaco", "op", op, "failure_code", code, "reason", msg)
}

// inquire asks /transactions/inquiry about key, from key's terminal (§B5). found:false
// fences the key: a late request under it is refused with SEQ_FENCED.
func (a *Adapter) inquire(ctx context.Context, op string, key contracts.SequenceRef) (inquiryReply, reply) {
	r := a.send(ctx, call{op: op, path: pathTxnInquiry, terminal: key.Terminal, key: &key, timeout: a.cfg.Timeouts.Read,
		body: inquiryBody{BusinessDate: key.BusinessDate, TerminalSeq: key.Seq}})
	if !r.ok() {
		return inquiryReply{}, r
	}
	q, err := parseInquiry(r.body)
	if err != nil {
		r.err = fmt.Errorf("NCS answered the inquiry with HTTP 200 but the answer is unreadable: %w", err)
	}
	return q, r
}

// GetPayment asks /transactions/inquiry by the payment's key (§B5, §B6):
//   - found:false → OutcomeFailed, FailureCode not_processed: the inquiry fenced the key,
//     so nothing happened and nothing will;
//   - APPROVED, PENDING_CONFIRMATION (PartnerCode says so), REFUNDED_PARTIAL, REFUNDED →
//     OutcomeSucceeded, with AmountReceived when less than asked was debited;
//   - REVERSED → OutcomeFailed, chip_write_failed; CANCELLED → OutcomeCanceled;
//   - IN_PROGRESS, a failed query, or an answer about something else → OutcomeUnknown.
func (a *Adapter) GetPayment(ctx context.Context, ref contracts.PaymentRef) contracts.PaymentResult {
	key, err := contracts.ParseSequenceRef(ref.PartnerRef)
	if err != nil {
		return a.unsentPayment(ctx, "payment_inquiry", FailurePartnerConfig,
			fmt.Sprintf("the partner ref %q is not a sequence ref (terminal.YYYYMMDD.seq): no nanaco payment was ever sent under it", truncate(ref.PartnerRef, 80)))
	}
	q, r := a.inquire(ctx, "payment_inquiry", key)
	if !r.ok() {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "transaction inquiry failed: " + a.describe(r, contracts.PresentedCard{})}
	}
	return paymentFromInquiry(q, ref, key)
}

// paymentFromInquiry maps an inquiry answer about a payment's key.
func paymentFromInquiry(q inquiryReply, ref contracts.PaymentRef, key contracts.SequenceRef) contracts.PaymentResult {
	if !*q.Found {
		return contracts.PaymentResult{Outcome: contracts.OutcomeFailed, FailureCode: FailureNotProcessed, PartnerCode: "NOT_FOUND",
			FailureMessage: "NCS has no transaction under " + key.String() + "; the inquiry fenced the key, so nothing happened and nothing will"}
	}
	res := contracts.PaymentResult{PartnerPaymentID: q.CenterTxnID, PartnerCode: truncate(q.Status, 40), PaidAt: parseTime(q.processedAt())}
	switch {
	case q.Status == statusInProgress:
		res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, "NCS is still processing the payment (IN_PROGRESS): ask again shortly"
		return res
	case q.Type != "" && q.Type != typePayment:
		res.Outcome = contracts.OutcomeUnknown
		res.FailureMessage = "the key " + key.String() + " holds a " + truncate(q.Type, 40) + ", not a payment"
		return res
	case ref.PartnerPaymentID != "" && ref.PartnerPaymentID != q.CenterTxnID:
		res.Outcome = contracts.OutcomeUnknown
		res.FailureMessage = "the key " + key.String() + " holds " + q.CenterTxnID + ", not the payment's " + truncate(ref.PartnerPaymentID, 40)
		return res
	}
	switch q.Status {
	case statusApproved, statusPending, statusRefunded, statusRefundedPartial:
		res.Outcome = contracts.OutcomeSucceeded
		res.Provisional = q.Status == statusPending
		res.AmountCaptured = value(q.Amount)
		if q.Amount != nil && q.RequestedAmount != nil && *q.Amount > 0 && *q.Amount < *q.RequestedAmount {
			res.AmountReceived = *q.Amount
		}
	case statusReversed:
		res.Outcome, res.FailureCode = contracts.OutcomeFailed, FailureChipWriteFailed
		res.FailureMessage = "NCS reversed the payment: the chip write never completed (処理未了)"
	case statusCancelled:
		res.Outcome, res.FailureMessage = contracts.OutcomeCanceled, "NCS reports the payment CANCELLED"
	case statusInProgress:
		res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, "NCS is still processing the payment (IN_PROGRESS): ask again shortly"
	default:
		res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, "NCS reports an unrecognised status "+truncate(q.Status, 40)
	}
	return res
}

// CapturePayment is not supported: nanaco debits at once and has no authorization
// (Capabilities declares no ManualCapture, so the engine never calls it). Nothing is sent.
func (a *Adapter) CapturePayment(ctx context.Context, _ contracts.CaptureRequest) contracts.PaymentResult {
	return a.unsentPayment(ctx, "capture", contracts.FailurePartnerRejected, "nanaco has no manual capture: there is nothing to capture")
}
