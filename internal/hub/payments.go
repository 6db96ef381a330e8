package hub

import (
	"context"
	"fmt"
	"time"

	"payhub/contracts"
	"payhub/internal/idempotency"
	"payhub/internal/render"
)

// CreatePayment is a store's request to take a payment.
type CreatePayment struct {
	// Amount is what to charge.
	Amount contracts.Money
	// Method selects the partner.
	Method contracts.Method
	// Flow selects how the customer takes part.
	Flow contracts.Flow
	// Barcode is the scanned customer code (FlowBarcode only). Never stored or logged.
	Barcode string
	// UserAuthorizationID is the linked partner account (FlowLinked only): one the caller
	// linked (resolveLinkedAccount), or filled in from LinkedAccountID.
	UserAuthorizationID string
	// LinkedAccountID is the caller's linked account to charge (FlowLinked, la_…).
	LinkedAccountID string
	// TerminalID and OrderID are the store's references.
	TerminalID, OrderID string
	// Metadata is echoed back.
	Metadata map[string]string
	// CaptureMethod is CaptureManual to authorize only; empty means automatic.
	CaptureMethod contracts.CaptureMethod
	// CardToken is the single-use card token, for a method whose partner declares
	// Capabilities.CardToken only. Never stored or logged.
	CardToken string
	// ReturnURL is the store's page the customer's browser goes to after a redirect
	// payment (FlowRedirect only).
	ReturnURL string
	// Card is what the till's reader read (FlowCardPresent only). Never stored or logged.
	Card *contracts.PresentedCard
	// AllowPartial asks for a split tender where the partner declares PartialDebit.
	AllowPartial bool
}

// validateCreate checks a create against what the method's partner declares it takes,
// first routing method auto by the barcode's provider prefix; it returns the command as it
// will run and its partner.
func (h *Hub) validateCreate(cmd CreatePayment) (CreatePayment, contracts.Partner, error) {
	if cmd.Method == contracts.MethodAuto {
		if cmd.Flow != contracts.FlowBarcode || cmd.Barcode == "" {
			return cmd, nil, fieldError(contracts.CodeInvalidRequest, "/method", "Method auto needs flow barcode and the scanned barcode.")
		}
		m, err := RouteBarcode(h.barcodeRules, cmd.Barcode)
		if err != nil {
			return cmd, nil, err
		}
		cmd.Method = m
	}
	if cmd.CaptureMethod == "" {
		cmd.CaptureMethod = contracts.CaptureAutomatic
	}
	partner, err := h.checkCreate(cmd)
	return cmd, partner, err
}

// checkCreate checks a create against what the method's partner declares it takes
// (checkCapabilities) and against the shape of the request its flow needs.
func (h *Hub) checkCreate(cmd CreatePayment) (contracts.Partner, error) {
	partner := h.partners[cmd.Method]
	if partner == nil {
		return nil, fieldError(contracts.CodeMethodNotSupported, "/method", "Method %q is not offered.", cmd.Method)
	}
	caps := partner.Capabilities()
	if err := checkCapabilities(caps, cmd); err != nil {
		return nil, err
	}
	if (cmd.Flow == contracts.FlowBarcode) != (cmd.Barcode != "") {
		return nil, fieldError(contracts.CodeInvalidRequest, "/barcode", "barcode is required for flow barcode and not allowed otherwise.")
	}
	if (cmd.Flow == contracts.FlowLinked) != (cmd.UserAuthorizationID != "") {
		return nil, fieldError(contracts.CodeInvalidRequest, "/user_authorization_id", "user_authorization_id is required for flow linked and not allowed otherwise.")
	}
	if (cmd.Flow == contracts.FlowCardPresent) != (cmd.Card != nil) {
		return nil, fieldError(contracts.CodeInvalidRequest, "/presented_card", "presented_card is required for flow card_present and not allowed otherwise.")
	}
	if cmd.AllowPartial && !caps.PartialDebit {
		return nil, fieldError(contracts.CodeMethodNotSupported, "/allow_partial", "Method %q does not take a split tender (allow_partial).", cmd.Method)
	}
	if err := h.checkCardToken(caps, cmd); err != nil {
		return nil, err
	}
	if err := h.checkReturnURL(cmd); err != nil {
		return nil, err
	}
	return partner, nil
}

func fieldError(code contracts.ErrorCode, pointer, format string, args ...any) *contracts.Error {
	e := contracts.Errorf(code, format, args...)
	e.Pointer = pointer
	return e
}

// unacceptableField refuses a well-formed field payhub will not act on as asked
// (contracts.Error.Unacceptable).
func unacceptableField(pointer, format string, args ...any) *contracts.Error {
	e := fieldError(contracts.CodeInvalidRequest, pointer, format, args...)
	e.Unacceptable = true
	return e
}

// partnerRef derives the partner-facing payment id from the payment id and attempt number,
// so retrying a request can never create a second charge at the partner.
func partnerRef(paymentID string, attempt int) string {
	return fmt.Sprintf("%s_%d", paymentID, attempt)
}

// CreatePayment takes a payment: it writes the intent, calls the partner, and records the
// outcome. The response is 201 with the payment whatever its status; a decline is a failed
// payment and an unanswered call an unknown one.
func (h *Hub) CreatePayment(ctx context.Context, c Caller, idem idempotency.Key, cmd CreatePayment) (Response, error) {
	if err := h.resolveLinkedAccount(ctx, c, &cmd); err != nil {
		return Response{}, err
	}
	cmd, partner, err := h.validateCreate(cmd)
	if err == nil {
		err = h.checkReturnOrigin(ctx, c, cmd)
	}
	if err == nil {
		err = h.checkControls(ctx, contracts.ControlScope{Partner: contracts.PartnerOf(cmd.Method), Method: cmd.Method,
			Operation: contracts.OperationPay, StoreID: c.StoreID, TerminalID: cmd.TerminalID, ClientID: c.ClientID})
	}
	if err != nil {
		return Response{}, err
	}
	return h.run(ctx, c, idem, func(ctx context.Context) (contracts.Answer, error) {
		return h.createPayment(ctx, c, idem, cmd, partner)
	})
}

// paymentLimits is what a create asks of the limits (docs/security.md §5).
func (h *Hub) paymentLimits(c Caller, cmd CreatePayment) limitRequest {
	return limitRequest{Operation: contracts.OperationPay, Method: cmd.Method, StoreID: c.StoreID, TerminalID: cmd.TerminalID,
		ClientID: c.ClientID, Amount: cmd.Amount, Instruments: h.paymentInstruments(cmd)}
}

func (h *Hub) createPayment(ctx context.Context, c Caller, idem idempotency.Key, cmd CreatePayment, partner contracts.Partner) (contracts.Answer, error) {
	rules, err := h.limitRules(ctx)
	if err != nil {
		return contracts.Answer{}, err
	}
	limits := h.paymentLimits(c, cmd)
	done, err := h.admit(cmd.Method)
	if err != nil {
		return contracts.Answer{}, err
	}
	now := h.now()
	p := contracts.Payment{
		ID: h.ids.New(contracts.PrefixPayment), StoreID: c.StoreID, ClientID: c.ClientID,
		TerminalID: cmd.TerminalID, OrderID: cmd.OrderID, Method: cmd.Method, Flow: cmd.Flow,
		Amount: cmd.Amount, Status: contracts.StatusProcessing, UserAuthorizationID: cmd.UserAuthorizationID,
		Metadata: cmd.Metadata, CaptureMethod: cmd.CaptureMethod, Attempt: 1, CreatedAt: now, UpdatedAt: now,
		ReturnURL: cmd.ReturnURL,
	}
	p.PartnerRef = partnerRef(p.ID, p.Attempt)
	p.IdempotencyKey = idem.Key
	att := contracts.Attempt{ID: h.ids.New(contracts.PrefixAttempt), PaymentID: p.ID, Operation: contracts.OpPay,
		PartnerRef: p.PartnerRef, StartedAt: now}
	// The intent is durable before the partner hears of the payment: after a crash the
	// unfinished attempt says what may have happened.
	err = h.store.InTx(ctx, func(tx contracts.Tx) error {
		if ref, ok, err := h.sequencedRef(ctx, tx, p.Method, p.StoreID, p.TerminalID, now); err != nil {
			return err
		} else if ok {
			p.PartnerRef, att.PartnerRef = ref, ref
		}
		ev := h.event(&p, "", contracts.EventPaymentProcessing, render.Payment(p), now)
		// The limits' share is reserved with the intent: either both commit or neither.
		if err := h.reserveLimits(ctx, tx, rules, limits, p.ID, now); err != nil {
			return err
		}
		if err := h.guard.MarkIntent(ctx, tx, c.ClientID, &idem, att.ID); err != nil {
			return err
		}
		if err := tx.InsertPayment(ctx, p); err != nil {
			return err
		}
		if err := tx.InsertAttempt(ctx, att); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, ev)
	})
	if err != nil {
		done(contracts.OutcomeSucceeded) // the partner was not called: no verdict on it
		h.limitRefused(ctx, err, limits)
		return contracts.Answer{}, fmt.Errorf("record payment intent: %w", err)
	}

	// A till that hangs up must not turn a payment in flight into an unknown one.
	callCtx := context.WithoutCancel(ctx)
	start := time.Now()
	res := partner.CreatePayment(callCtx, contracts.PaymentRequest{
		PartnerRef: p.PartnerRef, Amount: p.Amount, Flow: p.Flow, CaptureMethod: p.CaptureMethod, Barcode: cmd.Barcode,
		UserAuthorizationID: p.UserAuthorizationID, StoreID: p.StoreID, TerminalID: p.TerminalID,
		Description: description(p), RequestedAt: now, CardToken: cmd.CardToken, Card: cmd.Card, AllowPartial: cmd.AllowPartial,
		ReturnURL: h.returnURLFor(p), CancelURL: h.returnURLFor(p),
	})
	h.metrics.partnerCall(p.Method, "create_payment", res.Outcome, time.Since(start))
	done(res.Outcome)
	return h.finishCreate(callCtx, c, idem, p.ID, att.ID, res)
}

// description is what the customer sees in the partner's app.
func description(p contracts.Payment) string {
	if p.OrderID != "" {
		return "Order " + p.OrderID
	}
	return "Payment " + p.ID
}

func (h *Hub) finishCreate(ctx context.Context, c Caller, idem idempotency.Key, paymentID, attemptID string, res contracts.PaymentResult) (contracts.Answer, error) {
	var (
		resp contracts.Answer
		p    contracts.Payment
	)
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		var err error
		p, err = tx.GetPaymentForUpdate(ctx, paymentID)
		if err != nil {
			return err
		}
		now := h.now()
		if res.Outcome == contracts.OutcomeCanceled {
			// A payment being created cannot be canceled yet: the partner refused it.
			res.Outcome = contracts.OutcomeFailed
		}
		h.applyPaymentResult(ctx, &p, res, now)
		body := render.Payment(p)
		ev := h.event(&p, "", contracts.PaymentEventType(p.Status), body, now)
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		if err := tx.FinishAttempt(ctx, attemptID, res.Outcome, res.PartnerCode, now); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, ev); err != nil {
			return err
		}
		if err := h.recordReportedInstrument(ctx, tx, p, now); err != nil {
			return err
		}
		resp = contracts.Answer{Kind: contracts.AnswerCreated, Body: body}
		return tx.CompleteIdempotency(ctx, c.ClientID, idem.Key, resp, now)
	})
	if err != nil {
		h.log.ErrorContext(ctx, "record payment outcome", "payment_id", paymentID, "outcome", res.Outcome, "err", err)
		return contracts.Answer{}, idempotency.PartnerCalled(fmt.Errorf("record payment outcome: %w", err))
	}
	h.metrics.paymentCreated(res.Outcome)
	// The till may have abandoned this payment while it was in flight; if it went through
	// (or waits for the customer), reverse or withdraw it. The create's response stays what
	// it was: the payment as it landed.
	h.honorCancelRequest(ctx, p)
	return resp, nil
}

// statusFor maps a partner outcome of a create to the payment's status. Anything that is not
// a definite answer is unknown: payhub never guesses.
func statusFor(o contracts.Outcome) contracts.Status {
	switch o {
	case contracts.OutcomeSucceeded:
		return contracts.StatusSucceeded
	case contracts.OutcomeAuthorized:
		return contracts.StatusAuthorized
	case contracts.OutcomePending:
		return contracts.StatusRequiresAction
	case contracts.OutcomeFailed:
		return contracts.StatusFailed
	case contracts.OutcomeCanceled:
		return contracts.StatusCanceled
	}
	return contracts.StatusUnknown
}

// applyPaymentResult records a partner's answer on p. The partner's credential for the
// payment is sealed before it touches the payment; the card details it reports are kept.
func (h *Hub) applyPaymentResult(ctx context.Context, p *contracts.Payment, res contracts.PaymentResult, now time.Time) {
	if res.PartnerSecret != "" {
		p.PartnerSecret = h.sealSecret(ctx, p.ID, res.PartnerSecret)
	}
	if res.Card != nil {
		card := *res.Card
		p.Card = &card
	}
	applyPaymentResult(p, res, now)
}

func applyPaymentResult(p *contracts.Payment, res contracts.PaymentResult, now time.Time) {
	p.Status = statusFor(res.Outcome)
	// Provisional until the partner confirms it; the resolver keeps asking meanwhile.
	p.Provisional = p.Status == contracts.StatusSucceeded && res.Provisional
	p.UpdatedAt = now
	p.PartnerCode = res.PartnerCode
	if res.PartnerPaymentID != "" {
		p.PartnerPaymentID = res.PartnerPaymentID
	}
	if res.PartnerActionRef != "" {
		p.PartnerActionRef = res.PartnerActionRef
	}
	if res.PaidAt != nil {
		t := res.PaidAt.UTC().Truncate(time.Microsecond)
		p.PaidAt = &t
	}
	if p.Status == contracts.StatusSucceeded && p.AmountCaptured == 0 {
		switch {
		case res.AmountReceived > 0 && res.AmountReceived < p.Amount.Amount:
			// A split tender: the partner debited what the balance held.
			p.AmountCaptured = res.AmountReceived
		case res.AmountCaptured > 0:
			// The partner says what it took: a capture whose answer was lost learns it here.
			p.AmountCaptured = res.AmountCaptured
		case p.CaptureMethod != contracts.CaptureManual:
			// Automatic capture takes it all. A lost partial capture must not be taken for
			// a full one, so a manual capture's amount comes from the partner only.
			p.AmountCaptured = p.Amount.Amount
		}
	}
	p.NextAction = nil
	if p.Status == contracts.StatusRequiresAction {
		p.NextAction = res.NextAction
	}
	if p.Status == contracts.StatusFailed {
		// A failed payment took nothing (a reversed provisional one included).
		p.AmountCaptured, p.PaidAt = 0, nil
		p.FailureCode, p.FailureMessage = res.FailureCode, res.FailureMessage
		if p.FailureCode == "" {
			p.FailureCode = contracts.FailurePartnerRejected
		}
	}
}

// GetPayment reads one of the caller's payments. A payment waiting for the customer is
// refreshed from the partner first, so the till sees a QR payment the moment it is paid.
func (h *Hub) GetPayment(ctx context.Context, c Caller, id string) (contracts.Payment, error) {
	p, err := h.GetPaymentRecord(ctx, c, id)
	if err != nil {
		return contracts.Payment{}, err
	}
	switch {
	case p.Status == contracts.StatusRequiresAction:
		return h.refresh(ctx, p)
	case p.Status == contracts.StatusUnknown && !p.Resolution.NeedsAttention:
		return h.inquire(ctx, p)
	}
	return p, nil
}
