package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// benchHub is a hub on st with an in-process partner that answers at once, on the system
// clock: what the benchmarks measure is payhub's own work (validation, idempotency, the
// intent and outcome transactions, rendering, events), not a partner's latency.
func benchHub(st contracts.Store) (*hub.Hub, *scriptedPartner) {
	clk := contracts.SystemClock{}
	p := &scriptedPartner{}
	h := hub.New(hub.Config{Store: st, Partners: map[contracts.Method]contracts.Partner{contracts.MethodPayPay: p},
		Clock: clk, IDs: ids.New(clk), APIVersion: contracts.APIVersion,
		Metrics: hub.NewMetrics(prometheus.NewRegistry())})
	return h, p
}

var benchStores = []struct {
	name string
	open func(testing.TB) contracts.Store
}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}}

// BenchmarkCreatePayment measures the payment transaction end to end inside the engine: a
// new Idempotency-Key claimed, the intent written (payment, attempt, event, key mark), the
// partner called, the outcome written (payment, attempt, event, stored response). Serial
// measures one till; Parallel as many as GOMAXPROCS×4 at once (the database's lock or
// pool is then what is measured).
func BenchmarkCreatePayment(b *testing.B) {
	for _, db := range benchStores {
		b.Run(db.name, func(b *testing.B) {
			h, _ := benchHub(db.open(b))
			caller := hub.Caller{ClientID: "pos-1", StoreID: "store-1"}
			ctx := context.Background()
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					createBenchPayment(b, ctx, h, caller)
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.SetParallelism(4)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						createBenchPayment(b, ctx, h, caller)
					}
				})
			})
		})
	}
}

func createBenchPayment(b *testing.B, ctx context.Context, h *hub.Hub, caller hub.Caller) string {
	r, err := h.CreatePayment(ctx, caller, idem("bench-pay"), payment(1200))
	if err != nil || r.Kind != contracts.AnswerCreated {
		b.Fatalf("create: %v %s %s", err, r.Kind, r.Body)
	}
	var p struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		b.Fatal(err)
	}
	return p.ID
}

// BenchmarkReplayPayment measures a till's retry of an answered create: the stored
// response is found and replayed, nothing else runs.
func BenchmarkReplayPayment(b *testing.B) {
	for _, db := range benchStores {
		b.Run(db.name, func(b *testing.B) {
			h, _ := benchHub(db.open(b))
			caller := hub.Caller{ClientID: "pos-1", StoreID: "store-1"}
			ctx := context.Background()
			key := idem("bench-replay")
			if r, err := h.CreatePayment(ctx, caller, key, payment(800)); err != nil || r.Kind != contracts.AnswerCreated {
				b.Fatalf("create: %v %+v", err, r)
			}
			b.ReportAllocs()
			for b.Loop() {
				r, err := h.CreatePayment(ctx, caller, key, payment(800))
				if err != nil || !r.Replayed {
					b.Fatalf("replay: %v %+v", err, r)
				}
			}
		})
	}
}

// BenchmarkRefund measures a partial refund of a succeeded payment (row lock, the
// refundable check, intent, partner call, outcome), one new payment per 10 refunds: a
// refund reads every earlier refund of its payment, so its cost grows with their number.
func BenchmarkRefund(b *testing.B) {
	for _, db := range benchStores {
		b.Run(db.name, func(b *testing.B) {
			h, _ := benchHub(db.open(b))
			caller := hub.Caller{ClientID: "pos-1", StoreID: "store-1"}
			ctx := context.Background()
			amount := int64(1)
			var id string
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				if n%10 == 0 {
					b.StopTimer()
					id = createBenchPayment(b, ctx, h, caller)
					b.StartTimer()
				}
				n++
				r, err := h.CreateRefund(ctx, caller, idem(fmt.Sprintf("bench-refund-%d", n)), id, hub.CreateRefund{Amount: &amount})
				if err != nil || r.Kind != contracts.AnswerCreated {
					b.Fatalf("refund: %v %s %s", err, r.Kind, r.Body)
				}
			}
		})
	}
}

// BenchmarkGetPayment measures a lookup of one of the store's payments, in a store with a
// short history and in one with a longer one: a lookup must cost the same in both (on
// PostgreSQL a plan that walked the store's rows did not).
func BenchmarkGetPayment(b *testing.B) {
	for _, db := range benchStores {
		for _, history := range []int{200, 2000} {
			b.Run(fmt.Sprintf("%s/history=%d", db.name, history), func(b *testing.B) {
				h, _ := benchHub(db.open(b))
				caller := hub.Caller{ClientID: "pos-1", StoreID: "store-1"}
				ctx := context.Background()
				ids := make([]string, history)
				for i := range ids {
					ids[i] = createBenchPayment(b, ctx, h, caller)
				}
				n := 0
				b.ReportAllocs()
				for b.Loop() {
					if _, err := h.GetPayment(ctx, caller, ids[n%len(ids)]); err != nil {
						b.Fatal(err)
					}
					n++
				}
			})
		}
	}
}
