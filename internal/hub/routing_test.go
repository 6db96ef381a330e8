package hub

import (
	"testing"

	"payhub/contracts"
	"payhub/internal/render"
)

func TestRouteBarcodeDefaults(t *testing.T) {
	for code, want := range map[string]contracts.Method{
		"900081818800000000": contracts.MethodPayPay,
		"900081818812345678": contracts.MethodPayPay,
		"391234567890":       contracts.MethodLinePay, // Thailand: 12 digits
		"391234567890123456": contracts.MethodLinePay, // Taiwan: 18 digits
		"7000000000000001":   contracts.MethodNanaco,
	} {
		got, err := RouteBarcode(DefaultBarcodeRules, code)
		if err != nil || got != want {
			t.Errorf("RouteBarcode(%s) = %q, %v; want %q", code, got, err, want)
		}
	}
	for _, code := range []string{
		"900081818800000",     // PayPay prefix, wrong length
		"123456789012345678",  // no provider
		"70000000000000012",   // nanaco prefix, 17 digits
		"4111111111111111",    // a card number is no code payment
		"9000818189000000000", // near miss on PayPay's prefix
	} {
		_, err := RouteBarcode(DefaultBarcodeRules, code)
		if e, ok := contracts.AsError(err); !ok || e.Code != contracts.CodeUnsupportedBarcode || render.ErrorStatus(e) != 422 {
			t.Errorf("RouteBarcode(%s) = %v; want 422 unsupported_barcode", code, err)
		}
	}
}

func TestLongestPrefixWins(t *testing.T) {
	rules := []BarcodeRule{{Prefix: "9", Lengths: []int{18}, Method: "short"}, {Prefix: "9000818188", Lengths: []int{18}, Method: contracts.MethodPayPay}}
	if got, _ := RouteBarcode(rules, "900081818800000000"); got != contracts.MethodPayPay {
		t.Fatalf("got %q", got)
	}
}

func TestParseBarcodeRules(t *testing.T) {
	rules, err := ParseBarcodeRules("paypay=9000818188:18,linepay=39:12|18,nanaco=7:16")
	if err != nil || len(rules) != 3 || rules[1].Lengths[1] != 18 || rules[2].Method != contracts.MethodNanaco {
		t.Fatalf("%+v %v", rules, err)
	}
	for _, bad := range []string{"", "paypay", "paypay=9x:18", "paypay=9:", "paypay=90:1", "=9:18"} {
		if _, err := ParseBarcodeRules(bad); err == nil {
			t.Errorf("ParseBarcodeRules(%q) accepted", bad)
		}
	}
}
