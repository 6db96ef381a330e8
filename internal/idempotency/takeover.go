package idempotency

import (
	"context"
	"errors"

	"payhub/contracts"
)

// A till that loses its answer sends the request again under the same Idempotency-Key. If
// the instance that ran the first request is alive, the retry waits briefly for its answer;
// if that instance died (a SIGKILL, a lost machine), the retry takes the claim over as soon
// as the instance's heartbeat lease has run out, and answers the till itself:
//
//   - the request died before it wrote its intent: no partner heard of it, so it runs
//     afresh under the retry;
//   - it wrote its intent, so its partner call may have moved money: the engine's Finish
//     settles what the partner already decided and otherwise answers with the object's
//     open state (payment unknown: "do not charge again, the result follows"), exactly as
//     if the partner's answer had been lost. It never sends the partner call again.
//
// So the till gets its answer within the lease plus a partner query, never 409 for minutes.

// await answers a request whose key exists already: a replay of the stored answer, 422 for
// another request under the key, or, while the first request runs, its answer once it
// arrives, a takeover once its instance is gone, or 409 after a short wait. A mode other
// than answered says the request must run afresh: under the claim it took over
// (runClaimed), or as a new request when the key was released meanwhile (runNew).
func (g *Guard) await(ctx context.Context, clientID string, key Key, rec contracts.IdempotencyRecord, finish Finish) (Response, runMode, error) {
	deadline := g.now().Add(g.cfg.Wait)
	for {
		if rec.Fingerprint != key.Fingerprint || rec.Completed {
			resp, err := replay(rec, key)
			return resp, answered, err
		}
		if rec.Owner != "" && rec.Owner != g.cfg.Instance {
			gone, err := g.cfg.Gone(ctx, rec.Owner)
			if err != nil {
				return Response{}, answered, err
			}
			if gone {
				took, rerun, err := g.takeOver(ctx, clientID, key, rec, finish)
				if err != nil || took {
					resp, err := g.answerAfterTakeover(ctx, clientID, key, rerun, err)
					if rerun && err == nil {
						return resp, runClaimed, nil
					}
					return resp, answered, err
				}
			}
		}
		// Running here (this instance answers it), under a claim from before instances
		// had ids, or too long on a live instance: the till retries later.
		if rec.Owner == g.cfg.Instance || rec.Owner == "" || !g.now().Before(deadline) {
			resp, err := replay(rec, key)
			return resp, answered, err
		}
		if err := g.cfg.Sleep(ctx, g.cfg.AwaitEvery); err != nil {
			return Response{}, answered, err
		}
		var err error
		if rec, err = g.cfg.Store.GetIdempotency(ctx, clientID, key.Key); errors.Is(err, contracts.ErrNotFound) {
			// Released meanwhile (a claim of an earlier release whose request was refused
			// before it reached a partner, or died before that): run it as a new request.
			return Response{}, runNew, nil
		} else if err != nil {
			return Response{}, answered, err
		}
	}
}

// answerAfterTakeover is the retry's answer once it took the claim over: the stored answer
// the takeover wrote, or nothing yet when the request must run afresh.
func (g *Guard) answerAfterTakeover(ctx context.Context, clientID string, key Key, rerun bool, err error) (Response, error) {
	if err != nil || rerun {
		return Response{}, err
	}
	rec, err := g.cfg.Store.GetIdempotency(ctx, clientID, key.Key)
	if err != nil {
		return Response{}, err
	}
	return replay(rec, key)
}

// takeOver moves the claim of a gone instance to this one and finishes its request: took
// is false when another instance took it over first (or it was answered meanwhile); rerun
// when the request never reached a partner and must run afresh.
func (g *Guard) takeOver(ctx context.Context, clientID string, key Key, rec contracts.IdempotencyRecord, finish Finish) (took, rerun bool, err error) {
	took, err = g.cfg.Store.TakeOverIdempotency(ctx, clientID, key.Key, rec.Owner, g.cfg.Instance, g.now())
	if err != nil || !took {
		return false, false, err
	}
	// The claim is ours now, so the dead instance can no longer write an intent under it:
	// what the record says about the intent is final.
	gone := rec.Owner
	if rec, err = g.cfg.Store.GetIdempotency(ctx, clientID, key.Key); err != nil {
		return true, false, err
	}
	g.cfg.Logger.InfoContext(ctx, "took over the request of a gone instance", "gone_instance", gone,
		"intent_written", rec.IntentWritten, "attempt_id", rec.AttemptID)
	switch {
	case rec.Completed:
		return true, false, nil
	case !rec.IntentWritten:
		return true, true, nil
	case rec.AttemptID == "":
		return true, false, errors.New("take over: the request's intent names no attempt")
	}
	return true, false, finish(context.WithoutCancel(ctx), rec.AttemptID)
}
