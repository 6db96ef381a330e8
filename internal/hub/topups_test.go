package hub_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// topUpPartner is a scripted stored-value partner that takes top-ups, keyed by sequenced
// refs like nanaco's. Unscripted calls succeed.
type topUpPartner struct {
	*scriptedPartner
	mu     sync.Mutex
	create func(ref string, card contracts.PresentedCard, amount contracts.Money, funding contracts.TopUpFunding) contracts.TopUpResult
	cancel func(ref, txn string) contracts.CancelResult
	get    func(ref string) contracts.TopUpResult
	// seen records each call as "op ref [txn]".
	seen []string
}

func (p *topUpPartner) Capabilities() contracts.Capabilities {
	return contracts.Capabilities{Currencies: []contracts.Currency{contracts.JPY}, Flows: []contracts.Flow{contracts.FlowCardPresent},
		MaxAmount: map[contracts.Currency]int64{contracts.JPY: 50_000}, Sequenced: &contracts.Sequenced{MaxSeq: 499_999}}
}

func (p *topUpPartner) record(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, s)
}

func (p *topUpPartner) calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func (p *topUpPartner) CreateTopUp(_ context.Context, ref string, card contracts.PresentedCard, amount contracts.Money, funding contracts.TopUpFunding) contracts.TopUpResult {
	p.record("create " + ref)
	if p.create == nil {
		return contracts.TopUpResult{Outcome: contracts.OutcomeSucceeded, PartnerTxnID: "NC000000000000000001", CreditedTo: contracts.CreditedBalance}
	}
	return p.create(ref, card, amount, funding)
}

func (p *topUpPartner) CancelTopUpByRef(_ context.Context, ref, txn string) contracts.CancelResult {
	p.record("cancel " + ref + " " + txn)
	if p.cancel == nil {
		return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded}
	}
	return p.cancel(ref, txn)
}

func (p *topUpPartner) GetTopUp(_ context.Context, ref string) contracts.TopUpResult {
	p.record("get " + ref)
	if p.get == nil {
		return contracts.TopUpResult{Outcome: contracts.OutcomeUnknown}
	}
	return p.get(ref)
}

// eventLog is a store that remembers the events its committed transactions appended.
type eventLog struct {
	contracts.Store
	mu     sync.Mutex
	events []contracts.Event
}

type eventTx struct {
	contracts.Tx
	appended *[]contracts.Event
}

func (t eventTx) AppendEvent(ctx context.Context, e contracts.Event) error {
	if err := t.Tx.AppendEvent(ctx, e); err != nil {
		return err
	}
	*t.appended = append(*t.appended, e)
	return nil
}

func (s *eventLog) InTx(ctx context.Context, fn func(tx contracts.Tx) error) error {
	var appended []contracts.Event
	err := s.Store.InTx(ctx, func(tx contracts.Tx) error { return fn(eventTx{tx, &appended}) })
	if err == nil {
		s.mu.Lock()
		s.events = append(s.events, appended...)
		s.mu.Unlock()
	}
	return err
}

// of lists the types and sequences of the events about object id, in order.
func (s *eventLog) of(t *testing.T, id string) []string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		var p struct {
			Type string
			Data struct {
				Sequence int64
				Object   struct{ ID string }
			}
		}
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.Data.Object.ID != id {
			continue
		}
		if p.Type != string(e.Type) || p.Data.Sequence != e.Sequence || e.PaymentID != "" || e.StoreID != "store-1" {
			t.Errorf("event %+v: payload %s", e, e.Payload)
		}
		out = append(out, p.Type+"#"+strconv.FormatInt(e.Sequence, 10))
	}
	return out
}

type topUpFixture struct {
	clock   *clock.Manual
	hub     *hub.Hub
	store   contracts.Store
	log     *eventLog
	partner *topUpPartner
	caller  hub.Caller
}

// newTopUpFixture is a hub whose nanaco partner takes top-ups, at 12:00 JST on
// 2026-11-28, and that offers PayPay (no top-ups) too.
func newTopUpFixture(t *testing.T, st contracts.Store) *topUpFixture {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	p := &topUpPartner{scriptedPartner: &scriptedPartner{}}
	log := &eventLog{Store: st}
	h := hub.New(hub.Config{Store: log, Clock: clk, IDs: ids.New(clk), APIVersion: contracts.APIVersion,
		Partners: map[contracts.Method]contracts.Partner{contracts.MethodNanaco: p, contracts.MethodPayPay: &scriptedPartner{}},
		Metrics:  hub.NewMetrics(prometheus.NewRegistry())})
	return &topUpFixture{clock: clk, hub: h, store: st, log: log, partner: p, caller: hub.Caller{ClientID: "pos-1", StoreID: "store-1"}}
}

// eachTopUpDatabase runs f on SQLite and, when configured, PostgreSQL.
func eachTopUpDatabase(t *testing.T, f func(t *testing.T, x *topUpFixture)) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) { f(t, newTopUpFixture(t, db.Open(t))) })
	}
}

func cashTopUp(amount int64) hub.CreateTopUp {
	return hub.CreateTopUp{Method: contracts.MethodNanaco, TerminalID: "till-1", Card: contracts.PresentedCard{Number: "7000000000000001"},
		Amount: contracts.Money{Amount: amount, Currency: contracts.JPY}, Funding: contracts.FundingCash}
}

// topUp creates cmd under a fresh key; it must answer 201. It returns the body.
func (x *topUpFixture) topUp(t *testing.T, cmd hub.CreateTopUp) map[string]any {
	t.Helper()
	r, err := x.hub.CreateTopUp(context.Background(), x.caller, idem("topup"), cmd)
	if err != nil || r.Kind != contracts.AnswerCreated {
		t.Fatalf("create top-up: %v %s", err, r.Body)
	}
	return decode(t, r)
}

func (x *topUpFixture) record(t *testing.T, id string) contracts.TopUp {
	t.Helper()
	tu, err := x.store.GetTopUp(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

func (x *topUpFixture) resolve(t *testing.T) {
	t.Helper()
	if _, err := x.hub.ResolveOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestTopUpValidation: a top-up outside the rules is refused before anything is written or
// sent — credit funding, cash not in ¥1,000 units or outside ¥1,000–¥49,000, points out of
// range, another currency, a method without top-ups, a card read with nothing in it.
func TestTopUpValidation(t *testing.T) {
	x := newTopUpFixture(t, storetest.OpenSQLite(t))
	refused := map[string]struct {
		cmd  func(*hub.CreateTopUp)
		want refusal
	}{
		"credit": {func(c *hub.CreateTopUp) { c.Funding = contracts.FundingCredit },
			refusal{422, "method_not_supported", "/funding", "Credit-card top-ups are not offered; top up with cash or points."}},
		"cash not in ¥1,000 units": {func(c *hub.CreateTopUp) { c.Amount.Amount = 1_500 },
			refusal{422, "amount_out_of_range", "/amount", "A cash top-up is a multiple of ¥1,000 from ¥1,000 to ¥49,000; ¥1500 is not."}},
		"cash below ¥1,000": {func(c *hub.CreateTopUp) { c.Amount.Amount = 0 },
			refusal{422, "amount_out_of_range", "/amount", "A cash top-up is a multiple of ¥1,000 from ¥1,000 to ¥49,000; ¥0 is not."}},
		"cash above ¥49,000": {func(c *hub.CreateTopUp) { c.Amount.Amount = 50_000 },
			refusal{422, "amount_out_of_range", "/amount", "A cash top-up is a multiple of ¥1,000 from ¥1,000 to ¥49,000; ¥50000 is not."}},
		"no points": {func(c *hub.CreateTopUp) { c.Funding, c.Amount.Amount = contracts.FundingPoints, 0 },
			refusal{422, "amount_out_of_range", "/amount", "A points top-up is from 1 to 50,000 points (¥1 each); 0 is not."}},
		"points past the cap": {func(c *hub.CreateTopUp) { c.Funding, c.Amount.Amount = contracts.FundingPoints, 50_001 },
			refusal{422, "amount_out_of_range", "/amount", "A points top-up is from 1 to 50,000 points (¥1 each); 50001 is not."}},
		"another currency": {func(c *hub.CreateTopUp) { c.Amount.Currency = contracts.TWD },
			refusal{422, "currency_not_supported", "/currency", "Top-ups are in JPY only."}},
		"a method without top-ups": {func(c *hub.CreateTopUp) { c.Method = contracts.MethodPayPay },
			refusal{422, "method_not_supported", "", "Top-ups with paypay are not offered."}},
		"an empty card read": {func(c *hub.CreateTopUp) { c.Card = contracts.PresentedCard{} },
			refusal{400, "invalid_request", "/presented_card", "presented_card needs the card's number or its idm."}},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			cmd := cashTopUp(3_000)
			tc.cmd(&cmd)
			r, err := x.hub.CreateTopUp(context.Background(), x.caller, idem("v"), cmd)
			if got := refusalOf(t, r, err); got != tc.want {
				t.Errorf("refusal = %+v, want %+v", got, tc.want)
			}
		})
	}
	if c := x.partner.calls(); len(c) != 0 {
		t.Fatalf("refused top-ups reached the partner: %v", c)
	}
	for _, cmd := range []hub.CreateTopUp{cashTopUp(1_000), cashTopUp(49_000),
		{TerminalID: "till-1", Card: contracts.PresentedCard{IDm: "0114000000000001"}, Amount: contracts.Money{Amount: 1, Currency: contracts.JPY}, Funding: contracts.FundingPoints}} {
		if m := x.topUp(t, cmd); m["status"] != "succeeded" {
			t.Errorf("%+v: %v", cmd, m)
		}
	}
}

// TestTopUpSucceedsOnceAndReplays: the intent and its pending event are written with a
// sequenced key before the call; the answer is 201 with the succeeded top-up and only the
// card's last 4 digits; a retry replays it without a second call.
func TestTopUpSucceedsOnceAndReplays(t *testing.T) {
	eachTopUpDatabase(t, func(t *testing.T, x *topUpFixture) {
		var during contracts.TopUp
		x.partner.create = func(ref string, card contracts.PresentedCard, amount contracts.Money, funding contracts.TopUpFunding) contracts.TopUpResult {
			if list, err := x.store.ListTopUpsToResolve(context.Background(), x.clock.Now().Add(time.Hour), x.clock.Now().Add(time.Hour), 0); err == nil && len(list) == 1 {
				during = list[0]
			}
			if card.Number != "7000000000000001" || amount.Amount != 3_000 || funding != contracts.FundingCash {
				t.Errorf("the partner got %+v %+v %s", card, amount, funding)
			}
			return contracts.TopUpResult{Outcome: contracts.OutcomeSucceeded, PartnerTxnID: "NC000000000000000007", CreditedTo: contracts.CreditedBalance, PartnerCode: "APPROVED"}
		}
		key := idem("topup")
		r, err := x.hub.CreateTopUp(context.Background(), x.caller, key, cashTopUp(3_000))
		if err != nil || r.Kind != contracts.AnswerCreated {
			t.Fatalf("create: %v %s", err, r.Body)
		}
		m := decode(t, r)
		if m["object"] != "top_up" || m["status"] != "succeeded" || m["card_last4"] != "0001" || m["credited_to"] != "balance" ||
			m["partner_reference"] != "NC000000000000000007" || m["funding"] != "cash" || m["amount"] != 3000.0 || m["terminal_id"] != "till-1" {
			t.Fatalf("top-up: %s", r.Body)
		}
		if strings.Contains(string(r.Body), "7000000000000001") {
			t.Fatalf("the answer holds the full card number: %s", r.Body)
		}
		id := m["id"].(string)
		if during.ID != id || during.Status != contracts.TopUpPending || during.PartnerRef != "store-1_till-1.20261128.000001" {
			t.Fatalf("before the call the store held %+v", during)
		}
		again, err := x.hub.CreateTopUp(context.Background(), x.caller, key, cashTopUp(3_000))
		if err != nil || !again.Replayed || string(again.Body) != string(r.Body) || len(x.partner.calls()) != 1 {
			t.Fatalf("replay: %v %+v, calls %v", err, again, x.partner.calls())
		}
		if ev := x.log.of(t, id); strings.Join(ev, " ") != "top_up.pending#1 top_up.succeeded#2" {
			t.Fatalf("events %v", ev)
		}
		got, err := x.hub.GetTopUp(context.Background(), x.caller, id)
		if err != nil || got.Status != contracts.TopUpSucceeded || got.CardLast4 != "0001" {
			t.Fatalf("get: %+v %v", got, err)
		}
		if _, err := x.hub.GetTopUp(context.Background(), hub.Caller{ClientID: "pos-2", StoreID: "store-2"}, id); codeOf(err) != contracts.CodeNotFound {
			t.Errorf("another store's top-up: %v", err)
		}
	})
}

// TestTopUpDeclineFails: a refusal is a failed top-up with the partner's failure code.
func TestTopUpDeclineFails(t *testing.T) {
	x := newTopUpFixture(t, storetest.OpenSQLite(t))
	x.partner.create = func(string, contracts.PresentedCard, contracts.Money, contracts.TopUpFunding) contracts.TopUpResult {
		return contracts.TopUpResult{Outcome: contracts.OutcomeFailed, FailureCode: "balance_cap_exceeded", PartnerCode: "BALANCE_CAP_EXCEEDED", FailureMessage: "the balance would exceed ¥50,000"}
	}
	m := x.topUp(t, cashTopUp(1_000))
	if m["status"] != "failed" || m["failure_code"] != "balance_cap_exceeded" || m["credited_to"] != nil {
		t.Fatalf("declined top-up: %v", m)
	}
	if ev := x.log.of(t, m["id"].(string)); strings.Join(ev, " ") != "top_up.pending#1 top_up.failed#2" {
		t.Fatalf("events %v", ev)
	}
}

// TestUnknownTopUpIsSettledByTheInquiry: a lost answer is a 201 unknown top-up (do not top
// up again); the resolver asks the partner under the same key, backs off while the answer
// stays open, and records what it learns: succeeded, or failed when the partner never got
// it (found:false is final).
func TestUnknownTopUpIsSettledByTheInquiry(t *testing.T) {
	eachTopUpDatabase(t, func(t *testing.T, x *topUpFixture) {
		x.partner.create = func(string, contracts.PresentedCard, contracts.Money, contracts.TopUpFunding) contracts.TopUpResult {
			return contracts.TopUpResult{Outcome: contracts.OutcomeUnknown, FailureMessage: "no answer before the timeout"}
		}
		credited := x.topUp(t, cashTopUp(5_000))
		never := x.topUp(t, cashTopUp(2_000))
		for _, m := range []map[string]any{credited, never} {
			if m["status"] != "unknown" || m["resolution"] == nil {
				t.Fatalf("lost answer: %v", m)
			}
		}
		refs := map[string]string{x.record(t, credited["id"].(string)).PartnerRef: "credited", x.record(t, never["id"].(string)).PartnerRef: "never"}
		x.partner.get = func(string) contracts.TopUpResult { return contracts.TopUpResult{Outcome: contracts.OutcomeUnknown} }
		x.resolve(t)
		if tu := x.record(t, credited["id"].(string)); tu.Status != contracts.TopUpUnknown || tu.Resolution.Attempts != 1 || tu.Resolution.NextAt == nil {
			t.Fatalf("after an open inquiry: %+v", tu)
		}
		x.partner.get = func(ref string) contracts.TopUpResult {
			if refs[ref] == "credited" {
				return contracts.TopUpResult{Outcome: contracts.OutcomeSucceeded, PartnerTxnID: "NC000000000000000009", CreditedTo: contracts.CreditedBalance}
			}
			return contracts.TopUpResult{Outcome: contracts.OutcomeFailed, FailureCode: "not_processed", PartnerCode: "NOT_FOUND"}
		}
		x.clock.Advance(hub.DefaultResolverConfig.MaxBackoff)
		x.resolve(t)
		if tu := x.record(t, credited["id"].(string)); tu.Status != contracts.TopUpSucceeded || tu.PartnerTxnID != "NC000000000000000009" ||
			tu.CreditedTo != contracts.CreditedBalance || tu.Resolution.Attempts != 0 {
			t.Fatalf("settled: %+v", tu)
		}
		if tu := x.record(t, never["id"].(string)); tu.Status != contracts.TopUpFailed || tu.FailureCode != "not_processed" {
			t.Fatalf("never received: %+v", tu)
		}
		if ev := x.log.of(t, credited["id"].(string)); strings.Join(ev, " ") != "top_up.pending#1 top_up.unknown#2 top_up.succeeded#3" {
			t.Fatalf("events %v", ev)
		}
		if ev := x.log.of(t, never["id"].(string)); strings.Join(ev, " ") != "top_up.pending#1 top_up.unknown#2 top_up.failed#3" {
			t.Fatalf("events %v", ev)
		}
		for _, c := range x.partner.calls() {
			if strings.HasPrefix(c, "create") && !strings.Contains(c, ".000001") && !strings.Contains(c, ".000002") {
				t.Errorf("a new key was sent: %s", c)
			}
		}
	})
}

// TestUnknownTopUpIsAskedOnRead and handed to an operator past the budget.
func TestUnknownTopUpIsAskedOnReadAndFlaggedPastTheBudget(t *testing.T) {
	x := newTopUpFixture(t, storetest.OpenSQLite(t))
	x.partner.create = func(string, contracts.PresentedCard, contracts.Money, contracts.TopUpFunding) contracts.TopUpResult {
		return contracts.TopUpResult{Outcome: contracts.OutcomeUnknown}
	}
	read, stuck := x.topUp(t, cashTopUp(1_000))["id"].(string), x.topUp(t, cashTopUp(1_000))["id"].(string)
	x.partner.get = func(ref string) contracts.TopUpResult {
		if ref == x.record(t, read).PartnerRef {
			return contracts.TopUpResult{Outcome: contracts.OutcomeSucceeded, PartnerTxnID: "NC000000000000000003"}
		}
		return contracts.TopUpResult{Outcome: contracts.OutcomeUnknown}
	}
	if tu, err := x.hub.GetTopUp(context.Background(), x.caller, read); err != nil || tu.Status != contracts.TopUpSucceeded {
		t.Fatalf("read of an unknown top-up: %+v %v", tu, err)
	}
	x.clock.Advance(hub.DefaultResolverConfig.Budget + time.Minute)
	x.resolve(t)
	if tu := x.record(t, stuck); tu.Status != contracts.TopUpUnknown || !tu.Resolution.NeedsAttention {
		t.Fatalf("past the budget: %+v", tu)
	}
	if tu, _ := x.hub.GetTopUp(context.Background(), x.caller, stuck); tu.Status != contracts.TopUpUnknown {
		t.Fatalf("read after the flag: %+v", tu)
	}
}

// TestStuckPendingTopUpIsAskedAbout: a top-up whose outcome a crash left unwritten (still
// pending) is asked about once StuckAfter passed, not before.
func TestStuckPendingTopUpIsAskedAbout(t *testing.T) {
	x := newTopUpFixture(t, storetest.OpenSQLite(t))
	now := x.clock.Now()
	tu := contracts.TopUp{ID: "tu_01KQ0000000000000000000001", StoreID: "store-1", ClientID: "pos-1", Method: contracts.MethodNanaco,
		TerminalID: "till-1", CardLast4: "0001", Amount: contracts.Money{Amount: 2_000, Currency: contracts.JPY}, Funding: contracts.FundingCash,
		Status: contracts.TopUpPending, PartnerRef: "store-1_till-1.20261128.000009", EventSequence: 1, CreatedAt: now, UpdatedAt: now}
	if err := x.store.InTx(context.Background(), func(tx contracts.Tx) error { return tx.InsertTopUp(context.Background(), tu) }); err != nil {
		t.Fatal(err)
	}
	x.resolve(t)
	if len(x.partner.calls()) != 0 {
		t.Fatalf("asked while the call may be in flight: %v", x.partner.calls())
	}
	x.partner.get = func(string) contracts.TopUpResult { return contracts.TopUpResult{Outcome: contracts.OutcomeUnknown} }
	x.clock.Advance(hub.DefaultResolverConfig.StuckAfter + time.Second)
	x.resolve(t)
	if got := x.record(t, tu.ID); got.Status != contracts.TopUpUnknown || x.partner.calls()[0] != "get "+tu.PartnerRef {
		t.Fatalf("stuck and unanswered: %+v, calls %v", got, x.partner.calls())
	}
	x.partner.get = func(string) contracts.TopUpResult {
		return contracts.TopUpResult{Outcome: contracts.OutcomeSucceeded, PartnerTxnID: "NC000000000000000010"}
	}
	x.clock.Advance(hub.DefaultResolverConfig.MaxBackoff)
	x.resolve(t)
	if got := x.record(t, tu.ID); got.Status != contracts.TopUpSucceeded || got.EventSequence != 3 {
		t.Fatalf("settled: %+v", got)
	}
}

// TestTopUpCancel: a succeeded top-up is cancelled the same day with the partner's cancel
// of its key and txn id (200, canceled, its event, replayed); after the window the refusal
// is 409 cancel_window_passed, stored and replayed, and the top-up stays succeeded; one
// whose outcome is open, or failed, or cancelled, cannot be cancelled; another store's is
// not found.
func TestTopUpCancel(t *testing.T) {
	eachTopUpDatabase(t, func(t *testing.T, x *topUpFixture) {
		ctx := context.Background()
		sameDay := x.topUp(t, cashTopUp(3_000))["id"].(string)
		key := idem("cancel")
		r, err := x.hub.CancelTopUp(ctx, x.caller, key, sameDay)
		if err != nil || r.Kind != contracts.AnswerDone || decode(t, r)["status"] != "canceled" || decode(t, r)["canceled_at"] == nil {
			t.Fatalf("same-day cancel: %v %s", err, r.Body)
		}
		ref := x.record(t, sameDay).PartnerRef
		if c := x.partner.calls(); c[len(c)-1] != "cancel "+ref+" NC000000000000000001" {
			t.Fatalf("partner calls %v", c)
		}
		again, err := x.hub.CancelTopUp(ctx, x.caller, key, sameDay)
		if err != nil || !again.Replayed || string(again.Body) != string(r.Body) {
			t.Fatalf("replay: %v %+v", err, again)
		}
		if ev := x.log.of(t, sameDay); strings.Join(ev, " ") != "top_up.pending#1 top_up.succeeded#2 top_up.canceled#3" {
			t.Fatalf("events %v", ev)
		}
		r, err = x.hub.CancelTopUp(ctx, x.caller, idem("again"), sameDay)
		if got := refusalOf(t, r, err); got.status != 409 || got.code != "invalid_state" {
			t.Errorf("cancel a canceled top-up: %+v", got)
		}

		nextDay := x.topUp(t, cashTopUp(2_000))["id"].(string)
		x.partner.cancel = func(string, string) contracts.CancelResult {
			return contracts.CancelResult{Outcome: contracts.OutcomeWindowPassed, PartnerCode: "BUSINESS_DATE_INVALID"}
		}
		key = idem("late")
		r, err = x.hub.CancelTopUp(ctx, x.caller, key, nextDay)
		if got := refusalOf(t, r, err); got.status != 409 || got.code != "cancel_window_passed" || !strings.Contains(got.message, "never paid back in cash") {
			t.Fatalf("cancel past the window: %+v", got)
		}
		if again, err := x.hub.CancelTopUp(ctx, x.caller, key, nextDay); err != nil || !again.Replayed || again.Kind != contracts.AnswerRefused {
			t.Fatalf("replay of the refusal: %v %+v", err, again)
		}
		if tu := x.record(t, nextDay); tu.Status != contracts.TopUpSucceeded || tu.CancelStartedAt != nil || tu.CanceledAt != nil {
			t.Fatalf("after the refusal: %+v", tu)
		}
		if ev := x.log.of(t, nextDay); strings.Join(ev, " ") != "top_up.pending#1 top_up.succeeded#2" {
			t.Fatalf("events %v", ev)
		}

		x.partner.create = func(string, contracts.PresentedCard, contracts.Money, contracts.TopUpFunding) contracts.TopUpResult {
			return contracts.TopUpResult{Outcome: contracts.OutcomeUnknown}
		}
		open := x.topUp(t, cashTopUp(1_000))["id"].(string)
		r, err = x.hub.CancelTopUp(ctx, x.caller, idem("open"), open)
		if got := refusalOf(t, r, err); got.status != 409 || got.code != "invalid_state" {
			t.Errorf("cancel an unknown top-up: %+v", got)
		}
		if _, err := x.hub.CancelTopUp(ctx, hub.Caller{ClientID: "pos-2", StoreID: "store-2"}, idem("other"), nextDay); codeOf(err) != contracts.CodeNotFound {
			t.Errorf("another store's top-up: %v", err)
		}
		if _, err := x.hub.CancelTopUp(ctx, x.caller, idem("bad"), "pay_01KQ0000000000000000000001"); codeOf(err) != contracts.CodeNotFound {
			t.Errorf("a payment id: %v", err)
		}
	})
}

// TestTopUpCancelWithLostAnswerIsFinished: a cancel whose answer is lost answers 202 with
// the top-up still succeeded and cancel_pending; the resolver sends the same cancel again
// once StuckAfter passed and records that it went through.
func TestTopUpCancelWithLostAnswerIsFinished(t *testing.T) {
	x := newTopUpFixture(t, storetest.OpenSQLite(t))
	ctx := context.Background()
	id := x.topUp(t, cashTopUp(3_000))["id"].(string)
	x.partner.cancel = func(string, string) contracts.CancelResult {
		return contracts.CancelResult{Outcome: contracts.OutcomeUnknown}
	}
	key := idem("cancel")
	r, err := x.hub.CancelTopUp(ctx, x.caller, key, id)
	if m := decode(t, r); err != nil || r.Kind != contracts.AnswerAccepted || m["status"] != "succeeded" || m["cancel_pending"] != true {
		t.Fatalf("lost cancel answer: %v %s", err, r.Body)
	}
	if r, err := x.hub.CancelTopUp(ctx, x.caller, idem("twice"), id); refusalOf(t, r, err).code != "invalid_state" {
		t.Fatalf("a second cancel meanwhile: %s %v", r.Body, err)
	}
	x.resolve(t)
	if n := len(x.partner.calls()); n != 2 {
		t.Fatalf("resent before StuckAfter: %v", x.partner.calls())
	}
	x.partner.cancel = func(string, string) contracts.CancelResult {
		return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded}
	}
	x.clock.Advance(hub.DefaultResolverConfig.StuckAfter + time.Second)
	x.resolve(t)
	if tu := x.record(t, id); tu.Status != contracts.TopUpCanceled || tu.CancelStartedAt != nil {
		t.Fatalf("after the resend: %+v", tu)
	}
	if c := x.partner.calls(); len(c) != 3 || c[1] != c[2] {
		t.Fatalf("the resend differs: %v", c)
	}
	if ev := x.log.of(t, id); strings.Join(ev, " ") != "top_up.pending#1 top_up.succeeded#2 top_up.canceled#3" {
		t.Fatalf("events %v", ev)
	}
}

// TestRetryTakesOverATopUpOfADeadInstance: a top-up (or its cancel) whose partner call went
// out but whose outcome a crash kept from being written. The till's retry on the restarted
// instance gets an answer once the dead one's lease lapsed — the top-up unknown (do not top
// up again), or the cancel accepted — without a second call; the resolver then settles
// both with the partner under the same keys.
func TestRetryTakesOverATopUpOfADeadInstance(t *testing.T) {
	st := storetest.OpenSQLite(t)
	clk := clock.NewManual(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	crash := &crashingStore{Store: st}
	p := &topUpPartner{scriptedPartner: &scriptedPartner{}}
	newHub := func(s contracts.Store) *hub.Hub {
		h := hub.New(hub.Config{Store: s, Partners: map[contracts.Method]contracts.Partner{contracts.MethodNanaco: p},
			Clock: clk, IDs: ids.New(clk), APIVersion: contracts.APIVersion, Metrics: hub.NewMetrics(prometheus.NewRegistry()),
			Instance: hub.InstanceConfig{Sleep: func(context.Context, time.Duration) error { return nil }}})
		if err := h.RegisterInstance(context.Background()); err != nil {
			t.Fatal(err)
		}
		return h
	}
	dead, live := newHub(crash), newHub(st)
	ctx, caller := context.Background(), hub.Caller{ClientID: "pos-1", StoreID: "store-1"}
	die := func() {
		clk.Advance(hub.DefaultInstanceConfig.Lease + time.Second)
		if err := live.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	record := func(id string) contracts.TopUp {
		tu, err := st.GetTopUp(ctx, "", id)
		if err != nil {
			t.Fatal(err)
		}
		return tu
	}

	p.create = func(string, contracts.PresentedCard, contracts.Money, contracts.TopUpFunding) contracts.TopUpResult {
		crash.crashIn.Store(1) // dies before the outcome is written
		return contracts.TopUpResult{Outcome: contracts.OutcomeSucceeded, PartnerTxnID: "NC000000000000000011"}
	}
	key := idem("topup")
	if _, err := dead.CreateTopUp(ctx, caller, key, cashTopUp(4_000)); err == nil {
		t.Fatal("the dying instance answered")
	}
	die()
	r, err := live.CreateTopUp(ctx, caller, key, cashTopUp(4_000))
	if err != nil || r.Kind != contracts.AnswerCreated || decode(t, r)["status"] != "unknown" {
		t.Fatalf("retry of the create: %v %s", err, r.Body)
	}
	id := decode(t, r)["id"].(string)
	p.get = func(string) contracts.TopUpResult {
		return contracts.TopUpResult{Outcome: contracts.OutcomeSucceeded, PartnerTxnID: "NC000000000000000011"}
	}
	clk.Advance(hub.DefaultResolverConfig.StuckAfter)
	if _, err := live.ResolveOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if tu := record(id); tu.Status != contracts.TopUpSucceeded || tu.PartnerTxnID != "NC000000000000000011" {
		t.Fatalf("settled: %+v", tu)
	}

	p.cancel = func(string, string) contracts.CancelResult {
		crash.crashIn.Store(1)
		return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded}
	}
	key = idem("cancel")
	if _, err := dead.CancelTopUp(ctx, caller, key, id); err == nil {
		t.Fatal("the dying instance answered the cancel")
	}
	die()
	r, err = live.CancelTopUp(ctx, caller, key, id)
	if err != nil || r.Kind != contracts.AnswerAccepted || decode(t, r)["cancel_pending"] != true {
		t.Fatalf("retry of the cancel: %v %s %s", err, r.Kind, r.Body)
	}
	p.cancel = func(string, string) contracts.CancelResult {
		return contracts.CancelResult{Outcome: contracts.OutcomeSucceeded}
	}
	clk.Advance(hub.DefaultResolverConfig.StuckAfter)
	if _, err := live.ResolveOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if tu := record(id); tu.Status != contracts.TopUpCanceled {
		t.Fatalf("the cancel finished: %+v", tu)
	}
	var creates, cancels int
	for _, c := range p.calls() {
		switch {
		case strings.HasPrefix(c, "create"):
			creates++
		case strings.HasPrefix(c, "cancel"):
			cancels++
		}
	}
	if creates != 1 || cancels != 2 {
		t.Fatalf("partner calls %v", p.calls())
	}
}
