package lab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// On a small machine the load generator, the partner simulators and PostgreSQL share CPUs
// with the server under test, so the bench reads what each of them costs, per request, and
// can pin them apart (--pin, --server-cpus, --load-cpus, --pin-db).

// procStat is the part of /proc/<pid>/stat the bench reads. Times are in clock ticks.
type procStat struct {
	pid, ppid                    int
	comm                         string
	utime, stime, cutime, cstime float64
}

// parseProcStat reads one /proc/<pid>/stat line.
func parseProcStat(line string) (procStat, error) {
	// The command name (field 2) may hold spaces and parentheses; fields after its last
	// ')' are fixed.
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("proc stat %.40q: no (comm)", line)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return procStat{}, fmt.Errorf("proc stat %.40q: pid: %w", line, err)
	}
	// fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
	fields := strings.Fields(line[end+1:])
	if len(fields) < 15 {
		return procStat{}, fmt.Errorf("proc stat %.40q: %d fields after comm", line, len(fields))
	}
	s := procStat{pid: pid, comm: line[open+1 : end]}
	if s.ppid, err = strconv.Atoi(fields[1]); err != nil {
		return procStat{}, fmt.Errorf("proc stat of %d: ppid: %w", pid, err)
	}
	for i, dst := range []*float64{&s.utime, &s.stime, &s.cutime, &s.cstime} {
		if *dst, err = strconv.ParseFloat(fields[11+i], 64); err != nil {
			return procStat{}, fmt.Errorf("proc stat of %d: field %d: %w", pid, 14+i, err)
		}
	}
	return s, nil
}

// cpuSeconds is the process's own user+system time.
func (s procStat) cpuSeconds() float64 { return (s.utime + s.stime) / clockTicks }

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux payhub runs on.
const clockTicks = 100

func readProcStat(pid int) (procStat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(raw))
}

// processCPUSeconds is utime+stime of the process (0 off Linux or once it is gone).
func processCPUSeconds(p *childProcess) float64 {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	s, err := readProcStat(p.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	return s.cpuSeconds()
}

// selfCPUSeconds is payhub-lab's own user+system time: the load generator's cost.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// allProcStats reads every process's stat; one that exits while being read is skipped.
func allProcStats() []procStat {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var stats []procStat
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, err := readProcStat(pid); err == nil {
			stats = append(stats, s)
		}
	}
	return stats
}

// postgresCPUSeconds is what the PostgreSQL server whose postmaster is pm has spent: the
// postmaster's own time, that of the children it reaped (cutime, cstime: a backend whose
// connection closed during a run still counts), and that of its live children (backends,
// WAL writer, checkpointer, autovacuum).
func postgresCPUSeconds(stats []procStat, pm int) float64 {
	total := 0.0
	for _, s := range stats {
		switch {
		case s.pid == pm:
			total += (s.utime + s.stime + s.cutime + s.cstime) / clockTicks
		case s.ppid == pm:
			total += s.cpuSeconds()
		}
	}
	return total
}

// postgresChildren are the postmaster and the processes it forked.
func postgresChildren(stats []procStat, pm int) []int {
	var pids []int
	for _, s := range stats {
		if s.pid == pm || s.ppid == pm {
			pids = append(pids, s.pid)
		}
	}
	return pids
}

// isPostgresComm tells a PostgreSQL server process by its command name (a backend keeps
// the postmaster's, whatever its title shows).
func isPostgresComm(comm string) bool {
	return comm == "postgres" || comm == "postmaster"
}

// findPostmaster is the pid of the postmaster behind the server at dbURL, when it runs on
// this machine in the same pid namespace: the parent of our own backend. Anything else (a
// remote server, a container) is an error and leaves the database's CPU unmeasured.
func findPostmaster(ctx context.Context, dbURL string) (int, error) {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var backend int
	if err := db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0, err
	}
	b, err := readProcStat(backend)
	if err != nil || !isPostgresComm(b.comm) {
		return 0, fmt.Errorf("backend pid %d is not a postgres process here (a remote server or another pid namespace)", backend)
	}
	pm, err := readProcStat(b.ppid)
	if err != nil || !isPostgresComm(pm.comm) {
		return 0, fmt.Errorf("parent %d of backend %d is not a postgres process", b.ppid, backend)
	}
	return pm.pid, nil
}

// parseCPUList reads a CPU list as taskset -c and /sys/devices/system/cpu do: "1",
// "0,2", "0-3,6".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		last := first
		if err == nil && isRange {
			last, err = strconv.Atoi(hi)
		}
		if err != nil || first < 0 || last < first || last >= maxCPUs {
			return nil, fmt.Errorf("CPU list %q: %q is neither a CPU number nor a range lo-hi", s, part)
		}
		for c := first; c <= last; c++ {
			if !slices.Contains(cpus, c) {
				cpus = append(cpus, c)
			}
		}
	}
	slices.Sort(cpus)
	return cpus, nil
}

// maxCPUs is the most CPUs an affinity mask names.
const maxCPUs = len(unix.CPUSet{}) * 64

// formatCPUList writes cpus back as a CPU list, ranges folded.
func formatCPUList(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		} else {
			parts = append(parts, strconv.Itoa(cpus[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// pinProcess sets the CPU affinity of every thread of pid, as taskset -a -p does: affinity
// is per thread in Linux, and a Go process has several. A thread inherits the affinity of
// the thread that creates it, so the threads are listed again until a listing shows none
// not yet pinned: any thread born after that was born to a pinned one.
func pinProcess(pid int, cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	pinned := map[int]bool{}
	for {
		tids, err := threadIDs(pid)
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if pinned[tid] {
				continue
			}
			// A thread that ended since the listing is no matter.
			if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("pin thread %d of process %d to CPUs %s: %w", tid, pid, formatCPUList(cpus), err)
			}
			pinned[tid] = true
			fresh++
		}
		if fresh == 0 {
			return nil
		}
	}
}

// threadIDs lists the threads of pid from /proc/<pid>/task.
func threadIDs(pid int) ([]int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// BenchPinning is where a run put each party; an empty list left it where the OS puts it.
type BenchPinning struct {
	// ServerCPUs hold the server under test: payhub serve and the pass-through alike, so the
	// ratio stays fair.
	ServerCPUs []int `json:"server_cpus,omitempty"`
	// LoadCPUs hold payhub-lab (the load generator) and the partner simulators.
	LoadCPUs []int `json:"load_cpus,omitempty"`
	// DBCPUs hold every PostgreSQL process (--pin-db); the pinning is not undone.
	DBCPUs []int `json:"db_cpus,omitempty"`
}

// pinning reads --pin, --server-cpus, --load-cpus and --pin-db. --pin is the shorthand for
// server CPU 0 and load CPU 1, each overridable by its own flag.
func (c *benchConfig) pinning() (BenchPinning, error) {
	server, load := c.ServerCPUs, c.LoadCPUs
	if c.Pin {
		server, load = cmpOrString(server, "0"), cmpOrString(load, "1")
	}
	var p BenchPinning
	for _, f := range []struct {
		flag, list string
		dst        *[]int
	}{{"--server-cpus", server, &p.ServerCPUs}, {"--load-cpus", load, &p.LoadCPUs}, {"--pin-db", c.PinDB, &p.DBCPUs}} {
		if f.list == "" {
			continue
		}
		cpus, err := parseCPUList(f.list)
		if err != nil {
			return p, fmt.Errorf("bench: %s: %w", f.flag, err)
		}
		*f.dst = cpus
	}
	return p, nil
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// describe says what the pinning does, for the run's first lines.
func (p BenchPinning) describe() string {
	where := func(cpus []int) string {
		if len(cpus) == 0 {
			return "where the OS puts them"
		}
		if len(cpus) == 1 {
			return fmt.Sprintf("on CPU %d", cpus[0])
		}
		return "on CPUs " + formatCPUList(cpus)
	}
	return fmt.Sprintf("servers under test %s; load generator and simulators %s; PostgreSQL %s",
		where(p.ServerCPUs), where(p.LoadCPUs), where(p.DBCPUs))
}

// cpuReading is the CPU time, in seconds, each party to a run has used so far; a run's
// share is the difference of two readings. backends is per backend of payhub's database.
type cpuReading struct {
	server, load, sim, db float64
	backends              map[int]float64
}

// cpuSpent is what a run cost each party, in seconds.
type cpuSpent struct{ server, load, sim, db, backends float64 }

// readCPU reads the CPU of s's processes, payhub-lab's, the simulators' and PostgreSQL's.
func (r *benchRig) readCPU(s *benchServerProc) cpuReading {
	c := cpuReading{load: selfCPUSeconds(), sim: processCPUSeconds(r.sim)}
	for _, p := range s.procs {
		c.server += processCPUSeconds(p)
	}
	if r.postmaster != 0 {
		stats := allProcStats()
		c.db = postgresCPUSeconds(stats, r.postmaster)
		c.backends = backendsCPU(stats, r.postmaster, r.backendPIDs())
	}
	return c
}

// backendPIDs are the backends connected to payhub's database now.
func (r *benchRig) backendPIDs() []int {
	if r.admin == nil || r.dbName == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := r.admin.QueryContext(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1", r.dbName)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// backendsCPU is the CPU seconds of each of pids that is a child of the postmaster pm.
func backendsCPU(stats []procStat, pm int, pids []int) map[int]float64 {
	cpu := map[int]float64{}
	for _, s := range stats {
		if s.ppid == pm && slices.Contains(pids, s.pid) {
			cpu[s.pid] = s.cpuSeconds()
		}
	}
	return cpu
}

// backendsCPUSince is what the backends alive at the later reading spent since the earlier
// one (a backend born in between counts from zero). One that ended in between is lost, but
// serve keeps its pooled connections open.
func backendsCPUSince(before, after map[int]float64) float64 {
	total := 0.0
	for pid, cpu := range after {
		total += cpu - before[pid]
	}
	return total
}

func (c cpuReading) since(before cpuReading) cpuSpent {
	return cpuSpent{server: c.server - before.server, load: c.load - before.load, sim: c.sim - before.sim, db: c.db - before.db,
		backends: backendsCPUSince(before.backends, c.backends)}
}

// setCPU records what a run cost each party, in all and per request.
func (res *BenchResult) setCPU(c cpuSpent) {
	res.CPUSeconds, res.LoadCPUSeconds, res.SimCPUSeconds = c.server, c.load, c.sim
	res.DBCPUSeconds, res.DBBackendsCPUSeconds = c.db, c.backends
	if res.Requests == 0 {
		return
	}
	perRequest := func(seconds float64) float64 { return seconds * 1000 / float64(res.Requests) }
	res.CPUMSPerRequest, res.LoadCPUMSPerRequest = perRequest(c.server), perRequest(c.load)
	res.SimCPUMSPerRequest, res.DBCPUMSPerRequest = perRequest(c.sim), perRequest(c.db)
	res.DBBackendsCPUMSPerRequest = perRequest(c.backends)
}
