// The PayPay webhook round trip lives here, in the one package allowed to import both
// adapters/ and mocks/: what the simulator sends, the adapter must read.

package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"payhub/adapters/paypay"
	"payhub/contracts"
	simpaypay "payhub/mocks/paypay"
	"payhub/mocks/sim"
)

// webhookInbox is an httptest receiver keeping every body PayPay's simulator posts.
type webhookInbox struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (in *webhookInbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	in.mu.Lock()
	in.bodies = append(in.bodies, body)
	in.mu.Unlock()
	_, _ = io.WriteString(w, "OK")
}

func (in *webhookInbox) received() [][]byte {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([][]byte{}, in.bodies...)
}

func TestPayPayWebhookRoundTrip(t *testing.T) {
	inbox := &webhookInbox{}
	receiver := httptest.NewServer(inbox)
	t.Cleanup(receiver.Close)
	clock := sim.NewManualClock(time.Date(2026, 3, 2, 11, 0, 0, 0, contracts.JST))
	s := simpaypay.New(simpaypay.Config{
		APIKey: "wh-key", APISecret: "wh-secret", MerchantID: "wh-merchant", Clock: clock,
		WebhookURL: receiver.URL,
	})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	adapter, err := paypay.New(paypay.Config{
		BaseURL: srv.URL, APIKey: "wh-key", APISecret: "wh-secret", MerchantID: "wh-merchant", Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	flush := func() [][]byte {
		t.Helper()
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := s.FlushNotifications(fctx); err != nil {
			t.Fatalf("notifications did not settle: %v", err)
		}
		return inbox.received()
	}
	amount := contracts.Money{Amount: 1200, Currency: contracts.JPY}

	// A barcode payment: COMPLETED, named by its merchantPaymentId.
	paid := adapter.CreatePayment(ctx, contracts.PaymentRequest{
		PartnerRef: "pay_wh_1", Amount: amount, Flow: contracts.FlowBarcode,
		Barcode: s.IssueBarcode(simpaypay.UserOK), StoreID: "store-1", TerminalID: "till-1",
	})
	if paid.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("payment: %+v", paid)
	}
	bodies := flush()
	if len(bodies) != 1 {
		t.Fatalf("received %d notifications, want 1", len(bodies))
	}
	n, err := adapter.ParseNotification(bodies[0])
	if err != nil {
		t.Fatalf("adapter refused the simulator's notification: %v", err)
	}
	if n.EventID != paid.PartnerPaymentID+":COMPLETED" || n.PartnerRef != "pay_wh_1" ||
		n.PartnerPaymentID != paid.PartnerPaymentID || n.State != "COMPLETED" {
		t.Fatalf("notification %+v for payment %+v", n, paid)
	}
	if n.OccurredAt == nil || paid.PaidAt == nil || !n.OccurredAt.Equal(*paid.PaidAt) {
		t.Fatalf("OccurredAt %v, payment PaidAt %v", n.OccurredAt, paid.PaidAt)
	}

	// A pre-authorization: AUTHORIZED with an empty merchant_order_id, so only PayPay's
	// paymentId names it.
	clock.Advance(time.Minute)
	authorized := adapter.CreatePayment(ctx, contracts.PaymentRequest{
		PartnerRef: "pay_wh_2", Amount: contracts.Money{Amount: 900, Currency: contracts.JPY}, Flow: contracts.FlowLinked, CaptureMethod: contracts.CaptureManual,
		UserAuthorizationID: simpaypay.UserOK,
	})
	if authorized.Outcome != contracts.OutcomeAuthorized {
		t.Fatalf("authorization: %+v", authorized)
	}
	bodies = flush()
	if len(bodies) != 2 {
		t.Fatalf("received %d notifications, want 2", len(bodies))
	}
	n, err = adapter.ParseNotification(bodies[1])
	if err != nil {
		t.Fatalf("adapter refused the AUTHORIZED notification: %v", err)
	}
	if n.EventID != authorized.PartnerPaymentID+":AUTHORIZED" || n.PartnerRef != "" ||
		n.PartnerPaymentID != authorized.PartnerPaymentID || n.State != "AUTHORIZED" ||
		n.OccurredAt == nil || !n.OccurredAt.Equal(clock.Now()) {
		t.Fatalf("notification %+v for authorization %+v", n, authorized)
	}

	// The same bodies under another merchant's adapter are refused.
	other, err := paypay.New(paypay.Config{BaseURL: srv.URL, APIKey: "k", APISecret: "s", MerchantID: "someone-else"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ParseNotification(bodies[0]); !errors.Is(err, paypay.ErrOtherMerchant) {
		t.Fatalf("another merchant's adapter: %v", err)
	}
}
