package nanaco

import (
	"testing"
)

// The test vector of docs/partners/nanaco.md §B2.
const (
	vecSecret       = "ncs-demo-secret-0001"
	vecPath         = "/ncs/v1/payments"
	vecMerchant     = "M0001"
	vecTerminal     = "T0001"
	vecTimestamp    = "2026-11-28T10:15:30+09:00"
	vecNonce        = "n-0001"
	vecBody         = `{"terminalSeq":1,"businessDate":"20261128","nanacoNumber":"7000000000000001","amount":500,"pointEligibleAmount":463}`
	vecBodyHash     = "ced2daeb1f3a9e41095468381051523d83d811b6e26a243c81d4442c60ff5b9b"
	vecSignature    = "v1=2iWj2tlyUYGW/UdEil7y+OBmjk03D3OiShVxdGwQOLA="
	vecRespTime     = "2026-11-28T10:15:31+09:00"
	vecRespBody     = `{"centerTxnId":"NC000000000000000001","status":"APPROVED","amount":500,"balanceBefore":10000,"balanceAfter":9500,"pointsAwarded":2}`
	vecRespBodyHash = "64ae275ff68dea046fc217b9b5c49b8adf7de8b1fdf838b0281910cedde23e72"
	vecRespSig      = "v1=cvwKTbaVv8G5woXkbYj2NMF/gx7OICCnO0Qi0tDO7h4="
)

func TestSignRequestVector(t *testing.T) {
	if got := bodyHash([]byte(vecBody)); got != vecBodyHash {
		t.Fatalf("body SHA-256 %s, want %s", got, vecBodyHash)
	}
	got := SignRequest(vecSecret, "POST", vecPath, vecMerchant, vecTerminal, vecTimestamp, vecNonce, []byte(vecBody))
	if got != vecSignature {
		t.Fatalf("NCS-Signature %s, want %s", got, vecSignature)
	}
}

func TestSignResponseVector(t *testing.T) {
	if got := bodyHash([]byte(vecRespBody)); got != vecRespBodyHash {
		t.Fatalf("response body SHA-256 %s, want %s", got, vecRespBodyHash)
	}
	if got := SignResponse(vecSecret, 200, vecPath, vecRespTime, vecNonce, []byte(vecRespBody)); got != vecRespSig {
		t.Fatalf("response NCS-Signature %s, want %s", got, vecRespSig)
	}
	if !VerifyResponse(vecSecret, 200, vecPath, vecRespTime, vecNonce, []byte(vecRespBody), vecRespSig) {
		t.Fatal("the documented response does not verify")
	}
}

func TestVerifyResponseRefuses(t *testing.T) {
	body := []byte(vecRespBody)
	for name, c := range map[string]struct {
		status               int
		path, ts, nonce, sig string
		body                 []byte
	}{
		"tampered body":   {200, vecPath, vecRespTime, vecNonce, vecRespSig, []byte(`{"centerTxnId":"NC000000000000000001","status":"APPROVED","amount":5000,"balanceBefore":10000,"balanceAfter":9500,"pointsAwarded":2}`)},
		"truncated body":  {200, vecPath, vecRespTime, vecNonce, vecRespSig, body[:len(body)-10]},
		"other status":    {201, vecPath, vecRespTime, vecNonce, vecRespSig, body},
		"other path":      {200, "/ncs/v1/refunds", vecRespTime, vecNonce, vecRespSig, body},
		"other timestamp": {200, vecPath, "2026-11-28T10:15:32+09:00", vecNonce, vecRespSig, body},
		"other nonce":     {200, vecPath, vecRespTime, "n-0002", vecRespSig, body},
		"missing":         {200, vecPath, vecRespTime, vecNonce, "", body},
		"no timestamp":    {200, vecPath, "", vecNonce, vecRespSig, body},
		"other secret":    {200, vecPath, vecRespTime, vecNonce, SignResponse("other", 200, vecPath, vecRespTime, vecNonce, body), body},
		"bare base64":     {200, vecPath, vecRespTime, vecNonce, vecRespSig[len("v1="):], body},
	} {
		if VerifyResponse(vecSecret, c.status, c.path, c.ts, c.nonce, c.body, c.sig) {
			t.Errorf("%s: verified", name)
		}
	}
}
