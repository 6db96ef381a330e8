package gmopg

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"payhub/mocks/sim"
)

const (
	testShopID   = "tshop00099999"
	testShopPass = "testpass1"
)

// testStart is the simulator clock's start: 2026-03-10 10:00:00 JST.
var testStart = time.Date(2026, 3, 10, 1, 0, 0, 0, time.UTC)

// harness is a simulator on a manual clock behind a real loopback HTTP server.
type harness struct {
	t     *testing.T
	sim   *Simulator
	clock *sim.ManualClock
	srv   *httptest.Server
}

func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	clock := sim.NewManualClock(testStart)
	cfg := Config{ShopID: testShopID, ShopPass: testShopPass, Clock: clock}
	for _, m := range mutate {
		m(&cfg)
	}
	s := New(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &harness{t: t, sim: s, clock: clock, srv: srv}
}

// reply is one API answer.
type reply struct {
	status      int
	contentType string
	raw         []byte            // the body as sent (Shift_JIS)
	kv          map[string]string // naive parse: every part its own key
}

// text is the body decoded from Shift_JIS.
func (r reply) text() string {
	b, _ := japanese.ShiftJIS.NewDecoder().Bytes(r.raw)
	return string(b)
}

// send posts body to /payment/<name>.idPass with gmopg's default headers.
func (h *harness) send(name, body string, header ...string) reply {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/payment/"+name+".idPass", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json, text/plain, */*")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return h.do(req)
}

func (h *harness) do(req *http.Request) reply {
	h.t.Helper()
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return reply{status: res.StatusCode, contentType: res.Header.Get("Content-Type"), raw: raw, kv: ParseResponse(raw)}
}

// raw joins pairs unencoded, as gmopg's qs.stringify(…, {encode: false}) does.
func raw(pairs ...string) string {
	parts := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		parts = append(parts, pairs[i]+"="+pairs[i+1])
	}
	return strings.Join(parts, "&")
}

// call sends pairs unencoded to name.
func (h *harness) call(name string, pairs ...string) reply {
	h.t.Helper()
	return h.send(name, raw(pairs...))
}

// ok fails unless r is an HTTP 200 success answer.
func (h *harness) ok(r reply) map[string]string {
	h.t.Helper()
	if r.status != http.StatusOK || r.contentType != contentType {
		h.t.Fatalf("want HTTP 200 %s, got %d %q: %s", contentType, r.status, r.contentType, r.raw)
	}
	if _, isErr := r.kv["ErrCode"]; isErr {
		h.t.Fatalf("want success, got %s", r.raw)
	}
	return r.kv
}

// fails fails unless r is an HTTP 200 error answer with exactly infos (in order).
func (h *harness) fails(r reply, infos ...string) {
	h.t.Helper()
	if r.status != http.StatusOK || r.contentType != contentType {
		h.t.Fatalf("want HTTP 200 %s, got %d %q: %s", contentType, r.status, r.contentType, r.raw)
	}
	codes := make([]string, len(infos))
	for i, info := range infos {
		codes[i] = errCodeOf(info)
	}
	want := "ErrCode=" + strings.Join(codes, "|") + "&ErrInfo=" + strings.Join(infos, "|")
	if string(r.raw) != want {
		h.t.Fatalf("want %s, got %s", want, r.raw)
	}
}

// entry registers orderID (JobCd, Amount) and returns AccessID and AccessPass.
func (h *harness) entry(orderID, jobCd, amount string, extra ...string) (string, string) {
	h.t.Helper()
	kv := h.ok(h.call("EntryTran", append([]string{"ShopID", testShopID, "ShopPass", testShopPass,
		"OrderID", orderID, "JobCd", jobCd, "Amount", amount}, extra...)...))
	return kv["AccessID"], kv["AccessPass"]
}

// exec runs ExecTran with token (Method 1) and returns the answer.
func (h *harness) exec(orderID, id, pass, token string, extra ...string) reply {
	h.t.Helper()
	return h.call("ExecTran", append([]string{"AccessID", id, "AccessPass", pass, "OrderID", orderID,
		"Method", "1", "Token", token}, extra...)...)
}

// authorised registers and executes an order with tok_success.
func (h *harness) authorised(orderID, jobCd, amount string) (string, string, map[string]string) {
	h.t.Helper()
	id, pass := h.entry(orderID, jobCd, amount)
	kv := h.ok(h.exec(orderID, id, pass, TokenSuccess))
	return id, pass, kv
}

// alter runs AlterTran (JobCd, optional Amount).
func (h *harness) alter(id, pass, jobCd string, extra ...string) reply {
	h.t.Helper()
	return h.call("AlterTran", append([]string{"ShopID", testShopID, "ShopPass", testShopPass,
		"AccessID", id, "AccessPass", pass, "JobCd", jobCd}, extra...)...)
}

// change runs ChangeTran.
func (h *harness) change(id, pass, jobCd, amount string) reply {
	h.t.Helper()
	return h.call("ChangeTran", "ShopID", testShopID, "ShopPass", testShopPass,
		"AccessID", id, "AccessPass", pass, "JobCd", jobCd, "Amount", amount)
}

// search runs SearchTrade.
func (h *harness) search(orderID string) map[string]string {
	h.t.Helper()
	return h.ok(h.call("SearchTrade", "ShopID", testShopID, "ShopPass", testShopPass, "OrderID", orderID))
}

// ledger returns orderID's ledger entry or fails.
func (h *harness) ledger(orderID string) LedgerOrder {
	h.t.Helper()
	lo, ok := h.sim.Order(orderID)
	if !ok {
		h.t.Fatalf("no order %s in the ledger", orderID)
	}
	return lo
}

// simJSON calls a /_sim/ endpoint and decodes the JSON answer into v (if not nil).
func (h *harness) simJSON(method, path, contentType, body string, v any) int {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if v != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, v); err != nil {
			h.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

// sjisEncode percent-encodes s as Shift_JIS bytes (how GMO wants non-ASCII values).
func sjisEncode(s string) string {
	b, _ := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s))
	return url.QueryEscape(string(b))
}

var (
	hex32   = regexp.MustCompile(`^[0-9a-f]{32}$`)
	tranID  = regexp.MustCompile(`^[0-9]{28}$`)
	digits7 = regexp.MustCompile(`^[0-9]{7}$`)
)
