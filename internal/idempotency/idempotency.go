// Package idempotency owns payhub's Idempotency-Key rules (docs/api.md §3): what makes two
// requests the same (the fingerprint), the claim a first request makes, the replay of its
// answer, the wait of a retry for a request still running and the takeover of one whose
// instance died, the release of keys whose request never reached a partner, and their
// expiry. The engine writes intents and answers through it, in the transactions of the
// state changes they belong to; the store keeps the keys.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"payhub/contracts"
	"payhub/internal/jsonin"
	"payhub/internal/render"
)

// Key is a store request's Idempotency-Key with the fingerprint of the request it came with.
type Key struct {
	// Key is the header's value.
	Key string
	// Fingerprint is the SHA-256 of the request (Fingerprint).
	Fingerprint string
}

// Param is one path parameter of a request.
type Param struct{ Name, Value string }

// ParseKey reads the Idempotency-Key header's values: exactly one, 1–255 printable ASCII
// characters, optionally as a quoted Structured-Field string.
func ParseKey(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	key := values[0]
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = key[1 : len(key)-1]
	}
	if key == "" || len(key) > 255 {
		return "", false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e || key[i] == '"' || key[i] == '\\' {
			return "", false
		}
	}
	return key, true
}

// Fingerprint is the SHA-256 of what makes two requests "the same": the store, method,
// route template, path parameters and the canonical body (key order and spacing do not
// matter). The store is part of it: a client acting for two stores that reuses a key for
// the other store gets 422, never the first store's payment.
func Fingerprint(storeID, method, route string, params []Param, body []byte) (string, error) {
	canonical := []byte{}
	if len(body) > 0 {
		var err error
		if canonical, err = jsonin.Canonical(body); err != nil {
			return "", err
		}
	}
	h := sha256.New()
	h.Write([]byte(storeID + "\n" + method + "\n" + route + "\n"))
	for _, p := range params {
		h.Write([]byte(p.Name + "=" + p.Value + "\n"))
	}
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Response is a command's answer, and whether it is the stored first answer replayed.
type Response struct {
	contracts.Answer
	// Replayed is true when the answer is the stored answer of the key's first request.
	Replayed bool
}

// DefaultRetention is how long a finished request's key is replayed: the conventions
// require at least 24 hours; payhub keeps 72 for tills that were offline.
const DefaultRetention = 72 * time.Hour

// storedRefusals are refusals decided after execution began: they are stored with the key
// and replayed (docs/api.md §3). Every other refusal frees the key.
var storedRefusals = map[contracts.ErrorCode]bool{
	contracts.CodeInvalidState:          true,
	contracts.CodeRefundExceedsCaptured: true,
	contracts.CodeCancelWindowPassed:    true,
}

// Config wires a Guard.
type Config struct {
	// Store keeps the keys.
	Store contracts.Store
	// Clock tells the time.
	Clock contracts.Clock
	// Instance is this process's instance id: the owner of the claims it makes.
	Instance string
	// Gone reports whether the instance that owns a claim no longer runs.
	Gone func(ctx context.Context, instance string) (bool, error)
	// Wait bounds how long a retry waits for a request running on another instance before
	// answering 409: longer than an instance's lease, so that a dead holder is always
	// found gone within it.
	Wait time.Duration
	// AwaitEvery is how often a waiting retry looks again.
	AwaitEvery time.Duration
	// Sleep waits d or until ctx ends (tests inject one that moves their clock).
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives what the guard does with keys of dead instances.
	Logger *slog.Logger
}

// Guard runs each store command once per (client, Idempotency-Key).
type Guard struct{ cfg Config }

// New returns a Guard.
func New(cfg Config) *Guard {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Guard{cfg: cfg}
}

func (g *Guard) now() time.Time { return g.cfg.Clock.Now().UTC().Truncate(time.Microsecond) }

// Exec runs a command under a claimed key; it stores its own answer in the transaction of
// its state change (Complete).
type Exec func(ctx context.Context) (contracts.Answer, error)

// Finish settles the request of a dead instance whose intent, call attempt attemptID, was
// written: it records what became of the call and answers the key (AnswerOpen).
type Finish func(ctx context.Context, attemptID string) error

// Run runs exec once per (clientID, key): a finished first answer is replayed, another
// request under the same key answers 422 idempotency_key_reused. A retry of a request
// still running waits a little for its answer; one whose instance died is taken over —
// run afresh when it never reached a partner, else settled by finish — so a till never
// waits minutes after a crash. Refusals exec returns are stored when they are the
// replayable kind and otherwise leave no trace.
//
// A new request's key is claimed in exec's own first transaction (MarkIntent before a
// partner call, Answer for a request answered without one), not in a transaction of its
// own: one durable commit fewer per request. Of two requests racing on one key, the second
// finds the key taken when its transaction claims it, rolls back, and is answered from the
// key's record as if it had come after.
func (g *Guard) Run(ctx context.Context, clientID string, key Key, exec Exec, finish Finish) (Response, error) {
	for races := 0; ; races++ {
		rec, err := g.cfg.Store.GetIdempotency(ctx, clientID, key.Key)
		mode := runNew
		switch {
		case errors.Is(err, contracts.ErrNotFound):
		case err != nil:
			return Response{}, fmt.Errorf("read idempotency key: %w", err)
		default:
			var resp Response
			if resp, mode, err = g.await(ctx, clientID, key, rec, finish); mode == answered {
				return resp, err
			}
		}
		resp, err := g.execute(ctx, clientID, key, mode == runClaimed, exec)
		if !errors.Is(err, contracts.ErrIdempotencyKeyTaken) {
			return resp, err
		}
		if races == maxClaimRaces {
			return Response{}, contracts.Errorf(contracts.CodeIdempotencyKeyInUse,
				"A request with this Idempotency-Key is still running; retry later.")
		}
		// Another request claimed the key first: answer from its record.
	}
}

// maxClaimRaces bounds how often one request loses its key to another and looks again: a
// key taken is answered from its record, so a second loss needs the winner to have rolled
// back in between.
const maxClaimRaces = 3

// runMode is what a request does after reading its key: run as a new request (no claim
// exists), run under the claim it took over, or nothing more (answered).
type runMode int

const (
	runNew runMode = iota
	runClaimed
	answered
)

// execute runs a request and decides what the key remembers of a refusal or a fault.
// claimedBefore is true when the request runs under a claim written before its intent (one
// taken over from an instance of an earlier release): a refusal that is not stored
// releases it.
func (g *Guard) execute(ctx context.Context, clientID string, key Key, claimedBefore bool, exec Exec) (Response, error) {
	a, err := exec(ctx)
	if err == nil {
		return Response{Answer: a}, nil
	}
	if errors.Is(err, contracts.ErrIdempotencyKeyTaken) {
		return Response{}, err
	}
	ctx = context.WithoutCancel(ctx)
	if pe, ok := contracts.AsError(err); ok && storedRefusals[pe.Code] {
		a := Refusal(ctx, pe)
		if serr := g.cfg.Store.InTx(ctx, func(tx contracts.Tx) error {
			return g.Answer(ctx, tx, clientID, &key, a, g.now())
		}); serr != nil {
			if errors.Is(serr, contracts.ErrIdempotencyKeyTaken) {
				return Response{}, serr
			}
			return Response{}, fmt.Errorf("store refusal: %w", serr)
		}
		return Response{Answer: a}, nil
	}
	var called *partnerCalledError
	if errors.As(err, &called) {
		// The partner was called but the outcome could not be recorded: the key stays in
		// use until the request is settled, so a retry cannot charge twice.
		return Response{}, err
	}
	if !claimedBefore {
		return Response{}, err // the key was never claimed: nothing to release
	}
	if aerr := g.cfg.Store.AbandonIdempotency(ctx, clientID, key.Key, g.cfg.Instance); aerr != nil {
		g.cfg.Logger.ErrorContext(ctx, "abandon idempotency key", "err", aerr)
	}
	return Response{}, err
}

// Refusal is e as a stored answer: the problem document the API shows for it.
func Refusal(ctx context.Context, e *contracts.Error) contracts.Answer {
	return contracts.Answer{Kind: contracts.AnswerRefused, Code: e.Code, Body: render.Problem(ctx, e)}
}

// replay answers a retry from the key's record: its stored answer, 422 for another request
// under the key, 409 while the first still runs.
func replay(rec contracts.IdempotencyRecord, key Key) (Response, error) {
	if rec.Fingerprint != key.Fingerprint {
		return Response{}, contracts.Errorf(contracts.CodeIdempotencyKeyReused,
			"This Idempotency-Key was used with a different request; use a new key for a new request.")
	}
	if !rec.Completed {
		return Response{}, contracts.Errorf(contracts.CodeIdempotencyKeyInUse,
			"A request with this Idempotency-Key is still running; retry later.")
	}
	return Response{Answer: rec.Answer, Replayed: true}, nil
}

// PartnerCalled marks err, a failure after the request's partner call began: its key stays
// in use (never freed for a rerun) until the request is settled.
func PartnerCalled(err error) error { return &partnerCalledError{err} }

type partnerCalledError struct{ err error }

func (e *partnerCalledError) Error() string { return e.err.Error() }
func (e *partnerCalledError) Unwrap() error { return e.err }

// MarkIntent claims the request's key, in the transaction that writes its intent, noting
// that the request is about to reach a partner with attempt attemptID: its key is then
// answered, never released, and a takeover knows what to settle. It fails with
// contracts.ErrIdempotencyKeyTaken when another request holds the key (or another instance
// took this one's claim over, believing it dead), so no partner ever hears twice of one
// request. A call without a store request (key nil: the resolver's own) has nothing to
// mark.
func (g *Guard) MarkIntent(ctx context.Context, tx contracts.Tx, clientID string, key *Key, attemptID string) error {
	if key == nil || key.Key == "" {
		return nil
	}
	return tx.ClaimIdempotencyIntent(ctx, g.claim(clientID, key), attemptID)
}

// Answer claims the request's key and stores a as its answer, in the transaction of the
// state change it answers, for a request answered without reaching a partner. It fails
// with contracts.ErrIdempotencyKeyTaken as MarkIntent does. A call without a store request
// (key nil) stores nothing.
func (g *Guard) Answer(ctx context.Context, tx contracts.Tx, clientID string, key *Key, a contracts.Answer, at time.Time) error {
	if key == nil || key.Key == "" {
		return nil
	}
	return tx.AnswerIdempotency(ctx, g.claim(clientID, key), a, at)
}

// claim is this instance's claim of the request's key, made now.
func (g *Guard) claim(clientID string, key *Key) contracts.IdempotencyKey {
	return contracts.IdempotencyKey{ClientID: clientID, Key: key.Key, Fingerprint: key.Fingerprint, CreatedAt: g.now(), Owner: g.cfg.Instance}
}

// Complete stores a as the answer of the request (clientID, key) whose intent MarkIntent
// wrote, in the transaction of the state change it answers. A call without a store request
// (key nil) stores nothing.
func Complete(ctx context.Context, tx contracts.Tx, clientID string, key *Key, a contracts.Answer, at time.Time) error {
	if key == nil || key.Key == "" {
		return nil
	}
	return tx.CompleteIdempotency(ctx, clientID, key.Key, a, at)
}

// AnswerOpen stores a as the answer of the request (clientID, key) if that request never
// got one (a crash cut it, or its instance was taken for dead): the till's retry then
// replays the settled object instead of answering 409 forever.
func AnswerOpen(ctx context.Context, tx contracts.Tx, clientID, key string, a contracts.Answer, at time.Time) error {
	if key == "" {
		return nil
	}
	rec, err := tx.LookupIdempotency(ctx, clientID, key)
	if errors.Is(err, contracts.ErrNotFound) || (err == nil && rec.Completed) {
		return nil
	}
	if err != nil {
		return err
	}
	return tx.CompleteIdempotency(ctx, clientID, key, a, at)
}

// ReleaseOrphans frees the keys claimed before claimedBefore whose request died before it
// wrote its intent: no partner heard of it, so a retry may run it afresh.
func (g *Guard) ReleaseOrphans(ctx context.Context, claimedBefore time.Time) (int64, error) {
	return g.cfg.Store.ReleaseOrphanedIdempotency(ctx, claimedBefore)
}

// Expire deletes keys whose request finished more than retention ago; after that the key
// is a new request. It says how many it deleted.
func (g *Guard) Expire(ctx context.Context, retention time.Duration) (int64, error) {
	return g.cfg.Store.DeleteExpiredIdempotency(ctx, g.now().Add(-retention))
}
