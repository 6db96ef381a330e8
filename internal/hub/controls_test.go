package hub_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// controlsAuditKey is the audit key the kill switch tests record their changes under.
var controlsAuditKey = []byte("0123456789abcdef0123456789abcdef")

// flakyControls is a store whose controls reads fail while failing is set.
type flakyControls struct {
	contracts.Store
	failing atomic.Bool
}

func (s *flakyControls) GetControlsVersion(ctx context.Context) (int64, error) {
	if s.failing.Load() {
		return 0, errors.New("database unreachable")
	}
	return s.Store.GetControlsVersion(ctx)
}

// stepClock is the controls' staleness clock, moved by the tests.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// controlsFixture is a hub offering PayPay, cards and nanaco (with top-ups), on a store
// whose controls reads can be made to fail.
type controlsFixture struct {
	clock    *clock.Manual
	fresh    *stepClock
	hub      *hub.Hub
	store    *flakyControls
	paypay   *scriptedPartner
	card     *scriptedPartner
	nanaco   *topUpPartner
	caller   hub.Caller
	elsewere hub.Caller
}

func newControlsFixture(t *testing.T) *controlsFixture {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	st := &flakyControls{Store: storetest.OpenSQLite(t)}
	x := &controlsFixture{clock: clk, fresh: &stepClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, store: st,
		paypay: &scriptedPartner{}, card: &scriptedPartner{}, nanaco: &topUpPartner{scriptedPartner: &scriptedPartner{}},
		caller: hub.Caller{ClientID: "pos-1", StoreID: "store-1"}, elsewere: hub.Caller{ClientID: "pos-2", StoreID: "store-2"}}
	cardCaps := x.paypay.Capabilities()
	cardCaps.Flows = []contracts.Flow{contracts.FlowQR}
	x.hub = hub.New(hub.Config{Store: st, Clock: clk, IDs: ids.New(clk), APIVersion: contracts.APIVersion,
		Partners: map[contracts.Method]contracts.Partner{contracts.MethodPayPay: x.paypay,
			contracts.MethodCard: declaredPartner{x.card, cardCaps}, contracts.MethodNanaco: x.nanaco},
		Metrics:  hub.NewMetrics(prometheus.NewRegistry()),
		Controls: hub.ControlsConfig{Now: x.fresh.Now}})
	return x
}

// set records a switch over scope (expiring after ttl when ttl > 0) and refreshes the hub.
func (x *controlsFixture) set(t *testing.T, scope contracts.ControlScope, ttl time.Duration) contracts.KillSwitch {
	t.Helper()
	k := contracts.KillSwitch{ID: ids.New(x.clock).New(contracts.PrefixKillSwitch), Scope: scope,
		PublicReason: "Paused by payhub operations.", InternalNote: "test incident", SetBy: "cli:test", SetAt: x.clock.Now()}
	if ttl > 0 {
		exp := x.clock.Now().Add(ttl)
		k.ExpiresAt = &exp
	}
	if err := hub.SetKillSwitch(context.Background(), x.store, controlsAuditKey, "", k); err != nil {
		t.Fatal(err)
	}
	if err := x.hub.RefreshControls(context.Background()); err != nil {
		t.Fatal(err)
	}
	return k
}

func (x *controlsFixture) create(c hub.Caller, cmd hub.CreatePayment) (hub.Response, error) {
	return x.hub.CreatePayment(context.Background(), c, idem("pay"), cmd)
}

// mustPay creates cmd, which must answer 201, and returns the payment id.
func (x *controlsFixture) mustPay(t *testing.T, cmd hub.CreatePayment) string {
	t.Helper()
	r, err := x.create(x.caller, cmd)
	if err != nil || r.Kind != contracts.AnswerCreated {
		t.Fatalf("create: %v %s", err, r.Body)
	}
	return decode(t, r)["id"].(string)
}

func paypayAt(terminal string) hub.CreatePayment {
	cmd := payment(500)
	cmd.TerminalID = terminal
	return cmd
}

func cardPayment() hub.CreatePayment {
	return hub.CreatePayment{Amount: contracts.Money{Amount: 500, Currency: contracts.JPY}, Method: contracts.MethodCard,
		Flow: contracts.FlowQR, TerminalID: "till-1"}
}

func nanacoPayment() hub.CreatePayment {
	return hub.CreatePayment{Amount: contracts.Money{Amount: 500, Currency: contracts.JPY}, Method: contracts.MethodNanaco,
		Flow: contracts.FlowCardPresent, TerminalID: "till-1", Card: &contracts.PresentedCard{Number: "7000000000000001"}}
}

// outcome is an operation's answer: "" when it went through, else its refusal's code.
func outcome(t *testing.T, r hub.Response, err error) string {
	t.Helper()
	if err != nil {
		e, ok := contracts.AsError(err)
		if !ok {
			t.Fatalf("not a refusal: %v", err)
		}
		return string(e.Code)
	}
	if r.Kind == contracts.AnswerRefused {
		return string(r.Code)
	}
	return ""
}

// TestKillSwitchMatrix flips each kind of switch and asserts exactly which operations stop
// (503 operation_disabled with the switch's public reason) and which keep working.
func TestKillSwitchMatrix(t *testing.T) {
	ops := []string{"pay paypay", "pay card", "pay nanaco", "capture paypay", "cancel paypay", "refund paypay",
		"refund card", "top_up nanaco", "cancel top_up", "pay paypay till-2", "pay paypay store-2"}
	cases := []struct {
		name    string
		scope   contracts.ControlScope
		blocked []string
	}{
		{"card refunds", contracts.ControlScope{Method: contracts.MethodCard, Operation: contracts.OperationRefund},
			[]string{"refund card"}},
		{"partner gmopg", contracts.ControlScope{Partner: contracts.PartnerGMOPG}, []string{"pay card", "refund card"}},
		{"partner paypay", contracts.ControlScope{Partner: contracts.PartnerPayPay},
			[]string{"pay paypay", "capture paypay", "cancel paypay", "refund paypay", "pay paypay till-2", "pay paypay store-2"}},
		{"method nanaco", contracts.ControlScope{Method: contracts.MethodNanaco}, []string{"pay nanaco", "top_up nanaco", "cancel top_up"}},
		{"operation pay", contracts.ControlScope{Operation: contracts.OperationPay},
			[]string{"pay paypay", "pay card", "pay nanaco", "pay paypay till-2", "pay paypay store-2"}},
		{"operation capture", contracts.ControlScope{Operation: contracts.OperationCapture}, []string{"capture paypay"}},
		{"operation cancel", contracts.ControlScope{Operation: contracts.OperationCancel}, []string{"cancel paypay", "cancel top_up"}},
		{"operation refund", contracts.ControlScope{Operation: contracts.OperationRefund}, []string{"refund paypay", "refund card"}},
		{"operation top_up", contracts.ControlScope{Operation: contracts.OperationTopUp}, []string{"top_up nanaco"}},
		{"card top-ups, a scope nothing matches", contracts.ControlScope{Method: contracts.MethodCard, Operation: contracts.OperationTopUp}, nil},
		{"operation value_transfer (not enforced yet)", contracts.ControlScope{Operation: contracts.OperationValueTransfer}, nil},
		{"terminal", contracts.ControlScope{TerminalID: "till-2"}, []string{"pay paypay till-2"}},
		{"store", contracts.ControlScope{StoreID: "store-2"}, []string{"pay paypay store-2"}},
		{"client", contracts.ControlScope{ClientID: "pos-2"}, []string{"pay paypay store-2"}},
		{"store 1, everything there", contracts.ControlScope{StoreID: "store-1"},
			[]string{"pay paypay", "pay card", "pay nanaco", "capture paypay", "cancel paypay", "refund paypay", "refund card",
				"top_up nanaco", "cancel top_up", "pay paypay till-2"}},
		{"combination: PayPay payments at till-2", contracts.ControlScope{Partner: contracts.PartnerPayPay,
			Operation: contracts.OperationPay, TerminalID: "till-2"}, []string{"pay paypay till-2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newControlsFixture(t)
			ctx := context.Background()
			manual := paypayAt("")
			manual.CaptureMethod = contracts.CaptureManual
			authorized := x.mustPay(t, manual)
			toCancel := x.mustPay(t, paypayAt(""))
			toRefund := x.mustPay(t, paypayAt(""))
			cardPaid := x.mustPay(t, cardPayment())
			r, err := x.hub.CreateTopUp(ctx, x.caller, idem("tu"), cashTopUp(1000))
			if err != nil || r.Kind != contracts.AnswerCreated {
				t.Fatalf("top-up: %v %s", err, r.Body)
			}
			topUp := decode(t, r)["id"].(string)

			x.set(t, tc.scope, 0)
			run := map[string]func() (hub.Response, error){
				"pay paypay": func() (hub.Response, error) { return x.create(x.caller, paypayAt("")) },
				"pay card":   func() (hub.Response, error) { return x.create(x.caller, cardPayment()) },
				"pay nanaco": func() (hub.Response, error) { return x.create(x.caller, nanacoPayment()) },
				"capture paypay": func() (hub.Response, error) {
					return x.hub.CapturePayment(ctx, x.caller, idem("cap"), authorized, nil)
				},
				"cancel paypay": func() (hub.Response, error) {
					return x.hub.CancelPayment(ctx, x.caller, idem("can"), toCancel, "")
				},
				"refund paypay": func() (hub.Response, error) {
					return x.hub.CreateRefund(ctx, x.caller, idem("ref"), toRefund, hub.CreateRefund{})
				},
				"refund card": func() (hub.Response, error) {
					return x.hub.CreateRefund(ctx, x.caller, idem("ref"), cardPaid, hub.CreateRefund{})
				},
				"top_up nanaco": func() (hub.Response, error) {
					return x.hub.CreateTopUp(ctx, x.caller, idem("tu"), cashTopUp(1000))
				},
				"cancel top_up": func() (hub.Response, error) {
					return x.hub.CancelTopUp(ctx, x.caller, idem("tuc"), topUp)
				},
				"pay paypay till-2":  func() (hub.Response, error) { return x.create(x.caller, paypayAt("till-2")) },
				"pay paypay store-2": func() (hub.Response, error) { return x.create(x.elsewere, paypayAt("")) },
			}
			for _, op := range ops {
				r, err := run[op]()
				got := outcome(t, r, err)
				if slices.Contains(tc.blocked, op) {
					e, _ := contracts.AsError(err)
					if got != string(contracts.CodeOperationDisabled) || e == nil || e.Detail != "Paused by payhub operations." {
						t.Errorf("%s: %q %v, want operation_disabled with the public reason", op, got, err)
					}
				} else if got != "" {
					t.Errorf("%s: refused with %s (%v), want it to go through", op, got, err)
				}
			}
		})
	}
}

// TestKillSwitchRefusalLeavesKeyUnused: a refused request writes nothing, and its key is
// free: the same request with the same key goes through once the switch is lifted.
func TestKillSwitchRefusalLeavesKeyUnused(t *testing.T) {
	x := newControlsFixture(t)
	ctx := context.Background()
	k := x.set(t, contracts.ControlScope{Partner: contracts.PartnerPayPay}, 0)
	key := idem("pay")
	if _, err := x.hub.CreatePayment(ctx, x.caller, key, payment(500)); outcome(t, hub.Response{}, err) != "operation_disabled" {
		t.Fatalf("refused: %v", err)
	}
	if x.paypay.count("create") != 0 {
		t.Fatal("the partner heard of a refused payment")
	}
	if _, err := hub.LiftKillSwitch(ctx, x.store, controlsAuditKey, "", k.ID, "cli:test", "over", x.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := x.hub.RefreshControls(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := x.hub.CreatePayment(ctx, x.caller, key, payment(500)); err != nil || r.Kind != contracts.AnswerCreated || r.Replayed {
		t.Fatalf("after the lift, same key: %v %+v", err, r)
	}
}

// TestKillSwitchNeverStopsTheResolver: with every PayPay operation off, the resolver still
// reverses a payment whose cancel the store requested while its outcome was open.
func TestKillSwitchNeverStopsTheResolver(t *testing.T) {
	x := newControlsFixture(t)
	ctx := context.Background()
	x.paypay.create = func(contracts.PaymentRequest) contracts.PaymentResult {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown}
	}
	id := x.mustPay(t, payment(500))
	x.paypay.create = nil
	if r, err := x.hub.CancelPayment(ctx, x.caller, idem("c"), id, ""); err != nil || r.Kind != contracts.AnswerAccepted {
		t.Fatalf("cancel request: %v %s", err, r.Body)
	}
	x.set(t, contracts.ControlScope{Partner: contracts.PartnerPayPay}, 0)
	x.set(t, contracts.ControlScope{Operation: contracts.OperationCancel}, 0)
	x.set(t, contracts.ControlScope{Operation: contracts.OperationRefund}, 0)
	x.paypay.get = func(contracts.PaymentRef) contracts.PaymentResult {
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded}
	}
	x.clock.Advance(time.Minute)
	if _, err := x.hub.ResolveOnce(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := x.store.GetPayment(ctx, "", id)
	if err != nil || p.Status != contracts.StatusCanceled || x.paypay.count("cancel") != 1 {
		t.Fatalf("after the resolver: %s, %d cancels (%v); want canceled by the resolver", p.Status, x.paypay.count("cancel"), err)
	}
}

// TestKillSwitchFailsClosed: when the switches cannot be read for longer than MaxAge,
// money-moving operations answer 503 controls_unavailable and reads go on; once the reads
// work again, so do the operations.
func TestKillSwitchFailsClosed(t *testing.T) {
	x := newControlsFixture(t)
	ctx := context.Background()
	id := x.mustPay(t, payment(500))
	x.store.failing.Store(true)
	x.fresh.advance(hub.DefaultControlsConfig.MaxAge / 2)
	if err := x.hub.RefreshControls(ctx); err == nil {
		t.Fatal("refresh with a failing store succeeded")
	}
	// Still within MaxAge of the last good read: served.
	x.mustPay(t, payment(500))
	x.fresh.advance(hub.DefaultControlsConfig.MaxAge)
	for name, call := range map[string]func() (hub.Response, error){
		"pay": func() (hub.Response, error) { return x.create(x.caller, payment(500)) },
		"refund": func() (hub.Response, error) {
			return x.hub.CreateRefund(ctx, x.caller, idem("r"), id, hub.CreateRefund{})
		},
		"top-up": func() (hub.Response, error) { return x.hub.CreateTopUp(ctx, x.caller, idem("t"), cashTopUp(1000)) },
	} {
		r, err := call()
		if got := outcome(t, r, err); got != string(contracts.CodeControlsUnavailable) {
			t.Errorf("%s with stale controls: %q, want controls_unavailable", name, got)
		}
	}
	if _, err := x.hub.GetPayment(ctx, x.caller, id); err != nil {
		t.Errorf("a read with stale controls: %v", err)
	}
	x.store.failing.Store(false)
	x.mustPay(t, payment(500))
}

// TestKillSwitchExpires: a switch stops being in force at its expiry, without a reload.
func TestKillSwitchExpires(t *testing.T) {
	x := newControlsFixture(t)
	x.set(t, contracts.ControlScope{Method: contracts.MethodPayPay, Operation: contracts.OperationPay}, time.Hour)
	if _, err := x.create(x.caller, payment(500)); outcome(t, hub.Response{}, err) != "operation_disabled" {
		t.Fatalf("before expiry: %v", err)
	}
	x.clock.Advance(time.Hour)
	x.mustPay(t, payment(500))
}

// TestKillSwitchValidation: a switch without a scope or a public reason, or naming an
// unknown partner, method or operation, is refused before anything is written.
func TestKillSwitchValidation(t *testing.T) {
	now := time.Now()
	past := now.Add(-time.Minute)
	good := contracts.KillSwitch{ID: "ks_1", Scope: contracts.ControlScope{Method: contracts.MethodCard}, PublicReason: "r", SetBy: "cli:x", SetAt: now}
	if err := hub.ValidateKillSwitch(good); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*contracts.KillSwitch){
		"no scope":         func(k *contracts.KillSwitch) { k.Scope = contracts.ControlScope{} },
		"no reason":        func(k *contracts.KillSwitch) { k.PublicReason = " " },
		"unknown partner":  func(k *contracts.KillSwitch) { k.Scope.Partner = "acme" },
		"unknown method":   func(k *contracts.KillSwitch) { k.Scope.Method = "acme" },
		"unknown op":       func(k *contracts.KillSwitch) { k.Scope.Operation = "fly" },
		"partner ≠ method": func(k *contracts.KillSwitch) { k.Scope.Partner = contracts.PartnerPayPay },
		"expired":          func(k *contracts.KillSwitch) { k.ExpiresAt = &past },
	} {
		k := good
		change(&k)
		if err := hub.ValidateKillSwitch(k); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestControlsNoticeReachesAnotherHubAtOnce: on PostgreSQL a change is heard through
// LISTEN/NOTIFY, not only by the periodic re-read. The second hub re-reads once an hour
// here, so only the notification can bring it the switch set through the first one.
func TestControlsNoticeReachesAnotherHubAtOnce(t *testing.T) {
	st := storetest.OpenPostgres(t)
	hours := hub.ControlsConfig{RefreshEvery: time.Hour, MaxAge: time.Hour}
	listening := &announcedListener{Store: st, listening: make(chan struct{})}
	listener := hub.New(hub.Config{Store: listening, IDs: ids.New(contracts.SystemClock{}), Controls: hours})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); listener.RunControls(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// RunControls read the controls once at its start; wait until they are loaded.

	// A switch set before the hub listens would reach it through its first read and prove
	// nothing.
	<-listening.listening
	k := contracts.KillSwitch{ID: ids.New(contracts.SystemClock{}).New(contracts.PrefixKillSwitch), Scope: contracts.ControlScope{Method: contracts.MethodCard},
		PublicReason: "Cards are paused.", SetBy: "test", SetAt: time.Now().UTC()}
	set := time.Now()
	if err := hub.SetKillSwitch(ctx, st, controlsAuditKey, "", k); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the switch on the listening hub", func() bool {
		list, err := listener.KillSwitches(ctx)
		return err == nil && slices.ContainsFunc(list, func(s contracts.KillSwitch) bool { return s.ID == k.ID })
	})
	t.Logf("heard after %s", time.Since(set).Round(time.Millisecond))
}

// waitFor polls cond every 5 ms for up to 2 s: the listener works on its own goroutine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 2 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// announcedListener closes listening when the store's listener first reports it listens.
type announcedListener struct {
	contracts.Store
	listening chan struct{}
	once      sync.Once
}

func (a *announcedListener) ListenControls(ctx context.Context, changed func()) error {
	return a.Store.(contracts.ControlsListener).ListenControls(ctx, func() {
		changed()
		a.once.Do(func() { close(a.listening) })
	})
}
