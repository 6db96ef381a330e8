package gmopg

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"payhub/mocks/sim"
)

func faultHarness(t *testing.T, rules ...sim.FaultRule) *harness {
	t.Helper()
	faults := sim.NewFaults(7)
	if err := faults.Set(rules); err != nil {
		t.Fatal(err)
	}
	return newHarness(t, func(c *Config) { c.Faults = faults })
}

func rule(path string, f sim.Fault) sim.FaultRule {
	return sim.FaultRule{Method: http.MethodPost, PathPrefix: path, Probability: 1, Fault: f, Count: 1}
}

func TestFaultErrorBodyIsKV(t *testing.T) {
	h := faultHarness(t,
		rule("/payment/EntryTran.idPass", sim.Fault{Kind: sim.FaultError, Status: 503}),
		rule("/payment/EntryTran.idPass", sim.Fault{Kind: sim.FaultError, Status: 500, Code: "E92000001"}))
	r := h.call("EntryTran", "ShopID", testShopID, "ShopPass", testShopPass, "OrderID", "f-1", "JobCd", "AUTH", "Amount", "1")
	if r.status != 503 || r.contentType != contentType || string(r.raw) != "ErrCode=E91&ErrInfo=E91099999" {
		t.Fatalf("%d %q %s", r.status, r.contentType, r.raw)
	}
	r = h.call("EntryTran", "ShopID", testShopID, "ShopPass", testShopPass, "OrderID", "f-1", "JobCd", "AUTH", "Amount", "1")
	if r.status != 500 || string(r.raw) != "ErrCode=E92&ErrInfo=E92000001" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if _, ok := h.sim.Order("f-1"); ok {
		t.Fatal("an error fault commits nothing")
	}
	h.entry("f-1", "AUTH", "1")
	if ct, body := FaultErrorBody(502, "42C010000"); ct != contentType || string(body) != "ErrCode=C01&ErrInfo=42C010000" {
		t.Fatalf("%s %s", ct, body)
	}
}

func TestFaultCommitThenDrop(t *testing.T) {
	h := faultHarness(t, rule("/payment/ExecTran.idPass", sim.Fault{Kind: sim.FaultCommitThenDrop}))
	id, pass := h.entry("ctd-1", "CAPTURE", "1000")
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/payment/ExecTran.idPass",
		strings.NewReader(raw("AccessID", id, "AccessPass", pass, "OrderID", "ctd-1", "Method", "1", "Token", TokenSuccess)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if res, err := client.Do(req); err == nil {
		res.Body.Close()
		t.Fatal("the connection should have been reset")
	}
	if st := h.search("ctd-1"); st["Status"] != StatusCapture {
		t.Fatalf("committed: %q", st)
	}
	h.fails(h.exec("ctd-1", id, pass, TokenSuccess), infoAlreadySettled)
}

func TestFaultsControlEndpoint(t *testing.T) {
	h := faultHarness(t)
	var st sim.FaultState
	if code := h.simJSON(http.MethodPut, "/_sim/faults", "application/json",
		`{"rules":[{"path_prefix":"/payment/","fault":{"kind":"error","status":502}}]}`, &st); code != 200 || len(st.Rules) != 1 {
		t.Fatalf("%d %+v", code, st)
	}
	r := h.call("SearchTrade", "ShopID", testShopID, "ShopPass", testShopPass, "OrderID", "x")
	if r.status != 502 || string(r.raw) != "ErrCode=E91&ErrInfo=E91099999" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	// /_sim/ is never faulted
	if code := h.simJSON(http.MethodGet, "/_sim/orders", "", "", nil); code != 200 {
		t.Fatalf("%d", code)
	}
	rec := httptest.NewRecorder()
	New(Config{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_sim/faults", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("without an engine: %d", rec.Code)
	}
}
