package hub_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"payhub/internal/hub"
	"payhub/internal/store/storetest"
)

// BenchmarkWALPagesPerPayment counts the SQLite WAL pages (4 KiB frames) a payment's two
// transactions write, for one till and for tills paying at once: a commit writes every
// page it dirtied, so the pages a batch shares (the tails of the tables and of their
// time-ordered indexes) are written once per batch, not once per transaction. It reports
// wal-pages/payment beside the time: the WAL is truncated before each chunk of payments
// and counted after it; chunks stay far below the 4,000 pages at which the store's own
// checkpointer would start it over.
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
			// walFrames checkpoints in mode and returns the frames the WAL holds after; -1
			// when the checkpoint was refused (the store's checkpointer was at work).
			walFrames := func(mode string) int {
				var busy, frames, copied int
				if err := raw.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &copied); err != nil {
					b.Fatal(err)
				}
				if busy != 0 {
					return -1
				}
				return frames
			}
			// emptyWAL truncates the WAL. A refusal is retried after one more payment: its
			// batch lets the store's writer finish a checkpoint it has begun.
			emptyWAL := func() {
				for range 100 {
					if walFrames("TRUNCATE") == 0 {
						return
					}
					createBenchPayment(b, ctx, h, caller)
				}
				b.Fatal("the WAL could not be truncated")
			}
			chunk := max(12, tills) // × at most ~60 pages each
			var pages, payments int
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				emptyWAL()
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
				after := walFrames("PASSIVE")
				for try := 0; after < 0 && try < 10_000; try++ {
					runtime.Gosched() // the store's checkpointer is copying: a moment
					after = walFrames("PASSIVE")
				}
				if after < 0 || after > 3500 {
					b.Fatalf("the WAL holds %d frames after a chunk: refused, or near the store's own start-over", after)
				}
				pages += after
				payments += chunk / tills * tills
				b.StartTimer()
			}
			b.ReportMetric(float64(pages)/float64(payments), "wal-pages/payment")
		})
	}
}
