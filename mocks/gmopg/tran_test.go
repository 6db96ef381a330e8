package gmopg

import (
	"strings"
	"testing"
	"time"
)

func TestEntryTranValidation(t *testing.T) {
	h := newHarness(t)
	shop := []string{"ShopID", testShopID, "ShopPass", testShopPass}
	with := func(pairs ...string) []string { return append(append([]string{}, shop...), pairs...) }
	h.entry("dup-1", "AUTH", "1000")
	for _, tc := range []struct {
		name  string
		pairs []string
		want  []string
	}{
		{"bad shop pass", []string{"ShopID", testShopID, "ShopPass", "nope", "OrderID", "e-1", "JobCd", "AUTH", "Amount", "1"}, []string{infoBadShop}},
		{"bad shop id", []string{"ShopID", "other", "ShopPass", testShopPass, "OrderID", "e-1", "JobCd", "AUTH", "Amount", "1"}, []string{infoBadShop}},
		{"duplicate order", with("OrderID", "dup-1", "JobCd", "AUTH", "Amount", "1000"), []string{infoDuplicateOrder}},
		{"order id 28 chars", with("OrderID", strings.Repeat("a", 28), "JobCd", "AUTH", "Amount", "1"), []string{infoBadOrderID}},
		{"order id underscore", with("OrderID", "a_b", "JobCd", "AUTH", "Amount", "1"), []string{infoBadOrderID}},
		{"bad JobCd", with("OrderID", "e-2", "JobCd", "SALES", "Amount", "1"), []string{infoBadJobCd}},
		{"amount not a number", with("OrderID", "e-3", "JobCd", "AUTH", "Amount", "1.5"), []string{infoAmountNotNumber}},
		{"amount too long", with("OrderID", "e-4", "JobCd", "AUTH", "Amount", "12345678"), []string{infoAmountDigits}},
		{"amount plus tax", with("OrderID", "e-5", "JobCd", "AUTH", "Amount", "9999999", "Tax", "1"), []string{infoAmountRange}},
		{"TdFlag 1 retired", with("OrderID", "e-6", "JobCd", "AUTH", "Amount", "1", "TdFlag", "1"), []string{infoBadTdFlag}},
	} {
		t.Run(tc.name, func(t *testing.T) { h.fails(h.call("EntryTran", tc.pairs...), tc.want...) })
	}
	h.entry(strings.Repeat("A", 27), "AUTH", "1")
	id, pass := h.entry("chk-1", "CHECK", "")
	if !hex32.MatchString(id) || !hex32.MatchString(pass) || id == pass {
		t.Fatalf("AccessID %q AccessPass %q", id, pass)
	}

	r3 := newHarness(t, func(c *Config) { c.Require3DS = true })
	r3.fails(r3.call("EntryTran", with("OrderID", "r-1", "JobCd", "AUTH", "Amount", "1")...), info3DSRequired)
	r3.entry("r-2", "AUTH", "1", "TdFlag", "2")
	n3 := newHarness(t, func(c *Config) { c.No3DSContract = true })
	n3.fails(n3.call("EntryTran", with("OrderID", "n-1", "JobCd", "AUTH", "Amount", "1", "TdFlag", "2")...), infoNo3DSContract)
}

func TestDemoCredentialsDefault(t *testing.T) {
	s := New(Config{})
	if s.cfg.ShopID != DemoShopID || s.cfg.ShopPass != DemoShopPass || len(DemoShopID) > 13 || len(DemoShopPass) > 10 {
		t.Fatalf("defaults %q %q", s.cfg.ShopID, s.cfg.ShopPass)
	}
}

func TestAuthThenSalesThenReturn(t *testing.T) {
	h := newHarness(t)
	id, pass, kv := h.authorised("flow-1", "AUTH", "1200")
	if kv["ACS"] != "0" || kv["OrderID"] != "flow-1" || kv["Forward"] != forward || kv["Method"] != "1" || kv["PayTimes"] != "" {
		t.Fatalf("ExecTran: %q", kv)
	}
	if !tranID.MatchString(kv["TranID"]) || !digits7.MatchString(kv["Approve"]) {
		t.Fatalf("TranID %q Approve %q", kv["TranID"], kv["Approve"])
	}
	if kv["TranDate"] != "20260310100000" {
		t.Fatalf("TranDate %q, want JST 20260310100000", kv["TranDate"])
	}
	want := CheckString("flow-1", kv["Forward"], "1", "", kv["Approve"], kv["TranID"], kv["TranDate"], testShopPass)
	if kv["CheckString"] != want || !hex32.MatchString(want) {
		t.Fatalf("CheckString %q, want %q", kv["CheckString"], want)
	}
	if _, echoed := kv["ClientField1"]; echoed {
		t.Fatal("ClientField echoed without ClientFieldFlag=1")
	}

	st := h.search("flow-1")
	for k, v := range map[string]string{"Status": "AUTH", "JobCd": "AUTH", "AccessID": id, "AccessPass": pass, "Amount": "1200",
		"Tax": "0", "CardNo": "************1111", "Expire": "3012", "TranID": kv["TranID"], "Approve": kv["Approve"],
		"Forward": forward, "Method": "1", "ItemCode": "0000990", "ProcessDate": "20260310100000"} {
		if st[k] != v {
			t.Errorf("SearchTrade %s = %q, want %q", k, st[k], v)
		}
	}
	for _, k := range []string{"SiteID", "MemberID", "PayTimes", "ClientField1", "ClientField2", "ClientField3"} {
		if _, ok := st[k]; !ok {
			t.Errorf("SearchTrade lacks %s", k)
		}
	}

	h.fails(h.exec("flow-1", id, pass, TokenSuccess), infoAlreadySettled)
	h.fails(h.alter(id, pass, "SALES", "Amount", "1000"), infoAmountMismatch)
	h.fails(h.alter(id, pass, "SALES"), infoNoAmount)
	h.fails(h.alter(id, pass, "CANCEL"), infoBadJobCd)
	h.clock.Advance(2 * time.Hour)
	sales := h.ok(h.alter(id, pass, "SALES", "Amount", "1200"))
	if sales["AccessID"] != id || sales["AccessPass"] != pass || !tranID.MatchString(sales["TranID"]) ||
		sales["TranID"] == kv["TranID"] || sales["TranDate"] != "20260310120000" || sales["Forward"] != forward {
		t.Fatalf("SALES answer %q", sales)
	}
	h.fails(h.alter(id, pass, "SALES", "Amount", "1200"), infoStateNotAllowed)
	if st := h.search("flow-1"); st["Status"] != "SALES" || st["TranID"] != sales["TranID"] {
		t.Fatalf("after SALES: %q", st)
	}
	h.clock.Advance(3 * 24 * time.Hour)
	h.ok(h.alter(id, pass, "RETURN"))
	if st := h.search("flow-1"); st["Status"] != "RETURN" || st["Amount"] != "1200" {
		t.Fatalf("after RETURN: %q", st)
	}
	h.fails(h.alter(id, pass, "RETURN"), infoStateNotAllowed)
	lo := h.ledger("flow-1")
	if len(lo.Operations) != 3 || lo.Operations[0].JobCd != "AUTH" || lo.Operations[1].JobCd != "SALES" || lo.Operations[2].JobCd != "RETURN" {
		t.Fatalf("ledger operations %+v", lo.Operations)
	}
}

func TestVoidOnlyOnTheJSTTransactionDate(t *testing.T) {
	h := newHarness(t)
	// 23:50 JST on 10 March is 14:50 UTC; fifteen minutes later it is 11 March in Japan
	// but still 10 March in UTC.
	h.clock.Set(time.Date(2026, 3, 10, 14, 50, 0, 0, time.UTC))
	id, pass, kv := h.authorised("void-1", "CAPTURE", "500")
	if kv["TranDate"] != "20260310235000" {
		t.Fatalf("TranDate %q", kv["TranDate"])
	}
	h.clock.Advance(15 * time.Minute)
	h.fails(h.alter(id, pass, "VOID"), infoStateNotAllowed)
	h.ok(h.alter(id, pass, "RETURN"))

	id2, pass2, _ := h.authorised("void-2", "CAPTURE", "500")
	h.clock.Advance(23 * time.Hour) // 23:05 JST the same day
	h.ok(h.alter(id2, pass2, "VOID"))
	if st := h.search("void-2"); st["Status"] != "VOID" {
		t.Fatalf("%q", st)
	}
	h.fails(h.alter(id2, pass2, "VOID"), infoStateNotAllowed)
}

func TestReturnXAnd180DayLimit(t *testing.T) {
	h := newHarness(t)
	id, pass, _ := h.authorised("old-1", "CAPTURE", "800")
	id2, pass2, _ := h.authorised("old-2", "CAPTURE", "800")
	h.clock.Advance(40 * 24 * time.Hour)
	h.ok(h.alter(id2, pass2, "RETURNX"))
	h.clock.Advance(141 * 24 * time.Hour)
	h.fails(h.alter(id, pass, "RETURN"), infoTooOld)
	h.fails(h.change(id, pass, "CAPTURE", "100"), infoTooOld)
}

func TestAuthorisationExpiry(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AuthValidity = 60 * 24 * time.Hour })
	id, pass, _ := h.authorised("exp-1", "AUTH", "900")
	h.clock.Advance(60*24*time.Hour - time.Second)
	if h.ledger("exp-1").AuthExpired {
		t.Fatal("expired early")
	}
	h.clock.Advance(time.Second)
	if !h.ledger("exp-1").AuthExpired {
		t.Fatal("ledger should show the lapsed authorisation")
	}
	h.fails(h.alter(id, pass, "SALES", "Amount", "900"), infoAuthExpired)
	h.fails(h.change(id, pass, "AUTH", "800"), infoAuthExpired)
	h.ok(h.alter(id, pass, "RETURN")) // releasing a lapsed authorisation is fine

	id2, pass2, _ := h.authorised("exp-2", "AUTH", "900")
	if err := h.sim.ExpireAuthorization("exp-2"); err != nil {
		t.Fatal(err)
	}
	h.fails(h.alter(id2, pass2, "SALES", "Amount", "900"), infoAuthExpired)
}

func TestChangeTranSameFamily(t *testing.T) {
	h := newHarness(t)
	id, pass, kv := h.authorised("chg-1", "AUTH", "1000")
	h.fails(h.change(id, pass, "CAPTURE", "700"), infoStateNotAllowed)
	h.fails(h.change(id, pass, "SALES", "700"), infoBadJobCd)
	h.fails(h.change(id, pass, "AUTH", ""), infoNoAmount)
	c := h.ok(h.change(id, pass, "AUTH", "700"))
	if c["TranID"] == kv["TranID"] || !tranID.MatchString(c["TranID"]) {
		t.Fatalf("ChangeTran %q", c)
	}
	h.fails(h.alter(id, pass, "SALES", "Amount", "1000"), infoAmountMismatch)
	h.ok(h.alter(id, pass, "SALES", "Amount", "700"))
	if st := h.search("chg-1"); st["Status"] != "SALES" || st["Amount"] != "700" {
		t.Fatalf("%q", st)
	}
	// partial refund of a captured charge: ChangeTran CAPTURE to a lower amount
	h.fails(h.change(id, pass, "AUTH", "500"), infoStateNotAllowed)
	h.ok(h.change(id, pass, "CAPTURE", "500"))
	lo := h.ledger("chg-1")
	if lo.Status != StatusCapture || lo.Amount != 500 || lo.AuthorisedAmount != 1000 {
		t.Fatalf("ledger %+v", lo)
	}
}

func TestCheckJobAndNotExecuted(t *testing.T) {
	h := newHarness(t)
	id, pass := h.entry("chk-1", "CHECK", "")
	h.fails(h.alter(id, pass, "VOID"), infoNotExecuted)
	h.fails(h.change(id, pass, "AUTH", "10"), infoNotExecuted)
	kv := h.ok(h.call("ExecTran", "AccessID", id, "AccessPass", pass, "OrderID", "chk-1", "Token", TokenSuccess))
	if kv["Method"] != "" {
		t.Fatalf("%q", kv)
	}
	if st := h.search("chk-1"); st["Status"] != "CHECK" || st["Amount"] != "0" {
		t.Fatalf("%q", st)
	}
	h.fails(h.alter(id, pass, "VOID"), infoStateNotAllowed)
	h.fails(h.alter(id, pass, "SALES", "Amount", "1"), infoStateNotAllowed)
}

func TestExecTranValidation(t *testing.T) {
	h := newHarness(t)
	id, pass := h.entry("ex-1", "AUTH", "1000")
	h.fails(h.call("ExecTran", "AccessID", id, "AccessPass", pass, "OrderID", "ex-1", "Token", TokenSuccess), infoNoMethod)
	h.fails(h.call("ExecTran", "AccessID", id, "AccessPass", pass, "OrderID", "ex-1", "Method", "9", "Token", TokenSuccess), infoBadMethodValue)
	h.fails(h.call("ExecTran", "AccessID", id, "AccessPass", pass, "OrderID", "ex-1", "Method", "2", "Token", TokenSuccess), infoNoPayTimes)
	h.fails(h.call("ExecTran", "AccessID", id, "AccessPass", pass, "OrderID", "ex-1", "Method", "2", "PayTimes", "x", "Token", TokenSuccess), infoPayTimesNumber)
	h.fails(h.call("ExecTran", "AccessID", id, "AccessPass", pass, "OrderID", "ex-1", "Method", "2", "PayTimes", "123", "Token", TokenSuccess), infoPayTimesDigits)
	h.fails(h.exec("other", id, pass, TokenSuccess), infoUnknownAccess)
	h.fails(h.exec("ex-1", id, strings.Repeat("0", 32), TokenSuccess), infoUnknownAccess)
	h.fails(h.exec("ex-1", "zz", "", TokenSuccess), infoBadAccessID, infoNoAccessPass)
	h.fails(h.exec("ex-1", id, pass, TokenSuccess, "ShopID", testShopID, "ShopPass", "wrong"), infoBadShop)
	// raw card numbers are refused and never kept
	h.fails(h.call("ExecTran", "AccessID", id, "AccessPass", pass, "OrderID", "ex-1", "Method", "1",
		"CardNo", "4111111111111111", "Expire", "3012", "SecurityCode", "123"), infoCardNoRefused)
	if lo := h.ledger("ex-1"); lo.Card != nil || lo.Status != StatusUnprocessed {
		t.Fatalf("%+v", lo)
	}
	kv := h.ok(h.call("ExecTran", "ShopID", testShopID, "ShopPass", testShopPass, "AccessID", id, "AccessPass", pass,
		"OrderID", "ex-1", "Method", "2", "PayTimes", "3", "Token", TokenSuccess))
	if kv["Method"] != "2" || kv["PayTimes"] != "3" ||
		kv["CheckString"] != CheckString("ex-1", forward, "2", "3", kv["Approve"], kv["TranID"], kv["TranDate"], testShopPass) {
		t.Fatalf("%q", kv)
	}
}

func TestUnknownAccessAndOrder(t *testing.T) {
	h := newHarness(t)
	h.fails(h.alter(strings.Repeat("a", 32), strings.Repeat("b", 32), "VOID"), infoUnknownAccess)
	h.fails(h.call("SearchTrade", "ShopID", testShopID, "ShopPass", testShopPass, "OrderID", "nope"), infoUnknownAccess)
	h.fails(h.call("SearchTrade", "ShopID", testShopID, "ShopPass", "x", "OrderID", "nope"), infoBadShop)
	h.fails(h.call("SecureTran2", "AccessID", strings.Repeat("a", 32), "AccessPass", strings.Repeat("b", 32)), infoUnknownAccess)
}

func TestDeclinesLeaveTheOrderUnprocessed(t *testing.T) {
	h := newHarness(t)
	id, pass := h.entry("dec-1", "AUTH", "1000")
	for _, tc := range []struct{ token, info, code string }{
		{TokenDeclineG02, "42G020000", "G02"}, {TokenDeclineG03, "42G030000", "G03"},
		{TokenDeclineG12, "42G120000", "G12"}, {TokenCVCG44, "42G440000", "G44"},
	} {
		r := h.exec("dec-1", id, pass, tc.token)
		if string(r.raw) != "ErrCode="+tc.code+"&ErrInfo="+tc.info {
			t.Fatalf("%s: %s", tc.token, r.raw)
		}
	}
	if st := h.search("dec-1"); st["Status"] != StatusUnprocessed || st["TranID"] != "" {
		t.Fatalf("%q", st)
	}
	h.ok(h.exec("dec-1", id, pass, TokenSuccess))
	lo := h.ledger("dec-1")
	if lo.Status != StatusAuth || len(lo.Errors) != 4 || lo.Errors[0].ErrInfo != "42G020000" || len(lo.Operations) != 1 {
		t.Fatalf("%+v", lo)
	}
}
