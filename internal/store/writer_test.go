package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Transactions that queue while the writer is busy commit as one batch; in it, one that
// fails and one that panics are rolled back alone (their savepoints), the others commit,
// and each caller learns its own outcome. A statement error inside a transaction (a
// duplicate key) rolls back that transaction only.
func TestGroupWriterBatchIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s, err := open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.db.Exec("CREATE TABLE w (id TEXT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	s.writer.batchStarted = func(n int) { sizes = append(sizes, n) }
	insert := func(t *tx, id string) error {
		_, err := t.tx.ExecContext(ctx, "INSERT INTO w (id) VALUES (?)", id)
		return err
	}

	// The first transaction holds the writer until the others have queued.
	entered, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = s.inTx(ctx, func(t *tx) error { close(entered); <-release; return insert(t, "first") })
	})
	<-entered
	boom := errors.New("boom")
	outcomes := make([]any, 8)
	for i := range outcomes {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					outcomes[i] = fmt.Sprint("panic: ", p)
				}
			}()
			outcomes[i] = s.inTx(ctx, func(t *tx) error {
				if err := insert(t, fmt.Sprintf("ok-%d", i)); err != nil {
					return err
				}
				switch i {
				case 2:
					return boom
				case 5:
					panic("five")
				case 6:
					return insert(t, "first") // a duplicate: the statement fails
				}
				return nil
			})
		})
	}
	for len(s.writer.requests) < len(outcomes) {
		runtime.Gosched() // until the eight are queued behind the held writer
	}
	close(release)
	wg.Wait()

	for i, got := range outcomes {
		switch i {
		case 2:
			if !errors.Is(got.(error), boom) {
				t.Errorf("transaction 2 = %v, want boom", got)
			}
		case 5:
			if got != "panic: five" {
				t.Errorf("transaction 5 = %v, want its panic", got)
			}
		case 6:
			if err, _ := got.(error); err == nil {
				t.Errorf("transaction 6 = nil, want its duplicate key")
			}
		default:
			if got != nil {
				t.Errorf("transaction %d = %v", i, got)
			}
		}
	}
	var ids []string
	rows, err := s.db.Query("SELECT id FROM w ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	want := "[first ok-0 ok-1 ok-3 ok-4 ok-7]"
	if fmt.Sprint(ids) != want {
		t.Errorf("committed %v, want %s", ids, want)
	}
	if fmt.Sprint(sizes) != "[1 5]" {
		t.Errorf("batches committed %v transactions, want [1 5] (the held one, then the eight queued behind it less three)", sizes)
	}
}

// A closed store refuses new transactions, and closing twice is harmless.
func TestGroupWriterClosed(t *testing.T) {
	ctx := context.Background()
	s, err := open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := s.inTx(ctx, func(*tx) error { return nil }); err == nil {
		t.Error("a transaction ran on a closed store")
	}
}
