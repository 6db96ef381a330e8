package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"payhub/contracts"
)

// A till that loses its answer sends the request again under the same Idempotency-Key. If
// the instance that ran the first request is alive, the retry waits briefly for its answer;
// if that instance died (a SIGKILL, a lost machine), the retry takes the claim over as soon
// as the instance's heartbeat lease has run out, and answers the till itself:
//
//   - the request died before it wrote its intent: no partner heard of it, so it runs
//     afresh under the retry;
//   - it wrote its intent, so its partner call may have moved money: the retry settles
//     what the partner already decided and otherwise answers with the object's open
//     state (payment unknown: "do not charge again, the result follows"; refund unknown;
//     cancel requested), exactly as if the partner's answer had been lost. It never sends
//     the partner call again: the resolver does what remains by the partner's rules, and
//     the dead request's attempt stays open until then so nothing else can race it.
//
// So the till gets its payment within the lease plus a partner query, never 409 for
// minutes.

// awaitRequest answers a request whose key exists already: a replay of the stored answer,
// 422 for another request under the key, or, while the first request runs, its answer once
// it arrives, a takeover once its instance is gone, or 409 after a short wait. rerun
// reports that the key's claim is now this instance's and the request must run afresh.
func (h *Hub) awaitRequest(ctx context.Context, c Caller, idem Idempotency, rec contracts.IdempotencyRecord) (resp Response, rerun bool, err error) {
	deadline := h.now().Add(h.instance.Lease + h.instance.HeartbeatEvery)
	for {
		if rec.Fingerprint != idem.Fingerprint || rec.Completed {
			resp, err := replay(rec, idem)
			return resp, false, err
		}
		if rec.Owner != "" && rec.Owner != h.instanceID {
			gone, err := h.instanceGone(ctx, rec.Owner)
			if err != nil {
				return Response{}, false, err
			}
			if gone {
				took, rerun, err := h.takeOver(ctx, c, idem, rec)
				if err != nil || took {
					resp, err := h.answerAfterTakeover(ctx, c, idem, rerun, err)
					return resp, rerun, err
				}
			}
		}
		// Running here (this instance answers it), under a claim from before instances
		// had ids, or too long on a live instance: the till retries later.
		if rec.Owner == h.instanceID || rec.Owner == "" || !h.now().Before(deadline) {
			resp, err := replay(rec, idem)
			return resp, false, err
		}
		if err := h.instance.Sleep(ctx, h.instance.AwaitEvery); err != nil {
			return Response{}, false, err
		}
		if rec, rerun, err = h.reclaim(ctx, c, idem); err != nil || rerun {
			return Response{}, rerun, err
		}
	}
}

// reclaim reads the key again; a key released meanwhile (its request was refused before it
// reached a partner, or died before that) is claimed afresh (rerun).
func (h *Hub) reclaim(ctx context.Context, c Caller, idem Idempotency) (contracts.IdempotencyRecord, bool, error) {
	rec, err := h.store.GetIdempotency(ctx, c.ClientID, idem.Key)
	if !errors.Is(err, contracts.ErrNotFound) {
		return rec, false, err
	}
	rec, created, err := h.store.BeginIdempotency(ctx, contracts.IdempotencyKey{ClientID: c.ClientID, Key: idem.Key,
		Fingerprint: idem.Fingerprint, CreatedAt: h.now(), Owner: h.instanceID})
	return rec, created, err
}

// answerAfterTakeover is the retry's answer once it took the claim over: the stored answer
// the takeover wrote, or nothing yet when the request must run afresh.
func (h *Hub) answerAfterTakeover(ctx context.Context, c Caller, idem Idempotency, rerun bool, err error) (Response, error) {
	if err != nil || rerun {
		return Response{}, err
	}
	rec, err := h.store.GetIdempotency(ctx, c.ClientID, idem.Key)
	if err != nil {
		return Response{}, err
	}
	return replay(rec, idem)
}

// takeOver moves the claim of a gone instance to this one and finishes its request: took
// is false when another instance took it over first (or it was answered meanwhile); rerun
// when the request never reached a partner and must run afresh.
func (h *Hub) takeOver(ctx context.Context, c Caller, idem Idempotency, rec contracts.IdempotencyRecord) (took, rerun bool, err error) {
	took, err = h.store.TakeOverIdempotency(ctx, c.ClientID, idem.Key, rec.Owner, h.instanceID, h.now())
	if err != nil || !took {
		return false, false, err
	}
	// The claim is ours now, so the dead instance can no longer write an intent under it:
	// what the record says about the intent is final.
	if rec, err = h.store.GetIdempotency(ctx, c.ClientID, idem.Key); err != nil {
		return true, false, err
	}
	h.log.InfoContext(ctx, "took over the request of a gone instance", "gone_instance", rec.Owner,
		"intent_written", rec.IntentWritten, "attempt_id", rec.AttemptID)
	if rec.Completed {
		return true, false, nil
	}
	if !rec.IntentWritten {
		return true, true, nil
	}
	if rec.AttemptID == "" {
		return true, false, fmt.Errorf("take over: the request's intent names no attempt")
	}
	a, err := h.store.GetAttempt(ctx, rec.AttemptID)
	if err != nil {
		return true, false, err
	}
	return true, false, h.finishTakenOver(context.WithoutCancel(ctx), c.ClientID, idem.Key, a)
}

// finishTakenOver settles what the partner already decided about the dead request's call
// a and answers the request (clientID, key) with its object as it then stands.
func (h *Hub) finishTakenOver(ctx context.Context, clientID, key string, a contracts.Attempt) error {
	p, err := h.store.GetPayment(ctx, "", a.PaymentID)
	if err != nil {
		return err
	}
	if a.Outcome == "" {
		if err := h.settleTakenOver(ctx, a, p); err != nil {
			return err
		}
	}
	return h.answerTakenOver(ctx, clientID, key, a)
}

// settleTakenOver records the partner's decided answer about the open call a, or the open
// state the call leaves behind. Only answers the partner cannot take back count here: the
// dead instance's call may still be on its way, so "not there yet" proves nothing until
// the resolver's stuck rule says so.
func (h *Hub) settleTakenOver(ctx context.Context, a contracts.Attempt, p contracts.Payment) error {
	if a.Operation == contracts.OpRefund {
		return h.markRefundTakenOver(ctx, a)
	}
	partner := h.partners[p.Method]
	res := contracts.PaymentResult{Outcome: contracts.OutcomeUnknown}
	if partner != nil {
		res = partner.GetPayment(ctx, h.paymentRef(p))
	}
	switch a.Operation {
	case contracts.OpPay:
		if settled(res.Outcome) && (p.Status == contracts.StatusProcessing || p.Status == contracts.StatusUnknown) {
			q, err := h.settlePayment(ctx, p, res)
			if err == nil {
				h.honorCancelRequest(ctx, q)
			}
			return err
		}
	case contracts.OpCapture:
		if res.Outcome == contracts.OutcomeSucceeded || res.Outcome == contracts.OutcomeFailed || res.Outcome == contracts.OutcomeCanceled {
			h.settleCutOffAttempt(ctx, a, p, res)
			return nil
		}
	case contracts.OpCancel:
		if res.Outcome == contracts.OutcomeCanceled || res.Outcome == contracts.OutcomeFailed {
			h.settleCutOffAttempt(ctx, a, p, res)
			return nil
		}
	}
	return h.markTakenOverOpen(ctx, a)
}

// settled reports whether a payment query answered with a status the partner cannot take
// back for a payment being created.
func settled(o contracts.Outcome) bool {
	switch o {
	case contracts.OutcomeSucceeded, contracts.OutcomeAuthorized, contracts.OutcomeFailed, contracts.OutcomeCanceled:
		return true
	}
	return false
}

// markTakenOverOpen records the open state a lost payment, capture or cancel call leaves,
// as the request would have had the partner's answer been lost: the payment unknown (do not
// charge again), or for a cancel, the cancel requested (payhub reverses it). The attempt
// stays open for the resolver.
func (h *Hub) markTakenOverOpen(ctx context.Context, a contracts.Attempt) error {
	return h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, a.PaymentID)
		if err != nil {
			return err
		}
		now := h.now()
		switch {
		case a.Operation == contracts.OpCancel:
			if p.CancelRequested || !reversible(p.Status) {
				return nil
			}
			p.CancelRequested, p.UpdatedAt = true, now
			ev := h.event(&p, "", contracts.EventPaymentCancelRequested, h.render.Payment(p), now)
			if err := tx.UpdatePayment(ctx, p); err != nil {
				return err
			}
			return tx.AppendEvent(ctx, ev)
		case a.Operation == contracts.OpPay && p.Status == contracts.StatusProcessing,
			a.Operation == contracts.OpCapture && p.Status == contracts.StatusAuthorized:
			return h.markUnknown(ctx, tx, &p, now)
		}
		return nil
	})
}

// markRefundTakenOver makes a dead request's pending refund unknown. It is not sent again
// before the resolver's stuck rule: a partner without refund ids (LINE Pay) tells a resend
// from a new refund only by the refunded total, which the dead call may still change.
func (h *Hub) markRefundTakenOver(ctx context.Context, a contracts.Attempt) error {
	return h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, a.PaymentID)
		if err != nil {
			return err
		}
		r, err := tx.GetRefundForUpdate(ctx, a.RefundID)
		if err != nil || r.Status != contracts.RefundPending {
			return err
		}
		now := h.now()
		next := a.StartedAt.Add(h.resolver.StuckAfter)
		r.Status, r.UpdatedAt, r.Resolution.NextAt = contracts.RefundUnknown, now, &next
		r.FailureMessage = "The partner's answer did not arrive; the refund's outcome will follow."
		p.UpdatedAt = now
		ev := h.event(&p, r.ID, contracts.EventRefundUnknown, h.render.Refund(r), now)
		if err := tx.UpdateRefund(ctx, r); err != nil {
			return err
		}
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, ev)
	})
}

// answerTakenOver stores the answer of the dead request (clientID, key) that made call a,
// unless one was stored meanwhile: the object as it now stands, with the status the
// request would have answered.
func (h *Hub) answerTakenOver(ctx context.Context, clientID, key string, a contracts.Attempt) error {
	return h.store.InTx(ctx, func(tx contracts.Tx) error {
		p, err := tx.GetPaymentForUpdate(ctx, a.PaymentID)
		if err != nil {
			return err
		}
		status, body := http.StatusOK, h.render.Payment(p)
		switch a.Operation {
		case contracts.OpPay:
			status = http.StatusCreated
		case contracts.OpCancel:
			if p.Status != contracts.StatusCanceled {
				status = http.StatusAccepted
			}
		case contracts.OpRefund:
			r, err := tx.GetRefundForUpdate(ctx, a.RefundID)
			if err != nil {
				return err
			}
			status, body = http.StatusCreated, h.render.Refund(r)
		}
		return h.answerOpenRequest(ctx, tx, clientID, key, status, body, h.now())
	})
}
