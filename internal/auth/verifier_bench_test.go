package auth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/store/storetest"
)

// BenchmarkAuthenticateWithStore measures token verification as serve runs it: the key
// registry is the database (one LookupClientKey query per request), on SQLite and, when
// PAYHUB_TEST_POSTGRES_URL is set, PostgreSQL. BenchmarkAuthenticate (fuzz_test.go) is
// the same with an in-memory registry, so the difference is the lookup's cost.
func BenchmarkAuthenticateWithStore(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(testing.TB) contracts.Store
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		b.Run(db.name, func(b *testing.B) {
			st := db.open(b)
			for _, alg := range []string{contracts.AlgEdDSA, contracts.AlgES256} {
				b.Run(alg, func(b *testing.B) {
					header := "Bearer " + registerAndMint(b, st, alg)
					v := auth.NewVerifier(st, auth.VerifierOptions{})
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						if _, err := v.Authenticate(ctx, header); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkMint measures signing a store token the way a till (and payhub bench) does.
func BenchmarkMint(b *testing.B) {
	for _, alg := range []string{contracts.AlgEdDSA, contracts.AlgES256} {
		b.Run(alg, func(b *testing.B) {
			key, err := auth.GenerateKey(alg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := auth.Mint(auth.TokenRequest{Key: key, KeyID: "k-1", ClientID: "pos-1", StoreID: "store-1",
					IssuedAt: time.Now(), TTL: 2 * time.Minute}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// registerAndMint registers a client with a fresh key of alg in st and mints a token of it.
func registerAndMint(b *testing.B, st contracts.Store, alg string) string {
	b.Helper()
	key, err := auth.GenerateKey(alg)
	if err != nil {
		b.Fatal(err)
	}
	pub, err := auth.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	id := fmt.Sprintf("bench-%s-%d", alg, now.UnixNano()) // new per run: -count reuses the database
	if err := st.CreateStoreClient(context.Background(), contracts.StoreClient{ID: id, Name: "bench", Stores: []string{"store-1"}, CreatedAt: now,
		Keys: []contracts.ClientKey{{KID: id, ClientID: id, Algorithm: alg, PublicKeyPEM: pub, CreatedAt: now}}}); err != nil {
		b.Fatal(err)
	}
	tok, err := auth.Mint(auth.TokenRequest{Key: key, KeyID: id, ClientID: id, StoreID: "store-1", IssuedAt: now, TTL: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}
