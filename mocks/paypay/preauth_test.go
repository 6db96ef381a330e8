package paypay

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// preauthPath is POST /v2/payments/preauthorize with the similar-payment guard waived.
const preauthPath = "/v2/payments/preauthorize?agreeSimilarTransaction=true"

// captureBody is a POST /v2/payments/capture body.
func (h *harness) captureBody(mpid, mcid string, amount int64) map[string]any {
	return map[string]any{
		"merchantPaymentId": mpid, "merchantCaptureId": mcid, "amount": amountOf(amount),
		"requestedAt": h.clock.Now().Unix(), "orderDescription": "shipped",
	}
}

// revertBody is a POST /v2/payments/preauthorize/revert body.
func (h *harness) revertBody(mrvid, paymentID string) map[string]any {
	return map[string]any{
		"merchantRevertId": mrvid, "paymentId": paymentID, "requestedAt": h.clock.Now().Unix(),
		"reason": "order canceled",
	}
}

// preauth authorizes amount for user-ok and returns PayPay's paymentId.
func (h *harness) preauth(mpid string, amount int64) string {
	h.t.Helper()
	res := h.call(http.MethodPost, preauthPath, h.payBody(mpid, UserOK, amount))
	expect(h.t, res, http.StatusCreated, "SUCCESS")
	return res.dataMap(h.t)["paymentId"].(string)
}

// ledger reads one ledger entry, failing when it is missing.
func (h *harness) ledger(mpid string) LedgerPayment {
	h.t.Helper()
	lp, ok := h.sim.Payment(mpid)
	if !ok {
		h.t.Fatalf("%s is not in the ledger", mpid)
	}
	return lp
}

func TestPreauthorizeFixtures(t *testing.T) {
	cases := []struct {
		credential string
		status     int
		code       string
	}{
		{UserOK, http.StatusCreated, "SUCCESS"},
		{UserNoFunds, http.StatusBadRequest, "NO_SUFFICIENT_FUND"},
		{UserInactive, http.StatusUnauthorized, "USER_STATE_IS_NOT_ACTIVE"},
		{UserExpired, http.StatusUnauthorized, "EXPIRED_USER_AUTHORIZATION_ID"},
		{"user-nobody", http.StatusUnauthorized, "INVALID_USER_AUTHORIZATION_ID"},
		{BarcodeOK, http.StatusCreated, "SUCCESS"},
		{BarcodeNoFunds, http.StatusBadRequest, "NO_SUFFICIENT_FUND"},
		{BarcodeExpired, http.StatusBadRequest, "EXPIRED_AUTHORIZATION_CODE"},
		{BarcodeInvalid, http.StatusBadRequest, "INVALID_AUTHORIZATION_CODE"},
	}
	for _, tc := range cases {
		t.Run(tc.credential, func(t *testing.T) {
			h := newHarness(t)
			res := h.call(http.MethodPost, "/v2/payments/preauthorize?agreeSimilarTransaction=false", h.payBody("mp-a", tc.credential, 900))
			expect(t, res, tc.status, tc.code)
			if tc.status != http.StatusCreated {
				if _, ok := h.sim.Payment("mp-a"); ok {
					t.Fatal("a refused pre-authorization was recorded")
				}
				return
			}
			if strings.Contains(res.raw, BarcodeOK) {
				t.Fatalf("authorization code echoed: %s", res.raw)
			}
			d := res.dataMap(t)
			expiry := testStart.Add(DefaultAuthorizationLifetime).Unix()
			if d["status"] != StatusAuthorized || d["paymentId"] == "" || d["authorizedAt"] != float64(testStart.Unix()) ||
				d["expiresAt"] != float64(expiry) || d["amount"].(map[string]any)["amount"] != float64(900) {
				t.Fatalf("authorization %s", res.raw)
			}
			if h.status("mp-a") != StatusAuthorized {
				t.Fatal("not readable as AUTHORIZED")
			}
			lp := h.ledger("mp-a")
			if !lp.PreAuthorization || lp.Status != StatusAuthorized || lp.Amount != 900 || lp.Captured != 0 ||
				lp.UserAuthorizationID != UserOK || lp.AuthorizationExpiresAt.Unix() != expiry {
				t.Fatalf("ledger %+v", lp)
			}
		})
	}
}

func TestPreauthorizeRules(t *testing.T) {
	h := newHarness(t)
	h.preauth("mp-1", 500)
	// The merchantPaymentId is spent, for either kind of create.
	expect(t, h.call(http.MethodPost, preauthPath, h.payBody("mp-1", UserOK, 500)), http.StatusBadRequest, "INVALID_PARAMS")
	expect(t, h.call(http.MethodPost, "/v2/payments?agreeSimilarTransaction=true", h.payBody("mp-1", UserOK, 500)), http.StatusBadRequest, "INVALID_PARAMS")
	// A pre-authorization counts for the similar-payment guard, and is guarded itself.
	expect(t, h.call(http.MethodPost, "/v2/payments/preauthorize", h.payBody("mp-2", UserOK, 500)), http.StatusBadRequest, "SUSPECTED_DUPLICATE_PAYMENT")
	expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-2", UserOK, 500)), http.StatusBadRequest, "SUSPECTED_DUPLICATE_PAYMENT")

	both := h.payBody("mp-3", UserOK, 100)
	both["authorizationCode"] = BarcodeOK
	expect(t, h.call(http.MethodPost, preauthPath, both), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
	expect(t, h.call(http.MethodPost, "/v2/payments/preauthorize?agreeSimilarTransaction=maybe", h.payBody("mp-3", UserOK, 100)), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")

	// expiresAt sets the authorization's expiry; it must lie in the future.
	past := h.payBody("mp-3", UserOK, 100)
	past["expiresAt"] = testStart.Unix()
	expect(t, h.call(http.MethodPost, preauthPath, past), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
	explicit := h.payBody("mp-3", UserOK, 100)
	explicit["expiresAt"] = testStart.Add(time.Hour).Unix()
	res := h.call(http.MethodPost, preauthPath, explicit)
	expect(t, res, http.StatusCreated, "SUCCESS")
	if res.dataMap(t)["expiresAt"] != float64(testStart.Add(time.Hour).Unix()) {
		t.Fatalf("explicit expiry not kept: %s", res.raw)
	}

	// An issued barcode is consumed by the authorization.
	code := h.sim.IssueBarcode(UserOK)
	expect(t, h.call(http.MethodPost, preauthPath, h.payBody("mp-4", code, 100)), http.StatusCreated, "SUCCESS")
	expect(t, h.call(http.MethodPost, preauthPath, h.payBody("mp-5", code, 100)), http.StatusBadRequest, "INVALID_AUTHORIZATION_CODE")
	if lp := h.ledger("mp-4"); lp.Kind != KindBarcode || !lp.PreAuthorization {
		t.Fatalf("ledger %+v", lp)
	}
}

func TestQRPreAuthorization(t *testing.T) {
	h := newHarness(t)
	body := h.qrBody("mp-qr", 1500)
	body["isAuthorization"] = true
	res := h.call(http.MethodPost, "/v2/codes", body)
	expect(t, res, http.StatusCreated, "SUCCESS")
	d := res.dataMap(t)
	if d["isAuthorization"] != true {
		t.Fatalf("code %s", res.raw)
	}
	h.clock.Advance(time.Minute)
	status, lp := h.control(http.MethodPost, "/_sim/codes/"+d["codeId"].(string)+"/pay", nil)
	if status != http.StatusOK || lp["status"] != StatusAuthorized || lp["captured"] != float64(0) {
		t.Fatalf("/_sim pay: %d %v", status, lp)
	}
	// Without authorizationExpiry the lifetime starts when the customer pays.
	res = h.call(http.MethodGet, "/v2/codes/payments/mp-qr", nil)
	expect(t, res, http.StatusOK, "SUCCESS")
	paidAt := testStart.Add(time.Minute)
	if d := res.dataMap(t); d["status"] != StatusAuthorized || d["acceptedAt"] != float64(paidAt.Unix()) ||
		d["expiresAt"] != float64(paidAt.Add(DefaultAuthorizationLifetime).Unix()) {
		t.Fatalf("authorized QR %s", res.raw)
	}

	// authorizationExpiry is echoed and kept; paying by merchantPaymentId authorizes too.
	expiry := testStart.Add(2 * time.Hour).Unix()
	body = h.qrBody("mp-qr2", 800)
	body["isAuthorization"] = true
	body["authorizationExpiry"] = expiry
	res = h.call(http.MethodPost, "/v2/codes", body)
	expect(t, res, http.StatusCreated, "SUCCESS")
	if res.dataMap(t)["authorizationExpiry"] != float64(expiry) {
		t.Fatalf("code %s", res.raw)
	}
	if status, lp := h.control(http.MethodPost, "/_sim/payments/mp-qr2/pay", nil); status != http.StatusOK || lp["status"] != StatusAuthorized {
		t.Fatalf("/_sim pay: %d %v", status, lp)
	}
	if lp := h.ledger("mp-qr2"); lp.AuthorizationExpiresAt.Unix() != expiry || lp.Kind != KindQR {
		t.Fatalf("ledger %+v", lp)
	}

	// PayQR, and a user whose fixture refuses.
	body = h.qrBody("mp-qr3", 300)
	body["isAuthorization"] = true
	expect(t, h.call(http.MethodPost, "/v2/codes", body), http.StatusCreated, "SUCCESS")
	if err := h.sim.PayQR("mp-qr3", UserNoFunds); err != nil {
		t.Fatal(err)
	}
	if got := h.status("mp-qr3"); got != StatusFailed {
		t.Fatalf("refused user: %s", got)
	}

	// Bad combinations.
	body = h.qrBody("mp-bad", 300)
	body["authorizationExpiry"] = expiry
	expect(t, h.call(http.MethodPost, "/v2/codes", body), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
	body["isAuthorization"] = true
	body["authorizationExpiry"] = h.clock.Now().Unix()
	expect(t, h.call(http.MethodPost, "/v2/codes", body), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
	if _, ok := h.sim.Payment("mp-bad"); ok {
		t.Fatal("a refused QR was recorded")
	}

	// A plain QR still completes when paid.
	expect(t, h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-plain", 100)), http.StatusCreated, "SUCCESS")
	if err := h.sim.PayQR("mp-plain", ""); err != nil || h.status("mp-plain") != StatusCompleted {
		t.Fatalf("plain QR: %v", err)
	}
}

func TestCaptureLowerAmount(t *testing.T) {
	h := newHarness(t)
	pid := h.preauth("mp-1", 1000)
	h.clock.Advance(time.Hour)
	res := h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-1", "cap-1", 600))
	expect(t, res, http.StatusOK, "SUCCESS")
	d := res.dataMap(t)
	captures := d["captures"].(map[string]any)["data"].([]any)
	if d["status"] != StatusCompleted || d["paymentId"] != pid || len(captures) != 1 {
		t.Fatalf("capture answer %s", res.raw)
	}
	c := captures[0].(map[string]any)
	capturedAt := testStart.Add(time.Hour)
	if c["merchantCaptureId"] != "cap-1" || c["amount"].(map[string]any)["amount"] != float64(600) ||
		c["status"] != CaptureCompleted || c["acceptedAt"] != float64(capturedAt.Unix()) || c["orderDescription"] != "shipped" {
		t.Fatalf("capture entry %v", c)
	}
	if m := d["paymentMethods"].([]any)[0].(map[string]any); m["amount"].(map[string]any)["amount"] != float64(600) {
		t.Fatalf("paymentMethods %s", res.raw)
	}
	lp := h.ledger("mp-1")
	if lp.Status != StatusCompleted || lp.Amount != 1000 || lp.Captured != 600 || len(lp.Captures) != 1 ||
		lp.Captures[0].Amount != 600 || !lp.Captures[0].AcceptedAt.Equal(capturedAt) {
		t.Fatalf("ledger %+v", lp)
	}

	// Refunds are bounded by the captured amount, not the authorized one.
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-1", pid, 601)), http.StatusBadRequest, "INVALID_PARAMS")
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-1", pid, 400)), http.StatusOK, "SUCCESS")
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-2", pid, 201)), http.StatusBadRequest, "INVALID_PARAMS")
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-2", pid, 200)), http.StatusOK, "SUCCESS")
	lp = h.ledger("mp-1")
	if lp.Status != StatusRefunded || lp.Captured != 600 || lp.Refunded != 600 {
		t.Fatalf("ledger after refunds %+v", lp)
	}
	// A captured pre-authorization is not canceled, and cannot be captured again.
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-1", nil), http.StatusBadRequest, "ORDER_NOT_REVERSIBLE")
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-1", "cap-2", 100)), http.StatusBadRequest, "ALREADY_CAPTURED")
}

func TestCaptureFullAndRefundWindowFromCapture(t *testing.T) {
	h := newHarness(t)
	pid := h.preauth("mp-1", 700)
	// Captured two days after authorization: the refund window counts from the capture.
	h.clock.Set(time.Date(2026, 3, 12, 10, 0, 0, 0, jst))
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-1", "cap-1", 700)), http.StatusOK, "SUCCESS")
	if lp := h.ledger("mp-1"); lp.Captured != 700 || lp.Amount != 700 {
		t.Fatalf("ledger %+v", lp)
	}
	h.clock.Set(time.Date(2027, 3, 12, 23, 59, 59, 0, jst))
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-1", pid, 100)), http.StatusOK, "SUCCESS")
	h.clock.Set(time.Date(2027, 3, 13, 0, 0, 0, 0, jst))
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-2", pid, 100)), http.StatusBadRequest, "REFUND_WINDOW_EXCEED")
}

func TestCaptureReplay(t *testing.T) {
	h := newHarness(t)
	pid := h.preauth("mp-1", 1000)
	h.preauth("mp-2", 2000)
	first := h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-1", "cap-1", 900))
	expect(t, first, http.StatusOK, "SUCCESS")
	// Later changes (a refund, another clock reading, another amount) do not alter the replay.
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-1", pid, 100)), http.StatusOK, "SUCCESS")
	h.clock.Advance(time.Minute)
	again := h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-1", "cap-1", 500))
	expect(t, again, http.StatusOK, "SUCCESS")
	if string(again.Data) != string(first.Data) {
		t.Fatalf("replay differs:\n%s\n%s", first.Data, again.Data)
	}
	if lp := h.ledger("mp-1"); lp.Captured != 900 || len(lp.Captures) != 1 || lp.Refunded != 100 {
		t.Fatalf("replay captured again: %+v", lp)
	}
	// The capture id belongs to mp-1.
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-2", "cap-1", 100)), http.StatusBadRequest, "INVALID_PARAMS")
	if got := h.status("mp-2"); got != StatusAuthorized {
		t.Fatalf("mp-2 %s", got)
	}
}

func TestCaptureRefusals(t *testing.T) {
	h := newHarness(t)
	h.preauth("mp-1", 1000)

	res := h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-1", "cap-1", 1001))
	expect(t, res, http.StatusBadRequest, "HIGHER_CAPTURE_NOT_PERMITTED")
	if lp := h.ledger("mp-1"); lp.Status != StatusAuthorized || lp.Captured != 0 {
		t.Fatalf("refused capture moved money: %+v", lp)
	}
	// The refused capture reserved nothing: its id captures afterwards.
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-1", "cap-1", 1000)), http.StatusOK, "SUCCESS")
	// Captured within the ordinary cancel window, it is still refunded, not canceled.
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-1", nil), http.StatusBadRequest, "ORDER_NOT_REVERSIBLE")
	if got := h.status("mp-1"); got != StatusCompleted {
		t.Fatalf("captured payment after cancel: %s", got)
	}

	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-none", "cap-2", 1)), http.StatusNotFound, "RESOURCE_NOT_FOUND")
	h.pay("mp-plain", 300)
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-plain", "cap-3", 300)), http.StatusBadRequest, "ORDER_NOT_CAPTURABLE")
	body := h.qrBody("mp-qr", 300)
	body["isAuthorization"] = true
	expect(t, h.call(http.MethodPost, "/v2/codes", body), http.StatusCreated, "SUCCESS")
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-qr", "cap-4", 300)), http.StatusBadRequest, "ORDER_NOT_CAPTURABLE")

	for _, field := range []string{"merchantPaymentId", "merchantCaptureId", "amount", "requestedAt", "orderDescription"} {
		t.Run("missing "+field, func(t *testing.T) {
			b := h.captureBody("mp-qr", "cap-5", 300)
			delete(b, field)
			expect(t, h.call(http.MethodPost, "/v2/payments/capture", b), http.StatusBadRequest, "MISSING_REQUEST_PARAMS")
		})
	}
	bad := h.captureBody("mp-qr", "cap 5", 300)
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", bad), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
	// GET on the capture path reads a payment called "capture", which does not exist.
	expect(t, h.call(http.MethodGet, "/v2/payments/capture", nil), http.StatusNotFound, "RESOURCE_NOT_FOUND")
}

func TestAuthorizationExpiry(t *testing.T) {
	h := newHarness(t)
	pid := h.preauth("mp-1", 1000)
	expiry := testStart.Add(DefaultAuthorizationLifetime)

	h.clock.Set(expiry.Add(-time.Second))
	if got := h.status("mp-1"); got != StatusAuthorized {
		t.Fatalf("a second before expiry: %s", got)
	}
	h.clock.Set(expiry)
	// The ledger sees the expiry without any API read first.
	if lp := h.sim.Payments()[0]; lp.Status != StatusExpired || lp.Captured != 0 {
		t.Fatalf("ledger at expiry %+v", lp)
	}
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-1", "cap-1", 1000)), http.StatusBadRequest, "ORDER_EXPIRED")
	if got := h.status("mp-1"); got != StatusExpired {
		t.Fatalf("after expiry: %s", got)
	}
	expect(t, h.call(http.MethodPost, "/v2/payments/preauthorize/revert", h.revertBody("rv-1", pid)), http.StatusBadRequest, "ORDER_NOT_CANCELABLE")
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-1", nil), http.StatusBadRequest, "ORDER_NOT_REVERSIBLE")
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-1", pid, 1)), http.StatusBadRequest, "UNACCEPTABLE_OP")

	// A capture straight after expiry, with no read in between, also finds it expired.
	h2 := newHarness(t, func(c *Config) { c.AuthorizationLifetime = time.Hour })
	h2.preauth("mp-2", 500)
	h2.clock.Advance(time.Hour)
	expect(t, h2.call(http.MethodPost, "/v2/payments/capture", h2.captureBody("mp-2", "cap-2", 500)), http.StatusBadRequest, "ORDER_EXPIRED")
	if lp := h2.ledger("mp-2"); lp.Status != StatusExpired {
		t.Fatalf("ledger %+v", lp)
	}
}

func TestRevert(t *testing.T) {
	h := newHarness(t)
	pid := h.preauth("mp-1", 1000)
	h.clock.Advance(10 * time.Minute)
	res := h.call(http.MethodPost, "/v2/payments/preauthorize/revert", h.revertBody("rv-1", pid))
	expect(t, res, http.StatusOK, "SUCCESS")
	revertedAt := testStart.Add(10 * time.Minute).Unix()
	if d := res.dataMap(t); d["status"] != StatusCanceled || d["paymentId"] != pid || d["acceptedAt"] != float64(revertedAt) ||
		d["requestedAt"] != float64(revertedAt) || d["reason"] != "order canceled" {
		t.Fatalf("revert answer %s", res.raw)
	}
	res2 := h.call(http.MethodGet, "/v2/payments/mp-1", nil)
	if d := res2.dataMap(t); d["status"] != StatusCanceled || d["revert"].(map[string]any)["merchantRevertId"] != "rv-1" {
		t.Fatalf("reverted payment %s", res2.raw)
	}
	lp := h.ledger("mp-1")
	if lp.Status != StatusCanceled || lp.MerchantRevertID != "rv-1" || lp.RevertedAt.Unix() != revertedAt || lp.Captured != 0 || lp.Refunded != 0 {
		t.Fatalf("ledger %+v", lp)
	}

	// Repeating the revert replays it; a new revert id finds nothing to cancel.
	h.clock.Advance(time.Minute)
	again := h.call(http.MethodPost, "/v2/payments/preauthorize/revert", h.revertBody("rv-1", pid))
	expect(t, again, http.StatusOK, "SUCCESS")
	if string(again.Data) != string(res.Data) {
		t.Fatalf("replay differs:\n%s\n%s", res.Data, again.Data)
	}
	expect(t, h.call(http.MethodPost, "/v2/payments/preauthorize/revert", h.revertBody("rv-2", pid)), http.StatusBadRequest, "ORDER_NOT_CANCELABLE")
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-1", "cap-1", 1000)), http.StatusBadRequest, "ORDER_NOT_CAPTURABLE")
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-1", nil), http.StatusBadRequest, "ORDER_NOT_REVERSIBLE")

	// Another payment: the revert id is taken; an unknown or ordinary payment cannot be reverted.
	pid2 := h.preauth("mp-2", 2000)
	expect(t, h.call(http.MethodPost, "/v2/payments/preauthorize/revert", h.revertBody("rv-1", pid2)), http.StatusBadRequest, "INVALID_PARAMS")
	expect(t, h.call(http.MethodPost, "/v2/payments/preauthorize/revert", h.revertBody("rv-3", "1999")), http.StatusNotFound, "RESOURCE_NOT_FOUND")
	plain := h.pay("mp-plain", 300)
	res = h.call(http.MethodPost, "/v2/payments/preauthorize/revert", h.revertBody("rv-4", plain))
	expect(t, res, http.StatusBadRequest, "ORDER_NOT_CANCELABLE")
	if res.ResultInfo.CodeID != "00200042" {
		t.Fatalf("codeId %s", res.ResultInfo.CodeID)
	}
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-2", "cap-2", 2000)), http.StatusOK, "SUCCESS")
	expect(t, h.call(http.MethodPost, "/v2/payments/preauthorize/revert", h.revertBody("rv-5", pid2)), http.StatusBadRequest, "ORDER_NOT_CANCELABLE")

	for _, field := range []string{"merchantRevertId", "paymentId", "requestedAt"} {
		b := h.revertBody("rv-6", pid2)
		delete(b, field)
		expect(t, h.call(http.MethodPost, "/v2/payments/preauthorize/revert", b), http.StatusBadRequest, "MISSING_REQUEST_PARAMS")
	}
}

func TestCancelPreAuthorization(t *testing.T) {
	h := newHarness(t)
	pid := h.preauth("mp-1", 1000)
	// While AUTHORIZED a cancel is accepted even past the day-after cutoff of an ordinary payment.
	h.clock.Advance(72 * time.Hour)
	expect(t, h.call(http.MethodPost, "/v2/refunds", h.refundBody("rf-1", pid, 100)), http.StatusBadRequest, "UNACCEPTABLE_OP")
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-1", nil), http.StatusAccepted, "REQUEST_ACCEPTED")
	lp := h.ledger("mp-1")
	if lp.Status != StatusFailed || !lp.CancelRequested || !lp.CanceledAt.Equal(h.clock.Now()) || lp.Captured != 0 {
		t.Fatalf("ledger %+v", lp)
	}
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-1", nil), http.StatusAccepted, "REQUEST_ACCEPTED")
	expect(t, h.call(http.MethodPost, "/v2/payments/capture", h.captureBody("mp-1", "cap-1", 1000)), http.StatusBadRequest, "ORDER_NOT_CAPTURABLE")
	expect(t, h.call(http.MethodPost, "/v2/payments/preauthorize/revert", h.revertBody("rv-1", pid)), http.StatusBadRequest, "ORDER_NOT_CANCELABLE")

	// A cancel before the customer authorizes a QR applies once authorized.
	body := h.qrBody("mp-qr", 400)
	body["isAuthorization"] = true
	expect(t, h.call(http.MethodPost, "/v2/codes", body), http.StatusCreated, "SUCCESS")
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-qr", nil), http.StatusAccepted, "REQUEST_ACCEPTED")
	if err := h.sim.PayQR("mp-qr", UserOK); err != nil {
		t.Fatal(err)
	}
	if got := h.status("mp-qr"); got != StatusFailed {
		t.Fatalf("fenced QR authorization: %s", got)
	}

	// A cancel before the pre-authorization exists fences it: the answer says AUTHORIZED,
	// the next read FAILED.
	expect(t, h.call(http.MethodDelete, "/v2/payments/mp-late", nil), http.StatusAccepted, "REQUEST_ACCEPTED")
	res := h.call(http.MethodPost, preauthPath, h.payBody("mp-late", UserOK, 250))
	expect(t, res, http.StatusCreated, "SUCCESS")
	if res.dataMap(t)["status"] != StatusAuthorized || h.status("mp-late") != StatusFailed {
		t.Fatalf("fenced pre-authorization %s", res.raw)
	}
}
