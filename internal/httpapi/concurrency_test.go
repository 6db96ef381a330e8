package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/store/storetest"
	paypaysim "payhub/mocks/paypay"
)

// sendRaw is e.do for goroutines: it sends raw verbatim as the JSON body ("" sends none),
// checks the answer against the contract (t.Errorf is safe from any goroutine) and
// returns transport failures instead of stopping the test.
func (e *testEnv) sendRaw(method, path, token, idemKey, raw string) (response, error) {
	var body io.Reader
	if raw != "" {
		body = strings.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		return response{}, err
	}
	if raw != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	checkAgainstContract(e.t, req, resp.StatusCode, resp.Header, got)
	return response{status: resp.StatusCode, header: resp.Header, body: got}, nil
}

// problemCode is the code of a problem+json answer, "" for any other answer.
func problemCode(r response) string {
	if r.header.Get("Content-Type") != "application/problem+json" {
		return ""
	}
	var p struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(r.body, &p) != nil {
		return ""
	}
	return p.Code
}

func replayed(r response) bool { return r.header.Get("Idempotent-Replayed") == "true" }

// newEnvWithPartner is newEnv with the PayPay simulator served through wrap, so a test can
// hold partner calls in flight.
func newEnvWithPartner(t *testing.T, st contracts.Store, wrap func(http.Handler) http.Handler, mods ...func(*app.Config)) *testEnv {
	t.Helper()
	if st == nil {
		st = storetest.OpenSQLite(t)
	}
	logs := &syncBuffer{}
	sim := paypaysim.New(paypaysim.Config{APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant})
	simSrv := httptest.NewServer(wrap(sim))
	t.Cleanup(simSrv.Close)
	cfg := app.Config{Store: st, Logger: app.NewLogger(logs),
		PayPay: paypayadapter.Config{BaseURL: simSrv.URL, APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant}}
	for _, mod := range mods {
		mod(&cfg)
	}
	a, err := app.Build(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() { srv.Close(); a.Close() })
	e := &testEnv{t: t, app: a, url: srv.URL, sim: sim, logs: logs}
	e.a = e.register("pos-a", "pos-a-key-1", "store-a", contracts.AlgEdDSA)
	e.b = e.register("pos-b", "pos-b-key-1", "store-b", contracts.AlgES256)
	return e
}

// partnerGate holds the first POST /v2/payments at the partner until release is closed.
type partnerGate struct {
	once    sync.Once
	arrived chan struct{} // closed when the first create reached the partner
	release chan struct{} // closed by the test to let it through
}

func newPartnerGate() *partnerGate {
	return &partnerGate{arrived: make(chan struct{}), release: make(chan struct{})}
}

func (g *partnerGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v2/payments" {
			first := false
			g.once.Do(func() { first = true; close(g.arrived) })
			if first {
				<-g.release
			}
		}
		next.ServeHTTP(w, r)
	})
}

// TestFiftyConcurrentIdenticalRequests fires one create with one Idempotency-Key from 50
// goroutines at once while the partner holds the first call: exactly one payment reaches
// PayPay, the other 49 requests are told the key is in use, and a retry replays the 201.
func TestFiftyConcurrentIdenticalRequests(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		gate := newPartnerGate()
		e := newEnvWithPartner(t, st, gate.wrap)
		releaseOnce := sync.OnceFunc(func() { close(gate.release) })
		defer releaseOnce() // never leave the partner blocked: the servers' Close waits for it

		const n = 50
		key := newKey()
		raw, _ := json.Marshal(barcodePayment(1000, barcodeOK))
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = e.token(e.a)
		}
		type answer struct {
			r   response
			err error
		}
		answers := make(chan answer, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				r, err := e.sendRaw(http.MethodPost, "/v1/payments", tokens[i], key, string(raw))
				answers <- answer{r, err}
			})
		}
		close(start)

		var got []answer
		for len(got) < n-1 {
			got = append(got, <-answers)
		}
		// 49 answers arrived; the original cannot have finished while its partner call is
		// held, so all of them are 409s. Now let the partner answer.
		select {
		case <-gate.arrived:
		default:
			t.Errorf("49 requests were answered before the first create reached the partner")
		}
		releaseOnce()
		got = append(got, <-answers)
		wg.Wait()

		var original response
		originals, inUse := 0, 0
		for i, a := range got {
			if a.err != nil {
				t.Fatalf("request %d: %v", i, a.err)
			}
			switch {
			case a.r.status == http.StatusCreated && !replayed(a.r):
				originals++
				original = a.r
			case a.r.status == http.StatusConflict && problemCode(a.r) == string(contracts.CodeIdempotencyKeyInUse):
				inUse++
			case a.r.status == http.StatusCreated && replayed(a.r):
			default:
				t.Fatalf("answer %d: status %d replayed=%v: %s", i, a.r.status, replayed(a.r), a.r.body)
			}
		}
		if originals != 1 {
			t.Fatalf("%d original 201s, want exactly 1", originals)
		}
		for i, a := range got[:n-1] {
			if a.r.status != http.StatusConflict {
				t.Errorf("answer %d, received while the original was held at the partner: %d %s", i, a.r.status, a.r.body)
			}
		}
		for i, a := range got {
			if replayed(a.r) && string(a.r.body) != string(original.body) {
				t.Errorf("replay %d differs:\n%s\n%s", i, a.r.body, original.body)
			}
		}
		t.Logf("1 original, %d × 409 idempotency_key_in_use, %d replays", inUse, n-1-inUse)

		p := original.json(t)
		if p["status"] != "succeeded" {
			t.Fatalf("original: %s", original.body)
		}
		id := p["id"].(string)
		if ledger := e.sim.Payments(); len(ledger) != 1 || ledger[0].MerchantPaymentID != id+"_1" {
			t.Fatalf("simulator ledger: %+v, want exactly %s_1", ledger, id)
		}
		stored, err := e.app.Store.ListPayments(context.Background(), contracts.PaymentFilter{StoreID: e.a.store, Limit: 100})
		if err != nil || len(stored) != 1 {
			t.Fatalf("payhub has %d payments (%v), want 1", len(stored), err)
		}
		again, err := e.sendRaw(http.MethodPost, "/v1/payments", e.token(e.a), key, string(raw))
		if err != nil {
			t.Fatal(err)
		}
		if again.status != http.StatusCreated || !replayed(again) || string(again.body) != string(original.body) {
			t.Fatalf("final retry: %d replayed=%v\n%s\nwant\n%s", again.status, replayed(again), again.body, original.body)
		}
	})
}

// TestConcurrentPartialRefundsExceedingCaptured sends 20 refunds of ¥150 of a ¥1000 payment
// at once, each with its own key: exactly 6 succeed and 14 are refused, and payhub and
// PayPay agree on ¥900 refunded.
func TestConcurrentPartialRefundsExceedingCaptured(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		const (
			amount  = 1000
			each    = 150
			n       = 20
			succeed = amount / each
		)
		created := e.pay(e.a, barcodePayment(amount, barcodeOK))
		expectStatus(t, created, http.StatusCreated, "")
		id := created.json(t)["id"].(string)
		path := "/v1/payments/" + id + "/refunds"

		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = e.token(e.a)
		}
		raw := fmt.Sprintf(`{"amount":%d,"reason":"concurrent partial refund"}`, each)
		results := make([]response, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				results[i], errs[i] = e.sendRaw(http.MethodPost, path, tokens[i], newKey(), raw)
			})
		}
		close(start)
		wg.Wait()

		var okIDs []string
		refused := 0
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("refund %d: %v", i, errs[i])
			}
			switch {
			case r.status == http.StatusCreated:
				m := r.json(t)
				if m["status"] != "succeeded" || m["amount"] != float64(each) || m["payment_id"] != id {
					t.Fatalf("refund %d: %s", i, r.body)
				}
				okIDs = append(okIDs, m["id"].(string))
			case r.status == http.StatusUnprocessableEntity && problemCode(r) == string(contracts.CodeRefundExceedsCaptured):
				refused++
			default:
				t.Fatalf("refund %d: status %d: %s", i, r.status, r.body)
			}
		}
		if len(okIDs) != succeed || refused != n-succeed {
			t.Fatalf("%d refunds succeeded and %d were refused, want %d and %d", len(okIDs), refused, succeed, n-succeed)
		}

		got := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil)
		expectStatus(t, got, http.StatusOK, "")
		if m := got.json(t); m["amount_refunded"] != float64(succeed*each) || m["amount_captured"] != float64(amount) || m["status"] != "succeeded" {
			t.Fatalf("payment after refunds: %s", got.body)
		}
		lp, ok := e.sim.Payment(id + "_1")
		if !ok {
			t.Fatal("payment missing from the simulator ledger")
		}
		var simSum int64
		simRefs := map[string]int{}
		for _, rf := range lp.Refunds {
			simSum += rf.Amount
			simRefs[rf.MerchantRefundID]++
		}
		if simSum != succeed*each || lp.Refunded != succeed*each || len(lp.Refunds) != succeed {
			t.Fatalf("simulator refunded %d (ledger says %d) in %d refunds, want %d in %d", simSum, lp.Refunded, len(lp.Refunds), succeed*each, succeed)
		}
		for _, rid := range okIDs {
			if simRefs[rid] != 1 {
				t.Errorf("refund %s reached the simulator %d times, want once", rid, simRefs[rid])
			}
		}
		refunds, err := e.app.Store.ListRefunds(context.Background(), id)
		if err != nil || len(refunds) != succeed {
			t.Fatalf("stored refunds: %d %v, want %d", len(refunds), err, succeed)
		}
		for _, r := range refunds {
			if r.Status != contracts.RefundSucceeded || r.Amount.Amount != each {
				t.Errorf("stored refund %s: %s %d", r.ID, r.Status, r.Amount.Amount)
			}
		}
		checkEventSequence(t, e, id, 2+2*succeed)
	})
}

// checkEventSequence checks the payment's events are numbered 1..want without gaps.
func checkEventSequence(t *testing.T, e *testEnv, paymentID string, want int) {
	t.Helper()
	events, err := e.app.Store.ListEvents(context.Background(), paymentID)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != want {
		t.Errorf("%d events, want %d", len(events), want)
	}
	for i, ev := range events {
		if ev.Sequence != int64(i+1) {
			t.Fatalf("event %d (%s) has sequence %d, want %d", i, ev.Type, ev.Sequence, i+1)
		}
	}
}
