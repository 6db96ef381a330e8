package paypay

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLinkedUserFixtures(t *testing.T) {
	cases := []struct {
		user   string
		status int
		code   string
	}{
		{UserOK, http.StatusCreated, "SUCCESS"},
		{UserNoFunds, http.StatusBadRequest, "NO_SUFFICIENT_FUND"},
		{UserInactive, http.StatusUnauthorized, "USER_STATE_IS_NOT_ACTIVE"},
		{UserExpired, http.StatusUnauthorized, "EXPIRED_USER_AUTHORIZATION_ID"},
		{"user-nobody", http.StatusUnauthorized, "INVALID_USER_AUTHORIZATION_ID"},
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			h := newHarness(t)
			res := h.call(http.MethodPost, "/v2/payments?agreeSimilarTransaction=false", h.payBody("mp-1", tc.user, 500))
			expect(t, res, tc.status, tc.code)
			if tc.status != http.StatusCreated {
				if _, ok := h.sim.Payment("mp-1"); ok {
					t.Fatal("a refused payment was recorded")
				}
				return
			}
			d := res.dataMap(t)
			if d["status"] != StatusCompleted || d["userAuthorizationId"] != UserOK || d["paymentId"] == "" ||
				d["acceptedAt"] != float64(testStart.Unix()) || d["amount"].(map[string]any)["amount"] != float64(500) {
				t.Fatalf("payment object %s", res.raw)
			}
			if h.status("mp-1") != StatusCompleted {
				t.Fatal("payment not readable as COMPLETED")
			}
		})
	}
}

func TestBarcodeFixtures(t *testing.T) {
	cases := []struct {
		code   string
		status int
		result string
	}{
		{BarcodeOK, http.StatusCreated, "SUCCESS"},
		{BarcodeNoFunds, http.StatusBadRequest, "NO_SUFFICIENT_FUND"},
		{BarcodeInactive, http.StatusUnauthorized, "USER_STATE_IS_NOT_ACTIVE"},
		{BarcodeExpired, http.StatusBadRequest, "EXPIRED_AUTHORIZATION_CODE"},
		{BarcodeInvalid, http.StatusBadRequest, "INVALID_AUTHORIZATION_CODE"},
		{"900081818899999999", http.StatusBadRequest, "INVALID_AUTHORIZATION_CODE"}, // right shape, never issued
		{"123456789012345678", http.StatusBadRequest, "INVALID_AUTHORIZATION_CODE"}, // wrong prefix
		{"90008181880000000", http.StatusBadRequest, "INVALID_AUTHORIZATION_CODE"},  // 17 digits
		{"9000818188000000a0", http.StatusBadRequest, "INVALID_AUTHORIZATION_CODE"}, // not digits
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			h := newHarness(t)
			res := h.call(http.MethodPost, "/v2/payments?agreeSimilarTransaction=false", h.payBody("mp-b", tc.code, 300))
			expect(t, res, tc.status, tc.result)
			if strings.Contains(res.raw, tc.code) {
				t.Fatalf("authorization code echoed: %s", res.raw)
			}
			if tc.status == http.StatusCreated {
				lp, _ := h.sim.Payment("mp-b")
				if lp.Kind != KindBarcode || lp.UserAuthorizationID != UserOK || lp.Status != StatusCompleted {
					t.Fatalf("ledger %+v", lp)
				}
				if _, has := res.dataMap(t)["userAuthorizationId"]; has {
					t.Fatalf("barcode payment names a linked user: %s", res.raw)
				}
				// Fixture barcodes are reusable.
				h.clock.Advance(24 * time.Hour)
				expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-b2", tc.code, 300)), http.StatusCreated, "SUCCESS")
			}
		})
	}
}

func TestIssuedBarcodeSingleUseAndExpiry(t *testing.T) {
	h := newHarness(t)
	code := h.sim.IssueBarcode(UserOK)
	if len(code) != 18 || !strings.HasPrefix(code, BarcodePrefix) {
		t.Fatalf("issued %q", code)
	}
	expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-1", code, 100)), http.StatusCreated, "SUCCESS")
	expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-2", code, 200)), http.StatusBadRequest, "INVALID_AUTHORIZATION_CODE")

	late := h.sim.IssueBarcode(UserOK)
	h.clock.Advance(BarcodeLifetime)
	expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-3", late, 100)), http.StatusBadRequest, "EXPIRED_AUTHORIZATION_CODE")

	// Issued through /_sim/ for a user without funds: the user's fixture decides.
	status, body := h.control(http.MethodPost, "/_sim/barcodes", map[string]string{"userAuthorizationId": UserNoFunds})
	if status != http.StatusCreated {
		t.Fatalf("/_sim/barcodes: %d %v", status, body)
	}
	expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-4", body["barcode"].(string), 100)), http.StatusBadRequest, "NO_SUFFICIENT_FUND")
}

func TestPaymentNeedsExactlyOneCredential(t *testing.T) {
	h := newHarness(t)
	both := h.payBody("mp-1", UserOK, 100)
	both["authorizationCode"] = BarcodeOK
	expect(t, h.call(http.MethodPost, "/v2/payments", both), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
	neither := h.payBody("mp-1", UserOK, 100)
	delete(neither, "userAuthorizationId")
	expect(t, h.call(http.MethodPost, "/v2/payments", neither), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
}

func TestPaymentValidation(t *testing.T) {
	h := newHarness(t)
	for name, mutate := range map[string]func(map[string]any){
		"fractional amount": func(b map[string]any) { b["amount"] = map[string]any{"amount": 1.5, "currency": "JPY"} },
		"other currency":    func(b map[string]any) { b["amount"] = map[string]any{"amount": 100, "currency": "USD"} },
		"zero amount":       func(b map[string]any) { b["amount"] = amountOf(0) },
		"12-digit amount":   func(b map[string]any) { b["amount"] = amountOf(100_000_000_000) },
		"bad id":            func(b map[string]any) { b["merchantPaymentId"] = "has space" },
	} {
		t.Run(name, func(t *testing.T) {
			b := h.payBody("mp-v", UserOK, 100)
			mutate(b)
			expect(t, h.call(http.MethodPost, "/v2/payments", b), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
		})
	}
	b := h.payBody("mp-v", UserOK, 100)
	delete(b, "requestedAt")
	expect(t, h.call(http.MethodPost, "/v2/payments", b), http.StatusBadRequest, "MISSING_REQUEST_PARAMS")
	expect(t, h.call(http.MethodPost, "/v2/payments?agreeSimilarTransaction=maybe", h.payBody("mp-v", UserOK, 100)), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
}

func TestDuplicateMerchantPaymentID(t *testing.T) {
	h := newHarness(t)
	h.pay("mp-1", 100)
	res := h.call(http.MethodPost, "/v2/payments?agreeSimilarTransaction=true", h.payBody("mp-1", UserOK, 100))
	expect(t, res, http.StatusBadRequest, "INVALID_PARAMS")
	if res.ResultInfo.Message != "Duplicate merchantPaymentId" {
		t.Fatalf("message %q", res.ResultInfo.Message)
	}
	expect(t, h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-1", 100)), http.StatusBadRequest, "DUPLICATE_DYNAMIC_QR_REQUEST")

	expect(t, h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-qr", 100)), http.StatusCreated, "SUCCESS")
	res = h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-qr", 100))
	expect(t, res, http.StatusBadRequest, "DUPLICATE_DYNAMIC_QR_REQUEST")
	if res.ResultInfo.CodeID != "01652073" {
		t.Fatalf("codeId %s", res.ResultInfo.CodeID)
	}
	expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-qr", UserOK, 100)), http.StatusBadRequest, "INVALID_PARAMS")
	if n := len(h.sim.Payments()); n != 2 {
		t.Fatalf("ledger has %d payments, want 2", n)
	}
}

func TestReplayDuplicateQROption(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ReplayDuplicateQR = true })
	first := h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-qr", 100))
	expect(t, first, http.StatusCreated, "SUCCESS")
	h.clock.Advance(time.Second) // requestedAt differs, as SDKs rewrite it
	again := h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-qr", 100))
	expect(t, again, http.StatusCreated, "SUCCESS")
	if first.dataMap(t)["codeId"] != again.dataMap(t)["codeId"] {
		t.Fatalf("replay returned another code: %s vs %s", first.raw, again.raw)
	}
	expect(t, h.call(http.MethodPost, "/v2/codes", h.qrBody("mp-qr", 200)), http.StatusBadRequest, "DUPLICATE_DYNAMIC_QR_REQUEST")
}

func TestSuspectedDuplicatePayment(t *testing.T) {
	h := newHarness(t)
	h.pay("mp-1", 700)
	h.clock.Advance(4*time.Minute + 59*time.Second)
	res := h.call(http.MethodPost, "/v2/payments?agreeSimilarTransaction=false", h.payBody("mp-2", UserOK, 700))
	expect(t, res, http.StatusBadRequest, "SUSPECTED_DUPLICATE_PAYMENT")
	if res.ResultInfo.CodeID != "00200017" {
		t.Fatalf("codeId %s", res.ResultInfo.CodeID)
	}
	// Barcodes of the same user are guarded too; the code stays usable for the agreed retry.
	code := h.sim.IssueBarcode(UserOK)
	expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-3", code, 700)), http.StatusBadRequest, "SUSPECTED_DUPLICATE_PAYMENT")
	expect(t, h.call(http.MethodPost, "/v2/payments?agreeSimilarTransaction=true", h.payBody("mp-3", code, 700)), http.StatusCreated, "SUCCESS")
	// A different amount is not similar.
	expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-4", UserOK, 701)), http.StatusCreated, "SUCCESS")
	// The agreed retry reused the refused id, which had reserved nothing.
	expect(t, h.call(http.MethodPost, "/v2/payments?agreeSimilarTransaction=true", h.payBody("mp-2", UserOK, 700)), http.StatusCreated, "SUCCESS")
	// Five minutes after the last similar payment the guard lapses.
	h.clock.Advance(5 * time.Minute)
	expect(t, h.call(http.MethodPost, "/v2/payments", h.payBody("mp-5", UserOK, 700)), http.StatusCreated, "SUCCESS")
}

func TestUnknownPaymentAndRoutes(t *testing.T) {
	h := newHarness(t)
	res := h.call(http.MethodGet, "/v2/payments/mp-unknown", nil)
	expect(t, res, http.StatusNotFound, "RESOURCE_NOT_FOUND")
	if res.ResultInfo.CodeID != "00200001" {
		t.Fatalf("codeId %s", res.ResultInfo.CodeID)
	}
	expect(t, h.call(http.MethodGet, "/v2/codes/payments/mp-unknown", nil), http.StatusBadRequest, "DYNAMIC_QR_PAYMENT_NOT_FOUND")
	expect(t, h.call(http.MethodGet, "/v2/nothing", nil), http.StatusNotFound, "RESOURCE_NOT_FOUND")
	expect(t, h.call(http.MethodPut, "/v2/payments/x", nil), http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
}
