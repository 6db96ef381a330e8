package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
)

// A request's key is claimed in the transaction of its intent, or claimed and answered at
// once: a second claim of the key (the same owner and request included) is refused and
// writes nothing; a rolled-back claim leaves no key; the intent's answer completes it.
func testIdempotencyClaimedWithIntentOrAnswer(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	key := func(k, fingerprint, owner string) contracts.IdempotencyKey {
		return contracts.IdempotencyKey{ClientID: "cli_a", Key: k, Fingerprint: fingerprint, CreatedAt: base, Owner: owner}
	}
	claim := func(k contracts.IdempotencyKey, attempt string) error {
		return s.InTx(ctx, func(tx contracts.Tx) error { return tx.ClaimIdempotencyIntent(ctx, k, attempt) })
	}
	answer := func(k contracts.IdempotencyKey, a contracts.Answer) error {
		return s.InTx(ctx, func(tx contracts.Tx) error { return tx.AnswerIdempotency(ctx, k, a, at(time.Second)) })
	}
	created := contracts.Answer{Kind: contracts.AnswerCreated, Body: []byte(`{"id":"pay_1"}`)}

	if err := claim(key("k1", "f1", "ins_A"), "att_1"); err != nil {
		t.Fatalf("ClaimIdempotencyIntent(new) = %v", err)
	}
	rec, err := s.GetIdempotency(ctx, "cli_a", "k1")
	if err != nil || rec.Completed || !rec.IntentWritten || rec.AttemptID != "att_1" || rec.Owner != "ins_A" ||
		rec.Fingerprint != "f1" || !rec.CreatedAt.Equal(stored(base)) {
		t.Fatalf("claimed with intent: %+v, %v", rec, err)
	}
	for _, c := range []struct {
		name string
		try  func() error
	}{
		{"the same request again", func() error { return claim(key("k1", "f1", "ins_A"), "att_2") }},
		{"another instance", func() error { return claim(key("k1", "f1", "ins_B"), "att_2") }},
		{"another request", func() error { return claim(key("k1", "f2", "ins_A"), "att_2") }},
		{"an answer over the intent", func() error { return answer(key("k1", "f1", "ins_A"), created) }},
	} {
		if err := c.try(); !errors.Is(err, contracts.ErrIdempotencyKeyTaken) {
			t.Errorf("%s: %v, want ErrIdempotencyKeyTaken", c.name, err)
		}
	}
	if rec, _ := s.GetIdempotency(ctx, "cli_a", "k1"); rec.AttemptID != "att_1" || rec.Completed {
		t.Errorf("a refused claim changed the key: %+v", rec)
	}
	inTx(t, s, func(tx contracts.Tx) error {
		return tx.CompleteIdempotency(ctx, "cli_a", "k1", created, at(time.Second))
	})
	if rec, _ := s.GetIdempotency(ctx, "cli_a", "k1"); !rec.Completed || string(rec.Answer.Body) != `{"id":"pay_1"}` {
		t.Errorf("completed after its intent: %+v", rec)
	}

	// Claimed and answered at once; then taken for every other claim.
	refused := contracts.Answer{Kind: contracts.AnswerRefused, Code: contracts.CodeInvalidState, Body: []byte(`{"code":"invalid_state"}`)}
	if err := answer(key("k2", "f1", "ins_A"), refused); err != nil {
		t.Fatalf("AnswerIdempotency(new) = %v", err)
	}
	rec, err = s.GetIdempotency(ctx, "cli_a", "k2")
	if err != nil || !rec.Completed || rec.IntentWritten || rec.Answer.Kind != contracts.AnswerRefused ||
		rec.Answer.Code != contracts.CodeInvalidState || rec.CompletedAt == nil || !rec.CompletedAt.Equal(stored(at(time.Second))) {
		t.Fatalf("claimed with its answer: %+v, %v", rec, err)
	}
	if err := answer(key("k2", "f1", "ins_A"), created); !errors.Is(err, contracts.ErrIdempotencyKeyTaken) {
		t.Errorf("a second answer: %v, want ErrIdempotencyKeyTaken", err)
	}
	if err := claim(key("k2", "f1", "ins_A"), "att_3"); !errors.Is(err, contracts.ErrIdempotencyKeyTaken) {
		t.Errorf("an intent after the answer: %v, want ErrIdempotencyKeyTaken", err)
	}

	// A claim of an earlier release (no intent yet) is marked by its owner's request only.
	if _, ok, err := s.BeginIdempotency(ctx, key("k3", "f1", "ins_A")); err != nil || !ok {
		t.Fatalf("BeginIdempotency = %v, %v", ok, err)
	}
	if err := claim(key("k3", "f1", "ins_B"), "att_4"); !errors.Is(err, contracts.ErrIdempotencyKeyTaken) {
		t.Errorf("another owner's claim: %v, want ErrIdempotencyKeyTaken", err)
	}
	if err := answer(key("k3", "f2", "ins_A"), created); !errors.Is(err, contracts.ErrIdempotencyKeyTaken) {
		t.Errorf("another request's answer: %v, want ErrIdempotencyKeyTaken", err)
	}
	if err := claim(key("k3", "f1", "ins_A"), "att_4"); err != nil {
		t.Errorf("the owner's intent: %v", err)
	}
	if rec, _ := s.GetIdempotency(ctx, "cli_a", "k3"); !rec.IntentWritten || rec.AttemptID != "att_4" {
		t.Errorf("marked claim: %+v", rec)
	}

	// A claim rolled back with its transaction leaves no key behind.
	boom := errors.New("boom")
	if err := s.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.ClaimIdempotencyIntent(ctx, key("k4", "f1", "ins_A"), "att_5"); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("InTx = %v", err)
	}
	if _, err := s.GetIdempotency(ctx, "cli_a", "k4"); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("after a rolled-back claim: %v, want ErrNotFound", err)
	}
}

// Of many transactions claiming one key at once — intents and answers, several requests —
// exactly one commits its claim; the others are refused ErrIdempotencyKeyTaken.
func testConcurrentIdempotencyClaims(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	const n = 12
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		won   []int
		taken int
	)
	for i := range n {
		wg.Go(func() {
			k := contracts.IdempotencyKey{ClientID: "cli_a", Key: "shared", Fingerprint: fmt.Sprintf("f%d", i%3),
				CreatedAt: base, Owner: "ins_A"}
			err := s.InTx(ctx, func(tx contracts.Tx) error {
				if i%2 == 0 {
					return tx.AnswerIdempotency(ctx, k, contracts.Answer{Kind: contracts.AnswerDone, Body: []byte("{}")}, base)
				}
				return tx.ClaimIdempotencyIntent(ctx, k, fmt.Sprintf("att_%d", i))
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, i)
			case errors.Is(err, contracts.ErrIdempotencyKeyTaken):
				taken++
			default:
				t.Errorf("claim %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 || taken != n-1 {
		t.Fatalf("claims won by %v, %d taken; want exactly one winner", won, taken)
	}
	rec, err := s.GetIdempotency(ctx, "cli_a", "shared")
	if err != nil || rec.Fingerprint != fmt.Sprintf("f%d", won[0]%3) || rec.Completed != (won[0]%2 == 0) {
		t.Errorf("the key holds %+v (%v); the winner was %d", rec, err, won[0])
	}
}
