package httpapi_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/hub"
	nanacosim "payhub/mocks/nanaco"
	simcore "payhub/mocks/sim"
)

// Velocity and amount limits (issue 17, docs/security.md §5), through the real router with
// real tokens, on both databases.

func testAuditKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// withLimits gives the app an audit key and, with defaults, the default rules.
func withLimits(key []byte, defaults bool) func(*app.Config) {
	return func(c *app.Config) { c.AuditKey, c.DefaultLimits = key, defaults }
}

// addRule adds r (id and author filled in) as an operator would, and makes the engine read
// it at once.
func (e *testEnv) addRule(key []byte, r contracts.LimitRule) contracts.LimitRule {
	e.t.Helper()
	r.ID, r.SetBy, r.SetAt = "lim_"+ulidLike(), "test", time.Now().UTC()
	if err := hub.AddLimitRule(context.Background(), e.app.Store, key, "", r); err != nil {
		e.t.Fatal(err)
	}
	if err := e.app.Hub.RefreshControls(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// ulidLike is a fresh, well-formed ULID body.
func ulidLike() string {
	const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := make([]byte, 26)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = crockford[int(b[i])%32]
	}
	b[0] = '0'
	return string(b)
}

// expectLimit checks a 429 limit_exceeded naming rule, with a Retry-After.
func expectLimit(t *testing.T, r response, ruleID string) int {
	t.Helper()
	expectStatus(t, r, http.StatusTooManyRequests, "limit_exceeded")
	limit, _ := r.json(t)["limit"].(map[string]any)
	if limit == nil || (ruleID != "" && limit["rule_id"] != ruleID) {
		t.Fatalf("limit %v, want rule %s: %s", limit, ruleID, r.body)
	}
	wait, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || wait < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	return wait
}

// TestDefaultLimitsStopTheReviewBurst replays the security review's burst — 100 payments
// of ¥500,000 from one terminal and one token, fresh keys — against serve's default
// limits: the terminal's ¥2,000,000 an hour lets four through and refuses the rest.
func TestDefaultLimitsStopTheReviewBurst(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnvWith(t, st, nil, withLimits(testAuditKey(t), true))
		tok := e.token(e.a)
		succeeded, refused := 0, 0
		for i := range 100 {
			body := barcodePayment(500_000, barcodeOK)
			body["order_id"] = "burst-" + strconv.Itoa(i)
			r := e.do(http.MethodPost, "/v1/payments", tok, newKey(), body)
			switch r.status {
			case http.StatusCreated:
				if r.json(t)["status"] != "succeeded" {
					t.Fatalf("payment %d: %s", i, r.body)
				}
				succeeded++
			default:
				expectLimit(t, r, "")
				refused++
			}
		}
		if succeeded != 4 || refused != 96 {
			t.Fatalf("%d succeeded, %d refused; want 4 and 96 (¥2,000,000 per terminal and hour)", succeeded, refused)
		}
		settled := int64(0)
		for _, p := range e.sim.Payments() {
			if p.Status == "COMPLETED" {
				settled += p.Amount
			}
		}
		if settled != 2_000_000 {
			t.Fatalf("PayPay settled ¥%d, want ¥2,000,000", settled)
		}
		if !strings.Contains(e.metrics(), `payhub_limit_refusals_total{operation="pay"`) {
			t.Fatal("no payhub_limit_refusals_total in the metrics")
		}
	})
}

// TestConcurrentRequestsCannotOvershootALimit: 50 requests at once against a count limit
// (store a's terminal: 7 an hour) and 50 at once against an amount limit (store b: ¥10,000
// an hour, ¥1,000 each): exactly 7 and exactly 10 go through.
func TestConcurrentRequestsCannotOvershootALimit(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		key := testAuditKey(t)
		e := newEnvWith(t, st, nil, withLimits(key, false))
		count := e.addRule(key, contracts.LimitRule{Subject: contracts.LimitTerminal, SubjectID: e.a.store + "/till-01",
			Operation: contracts.OperationPay, Window: time.Hour, MaxCount: 7})
		amount := e.addRule(key, contracts.LimitRule{Subject: contracts.LimitStore, SubjectID: e.b.store,
			Operation: contracts.OperationPay, Window: time.Hour, MaxAmount: 10_000, Currency: contracts.JPY})
		toks := map[string]string{e.a.store: e.token(e.a), e.b.store: e.token(e.b)}
		var (
			mu       sync.Mutex
			created  = map[string]int{}
			refusals = map[string]int{}
			wg       sync.WaitGroup
		)
		for i := range 100 {
			store := e.a.store
			if i%2 == 1 {
				store = e.b.store
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.do(http.MethodPost, "/v1/payments", toks[store], newKey(), barcodePayment(1_000, barcodeOK))
				mu.Lock()
				defer mu.Unlock()
				switch r.status {
				case http.StatusCreated:
					created[store]++
				case http.StatusTooManyRequests:
					refusals[store]++
				default:
					t.Errorf("status %d: %s", r.status, r.body)
				}
			}()
		}
		wg.Wait()
		if created[e.a.store] != 7 || refusals[e.a.store] != 43 {
			t.Errorf("count rule %s: %d created, %d refused; want 7 and 43", count.ID, created[e.a.store], refusals[e.a.store])
		}
		if created[e.b.store] != 10 || refusals[e.b.store] != 40 {
			t.Errorf("amount rule %s: %d created, %d refused; want 10 and 40", amount.ID, created[e.b.store], refusals[e.b.store])
		}
	})
}

// TestInstrumentLimitHoldsAcrossStores: a nanaco card may pay three times in ten minutes
// wherever it pays; the fourth, at another store through another client, is refused, while
// another card at the same till pays. payhub keeps no card number in the limits' usage.
func TestInstrumentLimitHoldsAcrossStores(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		key := testAuditKey(t)
		rule := n.addRule(key, contracts.LimitRule{Subject: contracts.LimitInstrument, Operation: contracts.OperationPay,
			Window: 10 * time.Minute, MaxCount: 3})
		pay := func(c storeClient, card string, amount int) response {
			tok := n.token(c, func(r *auth.TokenRequest) { r.IssuedAt = n.clk.Now() })
			return n.do(http.MethodPost, "/v1/payments", tok, newKey(), cardPresent(amount, card))
		}
		for i, c := range []storeClient{n.a, n.b, n.a} {
			expectStatus(t, pay(c, nanacosim.FixtureActive, 100+i), http.StatusCreated, "")
		}
		r := pay(n.b, nanacosim.FixtureActive, 200)
		expectLimit(t, r, rule.ID)
		if subject := r.json(t)["limit"].(map[string]any)["subject"]; subject != "instrument" {
			t.Fatalf("subject %v, want instrument", subject)
		}
		expectStatus(t, pay(n.b, nanacosim.FixtureNearCap, 200), http.StatusCreated, "")
		if strings.Contains(n.logs.String(), nanacosim.FixtureActive) {
			t.Fatal("a card number reached the logs")
		}
	})
}

// TestLimitWindowRollsOverAndFailuresGiveBack: a definite failure gives its share back; a
// refusal frees the Idempotency-Key, and the same request passes once the window has
// moved on by Retry-After (an injected clock).
func TestLimitWindowRollsOverAndFailuresGiveBack(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		key := testAuditKey(t)
		clk := simcore.NewManualClock(time.Now())
		e := newEnvWith(t, st, clk, withLimits(key, false))
		rule := e.addRule(key, contracts.LimitRule{Subject: contracts.LimitTerminal, Operation: contracts.OperationPay,
			Window: time.Minute, MaxCount: 2})
		pay := func(idem, barcode string) response {
			tok := e.token(e.a, func(r *auth.TokenRequest) { r.IssuedAt = clk.Now() })
			return e.do(http.MethodPost, "/v1/payments", tok, idem, barcodePayment(1_000, barcode))
		}
		expectStatus(t, pay(newKey(), barcodeOK), http.StatusCreated, "")
		clk.Advance(20 * time.Second)
		failed := pay(newKey(), barcodeNoFunds)
		if failed.status != http.StatusCreated || failed.json(t)["status"] != "failed" {
			t.Fatalf("declined payment: %d %s", failed.status, failed.body)
		}
		expectStatus(t, pay(newKey(), barcodeOK), http.StatusCreated, "")
		idem := newKey()
		wait := expectLimit(t, pay(idem, barcodeOK), rule.ID)
		if wait < 39 || wait > 41 {
			t.Fatalf("Retry-After %d s, want 40 (the first payment leaves the window then)", wait)
		}
		clk.Advance(time.Duration(wait) * time.Second)
		if err := e.app.Hub.RefreshControls(context.Background()); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, pay(idem, barcodeOK), http.StatusCreated, "")
	})
}
