package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gmopgadapter "payhub/adapters/gmopg"
	nanacoadapter "payhub/adapters/nanaco"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/compensate"
	"payhub/internal/hub"
	"payhub/internal/idempotency"
	"payhub/internal/ledger"
	"payhub/internal/store/storetest"
	gmopgsim "payhub/mocks/gmopg"
	nanacosim "payhub/mocks/nanaco"
	paypaysim "payhub/mocks/paypay"
	"payhub/mocks/sim"
)

// compRig is a compensation run's world: an assembled payhub (the hub with PayPay, GMO-PG
// and nanaco over HTTP against their simulators, each request counted), a nanaco adapter
// of its own for the re-credits, a store client and its paid originals.
type compRig struct {
	t       *testing.T
	st      contracts.Store
	clock   *sim.ManualClock
	app     *App
	caller  hub.Caller
	nsim    *nanacosim.Simulator
	nfaults *sim.Faults
	psim    *paypaysim.Simulator
	gsim    *gmopgsim.Simulator
	nanaco  *nanacoadapter.Adapter
	mu      sync.Mutex
	calls   map[string]int // method + path → requests, all three partners
	keys    map[string]int // a nanaco transfer's key (terminal/date/seq) → requests
}

func counting(r *compRig, next http.Handler, onBody func(req *http.Request, body []byte)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		r.calls[req.Method+" "+req.URL.Path]++
		if onBody != nil {
			onBody(req, body)
		}
		r.mu.Unlock()
		next.ServeHTTP(w, req)
	}))
	r.t.Cleanup(srv.Close)
	return srv
}

func newCompRig(t *testing.T, st contracts.Store) *compRig {
	t.Helper()
	r := &compRig{t: t, st: st, clock: sim.NewManualClock(time.Date(2026, 12, 6, 10, 0, 0, 0, contracts.JST)), nfaults: sim.NewFaults(1),
		calls: map[string]int{}, keys: map[string]int{}, caller: hub.Caller{ClientID: "pos-a", StoreID: "store-a"}}
	const merchant, secret = "M0018", "compensation-nanaco-secret"
	r.nsim = nanacosim.New(nanacosim.Config{MerchantID: merchant, Secret: secret, Clock: r.clock, Faults: r.nfaults})
	nsrv := counting(r, r.nsim, func(req *http.Request, body []byte) {
		if strings.HasSuffix(req.URL.Path, "/transfers") {
			var k struct {
				TerminalSeq  int    `json:"terminalSeq"`
				BusinessDate string `json:"businessDate"`
			}
			_ = json.Unmarshal(body, &k)
			r.keys[fmt.Sprintf("%s/%s/%d", req.Header.Get(nanacosim.HeaderTerminalID), k.BusinessDate, k.TerminalSeq)]++
		}
	})
	const ppKey, ppSecret, ppMerchant = "comp-key", "Y29tcGVuc2F0aW9uLXNlY3JldC1mb3ItdGVzdHM=", "comp-merchant"
	r.psim = paypaysim.New(paypaysim.Config{APIKey: ppKey, APISecret: ppSecret, MerchantID: ppMerchant, Clock: r.clock})
	psrv := counting(r, r.psim, nil)
	const shop, pass = "tshop00000018", "comp-pass"
	r.gsim = gmopgsim.New(gmopgsim.Config{ShopID: shop, ShopPass: pass, Clock: r.clock})
	gsrv := counting(r, r.gsim, nil)
	nc := nanacoadapter.Config{BaseURL: nsrv.URL, MerchantID: merchant, Secret: secret, Timeouts: nanacoadapter.UniformTimeouts(5 * time.Second)}
	a, err := Build(context.Background(), Config{Store: st, Clock: r.clock, PublicURL: "http://127.0.0.1:9",
		PayPay: paypayadapter.Config{BaseURL: psrv.URL, APIKey: ppKey, APISecret: ppSecret, MerchantID: ppMerchant},
		Nanaco: &nc, Card: &gmopgadapter.Config{BaseURL: gsrv.URL, ShopID: shop, ShopPass: pass}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	r.app = a
	nc.Now = r.clock.Now
	if r.nanaco, err = nanacoadapter.New(nc); err != nil {
		t.Fatal(err)
	}
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := auth.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	now := r.clock.Now().UTC()
	if err := st.CreateStoreClient(context.Background(), contracts.StoreClient{ID: "pos-a", Name: "pos-a", Stores: []string{"store-a"},
		Keys:          []contracts.ClientKey{{KID: "pos-a-1", ClientID: "pos-a", Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pub, CreatedAt: now}},
		ReturnOrigins: []string{"https://shop.example"}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return r
}

// key is a fresh Idempotency-Key for a store command.
func (r *compRig) key(body any) idempotency.Key {
	b, _ := json.Marshal(body)
	sum := sha256.Sum256(b)
	return idempotency.Key{Key: fmt.Sprintf("k%016x", rand.Uint64()), Fingerprint: hex.EncodeToString(sum[:])}
}

func (r *compRig) created(res hub.Response, err error) string {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
	var v struct {
		ID, Status string
		NextAction *struct {
			RedirectURL string `json:"redirect_url"`
		} `json:"next_action"`
	}
	if err := json.Unmarshal(res.Body, &v); err != nil {
		r.t.Fatalf("%v: %s", err, res.Body)
	}
	if v.Status != "succeeded" && v.NextAction == nil {
		r.t.Fatalf("not paid: %s", res.Body)
	}
	return v.ID
}

func (r *compRig) paypay(amount int64) string {
	cmd := hub.CreatePayment{Amount: contracts.Money{Amount: amount, Currency: contracts.JPY}, Method: contracts.MethodPayPay,
		Flow: contracts.FlowBarcode, Barcode: "900081818800000000", TerminalID: "till-01", OrderID: "o-pp"}
	return r.created(r.app.Hub.CreatePayment(context.Background(), r.caller, r.key(cmd), cmd))
}

func (r *compRig) nanacoPay(amount int64, number string) string {
	cmd := hub.CreatePayment{Amount: contracts.Money{Amount: amount, Currency: contracts.JPY}, Method: contracts.MethodNanaco,
		Flow: contracts.FlowCardPresent, Card: &contracts.PresentedCard{Number: number}, TerminalID: "till-01", OrderID: "o-nc"}
	return r.created(r.app.Hub.CreatePayment(context.Background(), r.caller, r.key(cmd), cmd))
}

func (r *compRig) topUp(amount int64, number string) string {
	cmd := hub.CreateTopUp{Method: contracts.MethodNanaco, TerminalID: "till-01", Card: contracts.PresentedCard{Number: number},
		Amount: contracts.Money{Amount: amount, Currency: contracts.JPY}, Funding: contracts.FundingCash}
	return r.created(r.app.Hub.CreateTopUp(context.Background(), r.caller, r.key(cmd), cmd))
}

// card pays amount by card through 3-D Secure (the customer approves the challenge and
// comes back) and returns the succeeded payment's id.
func (r *compRig) card(amount int64, order string) string {
	t, ctx := r.t, context.Background()
	cmd := hub.CreatePayment{Amount: contracts.Money{Amount: amount, Currency: contracts.JPY}, Method: contracts.MethodCard,
		Flow: contracts.FlowRedirect, CardToken: r.gsim.IssueToken("3ds_challenge"), ReturnURL: "https://shop.example/thanks", OrderID: order}
	res, err := r.app.Hub.CreatePayment(ctx, r.caller, r.key(order), cmd)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		ID         string
		NextAction struct {
			RedirectURL string `json:"redirect_url"`
		} `json:"next_action"`
	}
	if err := json.Unmarshal(res.Body, &v); err != nil || v.NextAction.RedirectURL == "" {
		t.Fatalf("card payment: %v %s", err, res.Body)
	}
	u, _ := url.Parse(v.NextAction.RedirectURL)
	transID := u.Query().Get("transId")
	if _, err := r.gsim.ApproveChallenge(transID); err != nil {
		t.Fatal(err)
	}
	ch, ok := r.gsim.Challenge(transID)
	if !ok {
		t.Fatal("no 3-D Secure challenge")
	}
	back, _ := url.Parse(ch.RetURL)
	q := back.Query()
	for k, val := range ch.Form {
		q.Set(k, val)
	}
	if _, err := r.app.Hub.CompleteReturn(ctx, v.ID, netip.MustParseAddr("127.0.0.1"), q); err != nil {
		t.Fatal(err)
	}
	if p, err := r.st.GetPayment(ctx, "", v.ID); err != nil || p.Status != contracts.StatusSucceeded {
		t.Fatalf("card payment after 3-D Secure: %+v, %v", p, err)
	}
	return v.ID
}

// stopAt is the compensation's partners (the hub and nanaco's transfers), cancelling the
// run's context after its k-th partner call returned: the call went out and was answered,
// and the run stops before it records the answer, as a killed run does.
type stopAt struct {
	compensate.Hub
	contracts.ValueTransfers
	k      int64
	n      atomic.Int64
	cancel context.CancelFunc
}

func (s *stopAt) count() {
	if s.n.Add(1) == s.k {
		s.cancel()
	}
}

func (s *stopAt) CreateRefund(ctx context.Context, c hub.Caller, idem idempotency.Key, id string, cmd hub.CreateRefund) (hub.Response, error) {
	defer s.count()
	return s.Hub.CreateRefund(ctx, c, idem, id, cmd)
}

func (s *stopAt) CancelPayment(ctx context.Context, c hub.Caller, idem idempotency.Key, id, reason string) (hub.Response, error) {
	defer s.count()
	return s.Hub.CancelPayment(ctx, c, idem, id, reason)
}

func (s *stopAt) TransferIn(ctx context.Context, req contracts.TransferRequest) contracts.TransferResult {
	defer s.count()
	return s.ValueTransfers.TransferIn(ctx, req)
}

// TestCompensationKilledAndResumed pays a list with duplicate lines across card (GMO-PG:
// voided before billing, and refunded in part), PayPay and nanaco payments (refunded),
// top-ups re-credited to nanaco cards and bank fallbacks (no nanaco card; a card whose
// centre-held value is full), on both databases. The first run is stopped at a seeded
// partner call (after the call was answered, before the answer is recorded) and its bank
// file lost; the second loses one nanaco transfer's answer after the centre committed it
// (settled by inquiry, never re-sent) and finishes; a third pays nothing and says so. Each
// claim is paid exactly once at the simulators (refunds, the void, transfers, each card's
// centre-held value), the report balances to the yen, the bank file holds each row once,
// and the ledger check passes with nothing left in transit.
func TestCompensationKilledAndResumed(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			r := newCompRig(t, db.Open(t))
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(seed, 18))

			const victim1, victim2, full = "7000000000180001", "7000000000180002", "7000000000180003"
			for _, c := range []nanacosim.CardState{{NanacoNumber: victim1, Status: nanacosim.CardActive, CenterHeld: 1_000},
				{NanacoNumber: victim2, Status: nanacosim.CardActive}, {NanacoNumber: full, Status: nanacosim.CardActive, CenterHeld: 50_000}} {
				if err := r.nsim.PutCard(c); err != nil {
					t.Fatal(err)
				}
			}
			pp1, pp2 := r.paypay(1000), r.paypay(2000)
			nc1 := r.nanacoPay(1000, nanacosim.FixtureActive)
			card1, card2 := r.card(8800, "comp-card-1"), r.card(5000, "comp-card-2")
			tu1, tu2, tu3, tu4, tu5 := r.topUp(1000, nanacosim.FixtureActive), r.topUp(2000, nanacosim.FixtureActive),
				r.topUp(3000, nanacosim.FixtureActive), r.topUp(4000, nanacosim.FixtureActive), r.topUp(5000, nanacosim.FixtureActive)
			const bank = "0005,123,ordinary,7654321,ﾔﾏﾀﾞ ﾀﾛｳ"
			list := "claim_id,victim_id,original_id,amount,bank_code,branch_code,account_type,account_number,holder_kana,nanaco_number\n" +
				"case-pp1,u1," + pp1 + ",1000,,,,,,\n" +
				"case-pp2,u2," + pp2 + ",500,,,,,,\n" +
				"case-nc1,u3," + nc1 + ",400,,,,,,\n" +
				"case-pp1,u1," + pp1 + ",1000,,,,,,\n" + // a duplicate line: paid once
				"case-card1,u4," + card1 + ",8800,,,,,,\n" + // voided before billing
				"case-card2,u5," + card2 + ",2000,,,,,,\n" + // refunded in part
				"case-tu1,u6," + tu1 + ",1000,,,,,," + victim1 + "\n" + // re-credited
				"case-tu2,u7," + tu2 + ",2000," + bank + "," + victim2 + "\n" + // re-credited (the bank not needed)
				"case-tu3,u8," + tu3 + ",3000," + bank + ",\n" + // a bank row
				"case-tu4,u9," + tu4 + ",4000," + bank + "," + full + "\n" + // nanaco refuses (full): a bank row
				"case-tu1,u6," + tu1 + ",1000,,,,,," + victim1 + "\n" + // a duplicate line
				"case-tu5,u10," + tu5 + ",5000,,,,,," + full + "\n" + // nanaco refuses, no bank: no_route
				"case-x,u11,pay_01K00000000000000000000000,100,,,,,,\n" // unknown original
			claims := []byte(list)
			dir := t.TempDir()
			bankOut := filepath.Join(dir, "bank.csv")
			cfg := func(h compensate.Hub, vt contracts.ValueTransfers) compensate.Config {
				return compensate.Config{Store: r.st, Hub: h, Transfers: vt, Clock: r.clock}
			}
			heldBefore := map[string]int{}
			for _, n := range []string{victim1, victim2, full} {
				c, _ := r.nsim.Card(n)
				heldBefore[n] = c.CenterHeld
			}

			// 1. Stopped at a seeded partner call (the 7 calls the list makes: 5 through
			// the hub, then the re-credits), its bank file lost with it.
			stopCtx, cancel := context.WithCancel(ctx)
			stopper := &stopAt{Hub: r.app.Hub, ValueTransfers: r.nanaco, k: 1 + rng.Int64N(6), cancel: cancel}
			var out bytes.Buffer
			if _, err := runCompensation(stopCtx, cfg(stopper, stopper), claims, compensate.FormatCSV, bankOut, &out); err == nil {
				t.Fatalf("the stopped run did not stop:\n%s", out.String())
			}
			cancel()
			t.Logf("stopped after partner call %d:\n%s", stopper.k, out.String())
			_ = os.Remove(bankOut)

			// 2. Resumed with one transfer's answer lost after the centre committed it.
			if err := r.nfaults.Set([]sim.FaultRule{{Method: http.MethodPost, PathPrefix: "/ncs/v1/transfers", Probability: 1, Count: 1,
				Fault: sim.Fault{Kind: sim.FaultCommitThenDrop}}}); err != nil {
				t.Fatal(err)
			}
			var rep compensate.Report
			for run := 0; ; run++ {
				out.Reset()
				var err error
				rep, err = runCompensation(ctx, cfg(r.app.Hub, r.nanaco), claims, compensate.FormatCSV, bankOut, &out)
				if err != nil {
					t.Fatalf("resumed run %d: %v\n%s", run, err, out.String())
				}
				t.Logf("resumed run %d:\n%s", run, out.String())
				if rep.Open.Claims == 0 {
					break
				}
				if run == 3 {
					t.Fatalf("claims still open after %d runs: %+v", run+1, rep.Outcomes)
				}
				if _, err := r.app.Hub.ResolveOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if got := r.nfaults.Stats()[sim.FaultCommitThenDrop]; got != 1 {
				t.Fatalf("commit-then-drop fired %d times", got)
			}
			r.mu.Lock()
			inquiries := r.calls["POST /ncs/v1/transactions/inquiry"]
			r.mu.Unlock()
			if inquiries == 0 {
				t.Fatal("the lost transfer answer was not settled by inquiry")
			}
			want := map[string]struct {
				status contracts.CompensationStatus
				route  contracts.CompensationRoute
			}{
				"case-pp1": {contracts.CompensationRefunded, contracts.RouteRefund}, "case-pp2": {contracts.CompensationRefunded, contracts.RouteRefund},
				"case-nc1": {contracts.CompensationRefunded, contracts.RouteRefund}, "case-card1": {contracts.CompensationRefunded, contracts.RouteCancel},
				"case-card2": {contracts.CompensationRefunded, contracts.RouteRefund}, "case-tu1": {contracts.CompensationRecredit, contracts.RouteNanaco},
				"case-tu2": {contracts.CompensationRecredit, contracts.RouteNanaco}, "case-tu3": {contracts.CompensationBankRefund, contracts.RouteBank},
				"case-tu4": {contracts.CompensationBankRefund, contracts.RouteBank}, "case-tu5": {contracts.CompensationRejected, contracts.RouteNone},
				"case-x": {contracts.CompensationRejected, contracts.RouteNone},
			}
			for id, w := range want {
				c, err := r.st.GetCompensationClaim(ctx, id)
				if err != nil || c.Status != w.status || c.Route != w.route {
					t.Errorf("%s: %+v, %v; want %s by %q", id, c, err, w.status, w.route)
				}
			}
			if rep.Claimed.Yen != 1000+500+400+8800+2000+1000+2000+3000+4000+5000+100 || rep.Claimed.Claims != 11 || rep.Duplicates != 2 ||
				rep.Refunded.Yen != 1000+500+400+8800+2000 || rep.Recredited.Yen != 3000 || rep.Bank.Yen != 7000 || rep.Rejected.Yen != 5100 ||
				rep.PerRoute[contracts.RouteNanaco] == nil || rep.PerRoute[contracts.RouteNanaco].Yen != 3000 || !rep.Balanced() {
				t.Fatalf("report of the finished list: %+v", rep)
			}
			r.checkPaidOnce(map[string]int64{pp1: 1000, pp2: 500}, map[string]int64{victim1: 1000, victim2: 2000, full: 0}, heldBefore, card1, card2)

			// The bank file, lost with the stopped run, holds each row once, in list order.
			b, err := os.ReadFile(bankOut)
			if err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(bankOut); fi.Mode().Perm() != 0o600 {
				t.Errorf("bank file mode %v", fi.Mode())
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[1], compensate.BankRowID("case-tu3")+",case-tu3,u8,3000,") ||
				!strings.HasPrefix(lines[2], compensate.BankRowID("case-tu4")+",case-tu4,u9,4000,") {
				t.Fatalf("bank file:\n%s", b)
			}

			// The ledger: balanced, agreeing with the tables, nothing left in transit.
			lrep, err := ledger.Check(ctx, r.st, 0)
			if err != nil || !lrep.OK() {
				t.Fatalf("ledger check: %+v, %v", lrep, err)
			}
			bal := map[string]int64{}
			bs, err := r.st.ListLedgerBalances(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range bs {
				bal[x.Account] = ledger.Balance(x)
			}
			if bal[ledger.CompensationInTransit("nanaco")] != 0 || bal[ledger.CompensationRecredited("nanaco")] != 3000 ||
				bal[ledger.BankRefundPayable] != 7000 || bal[ledger.CompensationExpense] != 10_000 {
				t.Fatalf("ledger balances: %v", bal)
			}

			// 3. The finished list run again pays nothing, calls no partner, and says so.
			r.mu.Lock()
			before := fmt.Sprint(r.calls)
			r.mu.Unlock()
			out.Reset()
			again, err := runCompensation(ctx, cfg(r.app.Hub, r.nanaco), claims, compensate.FormatCSV, bankOut, &out)
			if err != nil {
				t.Fatalf("the third run: %v\n%s", err, out.String())
			}
			r.mu.Lock()
			after := fmt.Sprint(r.calls)
			r.mu.Unlock()
			if before != after || again.PaidNow.Claims != 0 || again.Already.Claims != 11 || !again.Balanced() ||
				!strings.Contains(out.String(), "nothing more to pay") || again.Recredited.Yen != 3000 || again.Bank.Yen != 7000 {
				t.Fatalf("the third run paid or called again (%s → %s):\n%s", before, after, out.String())
			}
			if b2, _ := os.ReadFile(bankOut); !bytes.Equal(b, b2) {
				t.Fatalf("the third run changed the bank file:\n%s", b2)
			}
			r.checkPaidOnce(map[string]int64{pp1: 1000, pp2: 500}, map[string]int64{victim1: 1000, victim2: 2000, full: 0}, heldBefore, card1, card2)
		})
	}
}

// checkPaidOnce: at the simulators, each PayPay payment was refunded once by its claim,
// the nanaco payment refunded once (400), each victim's card credited exactly its claims
// through transfers each sent under its own key once, the first card payment voided and
// the second reduced by 2,000 yen; and payhub holds one refund per refunded claim.
func (r *compRig) checkPaidOnce(paypay map[string]int64, credited map[string]int64, heldBefore map[string]int, card1, card2 string) {
	t, ctx := r.t, context.Background()
	t.Helper()
	for id, yen := range paypay {
		p, err := r.st.GetPayment(ctx, "", id)
		if err != nil {
			t.Fatal(err)
		}
		lp, ok := r.psim.Payment(p.PartnerRef)
		if !ok || lp.Refunded != yen || len(lp.Refunds) != 1 {
			t.Errorf("PayPay payment %s: %+v", id, lp)
		}
	}
	var transfers, refunds int
	perCard := map[string]int{}
	for _, e := range r.nsim.Ledger() {
		switch e.Type {
		case nanacosim.TypeTransfer:
			transfers++
			if e.Status == nanacosim.StatusApproved {
				perCard[e.NanacoNumber] += e.Amount
			}
		case nanacosim.TypeRefund:
			refunds++
			if e.Amount != 400 {
				t.Errorf("nanaco refund of %d yen", e.Amount)
			}
		}
	}
	if transfers != 2 || refunds != 1 {
		t.Errorf("nanaco: %d transfers, %d refunds", transfers, refunds)
	}
	for n, yen := range credited {
		c, _ := r.nsim.Card(n)
		if perCard[n] != int(yen) || c.CenterHeld-heldBefore[n] != int(yen) {
			t.Errorf("card …%s: credited %d by transfers, centre-held %d → %d; want +%d", n[12:], perCard[n], heldBefore[n], c.CenterHeld, yen)
		}
	}
	r.mu.Lock()
	for k, n := range r.keys {
		if n != 1 {
			t.Errorf("the transfer key %s was sent %d times", k, n)
		}
	}
	r.mu.Unlock()
	for id, want := range map[string]int{card1: 0, card2: 1} {
		rs, err := r.st.ListRefunds(ctx, id)
		if err != nil || len(rs) != want {
			t.Errorf("card payment %s: %d refunds, %v", id, len(rs), err)
		}
	}
	for id, want := range map[string]struct {
		status string
		amount int64
	}{card1: {"VOID", 8800}, card2: {"", 3000}} {
		p, _ := r.st.GetPayment(ctx, "", id)
		oid, err := gmopgadapter.OrderID(p.PartnerRef)
		if err != nil {
			t.Fatal(err)
		}
		o, ok := r.gsim.Order(oid)
		if !ok || want.status != "" && o.Status != want.status || want.status == "" && o.Amount != want.amount {
			t.Errorf("GMO order of %s: %+v", id, o)
		}
	}
}

// TestCompensationRecreditRetriesUnderNewKeys: a re-credit nanaco does not take (centre
// maintenance) leaves the claim open; the next run fences its key by inquiry and makes a
// new attempt under a new derived key, which pays it once. A claim nanaco never takes
// falls to its bank row after MaxNanacoAttempts fenced attempts, nothing credited; a claim
// only a re-credit can pay stays open in a run without nanaco. Each key is sent once, and
// the ledger ends with nothing in transit.
func TestCompensationRecreditRetriesUnderNewKeys(t *testing.T) {
	r := newCompRig(t, storetest.OpenSQLite(t))
	ctx := context.Background()
	const victim = "7000000000180011"
	if err := r.nsim.PutCard(nanacosim.CardState{NanacoNumber: victim, Status: nanacosim.CardActive}); err != nil {
		t.Fatal(err)
	}
	tu1, tu2, tu3 := r.topUp(1000, nanacosim.FixtureActive), r.topUp(2000, nanacosim.FixtureActive), r.topUp(3000, nanacosim.FixtureActive)
	header := "claim_id,victim_id,original_id,amount,bank_code,branch_code,account_type,account_number,holder_kana,nanaco_number\n"
	maintenance := func(n int) {
		t.Helper()
		if err := r.nfaults.Set([]sim.FaultRule{{Method: http.MethodPost, PathPrefix: "/ncs/v1/transfers", Probability: 1, Count: n,
			Fault: sim.Fault{Kind: sim.FaultError, Status: http.StatusServiceUnavailable}}}); err != nil {
			t.Fatal(err)
		}
	}
	run := func(list string, vt contracts.ValueTransfers) compensate.Report {
		t.Helper()
		var out bytes.Buffer
		rep, err := runCompensation(ctx, compensate.Config{Store: r.st, Hub: r.app.Hub, Transfers: vt, Clock: r.clock}, []byte(header+list),
			compensate.FormatCSV, "", &out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return rep
	}
	claim := func(id string) contracts.CompensationClaim {
		c, err := r.st.GetCompensationClaim(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Maintenance, then a new attempt.
	one := "case-m1,u1," + tu1 + ",1000,,,,,," + victim + "\n"
	maintenance(1)
	if rep := run(one, r.nanaco); rep.Open.Claims != 1 || claim("case-m1").Status != contracts.CompensationUnknown {
		t.Fatalf("under maintenance: %+v, %+v", rep, claim("case-m1"))
	}
	first := claim("case-m1").Ref
	if rep := run(one, r.nanaco); rep.Recredited.Yen != 1000 || rep.Open.Claims != 0 {
		t.Fatalf("the next run: %+v", rep)
	}
	if c := claim("case-m1"); c.Status != contracts.CompensationRecredit || c.Ref == first ||
		c.Ref != compensate.NanacoRef("case-m1", 2, contracts.BusinessDate(r.clock.Now())) {
		t.Fatalf("re-credited: %+v (first ref %s)", c, first)
	}
	if c, _ := r.nsim.Card(victim); c.CenterHeld != 1000 {
		t.Fatalf("centre-held %d", c.CenterHeld)
	}

	// Never taken: bank after the last fenced attempt.
	two := "case-m2,u2," + tu2 + ",2000,0005,123,ordinary,7654321,ﾔﾏﾀﾞ ﾀﾛｳ," + victim + "\n"
	maintenance(100)
	for i := 1; i <= compensate.MaxNanacoAttempts; i++ {
		if rep := run(two, r.nanaco); rep.Open.Claims != 1 {
			t.Fatalf("run %d under maintenance: %+v", i, rep)
		}
	}
	if rep := run(two, r.nanaco); rep.Bank.Yen != 2000 || claim("case-m2").Route != contracts.RouteBank {
		t.Fatalf("after %d fenced attempts: %+v, %+v", compensate.MaxNanacoAttempts, rep, claim("case-m2"))
	}
	r.nfaults.Clear()

	// No nanaco in this run: open, nothing sent.
	three := "case-m3,u3," + tu3 + ",3000,,,,,," + victim + "\n"
	if rep := run(three, nil); rep.Open.Claims != 1 || claim("case-m3").Status != contracts.CompensationPending {
		t.Fatalf("without nanaco: %+v", rep)
	}
	if rep := run(three, r.nanaco); rep.Recredited.Yen != 3000 {
		t.Fatalf("with nanaco: %+v", rep)
	}

	r.mu.Lock()
	for k, n := range r.keys {
		if n != 1 {
			t.Errorf("the transfer key %s was sent %d times", k, n)
		}
	}
	sent := len(r.keys)
	r.mu.Unlock()
	if sent != 2+compensate.MaxNanacoAttempts+1 {
		t.Errorf("%d transfer keys sent", sent)
	}
	if c, _ := r.nsim.Card(victim); c.CenterHeld != 4000 {
		t.Fatalf("centre-held %d, want 4000", c.CenterHeld)
	}
	lrep, err := ledger.Check(ctx, r.st, 0)
	if err != nil || !lrep.OK() {
		t.Fatalf("ledger check: %+v, %v", lrep, err)
	}
	bs, err := r.st.ListLedgerBalances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if want, ok := map[string]int64{ledger.CompensationInTransit("nanaco"): 0, ledger.CompensationRecredited("nanaco"): 4000,
			ledger.BankRefundPayable: 2000, ledger.CompensationExpense: 6000}[b.Account]; ok && ledger.Balance(b) != want {
			t.Errorf("%s: %d, want %d", b.Account, ledger.Balance(b), want)
		}
	}
}
