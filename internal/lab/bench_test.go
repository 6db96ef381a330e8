package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/sys/unix"
)

// TestBenchReport builds payhub and runs the bench briefly (a few hundred requests per
// server, no saturation search): the sim, serve and the pass-through start as processes,
// the load reaches both, and the report parses. It asserts no timing: speed is measured,
// never asserted.
func TestBenchReport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; skipped with -short")
	}
	dir := t.TempDir()
	bin := buildLab(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	jsonPath := filepath.Join(dir, "bench.json")
	args := []string{"bench", "--quick", "--rate", "50", "--duration", "3s", "--latency", "5ms", "--json", jsonPath}
	// Pinned apart when this machine lets the test choose two CPUs (on one, both on it).
	server, load := benchTestCPUs(t)
	args = append(args, "--server-cpus", strconv.Itoa(server), "--load-cpus", strconv.Itoa(load))
	if u := os.Getenv("PAYHUB_TEST_POSTGRES_URL"); u != "" {
		args = append(args, "--db", "sqlite", "--db", u)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("bench output:\n%s", out.String())
	if err != nil {
		t.Fatalf("bench: %v", err)
	}

	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep BenchReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("report does not parse: %v\n%s", err, raw)
	}
	if len(rep.Runs) == 0 || rep.Runs[0].DB != "sqlite" {
		t.Fatalf("want a SQLite run first, got %+v", rep.Runs)
	}
	for _, run := range rep.Runs {
		for _, r := range []BenchResult{run.Payhub.Fixed, run.Passthrough.Fixed} {
			if r.Requests == 0 || r.Rate != 50 || r.Server == "" {
				t.Errorf("%s %s: no load measured: %+v", run.DB, r.Server, r)
			}
			// Every operation of the mix reached the server.
			for _, op := range benchOps {
				if r.Ops[op] == 0 {
					t.Errorf("%s %s: no %s requests: %v", run.DB, r.Server, op, r.Ops)
				}
			}
		}
		if run.Payhub.PeakRSSMB <= 0 || run.Passthrough.PeakRSSMB <= 0 {
			t.Errorf("%s: peak RSS not read: %v / %v", run.DB, run.Payhub.PeakRSSMB, run.Passthrough.PeakRSSMB)
		}
		// The other parties' CPU is read for every run: the load generator and the
		// simulators always work; payhub's database backends too, on a local PostgreSQL.
		for _, r := range []BenchResult{run.Payhub.Fixed, run.Passthrough.Fixed} {
			if r.LoadCPUSeconds <= 0 || r.SimCPUSeconds <= 0 {
				t.Errorf("%s %s: load generator / simulator CPU not read: %v / %v", run.DB, r.Server, r.LoadCPUSeconds, r.SimCPUSeconds)
			}
		}
		if run.PostmasterPID != 0 && (run.Payhub.Fixed.DBCPUSeconds <= 0 || run.Payhub.Fixed.DBBackendsCPUSeconds <= 0) {
			t.Errorf("%s: database CPU not read: %+v", run.DB, run.Payhub.Fixed)
		}
	}
	if !slices.Equal(rep.Pinning.ServerCPUs, []int{server}) || !slices.Equal(rep.Pinning.LoadCPUs, []int{load}) {
		t.Errorf("pinning %+v, want server %d load %d", rep.Pinning, server, load)
	}
	if len(rep.Verdicts) != len(rep.Runs) {
		t.Errorf("want one verdict (p99 added) per database without saturation, got %+v", rep.Verdicts)
	}
	table := out.String()
	for _, want := range []string{"| | payhub (SQLite) | pass-through | ratio |", "| p99, ms |", "| CPU per request, ms |", "| peak RSS, MB |",
		"| load generator CPU per request, ms |", "| simulator CPU per request, ms |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}

// benchTestCPUs are two CPUs this process may run on (the same one twice on one CPU).
func benchTestCPUs(t *testing.T) (server, load int) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Skip("no sched_getaffinity here:", err)
	}
	var cpus []int
	for c := range maxCPUs {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus[0], cpus[len(cpus)-1]
}

// TestBenchScaleOut runs payhub as one and then two serve processes on one PostgreSQL
// database and reads the scale-out table; several instances on SQLite are refused.
func TestBenchScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; skipped with -short")
	}
	dir := t.TempDir()
	bin := buildLab(t, dir)
	refused, err := exec.Command(bin, "bench", "--quick", "--db", "sqlite", "--instances", "1,2").CombinedOutput()
	if err == nil || !strings.Contains(string(refused), "needs PostgreSQL") {
		t.Errorf("two instances on SQLite: %v\n%s", err, refused)
	}
	pg := os.Getenv("PAYHUB_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("PAYHUB_TEST_POSTGRES_URL not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	jsonPath := filepath.Join(dir, "bench.json")
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "bench", "--quick", "--db", pg, "--instances", "1,2", "--servers", "payhub",
		"--rate", "40", "--duration", "2s", "--latency", "5ms", "--json", jsonPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("bench output:\n%s", out.String())
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep BenchReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 1 || len(rep.Runs[0].ScaleOut) != 2 {
		t.Fatalf("want one run with two instance counts, got %+v", rep.Runs)
	}
	for i, s := range rep.Runs[0].ScaleOut {
		n := i + 1
		if s.Instances != n || s.Fixed.Instances != n || s.Fixed.Requests == 0 || s.Fixed.Succeeded < s.Fixed.Requests*99/100 {
			t.Errorf("%d instances: %+v", n, s)
		}
	}
	if two := rep.Runs[0].ScaleOut[1]; two.PeakRSSTotalMB < 1.5*two.PeakRSSMB {
		t.Errorf("two instances' total RSS %v MB is not about twice the largest's %v MB", two.PeakRSSTotalMB, two.PeakRSSMB)
	}
	for _, want := range []string{"scale-out on PostgreSQL", "| payhub ×1 |", "| payhub ×2 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestParseBenchMix(t *testing.T) {
	mix, err := parseBenchMix(defaultBenchMix)
	if err != nil || mix["paypay"] != 45 || mix["lookup"] != 15 || len(mix) != len(benchOps) {
		t.Fatalf("default mix: %v %v", mix, err)
	}
	for _, bad := range []string{"", "paypay=0", "cards=5", "paypay=-1", "paypay"} {
		if _, err := parseBenchMix(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	l := newBenchLoad(map[string]int{"paypay": 3, "refund": 1}, 1, nil, nil, nil)
	if got := l.share("refund"); got != 0.25 {
		t.Errorf("refund share %v, want 0.25", got)
	}
}

func TestQuantile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := quantile(d, q); got != want {
			t.Errorf("quantile %v = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("empty")
	}
}

func TestBenchLatencySpecCoversEveryPartnerCall(t *testing.T) {
	spec := benchLatencySpec(20 * time.Millisecond)
	for _, p := range []string{"* /v2/ 1 latency:20ms", "* /v3/ 1 latency:20ms", "* /v4/ 1 latency:20ms"} {
		if !strings.Contains(spec, p) {
			t.Errorf("%q lacks %q", spec, p)
		}
	}
}

func TestBenchParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{
		"0": {0}, "1": {1}, "0-3,6": {0, 1, 2, 3, 6}, "2,0-1": {0, 1, 2}, " 1 , 0 ": {0, 1}, "1,1-2": {1, 2},
	} {
		got, err := parseCPUList(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "1-", "0,,1", "0-1-2", "1024", "0x1"} {
		if got, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", bad, got)
		}
	}
	for _, c := range []struct {
		cpus []int
		want string
	}{{[]int{0}, "0"}, {[]int{0, 1, 2, 3, 6}, "0-3,6"}, {[]int{1, 3, 5, 6}, "1,3,5-6"}, {nil, ""}} {
		if got := formatCPUList(c.cpus); got != c.want {
			t.Errorf("formatCPUList(%v) = %q, want %q", c.cpus, got, c.want)
		}
	}
}

func TestBenchPinning(t *testing.T) {
	for _, c := range []struct {
		cfg              benchConfig
		server, load, db []int
	}{
		{benchConfig{}, nil, nil, nil},
		{benchConfig{Pin: true}, []int{0}, []int{1}, nil},
		{benchConfig{Pin: true, ServerCPUs: "1", LoadCPUs: "0"}, []int{1}, []int{0}, nil},
		{benchConfig{ServerCPUs: "0-1"}, []int{0, 1}, nil, nil},
		{benchConfig{Pin: true, PinDB: "1"}, []int{0}, []int{1}, []int{1}},
	} {
		p, err := c.cfg.pinning()
		if err != nil || !slices.Equal(p.ServerCPUs, c.server) || !slices.Equal(p.LoadCPUs, c.load) || !slices.Equal(p.DBCPUs, c.db) {
			t.Errorf("%+v: got %+v, %v", c.cfg, p, err)
		}
	}
	if _, err := (&benchConfig{Pin: true, LoadCPUs: "one"}).pinning(); err == nil || !strings.Contains(err.Error(), "--load-cpus") {
		t.Errorf("a bad --load-cpus: %v", err)
	}
}

// TestBenchPinProcessPinsEveryThread pins a child (sleep, one thread) and this test process
// (a Go process: several threads) and reads every thread's affinity back.
func TestBenchPinProcessPinsEveryThread(t *testing.T) {
	var mine unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mine); err != nil {
		t.Skip("no sched_getaffinity here:", err)
	}
	var allowed []int
	for c := range maxCPUs {
		if mine.IsSet(c) {
			allowed = append(allowed, c)
		}
	}
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Skip("no sleep to run:", err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	// The child on one CPU; this process on all it had (so the test changes nothing).
	for _, c := range []struct {
		pid  int
		cpus []int
	}{{child.Process.Pid, allowed[len(allowed)-1:]}, {os.Getpid(), allowed}} {
		if err := pinProcess(c.pid, c.cpus); err != nil {
			t.Fatal(err)
		}
		tids, err := threadIDs(c.pid)
		if err != nil || len(tids) == 0 {
			t.Fatalf("threads of %d: %v %v", c.pid, tids, err)
		}
		for _, tid := range tids {
			var got unix.CPUSet
			if err := unix.SchedGetaffinity(tid, &got); err != nil {
				continue // ended since
			}
			if got.Count() != len(c.cpus) || !got.IsSet(c.cpus[0]) {
				t.Errorf("thread %d of %d: %d CPUs, want %v", tid, c.pid, got.Count(), c.cpus)
			}
		}
	}
	if err := pinProcess(child.Process.Pid, []int{maxCPUs - 1}); err == nil && len(allowed) < maxCPUs {
		t.Error("pinning to a CPU this machine lacks succeeded")
	}
}

func TestBenchParseProcStat(t *testing.T) {
	// A real postgres backend's line (its title is in cmdline; comm stays "postgres").
	s, err := parseProcStat("2250 (postgres) S 2249 2250 2250 0 -1 4210752 236 0 0 0 31 57 7 3 20 0 1 0 1690 226598912 1734 18446744073709551615 1 1 0 0 0 0 0 16781312 16903 0 0 0 17 1 0 0 0 0 0\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.pid != 2250 || s.ppid != 2249 || s.comm != "postgres" || s.utime != 31 || s.stime != 57 || s.cutime != 7 || s.cstime != 3 {
		t.Errorf("parsed %+v", s)
	}
	if got := s.cpuSeconds(); got != 0.88 {
		t.Errorf("cpuSeconds %v, want 0.88", got)
	}
	// A command name may hold spaces and parentheses: the fields start after the last ')'.
	s, err = parseProcStat("42 (a) b (c)) R 7 42 42 0 -1 0 0 0 0 0 100 200 0 0 20 0 1 0 5 0 0")
	if err != nil || s.comm != "a) b (c)" || s.ppid != 7 || s.utime != 100 || s.stime != 200 {
		t.Errorf("parsed %+v, %v", s, err)
	}
	for _, bad := range []string{"", "42 postgres S 1", "x (postgres) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", "42 (postgres) S 1 2 3"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	// This process's own line parses, and the CPU it spent is there.
	me, err := readProcStat(os.Getpid())
	if err != nil || me.pid != os.Getpid() || me.ppid != os.Getppid() {
		t.Errorf("own stat: %+v, %v", me, err)
	}
}

// TestBenchPostgresCPUSeconds sums a server's postmaster and children, leaves another server's
// processes out, and keeps a backend that exits between two readings counted (its CPU moves
// to the postmaster's cutime/cstime when reaped).
func TestBenchPostgresCPUSeconds(t *testing.T) {
	before := []procStat{
		{pid: 1, ppid: 0, comm: "systemd", utime: 9000},
		{pid: 100, ppid: 1, comm: "postgres", utime: 10, stime: 5, cutime: 30, cstime: 5},
		{pid: 101, ppid: 100, comm: "postgres", utime: 200, stime: 100}, // walwriter
		{pid: 102, ppid: 100, comm: "postgres", utime: 40, stime: 10},   // a backend that will close
		{pid: 300, ppid: 1, comm: "postgres", utime: 500},               // another cluster's postmaster
		{pid: 301, ppid: 300, comm: "postgres", utime: 500},
		{pid: 400, ppid: 1, comm: "payhub", utime: 700},
	}
	if got, want := postgresCPUSeconds(before, 100), (10+5+30+5+200+100+40+10)/100.0; !closeTo(got, want) {
		t.Errorf("before: %v, want %v", got, want)
	}
	if got := postgresChildren(before, 100); !slices.Equal(got, []int{100, 101, 102}) {
		t.Errorf("children %v", got)
	}
	after := []procStat{
		{pid: 100, ppid: 1, comm: "postgres", utime: 11, stime: 5, cutime: 30 + 60, cstime: 5 + 15}, // reaped 102
		{pid: 101, ppid: 100, comm: "postgres", utime: 210, stime: 100},
		{pid: 103, ppid: 100, comm: "postgres", utime: 20, stime: 5}, // a new backend
		{pid: 300, ppid: 1, comm: "postgres", utime: 900},
	}
	// 1 (postmaster) + 10 (walwriter) + 20+5 (102's last work) + 25 (the new backend) ticks.
	if got, want := postgresCPUSeconds(after, 100)-postgresCPUSeconds(before, 100), 0.61; !closeTo(got, want) {
		t.Errorf("spent %v, want %v", got, want)
	}
	if got := postgresCPUSeconds(after, 999); got != 0 {
		t.Errorf("no such postmaster: %v", got)
	}
}

func TestBenchBackendsCPU(t *testing.T) {
	stats := []procStat{
		{pid: 100, ppid: 1, comm: "postgres", utime: 50},
		{pid: 101, ppid: 100, comm: "postgres", utime: 100, stime: 50},
		{pid: 102, ppid: 100, comm: "postgres", utime: 30},
		{pid: 103, ppid: 100, comm: "postgres", utime: 70}, // another database's
		{pid: 500, ppid: 1, comm: "sh", utime: 70},         // a stale pid from pg_stat_activity
	}
	before := backendsCPU(stats, 100, []int{101, 102, 500})
	if len(before) != 2 || !closeTo(before[101], 1.5) || !closeTo(before[102], 0.3) {
		t.Fatalf("backends %v", before)
	}
	after := map[int]float64{101: 2.0, 104: 0.25} // 102 closed, 104 opened
	if got := backendsCPUSince(before, after); !closeTo(got, 0.75) {
		t.Errorf("since: %v, want 0.75", got)
	}
}

func closeTo(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestBenchRoundRobinTargets spreads requests evenly and in turn over the instances.
func TestBenchRoundRobinTargets(t *testing.T) {
	till, err := newBenchTill()
	if err != nil {
		t.Fatal(err)
	}
	bases := []string{"http://127.0.0.1:1001", "http://127.0.0.1:1002", "http://127.0.0.1:1003"}
	l := newBenchLoad(map[string]int{"paypay": 1, "lookup": 1, "refund": 1}, 1, till, bases, nil)
	l.learn([]byte(`{"id":"pay_1","status":"succeeded","amount":1000,"currency":"JPY"}`))
	targeter := l.targeter()
	var got []string
	for range 30 {
		var tgt vegeta.Target
		if err := targeter(&tgt); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(tgt.URL)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, u.Scheme+"://"+u.Host)
	}
	for i, base := range got {
		if want := bases[i%len(bases)]; base != want {
			t.Fatalf("request %d went to %s, want %s (all: %v)", i+1, base, want, got)
		}
	}
	if one := roundRobin(bases[:1], 7); one != bases[0] {
		t.Errorf("one instance: %s", one)
	}
}

func TestBenchCheckInstances(t *testing.T) {
	pg := "postgres://postgres@127.0.0.1:5432/postgres"
	for _, ok := range []struct {
		counts []int
		dbs    []string
	}{{[]int{1}, []string{"sqlite"}}, {[]int{1, 2, 3}, []string{pg}}, {[]int{1}, []string{"sqlite", pg}}} {
		if err := checkInstances(ok.counts, ok.dbs); err != nil {
			t.Errorf("%v on %v: %v", ok.counts, ok.dbs, err)
		}
	}
	if err := checkInstances([]int{1, 2}, []string{"sqlite", pg}); err == nil || !strings.Contains(err.Error(), "needs PostgreSQL") {
		t.Errorf("two instances on SQLite: %v", err)
	}
	for _, bad := range [][]int{nil, {0}, {1, 17}} {
		if err := checkInstances(bad, []string{pg}); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestSaturationStepsReachTheCeilingBeforePassingIt(t *testing.T) {
	var rates []int
	for rate := 50; rate <= 5000; rate = nextStep(rate, 5000) {
		rates = append(rates, rate)
		if rate == 5000 {
			break
		}
	}
	want := []int{50, 75, 112, 168, 252, 378, 567, 850, 1275, 1912, 2868, 4302, 5000}
	if !slices.Equal(rates, want) {
		t.Errorf("steps %v, want %v", rates, want)
	}
	if got := nextStep(1, 5000); got != 2 {
		t.Errorf("nextStep(1) = %d: the search would not move", got)
	}
	if got := nextStep(5000, 5000); got <= 5000 {
		t.Errorf("nextStep(max) = %d, want past the ceiling (the loop ends)", got)
	}
}
