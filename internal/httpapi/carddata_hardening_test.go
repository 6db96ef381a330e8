package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"payhub/internal/carddata"
	"payhub/internal/store"
)

// cardForms are the forms of one card number (Visa's test PAN) that the security review of
// issue 15 got accepted, stored and echoed, and what an input method makes of it: other
// separators and runs of them, Unicode digits of several scripts, zero padding.
var cardForms = []struct{ name, s string }{
	{"dots", "4111.1111.1111.1111"},
	{"two spaces", "4111  1111  1111  1111"},
	{"slashes", "4111/1111/1111/1111"},
	{"underscores", "4111_1111_1111_1111"},
	{"tabs", "4111\t1111\t1111\t1111"},
	{"no-break spaces", "4111\u00a01111\u00a01111\u00a01111"},
	{"katakana long-vowel marks", "4111ー1111ー1111ー1111"},
	{"zero-width spaces", "4111\u200b1111\u200b1111\u200b1111"},
	{"full-width (Japanese IME)", "４１１１１１１１１１１１１１１１"},
	{"full-width, ideographic spaces", "４１１１　１１１１　１１１１　１１１１"},
	{"Arabic-Indic", "٤١١١١١١١١١١١١١١١"},
	{"Devanagari", "४१११११११११११११११"},
	{"Thai, grouped", "๔๑๑๑ ๑๑๑๑ ๑๑๑๑ ๑๑๑๑"},
	{"inside a longer run (zero padded)", "04111111111111111"},
}

// cardKeyNames are key names the review got accepted (only whole names were matched).
var cardKeyNames = []string{"card-num", "ccnum", "card", "cv2", "sec_code", "card_cvv2", "cardNumber", "ＣＶＶ", "カード番号"}

// TestCardDataSlippedPastTheGuardIsRefused reproduces the card-data attacks of issue 15
// against the whole router — every form in body fields, metadata values and keys, the
// query, the path, the Idempotency-Key and X-Request-Id, and card data named by key
// segments — and checks the documented answer: 422 card_data_not_accepted (a request id
// carrying card data is replaced instead), with nothing of the data in the answer. Store
// identifiers in the documented formats are never refused, including those the old scanner
// refused. Afterwards the logs, the SQLite files, the events and the webhook bodies hold no
// card number in any form.
func TestCardDataSlippedPastTheGuardIsRefused(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "payhub.db")
	st, err := store.Open(context.Background(), "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, st)
	hooks := newCardHookReceiver(t)
	tok := e.token(e.a)
	created := e.do(http.MethodPost, "/v1/webhook-endpoints", tok, newKey(), map[string]any{"url": hooks.srv.URL + "/payhub"})
	expectStatus(t, created, http.StatusCreated, "")
	paid := e.pay(e.a, barcodePayment(1000, barcodeOK))
	expectStatus(t, paid, http.StatusCreated, "")
	paymentIDs := []string{paid.json(t)["id"].(string)}

	refused := func(what string, r response, pointer string) {
		t.Helper()
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", what, r.status, r.body)
			return
		}
		p := r.json(t)
		if p["code"] != "card_data_not_accepted" {
			t.Errorf("%s: %s", what, r.body)
		}
		var got string
		if errs, _ := p["errors"].([]any); len(errs) > 0 {
			got, _ = errs[0].(map[string]any)["pointer"].(string)
		}
		if got != pointer {
			t.Errorf("%s: pointer %q, want %q: %s", what, got, pointer, r.body)
		}
		if where := holdsCardNumber(r.body); where != "" {
			t.Errorf("%s: the answer repeats the card number: %s", what, where)
		}
	}
	payWith := func(mod func(map[string]any)) map[string]any {
		b := barcodePayment(1000, barcodeOK)
		mod(b)
		return b
	}

	for _, f := range cardForms {
		refused(f.name+" in order_id", e.pay(e.a, payWith(func(b map[string]any) { b["order_id"] = f.s })), "/order_id")
		refused(f.name+" in terminal_id", e.pay(e.a, payWith(func(b map[string]any) { b["terminal_id"] = "till " + f.s })), "/terminal_id")
		refused(f.name+" in a metadata value", e.pay(e.a, payWith(func(b map[string]any) {
			b["metadata"] = map[string]string{"ref": "ok", "note": "card " + f.s + " thanks"}
		})), "/metadata/note")
		refused(f.name+" as a metadata key", e.pay(e.a, payWith(func(b map[string]any) {
			b["metadata"] = map[string]string{f.s: "x"}
		})), "/metadata")
		refused(f.name+" in a refund reason", e.do(http.MethodPost, "/v1/payments/"+paymentIDs[0]+"/refunds", tok, newKey(),
			map[string]any{"amount": 1, "reason": f.s}), "/reason")
		refused(f.name+" in the query", e.do(http.MethodGet, "/v1/payments?order_id="+url.QueryEscape(f.s), tok, "", nil), "")
		refused(f.name+" in the path", e.do(http.MethodGet, "/v1/payments/"+url.PathEscape(f.s), tok, "", nil), "")
		refused(f.name+" in the path of a POST", e.do(http.MethodPost, "/v1/payments/"+url.PathEscape(f.s)+"/refunds", tok, newKey(),
			map[string]any{"amount": 1}), "")
		refused(f.name+" as the Idempotency-Key", e.do(http.MethodPost, "/v1/payments", tok, f.s, barcodePayment(1000, barcodeOK)), "")

		// X-Request-Id: the request is served under a fresh id; the card number is neither
		// echoed nor logged.
		r := cardRequest(e, http.MethodPost, "/v1/payments", map[string]string{"X-Request-Id": f.s, "Idempotency-Key": newKey()},
			barcodePayment(1000, barcodeOK))
		if r.status != http.StatusCreated {
			t.Errorf("%s as X-Request-Id: %d %s", f.name, r.status, r.body)
			continue
		}
		paymentIDs = append(paymentIDs, r.json(t)["id"].(string))
		if id := r.header.Get("X-Request-Id"); id == f.s || !strings.HasPrefix(id, "req_") || carddata.ContainsCardNumber(id) {
			t.Errorf("%s as X-Request-Id: answered under %q", f.name, id)
		}
	}

	// The key the review sent answers with the object and the member's position, in the
	// answer and in the log; never with the key.
	r := e.pay(e.a, payWith(func(b map[string]any) { b["metadata"] = map[string]string{"4111111111111111": "x"} }))
	refused("the review's metadata key", r, "/metadata")
	if detail, _ := r.json(t)["detail"].(string); !strings.Contains(detail, "in the key of member 1 of /metadata") {
		t.Errorf("the detail does not say where: %q", detail)
	}

	// Keys whose segments name card data, whatever the value.
	for _, key := range cardKeyNames {
		refused(key+" in metadata", e.pay(e.a, payWith(func(b map[string]any) { b["metadata"] = map[string]string{key: "737"} })), "/metadata")
		raw, _ := json.Marshal(map[string]any{key: "737", "amount": 1000})
		refused(key+" in the body", e.do(http.MethodPost, "/v1/payments", tok, newKey(), string(raw)), "")
		refused(key+" as a query name", e.do(http.MethodGet, "/v1/payments?"+url.QueryEscape(key)+"=1", tok, "", nil), "")
	}

	// Identifiers in the documented formats are never refused: the review's UUIDs,
	// nanosecond timestamps (now, and once Unix time starts with 2, Luhn-valid), LINE Pay
	// transaction ids, ULIDs and payhub ids, and values the old scanner refused — UUIDs and
	// GMO-style tokens whose digits read as a card number when their shape is broken.
	uuidLike, tokenLike := cardShapedUUID(t), cardShapedToken(t)
	now := strconv.FormatInt(time.Now().UnixNano(), 10)
	future := luhnCompleted("200000000000000000")
	ids := []string{"7d9132d9-8fe0-4d32-8130-32246785fa50", "801e6198-9411-4040-8141-67ca0f7b57bf",
		"65796013-7850-4209-8a01-6a2b48cefff2", strings.ToUpper(uuidLike), uuidLike, now, future, "2021121600698709519",
		"01JD5Y7R3M2K8T4V6W9X0Z1AB4", paymentIDs[0]}
	for _, id := range ids {
		r := cardRequest(e, http.MethodPost, "/v1/payments", map[string]string{"Idempotency-Key": id, "X-Request-Id": id},
			payWith(func(b map[string]any) {
				b["order_id"] = id
				b["metadata"] = map[string]string{"ref": id, "gmo_token": tokenLike, "order": "order-" + uuidLike}
			}))
		if r.status != http.StatusCreated {
			t.Errorf("identifier %s refused: %d %s", id, r.status, r.body)
			continue
		}
		paymentIDs = append(paymentIDs, r.json(t)["id"].(string))
		if got := r.header.Get("X-Request-Id"); len(id) <= 64 && got != id {
			t.Errorf("X-Request-Id %s answered as %s", id, got)
		}
		listed := e.do(http.MethodGet, "/v1/payments?order_id="+url.QueryEscape(id), tok, "", nil)
		expectStatus(t, listed, http.StatusOK, "")
		got := e.do(http.MethodGet, "/v1/payments/"+paymentIDs[len(paymentIDs)-1], tok, "", nil)
		expectStatus(t, got, http.StatusOK, "")
	}
	// A card payment's GMO token in the simulator's shape is the token, not a card number
	// (whatever else the payment answers).
	card := e.pay(e.a, map[string]any{"amount": 1000, "currency": "JPY", "method": "card", "flow": "redirect",
		"card_token": tokenLike, "return_url": "https://shop.example/return", "order_id": uuidLike})
	if card.status == http.StatusUnprocessableEntity && strings.Contains(string(card.body), "card_data_not_accepted") {
		t.Errorf("a GMO token was taken for card data: %s", card.body)
	}

	// Nothing of it was kept: not in the logs, the events, the webhook bodies, the database
	// files.
	e.deliverAll()
	var evs bytes.Buffer
	for _, id := range paymentIDs {
		events, err := st.ListEvents(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			evs.Write(ev.Payload)
		}
	}
	if evs.Len() == 0 || len(hooks.bodies()) == 0 {
		t.Fatalf("no events (%d bytes) or webhooks (%d) to scan", evs.Len(), len(hooks.bodies()))
	}
	logs := e.logs.String()
	if n := strings.Count(logs, `"msg":"card data refused"`); n < len(cardForms)*9 {
		t.Errorf("%d refusals logged, want at least %d", n, len(cardForms)*9)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "card data refused") && strings.Contains(line, `"field":"/metadata/4111`) {
			t.Errorf("the refusal logs the key: %s", line)
		}
	}
	e.app.Close() // flush SQLite (WAL) to the files
	places := map[string][]byte{"logs": []byte(logs), "events": evs.Bytes(), "webhooks": bytes.Join(hooks.bodies(), []byte("\n"))}
	files, _ := filepath.Glob(dbPath + "*")
	if len(files) == 0 {
		t.Fatal("no database files to scan")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		places[filepath.Base(f)] = b
	}
	for where, b := range places {
		if found := holdsCardNumber(b); found != "" {
			t.Errorf("card data in %s: %s", where, found)
		}
	}
}

// holdsCardNumber looks for Visa's test PAN in b in any of cardForms' shapes: each form as
// sent, and the digits as a reader sees them — any script's digits, separators of any kind
// dropped. It answers with the context of the first hit, or "".
func holdsCardNumber(b []byte) string {
	for _, f := range cardForms {
		if i := bytes.Index(b, []byte(f.s)); i >= 0 {
			return fmt.Sprintf("%s: …%q…", f.name, b[max(0, i-40):min(len(b), i+len(f.s)+40)])
		}
	}
	var digits strings.Builder
	for _, r := range norm.NFKC.String(strings.ToValidUTF8(string(b), "|")) {
		switch {
		case unicode.Is(unicode.Nd, r):
			digits.WriteByte('0' + byte(ndValue(r)))
		case unicode.IsSpace(r) || unicode.In(r, unicode.Pd, unicode.Pc, unicode.Cf, unicode.Mn) || strings.ContainsRune(".,/\\:;|'ー・", r):
		default:
			digits.WriteByte('|')
		}
	}
	if i := strings.Index(digits.String(), "4111111111111111"); i >= 0 {
		s := digits.String()
		return fmt.Sprintf("the digits …%s…", s[max(0, i-20):min(len(s), i+36)])
	}
	return ""
}

// ndValue is the value of a decimal digit r of any script: its offset, modulo ten, from
// the start of its block of decimal digits (Unicode keeps them in whole runs of ten from
// zero to nine, some blocks holding several runs).
func ndValue(r rune) int {
	start := r
	for unicode.Is(unicode.Nd, start-1) {
		start--
	}
	return int(r-start) % 10
}

// cardShapedUUID is a random UUID v4 whose digits read as a card number once its shape is
// broken (a letter touching it): the kind the old scanner refused as an Idempotency-Key.
func cardShapedUUID(t *testing.T) string {
	for range 1_000_000 {
		var b [16]byte
		_, _ = rand.Read(b[:])
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		h := hex.EncodeToString(b[:])
		u := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		if carddata.ContainsCardNumber("g"+u+"g") && !strings.Contains(u, "4111") {
			return u
		}
	}
	t.Fatal("no card-shaped UUID in a million")
	return ""
}

// cardShapedToken is "tok_" and 48 hex digits (the GMO simulator's tokens) whose digits
// read as a card number once the shape is broken.
func cardShapedToken(t *testing.T) string {
	for range 1_000_000 {
		var b [24]byte
		_, _ = rand.Read(b[:])
		h := hex.EncodeToString(b[:])
		if carddata.ContainsCardNumber("g"+h+"g") && !strings.Contains(h, "4111") {
			return "tok_" + h
		}
	}
	t.Fatal("no card-shaped token in a million")
	return ""
}

// cardRequest sends a JSON request with the given headers and the store a token.
func cardRequest(e *testEnv, method, path string, headers map[string]string, body any) response {
	e.t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token(e.a))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	checkAgainstContract(e.t, req, resp.StatusCode, resp.Header, b)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// deliverAll runs the deliverer until nothing is due.
func (e *testEnv) deliverAll() {
	e.t.Helper()
	for range 1000 {
		n, err := e.app.Deliverer.DeliverOnce(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// cardHookReceiver is a store's webhook endpoint that keeps every body.
type cardHookReceiver struct {
	mu  sync.Mutex
	got [][]byte
	srv *httptest.Server
}

func newCardHookReceiver(t *testing.T) *cardHookReceiver {
	r := &cardHookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, body)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *cardHookReceiver) bodies() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.got...)
}
