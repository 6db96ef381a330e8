package gmopg

import (
	"context"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"payhub/mocks/sim"
	"payhub/tests/npmcheck"
)

// nodeCheckDir is tests/npm/gmopg, relative to this package.
const nodeCheckDir = "../../tests/npm/gmopg"

// TestGmopgNodeClient runs gmopg 6.0.0 (tests/npm/gmopg/check.js) against the simulator on
// a loopback port: AUTH → execTran with a minted token → SALES → searchTrade; token reuse
// (EX1000302); CAPTURE → RETURN; a G02 decline; a 3DS2 challenge approved through /_sim
// then SecureTran2; an injected 503 read as BadRequest E91099999. GMOPG_ENDPOINT is set to
// a dead address to prove check.js drops gmopg's environment overrides. It needs node and
// npm (and the npm registry); without them it skips, except under CI=true where it fails
// (npmcheck.Install).
func TestGmopgNodeClient(t *testing.T) {
	const shopID, shopPass = "tshop00077777", "npmpass1"
	s := New(Config{ShopID: shopID, ShopPass: shopPass, Faults: sim.NewFaults(1)})
	srv := httptest.NewUnstartedServer(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	dir := npmcheck.Install(t, nodeCheckDir, "package.json", "package-lock.json", "check.js")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := npmcheck.Run(t, ctx, dir, []string{
		"PAYHUB_GMOPG_SHOP_ID=" + shopID,
		"PAYHUB_GMOPG_SHOP_PASS=" + shopPass,
		"GMOPG_ENDPOINT=http://127.0.0.1:9",
		"GMOPG_SHOPPASS=wrong",
	}, nil, "node", "check.js", "127.0.0.1", port)
	t.Logf("check.js:\n%s", out)

	for _, step := range []string{"entryTran AUTH", "execTran", "alterTran SALES", "searchTrade SALES",
		"token single-use EX1000302", "execTran CAPTURE", "alterTran RETURN", "decline 42G020000",
		"3DS2 challenge SecureTran2", "fault 503 E91099999"} {
		if !strings.Contains(out, "ok "+step+"\n") {
			t.Errorf("check.js did not report ok %s", step)
		}
	}
	var result struct {
		Captured struct{ OrderID, TranID, SalesTranID string } `json:"captured"`
		Refunded struct{ OrderID, ReturnTranID string }        `json:"refunded"`
		Declined struct{ OrderID string }                      `json:"declined"`
		ThreeDS  struct{ OrderID, TranID string }              `json:"threeDS"`
		Fault    bool                                          `json:"fault"`
	}
	npmcheck.Result(t, out, &result)

	c, ok := s.Order(result.Captured.OrderID)
	if !ok || c.Status != StatusSales || c.Amount != 1200 || c.TranID != result.Captured.SalesTranID ||
		len(c.Operations) != 2 || c.Operations[0].TranID != result.Captured.TranID || c.Card == nil || c.Card.Last4 != "1111" {
		t.Errorf("captured order in the ledger: %+v (found %v), check.js saw %+v", c, ok, result.Captured)
	}
	r, ok := s.Order(result.Refunded.OrderID)
	if !ok || r.Status != StatusReturn || r.Amount != 800 || r.TranID != result.Refunded.ReturnTranID {
		t.Errorf("refunded order in the ledger: %+v (found %v)", r, ok)
	}
	d, ok := s.Order(result.Declined.OrderID)
	if !ok || d.Status != StatusUnprocessed || len(d.Errors) != 1 || d.Errors[0].ErrInfo != "42G020000" || len(d.Operations) != 0 {
		t.Errorf("declined order in the ledger: %+v (found %v)", d, ok)
	}
	tds, ok := s.Order(result.ThreeDS.OrderID)
	if !ok || tds.Status != StatusAuth || tds.ThreeDS != "approved" || tds.TranID != result.ThreeDS.TranID {
		t.Errorf("3DS order in the ledger: %+v (found %v)", tds, ok)
	}
	if !result.Fault {
		t.Error("check.js skipped the fault step")
	}
	if n := len(s.Orders()); n != 5 {
		t.Errorf("%d orders in the ledger, want 5", n)
	}
}
