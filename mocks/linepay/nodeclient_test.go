package linepay

import (
	"context"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"payhub/tests/npmcheck"
)

// nodeCheckDir is tests/npm/line-pay-merchant, relative to this package.
const nodeCheckDir = "../../tests/npm/line-pay-merchant"

// TestLinePayMerchantNodeClient runs line-pay-merchant 0.9.0
// (tests/npm/line-pay-merchant/check.js) against the simulator with strict nonces:
// request → approve via /_sim → checkPaymentStatus → confirm → partial refund →
// paymentDetails. It needs node and npm (and the npm registry); without them it skips,
// except under CI=true where it fails (npmcheck.Install).
func TestLinePayMerchantNodeClient(t *testing.T) {
	const id, secret = "1659999999", "npm-check-channel-secret"
	s := New(Config{ChannelID: id, ChannelSecret: secret, StrictNonce: true})
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
		"PAYHUB_LINEPAY_CHANNEL_ID=" + id,
		"PAYHUB_LINEPAY_CHANNEL_SECRET=" + secret,
	}, nil, "node", "check.js", "127.0.0.1", port)
	t.Logf("check.js:\n%s", out)

	for _, step := range []string{"request", "approve", "checkPaymentStatus", "confirm", "refund", "paymentDetails"} {
		if !strings.Contains(out, "ok "+step) {
			t.Errorf("check.js did not report ok %s", step)
		}
	}
	var result struct {
		OrderID             string `json:"orderId"`
		TransactionID       string `json:"transactionId"`
		RefundTransactionID string `json:"refundTransactionId"`
	}
	npmcheck.Result(t, out, &result)

	p, ok := s.Payment(result.OrderID)
	if !ok || p.TransactionID != result.TransactionID || p.Kind != KindOnline || p.Status != StatusCaptured ||
		p.Amount != "1000" || p.Captured != "1000" || p.Refunded != "300" {
		t.Fatalf("payment in the ledger: %+v (found %v), check.js saw transactionId %s", p, ok, result.TransactionID)
	}
	if len(p.Refunds) != 1 || p.Refunds[0].RefundTransactionID != result.RefundTransactionID || p.Refunds[0].Amount != "300" {
		t.Fatalf("refunds in the ledger: %+v", p.Refunds)
	}
}
