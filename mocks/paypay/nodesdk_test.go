package paypay

import (
	"context"
	"net"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"payhub/tests/npmcheck"
)

// sdkCheckDir is tests/npm/paypay-sdk, relative to this package.
const sdkCheckDir = "../../tests/npm/paypay-sdk"

// TestOfficialNodeSDK runs the official PayPay Node SDK (tests/npm/paypay-sdk/check.js)
// against the simulator in strict signature mode: QR create → pay via /_sim →
// getCodePaymentDetails, createPayment → getPaymentDetails → paymentRefund →
// getRefundDetails, then the account link (accountLinkQRCodeCreate → approve via /_sim →
// validateJWT → getUserAuthorizationStatus → createPayment with the new user), cashback
// (cashBack → getCashBackDetails → reverseCashBack → getReverseCashBackDetails) and
// unlinkUser. It needs node and npm (and the npm registry); without them it skips,
// except under CI=true where it fails (npmcheck.Install).
func TestOfficialNodeSDK(t *testing.T) {
	s := New(Config{APIKey: "sdk-check-key", APISecret: "sdk-check-secret", MerchantID: "sdk-check-merchant"})
	srv := httptest.NewUnstartedServer(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	dir := npmcheck.Install(t, sdkCheckDir, "package.json", "package-lock.json", "check.js")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := npmcheck.Run(t, ctx, dir, []string{
		"PAYHUB_PAYPAY_API_KEY=sdk-check-key",
		"PAYHUB_PAYPAY_API_SECRET=sdk-check-secret",
		"PAYHUB_PAYPAY_MERCHANT_ID=sdk-check-merchant",
	}, nil, "node", "check.js", "127.0.0.1", port)
	t.Logf("check.js:\n%s", out)

	var result struct {
		QRMerchantPaymentID string `json:"qrMerchantPaymentId"`
		MerchantPaymentID   string `json:"merchantPaymentId"`
		PaymentID           string `json:"paymentId"`
		MerchantRefundID    string `json:"merchantRefundId"`
		UserAuthorizationID string `json:"userAuthorizationId"`
		LinkedPaymentID     string `json:"linkedMerchantPaymentId"`
		CashbackID          string `json:"merchantCashbackId"`
		CashbackReversalID  string `json:"merchantCashbackReversalId"`
	}
	npmcheck.Result(t, out, &result)

	qr, ok := s.Payment(result.QRMerchantPaymentID)
	if !ok || qr.Kind != KindQR || qr.Status != StatusCompleted || qr.Amount != 1200 {
		t.Fatalf("QR payment in the ledger: %+v (found %v)", qr, ok)
	}
	p, ok := s.Payment(result.MerchantPaymentID)
	if !ok || p.Kind != KindLinkedUser || p.PaymentID != result.PaymentID || p.Amount != 800 || p.Status != StatusRefunded {
		t.Fatalf("linked-user payment in the ledger: %+v (found %v)", p, ok)
	}
	if len(p.Refunds) != 1 || p.Refunds[0].MerchantRefundID != result.MerchantRefundID || p.Refunds[0].Amount != 300 {
		t.Fatalf("refunds in the ledger: %+v", p.Refunds)
	}
	lp, ok := s.Payment(result.LinkedPaymentID)
	if !ok || lp.UserAuthorizationID != result.UserAuthorizationID || lp.Status != StatusCompleted || lp.Amount != 450 {
		t.Fatalf("payment of the linked user in the ledger: %+v (found %v)", lp, ok)
	}
	acct := s.CashbackAccount(result.UserAuthorizationID)
	if acct.Received != 2000 || acct.Reversed != 500 || acct.Balance != 1500 || len(acct.Cashbacks) != 1 ||
		acct.Cashbacks[0].MerchantCashbackID != result.CashbackID ||
		len(acct.Cashbacks[0].Reversals) != 1 || acct.Cashbacks[0].Reversals[0].MerchantCashbackReversalID != result.CashbackReversalID {
		t.Fatalf("cashback ledger: %+v", acct)
	}
	if ua, ok := s.UserAuthorization(result.UserAuthorizationID); !ok || ua.Status != AuthorizationInactive {
		t.Fatalf("user authorization after unlinkUser: %+v (found %v)", ua, ok)
	}
}
