package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	simcore "payhub/mocks/sim"
)

// Every log line of a request's work carries its request id: the router's access line, the
// engine's lines and the partner adapter's call lines. A support engineer given a till's
// X-Request-Id finds the whole story.
func TestRequestLogLinesCarryTheRequestID(t *testing.T) {
	e := newEnv(t, nil)
	id := e.pay(e.a, barcodePayment(1000, barcodeOK)).json(t)["id"].(string)
	// The refund's answer is lost, so the engine has something to say too.
	if err := e.faults.Set([]simcore.FaultRule{{Method: "POST", PathPrefix: "/v2/refunds", Probability: 1, Count: 1,
		Fault: simcore.Fault{Kind: simcore.FaultCommitThenDrop}}}); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{"amount": 300})
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/payments/"+id+"/refunds", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token(e.a))
	req.Header.Set("Idempotency-Key", newKey())
	req.Header.Set("X-Request-Id", "req-trace-0001")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("refund: %d", resp.StatusCode)
	}
	layers := map[string]bool{}
	for _, line := range strings.Split(e.logs.String(), "\n") {
		var l struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
			Partner   string `json:"partner"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.RequestID != "req-trace-0001" {
			continue
		}
		switch {
		case l.Msg == "http request":
			layers["router"] = true
		case l.Msg == "partner call" && l.Partner == "paypay":
			layers["adapter"] = true
		case l.Msg == "refund outcome unknown":
			layers["engine"] = true
		}
	}
	for _, layer := range []string{"router", "engine", "adapter"} {
		if !layers[layer] {
			t.Errorf("no %s log line carries the request id:\n%s", layer, e.logs.String())
		}
	}
}
