package linepay

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strconv"
)

// amount is a money amount in hundredths of the major unit, so TWD 100 is 10000 and
// THB 12.5 is 1250. Amounts arrive and leave as JSON numbers in major units
// (docs/partners/linepay.md §7.2); they are parsed as exact decimals, never through float64.
type amount int64

// maxAmount bounds parsed amounts far below int64 overflow.
const maxAmount = amount(1e15)

// decimalsOf is how many decimals a currency's amounts may carry: TWD (and JPY) whole
// units, THB and USD up to two (unconfirmed, §7.2).
func decimalsOf(currency string) int {
	switch currency {
	case "TWD", "JPY":
		return 0
	default:
		return 2
	}
}

// isJSONNumber reports whether raw is a bare JSON number (not a string, bool or null).
func isJSONNumber(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))
}

// parseAmount reads a JSON number as an amount in currency: 2101 when it is absent or not a
// number, 1124 when it has more decimals than the currency allows, 1183 when it is ≤ 0.
func parseAmount(raw json.RawMessage, currency string) (amount, *apiError) {
	a, err := parseSignedAmount(raw, currency)
	if err != nil {
		return 0, err
	}
	if a <= 0 {
		return 0, fail(codeAmountNotPositive)
	}
	return a, nil
}

// parseSignedAmount is parseAmount without the sign check.
func parseSignedAmount(raw json.RawMessage, currency string) (amount, *apiError) {
	if !isJSONNumber(raw) {
		return 0, fail(codeParameterError, "amount must be a JSON number")
	}
	r, ok := new(big.Rat).SetString(string(bytes.TrimSpace(raw)))
	if !ok {
		return 0, fail(codeParameterError, "amount must be a JSON number")
	}
	scale := big.NewRat(1, 1)
	for range decimalsOf(currency) {
		scale.Mul(scale, big.NewRat(10, 1))
	}
	if !new(big.Rat).Mul(r, scale).IsInt() {
		return 0, fail(codeBadScale)
	}
	h := new(big.Rat).Mul(r, big.NewRat(100, 1))
	if !h.IsInt() || h.Num().CmpAbs(big.NewInt(int64(maxAmount))) > 0 {
		return 0, fail(codeParameterError, "amount out of range")
	}
	return amount(h.Num().Int64()), nil
}

// parseQuantity reads a product quantity: a positive JSON integer.
func parseQuantity(raw json.RawMessage) (int64, bool) {
	if !isJSONNumber(raw) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	return n, err == nil && n > 0 && n < 1e9
}

// String formats a in major units, as few decimals as needed: "100", "12.5", "-3.25".
func (a amount) String() string {
	neg := a < 0
	if neg {
		a = -a
	}
	s := strconv.FormatInt(int64(a/100), 10)
	if c := int64(a % 100); c != 0 {
		frac := strconv.FormatInt(c+100, 10)[1:] // two digits
		if frac[1] == '0' {
			frac = frac[:1]
		}
		s += "." + frac
	}
	if neg {
		s = "-" + s
	}
	return s
}

// MarshalJSON writes a as a bare JSON number in major units.
func (a amount) MarshalJSON() ([]byte, error) { return []byte(a.String()), nil }

// number is a as a json.Number, the ledger's amount type.
func (a amount) number() json.Number { return json.Number(a.String()) }
