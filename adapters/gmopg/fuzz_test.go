package gmopg

import (
	"strings"
	"testing"
)

// FuzzParseResponse feeds arbitrary GMO bodies (raw Windows-31J bytes) through the decoder,
// the parser of every call and the error classification. Whatever arrives nothing panics,
// every parsed key is one the call knows, and a body with an ErrCode never reads as a
// success of ExecTran.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte("ACS=0&OrderID=01JDABCDEFGHJKMNPQRSTVWXYZ1&Forward=2a99662&Method=1&PayTimes=&Approve=6416276&TranID=1303011202111111111111198895&TranDate=20130301120312&CheckString=0123456789abcdef0123456789abcdef"))
	f.Add([]byte("ACS=2&RedirectUrl=https://pt01.mul-pay.jp/tds2/callback?transId=abc&t=def"))
	f.Add([]byte("ErrCode=E01|E01|E01&ErrInfo=E01090008|E01100008|E01110002"))
	f.Add([]byte("OrderID=x&Status=CAPTURE&ClientField1=\x83e\x83X\x83g&Amount=100"))
	f.Add([]byte("AccessID=&AccessPass="))
	f.Add([]byte("&&==&=&ErrCode=|&ErrInfo=||"))
	f.Fuzz(func(t *testing.T, body []byte) {
		text, err := decodeBody(body)
		if err != nil {
			return
		}
		for name, known := range responseKeys {
			r := parseResponse(text, known)
			for k := range r.Fields {
				if !known[k] {
					t.Fatalf("%s: parsed unknown key %q", name, k)
				}
			}
			if len(r.Errors) > maxErrors {
				t.Fatalf("%d errors", len(r.Errors))
			}
			c := classifyAll(r.Errors)
			_ = failureOf(c, r.Errors)
			_ = codeOf(r.Errors)
			if strings.TrimSpace(r.get("ErrCode")) != "" && len(r.Errors) == 0 {
				t.Fatalf("%s: ErrCode %q read as no error", name, r.get("ErrCode"))
			}
		}
		a := &Adapter{cfg: Config{ShopPass: "p"}}
		r := reply{resp: parseResponse(text, responseKeys[callExecTran])}
		if len(r.resp.Errors) > 0 && r.ok() {
			t.Fatal("an answer with errors reads as ok")
		}
		if a.checkString(r.resp.Fields) && r.resp.get("CheckString") == "" {
			t.Fatal("an empty CheckString verified")
		}
		_, _ = parseSecret(text)
		_ = trade{CardNo: text, Expire: text}.card()
	})
}
