package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// writerChildEnv names the database the child process of TestGroupCommitSurvivesSIGKILL
// writes to; its mode says when the child reports a batch.
const writerChildEnv = "PAYHUB_WRITER_CHILD_DB"

// TestGroupCommitSurvivesSIGKILL runs a process that commits batches of at least 20
// transactions and SIGKILLs it as such a batch commits: every transaction the process
// answered (run returned nil) is in the database afterwards, and every transaction is
// there whole or not at all. Rounds alternate between a kill racing the COMMIT and one
// landing before it (the child holds the batch until it dies); each round writes on into
// the database the previous rounds left.
func TestGroupCommitSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(writerChildEnv) != "" {
		t.Skip("runs as the child of this test")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "crash.db")
	answered, before := map[string]bool{}, map[string]bool{}
	for round, mode := range []string{"race", "hold", "race", "race", "hold", "race"} {
		// The kill lands at the batch of 20 or more numbered killAt: later in each round, so
		// that each has committed (and answered) many batches before.
		killAt := 5 + 7*round
		size, got := runWriterChild(t, path, mode, killAt)
		if size < 20 {
			t.Fatalf("round %d: killed at a batch of %d, want at least 20", round, size)
		}
		for _, id := range got {
			answered[id] = true
		}
		pairs, orphans := readCrashRows(t, path)
		for id := range answered {
			if !pairs[id] {
				t.Errorf("round %d (%s): transaction %s was answered but is not in the database", round, mode, id)
			}
		}
		if len(orphans) > 0 {
			t.Errorf("round %d (%s): half-written transactions: %v", round, mode, orphans)
		}
		for id := range pairs {
			if mode == "hold" && !answered[id] && !before[id] {
				t.Errorf("round %d: transaction %s of the batch killed before its COMMIT is in the database", round, id)
			}
		}
		before = pairs
		t.Logf("round %d (%s): killed at a batch of %d; %d answered so far, %d in the database", round, mode, size, len(answered), len(pairs))
	}
}

// runWriterChild starts the child, SIGKILLs it once it reports its killAt-th batch of ≥ 20
// committing, and returns that batch's size and the ids the child answered.
func runWriterChild(t *testing.T, path, mode string, killAt int) (int, []string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestGroupWriterChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), writerChildEnv+"="+path, "PAYHUB_WRITER_CHILD_MODE="+mode,
		"PAYHUB_WRITER_CHILD_KILL_AT="+strconv.Itoa(killAt))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		ids  []string
		size int
	)
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		switch {
		case len(f) == 2 && f[0] == "answered":
			ids = append(ids, f[1])
		case len(f) == 2 && f[0] == "committing" && size == 0:
			size, _ = strconv.Atoi(f[1])
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = cmd.Wait()
	if size == 0 {
		t.Fatal("the child ended without a batch of 20")
	}
	return size, ids
}

// readCrashRows opens the database after a kill (recovering its WAL) and reads which
// transactions are there whole, and which only in part.
func readCrashRows(t *testing.T, path string) (whole map[string]bool, parts []string) {
	t.Helper()
	s, err := open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.db.Query(`SELECT a.id, b.id IS NOT NULL FROM crash_a a LEFT JOIN crash_b b ON b.id = a.id
		UNION ALL SELECT b.id, FALSE FROM crash_b b WHERE NOT EXISTS (SELECT 1 FROM crash_a a WHERE a.id = b.id)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	whole = map[string]bool{}
	for rows.Next() {
		var (
			id   string
			both bool
		)
		if err := rows.Scan(&id, &both); err != nil {
			t.Fatal(err)
		}
		if both {
			whole[id] = true
		} else {
			parts = append(parts, id)
		}
	}
	return whole, parts
}

// TestGroupWriterChild is the child process: 64 writers, each transaction two rows in two
// tables, "answered <id>" printed once run returned nil, "committing <n>" once its
// killAt-th batch of n ≥ 20 transactions is about to commit. In mode hold that batch then
// waits for the kill.
func TestGroupWriterChild(t *testing.T) {
	path := os.Getenv(writerChildEnv)
	if path == "" {
		t.Skip("the child of TestGroupCommitSurvivesSIGKILL")
	}
	ctx := context.Background()
	s, err := open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"crash_a", "crash_b"} {
		if _, err := s.db.Exec("CREATE TABLE IF NOT EXISTS " + table + " (id TEXT PRIMARY KEY, body BLOB NOT NULL)"); err != nil {
			t.Fatal(err)
		}
	}
	var (
		out         sync.Mutex
		answeredN   int // lines "answered" printed, under out
		committedTx int // transactions of the batches before this one: the writer's goroutine only
	)
	say := func(format string, args ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	// allPrinted waits until every transaction committed before the current batch has been
	// reported answered, so that in mode hold the parent knows all of them.
	allPrinted := func() {
		for {
			out.Lock()
			n := answeredN
			out.Unlock()
			if n >= committedTx {
				return
			}
			runtime.Gosched()
		}
	}
	hold := os.Getenv("PAYHUB_WRITER_CHILD_MODE") == "hold"
	killAt, _ := strconv.Atoi(os.Getenv("PAYHUB_WRITER_CHILD_KILL_AT"))
	big := 0
	s.writer.batchStarted = func(n int) { // the writer's goroutine: big needs no lock
		defer func() { committedTx += n }()
		if n < 20 {
			return
		}
		if big++; big != killAt {
			return
		}
		if hold {
			allPrinted()
		}
		say("committing %d", n)
		if hold {
			select {} // the parent's SIGKILL ends this
		}
	}
	body := make([]byte, 600)
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("%d-%d-%d", os.Getpid(), w, i)
				err := s.inTx(ctx, func(t *tx) error {
					for _, table := range []string{"crash_a", "crash_b"} {
						if _, err := t.tx.ExecContext(ctx, "INSERT INTO "+table+" (id, body) VALUES (?, ?)", id, body); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					say("error %v", err)
					return
				}
				out.Lock()
				fmt.Printf("answered %s\n", id)
				answeredN++
				out.Unlock()
			}
		})
	}
	wg.Wait()
}
