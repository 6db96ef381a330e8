package contracts

import "fmt"

// Currency is an ISO 4217 alphabetic currency code such as "JPY".
type Currency string

// Currencies payhub handles. Amounts are always in the currency's ISO 4217 minor unit.
const (
	// JPY is the Japanese yen; it has no minor unit, so ¥1200 is 1200.
	JPY Currency = "JPY"
	// TWD is the New Taiwan dollar (minor unit: 2 digits; LINE Pay accepts whole dollars only).
	TWD Currency = "TWD"
	// THB is the Thai baht (minor unit: 2 digits).
	THB Currency = "THB"
)

// Money is an amount in a currency's minor unit. It is never a float.
type Money struct {
	// Amount is the number of minor units (yen for JPY, cents for TWD/THB).
	Amount int64 `json:"amount"`
	// Currency is the ISO 4217 code.
	Currency Currency `json:"currency"`
}

// String renders m for humans and logs, e.g. "1200 JPY".
func (m Money) String() string { return fmt.Sprintf("%d %s", m.Amount, m.Currency) }
