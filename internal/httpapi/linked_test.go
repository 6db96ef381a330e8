package httpapi_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"payhub/contracts"
)

// Linked accounts (issue 18, docs/api.md §4.4) through the real router, against the PayPay
// simulator over HTTP.

// startLink starts a link for c and returns the pending linked account.
func (e *testEnv) startLink(c storeClient, body map[string]any) map[string]any {
	e.t.Helper()
	if body == nil {
		body = map[string]any{"method": "paypay"}
	}
	r := e.do(http.MethodPost, "/v1/linked-accounts", e.token(c), newKey(), body)
	expectStatus(e.t, r, http.StatusCreated, "")
	la := r.json(e.t)
	if la["status"] != "pending" || !strings.HasPrefix(la["link_url"].(string), "https://") {
		e.t.Fatalf("link answered %s", r.body)
	}
	return la
}

// followLinkReturn plays the customer's browser coming back to payhub from PayPay.
func (e *testEnv) followLinkReturn(redirect string) response {
	e.t.Helper()
	u, err := url.Parse(redirect)
	if err != nil {
		e.t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(e.url + u.RequestURI())
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// link links a new PayPay customer to c (the customer approves) and returns its la_ id.
func (e *testEnv) link(c storeClient) string {
	e.t.Helper()
	la := e.startLink(c, nil)
	approval, err := e.sim.ApproveLink(la["link_url"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	expectStatus(e.t, e.followLinkReturn(approval.RedirectURL), http.StatusOK, "")
	got := e.do(http.MethodGet, "/v1/linked-accounts/"+la["id"].(string), e.token(c), "", nil)
	expectStatus(e.t, got, http.StatusOK, "")
	if got.json(e.t)["status"] != "active" {
		e.t.Fatalf("link after approval: %s", got.body)
	}
	return la["id"].(string)
}

// linkedPayment is a linked-flow payment of amount by the linked account la.
func linkedPayment(amount int, la string) map[string]any {
	return map[string]any{"amount": amount, "currency": "JPY", "method": "paypay", "flow": "linked",
		"linked_account": la, "terminal_id": "till-01"}
}

// TestLinkedAccountBelongsToItsClient: a link made by client a pays for a; client b can
// neither charge it by id nor by the partner's reference, nor read or unlink it; the raw
// reference of a customer nobody linked is refused; after unlinking, the link pays no more.
func TestLinkedAccountBelongsToItsClient(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newEnv(t, st)
		la := e.link(e.a)
		r := e.pay(e.a, linkedPayment(1200, la))
		expectStatus(t, r, http.StatusCreated, "")
		if r.json(t)["status"] != "succeeded" {
			t.Fatalf("linked payment: %s", r.body)
		}
		p := e.sim.Payments()
		uaid := p[len(p)-1].UserAuthorizationID
		if uaid == "" || strings.Contains(string(r.body), uaid) {
			t.Fatalf("the partner's reference %q leaked into the answer or is missing: %s", uaid, r.body)
		}

		expectStatus(t, e.pay(e.b, linkedPayment(1300, la)), http.StatusUnprocessableEntity, "invalid_request")
		raw := map[string]any{"amount": 1400, "currency": "JPY", "method": "paypay", "flow": "linked", "user_authorization_id": uaid}
		expectStatus(t, e.pay(e.b, raw), http.StatusForbidden, "forbidden")
		expectStatus(t, e.pay(e.a, raw), http.StatusCreated, "") // the client that linked it may use the reference
		raw["user_authorization_id"] = "user-ok"
		expectStatus(t, e.pay(e.a, raw), http.StatusForbidden, "forbidden") // nobody linked it through payhub
		expectStatus(t, e.do(http.MethodGet, "/v1/linked-accounts/"+la, e.token(e.b), "", nil), http.StatusNotFound, "not_found")
		expectStatus(t, e.do(http.MethodDelete, "/v1/linked-accounts/"+la, e.token(e.b), "", nil), http.StatusNotFound, "not_found")

		un := e.do(http.MethodDelete, "/v1/linked-accounts/"+la, e.token(e.a), "", nil)
		expectStatus(t, un, http.StatusOK, "")
		if un.json(t)["status"] != "unlinked" {
			t.Fatalf("unlink: %s", un.body)
		}
		if st, ok := e.sim.UserAuthorization(uaid); !ok || st.Status == "ACTIVE" {
			t.Fatalf("PayPay still has the authorization active: %+v", st)
		}
		expectStatus(t, e.pay(e.a, linkedPayment(1500, la)), http.StatusConflict, "invalid_state")
		expectStatus(t, e.do(http.MethodDelete, "/v1/linked-accounts/"+la, e.token(e.a), "", nil), http.StatusOK, "")
	})
}

// TestLinkReturnChecksTheAnswer: a declined link ends declined; an answer for another link
// (a token replayed on the wrong link) or a forged one changes nothing; the store's return
// URL gets the link's id and status.
func TestLinkReturnChecksTheAnswer(t *testing.T) {
	e := newEnv(t, nil)
	first := e.startLink(e.a, map[string]any{"method": "paypay", "return_url": "https://shop.example/linked?x=1"})
	second := e.startLink(e.a, nil)
	approval, err := e.sim.ApproveLink(first["link_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	token := approval.ResponseToken
	expectStatus(t, e.followLinkReturn("/v1/link-returns/"+second["id"].(string)+"?responseToken="+url.QueryEscape(token)), http.StatusBadRequest, "invalid_request")
	expectStatus(t, e.followLinkReturn("/v1/link-returns/"+first["id"].(string)+"?responseToken="+url.QueryEscape(token[:len(token)-2]+"xx")), http.StatusBadRequest, "invalid_request")
	ok := e.followLinkReturn(approval.RedirectURL)
	if ok.status != http.StatusSeeOther {
		t.Fatalf("return: %d %s", ok.status, ok.body)
	}
	loc, _ := url.Parse(ok.header.Get("Location"))
	if loc.Host != "shop.example" || loc.Query().Get("linked_account") != first["id"] || loc.Query().Get("status") != "active" || loc.Query().Get("x") != "1" {
		t.Fatalf("sent on to %s", loc)
	}
	declined, err := e.sim.DeclineLink(second["link_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	expectStatus(t, e.followLinkReturn(declined.RedirectURL), http.StatusOK, "")
	got := e.do(http.MethodGet, "/v1/linked-accounts/"+second["id"].(string), e.token(e.a), "", nil)
	if got.json(t)["status"] != "declined" {
		t.Fatalf("declined link: %s", got.body)
	}
	expectStatus(t, e.pay(e.a, linkedPayment(900, second["id"].(string))), http.StatusConflict, "invalid_state")
	expectStatus(t, e.do(http.MethodPost, "/v1/linked-accounts", e.token(e.a), newKey(),
		map[string]any{"method": "paypay", "return_url": "https://evil.example/"}), http.StatusUnprocessableEntity, "invalid_request")
}

// TestLinkReturnsAreBoundedPerAddress: the public return is bounded per source address like
// the payments' returns (30, then one a second): a flood of made-up answers is refused 429
// with Retry-After before any database read.
func TestLinkReturnsAreBoundedPerAddress(t *testing.T) {
	e := newEnv(t, nil)
	statuses := map[int]int{}
	var last response
	for range 40 {
		last = e.followLinkReturn("/v1/link-returns/la_01KLINK00000000000000000000?responseToken=made.up.token")
		statuses[last.status]++
	}
	if statuses[http.StatusNotFound] != 30 || statuses[http.StatusTooManyRequests] != 10 {
		t.Fatalf("statuses %v: want 30 × 404 then 10 × 429", statuses)
	}
	if last.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}
