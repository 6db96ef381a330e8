package paypay

import (
	"errors"
	"testing"

	"payhub/contracts"
)

// FuzzVerifyLinkResponse: any string is refused with ErrLinkTokenInvalid or verified; never a
// panic, and nothing unsigned by the key is ever accepted.
func FuzzVerifyLinkResponse(f *testing.F) {
	a, err := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: testKey, APISecret: testSecret, MerchantID: testMerchant})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(makeTokenRaw(hs256, []byte(`{"iss":"paypay.ne.jp","aud":"merchant-1","exp":1e10,"result":"declined","nonce":"n","referenceId":"r"}`), decodeSecret(testSecret)))
	f.Fuzz(func(t *testing.T, token string) {
		res, err := a.VerifyLinkResponse(token, testNow)
		if err != nil {
			if !errors.Is(err, contracts.ErrLinkTokenInvalid) {
				t.Fatalf("error %v does not wrap ErrLinkTokenInvalid", err)
			}
			return
		}
		if res.Nonce == "" || res.ReferenceID == "" || res.Result == "" {
			t.Fatalf("accepted a token without required claims: %+v", res)
		}
	})
}
