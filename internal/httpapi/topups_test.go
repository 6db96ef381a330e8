package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/auth"
	nanacosim "payhub/mocks/nanaco"
	simcore "payhub/mocks/sim"
)

// nanaco top-ups end to end: a till tops up a presented card through payhub's router with
// a real token; the nanaco adapter speaks signed NCS v1 over HTTP to the simulator, on the
// clock payhub and the centre share (10:00 JST; nanaco_env_test.go). Seeded cards:
// 7000000000000001 holds ¥10,000 and 120 points, 7000000000000002 ¥49,500 (near the cap),
// 7000000000000003 is suspended.

// topUpBody is a till's top-up of the card numbered number at till-01.
func topUpBody(amount int, funding, number string) map[string]any {
	return map[string]any{"presented_card": map[string]any{"number": number}, "terminal_id": "till-01",
		"amount": amount, "currency": "JPY", "funding": funding}
}

// topUp sends a top-up under a fresh Idempotency-Key.
func (n *nanacoEnv) topUp(body map[string]any) response {
	n.t.Helper()
	return n.do(http.MethodPost, "/v1/nanaco/top-ups", n.tok(), newKey(), body)
}

// toppedUp sends a top-up that must answer 201 and returns it.
func (n *nanacoEnv) toppedUp(body map[string]any) map[string]any {
	n.t.Helper()
	r := n.topUp(body)
	expectStatus(n.t, r, http.StatusCreated, "")
	return r.json(n.t)
}

// cancelTopUp asks for top-up id to be cancelled.
func (n *nanacoEnv) cancelTopUp(id string) response {
	n.t.Helper()
	return n.do(http.MethodPost, "/v1/nanaco/top-ups/"+id+"/cancel", n.tok(), newKey(), nil)
}

// TestNanacoCashTopUpCreditsTheCardOnce: a cash top-up succeeds, the card holds the value,
// partner_reference is the centre's centerTxnId, only the last 4 digits are shown, GET
// reads it back, and a replay with the same key tops up nothing more.
func TestNanacoCashTopUpCreditsTheCardOnce(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		key, body := newKey(), topUpBody(5_000, "cash", card)
		first := n.do(http.MethodPost, "/v1/nanaco/top-ups", n.tok(), key, body)
		expectStatus(t, first, http.StatusCreated, "")
		tu := first.json(t)
		charges := n.ledger(card, nanacosim.TypeCharge)
		if tu["object"] != "top_up" || tu["status"] != "succeeded" || tu["credited_to"] != "balance" || tu["card_last4"] != "0001" ||
			len(charges) != 1 || tu["partner_reference"] != charges[0].CenterTxnID || charges[0].FundingSource != nanacosim.FundingCash {
			t.Fatalf("top-up %s; centre charges %+v", first.body, charges)
		}
		if strings.Contains(string(first.body), card) {
			t.Errorf("the top-up echoes the full nanaco number: %s", first.body)
		}
		if b := n.balance(card); b != 15_000 {
			t.Errorf("balance %d after a ¥5,000 top-up of ¥10,000", b)
		}
		replay := n.do(http.MethodPost, "/v1/nanaco/top-ups", n.tok(), key, body)
		if replay.status != http.StatusCreated || !bytes.Equal(replay.body, first.body) || replay.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay %d: %s", replay.status, replay.body)
		}
		get := n.do(http.MethodGet, "/v1/nanaco/top-ups/"+tu["id"].(string), n.tok(), "", nil)
		expectStatus(t, get, http.StatusOK, "")
		if !bytes.Equal(get.body, first.body) {
			t.Errorf("GET %s\ncreate %s", get.body, first.body)
		}
		other := n.do(http.MethodGet, "/v1/nanaco/top-ups/"+tu["id"].(string), n.token(n.b, func(r *auth.TokenRequest) { r.IssuedAt = n.clk.Now() }), "", nil)
		expectStatus(t, other, http.StatusNotFound, "not_found")
		if c := n.ledger(card, nanacosim.TypeCharge); len(c) != 1 || n.balance(card) != 15_000 {
			t.Errorf("after the replay: %d charges, balance %d", len(c), n.balance(card))
		}
	})
}

// TestNanacoTopUpPastTheCapFails: ¥1,000 in cash onto a card holding ¥49,500 would pass
// the ¥50,000 cap: a failed top-up (balance_cap_exceeded), nothing credited.
func TestNanacoTopUpPastTheCapFails(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureNearCap
		tu := n.toppedUp(topUpBody(1_000, "cash", card))
		if tu["status"] != "failed" || tu["failure_code"] != "balance_cap_exceeded" || tu["credited_to"] != nil {
			t.Fatalf("top-up past the cap: %v", tu)
		}
		if b, c := n.balance(card), n.ledger(card, nanacosim.TypeCharge); b != 49_500 || len(c) != 0 {
			t.Fatalf("balance %d, charges %+v", b, c)
		}
		suspended := n.toppedUp(topUpBody(1_000, "cash", nanacosim.FixtureSuspended))
		if suspended["status"] != "failed" || suspended["failure_code"] != "card_suspended" {
			t.Fatalf("top-up of a suspended card: %v", suspended)
		}
	})
}

// TestNanacoTopUpRefusalsSendNothing: cash not in ¥1,000 units, credit funding, and cash
// beyond ¥49,000 are refused before anything reaches the centre, and the key is free.
func TestNanacoTopUpRefusalsSendNothing(t *testing.T) {
	n := newNanacoEnv(t, nil)
	card := nanacosim.FixtureActive
	for _, c := range []struct {
		body map[string]any
		code string
	}{
		{topUpBody(1_500, "cash", card), "amount_out_of_range"},
		{topUpBody(50_000, "cash", card), "amount_out_of_range"},
		{topUpBody(3_000, "credit", card), "method_not_supported"},
	} {
		r := n.topUp(c.body)
		expectStatus(t, r, http.StatusUnprocessableEntity, c.code)
	}
	r := n.topUp(topUpBody(3_000, "credit", card))
	if !strings.Contains(r.json(t)["detail"].(string), "Credit-card top-ups are not offered") {
		t.Errorf("credit refusal: %s", r.body)
	}
	r = n.topUp(topUpBody(1_000, "bank", card))
	expectStatus(t, r, http.StatusBadRequest, "invalid_request")
	if c := n.ledger(card, nanacosim.TypeCharge); len(c) != 0 || n.balance(card) != 10_000 {
		t.Fatalf("refused top-ups reached the centre: %+v", c)
	}
}

// TestNanacoPointsTopUp: 100 of the card's 120 points become ¥100 on the card.
func TestNanacoPointsTopUp(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		tu := n.toppedUp(topUpBody(100, "points", card))
		if tu["status"] != "succeeded" || tu["funding"] != "points" || tu["credited_to"] != "balance" {
			t.Fatalf("points top-up: %v", tu)
		}
		st, _ := n.ncs.Card(card)
		if st.Balance != 10_100 || st.Points != 20 {
			t.Fatalf("card after the points top-up: %+v", st)
		}
		more := n.toppedUp(topUpBody(100, "points", card))
		if more["status"] != "failed" || more["failure_code"] != "insufficient_balance" {
			t.Fatalf("more points than the card holds: %v", more)
		}
	})
}

// TestNanacoTopUpCancelSameDayTakesTheValueBack: cancelled on the same till the same day,
// the card is back where it was and the centre recorded the cancel of that charge.
func TestNanacoTopUpCancelSameDayTakesTheValueBack(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		tu := n.toppedUp(topUpBody(3_000, "cash", card))
		c := n.cancelTopUp(tu["id"].(string))
		expectStatus(t, c, http.StatusOK, "")
		if got := c.json(t); got["status"] != "canceled" || got["canceled_at"] == nil {
			t.Fatalf("cancel: %s", c.body)
		}
		if b := n.balance(card); b != 10_000 {
			t.Errorf("balance %d after the cancel", b)
		}
		charges, cancels := n.ledger(card, nanacosim.TypeCharge), n.ledger(card, nanacosim.TypeChargeCancel)
		if len(charges) != 1 || len(cancels) != 1 || cancels[0].OriginalTxnID != charges[0].CenterTxnID ||
			cancels[0].TerminalID != charges[0].TerminalID || charges[0].Status != nanacosim.StatusCancelled {
			t.Fatalf("centre: charges %+v, cancels %+v", charges, cancels)
		}
		expectStatus(t, n.cancelTopUp(tu["id"].(string)), http.StatusConflict, "invalid_state")
	})
}

// TestNanacoTopUpCancelAfterMidnightIsRefused: after midnight JST the centre cancels no
// top-up of yesterday: 409 cancel_window_passed, the top-up stays succeeded and the value
// stays on the card (a top-up is never paid back in cash).
func TestNanacoTopUpCancelAfterMidnightIsRefused(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		tu := n.toppedUp(topUpBody(2_000, "cash", card))
		id := tu["id"].(string)
		n.clk.Advance(15 * time.Hour) // 01:00 JST the next day
		expectStatus(t, n.cancelTopUp(id), http.StatusConflict, "cancel_window_passed")
		if b, c := n.balance(card), n.ledger(card, nanacosim.TypeChargeCancel); b != 12_000 || len(c) != 0 {
			t.Fatalf("after the refused cancel: balance %d, cancels %+v", b, c)
		}
		get := n.do(http.MethodGet, "/v1/nanaco/top-ups/"+id, n.tok(), "", nil)
		expectStatus(t, get, http.StatusOK, "")
		if got := get.json(t); got["status"] != "succeeded" || got["cancel_pending"] != nil {
			t.Fatalf("top-up after the refused cancel: %s", get.body)
		}
	})
}

// TestNanacoTopUpWithADroppedAnswerIsSettledByTheInquiry: the centre credits the card but
// its answer is lost: 201 unknown (keep the cash, do not top up again), and the resolver's
// inquiry under the same key finds the charge.
func TestNanacoTopUpWithADroppedAnswerIsSettledByTheInquiry(t *testing.T) {
	eachNanacoDatabase(t, func(t *testing.T, n *nanacoEnv) {
		card := nanacosim.FixtureActive
		n.fault(nanacosim.BasePath+"/charges", simcore.FaultCommitThenDrop)
		tu := n.toppedUp(topUpBody(4_000, "cash", card))
		if tu["status"] != "unknown" || tu["resolution"] == nil {
			t.Fatalf("after a dropped answer: %v", tu)
		}
		n.resolve()
		rec, err := n.app.Store.GetTopUp(context.Background(), "", tu["id"].(string))
		charges := n.ledger(card, nanacosim.TypeCharge)
		if err != nil || rec.Status != contracts.TopUpSucceeded || len(charges) != 1 || rec.PartnerTxnID != charges[0].CenterTxnID ||
			rec.CreditedTo != contracts.CreditedBalance || n.balance(card) != 14_000 {
			t.Fatalf("after the resolver: %+v %v; charges %+v, balance %d", rec, err, charges, n.balance(card))
		}
	})
}
