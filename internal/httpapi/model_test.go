package httpapi_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
	paypaysim "payhub/mocks/paypay"
)

var (
	modelSeed  = flag.Int64("model.seed", 1, "seed of TestModelRandomAPISequences; 0 picks a new random seed per run")
	modelSteps = flag.Int("model.steps", 150, "number of random API steps of TestModelRandomAPISequences")
)

// modelMaxPayments bounds the payments one run creates, so checking every payment after
// every step stays fast.
const modelMaxPayments = 16

// TestModelRandomAPISequences drives random sequences of API calls (creates of every flow,
// captures, cancels, refunds, replays, key reuse, concurrent duplicates) against the real
// router and the PayPay simulator, predicts every answer from a model of each payment, and
// after every step checks every payment against the model, its events, the stored refunds
// and the simulator's ledger.
func TestModelRandomAPISequences(t *testing.T) {
	seed := *modelSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d, %d steps; reproduce with -run TestModelRandomAPISequences -model.seed=%d -model.steps=%d", seed, *modelSteps, seed, *modelSteps)
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		m := &model{t: t, e: newEnv(t, st), seed: seed, rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
			byID: map[string]*modelPayment{}, seen: map[string]string{}, counts: map[string]int{}}
		m.linked = m.e.link(m.e.a)
		for m.step = 1; m.step <= *modelSteps; m.step++ {
			m.randomStep()
			m.checkAll()
		}
		t.Logf("%d payments; steps by kind: %v", len(m.payments), m.counts)
	})
}

// modelPayment is what the model says one payment must be.
type modelPayment struct {
	id       string
	amount   int64
	flow     string
	manual   bool
	status   string
	captured int64
	refunded int64
	refunds  []modelRefund
	// history is every status the payment entered, starting with processing: one
	// payment.<status> event each.
	history []string
	// atPartner: the simulator must hold a payment for id+"_1".
	atPartner bool
	// captureCalled: a capture reached the partner (the simulator records it).
	captureCalled bool
	reason        string // cancellation_reason once canceled
}

type modelRefund struct {
	id     string
	amount int64
}

func (p *modelPayment) remaining() int64 { return p.captured - p.refunded }

func (p *modelPayment) enter(status string) {
	p.status = status
	p.history = append(p.history, status)
}

// call is one POST with the answer the model predicts.
type call struct {
	desc   string
	path   string
	raw    string // JSON body sent verbatim; "" sends none
	status int
	code   string // problem code; "" for a success
	// stored: the answer is kept with the key and replayed (docs/api.md §3).
	stored bool
	check  func(body map[string]any) error // validates a success body
	apply  func(body map[string]any)       // moves the model after a success
	target *modelPayment
}

// sent is a POST whose answer was stored with its key.
type sent struct {
	call
	key    string
	answer response
}

type model struct {
	t    *testing.T
	e    *testEnv
	seed int64
	rng  *rand.Rand
	step int
	desc string
	log  []string
	tok  string
	// linked is the linked account (la_…) of client a's PayPay customer.
	linked   string
	payments []*modelPayment
	byID     map[string]*modelPayment
	sent     []sent
	seen     map[string]string // the status each payment showed at the last check
	canceled map[string]bool   // payments a cancel of this step was sent for
	touched  map[string]bool   // payments this step sent a request about
	counts   map[string]int
}

func (m *model) fatalf(format string, args ...any) {
	m.t.Helper()
	recent := m.log[max(0, len(m.log)-12):]
	m.t.Fatalf("seed %d, step %d (%s): %s\nrecent steps:\n  %s", m.seed, m.step, m.desc, fmt.Sprintf(format, args...), strings.Join(recent, "\n  "))
}

func (m *model) randomStep() {
	m.tok = m.e.token(m.e.a)
	m.canceled = map[string]bool{}
	m.touched = map[string]bool{}
	type choice struct {
		weight int
		name   string
		run    func()
	}
	choices := []choice{ // create first
		{12, "create", func() { m.exec(m.genCreate()) }},
		{8, "pay_qr", m.payQR},
		{12, "capture", func() { m.exec(m.genCapture()) }},
		{10, "cancel", func() { m.exec(m.genCancel()) }},
		{18, "refund", func() { m.exec(m.genRefund()) }},
		{10, "replay", m.replay},
		{5, "reuse_key", m.reuseKey},
		{8, "concurrent", m.concurrent},
		{4, "read_refunds", m.readRefunds},
	}
	if len(m.payments) == 0 {
		choices = choices[:1]
	} else if len(m.payments) >= modelMaxPayments {
		choices = choices[1:]
	}
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	n := m.rng.IntN(total)
	for _, c := range choices {
		if n -= c.weight; n < 0 {
			m.counts[c.name]++
			c.run()
			return
		}
	}
}

// note names the current step for failure messages.
func (m *model) note(format string, args ...any) {
	m.desc = fmt.Sprintf(format, args...)
	m.log = append(m.log, fmt.Sprintf("%d: %s", m.step, m.desc))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// pick returns a payment, preferring (3 in 4) one that fits when there is one, so that
// refusals for the wrong status are exercised too.
func (m *model) pick(fits func(*modelPayment) bool) *modelPayment {
	var good []*modelPayment
	for _, p := range m.payments {
		if fits(p) {
			good = append(good, p)
		}
	}
	if len(good) > 0 && m.rng.IntN(4) != 0 {
		return good[m.rng.IntN(len(good))]
	}
	return m.payments[m.rng.IntN(len(m.payments))]
}

func bodyField(body map[string]any, field string, want any) error {
	if got := body[field]; got != want {
		return fmt.Errorf("%s is %v, want %v", field, got, want)
	}
	return nil
}

func checkFields(body map[string]any, want map[string]any) error {
	for f, v := range want {
		if err := bodyField(body, f, v); err != nil {
			return err
		}
	}
	return nil
}

// genCreate is a new payment of a random kind. Amounts are unique per run so PayPay's
// 5-minute similar-payment guard never fires.
func (m *model) genCreate() call {
	if len(m.payments) >= modelMaxPayments {
		return m.genRefund()
	}
	amount := int64(m.rng.IntN(30)+1)*1000 + int64(len(m.payments))
	manual := m.rng.IntN(5) < 2
	body := map[string]any{"amount": amount, "currency": "JPY", "method": "paypay",
		"terminal_id": "till-01", "order_id": fmt.Sprintf("order-%d", m.step)}
	if manual {
		body["capture"] = "manual"
	} else if m.rng.IntN(3) == 0 {
		body["capture"] = "automatic"
	}
	status, atPartner, failure := "succeeded", true, ""
	if manual {
		status = "authorized"
	}
	var kind string
	switch n := m.rng.IntN(20); {
	case n < 7:
		kind, body["flow"], body["barcode"] = "barcode ok", "barcode", barcodeOK
	case n < 9:
		kind, body["flow"], body["barcode"] = "barcode no-funds", "barcode", barcodeNoFunds
		status, atPartner, failure = "failed", false, contracts.FailureInsufficientFunds
	case n < 14:
		kind, body["flow"], body["linked_account"] = "linked", "linked", m.linked
	default:
		kind, body["flow"], status = "qr", "qr", "requires_action"
	}
	captureMethod := "automatic"
	if manual {
		captureMethod = "manual"
	}
	var captured int64
	if status == "succeeded" {
		captured = amount
	}
	want := map[string]any{"status": status, "amount": float64(amount), "capture_method": captureMethod,
		"flow": body["flow"], "amount_captured": float64(captured), "amount_refunded": 0.0}
	return call{
		desc: fmt.Sprintf("create %s ¥%d capture=%s", kind, amount, captureMethod), path: "/v1/payments", raw: mustJSON(body),
		status: http.StatusCreated, stored: true,
		check: func(b map[string]any) error {
			if err := checkFields(b, want); err != nil {
				return err
			}
			if failure != "" {
				return bodyField(b, "failure_code", failure)
			}
			if na, _ := b["next_action"].(map[string]any); (status == "requires_action") != (na != nil) {
				return fmt.Errorf("next_action %v with status %s", b["next_action"], status)
			}
			return nil
		},
		apply: func(b map[string]any) {
			p := &modelPayment{id: b["id"].(string), amount: amount, flow: body["flow"].(string), manual: manual,
				captured: captured, atPartner: atPartner, history: []string{"processing"}}
			p.enter(status)
			m.payments = append(m.payments, p)
			m.byID[p.id] = p
		},
	}
}

// payQR plays the customer paying a waiting QR in the PayPay app, usually successfully.
func (m *model) payQR() {
	p := m.pick(func(p *modelPayment) bool { return p.flow == "qr" && p.status == "requires_action" })
	if p.flow != "qr" || p.status != "requires_action" {
		m.exec(m.genCapture()) // no QR waits for the customer
		return
	}
	user := paypaysim.UserOK
	if m.rng.IntN(6) == 0 {
		user = paypaysim.UserNoFunds
	}
	m.note("customer pays QR %s as %s", p.id, user)
	if err := m.e.sim.PayQR(p.id+"_1", user); err != nil {
		m.fatalf("PayQR: %v", err)
	}
	// The next GET refreshes the payment from the partner.
	switch {
	case user != paypaysim.UserOK:
		p.enter("failed")
	case p.manual:
		p.enter("authorized")
	default:
		p.enter("succeeded")
		p.captured = p.amount
	}
}

// genCapture captures an authorized payment in full, in part or beyond the authorization.
func (m *model) genCapture() call {
	p := m.pick(func(p *modelPayment) bool { return p.status == "authorized" })
	c := call{path: "/v1/payments/" + p.id + "/capture", target: p}
	amount := p.amount
	var what string
	switch m.rng.IntN(4) {
	case 0:
		what, c.raw = "full (omitted)", `{}`
	case 1:
		what, c.raw = "full", fmt.Sprintf(`{"amount":%d}`, amount)
	case 2:
		amount = 1 + m.rng.Int64N(max(1, p.amount-1))
		what, c.raw = "partial", fmt.Sprintf(`{"amount":%d}`, amount)
	default:
		amount = p.amount + 1 + m.rng.Int64N(500)
		what, c.raw = "over", fmt.Sprintf(`{"amount":%d}`, amount)
	}
	c.desc = fmt.Sprintf("capture %s ¥%d of %s (%s ¥%d)", what, amount, p.id, p.status, p.amount)
	switch {
	case p.status != "authorized":
		c.status, c.code, c.stored = http.StatusConflict, string(contracts.CodeInvalidState), true
	case amount > p.amount:
		// Decided before the partner is called: not stored, the key stays free.
		c.status, c.code = http.StatusUnprocessableEntity, string(contracts.CodeAmountOutOfRange)
	default:
		c.status, c.stored = http.StatusOK, true
		c.check = func(b map[string]any) error {
			return checkFields(b, map[string]any{"id": p.id, "status": "succeeded", "amount_captured": float64(amount), "amount": float64(p.amount)})
		}
		c.apply = func(map[string]any) {
			p.enter("succeeded")
			p.captured, p.captureCalled = amount, true
		}
	}
	return c
}

// genCancel cancels a payment in any status; the answer follows the partner's rules.
func (m *model) genCancel() call {
	p := m.pick(func(p *modelPayment) bool {
		return p.status == "requires_action" || p.status == "authorized" || (p.status == "succeeded" && len(p.refunds) == 0)
	})
	c := call{path: "/v1/payments/" + p.id + "/cancel", target: p}
	reason := ""
	switch m.rng.IntN(3) {
	case 0: // no body at all
	case 1:
		c.raw = `{}`
	default:
		reason = fmt.Sprintf("changed mind %d", m.step)
		c.raw = mustJSON(map[string]string{"reason": reason})
	}
	c.desc = fmt.Sprintf("cancel %s (%s, manual=%v, %d refunds) body %q", p.id, p.status, p.manual, len(p.refunds), c.raw)
	conflict := func(code contracts.ErrorCode) {
		c.status, c.code, c.stored = http.StatusConflict, string(code), true
	}
	switch {
	case p.status == "failed" || p.status == "canceled":
		conflict(contracts.CodeInvalidState)
	case p.status == "succeeded" && len(p.refunds) > 0:
		conflict(contracts.CodeInvalidState) // the cancel would return the refunded money twice
	case p.status == "succeeded" && p.manual:
		conflict(contracts.CodeInvalidState) // a captured authorization goes back by refund only
	default:
		want := reason
		if want == "" {
			want = "requested_by_store"
		}
		c.status, c.stored = http.StatusOK, true
		c.check = func(b map[string]any) error {
			return checkFields(b, map[string]any{"id": p.id, "status": "canceled", "cancellation_reason": want})
		}
		c.apply = func(map[string]any) { p.enter("canceled"); p.reason = want }
	}
	return c
}

// genRefund refunds part, all or more than what remains of a payment, or what remains
// with the amount omitted.
func (m *model) genRefund() call {
	p := m.pick(func(p *modelPayment) bool { return p.status == "succeeded" && p.remaining() > 0 })
	c := call{path: "/v1/payments/" + p.id + "/refunds", target: p}
	rem := p.remaining()
	amount := rem
	var what string
	switch n := m.rng.IntN(8); {
	case n < 3 && rem > 1:
		amount = 1 + m.rng.Int64N(rem-1)
		what = "partial"
	case n < 5:
		what = "rest"
	case n < 6:
		what = "omitted"
	default:
		what = "over"
	}
	if what == "over" || (what != "omitted" && amount < 1) {
		amount, what = max(rem, 0)+1+m.rng.Int64N(300), "over"
	}
	body := map[string]any{}
	if what != "omitted" {
		body["amount"] = amount
	}
	if m.rng.IntN(2) == 0 {
		body["reason"] = fmt.Sprintf("returned item %d", m.step)
	}
	c.raw = mustJSON(body)
	c.desc = fmt.Sprintf("refund %s ¥%d of %s (%s, captured %d, refunded %d)", what, amount, p.id, p.status, p.captured, p.refunded)
	switch {
	case p.status != "succeeded":
		c.status, c.code, c.stored = http.StatusConflict, string(contracts.CodeInvalidState), true
	case amount > rem || amount < 1:
		c.status, c.code, c.stored = http.StatusUnprocessableEntity, string(contracts.CodeRefundExceedsCaptured), true
	default:
		c.status, c.stored = http.StatusCreated, true
		c.check = func(b map[string]any) error {
			return checkFields(b, map[string]any{"object": "refund", "payment_id": p.id, "status": "succeeded", "amount": float64(amount)})
		}
		c.apply = func(b map[string]any) {
			p.refunds = append(p.refunds, modelRefund{id: b["id"].(string), amount: amount})
			p.refunded += amount
		}
	}
	return c
}

// exec sends c once with a fresh key and moves the model by its answer.
func (m *model) exec(c call) {
	m.note("%s", c.desc)
	m.aim(c)
	key := newKey()
	r, err := m.e.sendRaw(http.MethodPost, c.path, m.tok, key, c.raw)
	if err != nil {
		m.fatalf("send: %v", err)
	}
	if replayed(r) {
		m.fatalf("a fresh key was answered as a replay: %s", r.body)
	}
	m.accept(c, r)
	if c.stored {
		m.sent = append(m.sent, sent{call: c, key: key, answer: r})
	}
}

// aim records the payment c is about, for the checks after the step.
func (m *model) aim(c call) {
	if c.target == nil {
		return
	}
	m.touched[c.target.id] = true
	if strings.HasSuffix(c.path, "/cancel") {
		m.canceled[c.target.id] = true
	}
}

// accept checks a first (not replayed) answer against the prediction and applies it.
func (m *model) accept(c call, r response) {
	m.t.Helper()
	if r.status != c.status {
		m.fatalf("status %d, want %d %s: %s", r.status, c.status, c.code, r.body)
	}
	if c.code != "" {
		if got := problemCode(r); got != c.code {
			m.fatalf("problem code %q, want %q: %s", got, c.code, r.body)
		}
		return
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		m.fatalf("decode %s: %v", r.body, err)
	}
	if c.check != nil {
		if err := c.check(body); err != nil {
			m.fatalf("answer: %v\n%s", err, r.body)
		}
	}
	if c.apply != nil {
		c.apply(body)
	}
}

// replay repeats an earlier request with its key and body: the stored answer comes back
// byte for byte, and nothing changes.
func (m *model) replay() {
	if len(m.sent) == 0 {
		m.exec(m.genCreate())
		return
	}
	s := m.sent[m.rng.IntN(len(m.sent))]
	m.note("replay [%s] key %s", s.desc, s.key)
	if s.target != nil {
		m.touched[s.target.id] = true
	}
	m.expectReplay(s)
}

func (m *model) expectReplay(s sent) {
	m.t.Helper()
	r, err := m.e.sendRaw(http.MethodPost, s.path, m.tok, s.key, s.raw)
	if err != nil {
		m.fatalf("send: %v", err)
	}
	if r.status != s.answer.status || !replayed(r) || string(r.body) != string(s.answer.body) {
		m.fatalf("replay: %d replayed=%v\n%s\nwant %d\n%s", r.status, replayed(r), r.body, s.answer.status, s.answer.body)
	}
}

// reuseKey sends another request under an earlier request's key: 422, nothing done.
func (m *model) reuseKey() {
	if len(m.sent) == 0 {
		m.exec(m.genCreate())
		return
	}
	s := m.sent[m.rng.IntN(len(m.sent))]
	path, raw := s.path, ""
	var body map[string]any
	if s.raw != "" {
		if err := json.Unmarshal([]byte(s.raw), &body); err != nil {
			m.fatalf("re-read body %s: %v", s.raw, err)
		}
	}
	if body == nil {
		body = map[string]any{}
	}
	switch {
	case m.rng.IntN(3) == 0:
		// The same key on another route.
		target := m.payments[m.rng.IntN(len(m.payments))]
		m.touched[target.id] = true
		if strings.HasSuffix(s.path, "/cancel") {
			path, raw = "/v1/payments/"+target.id+"/refunds", `{"amount":1}`
		} else {
			path, raw = "/v1/payments/"+target.id+"/cancel", `{"reason":"reused key"}`
		}
	case s.path == "/v1/payments":
		body["amount"] = body["amount"].(float64) + 1
		raw = mustJSON(body)
	case strings.HasSuffix(s.path, "/capture"):
		if a, ok := body["amount"].(float64); ok {
			body["amount"] = a + 1
		} else {
			body["amount"] = 1
		}
		raw = mustJSON(body)
	default: // cancel, refund: another reason
		body["reason"] = fmt.Sprintf("another reason %d", m.step)
		raw = mustJSON(body)
	}
	m.note("reuse key of [%s] for POST %s %s", s.desc, path, raw)
	if s.target != nil {
		m.touched[s.target.id] = true
	}
	r, err := m.e.sendRaw(http.MethodPost, path, m.tok, s.key, raw)
	if err != nil {
		m.fatalf("send: %v", err)
	}
	if r.status != http.StatusUnprocessableEntity || problemCode(r) != string(contracts.CodeIdempotencyKeyReused) || replayed(r) {
		m.fatalf("key reuse: %d replayed=%v %s, want 422 idempotency_key_reused", r.status, replayed(r), r.body)
	}
}

// concurrent fires one request from several goroutines at once with one key: it takes
// effect once; the other copies are told the key is in use or get the replay.
func (m *model) concurrent() {
	var c call
	switch m.rng.IntN(4) {
	case 0:
		c = m.genCreate()
	case 1:
		c = m.genCapture()
	case 2:
		c = m.genCancel()
	default:
		c = m.genRefund()
	}
	copies := 2 + m.rng.IntN(5)
	m.note("%d concurrent copies of %s", copies, c.desc)
	m.aim(c)
	key := newKey()
	answers := make([]response, copies)
	errs := make([]error, copies)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range copies {
		wg.Go(func() {
			<-start
			answers[i], errs[i] = m.e.sendRaw(http.MethodPost, c.path, m.tok, key, c.raw)
		})
	}
	close(start)
	wg.Wait()

	var originals []response
	for i, r := range answers {
		if errs[i] != nil {
			m.fatalf("copy %d: %v", i, errs[i])
		}
		if r.status == http.StatusConflict && problemCode(r) == string(contracts.CodeIdempotencyKeyInUse) {
			continue
		}
		if !replayed(r) {
			originals = append(originals, r)
		}
	}
	if !c.stored {
		// A refusal decided before execution frees the key: every copy may run, and each
		// is refused the same way.
		for _, r := range originals {
			m.accept(c, r)
		}
		return
	}
	if len(originals) != 1 {
		m.fatalf("%d copies executed, want exactly 1: %v", len(originals), statuses(answers))
	}
	orig := originals[0]
	m.accept(c, orig)
	for i, r := range answers {
		if replayed(r) && (r.status != orig.status || string(r.body) != string(orig.body)) {
			m.fatalf("copy %d replayed %d %s, want the original %d %s", i, r.status, r.body, orig.status, orig.body)
		}
	}
	s := sent{call: c, key: key, answer: orig}
	m.sent = append(m.sent, s)
	m.expectReplay(s) // once all are done the key replays
}

func statuses(rs []response) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%d/%s/replayed=%v", r.status, problemCode(r), replayed(r)))
	}
	return out
}

// readRefunds reads a payment's refunds and one refund through the API.
func (m *model) readRefunds() {
	p := m.pick(func(p *modelPayment) bool { return len(p.refunds) > 0 })
	m.note("read refunds of %s", p.id)
	r := m.get("/v1/payments/" + p.id + "/refunds")
	var list struct {
		Data []struct {
			ID     string `json:"id"`
			Amount int64  `json:"amount"`
			Status string `json:"status"`
		} `json:"data"`
		HasMore bool `json:"has_more"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		m.fatalf("decode %s: %v", r.body, err)
	}
	if len(list.Data) != len(p.refunds) || list.HasMore {
		m.fatalf("listed %d refunds (has_more %v), want %d: %s", len(list.Data), list.HasMore, len(p.refunds), r.body)
	}
	for i, rf := range list.Data {
		if rf.ID != p.refunds[i].id || rf.Amount != p.refunds[i].amount || rf.Status != "succeeded" {
			m.fatalf("refund %d listed as %+v, want %+v succeeded", i, rf, p.refunds[i])
		}
	}
	if len(p.refunds) == 0 {
		return
	}
	want := p.refunds[m.rng.IntN(len(p.refunds))]
	one := m.get("/v1/refunds/" + want.id)
	var got map[string]any
	if err := json.Unmarshal(one.body, &got); err != nil {
		m.fatalf("decode %s: %v", one.body, err)
	}
	if err := checkFields(got, map[string]any{"id": want.id, "payment_id": p.id, "amount": float64(want.amount), "status": "succeeded"}); err != nil {
		m.fatalf("GET refund: %v", err)
	}
}

func (m *model) get(path string) response {
	m.t.Helper()
	r, err := m.e.sendRaw(http.MethodGet, path, m.tok, "", "")
	if err != nil {
		m.fatalf("GET %s: %v", path, err)
	}
	if r.status != http.StatusOK {
		m.fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	return r
}

// checkAll checks every payment and the partner's ledger against the model. Every payment
// is read through the API: the list shows them all in one request, and payments that may
// have changed this step (new, targeted, waiting for the customer, whose GET refreshes them
// from the partner) are also read one by one.
func (m *model) checkAll() {
	m.t.Helper()
	for _, p := range m.payments {
		if prev := m.seen[p.id]; prev == "" || prev == "requires_action" || m.touched[p.id] {
			m.checkPayment(p, m.get("/v1/payments/"+p.id).body)
		}
	}
	r := m.get(fmt.Sprintf("/v1/payments?limit=%d", modelMaxPayments+10))
	var list struct {
		Data    []json.RawMessage `json:"data"`
		HasMore bool              `json:"has_more"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		m.fatalf("decode list: %v", err)
	}
	listed := map[string]json.RawMessage{}
	for _, raw := range list.Data {
		var id struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &id); err != nil || m.byID[id.ID] == nil || listed[id.ID] != nil {
			m.fatalf("payhub lists a payment the model does not know or twice: %s", raw)
		}
		listed[id.ID] = raw
	}
	if len(listed) != len(m.payments) || list.HasMore {
		m.fatalf("payhub lists %d payments (has_more %v), want %d", len(listed), list.HasMore, len(m.payments))
	}
	for _, p := range m.payments {
		m.checkPayment(p, listed[p.id])
		m.checkEvents(p)
		m.checkRefunds(p)
		m.checkPartner(p)
	}
	ledger := m.e.sim.Payments()
	want := 0
	for _, p := range m.payments {
		if p.atPartner {
			want++
		}
	}
	seen := map[string]bool{}
	for _, lp := range ledger {
		id, ok := strings.CutSuffix(lp.MerchantPaymentID, "_1")
		if p := m.byID[id]; !ok || p == nil || !p.atPartner || seen[lp.MerchantPaymentID] {
			m.fatalf("the partner holds payment %s (%s ¥%d) the model does not expect (duplicate: %v)", lp.MerchantPaymentID, lp.Status, lp.Amount, seen[lp.MerchantPaymentID])
		}
		seen[lp.MerchantPaymentID] = true
	}
	if len(ledger) != want {
		m.fatalf("the partner holds %d payments, want %d", len(ledger), want)
	}
}

// checkPayment checks the API's rendering of a payment: it is what the model says, its
// amounts are ordered, and its status only moved in allowed ways since the last check.
func (m *model) checkPayment(p *modelPayment, raw []byte) {
	m.t.Helper()
	var got struct {
		Status             string `json:"status"`
		Amount             int64  `json:"amount"`
		AmountCaptured     int64  `json:"amount_captured"`
		AmountRefunded     int64  `json:"amount_refunded"`
		CaptureMethod      string `json:"capture_method"`
		CancellationReason string `json:"cancellation_reason"`
		CancelRequested    bool   `json:"cancel_requested"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		m.fatalf("decode %s: %v", raw, err)
	}
	if !(got.AmountRefunded <= got.AmountCaptured && got.AmountCaptured <= got.Amount) {
		m.fatalf("payment %s breaks amount_refunded ≤ amount_captured ≤ amount: %s", p.id, raw)
	}
	if prev := m.seen[p.id]; prev != "" && prev != got.Status {
		switch {
		case contracts.Status(prev).Final():
			m.fatalf("payment %s left final status %s for %s", p.id, prev, got.Status)
		case prev == "succeeded" && (got.Status != "canceled" || !m.canceled[p.id]):
			m.fatalf("payment %s moved from succeeded to %s without a cancel", p.id, got.Status)
		}
	}
	m.seen[p.id] = got.Status
	wantMethod := "automatic"
	if p.manual {
		wantMethod = "manual"
	}
	if got.Status != p.status || got.Amount != p.amount || got.AmountCaptured != p.captured ||
		got.AmountRefunded != p.refunded || got.CaptureMethod != wantMethod || got.CancelRequested {
		m.fatalf("payment %s is %s, want status %s amount %d captured %d refunded %d capture_method %s",
			p.id, raw, p.status, p.amount, p.captured, p.refunded, wantMethod)
	}
	if p.status == "canceled" && got.CancellationReason != p.reason {
		m.fatalf("payment %s cancellation_reason %q, want %q", p.id, got.CancellationReason, p.reason)
	}
}

// checkEvents: sequence numbers 1..n without gaps, one payment.<status> event per status
// entered (processing included), and refund.pending then refund.succeeded per refund.
func (m *model) checkEvents(p *modelPayment) {
	m.t.Helper()
	events, err := m.e.app.Store.ListEvents(context.Background(), p.id)
	if err != nil {
		m.fatalf("events of %s: %v", p.id, err)
	}
	var statuses []string
	perRefund := map[string][]contracts.EventType{}
	for i, ev := range events {
		if ev.Sequence != int64(i+1) {
			m.fatalf("payment %s: event %d (%s) has sequence %d", p.id, i+1, ev.Type, ev.Sequence)
		}
		if ev.PaymentID != p.id {
			m.fatalf("payment %s lists an event of %s", p.id, ev.PaymentID)
		}
		switch s, isPayment := strings.CutPrefix(string(ev.Type), "payment."); {
		case isPayment && contracts.Status(s).Valid():
			statuses = append(statuses, s)
		case ev.RefundID != "" && strings.HasPrefix(string(ev.Type), "refund."):
			perRefund[ev.RefundID] = append(perRefund[ev.RefundID], ev.Type)
		default:
			m.fatalf("payment %s has an unexpected event %s (refund %q)", p.id, ev.Type, ev.RefundID)
		}
	}
	if !slices.Equal(statuses, p.history) {
		m.fatalf("payment %s status events %v, want one per status entered %v", p.id, statuses, p.history)
	}
	if len(perRefund) != len(p.refunds) {
		m.fatalf("payment %s has events of %d refunds, want %d", p.id, len(perRefund), len(p.refunds))
	}
	for _, r := range p.refunds {
		if got := perRefund[r.id]; !slices.Equal(got, []contracts.EventType{contracts.EventRefundPending, contracts.EventRefundSucceeded}) {
			m.fatalf("refund %s events %v, want pending then succeeded", r.id, got)
		}
	}
}

// checkRefunds compares the stored refunds with the model's.
func (m *model) checkRefunds(p *modelPayment) {
	m.t.Helper()
	refunds, err := m.e.app.Store.ListRefunds(context.Background(), p.id)
	if err != nil {
		m.fatalf("refunds of %s: %v", p.id, err)
	}
	if len(refunds) != len(p.refunds) {
		m.fatalf("payment %s has %d stored refunds, want %d", p.id, len(refunds), len(p.refunds))
	}
	for i, r := range refunds {
		w := p.refunds[i]
		if r.ID != w.id || r.Amount.Amount != w.amount || r.Status != contracts.RefundSucceeded || r.PartnerRef != r.ID {
			m.fatalf("stored refund %d of %s: %s ¥%d %s ref %s, want %s ¥%d succeeded", i, p.id, r.ID, r.Amount.Amount, r.Status, r.PartnerRef, w.id, w.amount)
		}
	}
}

// checkPartner compares the simulator's ledger entry with the model: the partner holds
// what payhub says it holds, to the yen, and each refund reached it once.
func (m *model) checkPartner(p *modelPayment) {
	m.t.Helper()
	lp, ok := m.e.sim.Payment(p.id + "_1")
	if ok != p.atPartner {
		m.fatalf("payment %s at the partner: %v, want %v", p.id, ok, p.atPartner)
	}
	if !ok {
		return
	}
	if lp.Amount != p.amount || lp.PreAuthorization != p.manual {
		m.fatalf("partner has %s as ¥%d preauth=%v, want ¥%d preauth=%v", p.id, lp.Amount, lp.PreAuthorization, p.amount, p.manual)
	}
	holds := lp.Status == paypaysim.StatusCompleted || lp.Status == paypaysim.StatusRefunded
	var captured int64 // what the partner took from the customer
	switch {
	case lp.PreAuthorization:
		captured = lp.Captured
	case holds:
		captured = lp.Amount
	}
	okStatus := false
	switch p.status {
	case "requires_action":
		okStatus = lp.Status == paypaysim.StatusCreated
	case "authorized":
		okStatus = lp.Status == paypaysim.StatusAuthorized
	case "succeeded":
		okStatus = holds && (lp.Status == paypaysim.StatusRefunded) == (len(p.refunds) > 0)
	case "failed":
		okStatus = lp.Status == paypaysim.StatusFailed
	case "canceled":
		// Reversed (FAILED), reverted (CANCELED), or a withdrawn QR nobody paid.
		okStatus = lp.Status == paypaysim.StatusFailed || lp.Status == paypaysim.StatusCanceled ||
			(lp.Status == paypaysim.StatusCreated && lp.CancelRequested)
	}
	if !okStatus {
		m.fatalf("payment %s is %s at payhub but %s at the partner", p.id, p.status, lp.Status)
	}
	if p.status == "canceled" {
		if lp.Captured != 0 || lp.Refunded != 0 {
			m.fatalf("canceled payment %s: partner captured ¥%d refunded ¥%d", p.id, lp.Captured, lp.Refunded)
		}
	} else if captured != p.captured {
		m.fatalf("payment %s: partner captured ¥%d, payhub ¥%d", p.id, captured, p.captured)
	}
	if n := len(lp.Captures); n > 1 || (n == 1) != p.captureCalled {
		m.fatalf("payment %s: %d captures at the partner, want %v", p.id, n, p.captureCalled)
	}
	if lp.Refunded != p.refunded {
		m.fatalf("payment %s: partner refunded ¥%d, payhub ¥%d", p.id, lp.Refunded, p.refunded)
	}
	perRef := map[string]int64{}
	count := map[string]int{}
	for _, r := range lp.Refunds {
		perRef[r.MerchantRefundID] += r.Amount
		count[r.MerchantRefundID]++
	}
	if len(lp.Refunds) != len(p.refunds) {
		m.fatalf("payment %s: %d refunds at the partner, want %d", p.id, len(lp.Refunds), len(p.refunds))
	}
	for _, r := range p.refunds {
		if count[r.id] != 1 || perRef[r.id] != r.amount {
			m.fatalf("refund %s reached the partner %d times for ¥%d, want once for ¥%d", r.id, count[r.id], perRef[r.id], r.amount)
		}
	}
}
