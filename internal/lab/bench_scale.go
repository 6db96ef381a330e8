package lab

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Scale-out: payhub as several serve processes on one PostgreSQL database, the load spread
// round-robin over them (bench --instances 1,2,3).

// maxBenchInstances bounds --instances: a few processes already outnumber a small
// machine's CPUs.
const maxBenchInstances = 16

// checkInstances refuses counts that cannot run: several instances need a database they can
// share, and SQLite is one process's file.
func checkInstances(counts []int, dbs []string) error {
	if len(counts) == 0 {
		return errors.New("bench: --instances names no count")
	}
	for _, n := range counts {
		if n < 1 || n > maxBenchInstances {
			return fmt.Errorf("bench: --instances %d: want 1 to %d serve processes", n, maxBenchInstances)
		}
		if n > 1 && slices.Contains(dbs, "sqlite") {
			return fmt.Errorf("bench: --instances %d needs PostgreSQL: a SQLite database is one serve process's file; run it with --db postgres://… only", n)
		}
	}
	return nil
}

// printScaleOut prints, for each run with several instance counts, one row per count and
// the pass-through's once for reference.
func printScaleOut(b *bytes.Buffer, rep *BenchReport) {
	for _, run := range rep.Runs {
		if len(run.ScaleOut) == 0 {
			continue
		}
		fmt.Fprintf(b, "\nscale-out on %s: payhub serve processes sharing one database, load round-robin\n\n", dbTitle(run.DB))
		fmt.Fprintln(b, scaleOutHeader)
		fmt.Fprintln(b, "|"+strings.Repeat("---|", strings.Count(scaleOutHeader, "|")-1))
		for _, s := range run.ScaleOut {
			fmt.Fprintln(b, scaleOutRow(fmt.Sprintf("payhub ×%d", s.Instances), s, run.PostmasterPID != 0))
		}
		if run.Passthrough.Instances > 0 {
			fmt.Fprintln(b, scaleOutRow("pass-through", run.Passthrough, run.PostmasterPID != 0))
		}
	}
}

const scaleOutHeader = "| server | highest rate held, req/s | saturation throughput, req/s | saturation p99, ms | " +
	"server CPU/req, ms | database CPU/req, ms (its backends) | load generator CPU/req, ms | simulator CPU/req, ms | " +
	"fixed rate, req/s | fixed p99, ms | fixed server CPU/req, ms | fixed database CPU/req, ms (its backends) | peak RSS per process / total, MB |"

// scaleOutRow is one server's row; the CPU figures of the saturation are those of the
// highest rate held.
func scaleOutRow(label string, s BenchServer, dbRead bool) string {
	db := func(r BenchResult) string {
		if !dbRead {
			return "—"
		}
		return fmt.Sprintf("%.2f (%.2f)", r.DBCPUMSPerRequest, r.DBBackendsCPUMSPerRequest)
	}
	saturation := "— | — | — | — | — | — | —"
	if sat := s.Saturation; sat != nil {
		saturation = fmt.Sprintf("%d | %.0f | %.1f | %.2f | %s | %.2f | %.2f", sat.Rate, sat.Throughput, sat.P99MS, sat.CPUMSPerRequest,
			db(*sat), sat.LoadCPUMSPerRequest, sat.SimCPUMSPerRequest)
	}
	return fmt.Sprintf("| %s | %s | %d | %.1f | %.2f | %s | %.0f / %.0f |", label, saturation,
		s.Fixed.Rate, s.Fixed.P99MS, s.Fixed.CPUMSPerRequest, db(s.Fixed), s.PeakRSSMB, s.PeakRSSTotalMB)
}

func dbTitle(db string) string {
	return map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[db]
}
