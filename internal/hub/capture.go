package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"payhub/contracts"
	"payhub/internal/idempotency"
	"payhub/internal/render"
)

// CapturePayment takes all (amount nil) or part of one of the caller's authorized payments;
// the rest of the hold is released by the partner. The answer is 200 with the payment:
// succeeded once captured, unknown when the partner's answer did not arrive, canceled when
// the authorization had expired.
func (h *Hub) CapturePayment(ctx context.Context, c Caller, idem idempotency.Key, id string, amount *int64) (Response, error) {
	if !contracts.ValidID(contracts.PrefixPayment, id) {
		return Response{}, notFound()
	}
	if amount != nil && *amount < 1 {
		return Response{}, fieldError(contracts.CodeAmountOutOfRange, "/amount", "A capture amount must be at least 1.")
	}
	if err := h.checkPaymentControls(ctx, c, contracts.OperationCapture, id); err != nil {
		return Response{}, err
	}
	return h.run(ctx, c, idem, func(ctx context.Context) (contracts.Answer, error) {
		return h.capture(ctx, c, idem, id, amount)
	})
}

// captureIntent is a capture written down before the partner hears of it.
type captureIntent struct {
	payment contracts.Payment
	amount  int64
	attempt contracts.Attempt
}

func (h *Hub) capture(ctx context.Context, c Caller, idem idempotency.Key, id string, amount *int64) (contracts.Answer, error) {
	in, err := h.reserveCapture(ctx, c, idem, id, amount)
	if err != nil {
		return contracts.Answer{}, err
	}
	p := in.payment
	partner := h.partners[p.Method]
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	res := partner.CapturePayment(ctx, contracts.CaptureRequest{PartnerRef: in.attempt.PartnerRef, Payment: h.paymentRef(ctx, p),
		Amount: contracts.Money{Amount: in.amount, Currency: p.Amount.Currency}, Description: description(p),
		RequestedAt: in.attempt.StartedAt})
	h.metrics.partnerCall(p.Method, "capture_payment", res.Outcome, time.Since(start))

	var resp contracts.Answer
	err = h.store.InTx(ctx, func(tx contracts.Tx) error {
		cur, err := tx.GetPaymentForUpdate(ctx, p.ID)
		if err != nil {
			return err
		}
		now := h.now()
		if err := tx.FinishAttempt(ctx, in.attempt.ID, res.Outcome, res.PartnerCode, now); err != nil {
			return err
		}
		if resp, err = h.applyCapture(ctx, tx, cur, in.amount, res, now); err != nil {
			return err
		}
		return tx.CompleteIdempotency(ctx, c.ClientID, idem.Key, resp, now)
	})
	if err != nil {
		return contracts.Answer{}, idempotency.PartnerCalled(fmt.Errorf("record capture outcome: %w", err))
	}
	return resp, nil
}

// reserveCapture checks the capture under the payment's row lock and writes its intent.
func (h *Hub) reserveCapture(ctx context.Context, c Caller, idem idempotency.Key, id string, amount *int64) (captureIntent, error) {
	var in captureIntent
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, id)
		if errors.Is(err, contracts.ErrNotFound) || (err == nil && p.StoreID != c.StoreID) {
			return notFound()
		}
		if err != nil {
			return err
		}
		if p.Status != contracts.StatusAuthorized || p.CancelRequested {
			return contracts.Errorf(contracts.CodeInvalidState, "Only authorized payments can be captured; this one is %s.", p.Status)
		}
		if err := h.checkCancelable(ctx, tx, p); err != nil { // no cancel or capture in flight
			return err
		}
		caps, ok := h.capabilitiesOf(p.Method)
		if !ok {
			return contracts.Errorf(contracts.CodePartnerUnavailable, "The partner for %s is not configured.", p.Method)
		}
		in.amount = p.Amount.Amount
		if amount != nil {
			in.amount = *amount
		}
		if in.amount > p.Amount.Amount {
			return fieldError(contracts.CodeAmountOutOfRange, "/amount",
				"Requested %d %s; %d %s is authorized.", in.amount, p.Amount.Currency, p.Amount.Amount, p.Amount.Currency)
		}
		if err := checkStep(caps, p.Method, contracts.Money{Amount: in.amount, Currency: p.Amount.Currency}); err != nil {
			return err
		}
		attempts, err := tx.ListAttempts(ctx, p.ID)
		if err != nil {
			return err
		}
		now := h.now()
		in.payment = p
		in.attempt = contracts.Attempt{ID: h.ids.New(contracts.PrefixAttempt), PaymentID: p.ID, Operation: contracts.OpCapture,
			PartnerRef: captureRef(p.ID, attempts), StartedAt: now, ClientID: c.ClientID, IdempotencyKey: idem.Key}
		if err := h.guard.MarkIntent(ctx, tx, c.ClientID, &idem, in.attempt.ID); err != nil {
			return err
		}
		return tx.InsertAttempt(ctx, in.attempt)
	})
	return in, err
}

// captureRef derives the partner-facing capture id from the payment id and the number of
// capture attempts so far: a retried request reuses nothing, and PayPay asks for a new
// merchantCaptureId after a capture whose outcome was lost.
func captureRef(paymentID string, attempts []contracts.Attempt) string {
	n := 1
	for _, a := range attempts {
		if a.Operation == contracts.OpCapture {
			n++
		}
	}
	return fmt.Sprintf("%s_c%d", paymentID, n)
}

// applyCapture records the partner's answer to a capture and renders the response.
func (h *Hub) applyCapture(ctx context.Context, tx contracts.Tx, p contracts.Payment, amount int64, res contracts.PaymentResult, now time.Time) (contracts.Answer, error) {
	switch {
	case res.Outcome == contracts.OutcomeSucceeded:
		p.AmountCaptured = amount
	case res.Outcome == contracts.OutcomeFailed && res.FailureCode == contracts.FailureExpired:
		// The hold lapsed before the capture: nothing can be taken any more.
		res = contracts.PaymentResult{Outcome: contracts.OutcomeCanceled, PartnerCode: res.PartnerCode}
		p.CancellationReason = "authorization_expired"
	case res.Outcome == contracts.OutcomeFailed:
		h.log.WarnContext(ctx, "partner refused a capture", "payment_id", p.ID, "partner_code", res.PartnerCode)
		e := contracts.Errorf(contracts.CodeInvalidState, "The partner refused the capture; the payment stays authorized.")
		return idempotency.Refusal(ctx, e), nil
	}
	h.applyPaymentResult(ctx, &p, res, now)
	body := render.Payment(p)
	ev := h.event(&p, "", contracts.PaymentEventType(p.Status), body, now)
	if err := tx.UpdatePayment(ctx, p); err != nil {
		return contracts.Answer{}, err
	}
	return contracts.Answer{Kind: contracts.AnswerDone, Body: body}, tx.AppendEvent(ctx, ev)
}
