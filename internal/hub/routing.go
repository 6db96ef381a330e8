package hub

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"payhub/contracts"
)

// BarcodeRule says which method a scanned customer code belongs to: under the Payments
// Japan CPM guideline each code-payment provider starts its codes with a registered
// identifier, so a till can tell the brand from the code alone.
type BarcodeRule struct {
	// Prefix is the provider identifier the code starts with.
	Prefix string
	// Lengths are the code lengths the provider issues.
	Lengths []int
	// Method is the method the code routes to.
	Method contracts.Method
}

// DefaultBarcodeRules is payhub's default prefix table. Each row is a payhub convention that
// the simulators follow, not a partner's published fact: check it against the contracted
// partner specifications before production (docs/partners/paypay.md §11; docs/partners/linepay.md §7.4; docs/partners/nanaco.md).
var DefaultBarcodeRules = []BarcodeRule{
	{Prefix: "9000818188", Lengths: []int{18}, Method: contracts.MethodPayPay},
	{Prefix: "39", Lengths: []int{12, 18}, Method: contracts.MethodLinePay},
	{Prefix: "7", Lengths: []int{16}, Method: contracts.MethodNanaco},
}

// RouteBarcode returns the method of the first rule whose prefix and length match code;
// the longest prefix wins when rules overlap. An unknown code answers 422
// unsupported_barcode.
func RouteBarcode(rules []BarcodeRule, code string) (contracts.Method, error) {
	best := -1
	for i, r := range rules {
		if strings.HasPrefix(code, r.Prefix) && slices.Contains(r.Lengths, len(code)) &&
			(best < 0 || len(r.Prefix) > len(rules[best].Prefix)) {
			best = i
		}
	}
	if best < 0 {
		return "", fieldError(contracts.CodeUnsupportedBarcode, "/barcode",
			"The scanned code belongs to no payment method payhub knows.")
	}
	return rules[best].Method, nil
}

// ParseBarcodeRules reads a prefix table written as
// "paypay=9000818188:18,linepay=39:12|18,nanaco=7:16" (method=prefix:length|length,…),
// the form of the PAYHUB_BARCODE_PREFIXES setting.
func ParseBarcodeRules(s string) ([]BarcodeRule, error) {
	var rules []BarcodeRule
	for _, item := range strings.Split(s, ",") {
		method, rest, ok1 := strings.Cut(strings.TrimSpace(item), "=")
		prefix, lengths, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || method == "" || prefix == "" || strings.Trim(prefix, "0123456789") != "" {
			return nil, fmt.Errorf("barcode rule %q: want method=digits:length|length", item)
		}
		r := BarcodeRule{Prefix: prefix, Method: contracts.Method(method)}
		for _, l := range strings.Split(lengths, "|") {
			n, err := strconv.Atoi(l)
			if err != nil || n < len(prefix) || n > 32 {
				return nil, fmt.Errorf("barcode rule %q: bad length %q", item, l)
			}
			r.Lengths = append(r.Lengths, n)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// IsPartnerBarcode reports whether code is a customer code the routing table gives to a
// method whose partner takes scanned codes (flow barcode), or to a method not configured
// here (nanaco until its adapter exists): such a code is the partner's, not a card number,
// even when its digits happen to pass the card checks (LINE Pay's 39… My Codes). A code
// routed to a configured partner without flow barcode (cards) is not exempted.
func (h *Hub) IsPartnerBarcode(code string) bool {
	m, err := RouteBarcode(h.barcodeRules, code)
	if err != nil {
		return false
	}
	caps, ok := h.capabilitiesOf(m)
	return !ok || caps.Supports(contracts.FlowBarcode)
}
