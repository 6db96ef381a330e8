package migration

import (
	"errors"
	"fmt"
)

// Caps are the limits a move is bound by, after LINE Pay's move to PayPay (¥20,000 a day,
// ¥100,000 in all per user; what did not fit was refunded to a bank account) and nanaco's
// centre-held room (docs/migration.md §4, docs/partners/nanaco.md §B5).
type Caps struct {
	// Daily is the most moved to a user's nanaco or PayPay in one day.
	Daily int64
	// Total is the most ever moved to a user's nanaco or PayPay.
	Total int64
	// NanacoRoom is the centre-held room a transfer into a nanaco card has on the first day
	// (¥50,000 on a card whose centre-held value is empty).
	NanacoRoom int64
}

// The default caps.
const (
	// DefaultDailyCap is ¥20,000 a day, as LINE Pay's move to PayPay.
	DefaultDailyCap int64 = 20_000
	// DefaultTotalCap is ¥100,000 in all, as LINE Pay's move to PayPay.
	DefaultTotalCap int64 = 100_000
	// NanacoCentreHeldCap is nanaco's centre-held cap (docs/partners/nanaco.md §B5).
	NanacoCentreHeldCap int64 = 50_000
)

// DefaultCaps are the LINE Pay precedent's caps and nanaco's empty centre-held room.
func DefaultCaps() Caps {
	return Caps{Daily: DefaultDailyCap, Total: DefaultTotalCap, NanacoRoom: NanacoCentreHeldCap}
}

// Validate refuses caps a plan cannot use.
func (c Caps) Validate() error {
	switch {
	case c.Daily <= 0:
		return errors.New("the daily cap must be positive")
	case c.Total <= 0:
		return errors.New("the total cap must be positive")
	case c.Daily > c.Total:
		return fmt.Errorf("the daily cap (%d) is above the total cap (%d)", c.Daily, c.Total)
	case c.NanacoRoom <= 0 || c.NanacoRoom > NanacoCentreHeldCap:
		return fmt.Errorf("the nanaco room must be from 1 to %d yen", NanacoCentreHeldCap)
	}
	return nil
}

// Split is how one balance is moved. Now + Deferred + BankRefund + Held == the balance.
type Split struct {
	// Now is moved on the first day.
	Now int64
	// Deferred is moved on later days (the daily cap, or nanaco's centre-held room, bound
	// the first day).
	Deferred int64
	// BankRefund goes to the user's bank account: a bank destination's whole balance, or what
	// is over the total cap when a refund account is given.
	BankRefund int64
	// Held cannot be moved as the row stands: over the total cap with no refund account, or
	// a user who chose no destination.
	Held int64
	// Days is how many days the wallet move takes (0 when nothing moves to a wallet).
	Days int64
}

// Split applies the caps to one balance of the given destination kind; refundAccount says
// the row gives a bank account. Rules (docs/migration.md §4):
//
//   - bank: everything is refunded now (BankRefund); the caps bound wallet moves only.
//   - none: everything is Held until the user chooses.
//   - paypay: min(balance, Total) moves, Daily a day: the first day's part is Now, the rest
//     Deferred; what is over Total is BankRefund with a refund account, else Held.
//   - nanaco: as paypay, and the first day is also bounded by NanacoRoom (a transfer lands
//     centre-held); the days after take min(Daily, NanacoRoom) each, assuming the user's
//     balance-check tap empties centre-held between days.
func (c Caps) Split(kind Kind, balance int64, refundAccount bool) Split {
	switch kind {
	case KindBank:
		return Split{BankRefund: balance}
	case KindNanaco, KindPayPay:
	default:
		return Split{Held: balance}
	}
	perDay := c.Daily
	if kind == KindNanaco {
		perDay = min(perDay, c.NanacoRoom)
	}
	moving := min(balance, c.Total)
	s := Split{Now: min(moving, perDay)}
	s.Deferred = moving - s.Now
	if moving > 0 {
		s.Days = (moving + perDay - 1) / perDay
	}
	if refundAccount {
		s.BankRefund = balance - moving
	} else {
		s.Held = balance - moving
	}
	return s
}
