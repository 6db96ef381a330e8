package lab

import (
	"bytes"
	"context"
	"crypto"
	cryptorand "crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/store"
	linepaysim "payhub/mocks/linepay"
	nanacosim "payhub/mocks/nanaco"
	paypaysim "payhub/mocks/paypay"
)

// crashConfig is one crash-harness run.
type crashConfig struct {
	Payments, Refunds, Kills, Workers int
	// Instances is how many serve processes share the database (several need PostgreSQL;
	// see crashtest_instances.go).
	Instances   int
	FaultRate   float64
	ManualShare float64
	// LinePayShare is the share of payments made with LINE Pay (in whole TWD).
	LinePayShare float64
	// LinePaySlowShare is the share of LINE Pay payments made with the simulator's slow My
	// Code (linepaysim.OneTimeKeySlow): LINE records them crashLinePaySlowPayDelay late.
	LinePaySlowShare float64
	// NanacoShare is the share of payments made with nanaco e-money (in JPY, from cards the
	// harness seeds in the simulator; see crashtest_nanaco.go).
	NanacoShare float64
	// TopUpShare is the share of all till operations that are nanaco top-ups onto the
	// seeded cards (see crashtest_topups.go): topUpCount of them besides the payments and
	// refunds.
	TopUpShare float64
	// AbandonShare is the share of payments whose till gives up on its create after
	// AbandonAfter (or on an unknown or 5xx answer), looks the order up and cancels it.
	AbandonShare float64
	AbandonAfter time.Duration
	Seed         int64
	DB           string
	// Payhub is the payhub binary the harness runs (serve, sim); "" is the one next to
	// payhub-lab.
	Payhub string
	Window time.Duration
	Keep   bool
}

// Harness timing. serve runs with short resolver timings so a run settles in seconds; a
// till retries one request this long before it gives up (longer than stuck-after plus a
// few resolver passes, so a request cut by a kill gets its answer).
const (
	crashTillPatience   = 45 * time.Second
	crashRequestTimeout = 20 * time.Second
	crashReadyTimeout   = 30 * time.Second
	crashFixtureBarcode = "900081818800000000"
)

// Harness timing of late landings at LINE Pay, in one place.
//
// In-store LINE Pay has no cancel for an order LINE does not know yet, so payhub trusts
// "no such order" only once serve's --linepay-late-window has passed since it created the
// payment; then it closes the payment (canceled). A pay LINE records later than that takes
// money payhub has let go of. So the window must outlast the latest moment a pay the
// harness provokes can land. Under the harness (mocks/sim/faults.go, mocks/linepay/offline.go):
//
//   - the slow My Code fixture (OneTimeKeySlow) makes LINE record the pay
//     crashLinePaySlowPayDelay after the request arrived, whatever its caller does meanwhile
//     (the simulator sleeps without watching the caller);
//   - a latency fault holds the request before it runs, but gives up (and runs nothing)
//     when the caller leaves: payhub's partner call leaves after crashPartnerTimeout, a
//     SIGKILL at once. It delays a landing by at most min(crashFaultLatency, crashPartnerTimeout);
//   - commit_then_drop and commit_then_error run the request at once, to completion;
//     hang, reset and error:500 never run it (a hung request returns when its caller
//     leaves, having done nothing), so none of them lands anything later.
//
// payhub sends the pay right after it records the payment, so the latest landing is
// min(crashFaultLatency, crashPartnerTimeout) + crashLinePaySlowPayDelay after creation;
// crashLateLandingMargin covers the time from creation to send and a loaded machine.
// crashLinePayLateWindow is derived to exceed it (partner timeout ≥ fault latency), and
// crashTimings.check, run by every harness and by a unit test, refuses anything else.
//
// What the harness means to meet: crashAbandonAfter, the abandoning tills' patience, is
// shorter than the fault latency and the slow pay, so faulted and slow payments make them
// give up and cancel while payhub's pay is still in flight. The slow pay then answers
// within the partner timeout (with crashSlowPayHeadroom to spare), so payhub learns in the
// create itself that a payment it already promised to cancel went through, and must
// reverse it there. A slow pay that also draws the latency fault outlasts the partner
// timeout: payhub answers unknown while LINE is still working, and must not close it
// before it lands.
const (
	crashPartnerTimeout      = 3 * time.Second
	crashFaultLatency        = 1500 * time.Millisecond
	crashLinePaySlowPayDelay = 2 * time.Second
	crashSlowPayHeadroom     = time.Second
	crashLateLandingMargin   = 3 * time.Second
	crashLinePayLateWindow   = crashPartnerTimeout + crashLinePaySlowPayDelay + crashLateLandingMargin
	crashAbandonAfter        = 300 * time.Millisecond
)

// crashSlowAbandonShare is the least share of slow LINE Pay payments whose till gives up
// (when --abandon-share is not 0): enough of them to meet cancels while the pay is in
// flight.
const crashSlowAbandonShare = 0.5

// crashTimings are the timings a harness run depends on.
type crashTimings struct {
	PartnerTimeout, FaultLatency, SlowPayDelay, LinePayLateWindow, AbandonAfter time.Duration
}

// crashHarnessTimings are the harness's own.
var crashHarnessTimings = crashTimings{PartnerTimeout: crashPartnerTimeout, FaultLatency: crashFaultLatency,
	SlowPayDelay: crashLinePaySlowPayDelay, LinePayLateWindow: crashLinePayLateWindow, AbandonAfter: crashAbandonAfter}

// latestLinePayLanding is how long after payhub sent a LINE Pay pay the simulator may still
// record it (see above).
func (t crashTimings) latestLinePayLanding() time.Duration {
	return min(t.FaultLatency, t.PartnerTimeout) + t.SlowPayDelay
}

// check refuses timings under which payhub could close a LINE Pay payment that still
// lands, or under which the harness would not meet what it means to (see above).
func (t crashTimings) check() error {
	switch {
	case t.PartnerTimeout <= 0 || t.FaultLatency <= 0 || t.SlowPayDelay <= 0 || t.LinePayLateWindow <= 0 || t.AbandonAfter <= 0:
		return fmt.Errorf("crashtest: timings must be positive: %+v", t)
	case t.LinePayLateWindow < t.latestLinePayLanding()+crashLateLandingMargin:
		return fmt.Errorf("crashtest: LINE Pay late window %s is shorter than the latest landing %s (min(fault latency %s, partner timeout %s) + slow pay %s) plus %s: payhub could cancel a pay LINE records later",
			t.LinePayLateWindow, t.latestLinePayLanding(), t.FaultLatency, t.PartnerTimeout, t.SlowPayDelay, crashLateLandingMargin)
	case t.SlowPayDelay+crashSlowPayHeadroom > t.PartnerTimeout:
		return fmt.Errorf("crashtest: slow pay %s does not answer within the partner timeout %s with %s to spare: payhub would not learn in the create that a payment it was asked to cancel went through",
			t.SlowPayDelay, t.PartnerTimeout, crashSlowPayHeadroom)
	case t.AbandonAfter >= t.FaultLatency || t.AbandonAfter >= t.SlowPayDelay:
		return fmt.Errorf("crashtest: abandoning tills wait %s, not shorter than the fault latency %s and the slow pay %s", t.AbandonAfter, t.FaultLatency, t.SlowPayDelay)
	}
	return nil
}

// crashServeFlags are serve's resolver and partner timings under the harness.
var crashServeFlags = []string{
	"--resolver-stuck-after", "5s", "--resolver-read-timeout", "3s", "--resolver-fence-after", "20s",
	"--resolver-first-backoff", "500ms", "--resolver-max-backoff", "3s", "--resolve-interval", "500ms",
	"--partner-timeout", crashPartnerTimeout.String(), "--drain-timeout", "2s", "--metrics-addr", "",
	"--linepay-late-window", crashLinePayLateWindow.String(),
}

// crashSimArgs are the simulator's arguments under the harness.
func crashSimArgs(paypayAddr, linepayAddr, nanacoAddr string, faultRate float64, seed int64) []string {
	return []string{"sim", "--paypay-addr", paypayAddr, "--linepay-addr", linepayAddr, "--gmopg-addr", "127.0.0.1:0", "--nanaco-addr", nanacoAddr,
		"--faults", crashFaultSpec(faultRate), "--fault-seed", strconv.FormatInt(seed, 10),
		"--linepay-slow-pay-delay", crashLinePaySlowPayDelay.String()}
}

func crashtestCommand() *cobra.Command {
	var cfg crashConfig
	cmd := &cobra.Command{
		Use:   "crashtest",
		Short: "Crash harness: drive payments through faults and SIGKILLs, then reconcile with the partner",
		Long: `Start 'payhub sim' (PayPay, LINE Pay and nanaco, with faults on a share of partner calls) and 'payhub serve' as
separate processes, drive concurrent payments and partial refunds through the API the way
tills do (a failed request is retried with the same Idempotency-Key), SIGKILL and restart
serve at seeded moments, then clear the faults, wait for payhub to settle every open
outcome and compare its records with the simulator's ledger.

A share of payments (--abandon-share) is made by a till that gives up: its create times
out after --abandon-after, or answers unknown or a 5xx; it then finds the payment by
order_id and cancels it (a 409 cancel_window_passed: it refunds everything instead). A
cancel payhub accepted (200 canceled, 202 cancel_requested) obliges payhub to end the
payment canceled or refunded in full. A share of LINE Pay payments (--linepay-slow-share)
uses the simulator's slow My Code, which LINE records after a delay (at least half of them
are abandoned, when any payment is); serve's LINE Pay late window is derived from that
delay, the fault latency and the partner timeout. A share of payments (--nanaco-share) is
made with nanaco e-money from cards the harness seeds in the simulator beforehand (card_present
mostly, barcode for some); the sum of those cards' balance changes must equal what payhub says
it took less what it refunded. A share of all till operations (--topup-share) are nanaco
top-ups onto those cards (cash in ¥1,000 units up to ¥5,000, some from the card's points),
a quarter of them cancelled the same day at the same till; every top-up must match one
standing CHARGE at NCS (a canceled one a CHARGE with its CHARGE_CANCEL, a failed one none),
and the cards' value must have moved by what payhub took, refunded and topped up.

With --instances N (PostgreSQL only) N serve processes share the database, each on its own
port with its own instance id, behind a round-robin reverse proxy in the harness that tills
see as one address; each kill hits a seeded instance, which stays down a seeded moment (up
to 3 s) while the others take its requests and, once its heartbeat stops, its work.

Exits non-zero when money was lost, charged twice, refunded twice, left unresolved,
recorded with another amount, or kept after payhub accepted a cancel.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runCrashTest(ctx, cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Payments, "payments", 200, "payments to create")
	f.IntVar(&cfg.Refunds, "refunds", 50, "partial refunds of succeeded payments")
	f.IntVar(&cfg.Kills, "kills", 3, "times serve is SIGKILLed and restarted during the load (with several instances: a seeded one each time, in total)")
	f.IntVar(&cfg.Instances, "instances", 1, "serve processes on one PostgreSQL database (--db), behind the harness's round-robin proxy when more than one")
	f.IntVar(&cfg.Workers, "workers", 8, "concurrent tills")
	f.Float64Var(&cfg.FaultRate, "fault-rate", 0.1, "share of partner calls the simulator faults (0..1)")
	f.Float64Var(&cfg.ManualShare, "manual-share", 0.1, "share of payments authorized only (capture manual) and captured after")
	f.Float64Var(&cfg.LinePayShare, "linepay-share", 0.3, "share of payments made with LINE Pay (whole TWD, a fresh My Code each); nanaco takes --nanaco-share, PayPay the rest")
	f.Float64Var(&cfg.NanacoShare, "nanaco-share", 0.2, "share of payments made with nanaco e-money (JPY, seeded cards, card_present or barcode); --linepay-share plus this is at most 1, PayPay takes the rest")
	f.Float64Var(&cfg.TopUpShare, "topup-share", 0.1, "share of all till operations that are nanaco top-ups onto the seeded cards (with P payments and R refunds, round(s/(1-s)·(P+R)) top-ups; cash ¥1,000–¥5,000 or points, a quarter cancelled the same day); 0 ≤ s < 1")
	f.Float64Var(&cfg.LinePaySlowShare, "linepay-slow-share", 0.15, "share of LINE Pay payments made with the slow My Code fixture "+linepaysim.OneTimeKeySlow+" (LINE records them "+crashLinePaySlowPayDelay.String()+" late)")
	f.Float64Var(&cfg.AbandonShare, "abandon-share", 0.15, "share of payments whose till gives up on the create when it is slow, unknown or fails, finds the payment by order_id and cancels it (or refunds it in full); at least half of the slow LINE Pay payments when not 0")
	f.DurationVar(&cfg.AbandonAfter, "abandon-after", crashAbandonAfter, "how long an abandoning till waits for its create's answer")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed of faults, amounts and kill moments")
	f.StringVar(&cfg.DB, "db", "", "database: postgres://… (default: SQLite in the temporary directory)")
	f.StringVar(&cfg.Payhub, "payhub", "", "the payhub binary to run (default: payhub next to payhub-lab)")
	f.DurationVar(&cfg.Window, "window", 2*time.Minute, "how long payhub may take to settle open outcomes after the load")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory (database, process logs)")
	return cmd
}

// runCrashTest runs the harness and prints its report to out.
func runCrashTest(ctx context.Context, cfg crashConfig, out io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	bins, err := findBinaries(cfg.Payhub)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "payhub-crashtest-")
	if err != nil {
		return err
	}
	h := &crashHarness{cfg: cfg, dir: dir, out: out, bins: bins}
	counts, err := h.run(ctx)
	failed := err != nil || counts.failed()
	if cfg.Keep || failed {
		fmt.Fprintf(out, "kept %s (database, serve*.log, sim.log, proxy.log, ledger.json, nanaco.json, tills.json, topups.json)\n", dir)
	} else {
		_ = os.RemoveAll(dir)
	}
	if err != nil {
		return err
	}
	if counts.failed() {
		return errors.New("crashtest: payhub and the partner disagree (see the counts above)")
	}
	return nil
}

func (c crashConfig) validate() error {
	switch {
	case c.Payments < 1 || c.Refunds < 0 || c.Kills < 0 || c.Workers < 1:
		return errors.New("crashtest: need --payments ≥ 1, --workers ≥ 1, --refunds ≥ 0, --kills ≥ 0")
	case !inUnitRange(c.FaultRate) || !inUnitRange(c.ManualShare) || !inUnitRange(c.LinePayShare) || !inUnitRange(c.LinePaySlowShare) ||
		!inUnitRange(c.NanacoShare) || !inUnitRange(c.AbandonShare):
		return errors.New("crashtest: --fault-rate, --manual-share, --linepay-share, --linepay-slow-share, --nanaco-share and --abandon-share must be within 0..1")
	case c.TopUpShare < 0 || c.TopUpShare >= 1:
		return errors.New("crashtest: --topup-share must be within 0..1 (1 excluded)")
	case c.LinePayShare+c.NanacoShare > 1:
		return errors.New("crashtest: --linepay-share plus --nanaco-share must be at most 1")
	case c.AbandonAfter <= 0:
		return errors.New("crashtest: --abandon-after must be positive")
	case c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://"):
		return errors.New("crashtest: --db takes a postgres:// URL (SQLite is the default)")
	}
	if err := c.validateInstances(); err != nil {
		return err
	}
	return crashHarnessTimings.check()
}

func inUnitRange(f float64) bool { return f >= 0 && f <= 1 }

// crashFaultKinds are the faults the simulator mixes, in equal shares.
var crashFaultKinds = []string{"error:500", "hang", "reset", "commit_then_drop", "commit_then_error", "latency:" + crashFaultLatency.String()}

// crashFaultPrefixes are the API paths of the partners: PayPay /v2/, LINE Pay Online /v3/
// and Offline /v4/, nanaco's NCS /ncs/v1/.
var crashFaultPrefixes = []string{"/v2/", "/v3/", "/v4/", nanacosim.BasePath + "/"}

// crashFaultSpec is the --faults flag that faults rate of all partner calls, split equally
// between crashFaultKinds. Rules draw in order and the first that fires wins, so rule i
// fires with (rate/k)/(1−i·rate/k): each kind then takes rate/k of all calls. Each
// partner path prefix has its own rules (a call draws only the rules it matches).
func crashFaultSpec(rate float64) string {
	if rate == 0 {
		return ""
	}
	k := float64(len(crashFaultKinds))
	var rules []string
	for _, prefix := range crashFaultPrefixes {
		for i, kind := range crashFaultKinds {
			p := (rate / k) / (1 - float64(i)*rate/k)
			rules = append(rules, fmt.Sprintf("* %s %s %s", prefix, strconv.FormatFloat(p, 'f', 6, 64), kind))
		}
	}
	return strings.Join(rules, "; ")
}

// crashHarness is one run: its processes, its till identity and its results.
type crashHarness struct {
	cfg    crashConfig
	bins   binaries
	dir    string
	out    io.Writer
	dbURL  string
	simURL string
	// linepayURL is the LINE Pay simulator (same process as PayPay's, one fault engine).
	linepayURL string
	// nanacoURL is the nanaco (NCS) simulator, same process and fault engine.
	nanacoURL string
	// nanaco is the run's nanaco cards: planned before the load, seeded, read back after.
	nanaco *nanacoRun
	store  contracts.Store
	// sqlDB reads the ids of the store's top-ups, which no store call lists.
	sqlDB *sql.DB
	// serves are the serve processes and the address tills use (crashtest_instances.go).
	serves  *serveInstances
	simProc *childProcess
	till    *till
	kills   int
	// gaveUp are the till requests that got no definite answer during the load.
	gaveUp []tillRequest
	// abandons is what the abandoning tills did; settle completes it from the answers
	// of their requests sent again.
	abandons abandonReport
	// topUps is what the tills did about top-ups, by the create's Idempotency-Key; settle
	// completes it from the answers of their requests sent again.
	topUps topUpReport
}

func (h *crashHarness) run(ctx context.Context) (crashCounts, error) {
	started := time.Now()
	defer h.shutdown()
	if err := h.setUp(ctx); err != nil {
		return crashCounts{}, err
	}
	fmt.Fprintf(h.out, "crashtest: seed %d, %d payments, %d refunds, %d top-ups, %d kills, %d workers, fault rate %.2f, %s\n",
		h.cfg.Seed, h.cfg.Payments, h.cfg.Refunds, topUpCount(h.cfg), h.cfg.Kills, h.cfg.Workers, h.cfg.FaultRate, dbKind(h.dbURL))
	load := h.drive(ctx)
	if ctx.Err() != nil {
		return crashCounts{}, ctx.Err()
	}
	fmt.Fprintf(h.out, "load: %s in %s\n", load, time.Since(started).Round(100*time.Millisecond))
	faults, err := h.clearFaults(ctx)
	if err != nil {
		return crashCounts{}, err
	}
	if err := h.serves.restartStopped(ctx); err != nil {
		return crashCounts{}, err
	}
	settleStart := time.Now()
	records, topUps, unanswered, err := h.settle(ctx)
	if err != nil {
		return crashCounts{}, err
	}
	fmt.Fprintf(h.out, "settle: %s\n", time.Since(settleStart).Round(100*time.Millisecond))
	ledger, err := h.ledger(ctx)
	if err != nil {
		return crashCounts{}, err
	}
	nanaco, err := h.nanaco.read(ctx, h.nanacoURL)
	if err != nil {
		return crashCounts{}, err
	}
	ledger = append(ledger, nanacoPayments(nanaco.Ledger, records)...)
	tops := payhubTopUps{TopUps: topUps, Till: h.topUps}
	// For whoever reads a kept directory: what the partners and the tills saw.
	for name, v := range map[string]any{"ledger.json": ledger, "nanaco.json": nanaco, "tills.json": h.abandons.cancels, "topups.json": tops} {
		if b, err := json.MarshalIndent(v, "", "  "); err == nil {
			_ = os.WriteFile(filepath.Join(h.dir, name), b, 0o600)
		}
	}
	counts := reconcile(records, ledger, h.abandons.cancels)
	counts.checkNanaco(records, tops, nanaco)
	counts.Kills, counts.FaultsInjected, counts.FaultsByKind, counts.TillsGaveUp = h.kills, sumFaults(faults), faults, len(h.gaveUp)
	counts.Abandons = h.abandons.summary()
	for _, r := range unanswered {
		counts.problem(&counts.Unresolved, "till request %s %s (Idempotency-Key %s) still gets no answer", r.method, r.path, r.key)
	}
	counts.print(h.out)
	h.serves.report(h.out)
	fmt.Fprintf(h.out, "total: %s\n", time.Since(started).Round(100*time.Millisecond))
	return counts, nil
}

func dbKind(url string) string {
	if strings.HasPrefix(url, "sqlite:") {
		return "sqlite"
	}
	return "postgres"
}

// setUp registers the till's client, then starts the simulator and serve.
func (h *crashHarness) setUp(ctx context.Context) error {
	h.dbURL = h.cfg.DB
	if h.dbURL == "" {
		h.dbURL = "sqlite:" + filepath.Join(h.dir, "payhub.db")
	}
	st, err := store.Open(ctx, h.dbURL)
	if err != nil {
		return err
	}
	h.store = st
	if h.sqlDB, err = openReader(h.dbURL); err != nil {
		return err
	}
	t, err := registerCrashTill(ctx, st, h.cfg.Seed)
	if err != nil {
		return err
	}
	t.abandonAfter = h.cfg.AbandonAfter
	h.till = t
	simAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	lpAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	ncAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	h.simURL = "http://" + simAddr
	h.linepayURL, t.linepayURL = "http://"+lpAddr, "http://"+lpAddr
	h.nanacoURL = "http://" + ncAddr
	env := append([]string{secretKeyEnv(), auditKeyEnv()}, crashPartnerEnv(h.simURL, h.linepayURL, h.nanacoURL)...)
	h.simProc = &childProcess{name: "sim", logPath: filepath.Join(h.dir, "sim.log"), bin: h.bins.payhub, env: env,
		args: crashSimArgs(simAddr, lpAddr, ncAddr, h.cfg.FaultRate, h.cfg.Seed)}
	if err := h.simProc.start(); err != nil {
		return err
	}
	if err := waitReady(ctx, h.simProc, h.simURL+"/_sim/faults"); err != nil {
		return err
	}
	if err := waitReady(ctx, h.simProc, h.linepayURL+"/_sim/payments"); err != nil {
		return err
	}
	if err := waitReady(ctx, h.simProc, h.nanacoURL+"/_sim/cards"); err != nil {
		return err
	}
	if h.nanaco, err = seedNanacoCards(ctx, h.nanacoURL, h.cfg); err != nil {
		return err
	}
	if h.serves, err = newServeInstances(h.cfg, h.dir, h.bins.payhub, env, h.dbURL); err != nil {
		return err
	}
	t.baseURL = h.serves.url
	return h.serves.start(ctx)
}

// crashPartnerEnv is the partners' environment of sim and serve: the simulators' demo
// credentials (the simulators read the same variables) and where serve finds each.
func crashPartnerEnv(paypayURL, linepayURL, nanacoURL string) []string {
	return []string{"PAYHUB_PAYPAY_API_KEY=" + paypaysim.DemoAPIKey, "PAYHUB_PAYPAY_API_SECRET=" + paypaysim.DemoAPISecret,
		"PAYHUB_PAYPAY_MERCHANT_ID=" + paypaysim.DemoMerchantID, "PAYHUB_PAYPAY_BASE_URL=" + paypayURL,
		"PAYHUB_LINEPAY_CHANNEL_ID=" + linepaysim.DemoChannelID, "PAYHUB_LINEPAY_CHANNEL_SECRET=" + linepaysim.DemoChannelSecret,
		"PAYHUB_LINEPAY_BASE_URL=" + linepayURL, "PAYHUB_LINEPAY_CURRENCY=TWD",
		"PAYHUB_NANACO_BASE_URL=" + nanacoURL, "PAYHUB_NANACO_MERCHANT_ID=" + nanacosim.DemoMerchantID,
		"PAYHUB_NANACO_SECRET=" + nanacosim.DemoSecret}
}

// shutdown stops the processes and closes the database.
func (h *crashHarness) shutdown() {
	if h.serves != nil {
		h.serves.stop()
	}
	if h.simProc != nil {
		h.simProc.stop()
	}
	if h.store != nil {
		_ = h.store.Close()
	}
	if h.sqlDB != nil {
		_ = h.sqlDB.Close()
	}
}

// registerCrashTill registers a store client with a fresh Ed25519 key under ids unique
// to this run, so runs can share a PostgreSQL database.
func registerCrashTill(ctx context.Context, st contracts.Store, seed int64) (*till, error) {
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		return nil, err
	}
	pub, err := auth.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		return nil, err
	}
	run := fmt.Sprintf("crashtest-%d-%d", seed, time.Now().UnixNano())
	now := time.Now().UTC()
	c := contracts.StoreClient{ID: run, Name: "crash harness", Stores: []string{run}, CreatedAt: now,
		Keys: []contracts.ClientKey{{KID: run, ClientID: run, Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pub, CreatedAt: now}}}
	if err := st.CreateStoreClient(ctx, c); err != nil {
		return nil, fmt.Errorf("register client: %w", err)
	}
	return &till{key: key, kid: run, clientID: run, storeID: run, http: &http.Client{Timeout: crashRequestTimeout}}, nil
}

// drive runs the tills and the killer until the load is done.
func (h *crashHarness) drive(ctx context.Context) loadReport {
	plan := newLoadPlan(h.cfg)
	stats := newLoadStats()
	loadDone := make(chan struct{})
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		h.killer(ctx, plan, loadDone)
	}()
	var wg sync.WaitGroup
	for w := range h.cfg.Workers {
		wg.Go(func() { h.till.work(ctx, w, plan, stats) })
	}
	wg.Wait()
	close(loadDone)
	<-killerDone
	h.gaveUp = stats.gaveUpRequests()
	h.abandons = stats.abandonReport()
	h.topUps = stats.topUpReport()
	return stats.report(plan)
}

// killer SIGKILLs serve (a seeded one of several instances) when the operations handed to
// tills cross seeded thresholds spread over the load, a seeded moment later (while those
// requests are in flight), and restarts it on the same port and database.
func (h *crashHarness) killer(ctx context.Context, plan *loadPlan, loadDone <-chan struct{}) {
	rng := rand.New(rand.NewPCG(uint64(h.cfg.Seed), 0x6b696c6c))
	total := h.cfg.Payments + h.cfg.Refunds + topUpCount(h.cfg)
	for i := 1; i <= h.cfg.Kills; i++ {
		span := float64(total) / float64(h.cfg.Kills+1)
		threshold := int64(span*float64(i) + (rng.Float64()-0.5)*span/2)
		delay := time.Duration(rng.IntN(40)) * time.Millisecond
		for plan.taken.Load() < threshold {
			select {
			case <-loadDone:
				return
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		if sleepCtx(ctx, delay) != nil {
			return
		}
		select {
		case <-loadDone:
			return // no traffic left to cut
		default:
		}
		h.kills++
		if err := h.serves.killOne(ctx); err != nil {
			fmt.Fprintf(h.out, "restart after kill %d: %v\n", h.kills, err)
			return
		}
	}
}

// clearFaults reads the injected-fault counters, then removes the rules so the resolver
// can reach the partner.
func (h *crashHarness) clearFaults(ctx context.Context) (map[string]int, error) {
	var state struct {
		Stats map[string]int `json:"stats"`
	}
	if err := simJSON(ctx, http.MethodGet, h.simURL+"/_sim/faults", &state); err != nil {
		return nil, err
	}
	if err := simJSON(ctx, http.MethodDelete, h.simURL+"/_sim/faults", nil); err != nil {
		return nil, err
	}
	return state.Stats, nil
}

// ledger reads the simulators' payments.
func (h *crashHarness) ledger(ctx context.Context) ([]partnerPayment, error) {
	var l struct {
		Payments []paypaysim.LedgerPayment `json:"payments"`
	}
	if err := simJSON(ctx, http.MethodGet, h.simURL+"/_sim/payments", &l); err != nil {
		return nil, err
	}
	var lpl struct {
		Payments []linepaysim.LedgerPayment `json:"payments"`
	}
	if err := simJSON(ctx, http.MethodGet, h.linepayURL+"/_sim/payments", &lpl); err != nil {
		return nil, err
	}
	out := make([]partnerPayment, 0, len(l.Payments)+len(lpl.Payments))
	for _, lp := range l.Payments {
		out = append(out, fromPayPay(lp))
	}
	for _, lp := range lpl.Payments {
		p, err := fromLinePay(lp)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func simJSON(ctx context.Context, method, url string, into any) error {
	return simJSONStatus(ctx, method, url, http.StatusOK, into)
}

// simJSONStatus is simJSON for a control call answering another status.
func simJSONStatus(ctx context.Context, method, url string, want int, into any) error {
	return simSend(ctx, method, url, nil, want, into)
}

// simSend is a simulator control call with a JSON body (none when body is nil) that must
// answer status want; its JSON answer is decoded into into (when not nil).
func simSend(ctx context.Context, method, url string, body any, want int, into any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("simulator %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("simulator %s %s: status %d", method, url, resp.StatusCode)
	}
	if into == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

func sumFaults(stats map[string]int) int {
	n := 0
	for _, v := range stats {
		n += v
	}
	return n
}

// settle polls until no payment, refund, partner call or top-up (nor a top-up's cancel) of
// the run is open, every request the tills gave up on answers when sent again (as a till
// does later), and every payment whose cancel payhub accepted is canceled, failed or
// refunded in full — or the window passes. It returns the run's records and top-ups as
// they then stand and the requests that still get no answer.
func (h *crashHarness) settle(ctx context.Context) ([]payhubRecord, []contracts.TopUp, []tillRequest, error) {
	deadline := time.Now().Add(h.cfg.Window)
	unanswered := h.gaveUp
	answered := func(r tillRequest, a apiAnswer) {
		h.abandons.answered(r, a)
		h.topUps.answered(r, a)
	}
	for {
		unanswered = h.till.resend(ctx, unanswered, answered)
		records, err := readPayhub(ctx, h.store, h.till.storeID)
		if err != nil {
			return nil, nil, nil, err
		}
		topUps, err := readTopUps(ctx, h.sqlDB, dbKind(h.dbURL) == "postgres", h.store, h.till.storeID)
		if err != nil {
			return nil, nil, nil, err
		}
		settled := countOpen(records) == 0 && countOpenTopUps(topUps) == 0 && len(unanswered) == 0 &&
			len(cancelsPending(records, h.abandons.cancels)) == 0
		if settled || !time.Now().Before(deadline) {
			return records, topUps, unanswered, nil
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return nil, nil, nil, err
		}
	}
}

// payhubRecord is a payment with its refunds and partner attempts, as payhub stored them.
type payhubRecord struct {
	Payment  contracts.Payment
	Refunds  []contracts.Refund
	Attempts []contracts.Attempt
}

func readPayhub(ctx context.Context, st contracts.Store, storeID string) ([]payhubRecord, error) {
	payments, err := st.ListPayments(ctx, contracts.PaymentFilter{StoreID: storeID})
	if err != nil {
		return nil, err
	}
	records := make([]payhubRecord, len(payments))
	for i, p := range payments {
		refunds, err := st.ListRefunds(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		attempts, err := st.ListAttempts(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		records[i] = payhubRecord{Payment: p, Refunds: refunds, Attempts: attempts}
	}
	return records, nil
}

func paymentOpen(s contracts.Status) bool {
	return s == contracts.StatusProcessing || s == contracts.StatusUnknown
}

func refundOpen(s contracts.RefundStatus) bool {
	return s == contracts.RefundPending || s == contracts.RefundUnknown
}

// countOpen counts payments, refunds and partner calls whose outcome is still open.
func countOpen(records []payhubRecord) int {
	n := 0
	for _, r := range records {
		if paymentOpen(r.Payment.Status) {
			n++
		}
		for _, rf := range r.Refunds {
			if refundOpen(rf.Status) {
				n++
			}
		}
		n += len(openAttempts(r))
	}
	return n
}

// openAttempts are the partner calls of a settled payment whose outcome payhub never
// recorded (e.g. a capture cut by a crash): the till that sent it still waits for an
// answer, and the partner may have moved money payhub does not know of. While the payment
// itself is open its own attempt is in flight by design, so only settled payments count.
func openAttempts(r payhubRecord) []contracts.Attempt {
	if paymentOpen(r.Payment.Status) {
		return nil
	}
	var open []contracts.Attempt
	for _, a := range r.Attempts {
		if a.Outcome == "" {
			open = append(open, a)
		}
	}
	return open
}

// till is a store checkout system: it signs its own tokens and retries a request with the
// same Idempotency-Key until it gets a definite answer.
type till struct {
	baseURL string
	// linepayURL is the LINE Pay simulator, where the till gets a customer's My Code.
	linepayURL             string
	key                    crypto.Signer
	kid, clientID, storeID string
	http                   *http.Client
	// abandonAfter is how long an abandoning till waits for its create's answer.
	abandonAfter time.Duration
}

// apiAnswer is a definite answer of the payhub API.
type apiAnswer struct {
	status int
	body   map[string]any
}

func (a apiAnswer) str(field string) string {
	s, _ := a.body[field].(string)
	return s
}

func (a apiAnswer) int64(field string) int64 {
	f, _ := a.body[field].(float64)
	return int64(f)
}

// retryable reports whether a till must send the request again: payhub did not answer,
// failed, is busy, or still runs the first request under the key.
func (a apiAnswer) retryable() bool {
	return a.status >= 500 || a.status == http.StatusTooManyRequests ||
		(a.status == http.StatusConflict && a.str("code") == string(contracts.CodeIdempotencyKeyInUse))
}

// send performs one till request under one Idempotency-Key, retried after a connection
// error, a 5xx, a 429 or a 409 idempotency_key_in_use until a definite answer or the
// till's patience runs out.
func (t *till) send(ctx context.Context, method, path string, body any, stats *loadStats) (apiAnswer, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return apiAnswer{}, err
	}
	return t.sendRequest(ctx, tillRequest{method: method, path: path, key: cryptorand.Text(), body: raw}, stats)
}

// sendRequest is send of a request already made up.
func (t *till) sendRequest(ctx context.Context, r tillRequest, stats *loadStats) (apiAnswer, error) {
	method, path := r.method, r.path
	deadline := time.Now().Add(crashTillPatience)
	backoff := 100 * time.Millisecond
	for {
		ans, err := t.once(ctx, method, path, r.key, r.body)
		if err == nil && !ans.retryable() {
			return ans, nil
		}
		if ctx.Err() != nil {
			return apiAnswer{}, ctx.Err()
		}
		if !time.Now().Before(deadline) {
			stats.giveUp(r)
			if err == nil {
				err = fmt.Errorf("status %d %s", ans.status, ans.str("code"))
			}
			return apiAnswer{}, fmt.Errorf("%s %s: gave up after %s: %w", method, path, crashTillPatience, err)
		}
		stats.retries.Add(1)
		if err := sleepCtx(ctx, backoff); err != nil {
			return apiAnswer{}, err
		}
		backoff = min(2*backoff, time.Second)
	}
}

// tillRequest is a request as a till keeps it to send again: same key, same body.
type tillRequest struct {
	method, path, key string
	body              []byte
	// cancelOf is the payment an abandoning till's cancel is for ("" for other requests).
	cancelOf string
	// topUpKey is the Idempotency-Key of the top-up create the request is (or whose
	// top-up it cancels, topUpCancel); "" for other requests.
	topUpKey    string
	topUpCancel bool
}

// resend sends each request once more, hands each definite answer to answered (when not
// nil) and returns the requests still without one.
func (t *till) resend(ctx context.Context, requests []tillRequest, answered func(tillRequest, apiAnswer)) []tillRequest {
	var still []tillRequest
	for _, r := range requests {
		ans, err := t.once(ctx, r.method, r.path, r.key, r.body)
		if err != nil || ans.retryable() {
			still = append(still, r)
			continue
		}
		if answered != nil {
			answered(r, ans)
		}
	}
	return still
}

func (t *till) once(ctx context.Context, method, path, key string, body []byte) (apiAnswer, error) {
	tok, err := auth.Mint(auth.TokenRequest{Key: t.key, KeyID: t.kid, ClientID: t.clientID, StoreID: t.storeID,
		IssuedAt: time.Now(), TTL: 2 * time.Minute})
	if err != nil {
		return apiAnswer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, method, t.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return apiAnswer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return apiAnswer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiAnswer{}, err
	}
	ans := apiAnswer{status: resp.StatusCode}
	if err := json.Unmarshal(raw, &ans.body); err != nil {
		return apiAnswer{}, fmt.Errorf("status %d, body not JSON: %w", resp.StatusCode, err)
	}
	return ans, nil
}

// work takes jobs from the plan until it is exhausted.
func (t *till) work(ctx context.Context, worker int, plan *loadPlan, stats *loadStats) {
	for {
		j, ok := plan.next(ctx)
		if !ok {
			return
		}
		var paid *refundable
		switch {
		case j.topUp:
			t.topUp(ctx, worker, j, stats)
		case j.target == nil:
			paid = t.pay(ctx, worker, j, stats)
		default:
			t.refund(ctx, j, stats)
		}
		plan.done(j, paid)
	}
}

// pay creates one payment (and captures it, for manual capture); it returns the payment
// as refundable when it succeeded.
func (t *till) pay(ctx context.Context, worker int, j loadJob, stats *loadStats) *refundable {
	body := map[string]any{"amount": j.amount, "currency": "JPY", "method": "paypay", "flow": "barcode",
		"barcode": crashFixtureBarcode, "terminal_id": fmt.Sprintf("till-%02d", worker), "order_id": crashOrderID(j.n)}
	if j.linepay {
		// The customer opens My Code: a fresh single-use key from the LINE Pay app, or the
		// simulator's reusable slow one (LINE records its pay crashLinePaySlowPayDelay late).
		myCode := linepaysim.OneTimeKeySlow
		if !j.slow {
			var key struct {
				OneTimeKey string `json:"oneTimeKey"`
			}
			if err := simJSONStatus(ctx, http.MethodPost, t.linepayURL+"/_sim/oneTimeKeys", http.StatusCreated, &key); err != nil {
				stats.note(err.Error())
				return nil
			}
			myCode = key.OneTimeKey
		}
		body["currency"], body["method"], body["barcode"] = "TWD", "linepay", myCode
	}
	if j.nanaco {
		// The customer holds the card to the till's reader (its number, sometimes its IDm
		// too), or shows the nanaco app's barcode: the card's 16-digit number.
		body["method"] = "nanaco"
		if j.barcode {
			body["barcode"] = j.card.Number
			stats.nanacoBarcode.Add(1)
		} else {
			delete(body, "barcode")
			read := map[string]any{"number": j.card.Number}
			if j.withIDm {
				read["idm"] = j.card.IDm
			}
			body["flow"], body["presented_card"] = "card_present", read
		}
		stats.nanaco.Add(1)
	}
	if j.capture > 0 {
		body["capture"] = "manual"
	}
	stats.payments.Add(1)
	if j.slow {
		stats.slow.Add(1)
	}
	var ans apiAnswer
	if j.abandon {
		var answered bool
		if ans, answered = t.createOrGiveUp(ctx, body, stats); !answered {
			t.abandon(ctx, body["order_id"].(string), stats)
			return nil
		}
		if j.nanaco && ans.status == http.StatusCreated && ans.str("status") == string(contracts.StatusSucceeded) {
			// A nanaco sale answers within milliseconds, so its till seldom gives up; the
			// customer walks away instead and the till voids the sale: the same day, at the
			// same till, which payhub sends to NCS as a cancel.
			stats.answered("payment", ans)
			t.void(ctx, ans, stats)
			return nil
		}
	} else {
		var err error
		if ans, err = t.send(ctx, http.MethodPost, "/v1/payments", body, stats); err != nil {
			stats.note(err.Error())
			return nil
		}
	}
	stats.answered("payment", ans)
	id, status := ans.str("id"), ans.str("status")
	if ans.status == http.StatusCreated && status == string(contracts.StatusAuthorized) && j.capture > 0 {
		stats.captures.Add(1)
		var err error
		ans, err = t.send(ctx, http.MethodPost, "/v1/payments/"+id+"/capture", map[string]any{"amount": j.capture}, stats)
		if err != nil {
			stats.note(err.Error())
			return nil
		}
		stats.answered("capture", ans)
		status = ans.str("status")
	}
	if ans.status/100 == 2 && status == string(contracts.StatusSucceeded) {
		return &refundable{id: id, left: ans.int64("amount_captured"), step: j.step()}
	}
	return nil
}

// refund refunds part of a succeeded payment.
func (t *till) refund(ctx context.Context, j loadJob, stats *loadStats) {
	stats.refunds.Add(1)
	ans, err := t.send(ctx, http.MethodPost, "/v1/payments/"+j.target.id+"/refunds",
		map[string]any{"amount": j.amount, "reason": "crashtest partial refund"}, stats)
	if err != nil {
		stats.note(err.Error())
		return
	}
	stats.answered("refund", ans)
	if ans.status == http.StatusCreated && ans.str("status") != string(contracts.RefundFailed) {
		j.target.left -= j.amount
	}
}

// refundable is a succeeded payment with the amount a till may still refund.
type refundable struct {
	id   string
	left int64
	// step is the smallest amount its partner refunds (LINE Pay: 100, whole TWD).
	step int64
}

// loadJob is one till operation: a payment (target nil), a refund of target, or a nanaco
// top-up (topUp).
type loadJob struct {
	n       int
	amount  int64
	capture int64 // manual capture: the amount captured after authorization
	linepay bool  // a LINE Pay payment in whole TWD, else PayPay in JPY
	slow    bool  // LINE Pay with the slow My Code fixture (OneTimeKeySlow)
	abandon bool  // the till gives up on the create and cancels (see crashtest_abandon.go)
	// nanaco: a nanaco payment in JPY from card (seeded before the load), read by the
	// till's reader (flow card_present, withIDm: the read carries the IDm too) or scanned
	// from the app (barcode).
	nanaco, barcode, withIDm bool
	card                     crashNanacoCard
	target                   *refundable
	// topUp: a nanaco top-up of amount onto card (seeded before the load), funded by
	// funding (withIDm: the read carries the IDm too); cancel: the till cancels it the same
	// day once it succeeded.
	topUp, cancel bool
	funding       contracts.TopUpFunding
}

// step is the smallest amount the job's partner moves, in minor units.
func (j loadJob) step() int64 {
	if j.linepay {
		return 100
	}
	return 1 // PayPay and nanaco: whole yen
}

// loadPlan hands out the run's payments and refunds in a seeded order: a refund picks a
// succeeded payment no other till is refunding, so refunds never exceed what is left.
type loadPlan struct {
	// taken and completed count jobs handed out and finished.
	taken, completed atomic.Int64

	mu sync.Mutex
	// rng picks refunds (which payment, how much) and whether a refund comes next: those
	// depend on which payments have succeeded by then.
	rng *rand.Rand
	// payRNG draws each payment's partner, amount, capture and whether its till abandons,
	// in the order payments are issued, so payment n is the same for a seed whatever the
	// tills' timing.
	payRNG *rand.Rand
	// nanacoRNG draws each payment's nanaco choices (whether nanaco, amount, flow), in the
	// same order, from a stream of its own: payRNG's draws stay what they were without it.
	nanacoRNG *rand.Rand
	// topUpRNG draws each top-up (amount, funding, cancel), in the order top-ups are
	// issued; mixRNG whether a top-up comes next. Both are streams of their own, so the
	// other draws stay what they were without top-ups.
	topUpRNG, mixRNG *rand.Rand
	manualShare      float64
	linepayShare     float64
	slowShare        float64
	nanacoShare      float64
	abandonShare     float64
	// nanacoIssued counts the nanaco payments drawn so far: they fill the seeded cards in
	// order, crashNanacoPerCard to a card.
	nanacoIssued int
	paymentsLeft int
	refundsLeft  int
	// topUpsLeft counts the top-ups not yet handed out, topUpsIssued those that were.
	topUpsLeft, topUpsIssued int
	inFlight                 int
	issued                   int
	refundable               []*refundable
}

func newLoadPlan(cfg crashConfig) *loadPlan {
	seeded := func(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(uint64(cfg.Seed), stream)) }
	return &loadPlan{rng: seeded(0x6c6f6164), payRNG: seeded(0x70617973), nanacoRNG: seeded(0x6e616e61),
		topUpRNG: seeded(0x746f7075), mixRNG: seeded(0x6d697865), topUpsLeft: topUpCount(cfg),
		manualShare: cfg.ManualShare, linepayShare: cfg.LinePayShare, slowShare: cfg.LinePaySlowShare, nanacoShare: cfg.NanacoShare,
		abandonShare: cfg.AbandonShare, paymentsLeft: cfg.Payments, refundsLeft: cfg.Refunds}
}

// next returns the next job; false when none is left (or no payment remains that could
// be refunded).
func (p *loadPlan) next(ctx context.Context) (loadJob, bool) {
	for {
		if j, ok, wait := p.take(); !wait {
			return j, ok
		}
		if sleepCtx(ctx, 20*time.Millisecond) != nil {
			return loadJob{}, false
		}
	}
}

// take picks a job under the lock; wait reports that a refund is due but must wait for a
// payment to succeed or a refund to finish.
func (p *loadPlan) take() (j loadJob, ok, wait bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func() {
		if ok {
			p.taken.Add(1)
		}
	}()
	remaining := p.paymentsLeft + p.refundsLeft
	if p.topUpsLeft > 0 && p.mixRNG.IntN(remaining+p.topUpsLeft) < p.topUpsLeft {
		return p.nextTopUp(), true, false
	}
	if p.refundsLeft > 0 && len(p.refundable) > 0 &&
		(p.paymentsLeft == 0 || p.rng.IntN(remaining) < p.refundsLeft) {
		i := p.rng.IntN(len(p.refundable))
		target := p.refundable[i]
		p.refundable = slices.Delete(p.refundable, i, i+1)
		p.refundsLeft--
		p.inFlight++
		// Partial: at most half of what is left (all of it only when one unit is left), in
		// the partner's units.
		units := target.left / target.step
		return loadJob{amount: target.step * (1 + p.rng.Int64N(max(1, units/2))), target: target}, true, false
	}
	if p.paymentsLeft > 0 {
		p.paymentsLeft--
		p.inFlight++
		p.issued++
		return p.payment(p.issued), true, false
	}
	if p.topUpsLeft > 0 { // only refunds are left, waiting for a payment: top up meanwhile
		return p.nextTopUp(), true, false
	}
	if p.refundsLeft == 0 || p.inFlight == 0 {
		return loadJob{}, false, false
	}
	return loadJob{}, false, true
}

// nextTopUp hands out the next top-up. Needs p.mu.
func (p *loadPlan) nextTopUp() loadJob {
	p.topUpsLeft--
	p.inFlight++
	p.topUpsIssued++
	return p.topUp(p.topUpsIssued)
}

// payment draws payment n from payRNG. Every payment draws the same values, whatever it
// turns out to be, so changing one share does not reshuffle the others. Needs p.mu.
func (p *loadPlan) payment(n int) loadJob {
	r := p.payRNG
	yen, twd := 100+r.Int64N(29901), 100*(1+r.Int64N(3000)) // ¥100 to ¥30,000; NT$1 to NT$3,000, whole dollars
	linepay, slow, manual, abandon, kept := r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.Float64()
	j := loadJob{n: n, amount: yen, linepay: linepay < p.linepayShare, abandon: abandon < p.abandonShare}
	if j.linepay {
		j.amount, j.slow = twd, slow < p.slowShare
		// The slow My Code is there to meet cancels while LINE is still working: with
		// abandoning tills at all, at least half of its payments are abandoned.
		j.abandon = j.abandon || (j.slow && p.abandonShare > 0 && abandon < crashSlowAbandonShare)
	}
	nr := p.nanacoRNG
	nanaco, barcode, withIDm := nr.Float64(), nr.Float64(), nr.Float64()
	nanacoYen := crashNanacoMinYen + nr.Int64N(crashNanacoMaxYen-crashNanacoMinYen+1)
	// Of the payments LINE Pay leaves, nanaco takes its share of all payments.
	if !j.linepay && p.linepayShare < 1 && nanaco*(1-p.linepayShare) < p.nanacoShare {
		j.nanaco, j.amount = true, nanacoYen
		j.card = crashNanacoCardAt(p.nanacoIssued / crashNanacoPerCard)
		j.barcode = barcode < crashNanacoBarcodeShare
		j.withIDm = !j.barcode && withIDm < crashNanacoIDmShare
		p.nanacoIssued++
	}
	if manual < p.manualShare && !j.nanaco { // nanaco has no manual capture
		// Capture all but up to half of it, in the partner's units.
		units := max(1, j.amount/j.step()/2)
		j.capture = j.amount - j.step()*int64(kept*float64(units))
	}
	return j
}

// done returns a finished job: paid is a payment that succeeded, refundable from now on.
func (p *loadPlan) done(j loadJob, paid *refundable) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight--
	for _, r := range []*refundable{paid, j.target} {
		if r != nil && r.left > 0 {
			p.refundable = append(p.refundable, r)
		}
	}
	p.completed.Add(1)
}

// loadStats counts what the tills did and heard.
type loadStats struct {
	payments, refunds, captures, retries atomic.Int64
	// slow counts LINE Pay payments made with the slow My Code.
	slow atomic.Int64
	// nanaco counts nanaco payments, nanacoBarcode those of them paid with the app's barcode.
	nanaco, nanacoBarcode atomic.Int64
	// topUps counts nanaco top-ups sent, topUpsPoints those funded by points, topUpCancels
	// the cancels of them sent.
	topUps, topUpsPoints, topUpCancels atomic.Int64

	mu       sync.Mutex
	statuses map[string]int
	notes    []string
	gaveUp   []tillRequest
	abandons abandonReport
	// topUpRecs is what the tills did about top-ups, by the create's Idempotency-Key.
	topUpRecs map[string]tillTopUp
}

func newLoadStats() *loadStats {
	return &loadStats{statuses: map[string]int{}, abandons: abandonReport{cancels: map[string]tillCancel{}},
		topUpRecs: map[string]tillTopUp{}}
}

// giveUp keeps a request the till gave up on, to send again once payhub has settled.
func (s *loadStats) giveUp(r tillRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gaveUp = append(s.gaveUp, r)
}

func (s *loadStats) gaveUpRequests() []tillRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.gaveUp)
}

// answered counts a definite answer by operation, HTTP status and object status or code.
func (s *loadStats) answered(op string, a apiAnswer) {
	what := a.str("status")
	if a.status >= 400 {
		what = a.str("code")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses[fmt.Sprintf("%s %d %s", op, a.status, what)]++
}

func (s *loadStats) note(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notes) < 10 {
		s.notes = append(s.notes, msg)
	}
}

// loadReport summarizes the load for the run's output.
type loadReport string

func (s *loadStats) report(plan *loadPlan) loadReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.statuses))
	for k := range s.statuses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d payments (%d with LINE Pay's slow My Code; %d nanaco, %d of them by barcode), %d refunds, %d captures sent; %d retries; %d gave up",
		s.payments.Load(), s.slow.Load(), s.nanaco.Load(), s.nanacoBarcode.Load(), s.refunds.Load(), s.captures.Load(), s.retries.Load(), len(s.gaveUp))
	if n := s.topUps.Load(); n > 0 {
		fmt.Fprintf(&b, "; %d nanaco top-ups (%d with points, %d cancels sent)", n, s.topUpsPoints.Load(), s.topUpCancels.Load())
	}
	plan.mu.Lock()
	if plan.refundsLeft > 0 {
		fmt.Fprintf(&b, "; %d refunds not sent (no succeeded payment left to refund)", plan.refundsLeft)
	}
	plan.mu.Unlock()
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  answered %s: %d", k, s.statuses[k])
	}
	for _, n := range s.notes {
		fmt.Fprintf(&b, "\n  till: %s", n)
	}
	return loadReport(b.String())
}

// crashCounts is the harness's verdict.
type crashCounts struct {
	PaymentsCreated, RefundsCreated, Kills, FaultsInjected int
	FaultsByKind                                           map[string]int
	// ByMethod counts payments and refunds per partner method ("paypay 280 / 70 refunds").
	ByMethod map[contracts.Method][2]int
	// TillsGaveUp counts requests that got no definite answer within the till's patience
	// during the load (informational: those still unanswered after the window count as
	// unresolved).
	TillsGaveUp int
	// Lost: money at the partner without a payhub payment, or a payhub success the
	// partner does not have.
	Lost int
	// ChargedTwice: more than one partner payment took money for one payhub payment.
	ChargedTwice int
	// RefundsDuplicated: partner refunds beyond payhub's.
	RefundsDuplicated int
	// Unresolved: payments and refunds still open after the window.
	Unresolved int
	// Mismatches: amounts that differ, or money kept for a failed or canceled payment.
	Mismatches int
	// CancelKept: payments whose cancel payhub accepted (200 canceled, 202
	// cancel_requested) that the partner still charges or holds, or that payhub did not
	// end canceled, failed or refunded in full.
	CancelKept int
	// Abandons is what the abandoning tills did (informational).
	Abandons abandonSummary
	// TopUpsCreated and TopUpsCanceled count payhub's nanaco top-ups, and those of them
	// that ended canceled.
	TopUpsCreated, TopUpsCanceled int
	// TopUpsDuplicated: more than one NCS CHARGE for one payhub top-up.
	TopUpsDuplicated int
	// Nanaco sums up the seeded nanaco cards (informational; its disagreements are counted
	// above).
	Nanaco nanacoSummary
	// Problems describe each finding.
	Problems []string
}

func (c *crashCounts) failed() bool {
	return c.Lost+c.ChargedTwice+c.RefundsDuplicated+c.TopUpsDuplicated+c.Unresolved+c.Mismatches+c.CancelKept > 0
}

func (c *crashCounts) problem(counter *int, format string, args ...any) {
	*counter++
	c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
}

func (c *crashCounts) print(w io.Writer) {
	kinds := make([]string, 0, len(c.FaultsByKind))
	for k, n := range c.FaultsByKind {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(kinds)
	for i, p := range c.Problems {
		if i == 50 {
			fmt.Fprintf(w, "problem: … %d more\n", len(c.Problems)-50)
			break
		}
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	fmt.Fprintf(w, "payments created:   %d\n", c.PaymentsCreated)
	fmt.Fprintf(w, "refunds created:    %d\n", c.RefundsCreated)
	methods := slices.Sorted(maps.Keys(c.ByMethod))
	if c.TopUpsCreated > 0 && !slices.Contains(methods, contracts.MethodNanaco) {
		methods = slices.Sorted(slices.Values(append(methods, contracts.MethodNanaco)))
	}
	for _, m := range methods {
		fmt.Fprintf(w, "  %-17s %d payments, %d refunds", string(m)+":", c.ByMethod[m][0], c.ByMethod[m][1])
		if m == contracts.MethodNanaco && c.TopUpsCreated > 0 {
			fmt.Fprintf(w, ", %d top-ups (%d canceled)", c.TopUpsCreated, c.TopUpsCanceled)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "kills:              %d\n", c.Kills)
	fmt.Fprintf(w, "faults injected:    %d (%s)\n", c.FaultsInjected, strings.Join(kinds, ", "))
	fmt.Fprintf(w, "tills gave up:      %d\n", c.TillsGaveUp)
	a := c.Abandons
	var accepted []string
	for _, m := range slices.Sorted(maps.Keys(a.AcceptedByMethod)) {
		accepted = append(accepted, fmt.Sprintf("%s %d", m, a.AcceptedByMethod[m]))
	}
	byMethod := ""
	if len(accepted) > 0 {
		byMethod = " (" + strings.Join(accepted, ", ") + ")"
	}
	fmt.Fprintf(w, "tills abandoned:    %d payments (%d never written; %d cancels sent: %d accepted%s, %d refused, then %d refunds by the till); %d nanaco sales voided\n",
		a.Abandoned, a.NotWritten, a.CancelsSent, a.CancelsAccepted, byMethod, a.CancelsRefused, a.TillRefunds, a.Voided)
	if n := c.Nanaco; n.Cards > 0 {
		fmt.Fprintf(w, "nanaco cards:       %d seeded, %d used: their value fell by ¥%d; payhub took ¥%d less ¥%d refunded less ¥%d topped up = ¥%d\n",
			n.Cards, n.Used, n.Fell, n.Taken, n.Refunded, n.ToppedUp, n.Taken-n.Refunded-n.ToppedUp)
	}
	fmt.Fprintf(w, "payments lost:      %d\n", c.Lost)
	fmt.Fprintf(w, "charged twice:      %d\n", c.ChargedTwice)
	fmt.Fprintf(w, "refunds duplicated: %d\n", c.RefundsDuplicated)
	fmt.Fprintf(w, "top-ups duplicated: %d\n", c.TopUpsDuplicated)
	fmt.Fprintf(w, "unresolved:         %d\n", c.Unresolved)
	fmt.Fprintf(w, "amount mismatches:  %d\n", c.Mismatches)
	fmt.Fprintf(w, "cancel accepted but money kept: %d\n", c.CancelKept)
}

// payhubPaymentID is the payhub payment behind a merchantPaymentId (payment id + "_" +
// attempt).
func payhubPaymentID(merchantPaymentID string) string {
	if i := strings.LastIndexByte(merchantPaymentID, '_'); i > 0 {
		return merchantPaymentID[:i]
	}
	return merchantPaymentID
}

// partnerPayment is one payment in a partner's ledger, in the harness's terms, so every
// partner reconciles the same way.
type partnerPayment struct {
	// PaymentID is the payhub payment it was made for, when the partner does not name it
	// itself (nanaco: the payment whose attempt carried its key); empty, PartnerRef names it.
	PaymentID string `json:",omitempty"`
	// PartnerRef is the partner-facing id: payhub payment id + "_" + attempt (nanaco: the
	// centerTxnId and the key).
	PartnerRef string
	// Status is the partner's own status, for the report.
	Status string
	// Held: an authorization still holds the customer's money.
	Held bool
	// Amount is what was asked (authorized, for a pre-authorization).
	Amount int64
	// Charged is what the partner took (the capture, for a pre-authorization), before refunds.
	Charged int64
	// Refunded is the sum of its refunds.
	Refunded int64
	// Refunds are its refunds; ID is payhub's refund id when the partner keeps one.
	Refunds []partnerRefund
	// RefundIDs: the partner names refunds by payhub's refund id (PayPay merchantRefundId).
	RefundIDs bool
}

// partnerRefund is one refund in a partner's ledger.
type partnerRefund struct {
	ID     string
	Amount int64
	// TxnID is the partner's own id for it (nanaco: the REFUND's centerTxnId).
	TxnID string `json:",omitempty"`
}

// fromPayPay reads a PayPay simulator ledger entry.
func fromPayPay(lp paypaysim.LedgerPayment) partnerPayment {
	p := partnerPayment{PartnerRef: lp.MerchantPaymentID, Status: lp.Status, Held: lp.Status == paypaysim.StatusAuthorized,
		Amount: lp.Amount, Refunded: lp.Refunded, RefundIDs: true}
	if lp.Status == paypaysim.StatusCompleted || lp.Status == paypaysim.StatusRefunded {
		p.Charged = lp.Amount
		if lp.PreAuthorization {
			p.Charged = lp.Captured
		}
	}
	for _, r := range lp.Refunds {
		p.Refunds = append(p.Refunds, partnerRefund{ID: r.MerchantRefundID, Amount: r.Amount})
	}
	return p
}

// fromLinePay reads a LINE Pay simulator ledger entry (amounts in major units, TWD whole).
func fromLinePay(lp linepaysim.LedgerPayment) (partnerPayment, error) {
	p := partnerPayment{PartnerRef: lp.OrderID, Status: lp.Status, Held: lp.Status == linepaysim.StatusAuthorized}
	var err error
	minor := func(n json.Number) int64 {
		v, e := majorToMinor(n)
		if e != nil && err == nil {
			err = fmt.Errorf("LINE Pay ledger %s: %w", lp.OrderID, e)
		}
		return v
	}
	p.Amount, p.Charged, p.Refunded = minor(lp.Amount), minor(lp.Captured), minor(lp.Refunded)
	for _, r := range lp.Refunds {
		p.Refunds = append(p.Refunds, partnerRefund{ID: r.RefundTransactionID, Amount: minor(r.Amount)})
	}
	return p, err
}

// majorToMinor turns a decimal amount in major units ("250", "99.5") into minor units
// (2 digits), exactly: never through a float.
func majorToMinor(n json.Number) (int64, error) {
	s := string(n)
	if s == "" {
		return 0, nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("amount %q has more than 2 decimals", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	f, err := strconv.ParseUint(frac, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	if w < 0 {
		return w*100 - int64(f), nil
	}
	return w*100 + int64(f), nil
}

// moved reports whether a partner payment took or holds the customer's money.
func (p partnerPayment) moved() bool { return p.Charged > 0 || p.Held }

// reconcile compares payhub's records with the partner's ledger, and checks that payhub
// honoured every cancel it accepted from an abandoning till (cancels, by payment id).
func reconcile(records []payhubRecord, ledger []partnerPayment, cancels map[string]tillCancel) crashCounts {
	var c crashCounts
	atPartner := map[string][]partnerPayment{}
	for _, lp := range ledger {
		id := lp.PaymentID
		if id == "" {
			id = payhubPaymentID(lp.PartnerRef)
		}
		atPartner[id] = append(atPartner[id], lp)
	}
	known := map[string]bool{}
	for _, rec := range records {
		known[rec.Payment.ID] = true
		c.PaymentsCreated++
		c.RefundsCreated += len(rec.Refunds)
		if c.ByMethod == nil {
			c.ByMethod = map[contracts.Method][2]int{}
		}
		n := c.ByMethod[rec.Payment.Method]
		c.ByMethod[rec.Payment.Method] = [2]int{n[0] + 1, n[1] + len(rec.Refunds)}
		c.reconcilePayment(rec, atPartner[rec.Payment.ID])
		if tc, ok := cancels[rec.Payment.ID]; ok && tc.Accepted {
			c.checkCancelHonoured(rec, atPartner[rec.Payment.ID], tc)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(cancels)) {
		if tc := cancels[id]; tc.Accepted && !known[id] {
			c.problem(&c.CancelKept, "%s: payhub accepted its cancel (%s) but has no such payment", id, tc.Answer)
		}
	}
	for id, entries := range atPartner {
		for _, lp := range entries {
			if !known[id] && lp.moved() {
				c.problem(&c.Lost, "%s: partner %s %d, payhub has no payment %s", lp.PartnerRef, lp.Status, lp.Amount, id)
			}
		}
	}
	return c
}

// reconcilePayment checks one payhub payment against the partner payments made for it.
func (c *crashCounts) reconcilePayment(rec payhubRecord, entries []partnerPayment) {
	p := rec.Payment
	var moved []partnerPayment
	for _, lp := range entries {
		if lp.moved() {
			moved = append(moved, lp)
		}
	}
	if len(moved) > 1 {
		c.problem(&c.ChargedTwice, "%s: %d partner payments took money", p.ID, len(moved))
	}
	open := paymentOpen(p.Status)
	for _, r := range rec.Refunds {
		if refundOpen(r.Status) {
			c.problem(&c.Unresolved, "%s: refund %s still %s", p.ID, r.ID, r.Status)
			open = true
		}
	}
	if paymentOpen(p.Status) {
		c.problem(&c.Unresolved, "%s: still %s", p.ID, p.Status)
	}
	for _, a := range openAttempts(rec) {
		c.problem(&c.Unresolved, "%s: %s attempt %s (%s) never finished; payment %s", p.ID, a.Operation, a.ID, a.PartnerRef, p.Status)
		open = true
	}
	if open {
		return
	}
	switch p.Status {
	case contracts.StatusSucceeded, contracts.StatusAuthorized:
		if len(moved) == 0 {
			c.problem(&c.Lost, "%s: payhub %s %d, the partner took nothing", p.ID, p.Status, p.Amount.Amount)
			return
		}
		c.compareAmounts(p, moved[0])
	case contracts.StatusFailed, contracts.StatusCanceled:
		for _, lp := range entries {
			if kept := lp.Charged - lp.Refunded; kept > 0 || lp.Held {
				c.problem(&c.Mismatches, "%s: payhub %s, partner %s keeps %d (%s)", p.ID, p.Status, lp.PartnerRef, kept, lp.Status)
			}
		}
	}
	c.compareRefunds(p, rec.Refunds, entries)
}

// compareAmounts checks captured and refunded amounts of a payment that moved money.
func (c *crashCounts) compareAmounts(p contracts.Payment, lp partnerPayment) {
	if p.Status == contracts.StatusAuthorized {
		if !lp.Held || lp.Amount != p.Amount.Amount {
			c.problem(&c.Mismatches, "%s: payhub authorized %d, partner %s %d", p.ID, p.Amount.Amount, lp.Status, lp.Amount)
		}
		return
	}
	if lp.Charged != p.AmountCaptured {
		c.problem(&c.Mismatches, "%s: payhub captured %d, partner %s took %d", p.ID, p.AmountCaptured, lp.Status, lp.Charged)
	}
	if lp.Refunded != p.AmountRefunded {
		c.problem(&c.Mismatches, "%s: payhub refunded %d, partner %d", p.ID, p.AmountRefunded, lp.Refunded)
	}
}

// compareRefunds matches every partner refund to a succeeded payhub refund — by payhub's
// refund id where the partner keeps it, else by count and amounts — and every succeeded
// payhub refund to the partner.
func (c *crashCounts) compareRefunds(p contracts.Payment, refunds []contracts.Refund, entries []partnerPayment) {
	var succeeded []contracts.Refund
	for _, r := range refunds {
		if r.Status == contracts.RefundSucceeded {
			succeeded = append(succeeded, r)
		}
	}
	for _, lp := range entries {
		if !lp.RefundIDs {
			c.compareRefundAmounts(p, succeeded, lp)
			return
		}
	}
	byID := map[string]contracts.Refund{}
	for _, r := range refunds {
		byID[r.ID] = r
	}
	matched := map[string]bool{}
	for _, lp := range entries {
		for _, lr := range lp.Refunds {
			r, ok := byID[lr.ID]
			switch {
			case !ok || matched[lr.ID]:
				c.problem(&c.RefundsDuplicated, "%s: partner refund %s of %d has no payhub refund", p.ID, lr.ID, lr.Amount)
			case r.Status != contracts.RefundSucceeded:
				c.problem(&c.RefundsDuplicated, "%s: partner refunded %s (%d), payhub says %s", p.ID, r.ID, lr.Amount, r.Status)
			case r.Amount.Amount != lr.Amount:
				c.problem(&c.Mismatches, "%s: refund %s payhub %d, partner %d", p.ID, r.ID, r.Amount.Amount, lr.Amount)
			}
			matched[lr.ID] = true
		}
	}
	for _, r := range succeeded {
		if !matched[r.ID] {
			c.problem(&c.Mismatches, "%s: payhub refund %s succeeded (%d), the partner has none", p.ID, r.ID, r.Amount.Amount)
		}
	}
}

// compareRefundAmounts matches refunds of a partner without refund ids (LINE Pay): the
// same number, with the same amounts in the same order.
func (c *crashCounts) compareRefundAmounts(p contracts.Payment, succeeded []contracts.Refund, lp partnerPayment) {
	if len(lp.Refunds) > len(succeeded) {
		c.problem(&c.RefundsDuplicated, "%s: partner made %d refunds, payhub %d succeeded", p.ID, len(lp.Refunds), len(succeeded))
		return
	}
	if len(lp.Refunds) < len(succeeded) {
		c.problem(&c.Mismatches, "%s: payhub has %d succeeded refunds, the partner %d", p.ID, len(succeeded), len(lp.Refunds))
		return
	}
	for i, r := range succeeded {
		if r.Amount.Amount != lp.Refunds[i].Amount {
			c.problem(&c.Mismatches, "%s: refund %s payhub %d, partner %d", p.ID, r.ID, r.Amount.Amount, lp.Refunds[i].Amount)
		}
	}
}
