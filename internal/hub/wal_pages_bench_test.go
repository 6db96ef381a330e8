package hub_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"payhub/internal/hub"
	"payhub/internal/store/storetest"
)

// BenchmarkWALPagesPerPayment counts the SQLite WAL pages (4 KiB frames) a payment's two
// transactions write, for one till and for tills paying at once: a commit writes every
// page it dirtied, so the pages a batch shares (the tails of the tables and of their
// time-ordered indexes) are written once per batch, not once per transaction. It reports
// wal-pages/payment beside the time; the WAL is checkpointed away before each chunk of
// payments, small enough that SQLite's automatic checkpoint (at 1,000 pages) never starts
// the WAL over in the middle of one.
func BenchmarkWALPagesPerPayment(b *testing.B) {
	for _, tills := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("tills=%d", tills), func(b *testing.B) {
			st := storetest.OpenSQLite(b)
			raw, _, _ := storetest.RawSQL(b, st)
			h, _ := benchHub(st)
			caller := hub.Caller{ClientID: "pos-1", StoreID: "store-1"}
			ctx := context.Background()
			for range 200 { // past the tables' first pages
				createBenchPayment(b, ctx, h, caller)
			}
			walPages := func(mode string) int {
				var busy, pages, copied int
				if err := raw.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &pages, &copied); err != nil {
					b.Fatal(err)
				}
				return pages
			}
			chunk := max(12, tills) // × at most ~60 pages each, under the automatic checkpoint
			var pages, payments int
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				walPages("TRUNCATE")
				b.StartTimer()
				var wg sync.WaitGroup
				for range tills {
					wg.Go(func() {
						for range chunk / tills {
							createBenchPayment(b, ctx, h, caller)
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				chunkPages := walPages("PASSIVE")
				if chunkPages > 950 {
					b.Fatalf("a chunk wrote %d WAL pages: the automatic checkpoint may have cut it", chunkPages)
				}
				pages += chunkPages
				payments += chunk / tills * tills
				b.StartTimer()
			}
			b.ReportMetric(float64(pages)/float64(payments), "wal-pages/payment")
		})
	}
}
