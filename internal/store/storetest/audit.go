package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"payhub/contracts"
	"payhub/internal/audit"
)

// auditTestKey is the audit key of the conformance tests.
var auditTestKey = []byte("0123456789abcdef0123456789abcdef")

// appendAudit appends one entry in its own transaction.
func appendAudit(t *testing.T, s contracts.Store, action string) audit.Entry {
	t.Helper()
	var got audit.Entry
	inTx(t, s, func(tx contracts.Tx) error {
		var err error
		got, err = audit.Append(context.Background(), tx, auditTestKey,
			audit.Entry{At: base, Actor: "cli:test", Action: action, Target: "client:pos-1", RequestID: "req-1"})
		return err
	})
	return got
}

// testAuditLog: entries round-trip, are numbered from 1 and chained; the head follows; a
// rolled-back append leaves nothing; a taken seq is ErrConflict; paging works.
func testAuditLog(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	if h, err := s.GetAuditHead(ctx); err != nil || h != (contracts.AuditHead{}) {
		t.Fatalf("empty log head = %+v, %v", h, err)
	}
	var written []audit.Entry
	for i := range 5 {
		written = append(written, appendAudit(t, s, fmt.Sprintf("test.%d", i)))
	}
	// A rolled-back append leaves no entry and no gap.
	rollback := errors.New("roll back")
	err := s.InTx(ctx, func(tx contracts.Tx) error {
		if _, err := audit.Append(ctx, tx, auditTestKey, audit.Entry{Actor: "x", Action: "rolled.back"}); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("rolled-back append: %v", err)
	}
	written = append(written, appendAudit(t, s, "test.after-rollback"))

	all, err := s.ListAuditEntries(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(written) {
		t.Fatalf("listed %d entries, want %d", len(all), len(written))
	}
	for i, e := range all {
		if d := diff(e, written[i]); d != "" {
			t.Errorf("entry %d did not round-trip:%s", i+1, d)
		}
		if e.Seq != int64(i+1) {
			t.Errorf("entry %d has seq %d", i+1, e.Seq)
		}
	}
	if err := audit.Verify(audit.Slice(all), auditTestKey, nil); err != nil {
		t.Errorf("intact chain: %v", err)
	}
	h, err := s.GetAuditHead(ctx)
	if err != nil || h.Seq != 6 || h.Hash != all[5].Hash {
		t.Errorf("head = %+v, %v; want seq 6 hash %s", h, err, all[5].Hash)
	}
	page, err := s.ListAuditEntries(ctx, 2, 3)
	if err != nil || len(page) != 3 || page[0].Seq != 3 || page[2].Seq != 5 {
		t.Errorf("ListAuditEntries(after 2, limit 3) = %d entries from %v, %v", len(page), page, err)
	}
	// A taken seq is refused.
	dup := all[5]
	err = s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertAuditEntry(ctx, dup) })
	if !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("InsertAuditEntry(taken seq) = %v, want ErrConflict", err)
	}
}

// testConcurrentAuditAppends: 20 transactions appending at once get seq 1…20, chained.
func testConcurrentAuditAppends(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.InTx(ctx, func(tx contracts.Tx) error {
				_, err := audit.Append(ctx, tx, auditTestKey, audit.Entry{Actor: "cli:test", Action: fmt.Sprintf("concurrent.%d", i)})
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("append: %v", err)
		}
	}
	sum, err := audit.Check(audit.Entries(ctx, s, 7), auditTestKey, nil)
	if err != nil || sum.Entries != n || sum.Head.Seq != n {
		t.Fatalf("after %d concurrent appends: %+v, %v", n, sum, err)
	}
}
