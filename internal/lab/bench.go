package lab

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/store"
	linepaysim "payhub/mocks/linepay"
	paypaysim "payhub/mocks/paypay"
)

// benchConfig is one `payhub bench` run.
type benchConfig struct {
	Quick bool
	// DBs are "sqlite" and/or postgres:// server URLs (a throwaway database is made on each).
	DBs []string
	// Rate and Duration are the fixed-rate run; Rate 0 with Saturate means half of payhub's
	// saturation rate.
	Rate     int
	Duration time.Duration
	Warmup   time.Duration
	// Latency is the partner simulators' added latency on every API call.
	Latency time.Duration
	// Saturate finds each server's highest rate with p99 ≤ P99Bound and ≥ 99% success.
	Saturate     bool
	P99Bound     time.Duration
	StepDuration time.Duration
	StartRate    int
	MaxRate      int
	Bisections   int
	Mix          string
	Seed         int64
	JSON         string
	ProfileDir   string
	Keep         bool
	Timeout      time.Duration
	// Servers limits the run to some of payhub and passthrough (profiling one of them).
	Servers []string
	// Payhub is the payhub binary (serve, sim); "" is the one next to payhub-lab.
	Payhub string
	// bins are the programs the run starts, found from Payhub.
	bins binaries
}

func benchCommand() *cobra.Command {
	var cfg benchConfig
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load payhub and a bare pass-through with the same mix at a constant arrival rate; print them side by side",
		Long: `Start 'payhub sim' (every partner call delayed by --latency), 'payhub serve' and a bare
pass-through ('payhub passthrough': a gin handler that verifies and stores nothing and makes
the same adapter call), then drive each with the same open-model load (vegeta, constant
arrival rate) of in-store payments — PayPay barcodes, LINE Pay My Codes, PayPay QR —
partial refunds and lookups. Reports throughput, p50/p90/p99/max latency, errors by code,
the server's CPU time and peak RSS (from /proc), and payhub's cost as a ratio to the
pass-through. With --saturate it first finds each server's highest rate whose p99 stays
under --p99-bound, then runs both at half of payhub's. Runs on SQLite, and on PostgreSQL
for each --db postgres://… server given (a throwaway database per run).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if cfg.Quick {
				cfg.applyQuick(cmd)
			}
			report, err := runBench(ctx, cfg, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if cfg.JSON != "" {
				raw, err := json.MarshalIndent(report, "", "  ")
				if err != nil {
					return err
				}
				return os.WriteFile(cfg.JSON, append(raw, '\n'), 0o644)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&cfg.Quick, "quick", false, "CI size: SQLite only unless --db, 60 req/s for 5 s, no saturation search (well under a minute)")
	f.StringArrayVar(&cfg.DBs, "db", []string{"sqlite"}, `database to run on, repeatable: "sqlite" or a postgres://… server URL`)
	f.IntVar(&cfg.Rate, "rate", 0, "fixed-rate run, requests per second (default: half of payhub's saturation rate with --saturate, else 100)")
	f.DurationVar(&cfg.Duration, "duration", 15*time.Second, "length of the fixed-rate run")
	f.DurationVar(&cfg.Warmup, "warmup", 3*time.Second, "warm-up load before measuring, at a low rate")
	f.DurationVar(&cfg.Latency, "latency", 20*time.Millisecond, "latency the simulators add to every partner API call")
	f.BoolVar(&cfg.Saturate, "saturate", false, "find each server's saturation rate first (step up, then bisect)")
	f.DurationVar(&cfg.P99Bound, "p99-bound", 100*time.Millisecond, "a rate is held when p99 stays at or under this and ≥ 99% of requests succeed")
	f.DurationVar(&cfg.StepDuration, "step-duration", 6*time.Second, "length of each saturation step")
	f.IntVar(&cfg.StartRate, "start-rate", 50, "first saturation step, requests per second")
	f.IntVar(&cfg.MaxRate, "max-rate", 5000, "highest rate the saturation search tries")
	f.IntVar(&cfg.Bisections, "bisections", 3, "bisection steps after the step-up found a failing rate")
	f.StringVar(&cfg.Mix, "mix", defaultBenchMix, "operation weights: paypay (barcode), linepay (My Code), qr (PayPay QR), refund, lookup")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed of the operation mix and amounts")
	f.StringVar(&cfg.JSON, "json", "", "also write the report as JSON to this file")
	f.StringVar(&cfg.ProfileDir, "profile-dir", "", "write CPU and heap profiles of serve and the pass-through into this directory")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory (databases, process logs)")
	f.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "request timeout (a timed-out request counts as an error)")
	f.StringSliceVar(&cfg.Servers, "servers", []string{"passthrough", "payhub"}, "servers to load (both for the table; one to profile it)")
	f.StringVar(&cfg.Payhub, "payhub", "", "the payhub binary to run (default: payhub next to payhub-lab)")
	return cmd
}

const defaultBenchMix = "paypay=45,linepay=20,qr=10,refund=10,lookup=15"

// applyQuick sets the CI size for every flag the user did not set.
func (c *benchConfig) applyQuick(cmd *cobra.Command) {
	set := func(name string, apply func()) {
		if !cmd.Flags().Changed(name) {
			apply()
		}
	}
	set("rate", func() { c.Rate = 60 })
	set("duration", func() { c.Duration = 5 * time.Second })
	set("warmup", func() { c.Warmup = time.Second })
	set("saturate", func() { c.Saturate = false })
}

// benchOps are the operations of the mix.
var benchOps = []string{"paypay", "linepay", "qr", "refund", "lookup"}

func parseBenchMix(s string) (map[string]int, error) {
	mix := map[string]int{}
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 || !slices.Contains(benchOps, name) {
			return nil, fmt.Errorf("bench: --mix %q: want name=weight with names %s", part, strings.Join(benchOps, ", "))
		}
		mix[name] = n
		total += n
	}
	if total == 0 {
		return nil, errors.New("bench: --mix weighs nothing")
	}
	return mix, nil
}

// BenchReport is the whole run, as printed and as written by --json.
type BenchReport struct {
	Machine   string         `json:"machine"`
	CPUs      int            `json:"cpus"`
	LatencyMS float64        `json:"partner_latency_ms"`
	Mix       string         `json:"mix"`
	P99Bound  float64        `json:"p99_bound_ms"`
	Runs      []BenchDBRun   `json:"runs"`
	Verdicts  []BenchVerdict `json:"verdicts"`
}

// BenchDBRun is payhub and the pass-through on one database.
type BenchDBRun struct {
	DB          string        `json:"db"`
	Payhub      BenchServer   `json:"payhub"`
	Passthrough BenchServer   `json:"passthrough"`
	Steps       []BenchResult `json:"saturation_steps,omitempty"`
}

// BenchServer is what one server did.
type BenchServer struct {
	// Saturation is the highest rate held (0 without --saturate) and its result.
	Saturation *BenchResult `json:"saturation,omitempty"`
	// Fixed is the fixed-rate run.
	Fixed BenchResult `json:"fixed"`
	// PeakRSSMB is the process's VmHWM at the end of its runs (saturation included).
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

// BenchResult is one attack on one server.
type BenchResult struct {
	Server     string  `json:"server"`
	Rate       int     `json:"rate"`
	Seconds    float64 `json:"seconds"`
	Requests   int     `json:"requests"`
	Succeeded  int     `json:"succeeded"`
	Throughput float64 `json:"throughput"`
	P50MS      float64 `json:"p50_ms"`
	P90MS      float64 `json:"p90_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
	// Errors counts failed requests by "HTTP status code" or transport error.
	Errors map[string]int `json:"errors"`
	// Ops counts requests by operation, Outcomes payments by status.
	Ops      map[string]int `json:"ops"`
	Outcomes map[string]int `json:"outcomes"`
	// OpP50MS and OpP99MS are the latency percentiles per operation.
	OpP50MS map[string]float64 `json:"op_p50_ms"`
	OpP99MS map[string]float64 `json:"op_p99_ms"`
	// CPUSeconds is the server process's user+system CPU time during the attack.
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUMSPerRequest float64 `json:"cpu_ms_per_request"`
	// Held: the saturation criteria were met (p99 ≤ bound, ≥ 99% succeeded, throughput ≥ 95% of the rate).
	Held bool `json:"held"`
}

// BenchVerdict is one Done-when line of the issue.
type BenchVerdict struct {
	DB     string `json:"db"`
	Check  string `json:"check"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// runBench runs everything and prints the table.
func runBench(ctx context.Context, cfg benchConfig, out io.Writer) (*BenchReport, error) {
	mix, err := parseBenchMix(cfg.Mix)
	if err != nil {
		return nil, err
	}
	if cfg.bins, err = findBinaries(cfg.Payhub); err != nil {
		return nil, err
	}
	if len(cfg.DBs) == 0 {
		cfg.DBs = []string{"sqlite"}
	}
	for _, db := range cfg.DBs {
		if db != "sqlite" && dbKind(db) != "postgres" {
			return nil, fmt.Errorf("bench: --db %q: want sqlite or a postgres:// URL", db)
		}
	}
	dir, err := os.MkdirTemp("", "payhub-bench-")
	if err != nil {
		return nil, err
	}
	if cfg.Keep {
		fmt.Fprintf(out, "bench: keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return nil, err
		}
	}
	report := &BenchReport{Machine: cpuModel(), CPUs: runtime.NumCPU(), LatencyMS: ms(cfg.Latency), Mix: cfg.Mix, P99Bound: ms(cfg.P99Bound)}
	fmt.Fprintf(out, "bench: %d CPUs (%s), partner latency %s, mix %s\n", report.CPUs, report.Machine, cfg.Latency, cfg.Mix)
	for i, db := range cfg.DBs {
		run, err := benchOnDB(ctx, cfg, mix, db, filepath.Join(dir, fmt.Sprintf("run-%d", i)), out)
		if err != nil {
			return nil, err
		}
		report.Runs = append(report.Runs, run)
	}
	report.Verdicts = verdicts(report, cfg)
	printBenchReport(out, report)
	return report, nil
}

// benchRig is the processes of one database's run.
type benchRig struct {
	cfg        benchConfig
	dir        string
	dbURL      string
	simURL     string
	linepayURL string
	till       *benchTill
	keys       *oneTimeKeys
	sim        *childProcess
	servers    map[string]*benchServerProc
}

type benchServerProc struct {
	name string
	url  string
	proc *childProcess
}

func benchOnDB(ctx context.Context, cfg benchConfig, mix map[string]int, db, dir string, out io.Writer) (BenchDBRun, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return BenchDBRun{}, err
	}
	rig := &benchRig{cfg: cfg, dir: dir, servers: map[string]*benchServerProc{}}
	run := BenchDBRun{DB: "sqlite"}
	if db == "sqlite" {
		rig.dbURL = "sqlite:" + filepath.Join(dir, "payhub.db")
	} else {
		run.DB = "postgres"
		url, drop, err := throwawayPostgres(ctx, db)
		if err != nil {
			return run, err
		}
		defer drop()
		rig.dbURL = url
	}
	defer rig.shutdown()
	if err := rig.start(ctx); err != nil {
		return run, err
	}
	fmt.Fprintf(out, "\n== %s\n", run.DB)
	var order []string
	for _, name := range []string{"passthrough", "payhub"} {
		if slices.Contains(cfg.Servers, name) {
			order = append(order, name)
		}
	}
	if len(order) == 0 {
		return run, errors.New("bench: --servers names neither payhub nor passthrough")
	}
	results := map[string]*BenchServer{"payhub": &run.Payhub, "passthrough": &run.Passthrough}
	for _, name := range order {
		s := rig.servers[name]
		load := newBenchLoad(mix, cfg.Seed, rig.till, s.url, rig.keys)
		if cfg.Warmup > 0 {
			if _, err := rig.attack(ctx, load, s, 20, cfg.Warmup); err != nil {
				return run, err
			}
		}
		if cfg.Saturate {
			sat, steps, err := rig.saturate(ctx, load, s, out)
			if err != nil {
				return run, err
			}
			results[name].Saturation = sat
			run.Steps = append(run.Steps, steps...)
		}
	}
	rate := cfg.Rate
	if rate == 0 {
		rate = 100
		if run.Payhub.Saturation != nil && run.Payhub.Saturation.Rate > 0 {
			rate = max(1, run.Payhub.Saturation.Rate/2)
		}
	}
	fmt.Fprintf(out, "fixed rate %d req/s for %s\n", rate, cfg.Duration)
	for _, name := range order {
		s := rig.servers[name]
		load := newBenchLoad(mix, cfg.Seed+1, rig.till, s.url, rig.keys)
		// A few payments first, so refunds and lookups have something to act on.
		if _, err := rig.attack(ctx, load, s, 20, time.Second); err != nil {
			return run, err
		}
		r, err := rig.attack(ctx, load, s, rate, cfg.Duration)
		if err != nil {
			return run, err
		}
		fmt.Fprintf(out, "  %-11s %s\n", name, r.summary())
		results[name].Fixed = r
		results[name].PeakRSSMB = peakRSSMB(s.proc)
	}
	return run, nil
}

// start registers the till, then starts the simulators, serve and the pass-through.
func (r *benchRig) start(ctx context.Context) error {
	st, err := store.Open(ctx, r.dbURL)
	if err != nil {
		return err
	}
	t, err := registerBenchTill(ctx, st)
	st.Close()
	if err != nil {
		return err
	}
	r.till = t
	addrs := make([]string, 4)
	for i := range addrs {
		if addrs[i], err = freeLoopbackAddr(); err != nil {
			return err
		}
	}
	r.simURL, r.linepayURL = "http://"+addrs[0], "http://"+addrs[1]
	env := []string{secretKeyEnv(), auditKeyEnv(), "PAYHUB_PAYPAY_API_KEY=" + paypaysim.DemoAPIKey, "PAYHUB_PAYPAY_API_SECRET=" + paypaysim.DemoAPISecret,
		"PAYHUB_PAYPAY_MERCHANT_ID=" + paypaysim.DemoMerchantID, "PAYHUB_PAYPAY_BASE_URL=" + r.simURL,
		"PAYHUB_LINEPAY_CHANNEL_ID=" + linepaysim.DemoChannelID, "PAYHUB_LINEPAY_CHANNEL_SECRET=" + linepaysim.DemoChannelSecret,
		"PAYHUB_LINEPAY_BASE_URL=" + r.linepayURL, "PAYHUB_LINEPAY_CURRENCY=TWD"}
	// Every simulator on a free port: a demo running on this machine holds the defaults.
	gmopgAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	simArgs := []string{"sim", "--paypay-addr", addrs[0], "--linepay-addr", addrs[1], "--gmopg-addr", gmopgAddr, "--nanaco-addr", "127.0.0.1:0"}
	if r.cfg.Latency > 0 {
		simArgs = append(simArgs, "--faults", benchLatencySpec(r.cfg.Latency))
	}
	r.sim = &childProcess{name: "sim", logPath: filepath.Join(r.dir, "sim.log"), bin: r.cfg.bins.payhub, env: env, args: simArgs}
	if err := r.sim.start(); err != nil {
		return err
	}
	if err := waitReady(ctx, r.sim, r.simURL+"/_sim/faults"); err != nil {
		return err
	}
	if err := waitReady(ctx, r.sim, r.linepayURL+"/_sim/payments"); err != nil {
		return err
	}
	r.keys = &oneTimeKeys{url: r.linepayURL + "/_sim/oneTimeKeys", ch: make(chan oneTimeKey, 50000)}
	kind := dbKind(r.dbURL)
	serveArgs := []string{"serve", "--addr", addrs[2], "--db", r.dbURL, "--no-default-limits", "--drain-timeout", "2s", "--metrics-addr", ""}
	ptArgs := []string{"passthrough", "--addr", addrs[3]}
	if r.cfg.ProfileDir != "" {
		prefix := filepath.Join(r.cfg.ProfileDir, kind)
		serveArgs = append([]string{"profiled-serve", prefix + "-payhub.cpu.pprof", prefix + "-payhub.heap.pprof"}, serveArgs[1:]...)
		ptArgs = append(ptArgs, "--cpuprofile", prefix+"-passthrough.cpu.pprof")
	}
	for _, s := range []struct{ name, addr string }{{"payhub", addrs[2]}, {"passthrough", addrs[3]}} {
		args := serveArgs
		if s.name == "passthrough" {
			args = ptArgs
		}
		// payhub serve as shipped; the pass-through and the profiled serve are the lab's own.
		bin := r.cfg.bins.payhub
		if args[0] != "serve" {
			bin = r.cfg.bins.lab
		}
		addr := s.addr
		for attempt := 1; ; attempt++ {
			p := &childProcess{name: s.name, logPath: filepath.Join(r.dir, s.name+".log"), bin: bin, env: env, args: withAddr(args, addr)}
			if err := p.start(); err != nil {
				return err
			}
			r.servers[s.name] = &benchServerProc{name: s.name, url: "http://" + addr, proc: p}
			err := waitReady(ctx, p, "http://"+addr+"/healthz")
			if err == nil {
				break
			}
			// The free port was taken between the probe and the bind (an outgoing
			// connection's ephemeral port comes from the same range): another one.
			if attempt >= 3 || !strings.Contains(p.logTail(), "address already in use") {
				return err
			}
			p.stop()
			if addr, err = freeLoopbackAddr(); err != nil {
				return err
			}
		}
	}
	return nil
}

// withAddr is args with the value of --addr replaced by addr.
func withAddr(args []string, addr string) []string {
	out := slices.Clone(args)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "--addr" {
			out[i+1] = addr
		}
	}
	return out
}

func (r *benchRig) shutdown() {
	for _, s := range r.servers {
		s.proc.stop()
	}
	if r.sim != nil {
		r.sim.stop()
	}
}

// benchLatencySpec delays every partner API call (PayPay /v2/, LINE Pay /v3/ and /v4/).
func benchLatencySpec(d time.Duration) string {
	var rules []string
	for _, p := range crashFaultPrefixes {
		rules = append(rules, fmt.Sprintf("* %s 1 latency:%s", p, d))
	}
	return strings.Join(rules, "; ")
}

// throwawayPostgres creates a fresh database on the server at base and returns its URL and
// a function that drops it.
func throwawayPostgres(ctx context.Context, base string) (string, func(), error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("payhub_bench_%d_%d", time.Now().UnixNano(), os.Getpid())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("bench: create database on %s: %w", dbKind(base), err)
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}
	return u.String(), drop, nil
}

// benchTill is the store client the load signs its tokens as.
type benchTill struct {
	key                    crypto.Signer
	kid, clientID, storeID string

	mu      sync.Mutex
	token   string
	tokenAt time.Time
}

func registerBenchTill(ctx context.Context, st contracts.Store) (*benchTill, error) {
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		return nil, err
	}
	pub, err := auth.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	now := time.Now().UTC()
	c := contracts.StoreClient{ID: id, Name: "payhub bench", Stores: []string{id}, CreatedAt: now,
		Keys: []contracts.ClientKey{{KID: id, ClientID: id, Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pub, CreatedAt: now}}}
	if err := st.CreateStoreClient(ctx, c); err != nil {
		return nil, fmt.Errorf("register bench client: %w", err)
	}
	return &benchTill{key: key, kid: id, clientID: id, storeID: id}, nil
}

// bearer is a token for the till, minted afresh every 30 seconds. payhub verifies every
// request's token in full whether or not it saw it before, so reusing one for a while
// keeps the load generator's own CPU off the measurement without sparing the server.
func (t *benchTill) bearer() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && time.Since(t.tokenAt) < 30*time.Second {
		return t.token, nil
	}
	tok, err := auth.Mint(auth.TokenRequest{Key: t.key, KeyID: t.kid, ClientID: t.clientID, StoreID: t.storeID,
		IssuedAt: time.Now(), TTL: 2 * time.Minute})
	if err != nil {
		return "", err
	}
	t.token, t.tokenAt = "Bearer "+tok, time.Now()
	return t.token, nil
}

// oneTimeKey is a customer's LINE Pay My Code, fetched from the simulator ahead of the
// load (the fetch is the customer's app, not the till's request).
type oneTimeKey struct {
	key string
	at  time.Time
}

type oneTimeKeys struct {
	url   string
	ch    chan oneTimeKey
	short atomic.Int64
}

// fill tops the pool up to n fresh keys (dropping any older than 4 minutes: they live 5).
func (k *oneTimeKeys) fill(ctx context.Context, n int) error {
	n = min(n, cap(k.ch))
	fresh := make([]oneTimeKey, 0, len(k.ch))
	for len(k.ch) > 0 {
		key := <-k.ch
		if time.Since(key.at) < 4*time.Minute {
			fresh = append(fresh, key)
		}
	}
	for _, key := range fresh {
		k.ch <- key
	}
	need := n - len(k.ch)
	if need <= 0 {
		return nil
	}
	var wg sync.WaitGroup
	var firstErr error
	var errMu sync.Mutex
	work := make(chan struct{}, need)
	for range need {
		work <- struct{}{}
	}
	close(work)
	for range 8 {
		wg.Go(func() {
			for range work {
				var body struct {
					OneTimeKey string `json:"oneTimeKey"`
				}
				if err := simJSONStatus(ctx, http.MethodPost, k.url, http.StatusCreated, &body); err != nil {
					errMu.Lock()
					firstErr = cmpOr(firstErr, err)
					errMu.Unlock()
					return
				}
				k.ch <- oneTimeKey{key: body.OneTimeKey, at: time.Now()}
			}
		})
	}
	wg.Wait()
	return firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// take is a fresh key, or false when the pool ran dry (the load then pays with PayPay).
func (k *oneTimeKeys) take() (string, bool) {
	for {
		select {
		case key := <-k.ch:
			if time.Since(key.at) < 4*time.Minute {
				return key.key, true
			}
		default:
			k.short.Add(1)
			return "", false
		}
	}
}

// benchLoad makes the requests of one server's runs and learns from their answers which
// payments it may refund and look up.
type benchLoad struct {
	base string
	till *benchTill
	keys *oneTimeKeys
	ops  []string // one entry per weight unit

	mu         sync.Mutex
	rng        *rand.Rand
	n          int64
	refundable []refundTarget
	lookups    []string
	lookupNext int
}

type refundTarget struct {
	id       string
	amount   int64
	currency string
}

func newBenchLoad(mix map[string]int, seed int64, till *benchTill, base string, keys *oneTimeKeys) *benchLoad {
	l := &benchLoad{base: base, till: till, keys: keys, rng: rand.New(rand.NewPCG(uint64(seed), 0x62656e63))}
	for _, op := range benchOps {
		for range mix[op] {
			l.ops = append(l.ops, op)
		}
	}
	return l
}

// share is the part of requests that are op.
func (l *benchLoad) share(op string) float64 {
	n := 0
	for _, o := range l.ops {
		if o == op {
			n++
		}
	}
	return float64(n) / float64(len(l.ops))
}

// targeter hands vegeta the next request. The op goes into X-Request-Id, which both
// servers echo, so each answer is counted under its operation.
func (l *benchLoad) targeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		token, err := l.till.bearer()
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.n++
		n := l.n
		op := l.ops[l.rng.IntN(len(l.ops))]
		amount := 100 + l.rng.Int64N(29901)
		var target refundTarget
		var lookup string
		switch op {
		case "refund":
			if len(l.refundable) == 0 {
				op = "paypay"
				break
			}
			i := l.rng.IntN(len(l.refundable))
			target = l.refundable[i]
			l.refundable[i] = l.refundable[len(l.refundable)-1]
			l.refundable = l.refundable[:len(l.refundable)-1]
		case "lookup":
			if len(l.lookups) == 0 {
				op = "paypay"
				break
			}
			lookup = l.lookups[l.rng.IntN(len(l.lookups))]
		}
		l.mu.Unlock()

		header := http.Header{}
		header.Set("Authorization", token)
		header.Set("X-Request-Id", fmt.Sprintf("bench.%s.%d", op, n))
		t.Header = header
		switch op {
		case "lookup":
			t.Method, t.URL, t.Body = http.MethodGet, l.base+"/v1/payments/"+lookup, nil
			return nil
		case "refund":
			refund := target.amount / 2
			if target.currency == string(contracts.TWD) {
				refund = max(100, refund/100*100)
			}
			t.Method, t.URL = http.MethodPost, l.base+"/v1/payments/"+target.id+"/refunds"
			t.Body = fmt.Appendf(nil, `{"amount":%d,"reason":"bench partial refund"}`, max(1, refund))
		default:
			t.Method, t.URL = http.MethodPost, l.base+"/v1/payments"
			t.Body = l.paymentBody(op, n, amount)
		}
		header.Set("Content-Type", "application/json")
		header.Set("Idempotency-Key", fmt.Sprintf("bench-%s-%d-%d", op, time.Now().UnixNano(), n))
		return nil
	}
}

func (l *benchLoad) paymentBody(op string, n, amount int64) []byte {
	terminal := fmt.Sprintf("till-%02d", n%16)
	order := fmt.Sprintf("bench-%d", n)
	switch op {
	case "linepay":
		if key, ok := l.keys.take(); ok {
			twd := 100 * (1 + amount%3000)
			return fmt.Appendf(nil, `{"amount":%d,"currency":"TWD","method":"linepay","flow":"barcode","barcode":%q,"terminal_id":%q,"order_id":%q}`,
				twd, key, terminal, order)
		}
	case "qr":
		return fmt.Appendf(nil, `{"amount":%d,"currency":"JPY","method":"paypay","flow":"qr","terminal_id":%q,"order_id":%q}`,
			amount, terminal, order)
	}
	return fmt.Appendf(nil, `{"amount":%d,"currency":"JPY","method":"paypay","flow":"barcode","barcode":%q,"terminal_id":%q,"order_id":%q}`,
		amount, crashFixtureBarcode, terminal, order)
}

// learn keeps a succeeded payment for a later refund (once) and for lookups.
func (l *benchLoad) learn(body []byte) {
	var p struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	}
	if json.Unmarshal(body, &p) != nil || p.ID == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lookups) < 2000 {
		l.lookups = append(l.lookups, p.ID)
	} else {
		l.lookups[l.lookupNext%len(l.lookups)] = p.ID
		l.lookupNext++
	}
	if p.Status == string(contracts.StatusSucceeded) && len(l.refundable) < 20000 {
		l.refundable = append(l.refundable, refundTarget{id: p.ID, amount: p.Amount, currency: p.Currency})
	}
}

// attack runs load against s at rate for d and measures it.
func (r *benchRig) attack(ctx context.Context, load *benchLoad, s *benchServerProc, rate int, d time.Duration) (BenchResult, error) {
	if share := load.share("linepay"); share > 0 {
		if err := r.keys.fill(ctx, int(float64(rate)*d.Seconds()*share*1.3)+50); err != nil {
			return BenchResult{}, fmt.Errorf("bench: LINE Pay one-time keys: %w", err)
		}
	}
	if !s.proc.running() {
		return BenchResult{}, fmt.Errorf("bench: %s is not running: %s", s.name, s.proc.logTail())
	}
	attacker := vegeta.NewAttacker(vegeta.Timeout(r.cfg.Timeout), vegeta.Workers(16), vegeta.MaxWorkers(4096),
		vegeta.KeepAlive(true), vegeta.Connections(4096), vegeta.MaxBody(1<<20))
	cpu0 := processCPUSeconds(s.proc)
	start := time.Now()
	results := attacker.Attack(load.targeter(), vegeta.ConstantPacer{Freq: rate, Per: time.Second}, d, s.name)
	res := BenchResult{Server: s.name, Rate: rate, Errors: map[string]int{}, Ops: map[string]int{}, Outcomes: map[string]int{}}
	var latencies []time.Duration
	byOp := map[string][]time.Duration{}
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			attacker.Stop()
			return res, ctx.Err()
		case hit, ok := <-results:
			if !ok {
				goto done
			}
			res.Requests++
			latencies = append(latencies, hit.Latency)
			if end := hit.End(); end.After(last) {
				last = end
			}
			op := "?"
			if parts := strings.Split(hit.Headers.Get("X-Request-Id"), "."); len(parts) == 3 {
				op = parts[1]
			}
			res.Ops[op]++
			byOp[op] = append(byOp[op], hit.Latency)
			switch {
			case hit.Code >= 200 && hit.Code < 300:
				res.Succeeded++
				if hit.Method == http.MethodPost {
					var p struct {
						Status string `json:"status"`
					}
					_ = json.Unmarshal(hit.Body, &p)
					res.Outcomes[op+" "+p.Status]++
					if op != "refund" {
						load.learn(hit.Body)
					}
				}
			case hit.Code == 0:
				res.Errors["transport: "+shortError(hit.Error)]++
			default:
				var p struct {
					Code string `json:"code"`
				}
				_ = json.Unmarshal(hit.Body, &p)
				res.Errors[fmt.Sprintf("%d %s", hit.Code, p.Code)]++
			}
		}
	}
done:
	cpu := processCPUSeconds(s.proc) - cpu0
	if last.IsZero() {
		last = time.Now()
	}
	res.Seconds = last.Sub(start).Seconds()
	if res.Seconds > 0 {
		res.Throughput = float64(res.Succeeded) / res.Seconds
	}
	slices.Sort(latencies)
	res.OpP50MS, res.OpP99MS = map[string]float64{}, map[string]float64{}
	for op, l := range byOp {
		slices.Sort(l)
		res.OpP50MS[op], res.OpP99MS[op] = ms(quantile(l, 0.5)), ms(quantile(l, 0.99))
	}
	res.P50MS, res.P90MS, res.P99MS = ms(quantile(latencies, 0.50)), ms(quantile(latencies, 0.90)), ms(quantile(latencies, 0.99))
	if len(latencies) > 0 {
		res.MaxMS = ms(latencies[len(latencies)-1])
	}
	res.CPUSeconds = cpu
	if res.Requests > 0 {
		res.CPUMSPerRequest = cpu * 1000 / float64(res.Requests)
	}
	res.Held = res.Requests > 0 && float64(res.Succeeded) >= 0.99*float64(res.Requests) && res.P99MS <= ms(r.cfg.P99Bound) &&
		res.Throughput >= 0.95*float64(rate)
	return res, nil
}

// saturate steps the rate up by half until a step is not held, then bisects between the
// last held rate and the first one not held.
func (r *benchRig) saturate(ctx context.Context, load *benchLoad, s *benchServerProc, out io.Writer) (*BenchResult, []BenchResult, error) {
	var best *BenchResult
	var steps []BenchResult
	// A step not held is run once more before it counts: on a shared machine one hiccup
	// (another process, a checkpoint) must not end the search.
	step := func(rate int) (bool, error) {
		for try := 0; ; try++ {
			res, err := r.attack(ctx, load, s, rate, r.cfg.StepDuration)
			if err != nil {
				return false, err
			}
			steps = append(steps, res)
			verdict := "held"
			if !res.Held {
				verdict = "not held"
			}
			fmt.Fprintf(out, "  saturation %-11s %5d req/s: %s — %s\n", s.name, rate, res.summary(), verdict)
			if res.Held && (best == nil || rate > best.Rate) {
				b := res
				best = &b
			}
			// Let a backlog drain before the next step.
			_ = sleepCtx(ctx, time.Second)
			if res.Held || try == 1 {
				return res.Held, nil
			}
		}
	}
	lo, hi := 0, 0
	for rate := r.cfg.StartRate; rate <= r.cfg.MaxRate; rate = rate * 3 / 2 {
		held, err := step(rate)
		if err != nil {
			return nil, steps, err
		}
		if !held {
			hi = rate
			break
		}
		lo = rate
	}
	for i := 0; hi > 0 && i < r.cfg.Bisections && hi-lo > max(5, lo/20); i++ {
		mid := (lo + hi) / 2
		held, err := step(mid)
		if err != nil {
			return nil, steps, err
		}
		if held {
			lo = mid
		} else {
			hi = mid
		}
	}
	if best == nil {
		best = &BenchResult{Server: s.name}
	}
	return best, steps, nil
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func shortError(s string) string {
	for _, known := range []string{"timeout", "connection refused", "connection reset", "EOF", "cannot assign requested address", "too many open files"} {
		if strings.Contains(s, known) {
			return known
		}
	}
	if len(s) > 60 {
		s = s[len(s)-60:]
	}
	return s
}

func (r BenchResult) summary() string {
	return fmt.Sprintf("%.0f req/s ok, p50 %.1f p90 %.1f p99 %.1f max %.1f ms, %d/%d ok, cpu %.2f ms/req",
		r.Throughput, r.P50MS, r.P90MS, r.P99MS, r.MaxMS, r.Succeeded, r.Requests, r.CPUMSPerRequest)
}

// processCPUSeconds is utime+stime of the process from /proc/<pid>/stat (0 off Linux).
func processCPUSeconds(p *childProcess) float64 {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after its ')' are fixed.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux payhub runs on.
const clockTicks = 100

// peakRSSMB is VmHWM of the process from /proc/<pid>/status, in MB.
func peakRSSMB(p *childProcess) float64 {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// cpuModel is the CPU's model name from /proc/cpuinfo.
func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// verdicts checks the Done-when lines against the run.
func verdicts(rep *BenchReport, cfg benchConfig) []BenchVerdict {
	var vs []BenchVerdict
	for _, run := range rep.Runs {
		ph, pt := run.Payhub, run.Passthrough
		if ph.Saturation != nil && pt.Saturation != nil && pt.Saturation.Throughput > 0 {
			ratio := ph.Saturation.Throughput / pt.Saturation.Throughput
			vs = append(vs, BenchVerdict{DB: run.DB, Check: "saturation throughput ≥ ½ pass-through", Met: ratio >= 0.5,
				Detail: fmt.Sprintf("%.0f vs %.0f req/s (%.2f×)", ph.Saturation.Throughput, pt.Saturation.Throughput, ratio)})
		}
		added := ph.Fixed.P99MS - pt.Fixed.P99MS
		check := "p99 added < 5 ms at the fixed rate"
		if ph.Saturation != nil && cfg.Rate == 0 {
			check = "p99 added < 5 ms at ½ payhub saturation"
		}
		vs = append(vs, BenchVerdict{DB: run.DB, Check: check, Met: added < 5,
			Detail: fmt.Sprintf("%.1f ms (p99 %.1f vs %.1f ms at %d req/s)", added, ph.Fixed.P99MS, pt.Fixed.P99MS, ph.Fixed.Rate)})
		if ph.Saturation != nil {
			vs = append(vs, BenchVerdict{DB: run.DB, Check: "peak RSS < 150 MB under saturation", Met: ph.PeakRSSMB < 150,
				Detail: fmt.Sprintf("%.0f MB", ph.PeakRSSMB)})
		}
	}
	return vs
}

// printBenchReport prints the side-by-side table (Markdown) and the verdicts.
func printBenchReport(w io.Writer, rep *BenchReport) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\npayhub bench: %d CPUs (%s), partner latency %.0f ms, mix %s\n\n", rep.CPUs, rep.Machine, rep.LatencyMS, rep.Mix)
	header := "| |"
	sep := "|---|"
	for _, run := range rep.Runs {
		name := map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[run.DB]
		header += fmt.Sprintf(" payhub (%s) | pass-through | ratio |", name)
		sep += "---|---|---|"
	}
	fmt.Fprintln(&b, header)
	fmt.Fprintln(&b, sep)
	row := func(label string, val func(BenchServer) float64, format string, ratio bool) {
		line := "| " + label + " |"
		for _, run := range rep.Runs {
			a, c := val(run.Payhub), val(run.Passthrough)
			r := "—"
			if ratio && c > 0 {
				r = fmt.Sprintf("%.2f×", a/c)
			}
			line += fmt.Sprintf(" "+format+" | "+format+" | %s |", a, c, r)
		}
		fmt.Fprintln(&b, line)
	}
	sat := func(f func(BenchResult) float64) func(BenchServer) float64 {
		return func(s BenchServer) float64 {
			if s.Saturation == nil {
				return 0
			}
			return f(*s.Saturation)
		}
	}
	if len(rep.Runs) > 0 && rep.Runs[0].Payhub.Saturation != nil {
		row(fmt.Sprintf("saturation: highest rate held (p99 ≤ %.0f ms), req/s", rep.P99Bound), sat(func(r BenchResult) float64 { return float64(r.Rate) }), "%.0f", true)
		row("saturation: throughput, req/s", sat(func(r BenchResult) float64 { return r.Throughput }), "%.0f", true)
		row("saturation: p99, ms", sat(func(r BenchResult) float64 { return r.P99MS }), "%.1f", true)
		row("saturation: CPU per request, ms", sat(func(r BenchResult) float64 { return r.CPUMSPerRequest }), "%.2f", true)
	}
	fixed := func(f func(BenchResult) float64) func(BenchServer) float64 {
		return func(s BenchServer) float64 { return f(s.Fixed) }
	}
	row("fixed rate, req/s", fixed(func(r BenchResult) float64 { return float64(r.Rate) }), "%.0f", false)
	row("throughput, req/s", fixed(func(r BenchResult) float64 { return r.Throughput }), "%.0f", true)
	row("p50, ms", fixed(func(r BenchResult) float64 { return r.P50MS }), "%.1f", true)
	row("p90, ms", fixed(func(r BenchResult) float64 { return r.P90MS }), "%.1f", true)
	row("p99, ms", fixed(func(r BenchResult) float64 { return r.P99MS }), "%.1f", true)
	row("max, ms", fixed(func(r BenchResult) float64 { return r.MaxMS }), "%.1f", true)
	row("errors", fixed(func(r BenchResult) float64 { return float64(r.Requests - r.Succeeded) }), "%.0f", false)
	row("CPU per request, ms", fixed(func(r BenchResult) float64 { return r.CPUMSPerRequest }), "%.2f", true)
	row("CPU, cores busy", fixed(func(r BenchResult) float64 {
		if r.Seconds == 0 {
			return 0
		}
		return r.CPUSeconds / r.Seconds
	}), "%.2f", true)
	row("peak RSS, MB", func(s BenchServer) float64 { return s.PeakRSSMB }, "%.0f", true)
	for _, run := range rep.Runs {
		for _, s := range []BenchResult{run.Payhub.Fixed, run.Passthrough.Fixed} {
			if len(s.Errors) > 0 {
				fmt.Fprintf(&b, "\nerrors %s %s: %s", run.DB, s.Server, formatCounts(s.Errors))
			}
		}
	}
	fmt.Fprintln(&b)
	for _, v := range rep.Verdicts {
		mark := "met"
		if !v.Met {
			mark = "NOT met"
		}
		fmt.Fprintf(&b, "\n%s: %s — %s (%s)", v.DB, v.Check, mark, v.Detail)
	}
	fmt.Fprintln(&b)
	_, _ = w.Write(b.Bytes())
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// profiledServeCommand runs serve under the CPU profiler and writes a heap profile when it
// stops: `payhub profiled-serve CPU.pprof HEAP.pprof [serve flags…]`. Hidden; the bench
// starts it for --profile-dir so that serve itself needs no profiling flag.
func profiledServeCommand(logOut io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:                "profiled-serve",
		Short:              "serve under the CPU profiler (for payhub bench --profile-dir)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return errors.New("profiled-serve: want CPU.pprof HEAP.pprof [serve flags…]")
			}
			stop, err := startCPUProfile(args[0])
			if err != nil {
				return err
			}
			serve := app.ServeCommand(logOut)
			serve.SetArgs(args[2:])
			err = serve.ExecuteContext(cmd.Context())
			stop()
			if f, herr := os.Create(args[1]); herr == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
			return err
		},
	}
}
