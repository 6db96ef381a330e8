package hub_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	linepayadapter "payhub/adapters/linepay"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
	linepaysim "payhub/mocks/linepay"
	paypaysim "payhub/mocks/paypay"
	"payhub/mocks/sim"
)

// callCounter counts the requests a simulator serves, by method, path, query and body:
// a partner call made twice for one object shows as a count of 2.
type callCounter struct {
	next http.Handler
	mu   sync.Mutex
	on   bool
	n    map[string]int
}

func (c *callCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	c.mu.Lock()
	if c.on {
		c.n[r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" "+hex.EncodeToString(sum[:6])]++
	}
	c.mu.Unlock()
	c.next.ServeHTTP(w, r)
}

func (c *callCounter) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on, c.n = true, map[string]int{}
}

// repeated lists the calls made more than once, and counts every call.
func (c *callCounter) repeated() (dup []string, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, n := range c.n {
		total += n
		if n > 1 {
			dup = append(dup, fmt.Sprintf("%dx %s", n, k))
		}
	}
	sort.Strings(dup)
	return dup, total
}

// leaseRig is two payhub instances (hubs with their own instance ids) on one database,
// with the PayPay and LINE Pay simulators behind counting handlers.
type leaseRig struct {
	clock      *clock.Manual
	st         contracts.Store
	hubs       [2]*hub.Hub
	pp, lp     *callCounter
	ppF, lpF   *sim.Faults
	caller     hub.Caller
	payments   []string
	refunds    []string
	linePayRef map[string]bool // LINE Pay payment ids
	abandoned  map[string]bool // payments the till canceled while their outcome was open
}

func newLeaseRig(t *testing.T, st contracts.Store, leases bool) *leaseRig {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC))
	r := &leaseRig{clock: clk, st: st, ppF: sim.NewFaults(1), lpF: sim.NewFaults(2),
		caller: hub.Caller{ClientID: "pos-1", StoreID: "store-1"}, linePayRef: map[string]bool{}, abandoned: map[string]bool{}}
	const key, secret, merchant = "lease-key", "bGVhc2Utc2VjcmV0LWZvci10ZXN0cw==", "lease-merchant"
	r.pp = &callCounter{next: paypaysim.New(paypaysim.Config{APIKey: key, APISecret: secret, MerchantID: merchant, Clock: clk, Faults: r.ppF})}
	ppSrv := httptest.NewServer(r.pp)
	t.Cleanup(ppSrv.Close)
	r.lp = &callCounter{next: linepaysim.New(linepaysim.Config{Clock: clk, Faults: r.lpF})}
	lpSrv := httptest.NewServer(r.lp)
	t.Cleanup(lpSrv.Close)
	for i := range r.hubs {
		pp, err := paypayadapter.New(paypayadapter.Config{BaseURL: ppSrv.URL, APIKey: key, APISecret: secret, MerchantID: merchant, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		lp, err := linepayadapter.New(linepayadapter.Config{BaseURL: lpSrv.URL, ChannelID: linepaysim.DemoChannelID,
			ChannelSecret: linepaysim.DemoChannelSecret, Currency: contracts.TWD, Now: clk.Now, LateLandingWindow: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		h := hub.New(hub.Config{Store: st, Clock: clk, IDs: ids.New(clk), APIVersion: contracts.APIVersion,
			Partners: map[contracts.Method]contracts.Partner{contracts.MethodPayPay: pp, contracts.MethodLinePay: lp},
			Metrics:  hub.NewMetrics(prometheus.NewRegistry()),
			// Every create below loses its answer on purpose: keep the breakers closed.
			Breaker: hub.BreakerConfig{ConsecutiveFailures: 1 << 30, OpenFor: time.Second, TrialCalls: 1}})
		if err := h.RegisterInstance(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !leases {
			hub.DisableWorkLeases(h)
		}
		r.hubs[i] = h
	}
	return r
}

func (r *leaseRig) pay(t *testing.T, method contracts.Method) (string, string) {
	t.Helper()
	cmd := hub.CreatePayment{Amount: contracts.Money{Amount: 1000, Currency: contracts.JPY}, Method: contracts.MethodPayPay,
		Flow: contracts.FlowBarcode, Barcode: paypaysim.BarcodeOK, TerminalID: "till-1", OrderID: "o"}
	if method == contracts.MethodLinePay {
		cmd.Amount, cmd.Method, cmd.Barcode = contracts.Money{Amount: 100000, Currency: contracts.TWD}, contracts.MethodLinePay, linepaysim.OneTimeKeyOK
	}
	res, err := r.hubs[0].CreatePayment(context.Background(), r.caller, idem("lease-pay"), cmd)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, res)
	id, _ := m["id"].(string)
	if method == contracts.MethodLinePay {
		r.linePayRef[id] = true
	}
	status, _ := m["status"].(string)
	return id, status
}

func (r *leaseRig) refund(t *testing.T, paymentID string) (string, string) {
	t.Helper()
	amount := int64(300)
	if r.linePayRef[paymentID] {
		amount = 30000
	}
	res, err := r.hubs[0].CreateRefund(context.Background(), r.caller, idem("lease-refund"), paymentID, hub.CreateRefund{Amount: &amount, Reason: "return"})
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, res)
	id, _ := m["id"].(string)
	status, _ := m["status"].(string)
	return id, status
}

func setFaults(t *testing.T, f *sim.Faults, rules ...sim.FaultRule) {
	t.Helper()
	if err := f.Set(rules); err != nil {
		t.Fatal(err)
	}
}

// openObjects makes n payments whose outcome is unknown (the partner committed them, the
// answer was lost) and n refunds of other payments whose outcome is unknown (PayPay
// committed them and lost the answer; LINE Pay lost the request), half PayPay, half LINE
// Pay.
func (r *leaseRig) openObjects(t *testing.T, n int) {
	t.Helper()
	methods := []contracts.Method{contracts.MethodPayPay, contracts.MethodLinePay}
	var paid []string
	for i := range n {
		id, status := r.pay(t, methods[i%2])
		if status != "succeeded" {
			t.Fatalf("payment %s: %s", id, status)
		}
		paid = append(paid, id)
	}
	drop := sim.Fault{Kind: sim.FaultCommitThenDrop}
	setFaults(t, r.ppF, sim.FaultRule{Method: http.MethodPost, PathPrefix: "/v2/refunds", Probability: 1, Fault: drop})
	setFaults(t, r.lpF, sim.FaultRule{Method: http.MethodPost, PathPrefix: "/v4/payments/orders/", Probability: 1, Fault: sim.Fault{Kind: sim.FaultReset}})
	for _, p := range paid {
		id, status := r.refund(t, p)
		if status != "unknown" && status != "pending" {
			t.Fatalf("refund %s: %s", id, status)
		}
		r.refunds = append(r.refunds, id)
	}
	setFaults(t, r.ppF, sim.FaultRule{Method: http.MethodPost, PathPrefix: "/v2/payments", Probability: 1, Fault: drop})
	setFaults(t, r.lpF, sim.FaultRule{Method: http.MethodPost, PathPrefix: "/v4/payments/oneTimeKeys/pay", Probability: 1, Fault: drop})
	for i := range n {
		id, status := r.pay(t, methods[i%2])
		if status != "unknown" && status != "processing" {
			t.Fatalf("payment %s: %s", id, status)
		}
		r.payments = append(r.payments, id)
		if i%4 >= 2 {
			// The till gives up: a cancel request the resolver must honour once the
			// outcome is known (a cancel at PayPay, a refund at LINE Pay after capture).
			res, err := r.hubs[1].CancelPayment(context.Background(), r.caller, idem("lease-cancel"), id, "")
			if err != nil || res.Kind != contracts.AnswerAccepted {
				t.Fatalf("abandon %s: %v %s %s", id, err, res.Kind, res.Body)
			}
			r.abandoned[id] = true
		}
	}
	setFaults(t, r.ppF)
	setFaults(t, r.lpF)
}

// resolveConcurrently runs both instances' resolver passes at once, passes times, the
// clock moved past every backoff between passes.
func (r *leaseRig) resolveConcurrently(t *testing.T, passes int) {
	t.Helper()
	for range passes {
		r.clock.Advance(hub.DefaultResolverConfig.StuckAfter + time.Second)
		for _, h := range r.hubs { // both alive: a silent instance's leases are taken over
			if err := h.Heartbeat(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for _, h := range r.hubs {
			wg.Go(func() {
				if _, err := h.ResolveOnce(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
}

// open lists the objects whose outcome is still open, and the abandoned payments not
// reversed.
func (r *leaseRig) open(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, id := range r.payments {
		p, err := r.st.GetPayment(context.Background(), "", id)
		reversed := p.Status == contracts.StatusCanceled ||
			(p.Status == contracts.StatusSucceeded && p.AmountRefunded == p.AmountCaptured)
		if err != nil || (r.abandoned[id] && !reversed) || (!r.abandoned[id] && p.Status != contracts.StatusSucceeded) {
			out = append(out, fmt.Sprintf("%s %s refunded %d abandoned %v", id, p.Status, p.AmountRefunded, r.abandoned[id]))
		}
	}
	for _, id := range r.refunds {
		x, err := r.st.GetRefund(context.Background(), "", id)
		if err != nil || x.Status != contracts.RefundSucceeded {
			out = append(out, fmt.Sprintf("%s %s", id, x.Status))
		}
	}
	return out
}

func twoResolvers(t *testing.T, leases bool) (dups []string, total int, r *leaseRig) {
	t.Helper()
	r = newLeaseRig(t, storetest.OpenPostgres(t), leases)
	r.openObjects(t, 100)
	r.pp.start()
	r.lp.start()
	r.resolveConcurrently(t, 3)
	ppDup, ppTotal := r.pp.repeated()
	lpDup, lpTotal := r.lp.repeated()
	return append(ppDup, lpDup...), ppTotal + lpTotal, r
}

// TestTwoResolversCallEachPartnerOnce: two payhub instances on one PostgreSQL resolve 100
// payments and 100 refunds whose outcome is unknown (half PayPay, half LINE Pay, whose
// refunds carry no refund id) at the same time; the till abandoned half of the payments, so
// the resolver also cancels (PayPay) or refunds (LINE Pay, captured) them. Every partner
// call of the resolution — each inquiry, cancel, refund, refund sent again and LINE Pay
// refund details read — reaches the simulator exactly once, and every object ends settled
// (the abandoned payments reversed).
func TestTwoResolversCallEachPartnerOnce(t *testing.T) {
	storetest.SkipUnlessPostgres(t)
	dups, total, r := twoResolvers(t, true)
	if len(dups) > 0 {
		t.Errorf("%d partner calls made more than once (of %d):\n%v", len(dups), total, dups)
	}
	if total < 200 {
		t.Errorf("only %d partner calls resolved 200 objects", total)
	}
	if open := r.open(t); len(open) > 0 {
		t.Errorf("%d objects still open: %v", len(open), open)
	}
	t.Logf("%d partner calls, none repeated", total)
}

// Without the leases the same run repeats partner calls (and LINE Pay refunds twice):
// what the leases are for.
func TestTwoResolversWithoutLeasesRepeatCalls(t *testing.T) {
	storetest.SkipUnlessPostgres(t)
	dups, total, _ := twoResolvers(t, false)
	if len(dups) == 0 {
		t.Skipf("no call repeated without leases this time (%d calls): the race did not happen", total)
	}
	refunds := 0
	for _, d := range dups {
		if strings.Contains(d, "POST /v4/payments/orders/") && strings.Contains(d, "/refund?") {
			refunds++
		}
	}
	t.Logf("without leases: %d partner calls made more than once (of %d), %d LINE Pay refunds sent twice; e.g. %v",
		len(dups), total, refunds, dups[:min(len(dups), 5)])
}

// TestKilledInstanceLeaseIsTakenOver: instance A takes the resolver's lease on an unknown
// payment and stalls: instance B leaves the payment alone while A heartbeats and its lease
// is in force. A dies (its heartbeat stops): once the heartbeat is older than the instance
// lease, B takes the work over — well within the work lease — and settles it with one
// inquiry; A's late write is refused (contracts.ErrLeaseLost). A maintenance pass
// (the idempotency janitor) is handed over the same way. On both databases.
func TestKilledInstanceLeaseIsTakenOver(t *testing.T) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			f := newFixtureOn(t, db.Open(t))
			ctx := context.Background()
			a := f.hub
			b := hub.New(hub.Config{Store: f.store, Partners: map[contracts.Method]contracts.Partner{contracts.MethodPayPay: f.partner},
				Clock: f.clock, IDs: ids.New(f.clock), APIVersion: contracts.APIVersion})
			id := f.unknownPayment(t, 700)
			seen := f.payment(t, id)
			f.partner.get = answer(contracts.OutcomeSucceeded)

			for _, h := range []*hub.Hub{a, b} {
				if err := h.RegisterInstance(ctx); err != nil {
					t.Fatal(err)
				}
			}
			leased, ok := hub.TakeResolverLease(ctx, a, id)
			if !ok || !hub.TakeJanitorLease(ctx, a) {
				t.Fatal("A could not take the leases")
			}

			// A alive but slow (it heartbeats): B leaves its work alone until the lease ends.
			f.clock.Advance(hub.DefaultWorkLease - time.Second)
			for _, h := range []*hub.Hub{a, b} {
				if err := h.Heartbeat(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := b.ResolveOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if f.partner.count("get") != 0 || f.payment(t, id).Status != contracts.StatusUnknown {
				t.Fatalf("B worked on a payment under A's lease: %d inquiries, %s", f.partner.count("get"), f.payment(t, id).Status)
			}
			if _, err := b.ExpireIdempotencyKeys(ctx, time.Nanosecond); err != nil {
				t.Fatal(err)
			}
			if _, err := f.store.GetIdempotency(ctx, f.caller.ClientID, firstKey(t, f, id)); err != nil {
				t.Fatalf("B's janitor ran under A's task lease: %v", err)
			}

			// A is killed here: no heartbeat, no release. Its leases are still in force for a
			// second, but once its heartbeat is older than the instance lease (5 s) B takes
			// the work over — long before the work lease would end.
			f.clock.Advance(hub.DefaultInstanceConfig.Lease + time.Second)
			if err := b.Heartbeat(ctx); err != nil {
				t.Fatal(err)
			}
			if n, err := b.ResolveOnce(ctx); err != nil || n != 1 {
				t.Fatalf("B after A died: settled %d, %v", n, err)
			}
			if p := f.payment(t, id); p.Status != contracts.StatusSucceeded || f.partner.count("get") != 1 {
				t.Fatalf("B's takeover: %s after %d inquiries", p.Status, f.partner.count("get"))
			}
			if _, err := b.ExpireIdempotencyKeys(ctx, time.Nanosecond); err != nil {
				t.Fatal(err)
			}
			if _, err := f.store.GetIdempotency(ctx, f.caller.ClientID, firstKey(t, f, id)); !errors.Is(err, contracts.ErrNotFound) {
				t.Fatalf("B's janitor did not take over: %v", err)
			}

			// A comes back from the dead with its answer: refused, nothing written.
			if err := hub.SettlePayment(leased, a, seen, contracts.OutcomeFailed); !errors.Is(err, contracts.ErrLeaseLost) {
				t.Fatalf("A's late write = %v, want ErrLeaseLost", err)
			}
			if p := f.payment(t, id); p.Status != contracts.StatusSucceeded {
				t.Fatalf("A's late write landed: %s", p.Status)
			}
		})
	}
}

// firstKey is the Idempotency-Key of the request that created the payment.
func firstKey(t *testing.T, f *fixture, id string) string {
	t.Helper()
	return f.payment(t, id).IdempotencyKey
}
