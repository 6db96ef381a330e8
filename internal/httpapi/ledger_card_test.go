package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"

	"payhub/contracts"
)

// TestLedgerCardPaymentAndRefund: a card payment through 3-D Secure (the customer's browser
// on the issuer's page and back to payhub's return URL) posts its capture when the return
// completes it, and a partial refund posts against GMO-PG's clearing account; the check
// passes.
func TestLedgerCardPaymentAndRefund(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		r := e.pay(e.a, map[string]any{"amount": 8800, "currency": "JPY", "method": "card", "flow": "redirect",
			"card_token": e.gmopg.IssueToken("3ds_challenge"), "return_url": "https://shop.example/thanks", "order_id": "ledger-card"})
		expectStatus(t, r, http.StatusCreated, "")
		p := r.json(t)
		id := p["id"].(string)
		na, _ := p["next_action"].(map[string]any)
		if p["status"] != "requires_action" || na == nil {
			t.Fatalf("card payment: %s", r.body)
		}
		if len(ledgerBalances(t, st)) != 0 {
			t.Fatal("a payment waiting for 3-D Secure posted")
		}
		u, _ := url.Parse(na["redirect_url"].(string))
		transID := u.Query().Get("transId")
		if _, err := e.gmopg.ApproveChallenge(transID); err != nil {
			t.Fatal(err)
		}
		ch, ok := e.gmopg.Challenge(transID)
		if !ok {
			t.Fatal("no 3-D Secure challenge")
		}
		form := url.Values{}
		for k, v := range ch.Form {
			form.Set(k, v)
		}
		var resp *http.Response
		var err error
		if ch.Method == http.MethodGet {
			resp, err = noFollow.Get(ch.RetURL + "?" + form.Encode())
		} else {
			resp, err = noFollow.PostForm(ch.RetURL, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil).json(t); got["status"] != "succeeded" {
			t.Fatalf("after 3-D Secure: %v", got)
		}
		rr := e.do(http.MethodPost, "/v1/payments/"+id+"/refunds", e.token(e.a), newKey(), map[string]any{"amount": 800})
		expectStatus(t, rr, http.StatusCreated, "")
		if rr.json(t)["status"] != "succeeded" {
			t.Fatalf("refund: %s", rr.body)
		}
		checkLedger(t, st)
		expectPosted(t, st, "payment:"+id+":captured")
		expectLedgerBalances(t, st, map[string]int64{
			"partner_clearing:gmopg JPY":   8000,
			"store_receivable:store-a JPY": 8000,
		})
	})
}
