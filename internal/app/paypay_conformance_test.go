// The adapter conformance suite lives here, in the one package allowed to import both
// adapters/ and mocks/: the adapter and its simulator stay independent implementations.

package app

import (
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"payhub/adapters/adaptertest"
	"payhub/adapters/paypay"
	"payhub/contracts"
	simpaypay "payhub/mocks/paypay"
	"payhub/mocks/sim"
)

// TestPayPayAdapterConformance runs the adapter conformance suite against the PayPay simulator, once for
// each way the simulator may answer a query about a withdrawn QR code
// (docs/partners/paypay.md §4.3).
func TestPayPayAdapterConformance(t *testing.T) {
	for name, expiredQRNotFound := range map[string]bool{"QRStaysCreated": false, "QRNotFound": true} {
		t.Run(name, func(t *testing.T) {
			clock := sim.NewManualClock(time.Date(2026, 3, 2, 11, 0, 0, 0, contracts.JST))
			s := simpaypay.New(simpaypay.Config{
				APIKey: "conf-key", APISecret: "conf-secret", MerchantID: "conf-merchant",
				Clock: clock, ExpiredQRNotFound: expiredQRNotFound,
			})
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			adapter, err := paypay.New(paypay.Config{
				BaseURL: srv.URL, APIKey: "conf-key", APISecret: "conf-secret", MerchantID: "conf-merchant",
				Now: clock.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			var refs atomic.Int64
			adaptertest.Run(t, adaptertest.Harness{
				Partner:  adapter,
				Currency: contracts.JPY,
				Barcode: func(t *testing.T, outcome string) string {
					switch outcome {
					case adaptertest.OK:
						return s.IssueBarcode(simpaypay.UserOK)
					case adaptertest.InsufficientFunds:
						return simpaypay.BarcodeNoFunds
					case adaptertest.UserNotActive:
						return simpaypay.BarcodeInactive
					case adaptertest.Expired:
						return simpaypay.BarcodeExpired
					case adaptertest.BarcodeInvalid:
						return simpaypay.BarcodeInvalid
					}
					return ""
				},
				LinkedUser: func(outcome string) string {
					return map[string]string{
						adaptertest.OK: simpaypay.UserOK, adaptertest.InsufficientFunds: simpaypay.UserNoFunds,
						adaptertest.UserNotActive: simpaypay.UserInactive, adaptertest.Expired: simpaypay.UserExpired,
					}[outcome]
				},
				CustomerPaysQR: func(t *testing.T, _ contracts.PaymentResult, ref contracts.PaymentRef) {
					if err := s.PayQR(ref.PartnerRef, simpaypay.UserOK); err != nil {
						t.Fatalf("customer could not pay the QR: %v", err)
					}
				},
				ManualCapture: true,
				CaptureIDs:    true,
				NewRef:        func() string { return fmt.Sprintf("conf_%d", refs.Add(1)) },
				Now:           clock.Now,
			})
		})
	}
}

// TestRefundLearnsPaymentIDFromSimulator: a refund of a payment whose PayPay paymentId
// payhub never learned (e.g. resolved from unknown) asks the simulator for it first.
func TestRefundLearnsPaymentIDFromSimulator(t *testing.T) {
	s := simpaypay.New(simpaypay.Config{})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	adapter, err := paypay.New(paypay.Config{BaseURL: srv.URL, APIKey: simpaypay.DemoAPIKey,
		APISecret: simpaypay.DemoAPISecret, MerchantID: simpaypay.DemoMerchantID})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	amount := contracts.Money{Amount: 1500, Currency: contracts.JPY}
	paid := adapter.CreatePayment(ctx, contracts.PaymentRequest{PartnerRef: "pay_learn_1", Amount: amount,
		Flow: contracts.FlowLinked, UserAuthorizationID: simpaypay.UserOK})
	if paid.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("payment: %+v", paid)
	}
	ref := contracts.PaymentRef{PartnerRef: "pay_learn_1", Flow: contracts.FlowLinked, Amount: amount, Status: contracts.StatusSucceeded}
	res := adapter.Refund(ctx, contracts.RefundRequest{PartnerRef: "re_learn_1", Payment: ref, Amount: amount})
	if res.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("refund: %+v", res)
	}
	missing := adapter.Refund(ctx, contracts.RefundRequest{PartnerRef: "re_learn_2",
		Payment: contracts.PaymentRef{PartnerRef: "pay_never", Flow: contracts.FlowLinked}, Amount: amount})
	if missing.Outcome != contracts.OutcomeFailed {
		t.Fatalf("refund of an unknown payment: %+v", missing)
	}
}
