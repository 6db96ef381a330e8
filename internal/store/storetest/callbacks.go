package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"payhub/contracts"
)

// The inbox drops a partner's retries by (partner, event id), hands each received callback
// to one worker at a time and keeps every body for audit.
func testPartnerCallbacks(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	cb := contracts.PartnerCallback{ID: newID("pcb_"), Partner: contracts.MethodPayPay, EventID: "pp-1:COMPLETED", SourceIP: "127.0.0.1",
		Body: []byte(`{"state":"COMPLETED"}`), ReceivedAt: base, Status: contracts.CallbackReceived}
	if ok, err := s.RecordCallback(ctx, cb); err != nil || !ok {
		t.Fatalf("RecordCallback = %v, %v", ok, err)
	}
	again := cb
	again.ID = newID("pcb_")
	if ok, err := s.RecordCallback(ctx, again); err != nil || ok {
		t.Fatalf("RecordCallback(retry) = %v, %v; want dropped", ok, err)
	}
	other := again
	other.Partner = contracts.Method("linepay")
	if ok, err := s.RecordCallback(ctx, other); err != nil || !ok {
		t.Fatalf("the same event id of another partner = %v, %v", ok, err)
	}
	claimed, err := s.ClaimCallbacks(ctx, at(time.Second), at(time.Minute), 10)
	if err != nil || len(claimed) != 2 || claimed[0].ID != cb.ID || string(claimed[0].Body) != string(cb.Body) {
		t.Fatalf("ClaimCallbacks = %+v, %v", claimed, err)
	}
	if again, _ := s.ClaimCallbacks(ctx, at(2*time.Second), at(time.Minute), 10); len(again) != 0 {
		t.Fatalf("claimed %d callbacks twice", len(again))
	}
	if err := s.FinishCallback(ctx, cb.ID, contracts.CallbackIgnored, "stale", at(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishCallback(ctx, cb.ID, contracts.CallbackProcessed, "", at(4*time.Second)); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("FinishCallback twice = %v, want ErrConflict", err)
	}
	if later, _ := s.ClaimCallbacks(ctx, at(2*time.Minute), at(3*time.Minute), 10); len(later) != 1 || later[0].ID != other.ID {
		t.Fatalf("after the lease expired: %+v", later)
	}
	list, err := s.ListCallbacks(ctx, contracts.MethodPayPay)
	if err != nil || len(list) != 1 || list[0].Status != contracts.CallbackIgnored || list[0].Note != "stale" || list[0].ProcessedAt == nil {
		t.Fatalf("ListCallbacks = %+v, %v", list, err)
	}
}

func testFindPaymentByPartnerRef(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	p := newPayment("store-a")
	p.PartnerRef, p.PartnerPaymentID = p.ID+"_1", "pp-"+p.ID
	insertPayment(t, s, p)
	if got, err := s.FindPaymentByPartnerRef(ctx, p.Method, p.PartnerRef, ""); err != nil || got.ID != p.ID {
		t.Errorf("by partner ref: %v %v", got.ID, err)
	}
	if got, err := s.FindPaymentByPartnerRef(ctx, p.Method, "", p.PartnerPaymentID); err != nil || got.ID != p.ID {
		t.Errorf("by partner id: %v %v", got.ID, err)
	}
	for _, c := range [][2]string{{"nope_1", ""}, {"", ""}, {"", "pp-nope"}} {
		if _, err := s.FindPaymentByPartnerRef(ctx, p.Method, c[0], c[1]); !errors.Is(err, contracts.ErrNotFound) {
			t.Errorf("FindPaymentByPartnerRef(%q, %q) = %v, want ErrNotFound", c[0], c[1], err)
		}
	}
	if _, err := s.FindPaymentByPartnerRef(ctx, contracts.Method("linepay"), p.PartnerRef, ""); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("another method's payment: %v", err)
	}
}
