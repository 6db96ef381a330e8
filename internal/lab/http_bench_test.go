package lab

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/httpapi"
	"payhub/internal/store/storetest"
	paypaysim "payhub/mocks/paypay"
)

// BenchmarkHTTPCreatePayment measures one PayPay barcode payment through all of payhub —
// gin middleware, token verification against the store, contract validation,
// idempotency, the intent and outcome transactions, the adapter's signed call to the
// PayPay simulator over httptest (no added latency) — on SQLite and, with
// PAYHUB_TEST_POSTGRES_URL, PostgreSQL. The handler is called directly (no TCP to payhub).
// The simulator's own work is in the numbers too; BenchmarkHTTPPassthrough is the same
// call through the bare pass-through, so the difference is payhub's.
func BenchmarkHTTPCreatePayment(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(testing.TB) contracts.Store
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		b.Run(db.name, func(b *testing.B) {
			st := db.open(b)
			simURL := benchPayPaySim(b)
			// One till sends every request: the per-client rate limit (50/s) would answer the
			// loop 429 after its burst, as it did `payhub-lab bench` (which runs serve with
			// --client-rate=-1 for the same reason).
			a, err := app.Build(context.Background(), app.Config{Store: st, Network: httpapi.NetworkPolicy{ClientRate: -1},
				PayPay: paypayadapter.Config{BaseURL: simURL, APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { a.Close() })
			till, err := registerBenchTill(context.Background(), st)
			if err != nil {
				b.Fatal(err)
			}
			benchCreatePayments(b, a.Handler, till)
		})
	}
}

// BenchmarkHTTPPassthrough is BenchmarkHTTPCreatePayment through `payhub passthrough`.
func BenchmarkHTTPPassthrough(b *testing.B) {
	simURL := benchPayPaySim(b)
	b.Setenv("PAYHUB_PAYPAY_BASE_URL", simURL)
	b.Setenv("PAYHUB_PAYPAY_API_KEY", testPayPayKey)
	b.Setenv("PAYHUB_PAYPAY_API_SECRET", testPayPaySecret)
	b.Setenv("PAYHUB_PAYPAY_MERCHANT_ID", testPayPayMerchant)
	for _, name := range []string{"PAYHUB_LINEPAY_BASE_URL", "PAYHUB_LINEPAY_CHANNEL_ID", "PAYHUB_LINEPAY_CHANNEL_SECRET"} {
		b.Setenv(name, "")
	}
	h, err := newPassthrough()
	if err != nil {
		b.Fatal(err)
	}
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		b.Fatal(err)
	}
	benchCreatePayments(b, h, &benchTill{key: key, kid: "k", clientID: "c", storeID: "s"})
}

func benchPayPaySim(b *testing.B) string {
	sim := paypaysim.New(paypaysim.Config{APIKey: testPayPayKey, APISecret: testPayPaySecret, MerchantID: testPayPayMerchant})
	srv := httptest.NewServer(sim)
	b.Cleanup(srv.Close)
	return srv.URL
}

var benchRequestN atomic.Int64

func benchCreatePayments(b *testing.B, h http.Handler, till *benchTill) {
	token, err := till.bearer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := benchRequestN.Add(1)
		body := fmt.Appendf(nil, `{"amount":1200,"currency":"JPY","method":"paypay","flow":"barcode","barcode":%q,"terminal_id":"till-01","order_id":"o-%d"}`,
			crashFixtureBarcode, n)
		req := httptest.NewRequest(http.MethodPost, "/v1/payments", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", token)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("http-bench-%d-%d", time.Now().UnixNano(), n))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated || !bytes.Contains(rec.Body.Bytes(), []byte(`"succeeded"`)) {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
	}
}
