package hub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// originFixture is a hub reached by browsers at publicURL, whose one partner (testpay)
// takes redirect payments, with client pos-1 (store-1) registered with origins.
func originFixture(t *testing.T, publicURL string, origins ...string) *fixture {
	t.Helper()
	st := storetest.OpenSQLite(t)
	clk := clock.NewManual(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	p := &scriptedPartner{}
	h := hub.New(hub.Config{Store: st, Partners: map[contracts.Method]contracts.Partner{testMethod: declaredPartner{p, testCaps()}},
		Clock: clk, IDs: ids.New(clk), APIVersion: contracts.APIVersion,
		Metrics: hub.NewMetrics(prometheus.NewRegistry()), PublicURL: publicURL})
	registerClient(t, st, "pos-1", "store-1", origins...)
	return &fixture{clock: clk, hub: h, store: st, partner: p, caller: hub.Caller{ClientID: "pos-1", StoreID: "store-1"}}
}

func registerClient(t *testing.T, st contracts.Store, clientID, storeID string, origins ...string) {
	t.Helper()
	if err := st.CreateStoreClient(context.Background(), contracts.StoreClient{ID: clientID, Name: clientID, Stores: []string{storeID},
		ReturnOrigins: origins, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func redirectPayment(returnURL string) hub.CreatePayment {
	return hub.CreatePayment{Amount: contracts.Money{Amount: 200, Currency: contracts.JPY}, Method: testMethod,
		Flow: contracts.FlowRedirect, ReturnURL: returnURL}
}

// TestReturnURLMustMatchARegisteredOrigin: the open redirect of issue 15. A return_url on
// any https host, or on this machine, was taken; now only the origins registered for the
// client are (scheme, host and port exactly), and everything else is refused with 422
// invalid_request at /return_url before anything is written or sent.
func TestReturnURLMustMatchARegisteredOrigin(t *testing.T) {
	f := originFixture(t, "https://pay.example", "https://shop.example", "https://shop.example:8443", "http://127.0.0.1:9")
	for _, u := range []string{
		"https://evil.example/phish",
		"https://shop.example.evil.example/thanks",
		"https://evilshop.example/thanks",
		"https://evil.example/?next=https://shop.example/",
		"https://shop.example:444/thanks",
		"https://shop.example:8444/thanks",
		"http://127.0.0.1:9/back", // registered, but this payhub is not on loopback
		"http://localhost/back",
		"https://localhost/back",
		"https://127.0.0.1/back",
		"http://[::1]/back",
		"https://[::ffff:127.0.0.1]/back",
		"https://shop.example%2eevil.example/",
		"https://xn--shp-moa.example/",
	} {
		t.Run(u, func(t *testing.T) {
			r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), redirectPayment(u))
			got := refusalOf(t, r, err)
			malformed := got.status == 400 && strings.Contains(u, "%") // refused as before, unparsed
			if (got.status != 422 && !malformed) || got.code != "invalid_request" || got.pointer != "/return_url" {
				t.Fatalf("return_url %s: %+v, want 422 invalid_request at /return_url", u, got)
			}
		})
	}
	if n := f.partner.count("create"); n != 0 {
		t.Fatalf("the partner heard of %d refused payments", n)
	}
	if ps, _ := f.store.ListPayments(context.Background(), contracts.PaymentFilter{StoreID: "store-1", Limit: 50}); len(ps) != 0 {
		t.Fatalf("refused payments written: %d", len(ps))
	}
	for _, u := range []string{"https://shop.example/thanks", "https://SHOP.Example./thanks?cart=7", "https://shop.example:443/x",
		"https://shop.example:8443/y"} {
		r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), redirectPayment(u))
		if err != nil || r.Kind != contracts.AnswerCreated {
			t.Fatalf("registered origin %s: %v %s %s", u, err, r.Kind, r.Body)
		}
	}
}

// A client without a registered origin, or one the store does not know, makes no redirect
// payment at all; other flows are not concerned.
func TestRedirectNeedsRegisteredOrigins(t *testing.T) {
	f := originFixture(t, "https://pay.example")
	r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), redirectPayment("https://shop.example/thanks"))
	if got := refusalOf(t, r, err); got.status != 422 || got.pointer != "/return_url" || !strings.Contains(got.message, "no return origin") {
		t.Fatalf("client without origins: %+v", got)
	}
	stranger := hub.Caller{ClientID: "pos-unknown", StoreID: "store-1"}
	r, err = f.hub.CreatePayment(context.Background(), stranger, idem("p"), redirectPayment("https://shop.example/thanks"))
	if got := refusalOf(t, r, err); got.status != 422 || got.pointer != "/return_url" {
		t.Fatalf("unknown client: %+v", got)
	}
	qr := hub.CreatePayment{Amount: contracts.Money{Amount: 200, Currency: contracts.JPY}, Method: testMethod, Flow: contracts.FlowQR}
	if r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("q"), qr); err != nil || r.Kind != contracts.AnswerCreated {
		t.Fatalf("a QR payment of a client without origins: %v %s", err, r.Body)
	}
	if err := f.store.SetClientReturnOrigins(context.Background(), "pos-1", []string{"https://shop.example"}); err != nil {
		t.Fatal(err)
	}
	if r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), redirectPayment("https://shop.example/thanks")); err != nil || r.Kind != contracts.AnswerCreated {
		t.Fatalf("after the origin was registered (no cache to wait for): %v %s", err, r.Body)
	}
}

// Loopback return URLs are for a payhub that browsers reach on loopback (the demo, tests):
// there they are taken when registered, port included.
func TestLoopbackReturnsOnlyWhenPayhubIsLoopback(t *testing.T) {
	f := originFixture(t, "http://127.0.0.1:7100", "http://127.0.0.1:9", "http://localhost:8080")
	for _, u := range []string{"http://127.0.0.1:9/shop/return?cart=7", "http://localhost:8080/x", "http://LOCALHOST:8080/y"} {
		if r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), redirectPayment(u)); err != nil || r.Kind != contracts.AnswerCreated {
			t.Fatalf("%s on a loopback payhub: %v %s", u, err, r.Body)
		}
	}
	for _, u := range []string{"http://127.0.0.1:10/x", "http://127.0.0.2:9/x", "https://evil.example/x"} {
		r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), redirectPayment(u))
		if got := refusalOf(t, r, err); got.status != 422 || got.pointer != "/return_url" {
			t.Fatalf("%s: %+v", u, got)
		}
	}
}

func TestParseReturnOrigin(t *testing.T) {
	good := map[string]string{
		"https://shop.example":          "https://shop.example",
		"https://Shop.Example./":        "https://shop.example",
		"HTTPS://shop.example:443":      "https://shop.example",
		"https://shop.example:8443":     "https://shop.example:8443",
		"http://127.0.0.1:8080":         "http://127.0.0.1:8080",
		"http://localhost":              "http://localhost",
		"http://[::1]:9":                "http://[::1]:9",
		"https://xn--r8jz45g.example":   "https://xn--r8jz45g.example",
		"https://203.0.113.7:8443":      "https://203.0.113.7:8443",
		"  https://shop.example:08443 ": "https://shop.example:8443",
	}
	for in, want := range good {
		if got, err := hub.ParseReturnOrigin(in); err != nil || got != want {
			t.Errorf("ParseReturnOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "shop.example", "http://shop.example", "https://shop.example/thanks", "https://shop.example?x",
		"https://shop.example#x", "https://user@shop.example", "https://*.shop.example", "https://shop.example:0",
		"https://shop.example:65536", "https://shop.example:", "ftp://shop.example", "https://ショップ.example",
		"https://shop_example.example", "https://[fe80::1%25eth0]", "javascript://shop.example", "//shop.example"} {
		if got, err := hub.ParseReturnOrigin(in); err == nil {
			t.Errorf("ParseReturnOrigin(%q) = %q, want an error", in, got)
		}
	}
}
