package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/hub"
	linepaysim "payhub/mocks/linepay"
	simcore "payhub/mocks/sim"
)

// registerShop registers a web shop's store client with the origins its return_url may
// point to (payhub client register --return-origin).
func (e *testEnv) registerShop(clientID, kid, store string, origins ...string) storeClient {
	e.t.Helper()
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		e.t.Fatal(err)
	}
	pub, _ := auth.MarshalPublicKeyPEM(key.Public())
	now := time.Now().UTC()
	if err := e.app.Store.CreateStoreClient(context.Background(), contracts.StoreClient{ID: clientID, Name: clientID,
		Stores: []string{store}, ReturnOrigins: origins, CreatedAt: now,
		Keys: []contracts.ClientKey{{KID: kid, ClientID: clientID, Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pub, CreatedAt: now}}}); err != nil {
		e.t.Fatal(err)
	}
	return storeClient{key: key, kid: kid, clientID: clientID, store: store, pubPEM: pub}
}

// browserFrom is a browser on loopback address ip (127.0.0.0/8: each one is a different
// source address to payhub) that does not follow redirects.
func browserFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// TestOpenRedirectReturnURLIsRefused: issue 15's open redirect. A store client asked for a
// card payment whose return_url is an attacker's page and payhub took it (201), so the
// customer's browser would be sent there from payhub's address after 3-D Secure. Now a
// return_url must match an origin registered for the client: 422 invalid_request at
// /return_url, and nothing is written.
func TestOpenRedirectReturnURLIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	shop := e.registerShop("web-1", "web-1-key-1", "store-web", "https://shop.example")
	for _, c := range []storeClient{e.a, shop} {
		for _, u := range []string{"https://evil.example/phish", "https://shop.example.evil.example/", "http://localhost:8080/x"} {
			r := e.pay(c, map[string]any{"amount": 8800, "currency": "JPY", "method": "card", "flow": "redirect",
				"card_token": e.gmopg.IssueToken("3ds_challenge"), "return_url": u, "order_id": "web-evil"})
			expectStatus(t, r, http.StatusUnprocessableEntity, "invalid_request")
			if p := r.json(t)["errors"].([]any)[0].(map[string]any)["pointer"]; p != "/return_url" {
				t.Fatalf("%s refused at %v", u, p)
			}
		}
	}
	for _, c := range []storeClient{e.a, shop} {
		if ps, _ := e.app.Store.ListPayments(context.Background(), contracts.PaymentFilter{StoreID: c.store, Limit: 10}); len(ps) != 0 {
			t.Fatalf("refused payments were written: %d", len(ps))
		}
	}
	r := e.pay(shop, map[string]any{"amount": 8800, "currency": "JPY", "method": "card", "flow": "redirect",
		"card_token": e.gmopg.IssueToken("3ds_challenge"), "return_url": "https://shop.example/thanks", "order_id": "web-ok"})
	expectStatus(t, r, http.StatusCreated, "")
}

// TestPaymentReturnsAreBounded: issue 15's unbounded returns. GET /v1/payment-returns/{id}
// needs no token, and each hit asked LINE Pay where the payment stood (50 hits, 50 checks).
// Now a "still waiting" answer is reused while fresh for the same return, partner calls
// are bounded per payment (5, then one every 10 s) however many addresses ask, and returns
// per address (30, then one a second): past a bound 429 rate_limited with Retry-After.
// The customer's own return still completes the payment.
func TestPaymentReturnsAreBounded(t *testing.T) {
	clk := simcore.NewManualClock(time.Now())
	e := newEnvOnClock(t, nil, clk)
	shop := e.registerShop("web-1", "web-1-key-1", "store-web", "http://127.0.0.1:9")
	r := e.pay(shop, map[string]any{"amount": 45000, "currency": "TWD", "method": "linepay", "flow": "redirect",
		"return_url": "http://127.0.0.1:9/shop/return?cart=7", "order_id": "web-1"})
	expectStatus(t, r, http.StatusCreated, "")
	id, tx := r.json(t)["id"].(string), r.json(t)["partner_reference"].(string)
	// Every LINE Pay check of the payment request passes this rule, which counts it.
	if err := e.faults.Set([]simcore.FaultRule{{Method: http.MethodGet, PathPrefix: "/v3/payments/requests/", Probability: 1,
		Fault: simcore.Fault{Kind: simcore.FaultLatency, Latency: time.Microsecond}}}); err != nil {
		t.Fatal(err)
	}
	checks := func() int { return e.faults.Stats()[simcore.FaultLatency] }
	hit := func(b *http.Client, path string) *http.Response {
		t.Helper()
		resp, err := b.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	limited := func(resp *http.Response) bool {
		after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return resp.StatusCode == http.StatusTooManyRequests && after >= 1 && resp.Header.Get("Content-Type") == "application/problem+json"
	}

	// One address, the same return 50 times while the customer has not paid.
	one := browserFrom("127.0.0.1")
	var seeOther, refused int
	for range 50 {
		switch resp := hit(one, "/v1/payment-returns/"+id); {
		case resp.StatusCode == http.StatusSeeOther:
			seeOther++
		case limited(resp):
			refused++
		default:
			t.Fatalf("return answered %d", resp.StatusCode)
		}
	}
	if checks() != 1 || seeOther != hub.DefaultReturnConfig.AddressBurst || refused != 50-seeOther {
		t.Fatalf("50 returns from one address: %d LINE Pay checks, %d redirects, %d refused; want 1 check, %d redirects",
			checks(), seeOther, refused, hub.DefaultReturnConfig.AddressBurst)
	}

	// 50 addresses, each with a return of its own making.
	refused = 0
	for i := range 50 {
		resp := hit(browserFrom(fmt.Sprintf("127.0.0.%d", 10+i)), fmt.Sprintf("/v1/payment-returns/%s?transactionId=%d&orderId=x", id, 2026010100000000000+i))
		if limited(resp) {
			refused++
		} else if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("return answered %d", resp.StatusCode)
		}
	}
	if checks() != hub.DefaultReturnConfig.PaymentBurst || refused != 50-(hub.DefaultReturnConfig.PaymentBurst-1) {
		t.Fatalf("50 returns from 50 addresses: %d LINE Pay checks in all, %d refused; want %d checks",
			checks(), refused, hub.DefaultReturnConfig.PaymentBurst)
	}

	// One address walking payment ids: bounded too, whatever it names.
	walker := browserFrom("127.0.0.70")
	refused = 0
	for i := range 40 {
		resp := hit(walker, fmt.Sprintf("/v1/payment-returns/pay_01JD0000000000000000000%03d", i))
		if limited(resp) {
			refused++
		} else if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("return of no payment answered %d", resp.StatusCode)
		}
	}
	if refused != 40-hub.DefaultReturnConfig.AddressBurst {
		t.Fatalf("40 returns of unknown payments from one address: %d refused, want %d", refused, 40-hub.DefaultReturnConfig.AddressBurst)
	}

	// The customer pays and comes back a little later: the payment completes.
	clk.Advance(time.Minute)
	if err := e.linepay.Approve(tx); err != nil {
		t.Fatal(err)
	}
	back, err := e.linepay.BrowserReturn(tx, false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := browserFrom("127.0.0.1").Get(back)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "http://127.0.0.1:9/shop/return?cart=7&payment_id="+id {
		t.Fatalf("the customer's return answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if e.status(id) != contracts.StatusSucceeded {
		t.Fatalf("after the customer's return the payment is %s", e.status(id))
	}
	if lp, _ := e.linepay.Payment(tx); lp.Status != linepaysim.StatusCaptured {
		t.Fatalf("LINE payment %s, want captured", lp.Status)
	}
}
