package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	}
	if len(rep.Verdicts) != len(rep.Runs) {
		t.Errorf("want one verdict (p99 added) per database without saturation, got %+v", rep.Verdicts)
	}
	table := out.String()
	for _, want := range []string{"| | payhub (SQLite) | pass-through | ratio |", "| p99, ms |", "| CPU per request, ms |", "| peak RSS, MB |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q", want)
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
	l := newBenchLoad(map[string]int{"paypay": 3, "refund": 1}, 1, nil, "", nil)
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
