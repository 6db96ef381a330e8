package storetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"payhub/contracts"

	"github.com/oklog/ulid/v2"
)

// base is the suite's reference time: not UTC and finer than a microsecond, so that the
// round-trip tests prove times come back as UTC truncated to microseconds.
var base = time.Date(2025, 6, 1, 9, 30, 0, 123456789, time.FixedZone("JST", 9*60*60))

// at is base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// stored is how the store gives a time back: UTC at microsecond precision.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// storedPtr is stored for an optional time.
func storedPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	s := stored(*t)
	return &s
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// newID makes a prefixed ULID; ULIDs made later sort later.
func newID(prefix string) string { return prefix + ulid.Make().String() }

// newPayment is a processing payment with every field set.
func newPayment(storeID string) contracts.Payment {
	id := newID("pay_")
	return contracts.Payment{
		ID:                  id,
		StoreID:             storeID,
		ClientID:            "cli_pos",
		TerminalID:          "till-1",
		OrderID:             "order-42",
		Method:              contracts.MethodPayPay,
		Flow:                contracts.FlowQR,
		Amount:              contracts.Money{Amount: 1200, Currency: contracts.JPY},
		AmountRefunded:      0,
		AmountCaptured:      700,
		CaptureMethod:       contracts.CaptureManual,
		Status:              contracts.StatusProcessing,
		UserAuthorizationID: "uaid-1",
		Metadata:            map[string]string{"lane": "3", "note": "ünïcode ✓"},
		NextAction: &contracts.NextAction{
			Type:      contracts.NextActionDisplayQR,
			QRCodeURL: "https://qr.example/abc",
			Deeplink:  "paypay://pay/abc",
			ExpiresAt: ptr(at(5 * time.Minute)),
		},
		FailureCode:        "",
		FailureMessage:     "",
		PartnerCode:        "ACCEPTED",
		Attempt:            1,
		PartnerRef:         id + "-1",
		PartnerPaymentID:   "pp-123",
		PartnerActionRef:   "code-9",
		ReturnURL:          "https://shop.example/return?o=42",
		PartnerSecret:      "v1.c2VhbGVkLXNlY3JldA",
		Card:               &contracts.CardDetails{Brand: "VISA", Last4: "1111", Expiry: "2812"},
		CancelRequested:    true,
		CancellationReason: "customer left",
		EventSequence:      7,
		IdempotencyKey:     "idem-" + id,
		Resolution: contracts.Resolution{Attempts: 3, NextAt: ptr(at(10 * time.Minute)), NotFoundSeen: 1,
			NeedsAttention: true},
		PaidAt:    ptr(at(time.Minute)),
		CreatedAt: base,
		UpdatedAt: at(time.Second),
	}
}

// storedPayment is p as the store returns it.
func storedPayment(p contracts.Payment) contracts.Payment {
	p.PaidAt = storedPtr(p.PaidAt)
	p.Resolution.NextAt = storedPtr(p.Resolution.NextAt)
	p.CreatedAt = stored(p.CreatedAt)
	p.UpdatedAt = stored(p.UpdatedAt)
	if p.NextAction != nil {
		a := *p.NextAction
		a.ExpiresAt = storedPtr(a.ExpiresAt)
		p.NextAction = &a
	}
	return p
}

// newRefund is a pending refund of p with every field set.
func newRefund(p contracts.Payment, amount int64) contracts.Refund {
	id := newID("re_")
	return contracts.Refund{
		ID:              id,
		PaymentID:       p.ID,
		StoreID:         p.StoreID,
		Amount:          contracts.Money{Amount: amount, Currency: p.Amount.Currency},
		Status:          contracts.RefundPending,
		Reason:          "damaged goods",
		PartnerRef:      id,
		PartnerRefundID: "pr-1",
		PartnerCode:     "REQUEST_ACCEPTED",
		FailureCode:     "",
		FailureMessage:  "",
		ClientID:        "cli_pos",
		IdempotencyKey:  "idem-" + id,
		Resolution: contracts.Resolution{Attempts: 2, NextAt: ptr(at(2 * time.Hour)), NotFoundSeen: 1,
			NeedsAttention: true},
		CreatedAt: at(time.Hour),
		UpdatedAt: at(time.Hour + time.Second),
	}
}

// storedRefund is r as the store returns it.
func storedRefund(r contracts.Refund) contracts.Refund {
	r.Resolution.NextAt = storedPtr(r.Resolution.NextAt)
	r.CreatedAt = stored(r.CreatedAt)
	r.UpdatedAt = stored(r.UpdatedAt)
	return r
}

// inTx runs fn in a transaction and fails the test on error.
func inTx(t *testing.T, s contracts.Store, fn func(tx contracts.Tx) error) {
	t.Helper()
	if err := s.InTx(context.Background(), fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

// insertPayment writes p in its own transaction.
func insertPayment(t *testing.T, s contracts.Store, p contracts.Payment) {
	t.Helper()
	inTx(t, s, func(tx contracts.Tx) error { return tx.InsertPayment(context.Background(), p) })
}

// mustGet reads a payment of any store.
func mustGet(t *testing.T, s contracts.Store, id string) contracts.Payment {
	t.Helper()
	p, err := s.GetPayment(context.Background(), "", id)
	if err != nil {
		t.Fatalf("GetPayment(%s): %v", id, err)
	}
	return p
}

// diff lists the fields in which two structs differ, pointers dereferenced; "" when equal.
func diff(got, want any) string {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	if gv.Kind() != reflect.Struct || gv.Type() != wv.Type() {
		if reflect.DeepEqual(got, want) {
			return ""
		}
		return fmt.Sprintf("got %s, want %s", show(got), show(want))
	}
	var b strings.Builder
	for i := range gv.NumField() {
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(g, w) {
			fmt.Fprintf(&b, "\n  %s: got %s, want %s", gv.Type().Field(i).Name, show(g), show(w))
		}
	}
	return b.String()
}

// show renders v with pointers dereferenced and times with their location.
func show(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return "&" + show(rv.Elem().Interface())
	}
	if t, ok := v.(time.Time); ok {
		return t.Format(time.RFC3339Nano) + " (" + t.Location().String() + ")"
	}
	return fmt.Sprintf("%+v", v)
}
