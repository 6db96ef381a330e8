package gmopg

import (
	"net/http"
	"testing"
)

func TestLedgerEndpoints(t *testing.T) {
	h := newHarness(t)
	id, _, _ := h.authorised("led-1", "AUTH", "1500")
	h.entry("led-2", "CAPTURE", "200")
	var all struct {
		Orders []LedgerOrder `json:"orders"`
	}
	if st := h.simJSON(http.MethodGet, "/_sim/orders", "", "", &all); st != 200 || len(all.Orders) != 2 ||
		all.Orders[0].OrderID != "led-1" || all.Orders[1].Status != StatusUnprocessed {
		t.Fatalf("%d %+v", st, all)
	}
	var one LedgerOrder
	if st := h.simJSON(http.MethodGet, "/_sim/orders/led-1", "", "", &one); st != 200 || one.AccessID != id ||
		one.Amount != 1500 || one.AuthorisedAmount != 1500 || one.Card == nil || one.Card.Last4 != "1111" || one.AuthExpiresAt.IsZero() {
		t.Fatalf("%d %+v", st, one)
	}
	if st := h.simJSON(http.MethodGet, "/_sim/orders/nope", "", "", nil); st != 404 {
		t.Fatalf("%d", st)
	}
	if st := h.simJSON(http.MethodPost, "/_sim/orders/led-2/expire-auth", "", "", nil); st != 409 {
		t.Fatalf("%d", st)
	}
	if st := h.simJSON(http.MethodPost, "/_sim/orders/led-1/expire-auth", "", "", &one); st != 200 || !one.AuthExpired {
		t.Fatalf("%d %+v", st, one)
	}
	var fx struct {
		Fixtures []map[string]any `json:"fixtures"`
		Kinds    []string         `json:"kinds"`
	}
	if st := h.simJSON(http.MethodGet, "/_sim/fixtures", "", "", &fx); st != 200 || len(fx.Fixtures) != len(kinds) || len(fx.Kinds) != len(kinds)-2 {
		t.Fatalf("%d %+v", st, fx)
	}
	if st := h.simJSON(http.MethodGet, "/_sim/nothing", "", "", nil); st != 404 {
		t.Fatalf("%d", st)
	}
	if len(h.sim.Orders()) != 2 {
		t.Fatal("Orders")
	}
}
