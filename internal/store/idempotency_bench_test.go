package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/store/storetest"
)

// benchDatabases are the stores the benchmarks run on: SQLite always, PostgreSQL when
// PAYHUB_TEST_POSTGRES_URL is set (skipped otherwise).
var benchDatabases = []struct {
	name string
	open func(testing.TB) contracts.Store
}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}}

// BenchmarkIdempotency measures the idempotency paths every POST takes: a new key (the read
// that finds none, then the claim written in a transaction, as the intent's transaction
// writes it), the retry of a key already answered (the read finds the stored response),
// and the read inside a transaction.
func BenchmarkIdempotency(b *testing.B) {
	for _, db := range benchDatabases {
		b.Run(db.name, func(b *testing.B) {
			st := db.open(b)
			ctx := context.Background()
			const fp = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
			// Some history, so lookups run on an index of realistic size.
			answered := seedIdempotencyKeys(b, st, 5000, fp)

			b.Run("claim", func(b *testing.B) {
				n := 0
				b.ReportAllocs()
				for b.Loop() {
					n++
					k := contracts.IdempotencyKey{ClientID: "pos-1", Key: fmt.Sprintf("claim-%d-%d", time.Now().UnixNano(), n),
						Fingerprint: fp, CreatedAt: time.Now().UTC(), Owner: "ins_bench"}
					if _, err := st.GetIdempotency(ctx, k.ClientID, k.Key); !errors.Is(err, contracts.ErrNotFound) {
						b.Fatalf("read a new key: %v", err)
					}
					if err := st.InTx(ctx, func(tx contracts.Tx) error { return tx.ClaimIdempotencyIntent(ctx, k, "att_bench") }); err != nil {
						b.Fatalf("claim: %v", err)
					}
				}
			})
			b.Run("replay", func(b *testing.B) {
				n := 0
				b.ReportAllocs()
				for b.Loop() {
					key := answered[n%len(answered)]
					n++
					rec, err := st.GetIdempotency(ctx, "pos-1", key)
					if err != nil || !rec.Completed {
						b.Fatalf("replay: completed=%v err=%v", rec.Completed, err)
					}
				}
			})
			b.Run("lookup_in_tx", func(b *testing.B) {
				n := 0
				b.ReportAllocs()
				for b.Loop() {
					key := answered[n%len(answered)]
					n++
					if err := st.InTx(ctx, func(tx contracts.Tx) error {
						_, err := tx.LookupIdempotency(ctx, "pos-1", key)
						return err
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// seedIdempotencyKeys stores n answered keys and returns them.
func seedIdempotencyKeys(b *testing.B, st contracts.Store, n int, fp string) []string {
	b.Helper()
	ctx := context.Background()
	keys := make([]string, n)
	now := time.Now().UTC()
	body := []byte(`{"id":"pay_01JBENCH","object":"payment","status":"succeeded","amount":1200,"currency":"JPY"}`)
	for i := range keys {
		keys[i] = fmt.Sprintf("seed-%06d", i)
	}
	for start := 0; start < n; start += 500 {
		for _, k := range keys[start:min(start+500, n)] {
			if _, _, err := st.BeginIdempotency(ctx, contracts.IdempotencyKey{ClientID: "pos-1", Key: k, Fingerprint: fp, CreatedAt: now}); err != nil {
				b.Fatal(err)
			}
		}
		if err := st.InTx(ctx, func(tx contracts.Tx) error {
			for _, k := range keys[start:min(start+500, n)] {
				if err := tx.CompleteIdempotency(ctx, "pos-1", k, contracts.Answer{Kind: contracts.AnswerCreated, Body: body}, now); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	return keys
}
