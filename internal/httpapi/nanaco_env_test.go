package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	nanacoadapter "payhub/adapters/nanaco"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/store/storetest"
	nanacosim "payhub/mocks/nanaco"
	paypaysim "payhub/mocks/paypay"
	simcore "payhub/mocks/sim"
)

// Test credentials of the NCS simulator: distinctive, so a log scan could find them.
const (
	testNanacoMerchant = "M0077"
	testNanacoSecret   = "test-nanaco-secret-7e11-do-not-log"
)

// nanacoEnv is a whole payhub wired as newEnv wires it, with nanaco offered through the NCS
// simulator over real HTTP. payhub, both simulators and every token share one manual clock,
// so the engine's JST business date is the centre's, and midnight is crossed by moving it.
type nanacoEnv struct {
	*testEnv
	clk *simcore.ManualClock
	ncs *nanacosim.Simulator
	// ncsURL is the simulator's address (behind the tampering proxy).
	ncsURL string
	tamper *ncsTamper
}

// newNanacoEnv builds the env at 10:00 JST today. Its cleanup fails the test if the logs
// ever held a full nanaco number or an IDm of a seeded card.
func newNanacoEnv(t *testing.T, st contracts.Store) *nanacoEnv {
	t.Helper()
	now := time.Now().In(contracts.JST)
	clk := simcore.NewManualClock(time.Date(now.Year(), now.Month(), now.Day(), 10, 0, 0, 0, contracts.JST))
	if st == nil {
		st = storetest.OpenSQLite(t)
	}
	logs := &syncBuffer{}
	t.Cleanup(func() { assertNoFullNanacoNumber(t, logs.String()) })
	faults := simcore.NewFaults(1)
	pp := paypaysim.New(paypaysim.Config{APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant, Faults: faults, Clock: clk})
	ppSrv := httptest.NewServer(pp)
	t.Cleanup(ppSrv.Close)
	ncs := nanacosim.New(nanacosim.Config{MerchantID: testNanacoMerchant, Secret: testNanacoSecret, Faults: faults, Clock: clk})
	tamper := &ncsTamper{next: ncs}
	ncsSrv := httptest.NewServer(tamper)
	t.Cleanup(ncsSrv.Close)
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Build(context.Background(), app.Config{Store: st, PublicURL: "http://" + apiLn.Addr().String(),
		Logger: app.NewLogger(logs), Clock: clk,
		PayPay: paypayadapter.Config{BaseURL: ppSrv.URL, APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant},
		Nanaco: &nanacoadapter.Config{BaseURL: ncsSrv.URL, MerchantID: testNanacoMerchant, Secret: testNanacoSecret,
			Timeouts: nanacoadapter.UniformTimeouts(5 * time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler)
	srv.Listener.Close()
	srv.Listener = apiLn
	srv.Start()
	t.Cleanup(func() { srv.Close(); a.Close() })
	e := &testEnv{t: t, app: a, url: srv.URL, sim: pp, faults: faults, logs: logs}
	e.a = e.register("pos-a", "pos-a-key-1", "store-a", contracts.AlgEdDSA)
	e.b = e.register("pos-b", "pos-b-key-1", "store-b", contracts.AlgES256)
	return &nanacoEnv{testEnv: e, clk: clk, ncs: ncs, ncsURL: ncsSrv.URL, tamper: tamper}
}

// eachNanacoDatabase runs f on a nanaco env over SQLite and, when configured, PostgreSQL.
func eachNanacoDatabase(t *testing.T, f func(t *testing.T, n *nanacoEnv)) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) { f(t, newNanacoEnv(t, st)) })
}

// tok mints store client a's token on the env's clock.
func (n *nanacoEnv) tok() string {
	return n.token(n.a, func(r *auth.TokenRequest) { r.IssuedAt = n.clk.Now() })
}

// create sends a create under a fresh Idempotency-Key.
func (n *nanacoEnv) create(body map[string]any) response {
	n.t.Helper()
	return n.do(http.MethodPost, "/v1/payments", n.tok(), newKey(), body)
}

// created sends a create that must answer 201 and returns the payment.
func (n *nanacoEnv) created(body map[string]any) map[string]any {
	n.t.Helper()
	r := n.create(body)
	expectStatus(n.t, r, http.StatusCreated, "")
	return r.json(n.t)
}

// get reads a payment through the API (an unknown one is inquired at the partner).
func (n *nanacoEnv) get(id string) map[string]any {
	n.t.Helper()
	r := n.do(http.MethodGet, "/v1/payments/"+id, n.tok(), "", nil)
	expectStatus(n.t, r, http.StatusOK, "")
	return r.json(n.t)
}

// refund asks for a refund of amount of payment id.
func (n *nanacoEnv) refund(id string, amount int) response {
	n.t.Helper()
	return n.do(http.MethodPost, "/v1/payments/"+id+"/refunds", n.tok(), newKey(), map[string]any{"amount": amount})
}

// cancel asks for payment id to be canceled.
func (n *nanacoEnv) cancel(id string) response {
	n.t.Helper()
	return n.do(http.MethodPost, "/v1/payments/"+id+"/cancel", n.tok(), newKey(), map[string]any{})
}

// record reads the payment from the store, without asking the partner.
func (n *nanacoEnv) record(id string) contracts.Payment {
	n.t.Helper()
	p, err := n.app.Store.GetPayment(context.Background(), "", id)
	if err != nil {
		n.t.Fatal(err)
	}
	return p
}

// resolve runs one resolver pass.
func (n *nanacoEnv) resolve() {
	n.t.Helper()
	if _, err := n.app.Hub.ResolveOnce(context.Background()); err != nil {
		n.t.Fatal(err)
	}
}

// balance is the card's on-card balance at the centre.
func (n *nanacoEnv) balance(number string) int {
	n.t.Helper()
	c, ok := n.ncs.Card(number)
	if !ok {
		n.t.Fatalf("the centre has no card %s", number)
	}
	return c.Balance
}

// ledger lists the centre's transactions of type typ on the card.
func (n *nanacoEnv) ledger(number, typ string) []nanacosim.LedgerEntry {
	var out []nanacosim.LedgerEntry
	for _, e := range n.ncs.Ledger() {
		if e.NanacoNumber == number && e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// fault makes the next NCS call under path misbehave (once).
func (n *nanacoEnv) fault(path string, kind simcore.FaultKind) {
	n.t.Helper()
	if err := n.faults.Set([]simcore.FaultRule{{Method: http.MethodPost, PathPrefix: path, Probability: 1, Count: 1,
		Fault: simcore.Fault{Kind: kind}}}); err != nil {
		n.t.Fatal(err)
	}
}

// cardPresent is a till's card_present nanaco payment from the card numbered number.
func cardPresent(amount int, number string) map[string]any {
	return map[string]any{"amount": amount, "currency": "JPY", "method": "nanaco", "flow": "card_present",
		"presented_card": map[string]any{"number": number}, "terminal_id": "till-01", "order_id": "order-n1"}
}

// ncsTamper stands in front of the NCS simulator and, while armed, flips one byte of the
// body of /ncs/v1/payments answers, keeping status and headers (the signature included):
// an answer altered on the way.
type ncsTamper struct {
	next  http.Handler
	mu    sync.Mutex
	armed int
}

// arm corrupts the next count payment answers.
func (p *ncsTamper) arm(count int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = count
}

func (p *ncsTamper) take(r *http.Request) bool {
	if r.URL.Path != nanacosim.BasePath+"/payments" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.armed <= 0 {
		return false
	}
	p.armed--
	return true
}

func (p *ncsTamper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.take(r) {
		p.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if len(body) > 0 {
		body[len(body)/2] ^= 0x01
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// seededCards are the simulator's fixture numbers.
var seededCards = []string{nanacosim.FixtureActive, nanacosim.FixtureNearCap, nanacosim.FixtureSuspended,
	nanacosim.FixtureLost, nanacosim.FixtureMigrated, nanacosim.FixtureCenterHeld, nanacosim.FixtureApplePay,
	nanacosim.FixtureClosed}

// assertNoFullNanacoNumber fails the test if logs hold a full nanaco number, an IDm (IDm
// "0114" + the number's last 12 digits) of a seeded card, or the NCS secret.
func assertNoFullNanacoNumber(t *testing.T, logs string) {
	t.Helper()
	for _, number := range seededCards {
		if strings.Contains(logs, number) {
			t.Errorf("the logs hold the full nanaco number %s", number)
		}
		if idm := "0114" + number[4:]; strings.Contains(strings.ToUpper(logs), idm) {
			t.Errorf("the logs hold the IDm %s", idm)
		}
	}
	if strings.Contains(logs, testNanacoSecret) {
		t.Error("the logs hold the NCS secret")
	}
}
