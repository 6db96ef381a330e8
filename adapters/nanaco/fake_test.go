package nanaco

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"payhub/contracts"
)

const (
	testMerchant = "M0001"
	testSecret   = "test-secret-do-not-leak"
	testTerminal = "store-1_till-1"
	testDate     = "20261128"
	testNumber   = "7000000000000001"
	testIDm      = "0114000000000001"
	testTxn      = "NC000000000000000001"
)

// testNow is 2026-11-28 10:15:30 JST.
var testNow = time.Date(2026, 11, 28, 10, 15, 30, 0, contracts.JST)

// seen is one request as the fake centre received it.
type seen struct {
	path, body string
	header     http.Header
}

// fakeNCS is a scripted NCS centre written for these tests: it verifies every request's
// headers and signature (with this package's SignRequest over the raw body), records it,
// and answers with the handler for the path. Handlers answer through reply helpers that
// sign the response (§B2) — or tamper with it.
type fakeNCS struct {
	t      *testing.T
	mu     sync.Mutex
	seen   []seen
	nonces map[string]bool
	routes map[string]handler
}

// handler answers one request; nonce is the request's, for the response signature.
type handler func(w http.ResponseWriter, r *http.Request, path, nonce string)

func newFake(t *testing.T, routes map[string]handler) (*fakeNCS, *Adapter) {
	t.Helper()
	f := &fakeNCS{t: t, routes: routes, nonces: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	a, err := New(Config{BaseURL: srv.URL, MerchantID: testMerchant, Secret: testSecret,
		Now: func() time.Time { return testNow }, Timeouts: UniformTimeouts(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return f, a
}

func (f *fakeNCS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	path := r.URL.EscapedPath()
	if err := f.verify(r, path, raw); err != nil {
		f.t.Errorf("%s %s: %v", r.Method, path, err)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.seen = append(f.seen, seen{path: path, body: string(raw), header: r.Header.Clone()})
	f.mu.Unlock()
	h, ok := f.routes[path]
	if !ok {
		f.t.Errorf("unexpected %s %s", r.Method, path)
		http.NotFound(w, r)
		return
	}
	h(w, r, path, r.Header.Get(headerNonce))
}

// verify checks the §B2 headers like the centre would.
func (f *fakeNCS) verify(r *http.Request, path string, body []byte) error {
	if r.Method != http.MethodPost {
		return fmt.Errorf("method %s", r.Method)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		return fmt.Errorf("Content-Type %q", got)
	}
	if got := r.Header.Get(headerMerchantID); got != testMerchant {
		return fmt.Errorf("NCS-Merchant-Id %q", got)
	}
	nonce := r.Header.Get(headerNonce)
	if len(nonce) < 16 || len(nonce) > 64 {
		return fmt.Errorf("nonce %q", nonce)
	}
	f.mu.Lock()
	reused := f.nonces[nonce]
	f.nonces[nonce] = true
	f.mu.Unlock()
	if reused {
		return fmt.Errorf("nonce %q reused", nonce)
	}
	ts := r.Header.Get(headerTimestamp)
	if ts != "2026-11-28T10:15:30+09:00" {
		return fmt.Errorf("NCS-Timestamp %q", ts)
	}
	want := SignRequest(testSecret, http.MethodPost, path, testMerchant, r.Header.Get(headerTerminalID), ts, nonce, body)
	if r.Header.Get(headerSignature) != want {
		return fmt.Errorf("signature mismatch")
	}
	return nil
}

func (f *fakeNCS) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.seen...)
}

// respTime is the fake centre's response timestamp.
const respTime = "2026-11-28T10:15:31+09:00"

// signed answers status and body with a valid response signature.
func signed(status int, body string) handler {
	return func(w http.ResponseWriter, _ *http.Request, path, nonce string) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(headerTimestamp, respTime)
		w.Header().Set(headerSignature, SignResponse(testSecret, status, path, respTime, nonce, []byte(body)))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// replayed is signed with NCS-Replayed: true.
func replayed(body string) handler {
	return func(w http.ResponseWriter, r *http.Request, path, nonce string) {
		w.Header().Set(headerReplayed, "true")
		signed(http.StatusOK, body)(w, r, path, nonce)
	}
}

// tampered signs signedBody but sends sentBody.
func tampered(signedBody, sentBody string) handler {
	return func(w http.ResponseWriter, _ *http.Request, path, nonce string) {
		w.Header().Set(headerTimestamp, respTime)
		w.Header().Set(headerSignature, SignResponse(testSecret, http.StatusOK, path, respTime, nonce, []byte(signedBody)))
		_, _ = io.WriteString(w, sentBody)
	}
}

// unsigned answers without NCS-Signature.
func unsigned(status int, body string) handler {
	return func(w http.ResponseWriter, _ *http.Request, _, _ string) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// truncated signs the whole body, announces its length, sends only half and closes.
func truncated(body string) handler {
	return func(w http.ResponseWriter, _ *http.Request, path, nonce string) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		sig := SignResponse(testSecret, http.StatusOK, path, respTime, nonce, []byte(body))
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s: %s\r\n%s: %s\r\n\r\n%s",
			len(body), headerTimestamp, respTime, headerSignature, sig, body[:len(body)/2])
		_ = buf.Flush()
	}
}

// hang answers nothing until the client gives up.
func hang(w http.ResponseWriter, r *http.Request, _, _ string) {
	<-r.Context().Done()
}

// reset closes the connection without an answer.
func reset(w http.ResponseWriter, _ *http.Request, _, _ string) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

// sequence answers the n-th request with the n-th handler (the last one repeats).
func sequence(hs ...handler) handler {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request, path, nonce string) {
		mu.Lock()
		h := hs[min(n, len(hs)-1)]
		n++
		mu.Unlock()
		h(w, r, path, nonce)
	}
}

// ncsErr is an NCS error body (§B7).
func ncsErr(code, outcome, details string) string {
	if details == "" {
		details = "{}"
	}
	return `{"error":{"code":"` + code + `","message":"msg for ` + code + `","retryable":false,"outcome":"` + outcome + `","details":` + details + `}}`
}

// errReply is a signed NCS error with the given status.
func errReply(status int, code string) handler {
	return signed(status, ncsErr(code, "NOT_PROCESSED", ""))
}

// approvedPayment is a /payments answer debiting amount of requested.
func approvedPayment(seq, amount, requested int, status string) string {
	return `{"centerTxnId":"` + testTxn + `","type":"PAYMENT","status":"` + status + `","amount":` + strconv.Itoa(amount) +
		`,"requestedAmount":` + strconv.Itoa(requested) + `,"businessDate":"` + testDate + `","terminalId":"` + testTerminal +
		`","terminalSeq":` + strconv.Itoa(seq) + `,"merchantRef":"x","processedAt":"2026-11-28T10:15:31+09:00",` +
		`"balanceBefore":10000,"balanceAfter":9500,"pointsAwarded":0,"unknownField":{"a":[1,2]}}`
}

func ref(seq int) string {
	return contracts.SequenceRef{Terminal: testTerminal, BusinessDate: testDate, Seq: seq}.String()
}

func yen(n int64) contracts.Money { return contracts.Money{Amount: n, Currency: contracts.JPY} }

func barcodePay(seq int, amount int64) contracts.PaymentRequest {
	return contracts.PaymentRequest{PartnerRef: ref(seq), Amount: yen(amount), Flow: contracts.FlowBarcode, Barcode: testNumber,
		StoreID: "store-1", TerminalID: "till-1", RequestedAt: testNow}
}

// logBuffer is a Logger writing JSON lines into a buffer.
func logBuffer() (*slog.Logger, *syncBuffer) {
	b := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func httptestServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }
