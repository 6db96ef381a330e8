package hub_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/render"
	"payhub/internal/store/storetest"
)

// testMethod is a method no real partner serves: the engine knows it only from what its
// partner declares.
const testMethod contracts.Method = "testpay"

// Capabilities of a scriptedPartner are PayPay's rules, since the fixtures register it as
// PayPay: JPY up to ¥500,000, barcode, QR and linked, manual capture. A test that needs
// other rules wraps it in a declaredPartner.
func (p *scriptedPartner) Capabilities() contracts.Capabilities {
	return contracts.Capabilities{
		Currencies:    []contracts.Currency{contracts.JPY},
		Flows:         []contracts.Flow{contracts.FlowBarcode, contracts.FlowQR, contracts.FlowLinked},
		MaxAmount:     map[contracts.Currency]int64{contracts.JPY: 500_000},
		ManualCapture: true,
	}
}

// declaredPartner is a scripted partner that declares the capabilities a test gives it.
type declaredPartner struct {
	*scriptedPartner
	caps contracts.Capabilities
}

func (p declaredPartner) Capabilities() contracts.Capabilities { return p.caps }

// testCaps is what testpay takes unless a test says otherwise: TWD in whole dollars up to
// 500.00, JPY up to ¥700 in single yen, flows QR and redirect, no manual capture, refunds
// in parallel.
func testCaps() contracts.Capabilities {
	return contracts.Capabilities{
		Currencies: []contracts.Currency{contracts.TWD, contracts.JPY},
		Flows:      []contracts.Flow{contracts.FlowQR, contracts.FlowRedirect},
		MaxAmount:  map[contracts.Currency]int64{contracts.TWD: 50_000, contracts.JPY: 700},
		Step:       map[contracts.Currency]int64{contracts.TWD: 100},
	}
}

// capsFixture is a hub whose one partner, for testMethod, declares caps.
func capsFixture(t *testing.T, caps contracts.Capabilities) *fixture {
	t.Helper()
	if err := caps.Validate(); err != nil {
		t.Fatal(err)
	}
	st := storetest.OpenSQLite(t)
	clk := clock.NewManual(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	p := &scriptedPartner{}
	h := hub.New(hub.Config{Store: st, Partners: map[contracts.Method]contracts.Partner{testMethod: declaredPartner{p, caps}},
		Clock: clk, IDs: ids.New(clk), APIVersion: contracts.APIVersion,
		Metrics: hub.NewMetrics(prometheus.NewRegistry()), PublicURL: "https://pay.example"})
	if err := st.CreateStoreClient(context.Background(), contracts.StoreClient{ID: "pos-1", Name: "pos-1", Stores: []string{"store-1"},
		ReturnOrigins: []string{"https://shop.example"}, CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	return &fixture{clock: clk, hub: h, store: st, partner: p, caller: hub.Caller{ClientID: "pos-1", StoreID: "store-1"}}
}

// testPayment is a QR payment of amount with testpay.
func testPayment(amount int64, cur contracts.Currency) hub.CreatePayment {
	return hub.CreatePayment{Amount: contracts.Money{Amount: amount, Currency: cur}, Method: testMethod, Flow: contracts.FlowQR}
}

// refusal is a refused request as the API shows it: from the error, or from the stored
// problem response.
type refusal struct {
	status                 int
	code, pointer, message string
}

func refusalOf(t *testing.T, r hub.Response, err error) refusal {
	t.Helper()
	if err != nil {
		e, ok := contracts.AsError(err)
		if !ok {
			t.Fatalf("not a refusal: %v", err)
		}
		return refusal{render.ErrorStatus(e), string(e.Code), e.Pointer, e.Detail}
	}
	if !(r.Kind == contracts.AnswerRefused) {
		t.Fatalf("accepted, want a refusal: %s %s", r.Kind, r.Body)
	}
	var p struct {
		Code   string
		Detail string
		Errors []struct{ Pointer string }
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	out := refusal{status: render.Status(contracts.ErrorCode(p.Code)), code: p.Code, message: p.Detail}
	if len(p.Errors) > 0 {
		out.pointer = p.Errors[0].Pointer
	}
	return out
}

// TestEngineEnforcesDeclaredCapabilities: a create outside what the partner declares is
// refused before anything is written or sent, with the code, pointer and message the API
// has always given; one inside it goes through. The partner is named nowhere in the engine.
func TestEngineEnforcesDeclaredCapabilities(t *testing.T) {
	refused := map[string]struct {
		caps func(*contracts.Capabilities)
		cmd  func(*hub.CreatePayment)
		want refusal
	}{
		"undeclared flow": {nil, func(c *hub.CreatePayment) { c.Flow, c.Barcode = contracts.FlowBarcode, "123456789012" },
			refusal{422, "method_not_supported", "/flow", `Method "testpay" does not support flow "barcode".`}},
		"undeclared flow, the partner's own refusal": {
			func(c *contracts.Capabilities) { c.FlowRefusal = "testpay is online only." },
			func(c *hub.CreatePayment) { c.Flow, c.Barcode = contracts.FlowBarcode, "123456789012" },
			refusal{422, "method_not_supported", "/flow", "testpay is online only."}},
		"undeclared currency": {nil, func(c *hub.CreatePayment) { c.Amount.Currency = contracts.THB },
			refusal{422, "currency_not_supported", "/currency", `Method "testpay" does not take THB.`}},
		"above the cap": {nil, func(c *hub.CreatePayment) { c.Amount.Amount = 50_100 },
			refusal{422, "amount_out_of_range", "/amount", "Amount must be between 1 and 50000 TWD for testpay."}},
		"above the cap of the other currency": {nil, func(c *hub.CreatePayment) { c.Amount = contracts.Money{Amount: 701, Currency: contracts.JPY} },
			refusal{422, "amount_out_of_range", "/amount", "Amount must be between 1 and 700 JPY for testpay."}},
		"zero": {nil, func(c *hub.CreatePayment) { c.Amount.Amount = 0 },
			refusal{422, "amount_out_of_range", "/amount", "Amount must be between 1 and 50000 TWD for testpay."}},
		"a fraction of the step": {nil, func(c *hub.CreatePayment) { c.Amount.Amount = 1_050 },
			refusal{422, "amount_out_of_range", "/amount", "testpay takes whole TWD: the amount must be a multiple of 100 minor units."}},
		"manual capture undeclared": {nil, func(c *hub.CreatePayment) { c.CaptureMethod = contracts.CaptureManual },
			refusal{422, "method_not_supported", "/capture", `Method "testpay" does not support manual capture.`}},
		"a card token undeclared": {nil, func(c *hub.CreatePayment) { c.CardToken = "tok_1" },
			refusal{400, "invalid_request", "/card_token", "card_token is not allowed for method testpay."}},
		"no card token where declared": {func(c *contracts.Capabilities) { c.CardToken = true }, nil,
			refusal{400, "invalid_request", "/card_token", "card_token is required for method testpay and not allowed otherwise."}},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			caps := testCaps()
			if tc.caps != nil {
				tc.caps(&caps)
			}
			f := capsFixture(t, caps)
			cmd := testPayment(10_000, contracts.TWD)
			if tc.cmd != nil {
				tc.cmd(&cmd)
			}
			r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), cmd)
			if got := refusalOf(t, r, err); got != tc.want {
				t.Errorf("refusal %+v, want %+v", got, tc.want)
			}
			if n := f.partner.count("create"); n != 0 {
				t.Errorf("the partner was called %d times", n)
			}
			if ps, _ := f.store.ListPayments(context.Background(), contracts.PaymentFilter{StoreID: "store-1", Limit: 10}); len(ps) != 0 {
				t.Errorf("refused payment written: %+v", ps)
			}
		})
	}
	for name, cmd := range map[string]hub.CreatePayment{
		"one step":                 testPayment(100, contracts.TWD),
		"the cap":                  testPayment(50_000, contracts.TWD),
		"the other currency's cap": testPayment(700, contracts.JPY),
		"no step in the other one": testPayment(333, contracts.JPY),
		"the other declared flow": {Amount: contracts.Money{Amount: 200, Currency: contracts.JPY}, Method: testMethod,
			Flow: contracts.FlowRedirect, ReturnURL: "https://shop.example/back"},
	} {
		t.Run(name, func(t *testing.T) {
			f := capsFixture(t, testCaps())
			r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), cmd)
			if err != nil || r.Kind != contracts.AnswerCreated || f.partner.count("create") != 1 {
				t.Fatalf("create: %v %s %s, partner calls %d", err, r.Kind, r.Body, f.partner.count("create"))
			}
		})
	}
}

// TestManualCaptureAsDeclared: a partner that declares manual capture gets authorizations,
// and a capture that is a fraction of its step is refused before the partner hears of it.
func TestManualCaptureAsDeclared(t *testing.T) {
	caps := testCaps()
	caps.ManualCapture = true
	f := capsFixture(t, caps)
	cmd := testPayment(10_000, contracts.TWD)
	cmd.CaptureMethod = contracts.CaptureManual
	r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("auth"), cmd)
	if err != nil || decode(t, r)["status"] != "authorized" {
		t.Fatalf("authorize: %v %s", err, r.Body)
	}
	id := decode(t, r)["id"].(string)
	part := int64(4_050)
	r, err = f.hub.CapturePayment(context.Background(), f.caller, idem("cap"), id, &part)
	want := refusal{422, "amount_out_of_range", "/amount", "testpay takes whole TWD: the amount must be a multiple of 100 minor units."}
	if got := refusalOf(t, r, err); got != want || f.partner.count("capture") != 0 {
		t.Fatalf("capture of a fraction: %+v, partner captures %d", got, f.partner.count("capture"))
	}
	part = 4_000
	if r, err := f.hub.CapturePayment(context.Background(), f.caller, idem("cap2"), id, &part); err != nil || r.Kind != contracts.AnswerDone {
		t.Fatalf("capture of whole dollars: %v %s %s", err, r.Kind, r.Body)
	}
}

// TestRefundStepAsDeclared: a refund that is a fraction of the partner's step is refused
// before anything is written; whole units go through.
func TestRefundStepAsDeclared(t *testing.T) {
	f := capsFixture(t, testCaps())
	f.partner.create = func(contracts.PaymentRequest) contracts.PaymentResult {
		return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, PartnerPaymentID: "tp-1"}
	}
	r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), testPayment(10_000, contracts.TWD))
	if err != nil || decode(t, r)["status"] != "succeeded" {
		t.Fatalf("create: %v %s", err, r.Body)
	}
	id := decode(t, r)["id"].(string)
	amount := int64(150)
	r, err = f.hub.CreateRefund(context.Background(), f.caller, idem("r1"), id, hub.CreateRefund{Amount: &amount})
	want := refusal{422, "amount_out_of_range", "/amount", "testpay takes whole TWD: the amount must be a multiple of 100 minor units."}
	if got := refusalOf(t, r, err); got != want || f.partner.count("refund") != 0 {
		t.Fatalf("refund of a fraction: %+v, partner refunds %d", got, f.partner.count("refund"))
	}
	if refunds, _ := f.store.ListRefunds(context.Background(), id); len(refunds) != 0 {
		t.Fatalf("refused refund written: %+v", refunds)
	}
	amount = 200
	if r, err := f.hub.CreateRefund(context.Background(), f.caller, idem("r2"), id, hub.CreateRefund{Amount: &amount}); err != nil || decode(t, r)["status"] != "succeeded" {
		t.Fatalf("refund of whole dollars: %v %s", err, r.Body)
	}
}

// TestSerialRefundsAsDeclared: a partner that declares serial refunds gets one open refund
// of a payment at a time (409 invalid_state for the next while one is unknown); one that
// does not gets them in parallel.
func TestSerialRefundsAsDeclared(t *testing.T) {
	for _, serial := range []bool{true, false} {
		caps := testCaps()
		caps.SerialRefunds = serial
		f := capsFixture(t, caps)
		f.partner.create = func(contracts.PaymentRequest) contracts.PaymentResult {
			return contracts.PaymentResult{Outcome: contracts.OutcomeSucceeded, PartnerPaymentID: "tp-1"}
		}
		r, err := f.hub.CreatePayment(context.Background(), f.caller, idem("p"), testPayment(600, contracts.JPY))
		if err != nil || decode(t, r)["status"] != "succeeded" {
			t.Fatalf("serial %v: create %v %s", serial, err, r.Body)
		}
		id := decode(t, r)["id"].(string)
		f.partner.refund = func(contracts.RefundRequest) contracts.RefundResult {
			return contracts.RefundResult{Outcome: contracts.OutcomeUnknown}
		}
		amount := int64(100)
		if r, err := f.hub.CreateRefund(context.Background(), f.caller, idem("r1"), id, hub.CreateRefund{Amount: &amount}); err != nil || decode(t, r)["status"] != "unknown" {
			t.Fatalf("serial %v: first refund %v %s", serial, err, r.Body)
		}
		r, err = f.hub.CreateRefund(context.Background(), f.caller, idem("r2"), id, hub.CreateRefund{Amount: &amount})
		if serial {
			want := refusal{409, "invalid_state", "", "Another refund of this payment is still in progress; retry once it has settled."}
			if got := refusalOf(t, r, err); got != want || f.partner.count("refund") != 1 {
				t.Errorf("second refund while the first is open: %+v, partner refunds %d", got, f.partner.count("refund"))
			}
		} else if err != nil || r.Kind != contracts.AnswerCreated || f.partner.count("refund") != 2 {
			t.Errorf("parallel refunds: second %v %s %s, partner refunds %d", err, r.Kind, r.Body, f.partner.count("refund"))
		}
	}
}

// TestPartnerBarcodeFromDeclaredFlows: a scanned code is a partner's (exempt from the
// card-number scan) when the routing table gives it to a method whose partner takes
// barcodes, or to a method with no partner configured; not when that partner declares no
// barcode flow.
func TestPartnerBarcodeFromDeclaredFlows(t *testing.T) {
	st := storetest.OpenSQLite(t)
	clk := clock.NewManual(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	online, instore := testCaps(), testCaps()
	instore.Flows = append(instore.Flows, contracts.FlowBarcode)
	h := hub.New(hub.Config{Store: st, Clock: clk, IDs: ids.New(clk), Partners: map[contracts.Method]contracts.Partner{
		"online": declaredPartner{&scriptedPartner{}, online}, "instore": declaredPartner{&scriptedPartner{}, instore}},
		BarcodeRules: []hub.BarcodeRule{{Prefix: "41", Lengths: []int{16}, Method: "online"},
			{Prefix: "42", Lengths: []int{16}, Method: "instore"}, {Prefix: "43", Lengths: []int{16}, Method: "later"}}})
	for code, want := range map[string]bool{
		"4111111111111111": false, "4211111111111111": true, "4311111111111111": true, "4411111111111111": false,
	} {
		if got := h.IsPartnerBarcode(code); got != want {
			t.Errorf("IsPartnerBarcode(%s) = %v, want %v", code, got, want)
		}
	}
}
