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
	// Instances are the numbers of payhub serve processes sharing the load round-robin, run
	// one count after the other, each on a fresh database (above 1: PostgreSQL only).
	Instances []int
	// Pin, ServerCPUs, LoadCPUs and PinDB pin the parties of the run apart (pinning).
	Pin                         bool
	ServerCPUs, LoadCPUs, PinDB string
	pins                        BenchPinning
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
for each --db postgres://… server given (a throwaway database per run).

Every measured run also reports what the parties sharing the machine cost per request: the
load generator (payhub-lab itself), the simulators and, on a local PostgreSQL server, the
database (postmaster and backends). --pin puts the server under test on CPU 0 and the load
generator and simulators on CPU 1 (--server-cpus, --load-cpus to choose; --pin-db for
PostgreSQL). --instances 1,2,3 runs payhub as that many serve processes on one PostgreSQL
database in turn, the load spread round-robin, and prints a scale-out table.`,
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
	f.IntSliceVar(&cfg.Instances, "instances", []int{1}, "payhub serve processes sharing the load round-robin, each count in turn on a fresh database, e.g. 1,2,3 (above 1: PostgreSQL only)")
	f.BoolVar(&cfg.Pin, "pin", false, "pin the server under test to CPU 0, the load generator and the simulators to CPU 1 (--server-cpus 0 --load-cpus 1)")
	f.StringVar(&cfg.ServerCPUs, "server-cpus", "", "CPU list for payhub serve and the pass-through alike, e.g. 0 or 0-1")
	f.StringVar(&cfg.LoadCPUs, "load-cpus", "", "CPU list for payhub-lab itself (the load generator) and payhub sim")
	f.StringVar(&cfg.PinDB, "pin-db", "", "CPU list for every process of the local PostgreSQL server (left so afterwards)")
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
	Pinning   BenchPinning   `json:"pinning"`
	Runs      []BenchDBRun   `json:"runs"`
	Verdicts  []BenchVerdict `json:"verdicts"`
}

// BenchDBRun is payhub and the pass-through on one database.
type BenchDBRun struct {
	DB string `json:"db"`
	// Payhub is the first --instances count (one serve unless told otherwise).
	Payhub      BenchServer   `json:"payhub"`
	Passthrough BenchServer   `json:"passthrough"`
	Steps       []BenchResult `json:"saturation_steps,omitempty"`
	// ScaleOut is payhub at every --instances count, when there are several.
	ScaleOut []BenchServer `json:"scale_out,omitempty"`
	// PostmasterPID is the local PostgreSQL server whose CPU the run read (0: not read).
	PostmasterPID int `json:"postmaster_pid,omitempty"`
}

// BenchServer is what one server did.
type BenchServer struct {
	// Saturation is the highest rate held (0 without --saturate) and its result.
	Saturation *BenchResult `json:"saturation,omitempty"`
	// Fixed is the fixed-rate run.
	Fixed BenchResult `json:"fixed"`
	// PeakRSSMB is the process's VmHWM at the end of its runs (saturation included); with
	// several instances the largest one's, and PeakRSSTotalMB their sum.
	PeakRSSMB      float64 `json:"peak_rss_mb"`
	PeakRSSTotalMB float64 `json:"peak_rss_total_mb"`
	// Instances is the number of processes serving (1 for the pass-through).
	Instances int `json:"instances"`
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
	// Instances is the number of server processes the load was spread over.
	Instances int `json:"instances"`
	// CPUSeconds is the server processes' user+system CPU time during the attack.
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUMSPerRequest float64 `json:"cpu_ms_per_request"`
	// The same for the load generator (payhub-lab itself), the partner simulators and the
	// PostgreSQL server (postmaster and every backend; 0 on SQLite, inside serve, and when
	// the server is not local): on a small machine they share CPUs with the server.
	// DBBackends… is the part of the database's spent by the backends of payhub's own
	// database: the rest is the server's background work and, on a shared server, other
	// databases'.
	LoadCPUSeconds            float64 `json:"load_cpu_seconds"`
	LoadCPUMSPerRequest       float64 `json:"load_cpu_ms_per_request"`
	SimCPUSeconds             float64 `json:"sim_cpu_seconds"`
	SimCPUMSPerRequest        float64 `json:"sim_cpu_ms_per_request"`
	DBCPUSeconds              float64 `json:"db_cpu_seconds"`
	DBCPUMSPerRequest         float64 `json:"db_cpu_ms_per_request"`
	DBBackendsCPUSeconds      float64 `json:"db_backends_cpu_seconds"`
	DBBackendsCPUMSPerRequest float64 `json:"db_backends_cpu_ms_per_request"`
	// Held: the saturation criteria were met (p99 ≤ bound, ≥ 99% succeeded, throughput ≥ 95% of the rate).
	Held bool `json:"held"`
	// AtMaxRate: the saturation search held --max-rate itself and stopped there, so the
	// server's saturation is at least this result, not this result.
	AtMaxRate bool `json:"at_max_rate,omitempty"`
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
	if err := checkInstances(cfg.Instances, cfg.DBs); err != nil {
		return nil, err
	}
	if cfg.pins, err = cfg.pinning(); err != nil {
		return nil, err
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
	report := &BenchReport{Machine: cpuModel(), CPUs: runtime.NumCPU(), LatencyMS: ms(cfg.Latency), Mix: cfg.Mix, P99Bound: ms(cfg.P99Bound),
		Pinning: cfg.pins}
	fmt.Fprintf(out, "bench: %d CPUs (%s), partner latency %s, mix %s\n", report.CPUs, report.Machine, cfg.Latency, cfg.Mix)
	// The load generator first: the children it starts inherit its CPUs until pinned.
	if cpus := cfg.pins.LoadCPUs; len(cpus) > 0 {
		if err := pinProcess(os.Getpid(), cpus); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(out, "bench: pinning: %s\n", cfg.pins.describe())
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
	cfg benchConfig
	dir string
	// db is "sqlite" or the PostgreSQL server --db named (each payhub run gets a fresh
	// database on it).
	db string
	// postmaster is the local PostgreSQL server whose CPU is read (0: not read).
	postmaster int
	// dbs counts the databases made, to name SQLite's files.
	dbs int
	// admin is a connection to the PostgreSQL server that finds the backends of dbName, the
	// database payhub runs on now ("" between payhub runs), whose CPU is read apart from
	// the rest of the server's (other databases on a shared server).
	admin      *sql.DB
	dbName     string
	simURL     string
	linepayURL string
	// env is what every server and the simulators are started with.
	env     []string
	till    *benchTill
	keys    *oneTimeKeys
	sim     *childProcess
	started []*childProcess
}

// benchServerProc is one server under test: the pass-through, or payhub as one or more
// serve processes on one database, the load spread round-robin over them.
type benchServerProc struct {
	name  string
	procs []*childProcess
	urls  []string
}

// label names the server in progress lines: payhub×2 for two instances.
func (s *benchServerProc) label() string {
	if len(s.procs) > 1 {
		return fmt.Sprintf("%s×%d", s.name, len(s.procs))
	}
	return s.name
}

// notRunning is an error naming an instance that exited, or nil.
func (s *benchServerProc) notRunning() error {
	for _, p := range s.procs {
		if !p.running() {
			return fmt.Errorf("bench: %s is not running: %s", p.name, p.logTail())
		}
	}
	return nil
}

func (s *benchServerProc) stop() {
	for _, p := range s.procs {
		p.stop()
	}
}

// peakRSS is the largest instance's VmHWM and the sum over instances, in MB.
func (s *benchServerProc) peakRSS() (largest, total float64) {
	for _, p := range s.procs {
		mb := peakRSSMB(p)
		largest, total = max(largest, mb), total+mb
	}
	return largest, total
}

func benchOnDB(ctx context.Context, cfg benchConfig, mix map[string]int, db, dir string, out io.Writer) (BenchDBRun, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return BenchDBRun{}, err
	}
	rig := &benchRig{cfg: cfg, dir: dir, db: db}
	run := BenchDBRun{DB: "sqlite"}
	if db != "sqlite" {
		run.DB = "postgres"
		if err := rig.findPostgres(ctx, out); err != nil {
			return run, err
		}
		run.PostmasterPID = rig.postmaster
	}
	wantPT, wantPH := slices.Contains(cfg.Servers, "passthrough"), slices.Contains(cfg.Servers, "payhub")
	if !wantPT && !wantPH {
		return run, errors.New("bench: --servers names neither payhub nor passthrough")
	}
	defer rig.shutdown()
	if err := rig.start(ctx); err != nil {
		return run, err
	}
	fmt.Fprintf(out, "\n== %s\n", run.DB)
	var pt *benchServerProc
	if wantPT {
		var err error
		if pt, err = rig.startPassthrough(ctx); err != nil {
			return run, err
		}
		run.Passthrough.Instances = 1
		sat, steps, err := rig.warmUpAndSaturate(ctx, mix, pt, out)
		if err != nil {
			return run, err
		}
		run.Passthrough.Saturation, run.Steps = sat, append(run.Steps, steps...)
	}
	if wantPH {
		for _, n := range cfg.Instances {
			ph, steps, err := rig.benchPayhub(ctx, mix, n, out)
			run.Steps = append(run.Steps, steps...)
			if err != nil {
				return run, err
			}
			run.ScaleOut = append(run.ScaleOut, ph)
		}
		run.Payhub = run.ScaleOut[0]
		if len(run.ScaleOut) == 1 {
			run.ScaleOut = nil
		}
	}
	if wantPT {
		// At payhub's fixed rate (its first instance count), as the side-by-side table compares.
		r, err := rig.fixedRun(ctx, mix, pt, fixedRate(cfg, run.Payhub.Saturation), out)
		if err != nil {
			return run, err
		}
		run.Passthrough.Fixed = r
		run.Passthrough.PeakRSSMB, run.Passthrough.PeakRSSTotalMB = pt.peakRSS()
	}
	return run, nil
}

// benchPayhub runs n serve processes on a fresh database: warm-up, saturation search, fixed
// rate. A fresh database each time, so that every count starts from the same state.
func (r *benchRig) benchPayhub(ctx context.Context, mix map[string]int, n int, out io.Writer) (BenchServer, []BenchResult, error) {
	res := BenchServer{Instances: n}
	dbURL, drop, err := r.freshDB(ctx)
	if err != nil {
		return res, nil, err
	}
	defer drop()
	s, err := r.startPayhub(ctx, dbURL, n)
	if s != nil {
		defer s.stop()
	}
	if err != nil {
		return res, nil, err
	}
	sat, steps, err := r.warmUpAndSaturate(ctx, mix, s, out)
	if err != nil {
		return res, steps, err
	}
	res.Saturation = sat
	if res.Fixed, err = r.fixedRun(ctx, mix, s, fixedRate(r.cfg, sat), out); err != nil {
		return res, steps, err
	}
	res.PeakRSSMB, res.PeakRSSTotalMB = s.peakRSS()
	return res, steps, nil
}

// fixedRate is --rate, else half of the saturation rate found, else 100 req/s.
func fixedRate(cfg benchConfig, sat *BenchResult) int {
	switch {
	case cfg.Rate > 0:
		return cfg.Rate
	case sat != nil && sat.Rate > 0:
		return max(1, sat.Rate/2)
	}
	return 100
}

// warmUpAndSaturate warms s up and, with --saturate, finds its saturation rate.
func (r *benchRig) warmUpAndSaturate(ctx context.Context, mix map[string]int, s *benchServerProc, out io.Writer) (*BenchResult, []BenchResult, error) {
	load := newBenchLoad(mix, r.cfg.Seed, r.till, s.urls, r.keys)
	if r.cfg.Warmup > 0 {
		if _, err := r.attack(ctx, load, s, 20, r.cfg.Warmup); err != nil {
			return nil, nil, err
		}
	}
	if !r.cfg.Saturate {
		return nil, nil, nil
	}
	return r.saturate(ctx, load, s, out)
}

// fixedRun is the measured constant-rate run.
func (r *benchRig) fixedRun(ctx context.Context, mix map[string]int, s *benchServerProc, rate int, out io.Writer) (BenchResult, error) {
	load := newBenchLoad(mix, r.cfg.Seed+1, r.till, s.urls, r.keys)
	// A few payments first, so refunds and lookups have something to act on.
	if _, err := r.attack(ctx, load, s, 20, time.Second); err != nil {
		return BenchResult{}, err
	}
	res, err := r.attack(ctx, load, s, rate, r.cfg.Duration)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "  fixed rate %-11s %5d req/s for %s: %s\n", s.label(), rate, r.cfg.Duration, res.summary())
	return res, nil
}

// findPostgres finds the local PostgreSQL server's postmaster, whose CPU the runs read, and
// pins it with --pin-db. A server that is not local is benched all the same, its CPU unread.
func (r *benchRig) findPostgres(ctx context.Context, out io.Writer) error {
	pm, err := findPostmaster(ctx, r.db)
	if err != nil {
		fmt.Fprintf(out, "bench: PostgreSQL's CPU will not be read: %v\n", err)
		if len(r.cfg.pins.DBCPUs) > 0 {
			return fmt.Errorf("bench: --pin-db: %w", err)
		}
		return nil
	}
	r.postmaster = pm
	if r.admin, err = sql.Open("pgx", r.db); err != nil {
		return err
	}
	if cpus := r.cfg.pins.DBCPUs; len(cpus) > 0 {
		// The postmaster and every process it forked so far; backends forked later inherit
		// the postmaster's CPUs.
		pids := postgresChildren(allProcStats(), pm)
		for _, pid := range pids {
			if err := pinProcess(pid, cpus); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("bench: --pin-db: %w", err)
			}
		}
		fmt.Fprintf(out, "bench: pinned PostgreSQL (postmaster %d and %d processes it forked) to CPUs %s; not undone\n",
			pm, len(pids)-1, formatCPUList(cpus))
	}
	return nil
}

// freshDB is a new database for one payhub run, with the till registered in it, and the
// function that drops it.
func (r *benchRig) freshDB(ctx context.Context) (string, func(), error) {
	r.dbs++
	dbURL, drop := "sqlite:"+filepath.Join(r.dir, fmt.Sprintf("payhub-%d.db", r.dbs)), func() {}
	if r.db != "sqlite" {
		var err error
		if dbURL, drop, err = throwawayPostgres(ctx, r.db); err != nil {
			return "", nil, err
		}
		u, err := url.Parse(dbURL)
		if err != nil {
			drop()
			return "", nil, err
		}
		r.dbName = strings.TrimPrefix(u.Path, "/")
		dropDB := drop
		drop = func() { r.dbName = ""; dropDB() }
	}
	st, err := store.Open(ctx, dbURL)
	if err == nil {
		err = r.till.register(ctx, st)
		st.Close()
	}
	if err != nil {
		drop()
		return "", nil, err
	}
	return dbURL, drop, nil
}

// start starts the simulators and makes the till the load signs its tokens as.
func (r *benchRig) start(ctx context.Context) error {
	t, err := newBenchTill()
	if err != nil {
		return err
	}
	r.till = t
	pp, lp, gmopg := "", "", ""
	for _, a := range []*string{&pp, &lp, &gmopg} {
		if *a, err = freeLoopbackAddr(); err != nil {
			return err
		}
	}
	r.simURL, r.linepayURL = "http://"+pp, "http://"+lp
	r.env = []string{secretKeyEnv(), auditKeyEnv(), "PAYHUB_PAYPAY_API_KEY=" + paypaysim.DemoAPIKey, "PAYHUB_PAYPAY_API_SECRET=" + paypaysim.DemoAPISecret,
		"PAYHUB_PAYPAY_MERCHANT_ID=" + paypaysim.DemoMerchantID, "PAYHUB_PAYPAY_BASE_URL=" + r.simURL,
		"PAYHUB_LINEPAY_CHANNEL_ID=" + linepaysim.DemoChannelID, "PAYHUB_LINEPAY_CHANNEL_SECRET=" + linepaysim.DemoChannelSecret,
		"PAYHUB_LINEPAY_BASE_URL=" + r.linepayURL, "PAYHUB_LINEPAY_CURRENCY=TWD"}
	// Every simulator on a free port: a demo running on this machine holds the defaults.
	simArgs := []string{"sim", "--paypay-addr", pp, "--linepay-addr", lp, "--gmopg-addr", gmopg, "--nanaco-addr", "127.0.0.1:0"}
	if r.cfg.Latency > 0 {
		simArgs = append(simArgs, "--faults", benchLatencySpec(r.cfg.Latency))
	}
	r.sim = &childProcess{name: "sim", logPath: filepath.Join(r.dir, "sim.log"), bin: r.cfg.bins.payhub, env: r.env, args: simArgs}
	if err := r.sim.start(); err != nil {
		return err
	}
	r.started = append(r.started, r.sim)
	if err := r.pin(r.sim, r.cfg.pins.LoadCPUs); err != nil {
		return err
	}
	if err := waitReady(ctx, r.sim, r.simURL+"/_sim/faults"); err != nil {
		return err
	}
	if err := waitReady(ctx, r.sim, r.linepayURL+"/_sim/payments"); err != nil {
		return err
	}
	r.keys = &oneTimeKeys{url: r.linepayURL + "/_sim/oneTimeKeys", ch: make(chan oneTimeKey, 50000)}
	return nil
}

// startPassthrough starts the lab's bare pass-through.
func (r *benchRig) startPassthrough(ctx context.Context) (*benchServerProc, error) {
	args := []string{"passthrough", "--addr", ""}
	if r.cfg.ProfileDir != "" {
		args = append(args, "--cpuprofile", filepath.Join(r.cfg.ProfileDir, dbKind(r.db)+"-passthrough.cpu.pprof"))
	}
	s := &benchServerProc{name: "passthrough"}
	p, url, err := r.startServer(ctx, "passthrough", r.cfg.bins.lab, args)
	if err != nil {
		return nil, err
	}
	s.procs, s.urls = append(s.procs, p), append(s.urls, url)
	return s, nil
}

// startPayhub starts n payhub serve processes on dbURL. On error the ones started are
// returned too, to be stopped.
func (r *benchRig) startPayhub(ctx context.Context, dbURL string, n int) (*benchServerProc, error) {
	s := &benchServerProc{name: "payhub"}
	for i := 1; i <= n; i++ {
		// No velocity limits and no per-client rate limit: the whole load is one till, and the
		// bench measures what serve can do, not the 50 req/s a client is allowed.
		args := []string{"serve", "--addr", "", "--db", dbURL, "--no-default-limits", "--client-rate=-1", "--drain-timeout", "2s", "--metrics-addr", ""}
		// payhub serve as shipped; the profiled serve is the lab's own.
		bin := r.cfg.bins.payhub
		if r.cfg.ProfileDir != "" {
			prefix := filepath.Join(r.cfg.ProfileDir, dbKind(dbURL)+"-payhub")
			if n > 1 {
				prefix += fmt.Sprintf("-%d-of-%d", i, n)
			}
			args = append([]string{"profiled-serve", prefix + ".cpu.pprof", prefix + ".heap.pprof"}, args[1:]...)
			bin = r.cfg.bins.lab
		}
		name := "payhub"
		if n > 1 {
			name = fmt.Sprintf("payhub-%d-of-%d", i, n)
		}
		p, url, err := r.startServer(ctx, name, bin, args)
		if err != nil {
			return s, err
		}
		s.procs, s.urls = append(s.procs, p), append(s.urls, url)
	}
	return s, nil
}

// startServer starts a server under test on a free port, pinned to the server CPUs, and
// waits until it answers /healthz.
func (r *benchRig) startServer(ctx context.Context, name, bin string, args []string) (*childProcess, string, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, "", err
	}
	for attempt := 1; ; attempt++ {
		p := &childProcess{name: name, logPath: filepath.Join(r.dir, name+".log"), bin: bin, env: r.env, args: withAddr(args, addr)}
		if err := p.start(); err != nil {
			return nil, "", err
		}
		r.started = append(r.started, p)
		if err := r.pin(p, r.cfg.pins.ServerCPUs); err != nil {
			return nil, "", err
		}
		err := waitReady(ctx, p, "http://"+addr+"/healthz")
		if err == nil {
			return p, "http://" + addr, nil
		}
		// The free port was taken between the probe and the bind (an outgoing
		// connection's ephemeral port comes from the same range): another one.
		if attempt >= 3 || !strings.Contains(p.logTail(), "address already in use") {
			return nil, "", err
		}
		p.stop()
		if addr, err = freeLoopbackAddr(); err != nil {
			return nil, "", err
		}
	}
}

// pin puts every thread of a child on cpus (none: left where it is). Done right after the
// start, before the child is ready: Go's runtime notices the narrower affinity within a
// second and lowers GOMAXPROCS to match.
func (r *benchRig) pin(p *childProcess, cpus []int) error {
	if len(cpus) == 0 {
		return nil
	}
	if err := pinProcess(p.cmd.Process.Pid, cpus); err != nil {
		return fmt.Errorf("bench: pin %s: %w", p.name, err)
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
	for _, p := range r.started {
		p.stop()
	}
	if r.admin != nil {
		r.admin.Close()
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

// newBenchTill is a till with a fresh key. The pass-through takes its tokens unread; each
// payhub database has it registered (register).
func newBenchTill() (*benchTill, error) {
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	return &benchTill{key: key, kid: id, clientID: id, storeID: id}, nil
}

// registerBenchTill is a new till, registered in st.
func registerBenchTill(ctx context.Context, st contracts.Store) (*benchTill, error) {
	t, err := newBenchTill()
	if err != nil {
		return nil, err
	}
	return t, t.register(ctx, st)
}

// register makes the till a store client of st, with its key.
func (t *benchTill) register(ctx context.Context, st contracts.Store) error {
	pub, err := auth.MarshalPublicKeyPEM(t.key.Public())
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	c := contracts.StoreClient{ID: t.clientID, Name: "payhub bench", Stores: []string{t.storeID}, CreatedAt: now,
		Keys: []contracts.ClientKey{{KID: t.kid, ClientID: t.clientID, Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pub, CreatedAt: now}}}
	if err := st.CreateStoreClient(ctx, c); err != nil {
		return fmt.Errorf("register bench client: %w", err)
	}
	return nil
}

// bearer is a token for the till, minted afresh every 30 seconds, as a till reuses its
// token: minting one per request would put the load generator's own CPU into the
// measurement. payhub checks the signature of a token it has not seen, and everything
// else about it on every request (docs/security.md §2).
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
	// bases are the server's instances; request n goes to bases[n mod len], so several
	// instances share the load evenly without a proxy of their own to cost CPU.
	bases []string
	till  *benchTill
	keys  *oneTimeKeys
	ops   []string // one entry per weight unit

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

func newBenchLoad(mix map[string]int, seed int64, till *benchTill, bases []string, keys *oneTimeKeys) *benchLoad {
	l := &benchLoad{bases: bases, till: till, keys: keys, rng: rand.New(rand.NewPCG(uint64(seed), 0x62656e63))}
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

		base := roundRobin(l.bases, n)
		header := http.Header{}
		header.Set("Authorization", token)
		header.Set("X-Request-Id", fmt.Sprintf("bench.%s.%d", op, n))
		t.Header = header
		switch op {
		case "lookup":
			t.Method, t.URL, t.Body = http.MethodGet, base+"/v1/payments/"+lookup, nil
			return nil
		case "refund":
			refund := target.amount / 2
			if target.currency == string(contracts.TWD) {
				refund = max(100, refund/100*100)
			}
			t.Method, t.URL = http.MethodPost, base+"/v1/payments/"+target.id+"/refunds"
			t.Body = fmt.Appendf(nil, `{"amount":%d,"reason":"bench partial refund"}`, max(1, refund))
		default:
			t.Method, t.URL = http.MethodPost, base+"/v1/payments"
			t.Body = l.paymentBody(op, n, amount)
		}
		header.Set("Content-Type", "application/json")
		header.Set("Idempotency-Key", fmt.Sprintf("bench-%s-%d-%d", op, time.Now().UnixNano(), n))
		return nil
	}
}

// roundRobin is the instance request n (counted from 1) goes to.
func roundRobin(bases []string, n int64) string {
	return bases[(n-1)%int64(len(bases))]
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
	if err := s.notRunning(); err != nil {
		return BenchResult{}, err
	}
	attacker := vegeta.NewAttacker(vegeta.Timeout(r.cfg.Timeout), vegeta.Workers(16), vegeta.MaxWorkers(4096),
		vegeta.KeepAlive(true), vegeta.Connections(4096), vegeta.MaxBody(1<<20))
	cpu0 := r.readCPU(s)
	start := time.Now()
	results := attacker.Attack(load.targeter(), vegeta.ConstantPacer{Freq: rate, Per: time.Second}, d, s.name)
	res := BenchResult{Server: s.name, Rate: rate, Instances: len(s.procs), Errors: map[string]int{}, Ops: map[string]int{}, Outcomes: map[string]int{}}
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
	res.setCPU(r.readCPU(s).since(cpu0))
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
			fmt.Fprintf(out, "  saturation %-11s %5d req/s: %s — %s\n", s.label(), rate, res.summary(), verdict)
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
	for rate := r.cfg.StartRate; rate <= r.cfg.MaxRate; rate = nextStep(rate, r.cfg.MaxRate) {
		held, err := step(rate)
		if err != nil {
			return nil, steps, err
		}
		if !held {
			hi = rate
			break
		}
		lo = rate
		if rate == r.cfg.MaxRate {
			// Held at the ceiling: the saturation is above what the search may try.
			best.AtMaxRate = true
			fmt.Fprintf(out, "  saturation %-11s held --max-rate %d req/s: its saturation is at least that\n", s.label(), rate)
			break
		}
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

// nextStep is the saturation search's next rate after one held: half as much again, but
// --max-rate itself before anything past it.
func nextStep(rate, maxRate int) int {
	next := max(rate*3/2, rate+1)
	if next > maxRate && rate < maxRate {
		return maxRate
	}
	return next
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
	s := fmt.Sprintf("%.0f req/s ok, p50 %.1f p90 %.1f p99 %.1f max %.1f ms, %d/%d ok, cpu ms/req: server %.2f load %.2f sim %.2f",
		r.Throughput, r.P50MS, r.P90MS, r.P99MS, r.MaxMS, r.Succeeded, r.Requests, r.CPUMSPerRequest,
		r.LoadCPUMSPerRequest, r.SimCPUMSPerRequest)
	if r.DBCPUSeconds > 0 {
		s += fmt.Sprintf(" db %.2f (own backends %.2f)", r.DBCPUMSPerRequest, r.DBBackendsCPUMSPerRequest)
	}
	return s
}

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
			detail := fmt.Sprintf("%.0f vs %.0f req/s (%.2f×)", ph.Saturation.Throughput, pt.Saturation.Throughput, ratio)
			if pt.Saturation.AtMaxRate {
				detail += "; the pass-through held --max-rate, so the true ratio is lower"
			}
			vs = append(vs, BenchVerdict{DB: run.DB, Check: "saturation throughput ≥ ½ pass-through", Met: ratio >= 0.5, Detail: detail})
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
	fmt.Fprintf(&b, "\npayhub bench: %d CPUs (%s), partner latency %.0f ms, mix %s\n", rep.CPUs, rep.Machine, rep.LatencyMS, rep.Mix)
	fmt.Fprintf(&b, "pinning: %s\n\n", rep.Pinning.describe())
	header := "| |"
	sep := "|---|"
	for _, run := range rep.Runs {
		name := dbTitle(run.DB)
		if n := run.Payhub.Instances; n > 1 {
			name += fmt.Sprintf(", %d instances", n)
		}
		header += fmt.Sprintf(" payhub (%s) | pass-through | ratio |", name)
		sep += "---|---|---|"
	}
	fmt.Fprintln(&b, header)
	fmt.Fprintln(&b, sep)
	// measured says whether a row applies to a run: the database's CPU is read only on a
	// local PostgreSQL server (SQLite's is inside serve's).
	rowIf := func(measured func(BenchDBRun) bool, label string, val func(BenchServer) float64, format string, ratio bool) {
		line := "| " + label + " |"
		for _, run := range rep.Runs {
			if !measured(run) {
				line += " — | — | — |"
				continue
			}
			a, c := val(run.Payhub), val(run.Passthrough)
			r := "—"
			if ratio && c > 0 {
				r = fmt.Sprintf("%.2f×", a/c)
			}
			line += fmt.Sprintf(" "+format+" | "+format+" | %s |", a, c, r)
		}
		fmt.Fprintln(&b, line)
	}
	always := func(BenchDBRun) bool { return true }
	dbRead := func(run BenchDBRun) bool { return run.PostmasterPID != 0 }
	anyDBRead := slices.ContainsFunc(rep.Runs, dbRead)
	row := func(label string, val func(BenchServer) float64, format string, ratio bool) {
		rowIf(always, label, val, format, ratio)
	}
	// The other parties' CPU, per request: what the server under test had to share its
	// CPUs with.
	parties := func(prefix string, of func(func(BenchResult) float64) func(BenchServer) float64) {
		row(prefix+"load generator CPU per request, ms", of(func(r BenchResult) float64 { return r.LoadCPUMSPerRequest }), "%.2f", true)
		row(prefix+"simulator CPU per request, ms", of(func(r BenchResult) float64 { return r.SimCPUMSPerRequest }), "%.2f", true)
		if anyDBRead {
			rowIf(dbRead, prefix+"database CPU per request, ms", of(func(r BenchResult) float64 { return r.DBCPUMSPerRequest }), "%.2f", true)
			rowIf(dbRead, prefix+"… of it payhub's database's backends, ms", of(func(r BenchResult) float64 { return r.DBBackendsCPUMSPerRequest }), "%.2f", false)
		}
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
		parties("saturation: ", sat)
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
	parties("", fixed)
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
	printScaleOut(&b, rep)
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
