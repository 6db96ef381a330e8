package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gmopgadapter "payhub/adapters/gmopg"
	linepayadapter "payhub/adapters/linepay"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/hub"
	"payhub/internal/secrets"
	gmopgsim "payhub/mocks/gmopg"
	linepaysim "payhub/mocks/linepay"
	paypaysim "payhub/mocks/paypay"
	simcore "payhub/mocks/sim"
)

// A till abandons a payment whose outcome is open: its request times out while the partner
// call is in flight (or the payment answered unknown), it finds the payment by order_id and
// cancels it: 202, cancel_requested. The contract promises that payhub reverses the payment
// if it went through. These tests hold payhub to that for every partner, end to end (the
// real adapters over HTTP against the simulators): the request is only ever ended by a
// reversal the partner confirmed — the payment ends canceled, or succeeded and refunded in
// full — and the partner's own ledger shows no money kept.
//
// Everything runs on one manual clock, set to 10:00 JST, so that PayPay's cancel window
// (until 00:14:59 JST the next day) and GMO's VOID day are open whatever the wall clock
// says; the resolver is driven by hand, advancing the clock between passes.

// abPartner is one partner as a till pays with it, for the abandon tests.
type abPartner struct {
	name string
	// payMethod and payPath are the partner call that creates the payment (the fault target).
	payMethod, payPath string
	// body is the till's create request for order.
	body func(e *testEnv, order string) map[string]any
	// mustCancel: the partner still takes a cancel, so the payment must end canceled (not
	// refunded).
	mustCancel bool
	// answered is the status the create's answer records when the partner took it.
	answered contracts.Status
	// kept reads the partner's ledger: the customer's money the partner still keeps for p
	// (captured minus refunded, or held), in payhub's minor units, and what the ledger says.
	kept func(t *testing.T, e *testEnv, p contracts.Payment) (int64, string)
	// lateCustomer, when set, plays the customer finishing the partner's page after the
	// payment was abandoned (cards: 3-D Secure approved, the browser comes back).
	lateCustomer func(t *testing.T, e *testEnv, p contracts.Payment)
}

var abPartners = []abPartner{
	{
		name: "linepay", payMethod: http.MethodPost, payPath: "/v4/payments/oneTimeKeys/pay",
		body: func(e *testEnv, order string) map[string]any {
			return map[string]any{"amount": 30000, "currency": "TWD", "method": "linepay", "flow": "barcode",
				"barcode": e.linepay.IssueOneTimeKey("TW"), "terminal_id": "till-07", "order_id": order}
		},
		answered: contracts.StatusSucceeded,
		kept:     abLinePayKept,
	},
	{
		name: "paypay", payMethod: http.MethodPost, payPath: "/v2/payments",
		body: func(e *testEnv, order string) map[string]any {
			b := barcodePayment(900, barcodeOK)
			b["terminal_id"], b["order_id"] = "till-07", order
			return b
		},
		mustCancel: true, answered: contracts.StatusSucceeded,
		kept: abPayPayKept,
	},
	{
		name: "card", payMethod: http.MethodPost, payPath: "/payment/ExecTran",
		body: func(e *testEnv, order string) map[string]any {
			// The fixture token, not a minted one: a minted token is random hex, and now and
			// then its digits read as a Luhn-valid card number, which payhub refuses (422
			// card_data_not_accepted) before anything happens.
			return map[string]any{"amount": 8800, "currency": "JPY", "method": "card", "flow": "redirect",
				"card_token": gmopgsim.Token3DSChallenge, "return_url": "https://shop.example/thanks", "order_id": order}
		},
		mustCancel: true, answered: contracts.StatusRequiresAction,
		kept: abGMOKept, lateCustomer: abCardCustomerReturnsLate,
	},
}

// abLinePayKept: LINE's ledger in whole TWD; captured minus refunded, or the whole amount
// while authorized.
func abLinePayKept(t *testing.T, e *testEnv, p contracts.Payment) (int64, string) {
	t.Helper()
	lp, ok := e.linepay.Payment(p.PartnerRef)
	if !ok {
		return 0, "LINE Pay has no payment for orderId " + p.PartnerRef
	}
	major := func(n json.Number) int64 {
		v, err := n.Int64()
		if err != nil {
			t.Fatalf("LINE Pay ledger amount %q: %v", n, err)
		}
		return v * 100 // TWD minor units: payhub takes whole dollars only
	}
	desc := fmt.Sprintf("LINE Pay %s, amount %s, captured %s, refunded %s in %d refunds", lp.Status, lp.Amount, lp.Captured, lp.Refunded, len(lp.Refunds))
	if lp.Status == linepaysim.StatusAuthorized {
		return major(lp.Amount), desc
	}
	return major(lp.Captured) - major(lp.Refunded), desc
}

// abPayPayKept: PayPay's ledger in yen; a completed payment keeps its amount less refunds,
// an authorization holds its amount, a canceled (FAILED) one keeps nothing.
func abPayPayKept(t *testing.T, e *testEnv, p contracts.Payment) (int64, string) {
	t.Helper()
	lp, ok := e.sim.Payment(p.PartnerRef)
	if !ok {
		return 0, "PayPay has no payment " + p.PartnerRef
	}
	desc := fmt.Sprintf("PayPay %s, amount %d, refunded %d", lp.Status, lp.Amount, lp.Refunded)
	switch lp.Status {
	case paypaysim.StatusCompleted, paypaysim.StatusRefunded:
		return lp.Amount - lp.Refunded, desc
	case paypaysim.StatusAuthorized:
		return lp.Amount, desc
	}
	return 0, desc
}

// abGMOKept: GMO's ledger in yen; an order holding an authorisation or a charge keeps its
// current amount; UNPROCESSED, AUTHENTICATED (3-D Secure never completed), VOID, RETURN and
// RETURNX keep nothing.
func abGMOKept(t *testing.T, e *testEnv, p contracts.Payment) (int64, string) {
	t.Helper()
	oid, err := gmopgadapter.OrderID(p.PartnerRef)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := e.gmopg.Order(oid)
	if !ok {
		return 0, "GMO has no order " + oid
	}
	desc := fmt.Sprintf("GMO order %s, amount %d", o.Status, o.Amount)
	switch o.Status {
	case gmopgsim.StatusAuth, gmopgsim.StatusSauth, gmopgsim.StatusCapture, gmopgsim.StatusSales:
		return o.Amount, desc
	}
	return 0, desc
}

// abCardCustomerReturnsLate: the customer passes 3-D Secure on the issuer's page anyway and
// the browser comes back to payhub's return URL. An abandoned (canceled) card payment must
// not be completed with GMO by it.
func abCardCustomerReturnsLate(t *testing.T, e *testEnv, p contracts.Payment) {
	t.Helper()
	oid, err := gmopgadapter.OrderID(p.PartnerRef)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := e.gmopg.Order(oid)
	if !ok {
		return
	}
	ch, ok := e.gmopg.Challenge(o.AccessID)
	if !ok {
		return // the 3-D Secure flow never started: nothing for the customer to finish
	}
	if ch.State == "pending" {
		if _, err := e.gmopg.ApproveChallenge(o.AccessID); err != nil {
			t.Fatal(err)
		}
		ch, _ = e.gmopg.Challenge(o.AccessID)
	}
	form := url.Values{}
	for k, v := range ch.Form {
		form.Set(k, v)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var resp *http.Response
	if ch.Method == http.MethodGet {
		resp, err = noFollow.Get(ch.RetURL + "?" + form.Encode())
	} else {
		resp, err = noFollow.PostForm(ch.RetURL, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// abClock is a manual clock at 10:00 JST today.
func abClock() *simcore.ManualClock {
	now := time.Now().In(contracts.JST)
	return simcore.NewManualClock(time.Date(now.Year(), now.Month(), now.Day(), 10, 0, 0, 0, contracts.JST))
}

// abToken mints store client a's token on the test's clock.
func abToken(e *testEnv, clk *simcore.ManualClock) string {
	return e.token(e.a, func(r *auth.TokenRequest) { r.IssuedAt = clk.Now() })
}

// abGate holds one partner call "on the wire": the fault engine's latency wait (Faults.Sleep)
// blocks on it instead of a timer, so the test decides when the partner answers.
type abGate struct {
	arrived, release       chan struct{}
	arriveOnce, releaseOne sync.Once
}

// abHoldPartnerCall makes the next method path call to any simulator of e wait (a 2 s latency
// fault) until the gate opens.
func abHoldPartnerCall(t *testing.T, faults *simcore.Faults, method, path string) *abGate {
	t.Helper()
	g := &abGate{arrived: make(chan struct{}), release: make(chan struct{})}
	// Written before Set: the engine reads Sleep only for a request it decided to fault,
	// under the lock Set takes, so the write happens before every read.
	faults.Sleep = func(ctx context.Context, _ time.Duration) error {
		g.arriveOnce.Do(func() { close(g.arrived) })
		select {
		case <-g.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := faults.Set([]simcore.FaultRule{{Method: method, PathPrefix: path, Probability: 1, Count: 1,
		Fault: simcore.Fault{Kind: simcore.FaultLatency, Latency: 2 * time.Second}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.open) // a failing test must not leave the partner call hanging
	return g
}

func (g *abGate) open() { g.releaseOne.Do(func() { close(g.release) }) }

// abWait is how long a test waits for something happening in another goroutine.
const abWait = 20 * time.Second

// abTillGivesUp sends the till's create and gives up on it (its 0.5 s timeout firing) once the
// partner call is held at the gate; payhub carries on with the partner. It returns the
// request id it sent, to find the request's end in the access log.
func abTillGivesUp(t *testing.T, e *testEnv, tok string, body map[string]any, g *abGate) string {
	t.Helper()
	reqID := "abandon-" + rand.Text()
	raw, _ := json.Marshal(body)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/v1/payments", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Idempotency-Key", newKey())
	req.Header.Set("X-Request-Id", reqID)
	answered := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- nil
			return
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		answered <- fmt.Errorf("the create answered %d while the partner call was held: %s", resp.StatusCode, b.String())
	}()
	select {
	case <-g.arrived:
	case err := <-answered:
		t.Fatalf("the partner call never reached the partner: %v", err)
	case <-time.After(abWait):
		t.Fatal("the partner call never reached the partner")
	}
	cancel() // the till's timeout
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	return reqID
}

// abWaitForRequestEnd polls e's access log until payhub finished the request reqID (the
// handler returned: the partner's answer and whatever payhub does right after it are done).
func abWaitForRequestEnd(t *testing.T, logs *syncBuffer, reqID string) {
	t.Helper()
	deadline := time.Now().Add(abWait)
	// The access line is the request's last: every line of its work carries the id too.
	for !accessLogged(logs.String(), reqID) {
		if time.Now().After(deadline) {
			t.Fatalf("payhub never finished request %s", reqID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// accessLogged reports whether the access log holds the line of request reqID.
func accessLogged(logs, reqID string) bool {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"http request"`) && strings.Contains(line, `"request_id":"`+reqID+`"`) {
			return true
		}
	}
	return false
}

// abFindByOrder is the till looking for its lost payment: GET /v1/payments?order_id=….
func abFindByOrder(t *testing.T, e *testEnv, tok, order string) map[string]any {
	t.Helper()
	r := e.do(http.MethodGet, "/v1/payments?order_id="+url.QueryEscape(order), tok, "", nil)
	expectStatus(t, r, http.StatusOK, "")
	data, _ := r.json(t)["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("order %s: %d payments: %s", order, len(data), r.body)
	}
	return data[0].(map[string]any)
}

// abTillCancels is the till's cancel of a payment whose outcome is open: 202, cancel_requested.
func abTillCancels(t *testing.T, e *testEnv, tok, id string) {
	t.Helper()
	r := e.do(http.MethodPost, "/v1/payments/"+id+"/cancel", tok, newKey(), map[string]any{})
	expectStatus(t, r, http.StatusAccepted, "")
	if m := r.json(t); m["cancel_requested"] != true {
		t.Fatalf("cancel answered 202 without cancel_requested: %s", r.body)
	}
}

// abResolveForAWhile runs the resolver as serve would for an hour: a pass, then the clock
// moves on past the longest backoff (and past StuckAfter and FenceAfter).
func abResolveForAWhile(t *testing.T, e *testEnv, clk *simcore.ManualClock) {
	t.Helper()
	for range 6 {
		if _, err := e.app.Hub.ResolveOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.Advance(hub.DefaultResolverConfig.MaxBackoff)
	}
}

// abExpectReversed checks the end state of an abandoned payment: payhub shows it canceled, or
// succeeded with everything captured refunded by refunds that succeeded; the partner's
// ledger shows no money kept; and nothing is left open for the resolver.
func abExpectReversed(t *testing.T, e *testEnv, clk *simcore.ManualClock, partner abPartner, id string) {
	t.Helper()
	ctx := context.Background()
	tok := abToken(e, clk)
	got := e.do(http.MethodGet, "/v1/payments/"+id, tok, "", nil)
	expectStatus(t, got, http.StatusOK, "")
	m := got.json(t)
	status, captured, refunded := m["status"], m["amount_captured"].(float64), m["amount_refunded"].(float64)
	switch {
	case status == "canceled":
	case status == "succeeded" && !partner.mustCancel && captured > 0 && refunded == captured:
		list := e.do(http.MethodGet, "/v1/payments/"+id+"/refunds", tok, "", nil)
		expectStatus(t, list, http.StatusOK, "")
		var sum float64
		for _, x := range list.json(t)["data"].([]any) {
			r := x.(map[string]any)
			switch r["status"] {
			case "succeeded":
				sum += r["amount"].(float64)
			case "failed":
			default:
				t.Errorf("refund %v is still %v", r["id"], r["status"])
			}
		}
		if sum != captured {
			t.Errorf("payhub's refunds that succeeded add up to %v of %v captured: %s", sum, captured, list.body)
		}
	default:
		want := "canceled, or succeeded and refunded in full"
		if partner.mustCancel {
			want = "canceled"
		}
		t.Errorf("the abandoned payment ends %v with %v of %v captured refunded (cancel_requested %v, cancellation_reason %v, partner_code %v); want %s",
			status, refunded, captured, m["cancel_requested"], m["cancellation_reason"], m["partner_code"], want)
	}
	p, err := e.app.Store.GetPayment(ctx, "", id)
	if err != nil {
		t.Fatal(err)
	}
	if kept, desc := partner.kept(t, e, p); kept != 0 {
		t.Errorf("the partner keeps %d (minor units) of the abandoned payment: %s", kept, desc)
	}
	far := clk.Now().Add(365 * 24 * time.Hour)
	open, err := e.app.Store.ListPaymentsToResolve(ctx, far, far, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range open {
		if q.ID == id {
			t.Errorf("the resolver still has the payment to reverse (status %s, cancel_requested %v, refunded %d of %d)",
				q.Status, q.CancelRequested, q.AmountRefunded, q.AmountCaptured)
		}
	}
}

// abExpectEvent checks that payhub recorded the partner's answer as typ at some point: the
// payment did go through, so the test is about reversing it.
func abExpectEvent(t *testing.T, st contracts.Store, id string, typ contracts.EventType) {
	t.Helper()
	events, err := st.ListEvents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, ev := range events {
		if ev.Type == typ {
			return
		}
		seen = append(seen, string(ev.Type))
	}
	t.Fatalf("the partner's answer was never recorded as %s; events %v", typ, seen)
}

// TestAbandonWhileInFlight is the till's timeout: the partner's create call is slow (held
// at the simulator), the till gives up, finds the payment processing by order_id and
// cancels it (202, cancel_requested). Then the partner's answer arrives: the payment went
// through. payhub must reverse it — LINE Pay takes no cancel of a captured payment, so by
// refund in full; PayPay and GMO by cancel — and the partner's ledger must agree. In
// "till_cancels_again" the till, still seeing no result, sends its cancel once more
// (a new Idempotency-Key) after the answer arrived and before the resolver runs: that must
// not end payhub's reversal either.
func TestAbandonWhileInFlight(t *testing.T) {
	for _, partner := range abPartners {
		for _, again := range []bool{false, true} {
			t.Run(abVariant(partner.name, again), func(t *testing.T) {
				eachDatabase(t, func(t *testing.T, st contracts.Store) {
					clk := abClock()
					e := newEnvOnClock(t, st, clk)
					order := "abandon-inflight-" + partner.name
					g := abHoldPartnerCall(t, e.faults, partner.payMethod, partner.payPath)
					reqID := abTillGivesUp(t, e, abToken(e, clk), partner.body(e, order), g)

					tok := abToken(e, clk)
					found := abFindByOrder(t, e, tok, order)
					if found["status"] != "processing" {
						t.Fatalf("the till finds its payment %v, want processing: %v", found["status"], found)
					}
					id := found["id"].(string)
					abTillCancels(t, e, tok, id)

					g.open() // the partner answers: the payment went through
					abWaitForRequestEnd(t, e.logs, reqID)
					abExpectEvent(t, st, id, contracts.PaymentEventType(partner.answered))
					if again {
						abTillCancelsAgain(t, e, clk, id)
					}
					abResolveForAWhile(t, e, clk)
					abExpectReversed(t, e, clk, partner, id)
					if partner.lateCustomer != nil {
						p, _ := e.app.Store.GetPayment(context.Background(), "", id)
						partner.lateCustomer(t, e, p)
						abExpectReversed(t, e, clk, partner, id)
					}
				})
			})
		}
	}
}

// abVariant names a subtest: the partner, and whether the till cancels again.
func abVariant(partner string, again bool) string {
	if again {
		return partner + "/till_cancels_again"
	}
	return partner + "/once"
}

// abTillCancelsAgain is the till sending its cancel once more under a new key. Whatever it
// answers (the payment canceled, the reversal under way, or refund it yourself), it is no
// server error.
func abTillCancelsAgain(t *testing.T, e *testEnv, clk *simcore.ManualClock, id string) {
	t.Helper()
	r := e.do(http.MethodPost, "/v1/payments/"+id+"/cancel", abToken(e, clk), newKey(), map[string]any{})
	switch r.status {
	case http.StatusOK, http.StatusAccepted, http.StatusConflict:
		t.Logf("the second cancel answered %d: %s", r.status, r.body)
	default:
		t.Fatalf("the second cancel answered %d: %s", r.status, r.body)
	}
}

// TestAbandonUnknownPayment: the partner takes the payment but its answer is lost, so the
// till gets 201 unknown ("do not charge again"); the customer leaves and the till cancels
// (202). The resolver learns the payment went through and must reverse it. In "till polls"
// the till reads the payment first, which settles it (a read never reverses), and the
// resolver reverses the settled payment.
func TestAbandonUnknownPayment(t *testing.T) {
	for _, partner := range abPartners {
		for _, poll := range []bool{false, true} {
			name := partner.name + "/resolver"
			if poll {
				name = partner.name + "/till_polls"
			}
			t.Run(name, func(t *testing.T) {
				eachDatabase(t, func(t *testing.T, st contracts.Store) {
					clk := abClock()
					e := newEnvOnClock(t, st, clk)
					if err := e.faults.Set([]simcore.FaultRule{{Method: partner.payMethod, PathPrefix: partner.payPath, Probability: 1, Count: 1,
						Fault: simcore.Fault{Kind: simcore.FaultCommitThenDrop}}}); err != nil {
						t.Fatal(err)
					}
					tok := abToken(e, clk)
					r := e.do(http.MethodPost, "/v1/payments", tok, newKey(), partner.body(e, "abandon-unknown-"+partner.name))
					expectStatus(t, r, http.StatusCreated, "")
					if s := r.json(t)["status"]; s != "unknown" {
						t.Fatalf("the lost answer left the payment %v, want unknown: %s", s, r.body)
					}
					id := r.json(t)["id"].(string)
					abTillCancels(t, e, tok, id)
					if poll {
						expectStatus(t, e.do(http.MethodGet, "/v1/payments/"+id, tok, "", nil), http.StatusOK, "")
					}
					abResolveForAWhile(t, e, clk)
					abExpectReversed(t, e, clk, partner, id)
					if partner.lateCustomer != nil {
						p, _ := e.app.Store.GetPayment(context.Background(), "", id)
						partner.lateCustomer(t, e, p)
						abExpectReversed(t, e, clk, partner, id)
					}
				})
			})
		}
	}
}

// TestAbandonSurvivesACrashBeforeTheReversal: as TestAbandonWhileInFlight, but payhub dies
// right after it recorded the partner's answer (the payment went through, cancel_requested
// stands) and before it reversed anything. Another payhub instance on the same database and
// the same partners must find the standing request and reverse the payment. In
// "till_cancels_again" the till, having seen no result, sends its cancel once more to the
// new instance before its resolver runs.
func TestAbandonSurvivesACrashBeforeTheReversal(t *testing.T) {
	for _, partner := range abPartners {
		for _, again := range []bool{false, true} {
			t.Run(abVariant(partner.name, again), func(t *testing.T) {
				eachDatabase(t, func(t *testing.T, st contracts.Store) {
					clk := abClock()
					sims := abNewSims(t, clk)
					secret := secrets.NewKey() // PAYHUB_SECRET_KEY, the same on every instance
					crashing := &abCrashStore{Store: st}
					first := abStartInstance(t, crashing, clk, sims, secret, nil)
					order := "abandon-crash-" + partner.name
					g := abHoldPartnerCall(t, sims.faults, partner.payMethod, partner.payPath)
					reqID := abTillGivesUp(t, first, abToken(first, clk), partner.body(first, order), g)
					tok := abToken(first, clk)
					found := abFindByOrder(t, first, tok, order)
					if found["status"] != "processing" {
						t.Fatalf("the till finds its payment %v, want processing: %v", found["status"], found)
					}
					id := found["id"].(string)
					abTillCancels(t, first, tok, id)

					crashing.armed.Store(true) // die once the partner's answer is written
					g.open()
					abWaitForRequestEnd(t, first.logs, reqID)
					if !crashing.dead.Load() {
						t.Fatal("payhub never recorded the partner's answer: the crash never happened")
					}
					p, err := st.GetPayment(context.Background(), "", id)
					if err != nil {
						t.Fatal(err)
					}
					if p.Status != partner.answered || !p.CancelRequested {
						t.Fatalf("after the crash the payment is %s, cancel_requested %v; want %s with the request standing", p.Status, p.CancelRequested, partner.answered)
					}
					// The test is about money that moved: before the crash nothing reversed it.
					if partner.answered == contracts.StatusSucceeded {
						if kept, desc := partner.kept(t, first, p); kept == 0 {
							t.Fatalf("the partner keeps nothing before any reversal: %s", desc)
						}
					}

					second := abStartInstance(t, st, clk, sims, secret, first)
					if again {
						abTillCancelsAgain(t, second, clk, id)
					}
					abResolveForAWhile(t, second, clk)
					abExpectReversed(t, second, clk, partner, id)
					if partner.lateCustomer != nil {
						p, _ := st.GetPayment(context.Background(), "", id)
						partner.lateCustomer(t, second, p)
						abExpectReversed(t, second, clk, partner, id)
					}
				})
			})
		}
	}
}

// errAbDied is every write of a payhub that "died".
var errAbDied = errors.New("payhub died here")

// abCrashStore is the database as a payhub process sees it that is killed right after
// it recorded a partner's answer to a create: once armed, the first transaction that moves a
// payment out of processing/unknown commits, and from then on every transaction fails (as
// after SIGKILL, nothing the process does afterwards reaches the database or, since every
// partner call is preceded by its recorded intent, a partner).
type abCrashStore struct {
	contracts.Store
	armed, dead atomic.Bool
}

func (s *abCrashStore) InTx(ctx context.Context, fn func(tx contracts.Tx) error) error {
	if s.dead.Load() {
		return errAbDied
	}
	if !s.armed.Load() {
		return s.Store.InTx(ctx, fn)
	}
	var answered bool
	err := s.Store.InTx(ctx, func(tx contracts.Tx) error {
		answered = false
		return fn(abAnswerWatch{Tx: tx, answered: &answered})
	})
	if err == nil && answered {
		s.dead.Store(true)
	}
	return err
}

// Close leaves the database to the next instance (the test's store closes it at the end).
func (s *abCrashStore) Close() error { return nil }

// abAnswerWatch notes a transaction that writes a payment's outcome.
type abAnswerWatch struct {
	contracts.Tx
	answered *bool
}

func (w abAnswerWatch) UpdatePayment(ctx context.Context, p contracts.Payment) error {
	if p.Status != contracts.StatusProcessing && p.Status != contracts.StatusUnknown {
		*w.answered = true
	}
	return w.Tx.UpdatePayment(ctx, p)
}

// abSims are one test's partner simulators on one fault engine and clock, served over
// HTTP and shared by every payhub instance the test starts, as partners are shared by the
// instances of a deployment.
type abSims struct {
	faults                          *simcore.Faults
	paypay                          *paypaysim.Simulator
	linepay                         *linepaysim.Simulator
	gmopg                           *gmopgsim.Simulator
	paypayURL, linepayURL, gmopgURL string
}

func abNewSims(t *testing.T, clk *simcore.ManualClock) *abSims {
	t.Helper()
	s := &abSims{faults: simcore.NewFaults(1)}
	s.paypay = paypaysim.New(paypaysim.Config{APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant, Faults: s.faults, Clock: clk})
	s.linepay = linepaysim.New(linepaysim.Config{ChannelID: testLinePayChannel, ChannelSecret: testLinePaySecret, Faults: s.faults, Clock: clk})
	s.gmopg = gmopgsim.New(gmopgsim.Config{ShopID: testGMOShopID, ShopPass: testGMOShopPass, Faults: s.faults, Clock: clk})
	serve := func(h http.Handler) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	s.paypayURL, s.linepayURL, s.gmopgURL = serve(s.paypay), serve(s.linepay), serve(s.gmopg)
	return s
}

// abStartInstance starts one payhub process, wired as newEnvOnClock wires it, on st,
// the shared simulators and the deployment's secret key. The first instance registers the
// store clients; a later one (clientsOf) uses them from the database.
func abStartInstance(t *testing.T, st contracts.Store, clk *simcore.ManualClock, sims *abSims, secret []byte, clientsOf *testEnv) *testEnv {
	t.Helper()
	logs := &syncBuffer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Build(context.Background(), app.Config{Store: st, PublicURL: "http://" + ln.Addr().String(), Logger: app.NewLogger(logs),
		Clock: clk, SecretKey: secret,
		PayPay:  paypayadapter.Config{BaseURL: sims.paypayURL, APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant},
		LinePay: &linepayadapter.Config{BaseURL: sims.linepayURL, ChannelID: testLinePayChannel, ChannelSecret: testLinePaySecret, Currency: contracts.TWD},
		Card:    &gmopgadapter.Config{BaseURL: sims.gmopgURL, ShopID: testGMOShopID, ShopPass: testGMOShopPass}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() { srv.Close(); a.Close() })
	e := &testEnv{t: t, app: a, url: srv.URL, sim: sims.paypay, faults: sims.faults, linepay: sims.linepay, gmopg: sims.gmopg, logs: logs}
	if clientsOf == nil {
		e.a = e.register("pos-a", "pos-a-key-1", "store-a", contracts.AlgEdDSA)
		e.b = e.register("pos-b", "pos-b-key-1", "store-b", contracts.AlgES256)
	} else {
		e.a, e.b = clientsOf.a, clientsOf.b
	}
	return e
}
