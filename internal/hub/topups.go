package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"payhub/contracts"
	"payhub/internal/idempotency"
	"payhub/internal/render"
)

// Top-ups load value onto a stored-value card the customer presents at the till
// (docs/partners/nanaco.md §B5 /charges), paid in cash or with the card's points. A
// top-up runs like a payment: its intent (the top-up, pending, with the partner key the
// engine allocates) is written with its event and the idempotency intent before the
// partner hears of it; the outcome is written with its event and the stored answer. An
// unknown or stuck outcome is settled by the resolver with the partner's inquiry
// (§B6). A succeeded top-up can be cancelled on the same terminal the same business day
// (§B5 /charges/cancel); after that its value stays on the card: a top-up is never paid
// back in cash (§A3).

// CreateTopUp is a till's request to load value onto a presented card.
type CreateTopUp struct {
	// Method is the stored-value method; empty means nanaco.
	Method contracts.Method
	// TerminalID is the till; only it may cancel the top-up, the same day.
	TerminalID string
	// Card is what the till's reader read. Never stored or logged: the top-up keeps the
	// number's last 4 digits.
	Card contracts.PresentedCard
	// Amount is the value to load.
	Amount contracts.Money
	// Funding is cash or points; credit is refused.
	Funding contracts.TopUpFunding
}

// Top-up amounts (docs/partners/nanaco.md §A2, §B5): cash in ¥1,000 units from ¥1,000 to
// ¥49,000 per operation; nothing above the ¥50,000 a card may hold.
const (
	CashTopUpUnit = 1_000
	CashTopUpMin  = 1_000
	CashTopUpMax  = 49_000
	MaxTopUp      = 50_000
)

// topUpUnknownMessage is what a top-up whose outcome is open tells the till.
const topUpUnknownMessage = "The partner's answer did not arrive; the top-up's outcome will follow."

// topUpPartner is the method's partner, if it offers top-ups.
func (h *Hub) topUpPartner(method contracts.Method) (contracts.StoredValueTopUps, bool) {
	sv, ok := h.partners[method].(contracts.StoredValueTopUps)
	return sv, ok
}

// checkTopUp refuses a top-up before anything is written or sent: a method without
// top-ups, credit funding, another currency, an amount out of range, a card read with
// neither number nor chip id.
func (h *Hub) checkTopUp(cmd CreateTopUp) (CreateTopUp, contracts.StoredValueTopUps, error) {
	if cmd.Method == "" {
		cmd.Method = contracts.MethodNanaco
	}
	sv, ok := h.topUpPartner(cmd.Method)
	if !ok {
		return cmd, nil, contracts.Errorf(contracts.CodeMethodNotSupported, "Top-ups with %s are not offered.", cmd.Method)
	}
	switch cmd.Funding {
	case contracts.FundingCash, contracts.FundingPoints:
	case contracts.FundingCredit:
		return cmd, nil, fieldError(contracts.CodeMethodNotSupported, "/funding",
			"Credit-card top-ups are not offered; top up with cash or points.")
	default:
		return cmd, nil, fieldError(contracts.CodeInvalidRequest, "/funding", "funding must be cash or points.")
	}
	if cmd.Amount.Currency != contracts.JPY {
		return cmd, nil, fieldError(contracts.CodeCurrencyNotSupported, "/currency", "Top-ups are in JPY only.")
	}
	if cmd.Card.Number == "" && cmd.Card.IDm == "" {
		return cmd, nil, fieldError(contracts.CodeInvalidRequest, "/presented_card", "presented_card needs the card's number or its idm.")
	}
	a := cmd.Amount.Amount
	switch {
	case cmd.Funding == contracts.FundingCash && (a < CashTopUpMin || a > CashTopUpMax || a%CashTopUpUnit != 0):
		return cmd, nil, fieldError(contracts.CodeAmountOutOfRange, "/amount",
			"A cash top-up is a multiple of ¥1,000 from ¥1,000 to ¥49,000; ¥%d is not.", a)
	case cmd.Funding == contracts.FundingPoints && (a < 1 || a > MaxTopUp):
		return cmd, nil, fieldError(contracts.CodeAmountOutOfRange, "/amount",
			"A points top-up is from 1 to 50,000 points (¥1 each); %d is not.", a)
	}
	return cmd, sv, nil
}

// CreateTopUp loads value onto a presented card: it writes the intent, calls the partner
// and records the outcome. The answer is 201 with the top-up whatever its status: failed
// (nothing credited), succeeded, or unknown (do not top up again; the result follows).
func (h *Hub) CreateTopUp(ctx context.Context, c Caller, idem idempotency.Key, cmd CreateTopUp) (Response, error) {
	cmd, sv, err := h.checkTopUp(cmd)
	if err == nil {
		err = h.checkControls(ctx, contracts.ControlScope{Partner: contracts.PartnerOf(cmd.Method), Method: cmd.Method,
			Operation: contracts.OperationTopUp, StoreID: c.StoreID, TerminalID: cmd.TerminalID, ClientID: c.ClientID})
	}
	if err != nil {
		return Response{}, err
	}
	return h.run(ctx, c, idem, func(ctx context.Context) (contracts.Answer, error) {
		return h.createTopUp(ctx, c, idem, cmd, sv)
	})
}

// topUpIntent is the "attempt" a top-up's request marks on its Idempotency-Key: the
// top-up's id for the create, with cancelIntentSuffix for a cancel. finishTakenOver
// knows them by the id's prefix.
const cancelIntentSuffix = ".cancel"

// topUpIntent reads an intent written by a top-up's request.
func topUpIntent(attemptID string) (id string, cancel, ok bool) {
	if !strings.HasPrefix(attemptID, contracts.PrefixTopUp+"_") {
		return "", false, false
	}
	id, cancel = strings.CutSuffix(attemptID, cancelIntentSuffix)
	return id, cancel, true
}

// lastFour is the last 4 digits of a card number, "" for one too short to keep any.
func lastFour(number string) string {
	if len(number) < 12 {
		return ""
	}
	return number[len(number)-4:]
}

func (h *Hub) createTopUp(ctx context.Context, c Caller, idem idempotency.Key, cmd CreateTopUp, sv contracts.StoredValueTopUps) (contracts.Answer, error) {
	rules, err := h.limitRules(ctx)
	if err != nil {
		return contracts.Answer{}, err
	}
	limits := limitRequest{Operation: contracts.OperationTopUp, Method: cmd.Method, StoreID: c.StoreID, TerminalID: cmd.TerminalID,
		ClientID: c.ClientID, Amount: cmd.Amount, Instruments: []string{h.instrumentKey(contracts.PartnerOf(cmd.Method)+"-card", cmd.Card.Number)}}
	done, err := h.admit(cmd.Method)
	if err != nil {
		return contracts.Answer{}, err
	}
	now := h.now()
	t := contracts.TopUp{ID: h.ids.New(contracts.PrefixTopUp), StoreID: c.StoreID, ClientID: c.ClientID, Method: cmd.Method,
		TerminalID: cmd.TerminalID, CardLast4: lastFour(cmd.Card.Number), Amount: cmd.Amount, Funding: cmd.Funding,
		Status: contracts.TopUpPending, IdempotencyKey: idem.Key, CreatedAt: now, UpdatedAt: now}
	t.PartnerRef = t.ID
	// The intent is durable before the partner hears of the top-up, with the key the
	// partner will know it by (§B3): after a crash the resolver asks about that key.
	err = h.store.InTx(ctx, func(tx contracts.Tx) error {
		if ref, ok, err := h.sequencedRef(ctx, tx, t.Method, t.StoreID, t.TerminalID, now); err != nil {
			return err
		} else if ok {
			t.PartnerRef = ref
		}
		ev := h.topUpEvent(&t, now)
		if err := h.reserveLimits(ctx, tx, rules, limits, t.ID, now); err != nil {
			return err
		}
		if err := h.guard.MarkIntent(ctx, tx, c.ClientID, &idem, t.ID); err != nil {
			return err
		}
		if err := tx.InsertTopUp(ctx, t); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, ev)
	})
	if err != nil {
		done(contracts.OutcomeSucceeded) // the partner was not called: no verdict on it
		h.limitRefused(ctx, err, limits)
		return contracts.Answer{}, fmt.Errorf("record top-up intent: %w", err)
	}

	// A till that hangs up must not turn a top-up in flight into an unknown one.
	callCtx := context.WithoutCancel(ctx)
	start := time.Now()
	res := sv.CreateTopUp(callCtx, t.PartnerRef, cmd.Card, t.Amount, t.Funding)
	h.metrics.partnerCall(t.Method, "top_up", res.Outcome, time.Since(start))
	done(res.Outcome)
	if res.Outcome != contracts.OutcomeSucceeded && res.Outcome != contracts.OutcomeFailed {
		h.log.WarnContext(callCtx, "top-up outcome unknown", "top_up_id", t.ID, "partner_code", res.PartnerCode, "detail", res.FailureMessage)
	}

	var resp contracts.Answer
	err = h.store.InTx(callCtx, func(tx contracts.Tx) error {
		cur, err := tx.GetTopUpForUpdate(callCtx, t.ID)
		if err != nil {
			return err
		}
		if err := h.applyTopUp(callCtx, tx, &cur, res, h.now()); err != nil {
			return err
		}
		resp = contracts.Answer{Kind: contracts.AnswerCreated, Body: render.TopUp(cur)}
		return tx.CompleteIdempotency(callCtx, c.ClientID, idem.Key, resp, h.now())
	})
	if err != nil {
		h.log.ErrorContext(callCtx, "record top-up outcome", "top_up_id", t.ID, "outcome", res.Outcome, "err", err)
		return contracts.Answer{}, idempotency.PartnerCalled(fmt.Errorf("record top-up outcome: %w", err))
	}
	return resp, nil
}

// applyTopUp records the partner's answer about a top-up whose outcome is open (pending
// or unknown) and writes it with its event, in tx. A top-up whose outcome is known already
// is left as it is; an open one stays open on an open answer.
func (h *Hub) applyTopUp(ctx context.Context, tx contracts.Tx, t *contracts.TopUp, res contracts.TopUpResult, now time.Time) error {
	if t.Status != contracts.TopUpPending && t.Status != contracts.TopUpUnknown {
		return nil
	}
	from := t.Status
	if res.PartnerCode != "" {
		t.PartnerCode = res.PartnerCode
	}
	if res.PartnerTxnID != "" {
		t.PartnerTxnID = res.PartnerTxnID
	}
	switch {
	case res.Outcome == contracts.OutcomeSucceeded:
		t.Status, t.FailureCode, t.FailureMessage = contracts.TopUpSucceeded, "", ""
		if res.CreditedTo != "" {
			t.CreditedTo = res.CreditedTo
		}
	case res.Outcome == contracts.OutcomeFailed:
		t.Status, t.FailureCode, t.FailureMessage = contracts.TopUpFailed, res.FailureCode, res.FailureMessage
		if t.FailureCode == "" {
			t.FailureCode = contracts.FailurePartnerRejected
		}
	case res.Outcome == contracts.OutcomeCanceled && from == contracts.TopUpUnknown:
		t.Status, t.CanceledAt = contracts.TopUpCanceled, &now
	default:
		// The partner's detail stays in payhub's logs; the till learns that the outcome is open.
		t.Status, t.FailureMessage = contracts.TopUpUnknown, topUpUnknownMessage
	}
	if t.Status == from {
		return nil
	}
	if t.Status != contracts.TopUpUnknown {
		t.Resolution = contracts.Resolution{}
	}
	t.UpdatedAt = now
	ev := h.topUpEvent(t, now)
	if err := tx.UpdateTopUp(ctx, *t); err != nil {
		return err
	}
	return tx.AppendEvent(ctx, ev)
}

// topUpEvent builds the outbox event announcing the top-up's current status, for its next
// sequence number (docs/api.md §8.3), and advances t.EventSequence. It is about no payment.
func (h *Hub) topUpEvent(t *contracts.TopUp, at time.Time) contracts.Event {
	t.EventSequence++
	e := contracts.Event{ID: h.ids.New(contracts.PrefixEvent), Type: contracts.TopUpEventType(t.Status), StoreID: t.StoreID,
		Sequence: t.EventSequence, CreatedAt: at}
	e.Payload, _ = json.Marshal(eventPayload{ID: e.ID, Type: string(e.Type), Timestamp: at.Format(time.RFC3339),
		APIVersion: h.version, Data: eventData{Sequence: e.Sequence, Object: render.TopUp(*t)}})
	return e
}

// GetTopUp reads one of the caller's top-ups. An unknown one is asked about at the partner
// first, and a definite answer recorded, so a till polling it sees the outcome at once.
func (h *Hub) GetTopUp(ctx context.Context, c Caller, id string) (contracts.TopUp, error) {
	if !contracts.ValidID(contracts.PrefixTopUp, id) {
		return contracts.TopUp{}, notFound()
	}
	t, err := h.store.GetTopUp(ctx, c.StoreID, id)
	if errors.Is(err, contracts.ErrNotFound) {
		return contracts.TopUp{}, notFound()
	}
	if err != nil || t.Status != contracts.TopUpUnknown || t.Resolution.NeedsAttention {
		return t, err
	}
	sv, ok := h.topUpPartner(t.Method)
	if !ok {
		return t, nil
	}
	res := sv.GetTopUp(ctx, t.PartnerRef)
	if !topUpSettled(res.Outcome) {
		return t, nil
	}
	return h.settleTopUp(context.WithoutCancel(ctx), t, res)
}

// topUpSettled reports whether an inquiry's outcome is definite.
func topUpSettled(o contracts.Outcome) bool {
	return o == contracts.OutcomeSucceeded || o == contracts.OutcomeFailed || o == contracts.OutcomeCanceled
}

// settleTopUp records the partner's definite answer about a top-up whose outcome was open
// and, when the till's request never got its answer (a crash), stores the settled top-up
// as that request's answer.
func (h *Hub) settleTopUp(ctx context.Context, seen contracts.TopUp, res contracts.TopUpResult) (contracts.TopUp, error) {
	var out contracts.TopUp
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		t, err := tx.GetTopUpForUpdate(ctx, seen.ID)
		if err != nil {
			return err
		}
		out = t
		if t.Status != seen.Status {
			return nil // settled meanwhile
		}
		now := h.now()
		if err := h.applyTopUp(ctx, tx, &t, res, now); err != nil {
			return err
		}
		out = t
		return idempotency.AnswerOpen(ctx, tx, t.ClientID, t.IdempotencyKey, contracts.Answer{Kind: contracts.AnswerCreated, Body: render.TopUp(t)}, now)
	})
	return out, err
}

// CancelTopUp cancels one of the caller's succeeded top-ups at the partner: 200 with the
// canceled top-up; 409 cancel_window_passed on another day or terminal (the value stays on
// the card: a top-up is never paid back in cash); 409 invalid_state in any other status,
// or when the partner refuses (the value was spent); 202 when the partner's answer did not
// arrive (the resolver finishes the cancel).
func (h *Hub) CancelTopUp(ctx context.Context, c Caller, idem idempotency.Key, id string) (Response, error) {
	if !contracts.ValidID(contracts.PrefixTopUp, id) {
		return Response{}, notFound()
	}
	if err := h.checkObjectControls(ctx, c, contracts.OperationCancel, func(ctx context.Context) (contracts.Method, string, error) {
		t, err := h.store.GetTopUp(ctx, c.StoreID, id)
		return t.Method, t.TerminalID, err
	}); err != nil {
		return Response{}, err
	}
	return h.run(ctx, c, idem, func(ctx context.Context) (contracts.Answer, error) {
		return h.cancelTopUp(ctx, c, idem, id)
	})
}

func (h *Hub) cancelTopUp(ctx context.Context, c Caller, idem idempotency.Key, id string) (contracts.Answer, error) {
	var (
		t  contracts.TopUp
		sv contracts.StoredValueTopUps
	)
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		var err error
		t, err = tx.GetTopUpForUpdate(ctx, id)
		if errors.Is(err, contracts.ErrNotFound) || (err == nil && t.StoreID != c.StoreID) {
			return notFound()
		}
		if err != nil {
			return err
		}
		var ok bool
		if sv, ok = h.topUpPartner(t.Method); !ok {
			return contracts.Errorf(contracts.CodePartnerUnavailable, "The partner for %s is not configured.", t.Method)
		}
		switch {
		case t.Status == contracts.TopUpSucceeded && t.CancelStartedAt != nil:
			return contracts.Errorf(contracts.CodeInvalidState, "A cancel of this top-up is already under way; its result follows.")
		case t.Status == contracts.TopUpSucceeded:
		case t.Status == contracts.TopUpPending || t.Status == contracts.TopUpUnknown:
			return contracts.Errorf(contracts.CodeInvalidState, "The top-up's outcome is still open; it can be canceled once it succeeded.")
		default:
			return contracts.Errorf(contracts.CodeInvalidState, "A %s top-up cannot be canceled.", t.Status)
		}
		now := h.now()
		t.CancelStartedAt, t.CancelClientID, t.CancelIdempotencyKey, t.UpdatedAt = &now, c.ClientID, idem.Key, now
		if err := h.guard.MarkIntent(ctx, tx, c.ClientID, &idem, t.ID+cancelIntentSuffix); err != nil {
			return err
		}
		return tx.UpdateTopUp(ctx, t)
	})
	if err != nil {
		return contracts.Answer{}, err
	}
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	res := sv.CancelTopUpByRef(ctx, t.PartnerRef, t.PartnerTxnID)
	h.metrics.partnerCall(t.Method, "cancel_top_up", res.Outcome, time.Since(start))
	resp, err := h.recordTopUpCancel(ctx, t.ID, res, func(tx contracts.Tx, a contracts.Answer) error {
		return tx.CompleteIdempotency(ctx, c.ClientID, idem.Key, a, h.now())
	})
	if err != nil {
		return contracts.Answer{}, idempotency.PartnerCalled(fmt.Errorf("record top-up cancel outcome: %w", err))
	}
	return resp, nil
}

// recordTopUpCancel records the partner's answer to the cancel of top-up id in flight,
// and answers the cancel's request through answer (nil: the request that started it, if it
// has no answer yet — the resolver's case).
func (h *Hub) recordTopUpCancel(ctx context.Context, id string, res contracts.CancelResult, answer func(tx contracts.Tx, a contracts.Answer) error) (contracts.Answer, error) {
	var resp contracts.Answer
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		t, err := tx.GetTopUpForUpdate(ctx, id)
		if err != nil {
			return err
		}
		now := h.now()
		if answer == nil {
			answer = func(tx contracts.Tx, a contracts.Answer) error {
				return idempotency.AnswerOpen(ctx, tx, t.CancelClientID, t.CancelIdempotencyKey, a, now)
			}
		}
		if t.Status != contracts.TopUpSucceeded || t.CancelStartedAt == nil {
			// Settled meanwhile: answer with the top-up as it stands.
			resp = contracts.Answer{Kind: contracts.AnswerDone, Body: render.TopUp(t)}
			return answer(tx, resp)
		}
		var ev *contracts.Event
		if res.PartnerCode != "" {
			t.PartnerCode = res.PartnerCode
		}
		t.UpdatedAt = now
		switch res.Outcome {
		case contracts.OutcomeSucceeded:
			t.Status, t.CanceledAt, t.CancelStartedAt = contracts.TopUpCanceled, &now, nil
			e := h.topUpEvent(&t, now)
			ev = &e
			resp = contracts.Answer{Kind: contracts.AnswerDone, Body: render.TopUp(t)}
		case contracts.OutcomeWindowPassed:
			t.CancelStartedAt = nil
			resp = idempotency.Refusal(ctx, contracts.Errorf(contracts.CodeCancelWindowPassed,
				"A top-up can be canceled only on the terminal that made it, on the same business day; the value stays on the card (a top-up is never paid back in cash)."))
		case contracts.OutcomeFailed:
			t.CancelStartedAt = nil
			h.log.WarnContext(ctx, "partner refused a top-up cancel", "top_up_id", t.ID, "partner_code", res.PartnerCode)
			resp = idempotency.Refusal(ctx, contracts.Errorf(contracts.CodeInvalidState,
				"The partner refused to cancel this top-up (%s); it stays succeeded (its value may be spent already).", res.PartnerCode))
		default:
			// The partner may or may not have cancelled: the resolver sends the same cancel
			// again (the partner replays it) once StuckAfter has passed.
			h.log.WarnContext(ctx, "top-up cancel outcome unknown", "top_up_id", t.ID, "detail", res.Message)
			resp = contracts.Answer{Kind: contracts.AnswerAccepted, Body: render.TopUp(t)}
		}
		if err := tx.UpdateTopUp(ctx, t); err != nil {
			return err
		}
		if ev != nil {
			if err := tx.AppendEvent(ctx, *ev); err != nil {
				return err
			}
		}
		return answer(tx, resp)
	})
	return resp, err
}

// resolveTopUps settles, in one resolver pass, the top-ups whose outcome is open: unknown
// ones, pending ones a crash or a lost write left behind, cancels whose answer was lost. It
// returns how many it settled.
func (h *Hub) resolveTopUps(ctx context.Context, now time.Time) (int, error) {
	tops, err := h.store.ListTopUpsToResolve(ctx, now, now.Add(-h.resolver.StuckAfter), h.resolver.Batch)
	if err != nil {
		return 0, err
	}
	settled := 0
	for _, t := range tops {
		if stopping(ctx) {
			break
		}
		if h.resolveLeasedTopUp(context.WithoutCancel(ctx), t) {
			settled++
		}
	}
	return settled, nil
}

// resolveLeasedTopUp resolves the listed top-up under the resolver's lease on it, if the
// lease is free and the top-up unchanged since it was listed.
func (h *Hub) resolveLeasedTopUp(ctx context.Context, listed contracts.TopUp) bool {
	ctx, release, ok := h.takeLease(ctx, workerResolver, contracts.LeaseTopUp, listed.ID)
	if !ok {
		return false
	}
	defer release()
	cur, err := h.store.GetTopUp(ctx, "", listed.ID)
	if err != nil || !sameTopUp(listed, cur) {
		return false
	}
	return h.resolveTopUp(ctx, cur)
}

// resolveTopUp settles one open top-up: a cancel in flight by sending it again (its key is
// derived from the top-up's, so the partner replays it), an outcome by the partner's
// inquiry ("never received" is final there: §B6). Past the budget an operator must.
func (h *Hub) resolveTopUp(ctx context.Context, t contracts.TopUp) bool {
	sv, ok := h.topUpPartner(t.Method)
	if !ok {
		return false
	}
	since := t.CreatedAt
	if t.CancelStartedAt != nil {
		since = *t.CancelStartedAt
	}
	if h.now().Sub(since) > h.resolver.Budget {
		h.flagTopUp(ctx, t)
		return false
	}
	if t.Status == contracts.TopUpSucceeded && t.CancelStartedAt != nil {
		res := sv.CancelTopUpByRef(ctx, t.PartnerRef, t.PartnerTxnID)
		switch res.Outcome {
		case contracts.OutcomeSucceeded, contracts.OutcomeWindowPassed, contracts.OutcomeFailed:
			_, err := h.recordTopUpCancel(ctx, t.ID, res, nil)
			if err != nil {
				h.log.ErrorContext(ctx, "record top-up cancel outcome", "top_up_id", t.ID, "err", err)
			}
			return err == nil
		}
		h.rescheduleTopUp(ctx, t)
		return false
	}
	res := sv.GetTopUp(ctx, t.PartnerRef)
	if topUpSettled(res.Outcome) {
		_, err := h.settleTopUp(ctx, t, res)
		if err != nil {
			h.log.ErrorContext(ctx, "settle top-up", "top_up_id", t.ID, "err", err)
		}
		return err == nil
	}
	h.rescheduleTopUp(ctx, t)
	return false
}

// rescheduleTopUp counts a pass and sets when the resolver looks again. A pending top-up
// the resolver could not settle becomes unknown (with its event): its call is over.
func (h *Hub) rescheduleTopUp(ctx context.Context, seen contracts.TopUp) {
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		t, err := tx.GetTopUpForUpdate(ctx, seen.ID)
		if err != nil || t.Status != seen.Status {
			return err
		}
		now := h.now()
		if t.Status == contracts.TopUpPending {
			if err := h.applyTopUp(ctx, tx, &t, contracts.TopUpResult{Outcome: contracts.OutcomeUnknown}, now); err != nil {
				return err
			}
		}
		t.Resolution.Attempts++
		next := now.Add(h.backoff(t.Resolution.Attempts))
		t.Resolution.NextAt = &next
		return tx.UpdateTopUp(ctx, t)
	})
	if err != nil {
		h.log.ErrorContext(ctx, "reschedule top-up", "top_up_id", seen.ID, "err", err)
	}
}

// flagTopUp hands a top-up whose budget ran out to an operator.
func (h *Hub) flagTopUp(ctx context.Context, seen contracts.TopUp) {
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		t, err := tx.GetTopUpForUpdate(ctx, seen.ID)
		if err != nil || t.Resolution.NeedsAttention {
			return err
		}
		t.Resolution.NeedsAttention = true
		return tx.UpdateTopUp(ctx, t)
	})
	if err != nil {
		h.log.ErrorContext(ctx, "flag top-up for an operator", "top_up_id", seen.ID, "err", err)
		return
	}
	h.metrics.needsAttention("top_up")
	h.log.WarnContext(ctx, "top-up needs an operator", "top_up_id", seen.ID, "status", seen.Status)
}

// finishTopUpTakenOver settles the request of a dead instance whose intent was a top-up's
// (attemptID from topUpIntent) and answers it (clientID, key). A create still pending
// becomes unknown: the dead call may have credited the card, and the resolver asks once
// that call's time is surely over. A cancel stays in flight for the resolver to send again.
func (h *Hub) finishTopUpTakenOver(ctx context.Context, clientID, key, attemptID string) error {
	id, cancel, _ := topUpIntent(attemptID)
	return h.store.InTx(ctx, func(tx contracts.Tx) error {
		t, err := tx.GetTopUpForUpdate(ctx, id)
		if err != nil {
			return err
		}
		now := h.now()
		answer := contracts.Answer{Kind: contracts.AnswerCreated}
		switch {
		case !cancel && t.Status == contracts.TopUpPending:
			if err := h.applyTopUp(ctx, tx, &t, contracts.TopUpResult{Outcome: contracts.OutcomeUnknown}, now); err != nil {
				return err
			}
			next := t.CreatedAt.Add(h.resolver.StuckAfter)
			t.Resolution.NextAt = &next
			if err := tx.UpdateTopUp(ctx, t); err != nil {
				return err
			}
		case cancel && t.Status == contracts.TopUpSucceeded && t.CancelStartedAt != nil:
			answer.Kind = contracts.AnswerAccepted
		case cancel:
			answer.Kind = contracts.AnswerDone
		}
		answer.Body = render.TopUp(t)
		return idempotency.AnswerOpen(ctx, tx, clientID, key, answer, now)
	})
}
