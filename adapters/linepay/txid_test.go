package linepay

import (
	"encoding/json"
	"strconv"
	"testing"
)

// bigTx is above 2^53: a float64 would turn it into …709504 (§7.1).
const bigTx = "2021121600698709519"

func TestTxIDStaysExact(t *testing.T) {
	for _, raw := range []string{
		`{"transactionId":2021121600698709519}`,
		`{"transactionId":"2021121600698709519"}`,
		`{"transactionId": 2021121600698709519 }`,
	} {
		var v struct {
			TransactionID TxID `json:"transactionId"`
		}
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if v.TransactionID.String() != bigTx {
			t.Errorf("%s: got %q, want %q", raw, v.TransactionID, bigTx)
		}
		out, err := json.Marshal(v)
		if err != nil || string(out) != `{"transactionId":2021121600698709519}` {
			t.Errorf("marshal: %s %v", out, err)
		}
	}
	var f float64
	_ = json.Unmarshal([]byte(bigTx), &f)
	if strconv.FormatFloat(f, 'f', 0, 64) == bigTx {
		t.Fatal("test premise: float64 should round the id")
	}
}

func TestTxIDRejects(t *testing.T) {
	for _, raw := range []string{
		`20211216006987095190`, `"20211216006987095190"`, `-1`, `1.5`, `1e3`, `"12a"`, `""`, `"0123"`,
		`true`, `{}`, `[]`, `"2021121600698709519 "`, `"+1"`, `0`,
	} {
		var id TxID
		if err := json.Unmarshal([]byte(raw), &id); err == nil {
			t.Errorf("%s accepted as %q", raw, id)
		}
	}
	var id TxID
	if err := json.Unmarshal([]byte(`null`), &id); err != nil || !id.IsZero() {
		t.Errorf("null: %q %v", id, err)
	}
	if _, err := ParseTxID("1"); err != nil {
		t.Errorf("ParseTxID(1): %v", err)
	}
	if _, err := ParseTxID(""); err == nil {
		t.Error("ParseTxID accepted an empty id")
	}
}

func TestTxIDThroughEnvelope(t *testing.T) {
	body := []byte(`{"returnCode":"0000","returnMessage":"Success.","info":{"transactionId":2021121600698709519,` +
		`"orderId":"o-1","payInfo":[{"method":"BALANCE","amount":100}]}}`)
	env, err := parseEnvelope(body)
	if err != nil {
		t.Fatal(err)
	}
	var info paymentInfo
	if err := env.decodeInfo(&info); err != nil || info.TransactionID.String() != bigTx {
		t.Fatalf("id %q, err %v", info.TransactionID, err)
	}
}
