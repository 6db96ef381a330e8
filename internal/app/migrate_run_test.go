package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"payhub/adapters/nanaco"
	"payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/auth"
	"payhub/internal/ledger"
	"payhub/internal/migrate"
	"payhub/internal/migration"
	"payhub/internal/store/storetest"
	nanacosim "payhub/mocks/nanaco"
	simpaypay "payhub/mocks/paypay"
	"payhub/mocks/sim"
)

// migRig is a migration run's world: a store, the nanaco and PayPay simulators over HTTP
// (each request counted), their adapters, linked PayPay accounts and nanaco cards.
type migRig struct {
	t        *testing.T
	st       contracts.Store
	clock    *sim.ManualClock
	nsim     *nanacosim.Simulator
	nfaults  *sim.Faults
	pfaults  *sim.Faults
	psim     *simpaypay.Simulator
	nanaco   *nanaco.Adapter
	paypay   *paypay.Adapter
	key      []byte
	mu       sync.Mutex
	calls    map[string]int // method + path → requests
	transfer map[string]int // a transfer's key (terminal/date/seq) → requests
	cashback map[string]int // a cashback's merchantCashbackId → POSTs
	linked   []string       // active linked accounts (la_…)
	ua       map[string]string
	unlinked string // a linked account that is not active
}

func newMigRig(t *testing.T, st contracts.Store) *migRig {
	t.Helper()
	r := &migRig{t: t, st: st, clock: sim.NewManualClock(time.Date(2026, 12, 6, 10, 0, 0, 0, contracts.JST)), nfaults: sim.NewFaults(1), pfaults: sim.NewFaults(2),
		calls: map[string]int{}, transfer: map[string]int{}, cashback: map[string]int{}, ua: map[string]string{}, key: bytes.Repeat([]byte{7}, 32)}
	const merchant, secret = "M0042", "migration-nanaco-secret"
	r.nsim = nanacosim.New(nanacosim.Config{MerchantID: merchant, Secret: secret, Clock: r.clock, Faults: r.nfaults})
	nsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		r.calls[req.Method+" "+req.URL.Path]++
		if strings.HasSuffix(req.URL.Path, "/transfers") {
			var k struct {
				TerminalSeq  int    `json:"terminalSeq"`
				BusinessDate string `json:"businessDate"`
			}
			_ = json.Unmarshal(body, &k)
			r.transfer[fmt.Sprintf("%s/%s/%d", req.Header.Get(nanacosim.HeaderTerminalID), k.BusinessDate, k.TerminalSeq)]++
		}
		r.mu.Unlock()
		r.nsim.ServeHTTP(w, req)
	}))
	t.Cleanup(nsrv.Close)
	a, err := nanaco.New(nanaco.Config{BaseURL: nsrv.URL, MerchantID: merchant, Secret: secret, Now: r.clock.Now,
		Timeouts: nanaco.UniformTimeouts(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	r.nanaco = a

	const apiSecret = "bWlncmF0aW9uLXNlY3JldC1mb3ItdGVzdHM="
	r.psim = simpaypay.New(simpaypay.Config{APIKey: "mig-key", APISecret: apiSecret, MerchantID: "mig-merchant", Clock: r.clock, Faults: r.pfaults})
	psrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		r.calls[req.Method+" "+req.URL.Path]++
		if req.Method == http.MethodPost && req.URL.Path == "/v2/cashback" {
			var k struct {
				ID string `json:"merchantCashbackId"`
			}
			_ = json.Unmarshal(body, &k)
			r.cashback[k.ID]++
		}
		r.mu.Unlock()
		r.psim.ServeHTTP(w, req)
	}))
	t.Cleanup(psrv.Close)
	p, err := paypay.New(paypay.Config{BaseURL: psrv.URL, APIKey: "mig-key", APISecret: apiSecret, MerchantID: "mig-merchant",
		Now: r.clock.Now, Timeouts: paypay.Timeouts{ValueMoving: 5 * time.Second, Read: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	r.paypay = p
	return r
}

// link makes a linked PayPay account through the simulator's link flow and stores it.
func (r *migRig) link(i int, active bool) string {
	t, ctx := r.t, context.Background()
	s, err := r.paypay.CreateLinkSession(ctx, contracts.LinkSessionRequest{Scopes: []string{"direct_debit", "cashback"},
		Nonce: fmt.Sprintf("n%d", i), ReferenceID: fmt.Sprintf("ref%d", i), RedirectURL: "https://payhub.example/v1/linked-accounts/return"})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := r.psim.ApproveLink(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	back, err := url.Parse(ap.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.paypay.VerifyLinkResponse(back.Query().Get("responseToken"), r.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("la_01KMGRATE%017d", i)
	now := r.clock.Now()
	status := contracts.LinkActive
	if !active {
		status = contracts.LinkUnlinked
	}
	la := contracts.LinkedAccount{ID: id, ClientID: "pos-a", StoreID: "store-a", Method: contracts.MethodPayPay, Status: status,
		Scopes: []string{"direct_debit", "cashback"}, UserAuthorizationID: resp.UserAuthorizationID, Nonce: "n", CreatedAt: now, UpdatedAt: now, LinkedAt: &now}
	if err := r.st.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertLinkedAccount(ctx, la) }); err != nil {
		t.Fatal(err)
	}
	r.ua[id] = resp.UserAuthorizationID
	return id
}

// exportSpec says what the synthetic export holds, for the checks.
type exportSpec struct {
	path     string
	nanacoOf map[int64]string // line → card number
	heldOf   map[int64]int    // line → the card's centre-held value before the run
	laOf     map[int64]string // line → linked account
}

// writeExport writes a JSONL export of n users with every destination, capped users,
// nanaco cards with little room, a suspended and an unknown card, unlinked and unknown
// PayPay accounts, bank refunds, and bad rows of several reasons.
func (r *migRig) writeExport(n int, seed uint64) exportSpec {
	t := r.t
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for i := range 12 {
		r.linked = append(r.linked, r.link(i, true))
	}
	r.unlinked = r.link(99, false)
	spec := exportSpec{path: filepath.Join(t.TempDir(), "wallet.jsonl"), nanacoOf: map[int64]string{}, heldOf: map[int64]int{}, laOf: map[int64]string{}}
	f, err := os.Create(spec.path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := migration.NewWriter(f, migration.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	bank := func() *migration.BankAccount {
		return &migration.BankAccount{BankCode: "0005", BranchCode: "123", Type: migration.AccountOrdinary, Number: "7654321", HolderKana: "ﾔﾏﾀﾞ ﾀﾛｳ"}
	}
	line := int64(0)
	for i := range n {
		line++
		if i%97 == 50 { // a bad row
			bad := []string{
				`{"user_id":"bad%d","balance":-5,"kyc_level":1,"destination":"none"}`,
				`{"user_id":"bad%d","balance":100.5,"kyc_level":1,"destination":"none"}`,
				`{"user_id":"bad%d","balance":1000,"kyc_level":1,"destination":"nanaco","nanaco_number":"123"}`,
				`{"user_id":"bad%d","balance":1000,"kyc_level":1,"destination":"moon"}`,
				`{"user_id":"u000000","balance":2000,"kyc_level":1,"destination":"none"}`, // duplicate
			}[i%5]
			if err := w.WriteRaw([]byte(fmt.Sprintf(bad, i) + "\n")); err != nil {
				t.Fatal(err)
			}
			continue
		}
		row := migration.Row{UserID: fmt.Sprintf("u%06d", i), KYCLevel: i % 4}
		switch rng.IntN(10) {
		case 0, 1, 2, 3: // nanaco
			num := fmt.Sprintf("7000%012d", 500_000+i)
			row.Destination = migration.Destination{Kind: migration.KindNanaco, NanacoNumber: num}
			row.Balance = int64(rng.IntN(160_000))
			st := nanacosim.CardState{NanacoNumber: num, Status: nanacosim.CardActive}
			switch rng.IntN(20) {
			case 0:
				st.CenterHeld = 45_000 // little room: partial, the rest deferred
			case 1:
				st.CenterHeld = 50_000 // no room: deferred
			case 2:
				st.Status = nanacosim.CardSuspended
			}
			if rng.IntN(40) != 0 { // else: no such card
				if err := r.nsim.PutCard(st); err != nil {
					t.Fatal(err)
				}
			}
			spec.nanacoOf[line], spec.heldOf[line] = num, st.CenterHeld
		case 4, 5, 6: // paypay
			la := r.linked[rng.IntN(len(r.linked))]
			switch rng.IntN(30) {
			case 0:
				la = r.unlinked
			case 1:
				la = "la_01KZZZZZZZZZZZZZZZZZZZZZZZ" // no such link
			}
			row.Destination = migration.Destination{Kind: migration.KindPayPay, PayPayAccount: la}
			row.Balance = int64(rng.IntN(200_000))
			spec.laOf[line] = la
		case 7, 8: // bank
			row.Destination = migration.Destination{Kind: migration.KindBank, Bank: bank()}
			row.Balance = int64(rng.IntN(90_000))
		default:
			row.Destination = migration.Destination{Kind: migration.KindNone}
			row.Balance = int64(rng.IntN(5_000))
		}
		if row.Destination.Kind != migration.KindBank && row.Destination.Kind != migration.KindNone && rng.IntN(2) == 0 {
			row.Destination.Bank = bank()
		}
		if err := w.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return spec
}

// approve asks for migration.run as the CLI and has a second operator approve it.
func (r *migRig) approve(path string, o migrateRunOptions) string {
	t, ctx := r.t, context.Background()
	p, err := o.params(path)
	if err != nil {
		t.Fatal(err)
	}
	p.Day = contracts.BusinessDate(r.clock.Now())
	var out bytes.Buffer
	if err := requestMigrationRun(ctx, r.st, &out, r.key, "alice", p, "issue 18"); err != nil {
		t.Fatal(err)
	}
	id := strings.Fields(out.String())[1]
	svc := approvals.New(approvals.Config{Store: r.st, AuditKey: r.key})
	migrate.RegisterApproval(svc)
	if _, err := svc.Approve(ctx, id, "bob", []string{auth.RoleOperator}, ""); err != nil {
		t.Fatal(err)
	}
	return id
}

func (r *migRig) deps(nanacoVT contracts.ValueTransfers) migrateDeps {
	return migrateDeps{store: r.st, nanaco: nanacoVT, paypay: r.paypay, now: r.clock.Now, settleWait: 2 * time.Second,
		controlsEvery: 50 * time.Millisecond}
}

// cancelAt is nanaco's ValueTransfers that cancels the run at its k-th transfer (after
// the transfer went out).
type cancelAt struct {
	contracts.ValueTransfers
	k      int64
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelAt) TransferIn(ctx context.Context, req contracts.TransferRequest) contracts.TransferResult {
	res := c.ValueTransfers.TransferIn(ctx, req)
	if c.n.Add(1) == c.k {
		c.cancel()
	}
	return res
}

// TestMigrateRunEndToEnd migrates a 2,000-row export against the nanaco and PayPay
// simulators on both databases: stopped at a random transfer and resumed, with a nanaco
// answer lost (commit-then-drop) settled by inquiry; the report balances to the yen per
// destination and agrees with the plan, the ledger and the simulators' own ledgers; no
// transfer key is sent twice; the finished run run again moves nothing.
func TestMigrateRunEndToEnd(t *testing.T) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			r := newMigRig(t, db.Open(t))
			spec := r.writeExport(2000, 18)
			dir := t.TempDir()
			o := migrateRunOptions{caps: migration.DefaultCaps(), workers: 4, rate: 0,
				bankFile: filepath.Join(dir, "bank.csv"), report: filepath.Join(dir, "run.csv")}
			ctx := context.Background()

			// No approval, then an approval for another file: refused, nothing written.
			var out bytes.Buffer
			if err := runMigrateRun(ctx, &out, spec.path, o, r.deps(r.nanaco)); err == nil {
				t.Fatal("a run without an approval ran")
			}
			other := filepath.Join(dir, "other.jsonl")
			if err := os.WriteFile(other, []byte(`{"user_id":"x","balance":1,"kyc_level":0,"destination":"none"}`+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			o.approval = r.approve(other, o)
			if err := runMigrateRun(ctx, &out, spec.path, o, r.deps(r.nanaco)); err == nil || !strings.Contains(err.Error(), "not this file") {
				t.Fatalf("an approval for another file: %v", err)
			}
			o.approval = r.approve(spec.path, o)

			// Stopped at a random transfer.
			stopCtx, cancel := context.WithCancel(ctx)
			stopper := &cancelAt{ValueTransfers: r.nanaco, k: 50 + rand.Int64N(200), cancel: cancel}
			out.Reset()
			err := runMigrateRun(stopCtx, &out, spec.path, o, r.deps(stopper))
			if !errors.Is(err, migrate.ErrStopped) {
				t.Fatalf("the stopped run: %v\n%s", err, out.String())
			}
			t.Logf("stopped at transfer %d:\n%s", stopper.k, out.String())

			// Resumed with one transfer's and one cashback's answer lost after the partner
			// committed it.
			if err := r.nfaults.Set([]sim.FaultRule{{Method: http.MethodPost, PathPrefix: "/ncs/v1/transfers", Probability: 1, Count: 1,
				Fault: sim.Fault{Kind: sim.FaultCommitThenDrop}}}); err != nil {
				t.Fatal(err)
			}
			if err := r.pfaults.Set([]sim.FaultRule{{Method: http.MethodPost, PathPrefix: "/v2/cashback", Probability: 1, Count: 1,
				Fault: sim.Fault{Kind: sim.FaultCommitThenDrop}}}); err != nil {
				t.Fatal(err)
			}
			r.mu.Lock()
			clear(r.cashback) // the stopped run may have had a cashback cut off in flight: asked, then sent once more
			r.mu.Unlock()
			out.Reset()
			if err := runMigrateRun(ctx, &out, spec.path, o, r.deps(r.nanaco)); err != nil {
				t.Fatalf("the resumed run: %v\n%s", err, out.String())
			}
			t.Logf("resumed:\n%s", out.String())
			if got := r.nfaults.Stats()[sim.FaultCommitThenDrop]; got != 1 {
				t.Fatalf("commit-then-drop fired %d times at nanaco", got)
			}
			if got := r.pfaults.Stats()[sim.FaultCommitThenDrop]; got != 1 {
				t.Fatalf("commit-then-drop fired %d times at PayPay", got)
			}
			r.mu.Lock()
			for k, n := range r.transfer {
				if n != 1 {
					t.Errorf("the transfer key %s was sent %d times", k, n)
				}
			}
			for id, n := range r.cashback {
				if n != 1 {
					t.Errorf("the resumed run sent the cashback %s %d times", id, n)
				}
			}
			inquiries := r.calls["POST /ncs/v1/transactions/inquiry"]
			details := 0
			for k, n := range r.calls {
				if strings.HasPrefix(k, "GET /v2/cashback/") {
					details += n
				}
			}
			r.mu.Unlock()
			if inquiries == 0 || details == 0 {
				t.Errorf("the lost answers were not settled by inquiry: %d transfer inquiries, %d cashback details", inquiries, details)
			}

			sum, err := migrate.HashFile(spec.path)
			if err != nil {
				t.Fatal(err)
			}
			run, err := r.st.FindMigrationRun(ctx, sum, contracts.BusinessDate(r.clock.Now()))
			if err != nil || run.Status != contracts.MigrationRunFinished {
				t.Fatalf("run %+v, %v", run, err)
			}
			cfg := migrate.Config{Store: r.st, Caps: o.caps}
			rep, err := migrate.BuildReport(ctx, cfg, spec.path, "", run)
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Check(); err != nil {
				t.Fatal(err)
			}
			r.checkAgainstPlan(spec, rep, o.caps)
			r.checkSimulators(spec, run)
			if rep.Total.Unsettled != 0 || rep.Total.NotReached != 0 {
				t.Fatalf("a finished run leaves %d unsettled, %d not reached", rep.Total.Unsettled, rep.Total.NotReached)
			}
			if rep.ByKind["nanaco"].Moved == 0 || rep.ByKind["paypay"].Moved == 0 || rep.Total.BankRefund == 0 ||
				rep.ByKind["nanaco"].Failed == 0 || rep.ByKind["paypay"].Failed == 0 || rep.Total.Rejected == 0 {
				t.Fatalf("the export does not exercise every outcome: %+v", rep.Total)
			}
			lrep, err := ledger.Check(ctx, r.st, 0)
			if err != nil || !lrep.OK() {
				t.Fatalf("ledger check: %+v, %v", lrep, err)
			}
			bank, err := os.ReadFile(o.bankFile)
			if err != nil || int64(bytes.Count(bank, []byte("\n"))) != rep.BankRefunds+1 {
				t.Fatalf("bank file: %d lines for %d refunds, %v", bytes.Count(bank, []byte("\n")), rep.BankRefunds, err)
			}

			// Run again: nothing moves.
			r.mu.Lock()
			before := fmt.Sprint(r.calls)
			r.mu.Unlock()
			out.Reset()
			if err := runMigrateRun(ctx, &out, spec.path, o, r.deps(r.nanaco)); err != nil || !strings.Contains(out.String(), "nothing to move") {
				t.Fatalf("the finished run again: %v\n%s", err, out.String())
			}
			r.mu.Lock()
			after := fmt.Sprint(r.calls)
			r.mu.Unlock()
			if before != after {
				t.Fatalf("the finished run called the partners again:\n%s\n%s", before, after)
			}
		})
	}
}

// checkAgainstPlan: the report's balances and rejections per destination are the plan's.
func (r *migRig) checkAgainstPlan(spec exportSpec, rep *migrate.Report, caps migration.Caps) {
	t := r.t
	f, err := os.Open(spec.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := migration.NewReader(f, migration.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	plan := migration.NewPlan(caps)
	for {
		row, rej, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rej != nil {
			plan.AddRejection(rej)
		} else {
			plan.AddRow(row)
		}
	}
	total := plan.Total()
	if total.Balance != rep.Total.Balance || total.RejectedYen != rep.Total.Rejected || total.Held != rep.Total.Held {
		t.Fatalf("plan %+v, report %+v", total, rep.Total)
	}
}

// checkSimulators: every card's centre-held value and every PayPay user's cashbacks are
// exactly what the run's moves say they received.
func (r *migRig) checkSimulators(spec exportSpec, run contracts.MigrationRun) {
	t, ctx := r.t, context.Background()
	moves, err := r.st.ListMigrationMoves(ctx, run.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	perUA := map[string]int64{}
	cards := 0
	for _, m := range moves {
		switch m.Kind {
		case "nanaco":
			card, ok := r.nsim.Card(spec.nanacoOf[m.Line])
			if !ok {
				if m.Status == contracts.MoveSucceeded {
					t.Fatalf("line %d moved to a card the centre does not have", m.Line)
				}
				continue
			}
			if got, want := card.CenterHeld, spec.heldOf[m.Line]+int(m.Credited); got != want {
				t.Fatalf("line %d: the card holds %d centre-held, %d before the run and %d moved", m.Line, got, spec.heldOf[m.Line], m.Credited)
			}
			cards++
		case "paypay":
			if m.Status == contracts.MoveSucceeded {
				perUA[r.ua[spec.laOf[m.Line]]] += m.Credited
			}
		}
	}
	if cards == 0 {
		t.Fatal("no nanaco card checked")
	}
	for _, la := range r.linked {
		ua := r.ua[la]
		if got, want := r.psim.CashbackAccount(ua).Balance, perUA[ua]; got != want {
			t.Errorf("PayPay user of %s received %d by cashback, the run says %d", la, got, want)
		}
	}
	if got := r.psim.CashbackAccount(r.ua[r.unlinked]).Balance; got != 0 {
		t.Errorf("the unlinked account received %d", got)
	}
}

// slowTransfers delays each nanaco transfer, so that a run lasts long enough to be switched off.
// switchAt is nanaco's ValueTransfers that, at its k-th transfer, sets a kill switch and
// from then on counts the transfers that still go out.
type switchAt struct {
	contracts.ValueTransfers
	k     int64
	n     atomic.Int64
	after atomic.Int64
	set   func()
}

func (s *switchAt) TransferIn(ctx context.Context, req contracts.TransferRequest) contracts.TransferResult {
	res := s.ValueTransfers.TransferIn(ctx, req)
	switch n := s.n.Add(1); {
	case n == s.k:
		s.set()
	case n > s.k:
		s.after.Add(1)
	}
	return res
}

// TestMigrateRunKillSwitch: a kill switch over operation migration stops a run at its next
// read of the switches, and the run refuses to start while it is in force; lifted, the run
// continues and finishes, balanced. The switch is set at the 40th transfer, not at a moment
// of the wall clock: on a loaded machine a run had not reached its 300 ms mark in time.
func TestMigrateRunKillSwitch(t *testing.T) {
	r := newMigRig(t, storetest.OpenSQLite(t))
	spec := r.writeExport(400, 7)
	dir := t.TempDir()
	o := migrateRunOptions{caps: migration.DefaultCaps(), workers: 2, bankFile: filepath.Join(dir, "bank.csv")}
	o.approval = r.approve(spec.path, o)
	ctx := context.Background()
	now := r.clock.Now()
	ks := contracts.KillSwitch{ID: "ks_01KMIGRATIONSWITCH00000000", Scope: contracts.ControlScope{Operation: contracts.OperationMigration},
		PublicReason: "incident", SetBy: "cli:ops", SetAt: now}
	switched := &switchAt{ValueTransfers: r.nanaco, k: 40, set: func() {
		if err := r.st.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertKillSwitch(ctx, ks) }); err != nil {
			t.Error(err)
		}
	}}
	var out bytes.Buffer
	err := runMigrateRun(ctx, &out, spec.path, o, r.deps(switched))
	var stopped *migrate.StoppedError
	if !errors.As(err, &stopped) || stopped.Switch.ID != ks.ID {
		t.Fatalf("the switched-off run: %v\n%s", err, out.String())
	}
	// The rows after the switch are the ones in flight and those begun before the engine's
	// next read of the switches (every 50 ms here): a handful, not the 360 left.
	if after := switched.after.Load(); after > 100 {
		t.Fatalf("%d transfers went out after the switch was set", after)
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Fatalf("the run did not say it stopped:\n%s", out.String())
	}
	// While the switch is in force, the run does not start.
	if err := runMigrateRun(ctx, &out, spec.path, o, r.deps(r.nanaco)); !errors.As(err, &stopped) {
		t.Fatalf("a run under the switch: %v", err)
	}
	if err := r.st.InTx(ctx, func(tx contracts.Tx) error {
		_, err := tx.LiftKillSwitch(ctx, ks.ID, "cli:ops", "over", now.Add(time.Minute))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runMigrateRun(ctx, &out, spec.path, o, r.deps(r.nanaco)); err != nil {
		t.Fatalf("the resumed run: %v\n%s", err, out.String())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range r.transfer {
		if n != 1 {
			t.Errorf("the transfer key %s was sent %d times", k, n)
		}
	}

	// Days run forward: the export on the day before its first run is refused, and so is the
	// next day with other caps (TestMigrateRunCarriesDeferredToTheNextDay runs the next days).
	_, err = migrate.Run(ctx, migrate.Config{Store: r.st, Nanaco: r.nanaco, PayPay: r.paypay, Caps: o.caps, Day: "20261205", Now: r.clock.Now}, spec.path)
	if err == nil || !strings.Contains(err.Error(), "days run forward") {
		t.Fatalf("the export on an earlier day: %v", err)
	}
	otherCaps := o.caps
	otherCaps.Daily = 10_000
	_, err = migrate.Run(ctx, migrate.Config{Store: r.st, Nanaco: r.nanaco, PayPay: r.paypay, Caps: otherCaps, Day: "20261207", Now: r.clock.Now}, spec.path)
	if err == nil || !strings.Contains(err.Error(), "runs with its caps") {
		t.Fatalf("the next day with other caps: %v", err)
	}

	// The same users re-exported (another file): nobody is moved again.
	raw, err := os.ReadFile(spec.path)
	if err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(dir, "wallet-again.jsonl")
	if err := os.WriteFile(again, append(raw, "\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	o.approval = r.approve(again, o)
	r.mu.Unlock()
	out.Reset()
	err = runMigrateRun(ctx, &out, again, o, r.deps(r.nanaco))
	r.mu.Lock()
	if err != nil {
		t.Fatalf("the re-exported file: %v\n%s", err, out.String())
	}
	sum, err := migrate.HashFile(again)
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.st.FindMigrationRun(ctx, sum, contracts.BusinessDate(r.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := migrate.BuildReport(ctx, migrate.Config{Store: r.st, Caps: o.caps}, again, "", run)
	if err != nil || rep.Check() != nil || rep.Total.Moved != 0 || rep.Total.BankRefund != 0 || rep.Total.Failed == 0 {
		t.Fatalf("the re-exported file moved users again: %+v, %v\n%s", rep.Total, err, out.String())
	}
	if !strings.Contains(out.String(), "balances to the yen") {
		t.Fatalf("the re-exported file's report:\n%s", out.String())
	}
}

// TestNanacoValueTransfersAgainstSimulator drives contracts.ValueTransfers over HTTP: a
// transfer into centre-held, a partial one (the room), one refused (no room, a
// terminal not enabled), a commit-then-drop settled by inquiry under the same key, and an
// inquiry about a key never sent (found:false fences it: a late transfer is refused).
func TestNanacoValueTransfersAgainstSimulator(t *testing.T) {
	ctx := context.Background()
	r := newNanacoRig(t, nil)
	var vt contracts.ValueTransfers = r.adapter
	day := contracts.BusinessDate(r.clock.Now())
	ref := func(seq int) string {
		return contracts.SequenceRef{Terminal: "MIG-conf-1", BusinessDate: day, Seq: seq}.String()
	}
	card := r.card(t, nanacosim.CardActive, 0)
	yen := func(n int64) contracts.Money { return contracts.Money{Amount: n, Currency: contracts.JPY} }

	res := vt.TransferIn(ctx, contracts.TransferRequest{PartnerRef: ref(1), NanacoNumber: card.NanacoNumber, Amount: yen(30_000), SourceRef: "mr_x/1"})
	if res.Outcome != contracts.OutcomeSucceeded || res.Credited.Amount != 30_000 || res.CreditedTo != contracts.CreditedCenterHeld || res.PartnerTxnID == "" {
		t.Fatalf("transfer: %+v", res)
	}
	res = vt.TransferIn(ctx, contracts.TransferRequest{PartnerRef: ref(2), NanacoNumber: card.NanacoNumber, Amount: yen(30_000), SourceRef: "mr_x/2", AllowPartial: true})
	if res.Outcome != contracts.OutcomeSucceeded || res.Credited.Amount != 20_000 {
		t.Fatalf("partial: %+v", res)
	}
	res = vt.TransferIn(ctx, contracts.TransferRequest{PartnerRef: ref(3), NanacoNumber: card.NanacoNumber, Amount: yen(1), SourceRef: "mr_x/3"})
	if res.Outcome != contracts.OutcomeFailed || res.PartnerCode != "BALANCE_CAP_EXCEEDED" {
		t.Fatalf("no room: %+v", res)
	}
	other := r.card(t, nanacosim.CardActive, 0)
	notEnabled := contracts.SequenceRef{Terminal: "till-1", BusinessDate: day, Seq: 1}.String()
	if res := vt.TransferIn(ctx, contracts.TransferRequest{PartnerRef: notEnabled, NanacoNumber: other.NanacoNumber, Amount: yen(100), SourceRef: "s"}); res.Outcome != contracts.OutcomeFailed {
		t.Fatalf("a terminal not enabled for transfers: %+v", res)
	}

	// The answer lost after the centre committed: unknown, then the inquiry finds it.
	if err := r.faults.Set([]sim.FaultRule{{PathPrefix: "/ncs/v1/transfers", Probability: 1, Count: 1, Fault: sim.Fault{Kind: sim.FaultCommitThenDrop}}}); err != nil {
		t.Fatal(err)
	}
	res = vt.TransferIn(ctx, contracts.TransferRequest{PartnerRef: ref(4), NanacoNumber: other.NanacoNumber, Amount: yen(7_000), SourceRef: "mr_x/4"})
	if res.Outcome != contracts.OutcomeUnknown {
		t.Fatalf("lost answer: %+v", res)
	}
	res = vt.InquireTransfer(ctx, ref(4))
	if res.Outcome != contracts.OutcomeSucceeded || res.Credited.Amount != 7_000 {
		t.Fatalf("inquiry: %+v", res)
	}
	if st, _ := r.sim.Card(other.NanacoNumber); st.CenterHeld != 7_000 {
		t.Fatalf("centre-held %d after one lost transfer", st.CenterHeld)
	}

	// A key never sent: found:false fences it.
	res = vt.InquireTransfer(ctx, ref(5))
	if res.Outcome != contracts.OutcomeFailed || res.FailureCode != nanaco.FailureNotProcessed {
		t.Fatalf("inquiry of a key never sent: %+v", res)
	}
	res = vt.TransferIn(ctx, contracts.TransferRequest{PartnerRef: ref(5), NanacoNumber: other.NanacoNumber, Amount: yen(100), SourceRef: "mr_x/5"})
	if res.Outcome != contracts.OutcomeFailed {
		t.Fatalf("a transfer under a fenced key: %+v", res)
	}
	if st, _ := r.sim.Card(other.NanacoNumber); st.CenterHeld != 7_000 {
		t.Fatalf("centre-held %d after a fenced transfer", st.CenterHeld)
	}
	if res := vt.InquireTransfer(ctx, "not-a-ref"); res.Outcome != contracts.OutcomeFailed {
		t.Fatalf("a ref that is no sequence ref: %+v", res)
	}
}

// TestMigrateRunThroughput measures users a second of one uninterrupted run against the
// in-process simulators (SQLite). Set PAYHUB_MIGRATE_MEASURE_ROWS (e.g. 20000) to run it.
func TestMigrateRunThroughput(t *testing.T) {
	n := 0
	if v := os.Getenv("PAYHUB_MIGRATE_MEASURE_ROWS"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil {
			t.Fatal(err)
		}
	}
	if n <= 0 {
		t.Skip("set PAYHUB_MIGRATE_MEASURE_ROWS to measure")
	}
	r := newMigRig(t, storetest.OpenSQLite(t))
	spec := r.writeExport(n, 1)
	o := migrateRunOptions{caps: migration.DefaultCaps(), workers: 4, bankFile: filepath.Join(t.TempDir(), "bank.csv")}
	o.approval = r.approve(spec.path, o)
	var out bytes.Buffer
	start := time.Now()
	if err := runMigrateRun(context.Background(), &out, spec.path, o, r.deps(r.nanaco)); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	d := time.Since(start)
	t.Logf("%d users in %s: %.0f users/s\n%s", n, d.Round(time.Millisecond), float64(n)/d.Seconds(), out.String())
}
