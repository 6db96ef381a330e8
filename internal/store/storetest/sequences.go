package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"payhub/contracts"
)

func allocate(s contracts.Store, terminal, date string, max int) (int, error) {
	var seq int
	err := s.InTx(context.Background(), func(tx contracts.Tx) error {
		var err error
		seq, err = tx.AllocateSequence(context.Background(), contracts.MethodNanaco, terminal, date, max)
		return err
	})
	return seq, err
}

// Sequences count from 1 per (method, terminal, business date); a rolled-back transaction
// hands nothing out; past max the store refuses with ErrSequenceExhausted.
func testAllocateSequence(t *testing.T, s contracts.Store) {
	for i, want := range []int{1, 2, 3} {
		if got, err := allocate(s, "T1", "20261206", 10); err != nil || got != want {
			t.Fatalf("allocation %d = %d, %v; want %d", i+1, got, err, want)
		}
	}
	if got, err := allocate(s, "T2", "20261206", 10); err != nil || got != 1 {
		t.Fatalf("another terminal = %d, %v; want 1", got, err)
	}
	if got, err := allocate(s, "T1", "20261207", 10); err != nil || got != 1 {
		t.Fatalf("the next business date = %d, %v; want 1", got, err)
	}
	boom := errors.New("roll back")
	err := s.InTx(context.Background(), func(tx contracts.Tx) error {
		if _, err := tx.AllocateSequence(context.Background(), contracts.MethodNanaco, "T1", "20261206", 10); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("rolled back: %v", err)
	}
	if got, err := allocate(s, "T1", "20261206", 10); err != nil || got != 4 {
		t.Fatalf("after a rollback = %d, %v; want 4", got, err)
	}
	if got, err := allocate(s, "T3", "20261206", 1); err != nil || got != 1 {
		t.Fatalf("first of one = %d, %v", got, err)
	}
	if _, err := allocate(s, "T3", "20261206", 1); !errors.Is(err, contracts.ErrSequenceExhausted) {
		t.Fatalf("past max: %v, want ErrSequenceExhausted", err)
	}
}

// Concurrent allocations on one terminal and date never hand out a number twice.
func testConcurrentAllocateSequence(t *testing.T, s contracts.Store) {
	const n = 24
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs []int
	)
	for range n {
		wg.Go(func() {
			seq, err := allocate(s, "TC", "20261206", 999_999)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seqs = append(seqs, seq)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(seqs)
	for i, seq := range seqs {
		if seq != i+1 {
			t.Fatalf("sequences handed out: %v, want 1..%d once each", seqs, n)
		}
	}
}
