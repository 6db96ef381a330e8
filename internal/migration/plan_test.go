package migration

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestPlanInvariantAndText(t *testing.T) {
	p := NewPlan(DefaultCaps())
	for _, row := range sampleRows() {
		p.AddRow(row)
	}
	p.AddRejection(&Rejection{Line: 9, Reason: ReasonNegativeBalance})
	p.AddRejection(&Rejection{Line: 10, Reason: ReasonMalformedNanacoNumber, Balance: 500, BalanceKnown: true, Kind: KindNanaco})
	p.AddRejection(&Rejection{Line: 11, Reason: ReasonUnknownDestination, Balance: 7, BalanceKnown: true})
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	pp := p.ByKind[KindPayPay]
	if pp.Now != 20_000 || pp.Deferred != 80_000 || pp.BankRefund != 150_000 || pp.Capped != 1 || pp.Refunded != 1 {
		t.Errorf("paypay %+v", pp)
	}
	n := p.ByKind[KindNanaco]
	if n.Balance != 15_042+500 || n.RejectedYen != 500 || n.Rejected != 1 || n.Valid != 2 {
		t.Errorf("nanaco %+v", n)
	}
	if u := p.ByKind[Unknown]; u.Rejected != 2 || u.RejectedYen != 7 {
		t.Errorf("unknown %+v", u)
	}
	if r := p.ByReason[ReasonNegativeBalance]; r.Rows != 1 || r.UnreadRows != 1 {
		t.Errorf("negative_balance %+v", r)
	}
	if p.DisputedUsers != 1 || p.DisputedTxns != 2 || p.DisputedYen != 4_001 || p.MaxDays != 5 || p.WithHistory != 1 {
		t.Errorf("plan %+v", p)
	}
	var b strings.Builder
	if err := p.WriteText(&b, 100); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"holds (¥100,265,548)", "negative_balance", "expected duration: 0s for 5 users"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the plan text lacks %q:\n%s", want, b.String())
		}
	}
	// A broken accounting is reported.
	p.ByKind[KindBank].Now++
	if err := p.Check(); err == nil {
		t.Error("Check passed a plan that does not add up")
	}
}

func TestYen(t *testing.T) {
	for n, want := range map[int64]string{0: "¥0", 999: "¥999", 1000: "¥1,000", 1234567: "¥1,234,567", -20000: "-¥20,000"} {
		if got := Yen(n); got != want {
			t.Errorf("Yen(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPlanSynthetic(t *testing.T) {
	p, r := planAll(t, &synthExport{n: 50_000}, nil)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	// 10 duplicates (every 5,000th row), 7 non-integer balances (every 7,000th; row 34,999 is both: a duplicate).
	if got := p.ByReason[ReasonDuplicateUser].Rows; got != 10 {
		t.Errorf("%d duplicates, want 10", got)
	}
	if got := p.ByReason[ReasonNonIntegerBalance].Rows; got != 6 {
		t.Errorf("%d non-integer balances, want 6", got)
	}
	if p.Rows != 50_000 || r.Users() != 50_000-10 {
		t.Errorf("rows %d users %d", p.Rows, r.Users())
	}
}

// The reader's memory is flat as the export grows: the live heap beyond the duplicate-user
// index, sampled (after a GC) along a 100,000-row and a 1,000,000-row read (20,000 and 200,000
// under -race), is the same within 256 KiB; the index's resident memory stays within its
// budget (DefaultIndexMemory) at both sizes, the large read spilling past it to a file (the
// exact in-memory index would hold 21 MiB at 1,000,000 rows).
func TestReaderMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: reads 1.1 million rows")
	}
	peak := func(n int64) (beyondIndex, index, files int64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := int64(ms.HeapAlloc)
		_, r := planAll(t, &synthExport{n: n}, func(rows int64, r *Reader) {
			if rows%(n/10) != 0 {
				return
			}
			runtime.GC()
			runtime.ReadMemStats(&ms)
			heap := int64(ms.HeapAlloc) - base
			if indexOnHeap {
				heap -= r.IndexBytes()
			}
			beyondIndex = max(beyondIndex, heap)
			index = max(index, r.IndexBytes())
		})
		index = max(index, r.seen.mem.peak)
		files = r.seen.fileBytes()
		_ = r.Close()
		return beyondIndex, index, files
	}
	smallN, largeN := int64(100_000), int64(1_000_000)
	if raceEnabled {
		smallN, largeN = 20_000, 200_000 // the same tenfold growth, in a tenth of the time
	}
	small, smallIndex, _ := peak(smallN)
	large, largeIndex, largeFiles := peak(largeN)
	t.Logf("live heap beyond the index: %d KiB at %d rows, %d KiB at %d rows; index resident %d KiB, %d KiB (%d KiB spilled)",
		small>>10, smallN, large>>10, largeN, smallIndex>>10, largeIndex>>10, largeFiles>>10)
	if large > small+256<<10 {
		t.Errorf("the reader's live heap grew from %d to %d bytes between %d and %d rows", small, large, smallN, largeN)
	}
	for _, ix := range []int64{smallIndex, largeIndex} {
		if ix > DefaultIndexMemory {
			t.Errorf("the index's resident memory peaked at %d bytes, over its budget of %d", ix, DefaultIndexMemory)
		}
	}
	if largeFiles == 0 {
		t.Errorf("the index did not spill at %d rows", largeN)
	}
}

// BenchmarkPlan plans a 100,000-row JSONL export (generated in memory, so the figure is the
// reader's and the planner's, not the disk's).
func BenchmarkPlan(b *testing.B) {
	const rows = 100_000
	b.ReportAllocs()
	for b.Loop() {
		p, _ := planAll(b, &synthExport{n: rows}, nil)
		if p.Rows != rows {
			b.Fatal(fmt.Sprint(p.Rows))
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
