package gmopg

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseFormRawAndEncoded(t *testing.T) {
	sjis := sjisEncode("日本語テスト")
	for _, tc := range []struct {
		name, body string
		want       map[string]string
	}{
		{"raw as gmopg sends", "ShopID=tshop&OrderID=ord-1&Amount=1000&ClientField1=日本語", map[string]string{
			"ShopID": "tshop", "OrderID": "ord-1", "Amount": "1000", "ClientField1": "日本語"}},
		{"encoded Shift_JIS", "ClientField1=" + sjis + "&RetUrl=https%3A%2F%2Fshop.example%2Fret%3Fa%3D1&Name=a+b", map[string]string{
			"ClientField1": "日本語テスト", "RetUrl": "https://shop.example/ret?a=1", "Name": "a b"}},
		{"encoded plus", "Token=abc%2Bdef%2F%3D&Name=a+b", map[string]string{"Token": "abc+def/=", "Name": "a b"}},
		{"raw plus is literal", "Tds2Email=a+b@example.com", map[string]string{"Tds2Email": "a+b@example.com"}},
		{"stray percent kept literally", "ClientField1=100%&ClientField2=x%2Fy", map[string]string{
			"ClientField1": "100%", "ClientField2": "x/y"}},
		{"first = splits, empty values, first key wins", "A=x=y&B=&A=z&&C", map[string]string{"A": "x=y", "B": "", "C": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseForm([]byte(tc.body))
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (all: %q)", k, got[k], v, got)
				}
			}
		})
	}
}

func TestParseResponseRejoinsRedirectURL(t *testing.T) {
	body := []byte("ACS=2&RedirectUrl=http://127.0.0.1:7103/tds2/challenge?transId=abc&t=def")
	naive := ParseResponse(body)
	if naive["RedirectUrl"] != "http://127.0.0.1:7103/tds2/challenge?transId=abc" || naive["t"] != "def" {
		t.Fatalf("a naive split should show the trap: %q", naive)
	}
	got := ParseResponse(body, "ACS", "RedirectUrl")
	if got["RedirectUrl"] != "http://127.0.0.1:7103/tds2/challenge?transId=abc&t=def" || len(got) != 2 {
		t.Fatalf("re-joined parse: %q", got)
	}
}

func TestErrorsArePairedLists(t *testing.T) {
	h := newHarness(t)
	r := h.call("EntryTran")
	h.fails(r, infoNoShopID, infoNoShopPass, infoNoOrderID, infoNoJobCd, infoNoAmount)
	if !strings.HasPrefix(string(r.raw), "ErrCode=E01|E01|E01|E01|E01&ErrInfo=E01010001|") {
		t.Fatalf("body %s", r.raw)
	}
	h.fails(h.call("AlterTran", "ShopID", testShopID, "ShopPass", testShopPass, "AccessID", "x", "JobCd", "SALES", "Amount", "1"),
		infoBadAccessID, infoNoAccessPass)
}

func TestResponseIsShiftJIS(t *testing.T) {
	h := newHarness(t)
	id, pass := h.entry("sjis-1", "AUTH", "1000")
	body := raw("AccessID", id, "AccessPass", pass, "OrderID", "sjis-1", "Method", "1", "Token", TokenSuccess,
		"ClientFieldFlag", "1") + "&ClientField1=" + sjisEncode("お客様番号１２３") + "&ClientField2=plain"
	r := h.send("ExecTran", body)
	h.ok(r)
	if utf8.Valid(r.raw) {
		t.Fatalf("body should be Shift_JIS, not UTF-8: %q", r.raw)
	}
	got := ParseResponse(r.raw)
	if got["ClientField1"] != "お客様番号１２３" || got["ClientField2"] != "plain" || got["ClientField3"] != "" {
		t.Fatalf("decoded echo: %q", got)
	}
	if _, present := got["ClientField3"]; !present {
		t.Fatal("empty keys must be present")
	}
	sr := h.call("SearchTrade", "ShopID", testShopID, "ShopPass", testShopPass, "OrderID", "sjis-1")
	if ParseResponse(sr.raw)["ClientField1"] != "お客様番号１２３" {
		t.Fatalf("SearchTrade: %s", sr.text())
	}
	// gmopg sends non-ASCII raw, as UTF-8: taken as is.
	id2, pass2 := h.entry("sjis-2", "AUTH", "1000")
	h.ok(h.exec("sjis-2", id2, pass2, TokenSuccess, "ClientField1", "日本", "ClientFieldFlag", "1"))
	if lo := h.search("sjis-2"); lo["Status"] != StatusAuth {
		t.Fatal(lo)
	}
	if sr := h.call("SearchTrade", "ShopID", testShopID, "ShopPass", testShopPass, "OrderID", "sjis-2"); ParseResponse(sr.raw)["ClientField1"] != "日本" {
		t.Fatalf("SearchTrade: %s", sr.text())
	}
}

func TestMethodAndHeaders(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/payment/EntryTran.idPass", nil)
	h.fails(h.do(req), infoBadMethod)
	h.fails(h.send("EntryTran", "", "Content-Type", "application/json"), infoBadContentType)
	h.fails(h.send("EntryTran", "", "Accept", "application/json"), infoBadAccept)
	h.fails(h.send("EntryTran", "", "Accept", "text/plain"), infoNoShopID, infoNoShopPass, infoNoOrderID, infoNoJobCd, infoNoAmount)
	h.entry("hdr-1", "AUTH", "100") // gmopg's Accept: application/json, text/plain, */*
	req, _ = http.NewRequest(http.MethodPost, h.srv.URL+"/payment/Nope.idPass", strings.NewReader(""))
	if r := h.do(req); r.status != http.StatusNotFound {
		t.Fatalf("unknown call: %d", r.status)
	}
}
