package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"payhub/adapters/gmopg"
	"payhub/internal/store"
	simcore "payhub/mocks/sim"
)

// TestCardPaymentThrough3DSecure: a web shop pays by card through payhub. payhub takes the
// browser's card token, GMO-PG asks for 3-D Secure, the customer's browser goes to the
// issuer's page and comes back to payhub, which completes the payment with SecureTran2
// and sends the browser on to the shop. The payment shows brand, last four and expiry; GMO's
// AccessID and AccessPass are kept only sealed; refunds and cancels reach GMO. A refused
// challenge fails the payment as authentication_failed.
func TestCardPaymentThrough3DSecure(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "payhub.db")
	st, err := store.Open(context.Background(), "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, st)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var tokens []string // every card token sent: none may be kept anywhere
	// pay starts a card payment and plays the customer's browser on the issuer's page.
	pay := func(kind string, approve bool) (id string, next string) {
		token := e.gmopg.IssueToken(kind)
		tokens = append(tokens, token)
		r := e.pay(e.a, map[string]any{"amount": 8800, "currency": "JPY", "method": "card", "flow": "redirect",
			"card_token": token, "return_url": "https://shop.example/thanks", "order_id": "web-" + kind})
		expectStatus(t, r, http.StatusCreated, "")
		p := r.json(t)
		na, _ := p["next_action"].(map[string]any)
		if p["status"] != "requires_action" || na["type"] != "redirect" {
			t.Fatalf("card payment %s", r.body)
		}
		id = p["id"].(string)
		u, _ := url.Parse(na["redirect_url"].(string))
		transID := u.Query().Get("transId")
		if ch, ok := e.gmopg.Challenge(transID); ok && ch.State == "pending" {
			act := e.gmopg.ApproveChallenge
			if !approve {
				act = e.gmopg.RejectChallenge
			}
			if _, err := act(transID); err != nil {
				t.Fatal(err)
			}
		}
		ch, ok := e.gmopg.Challenge(transID)
		if !ok || !strings.HasPrefix(ch.RetURL, e.url+"/v1/payment-returns/"+id) {
			t.Fatalf("GMO returns the browser to %q, not payhub's return URL", ch.RetURL)
		}
		form := url.Values{}
		for k, v := range ch.Form {
			form.Set(k, v)
		}
		var resp *http.Response
		if ch.Method == http.MethodGet {
			resp, err = noFollow.Get(ch.RetURL + "?" + form.Encode())
		} else {
			resp, err = noFollow.PostForm(ch.RetURL, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("return answered %d", resp.StatusCode)
		}
		return id, resp.Header.Get("Location")
	}

	id, next := pay("3ds_challenge", true)
	if next != "https://shop.example/thanks?payment_id="+id {
		t.Fatalf("browser sent to %q", next)
	}
	p := e.do(http.MethodGet, "/v1/payments/"+id, e.token(e.a), "", nil).json(t)
	cd, _ := p["card"].(map[string]any)
	if p["status"] != "succeeded" || cd["last4"] != "3002" || cd["expiry"] != "3012" {
		t.Fatalf("after 3-D Secure: %v", p)
	}
	rr := e.do(http.MethodPost, "/v1/payments/"+id+"/refunds", e.token(e.a), newKey(), map[string]any{"amount": 800})
	expectStatus(t, rr, http.StatusCreated, "")
	if rr.json(t)["status"] != "succeeded" {
		t.Fatalf("partial refund %s", rr.body)
	}
	// The refund names GMO's own transaction, for reconciliation with GMO's records.
	if o, _ := e.gmopg.Order(orderOf(t, e, id)); o.TranID == "" || rr.json(t)["partner_reference"] != o.TranID {
		t.Fatalf("refund partner_reference %v, GMO's TranID %q", rr.json(t)["partner_reference"], o.TranID)
	}
	// A card payment is reversed in full by cancel (VOID the same day at GMO).
	other, _ := pay("3ds_frictionless", true)
	cr := e.do(http.MethodPost, "/v1/payments/"+other+"/cancel", e.token(e.a), newKey(), map[string]any{})
	if cr.status != http.StatusOK || cr.json(t)["status"] != "canceled" {
		t.Fatalf("cancel %d %s", cr.status, cr.body)
	}
	if o, _ := e.gmopg.Order(orderOf(t, e, other)); o.Status != "VOID" {
		t.Fatalf("GMO order after cancel: %s", o.Status)
	}

	refused, _ := pay("3ds_challenge", false)
	f := e.do(http.MethodGet, "/v1/payments/"+refused, e.token(e.a), "", nil).json(t)
	if f["status"] != "failed" || f["failure_code"] != "authentication_failed" {
		t.Fatalf("refused challenge: %v", f)
	}

	// Card-present payments are not offered.
	expectStatus(t, e.pay(e.a, map[string]any{"amount": 500, "currency": "JPY", "method": "card", "flow": "barcode",
		"barcode": "12345678"}), http.StatusUnprocessableEntity, "method_not_supported")

	// GMO's AccessID/AccessPass never reach the database in clear; card tokens not at all.
	o, ok := e.gmopg.Order(orderOf(t, e, id))
	if !ok || o.AccessPass == "" {
		t.Fatalf("GMO has no order for %s", id)
	}
	e.app.Close()
	files, _ := filepath.Glob(dbPath + "*")
	for _, name := range files {
		b, _ := os.ReadFile(name)
		for _, secret := range append([]string{o.AccessPass, o.AccessID, testGMOShopPass}, tokens...) {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s holds a GMO credential in clear", filepath.Base(name))
			}
		}
	}
	for _, secret := range append([]string{o.AccessPass, o.AccessID, testGMOShopPass}, tokens...) {
		if strings.Contains(e.logs.String(), secret) {
			t.Error("logs hold a GMO credential or a card token")
		}
	}
}

// orderOf is GMO's OrderID of payment id.
func orderOf(t *testing.T, e *testEnv, id string) string {
	t.Helper()
	p, err := e.app.Store.GetPayment(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	oid, err := gmopg.OrderID(p.PartnerRef)
	if err != nil {
		t.Fatal(err)
	}
	return oid
}

// TestCardSecureTranLostIsSettledBySearchTrade: GMO completes the authorisation after 3-D
// Secure but its answer to SecureTran2 is lost. The payment is unknown (the shop must not
// charge again), and the resolver settles it from SearchTrade: the card was charged, so
// the payment succeeds, with no second SecureTran2.
func TestCardSecureTranLostIsSettledBySearchTrade(t *testing.T) {
	e := newEnv(t, nil)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r := e.pay(e.a, map[string]any{"amount": 4200, "currency": "JPY", "method": "card", "flow": "redirect",
		"card_token": e.gmopg.IssueToken("3ds_frictionless"), "return_url": "https://shop.example/thanks"})
	expectStatus(t, r, http.StatusCreated, "")
	p := r.json(t)
	id := p["id"].(string)
	u, _ := url.Parse(p["next_action"].(map[string]any)["redirect_url"].(string))
	ch, ok := e.gmopg.Challenge(u.Query().Get("transId"))
	if !ok {
		t.Fatal("no 3-D Secure flow")
	}
	if err := e.faults.Set([]simcore.FaultRule{{Method: "POST", PathPrefix: "/payment/SecureTran2", Probability: 1, Count: 1,
		Fault: simcore.Fault{Kind: simcore.FaultCommitThenDrop}}}); err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for k, v := range ch.Form {
		form.Set(k, v)
	}
	resp, err := noFollow.Get(ch.RetURL + "?" + form.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s := e.status(id); s != "unknown" {
		t.Fatalf("after a lost SecureTran2 the payment is %s, want unknown", s)
	}
	if _, err := e.app.Hub.ResolveOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.status(id); s != "succeeded" {
		t.Fatalf("after the resolver: %s, want succeeded", s)
	}
	o, _ := e.gmopg.Order(orderOf(t, e, id))
	if o.Status != "CAPTURE" || o.Amount != 4200 {
		t.Fatalf("GMO order %s %d", o.Status, o.Amount)
	}
}
