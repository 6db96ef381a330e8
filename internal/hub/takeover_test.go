package hub_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/hub"
	"payhub/internal/idempotency"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// restart is payhub killed and started again on the same database: dead is the instance
// that held the till's request (its store view crashes on command, as crashingStore does),
// live the one that takes the till's retry. Both talk to one partner on one clock.
type restart struct {
	clock   *clock.Manual
	store   contracts.Store
	crash   *crashingStore
	dead    *hub.Hub
	live    *hub.Hub
	partner *scriptedPartner
	caller  hub.Caller
	// sleeps counts the live instance's waits for a request in flight.
	sleeps int
	// duringSleep runs at every such wait, after the clock moved on.
	duringSleep func()
}

func newRestart(t *testing.T) *restart {
	t.Helper()
	st := storetest.OpenSQLite(t)
	r := &restart{clock: clock.NewManual(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)), store: st,
		crash: &crashingStore{Store: st}, partner: &scriptedPartner{}, caller: hub.Caller{ClientID: "pos-1", StoreID: "store-1"}}
	sleep := func(ctx context.Context, d time.Duration) error {
		r.sleeps++
		r.clock.Advance(d)
		if r.duringSleep != nil {
			r.duringSleep()
		}
		return nil
	}
	r.dead = r.newHub(t, r.crash, nil)
	r.live = r.newHub(t, st, sleep)
	return r
}

func (r *restart) newHub(t *testing.T, st contracts.Store, sleep func(context.Context, time.Duration) error) *hub.Hub {
	t.Helper()
	h := hub.New(hub.Config{Store: st, Partners: map[contracts.Method]contracts.Partner{contracts.MethodPayPay: r.partner},
		Clock: r.clock, IDs: ids.New(r.clock), APIVersion: contracts.APIVersion,
		Metrics: hub.NewMetrics(prometheus.NewRegistry()), Instance: hub.InstanceConfig{Sleep: sleep}})
	if err := h.RegisterInstance(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

// die makes the dead instance's heartbeat lapse: the clock passes its lease while the live
// one keeps beating.
func (r *restart) die(t *testing.T) {
	t.Helper()
	r.clock.Advance(hub.DefaultInstanceConfig.Lease + time.Second)
	if err := r.live.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A create whose partner call went through, cut by a crash before its outcome was written:
// the till's retry on the restarted instance gets the settled payment once the dead
// instance's lease lapsed, never 409, and the partner was asked to pay exactly once.
func TestRetryTakesOverACreateOfADeadInstance(t *testing.T) {
	for name, c := range map[string]struct {
		partnerSays contracts.Outcome
		want        string
	}{
		"the partner knows it":  {contracts.OutcomeSucceeded, "succeeded"},
		"the partner is silent": {contracts.OutcomeUnknown, "unknown"},
		"the partner declined":  {contracts.OutcomeFailed, "failed"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRestart(t)
			ctx := context.Background()
			key := idem("create")
			r.partner.create = func(contracts.PaymentRequest) contracts.PaymentResult {
				r.crash.crashIn.Store(1) // dies before the outcome is written
				return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}
			}
			if _, err := r.dead.CreatePayment(ctx, r.caller, key, payment(700)); err == nil {
				t.Fatal("the dying instance answered")
			}
			r.partner.get = answer(c.partnerSays)
			r.die(t)
			got, err := r.live.CreatePayment(ctx, r.caller, key, payment(700))
			if err != nil || got.Kind != contracts.AnswerCreated || decode(t, got)["status"] != c.want {
				t.Fatalf("retry: %v %s %s", err, got.Kind, got.Body)
			}
			if r.partner.count("create") != 1 || r.sleeps != 0 {
				t.Fatalf("partner creates %d, waits %d", r.partner.count("create"), r.sleeps)
			}
			again, err := r.live.CreatePayment(ctx, r.caller, key, payment(700))
			if err != nil || !again.Replayed || string(again.Body) != string(got.Body) {
				t.Fatalf("second retry: %v %+v", err, again)
			}
			if c.want != "unknown" {
				return
			}
			// The resolver settles it by the partner's rules, not the takeover.
			r.partner.get = answer(contracts.OutcomeSucceeded)
			if _, err := r.live.ResolveOnce(ctx); err != nil {
				t.Fatal(err)
			}
			id := decode(t, got)["id"].(string)
			if p, _ := r.store.GetPayment(ctx, "", id); p.Status != contracts.StatusSucceeded || r.partner.count("create") != 1 {
				t.Fatalf("after the resolver: %s, partner creates %d", p.Status, r.partner.count("create"))
			}
		})
	}
}

// A request whose instance died after claiming its key but before it wrote its intent
// never reached the partner: the retry runs it afresh.
func TestRetryRerunsARequestThatDiedBeforeItsIntent(t *testing.T) {
	r := newRestart(t)
	ctx := context.Background()
	key := idem("create")
	r.crash.crashIn.Store(1) // the intent's transaction
	if _, err := r.dead.CreatePayment(ctx, r.caller, key, payment(700)); err == nil {
		t.Fatal("the dying instance answered")
	}
	// A SIGKILL leaves the claim behind (the failing instance above freed it; put it back
	// as the kill leaves it).
	if _, _, err := r.store.BeginIdempotency(ctx, contracts.IdempotencyKey{ClientID: r.caller.ClientID, Key: key.Key,
		Fingerprint: key.Fingerprint, CreatedAt: r.clock.Now(), Owner: r.dead.InstanceID()}); err != nil {
		t.Fatal(err)
	}
	r.die(t)
	got, err := r.live.CreatePayment(ctx, r.caller, key, payment(700))
	if err != nil || got.Replayed || decode(t, got)["status"] != "succeeded" || r.partner.count("create") != 1 {
		t.Fatalf("retry: %v %+v, partner creates %d", err, got, r.partner.count("create"))
	}
}

// While the instance that runs the request is alive, the retry waits for its answer and
// replays it; if none comes within the lease, 409 as before.
func TestRetryWaitsForALiveInstance(t *testing.T) {
	t.Run("answered meanwhile", func(t *testing.T) {
		r := newRestart(t)
		ctx := context.Background()
		key := idem("create")
		claim(t, r, key, r.dead.InstanceID())
		r.duringSleep = func() {
			if r.sleeps == 3 {
				if err := r.store.InTx(ctx, func(tx contracts.Tx) error {
					return tx.CompleteIdempotency(ctx, r.caller.ClientID, key.Key, contracts.Answer{Kind: contracts.AnswerCreated, Body: []byte(`{"status":"succeeded"}`)}, r.clock.Now())
				}); err != nil {
					t.Error(err)
				}
			}
		}
		got, err := r.live.CreatePayment(ctx, r.caller, key, payment(700))
		if err != nil || !got.Replayed || string(got.Body) != `{"status":"succeeded"}` || r.sleeps != 3 {
			t.Fatalf("retry: %v %+v after %d waits", err, got, r.sleeps)
		}
	})
	t.Run("still running", func(t *testing.T) {
		r := newRestart(t)
		ctx := context.Background()
		key := idem("create")
		claim(t, r, key, r.dead.InstanceID())
		r.duringSleep = func() { _ = r.dead.Heartbeat(ctx) } // alive all along
		_, err := r.live.CreatePayment(ctx, r.caller, key, payment(700))
		wantCode(t, err, contracts.CodeIdempotencyKeyInUse)
		cfg := hub.DefaultInstanceConfig
		if max := int((cfg.Lease + cfg.HeartbeatEvery) / cfg.AwaitEvery); r.sleeps < max-1 || r.sleeps > max || r.partner.count("create") != 0 {
			t.Fatalf("waited %d times (want about %d), partner creates %d", r.sleeps, max, r.partner.count("create"))
		}
	})
	t.Run("running here", func(t *testing.T) {
		r := newRestart(t)
		key := idem("create")
		claim(t, r, key, r.live.InstanceID())
		_, err := r.live.CreatePayment(context.Background(), r.caller, key, payment(700))
		wantCode(t, err, contracts.CodeIdempotencyKeyInUse)
		if r.sleeps != 0 {
			t.Fatalf("waited %d times for its own request", r.sleeps)
		}
	})
}

func claim(t *testing.T, r *restart, key idempotency.Key, owner string) {
	t.Helper()
	if _, ok, err := r.store.BeginIdempotency(context.Background(), contracts.IdempotencyKey{ClientID: r.caller.ClientID,
		Key: key.Key, Fingerprint: key.Fingerprint, CreatedAt: r.clock.Now(), Owner: owner}); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
}

// blockingStore holds the transaction that writes a request's intent (and claims its key)
// until released: an instance frozen (a GC pause, a partition) before its intent.
type blockingStore struct {
	contracts.Store
	arm     bool
	reached chan struct{}
	release chan struct{}
}

func (s *blockingStore) InTx(ctx context.Context, fn func(tx contracts.Tx) error) error {
	if s.arm {
		s.arm = false
		close(s.reached)
		<-s.release
	}
	return s.Store.InTx(ctx, fn)
}

// An instance taken for dead that wakes up after another ran the request cannot write its
// intent any more (its claim finds the key taken): the partner hears of the payment once,
// and the frozen request is answered with the payment the other instance made.
func TestAFrozenInstanceCannotActOnATakenOverClaim(t *testing.T) {
	r := newRestart(t)
	ctx := context.Background()
	frozen := &blockingStore{Store: r.store, arm: true, reached: make(chan struct{}), release: make(chan struct{})}
	zombie := r.newHub(t, frozen, nil)
	key := idem("create")
	var wg sync.WaitGroup
	var (
		zombieAnswer hub.Response
		zombieErr    error
	)
	wg.Go(func() { zombieAnswer, zombieErr = zombie.CreatePayment(ctx, r.caller, key, payment(700)) })
	<-frozen.reached
	r.die(t)
	got, err := r.live.CreatePayment(ctx, r.caller, key, payment(700))
	if err != nil || decode(t, got)["status"] != "succeeded" {
		t.Fatalf("retry: %v %+v", err, got)
	}
	close(frozen.release)
	wg.Wait()
	if zombieErr != nil || r.partner.count("create") != 1 {
		t.Fatalf("the frozen instance: %v, partner creates %d", zombieErr, r.partner.count("create"))
	}
	if !zombieAnswer.Replayed || decode(t, zombieAnswer)["id"] != decode(t, got)["id"] {
		t.Fatalf("the frozen instance answered %+v, not the payment made: %+v", zombieAnswer, got)
	}
	ps, _ := r.store.ListPayments(ctx, contracts.PaymentFilter{StoreID: r.caller.StoreID})
	if len(ps) != 1 {
		t.Fatalf("%d payments for one request", len(ps))
	}
}

// A capture, a cancel and a refund cut by a crash after the partner call: the retry gets
// what the partner decided, or the open state, and nothing is sent twice before the
// resolver's stuck rule allows it.
func TestRetryTakesOverCaptureCancelAndRefund(t *testing.T) {
	ctx := context.Background()
	// captureCutOff authorizes a payment and captures it on the dying instance, which dies
	// once the partner took the capture.
	captureCutOff := func(t *testing.T, r *restart) (string, idempotency.Key) {
		id := authorizeOn(t, r)
		key := idem("capture")
		r.partner.capture = func(contracts.CaptureRequest) contracts.PaymentResult {
			r.crash.crashIn.Store(1)
			return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}
		}
		if _, err := r.dead.CapturePayment(ctx, r.caller, key, id, nil); err == nil {
			t.Fatal("the dying instance answered")
		}
		return id, key
	}
	t.Run("capture the partner shows", func(t *testing.T) {
		r := newRestart(t)
		id, key := captureCutOff(t, r)
		r.partner.get = func(contracts.PaymentRef) contracts.PaymentResult {
			return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, AmountCaptured: 1000}
		}
		r.die(t)
		got, err := r.live.CapturePayment(ctx, r.caller, key, id, nil)
		if m := decode(t, got); err != nil || got.Kind != contracts.AnswerDone || m["status"] != "succeeded" || m["amount_captured"] != 1000.0 {
			t.Fatalf("retry: %v %s %s", err, got.Kind, got.Body)
		}
	})
	t.Run("capture not visible yet", func(t *testing.T) {
		r := newRestart(t)
		id, key := captureCutOff(t, r)
		r.partner.get = answer(contracts.OutcomeAuthorized) // the capture may still land
		r.die(t)
		got, err := r.live.CapturePayment(ctx, r.caller, key, id, nil)
		if err != nil || got.Kind != contracts.AnswerDone || decode(t, got)["status"] != "unknown" {
			t.Fatalf("retry: %v %s %s", err, got.Kind, got.Body)
		}
		// A second capture cannot race the one in question.
		second, err := r.live.CapturePayment(ctx, r.caller, idem("capture-2"), id, nil)
		if err != nil || second.Kind != contracts.AnswerRefused || decode(t, second)["code"] != "invalid_state" {
			t.Fatalf("second capture: %v %s %s", err, second.Kind, second.Body)
		}
		if r.partner.count("capture") != 1 {
			t.Fatalf("partner captures %d", r.partner.count("capture"))
		}
	})
	t.Run("cancel", func(t *testing.T) {
		for name, c := range map[string]struct {
			partnerSays contracts.Outcome
			status      contracts.AnswerKind
			payment     string
		}{
			"the partner shows it canceled": {contracts.OutcomeCanceled, contracts.AnswerDone, "canceled"},
			"not visible yet":               {contracts.OutcomeSucceeded, contracts.AnswerAccepted, "succeeded"},
		} {
			t.Run(name, func(t *testing.T) {
				r := newRestart(t)
				id := payOn(t, r)
				key := idem("cancel")
				r.partner.cancel = func(contracts.PaymentRef) contracts.CancelResult {
					r.crash.crashIn.Store(1)
					return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded}
				}
				_, _ = r.dead.CancelPayment(ctx, r.caller, key, id, "")
				r.partner.get = answer(c.partnerSays)
				r.die(t)
				got, err := r.live.CancelPayment(ctx, r.caller, key, id, "")
				m := decode(t, got)
				if err != nil || got.Kind != c.status || m["status"] != c.payment || (c.status == contracts.AnswerAccepted && m["cancel_requested"] != true) {
					t.Fatalf("retry: %v %s %s", err, got.Kind, got.Body)
				}
				if r.partner.count("cancel") != 1 {
					t.Fatalf("partner cancels %d", r.partner.count("cancel"))
				}
			})
		}
	})
	t.Run("refund", func(t *testing.T) {
		r := newRestart(t)
		id := payOn(t, r)
		key := idem("refund")
		r.partner.refund = func(contracts.RefundRequest) contracts.RefundResult {
			r.crash.crashIn.Store(1)
			return contracts.RefundResult{Outcome: contracts.OutcomeSucceeded}
		}
		amount := int64(300)
		_, _ = r.dead.CreateRefund(ctx, r.caller, key, id, hub.CreateRefund{Amount: &amount})
		r.partner.refund = nil
		r.die(t)
		got, err := r.live.CreateRefund(ctx, r.caller, key, id, hub.CreateRefund{Amount: &amount})
		if err != nil || got.Kind != contracts.AnswerCreated || decode(t, got)["status"] != "unknown" {
			t.Fatalf("retry: %v %s %s", err, got.Kind, got.Body)
		}
		// Not sent again before the stuck rule: a partner without refund ids could not
		// tell the resend from the dead call still on its way.
		if _, err := r.live.ResolveOnce(ctx); err != nil || r.partner.count("refund") != 1 {
			t.Fatalf("resolver before the stuck rule: %v, partner refunds %d", err, r.partner.count("refund"))
		}
		r.clock.Advance(hub.DefaultResolverConfig.StuckAfter)
		if _, err := r.live.ResolveOnce(ctx); err != nil || r.partner.count("refund") != 2 {
			t.Fatalf("resolver after the stuck rule: %v, partner refunds %d", err, r.partner.count("refund"))
		}
		refund, _ := r.store.GetRefund(ctx, "", decode(t, got)["id"].(string))
		p, _ := r.store.GetPayment(ctx, "", id)
		if refund.Status != contracts.RefundSucceeded || p.AmountRefunded != 300 {
			t.Fatalf("refund %s, payment refunded %d", refund.Status, p.AmountRefunded)
		}
	})
}

func payOn(t *testing.T, r *restart) string {
	t.Helper()
	got, err := r.live.CreatePayment(context.Background(), r.caller, idem("pay"), payment(1000))
	if err != nil || got.Kind != contracts.AnswerCreated {
		t.Fatalf("pay: %v %+v", err, got)
	}
	return decode(t, got)["id"].(string)
}

func authorizeOn(t *testing.T, r *restart) string {
	t.Helper()
	cmd := payment(1000)
	cmd.CaptureMethod = contracts.CaptureManual
	got, err := r.live.CreatePayment(context.Background(), r.caller, idem("auth"), cmd)
	if err != nil || decode(t, got)["status"] != "authorized" {
		t.Fatalf("authorize: %v %+v", err, got)
	}
	return decode(t, got)["id"].(string)
}
