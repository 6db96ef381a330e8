package paypay

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
)

func cashbackRequest() contracts.CashbackRequest {
	return contracts.CashbackRequest{
		MerchantCashbackID: "cb_1", UserAuthorizationID: "ua-1", Amount: contracts.Money{Amount: 99_999_999_999, Currency: contracts.JPY},
		Description: "balance migration", WalletType: "PREPAID", ExpiryDate: time.Date(2026, 12, 31, 20, 0, 0, 0, time.UTC),
		RequestedAt: testNow,
	}
}

func TestGiveCashbackRequestAndOutcomes(t *testing.T) {
	f, a := newFake(t, answer(http.StatusAccepted, "REQUEST_ACCEPTED", nil))
	res := a.GiveCashback(context.Background(), cashbackRequest())
	if res.Outcome != contracts.OutcomePending || res.MerchantCashbackID != "cb_1" {
		t.Fatalf("result %+v", res)
	}
	got := f.requests()[0]
	amt := got.body["amount"].(map[string]any)
	if got.method != http.MethodPost || got.path != "/v2/cashback" || got.body["merchantCashbackId"] != "cb_1" ||
		got.body["userAuthorizationId"] != "ua-1" || amt["amount"] != float64(99_999_999_999) || amt["currency"] != "JPY" ||
		got.body["requestedAt"] != float64(testNow.Unix()) || got.body["walletType"] != "PREPAID" ||
		got.body["expiryDate"] != "2027-01-01" || got.body["orderDescription"] != "balance migration" {
		t.Fatalf("sent %+v", got.body)
	}

	for name, tc := range map[string]struct {
		respond func(http.ResponseWriter, *http.Request)
		want    contracts.Outcome
		code    string
	}{
		"invalid user":       {answer(http.StatusUnauthorized, "INVALID_USER_AUTHORIZATION_ID", nil), contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		"inactive user":      {answer(http.StatusUnauthorized, "USER_STATE_IS_NOT_ACTIVE", nil), contracts.OutcomeFailed, contracts.FailureUserNotActive},
		"duplicate id":       {answer(http.StatusBadRequest, "INVALID_PARAMS", nil), contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		"500":                {answer(http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", nil), contracts.OutcomeUnknown, ""},
		"transaction failed": {answer(http.StatusInternalServerError, "TRANSACTION_FAILED", nil), contracts.OutcomeFailed, contracts.FailurePartnerRejected},
		"429":                {answer(http.StatusTooManyRequests, "RATE_LIMIT", nil), contracts.OutcomeUnknown, ""},
		"503":                {answer(http.StatusServiceUnavailable, "MAINTENANCE_MODE", nil), contracts.OutcomeUnknown, ""},
		"unknown 4xx":        {answer(http.StatusBadRequest, "BRAND_NEW_CODE", nil), contracts.OutcomeUnknown, ""},
		"error code on 2xx":  {answer(http.StatusOK, "INVALID_PARAMS", nil), contracts.OutcomeUnknown, ""},
		"dropped": {func(w http.ResponseWriter, _ *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
		}, contracts.OutcomeUnknown, ""},
	} {
		_, a := newFake(t, tc.respond)
		res := a.GiveCashback(context.Background(), cashbackRequest())
		if res.Outcome != tc.want || res.FailureCode != tc.code {
			t.Errorf("%s: %+v, want %s %q", name, res, tc.want, tc.code)
		}
		if strings.Contains(res.FailureMessage, testSecret) {
			t.Errorf("%s: message leaks the secret", name)
		}
	}
}

func TestCashbackRefusedLocally(t *testing.T) {
	f, a := newFake(t, answer(http.StatusAccepted, "REQUEST_ACCEPTED", nil))
	for name, mutate := range map[string]func(*contracts.CashbackRequest){
		"no id":      func(r *contracts.CashbackRequest) { r.MerchantCashbackID = "" },
		"long id":    func(r *contracts.CashbackRequest) { r.MerchantCashbackID = strings.Repeat("a", 65) },
		"bad id":     func(r *contracts.CashbackRequest) { r.MerchantCashbackID = "cb/1" },
		"no user":    func(r *contracts.CashbackRequest) { r.UserAuthorizationID = "" },
		"zero":       func(r *contracts.CashbackRequest) { r.Amount.Amount = 0 },
		"currency":   func(r *contracts.CashbackRequest) { r.Amount.Currency = contracts.TWD },
		"walletType": func(r *contracts.CashbackRequest) { r.WalletType = "GOLD" },
	} {
		req := cashbackRequest()
		mutate(&req)
		if res := a.GiveCashback(context.Background(), req); res.Outcome != contracts.OutcomeFailed {
			t.Errorf("%s: %+v", name, res)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func cashbackData(status string) map[string]any {
	return map[string]any{
		"status": status, "acceptedAt": testNow.Unix(), "merchantCashbackId": "cb_1", "cashbackId": "2001",
		"userAuthorizationId": "ua-1", "amount": map[string]any{"amount": 1500, "currency": "JPY"},
		"requestedAt": testNow.Unix(), "metadata": map[string]any{}, "newField": true,
	}
}

func TestGetCashbackOutcomes(t *testing.T) {
	for name, tc := range map[string]struct {
		respond func(http.ResponseWriter, *http.Request)
		want    contracts.Outcome
	}{
		"success":       {answer(http.StatusOK, "SUCCESS", cashbackData("SUCCESS")), contracts.OutcomeSucceeded},
		"accepted":      {answer(http.StatusOK, "SUCCESS", cashbackData("ACCEPTED")), contracts.OutcomePending},
		"failure":       {answer(http.StatusOK, "SUCCESS", cashbackData("FAILURE")), contracts.OutcomeFailed},
		"odd status":    {answer(http.StatusOK, "SUCCESS", cashbackData("MAYBE")), contracts.OutcomeUnknown},
		"not found":     {answer(http.StatusNotFound, "TRANSACTION_NOT_FOUND", nil), contracts.OutcomeNotFound},
		"not found 400": {answer(http.StatusBadRequest, "TRANSACTION_NOT_FOUND", nil), contracts.OutcomeNotFound},
		"500":           {answer(http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", nil), contracts.OutcomeUnknown},
		"no data":       {answer(http.StatusOK, "SUCCESS", nil), contracts.OutcomeUnknown},
		"another id": {answer(http.StatusOK, "SUCCESS", func() map[string]any {
			d := cashbackData("SUCCESS")
			d["merchantCashbackId"] = "cb_2"
			return d
		}()), contracts.OutcomeUnknown},
		"fractional amount": {answer(http.StatusOK, "SUCCESS", func() map[string]any {
			d := cashbackData("SUCCESS")
			d["amount"] = map[string]any{"amount": 1.5, "currency": "JPY"}
			return d
		}()), contracts.OutcomeUnknown},
	} {
		f, a := newFake(t, tc.respond)
		res := a.GetCashback(context.Background(), "cb_1")
		if res.Outcome != tc.want {
			t.Errorf("%s: %+v, want %s", name, res, tc.want)
		}
		if got := f.requests()[0]; got.method != http.MethodGet || got.path != "/v2/cashback/cb_1" {
			t.Errorf("%s: sent %+v", name, got)
		}
		if tc.want == contracts.OutcomeSucceeded && (res.Amount.Amount != 1500 || res.PartnerID != "2001" || res.AcceptedAt == nil) {
			t.Errorf("%s: %+v", name, res)
		}
	}
}

func TestReverseCashback(t *testing.T) {
	f, a := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			writeEnvelope(w, http.StatusAccepted, "REQUEST_ACCEPTED", nil)
			return
		}
		writeEnvelope(w, http.StatusOK, "SUCCESS", map[string]any{
			"status": "SUCCESS", "acceptedAt": testNow.Unix(), "merchantCashbackReversalId": "rv_1", "merchantCashbackId": "cb_1",
			"cashbackReversalId": "3001", "amount": map[string]any{"amount": 500, "currency": "JPY"},
		})
	})
	res := a.ReverseCashback(context.Background(), contracts.CashbackReversalRequest{
		MerchantCashbackReversalID: "rv_1", MerchantCashbackID: "cb_1", Amount: contracts.Money{Amount: 500, Currency: contracts.JPY},
		Reason: "correction", RequestedAt: testNow,
	})
	if res.Outcome != contracts.OutcomePending {
		t.Fatalf("reverse: %+v", res)
	}
	res = a.GetCashbackReversal(context.Background(), "rv_1", "cb_1")
	if res.Outcome != contracts.OutcomeSucceeded || res.PartnerID != "3001" || res.Amount.Amount != 500 {
		t.Fatalf("reversal: %+v", res)
	}
	reqs := f.requests()
	if reqs[0].path != "/v2/cashback_reversal" || reqs[0].body["merchantCashbackReversalId"] != "rv_1" || reqs[0].body["reason"] != "correction" {
		t.Errorf("reverse sent %+v", reqs[0])
	}
	if reqs[1].path != "/v2/cashback_reversal/rv_1/cb_1" {
		t.Errorf("reversal query sent %+v", reqs[1])
	}
	if res := a.GetCashbackReversal(context.Background(), "rv_2", "cb_1"); res.Outcome != contracts.OutcomeUnknown {
		t.Errorf("an answer about another reversal: %+v", res)
	}
}
