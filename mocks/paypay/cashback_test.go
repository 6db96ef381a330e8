package paypay

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func (h *harness) cashbackBody(id, user string, amount int64) map[string]any {
	return map[string]any{
		"merchantCashbackId": id, "userAuthorizationId": user, "amount": amountOf(amount),
		"requestedAt": h.clock.Now().Unix(), "orderDescription": "migration", "walletType": "PREPAID",
	}
}

func (h *harness) reversalBody(rid, id string, amount int64) map[string]any {
	return map[string]any{
		"merchantCashbackReversalId": rid, "merchantCashbackId": id, "amount": amountOf(amount),
		"requestedAt": h.clock.Now().Unix(), "reason": "correction",
	}
}

func TestCashbackGiveGetReverse(t *testing.T) {
	h := newHarness(t)
	a, _ := h.sim.ApproveLink(h.link("ref-c"))
	user := a.UserAuthorizationID
	expect(t, h.call(http.MethodPost, "/v2/cashback", h.cashbackBody("cb-1", user, 1500)), http.StatusAccepted, "REQUEST_ACCEPTED")
	// A retry a second later (the SDK rewrites requestedAt) answers the same and credits nothing more.
	h.clock.Advance(time.Second)
	expect(t, h.call(http.MethodPost, "/v2/cashback", h.cashbackBody("cb-1", user, 1500)), http.StatusAccepted, "REQUEST_ACCEPTED")
	expect(t, h.call(http.MethodPost, "/v2/cashback", h.cashbackBody("cb-1", user, 1600)), http.StatusBadRequest, "INVALID_PARAMS")

	res := h.call(http.MethodGet, "/v2/cashback/cb-1", nil)
	expect(t, res, http.StatusOK, "SUCCESS")
	d := res.dataMap(t)
	if d["status"] != "SUCCESS" || d["userAuthorizationId"] != user || d["amount"].(map[string]any)["amount"] != float64(1500) {
		t.Fatalf("cashback %s", res.raw)
	}
	expect(t, h.call(http.MethodGet, "/v2/cashback/cb-none", nil), http.StatusNotFound, "TRANSACTION_NOT_FOUND")

	expect(t, h.call(http.MethodPost, "/v2/cashback_reversal", h.reversalBody("rv-1", "cb-1", 1600)), http.StatusBadRequest, "INVALID_PARAMS")
	expect(t, h.call(http.MethodPost, "/v2/cashback_reversal", h.reversalBody("rv-1", "cb-1", 500)), http.StatusAccepted, "REQUEST_ACCEPTED")
	expect(t, h.call(http.MethodPost, "/v2/cashback_reversal", h.reversalBody("rv-1", "cb-1", 500)), http.StatusAccepted, "REQUEST_ACCEPTED")
	expect(t, h.call(http.MethodPost, "/v2/cashback_reversal", h.reversalBody("rv-2", "cb-1", 1001)), http.StatusBadRequest, "INVALID_PARAMS")
	expect(t, h.call(http.MethodPost, "/v2/cashback_reversal", h.reversalBody("rv-3", "cb-none", 1)), http.StatusNotFound, "TRANSACTION_NOT_FOUND")
	res = h.call(http.MethodGet, "/v2/cashback_reversal/rv-1/cb-1", nil)
	expect(t, res, http.StatusOK, "SUCCESS")
	if d := res.dataMap(t); d["status"] != "SUCCESS" || d["amount"].(map[string]any)["amount"] != float64(500) {
		t.Fatalf("reversal %s", res.raw)
	}
	expect(t, h.call(http.MethodGet, "/v2/cashback_reversal/rv-1/cb-other", nil), http.StatusNotFound, "TRANSACTION_NOT_FOUND")

	acct := h.sim.CashbackAccount(user)
	if acct.Received != 1500 || acct.Reversed != 500 || acct.Balance != 1000 || len(acct.Cashbacks) != 1 || len(acct.Cashbacks[0].Reversals) != 1 {
		t.Fatalf("account %+v", acct)
	}
	code, m := h.control(http.MethodGet, "/_sim/cashback/"+user, nil)
	if code != http.StatusOK || m["balance"] != float64(1000) {
		t.Fatalf("/_sim/cashback: %d %v", code, m)
	}
}

func TestCashbackRefusals(t *testing.T) {
	h := newHarness(t)
	expect(t, h.call(http.MethodPost, "/v2/cashback", h.cashbackBody("cb-x", "nobody", 100)), http.StatusUnauthorized, "INVALID_USER_AUTHORIZATION_ID")
	expect(t, h.call(http.MethodPost, "/v2/cashback", h.cashbackBody("cb-x", UserInactive, 100)), http.StatusUnauthorized, "USER_STATE_IS_NOT_ACTIVE")
	b := h.cashbackBody("cb-x", UserOK, 100)
	b["walletType"] = "GOLD"
	expect(t, h.call(http.MethodPost, "/v2/cashback", b), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
	b = h.cashbackBody("cb-x", UserOK, 100)
	b["expiryDate"] = "2020-01-01"
	expect(t, h.call(http.MethodPost, "/v2/cashback", b), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
	b = h.cashbackBody("cb-x-toolong-0123456789012345678901234567890123456789012345678901234567890", UserOK, 100)
	expect(t, h.call(http.MethodPost, "/v2/cashback", b), http.StatusBadRequest, "INVALID_REQUEST_PARAMS")
	if _, ok := h.sim.Cashback("cb-x"); ok {
		t.Fatal("a refused cashback was recorded")
	}
}

func TestCashbackSettleDelayAndBudget(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.CashbackSettleDelay = 2 * time.Second; c.CashbackBudget = 1000 })
	expect(t, h.call(http.MethodPost, "/v2/cashback", h.cashbackBody("cb-a", UserOK, 800)), http.StatusAccepted, "REQUEST_ACCEPTED")
	expect(t, h.call(http.MethodPost, "/v2/cashback", h.cashbackBody("cb-b", UserOK, 300)), http.StatusAccepted, "REQUEST_ACCEPTED")
	if st := h.call(http.MethodGet, "/v2/cashback/cb-a", nil).dataMap(t)["status"]; st != "ACCEPTED" {
		t.Fatalf("before settling: %v", st)
	}
	expect(t, h.call(http.MethodPost, "/v2/cashback_reversal", h.reversalBody("rv-a", "cb-a", 100)), http.StatusBadRequest, "UNACCEPTABLE_OP")
	h.clock.Advance(2 * time.Second)
	if st := h.call(http.MethodGet, "/v2/cashback/cb-a", nil).dataMap(t)["status"]; st != "SUCCESS" {
		t.Fatalf("after settling: %v", st)
	}
	if st := h.call(http.MethodGet, "/v2/cashback/cb-b", nil).dataMap(t)["status"]; st != "FAILURE" {
		t.Fatalf("over budget: %v", st)
	}
	if acct := h.sim.CashbackAccount(UserOK); acct.Received != 800 {
		t.Fatalf("account %+v", acct)
	}
}

func TestCashbackCommitThenDrop(t *testing.T) {
	fh := newFaultHarness(t)
	fh.setFaults(`[{"method":"POST","path_prefix":"/v2/cashback","fault":{"kind":"commit_then_drop"},"count":1}]`)
	_, err := fh.send(context.Background(), http.MethodPost, "/v2/cashback", fh.cashbackBody("cb-drop", UserOK, 700))
	if !droppedConnection(err) {
		t.Fatalf("err = %v, want a dropped connection", err)
	}
	if lc, ok := fh.sim.Cashback("cb-drop"); !ok || lc.Amount != 700 || lc.Status != CashbackSuccess {
		t.Fatalf("commit-then-drop did not commit: %+v %v", lc, ok)
	}
	// The inquiry finds it; resending the same request answers the original.
	res, err := fh.send(context.Background(), http.MethodGet, "/v2/cashback/cb-drop", nil)
	if err != nil || res.status != http.StatusOK {
		t.Fatalf("inquiry: %v %d %s", err, res.status, res.body)
	}
	if res, err = fh.send(context.Background(), http.MethodPost, "/v2/cashback", fh.cashbackBody("cb-drop", UserOK, 700)); err != nil || res.status != http.StatusAccepted {
		t.Fatalf("resend: %v %d %s", err, res.status, res.body)
	}
	if acct := fh.sim.CashbackAccount(UserOK); acct.Received != 700 {
		t.Fatalf("credited twice: %+v", acct)
	}
}
