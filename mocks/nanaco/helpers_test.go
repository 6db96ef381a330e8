package nanaco

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"payhub/mocks/sim"
)

const (
	testMerchant = "M0001"
	testSecret   = "ncs-test-secret"
	testTerminal = "store-001_till-01"
	otherTill    = "store-001_till-02"
)

// testStart is the simulator clock's start: 2026-11-28 10:15:30 JST, business date 20261128.
var testStart = time.Date(2026, 11, 28, 10, 15, 30, 0, JST)

// harness is a simulator on a manual clock with a signing client that verifies every
// signed answer.
type harness struct {
	t     *testing.T
	sim   *Simulator
	clock *sim.ManualClock
	nonce atomic.Int64
	seqs  map[string]int // next terminalSeq per terminal and date
}

func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	clock := sim.NewManualClock(testStart)
	cfg := Config{MerchantID: testMerchant, Secret: testSecret, Clock: clock}
	for _, m := range mutate {
		m(&cfg)
	}
	return &harness{t: t, sim: New(cfg), clock: clock, seqs: map[string]int{}}
}

// response is a decoded answer; raw keeps the bytes.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.raw) }

// get reads a top-level field, or a dotted path ("error.details.balance").
func (r response) get(path string) any {
	var v any = r.body
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func (r response) num(path string) int {
	n, ok := r.get(path).(json.Number)
	if !ok {
		return -1 << 31
	}
	i, _ := n.Int64()
	return int(i)
}

func (r response) str(path string) string {
	s, _ := r.get(path).(string)
	return s
}

func (r response) code() string { return r.str("error.code") }

// nextNonce is a fresh 16+ character nonce.
func (h *harness) nextNonce() string {
	return fmt.Sprintf("test-nonce-%06d", h.nonce.Add(1))
}

// marshal turns a body into bytes: strings and []byte as they are, anything else as JSON.
func marshal(t *testing.T, body any) []byte {
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return []byte(b)
	case []byte:
		return b
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// request builds a signed POST from terminal.
func (h *harness) request(terminal, path string, body any) *http.Request {
	raw := marshal(h.t, body)
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	SignRequest(req, testSecret, testMerchant, terminal, h.nextNonce(), h.sim.Now(), raw)
	return req
}

// do serves req and checks the answer's signature.
func (h *harness) do(req *http.Request) response {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, req)
	return h.decode(req, rec.Code, rec.Header(), rec.Body.Bytes())
}

// decode checks the NCS response signature (when the request had a nonce and the status is
// not a gateway's) and decodes the JSON body.
func (h *harness) decode(req *http.Request, status int, header http.Header, raw []byte) response {
	h.t.Helper()
	res := response{status: status, header: header, raw: raw}
	if nonce := req.Header.Get(HeaderNonce); nonce != "" && status != 502 && status != 504 {
		ts := header.Get(HeaderTimestamp)
		want := ResponseSignature(testSecret, status, req.URL.EscapedPath(), ts, nonce, raw)
		if got := header.Get(HeaderSignature); got != want {
			h.t.Fatalf("response signature %q, want %q (%s)", got, want, raw)
		}
		if _, err := time.Parse(time.RFC3339, ts); err != nil || !strings.HasSuffix(ts, "+09:00") {
			h.t.Fatalf("response timestamp %q", ts)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&res.body); err != nil {
		h.t.Fatalf("not JSON: %d %q", status, raw)
	}
	if status >= 400 && res.code() == "" {
		h.t.Fatalf("error without a code: %s", res)
	}
	return res
}

// post is a signed POST from testTerminal.
func (h *harness) post(path string, body any) response {
	h.t.Helper()
	return h.do(h.request(testTerminal, path, body))
}

// postFrom is a signed POST from terminal.
func (h *harness) postFrom(terminal, path string, body any) response {
	h.t.Helper()
	return h.do(h.request(terminal, path, body))
}

// seq returns terminal's next sequence number today.
func (h *harness) seq(terminal string) int {
	k := terminal + "/" + h.sim.BusinessDate()
	h.seqs[k]++
	return h.seqs[k]
}

// vm is a value-moving body for terminal: a new key of today plus the fields kv.
func (h *harness) vm(terminal string, kv ...any) map[string]any {
	m := map[string]any{"terminalSeq": h.seq(terminal), "businessDate": h.sim.BusinessDate()}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// ok fails unless r is 200.
func (h *harness) ok(r response) response {
	h.t.Helper()
	if r.status != http.StatusOK {
		h.t.Fatalf("want 200, got %s", r)
	}
	return r
}

// refused fails unless r is status with code and outcome NOT_PROCESSED.
func (h *harness) refused(r response, status int, code string) response {
	h.t.Helper()
	if r.status != status || r.code() != code {
		h.t.Fatalf("want %d %s, got %s", status, code, r)
	}
	if r.str("error.outcome") != OutcomeNotProcessed || r.get("error.retryable") != false || r.str("error.message") == "" {
		h.t.Fatalf("want outcome NOT_PROCESSED, not retryable, a message: %s", r)
	}
	if _, ok := r.get("error.details").(map[string]any); !ok {
		h.t.Fatalf("details is not an object: %s", r)
	}
	return r
}

// pay pays amount with card from terminal and returns the answer.
func (h *harness) pay(terminal, number string, amount int, kv ...any) response {
	h.t.Helper()
	return h.postFrom(terminal, "/ncs/v1/payments", h.vm(terminal, append([]any{"nanacoNumber", number, "amount", amount}, kv...)...))
}

// card returns a card's state or fails.
func (h *harness) card(number string) CardState {
	h.t.Helper()
	st, ok := h.sim.Card(number)
	if !ok {
		h.t.Fatalf("no card %s", number)
	}
	return st
}

// balances fails unless the card holds balance and centre-held.
func (h *harness) balances(number string, balance, held int) {
	h.t.Helper()
	if st := h.card(number); st.Balance != balance || st.CenterHeld != held {
		h.t.Fatalf("card %s: balance %d centre-held %d, want %d and %d", number, st.Balance, st.CenterHeld, balance, held)
	}
}
