// Package ledger owns payhub's double-entry bookkeeping: the chart of accounts, the rules
// that turn a state change of a payment, refund or top-up into one balanced
// contracts.LedgerTransaction, and the check that proves the ledger balances and agrees
// with the payments, refunds and top-ups tables (payhub ledger check).
//
// Amounts are int64 in the currency's minor unit, never floats. A transaction's id is
// derived from its object and event ("payment:<id>:captured"), and the store keeps ids
// unique, so a state change posts at most once however often it is replayed. Entries are
// never changed or removed: a correction is a new transaction.
//
// Posting rules (the engine posts them in the database transaction of the state change,
// internal/hub/ledger.go):
//
//	payment succeeded (taken, captured in full or in part, a split tender's debit)
//	    Dr partner_clearing:<partner>   Cr store_receivable:<store>    AmountCaptured
//	payment canceled or failed after it succeeded (reversed)
//	    Dr store_receivable:<store>     Cr partner_clearing:<partner>  what was booked
//	refund succeeded
//	    Dr store_receivable:<store>     Cr partner_clearing:<partner>  refund Amount
//	top-up succeeded, paid in cash
//	    Dr store_receivable:<store>     Cr stored_value_issued:<partner>
//	top-up succeeded, paid with the card's points
//	    Dr points_redeemed:<partner>    Cr stored_value_issued:<partner>
//	top-up canceled after it succeeded: the reverse of its posting.
package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"payhub/contracts"
)

// Account name prefixes: an account of a family is the prefix followed by the partner or
// store it is kept for.
const (
	// PartnerClearingPrefix: what a partner owes payhub's merchants for captured payments
	// not refunded (debit-normal; never negative).
	PartnerClearingPrefix = "partner_clearing:"
	// StoreReceivablePrefix: what is due to a store for its payments, less its refunds and
	// the cash it took for top-ups (credit-normal; negative when a store took more top-up
	// cash than it sold).
	StoreReceivablePrefix = "store_receivable:"
	// StoredValueIssuedPrefix: stored value loaded onto a partner's cards through payhub
	// and not cancelled (credit-normal; never negative).
	StoredValueIssuedPrefix = "stored_value_issued:"
	// PointsRedeemedPrefix: the cards' own points exchanged for stored value at a
	// partner (debit-normal; never negative).
	PointsRedeemedPrefix = "points_redeemed:"
	// MigrationInTransitPrefix: retired-wallet balances on their way to a partner
	// (debit-normal; never negative). Placeholder for the wallet migration.
	MigrationInTransitPrefix = "migration_in_transit:"
	// CompensationInTransitPrefix: compensation set off to a partner (a nanaco re-credit
	// written before its call) whose outcome is not settled yet (credit-normal; never
	// negative; back at zero once every re-credit settled, docs/compensation.md).
	CompensationInTransitPrefix = "compensation_in_transit:"
	// CompensationRecreditedPrefix: compensation a partner credited to victims' cards, owed
	// to the partner until settled with it (credit-normal; never negative).
	CompensationRecreditedPrefix = "compensation_recredited:"
)

// Accounts kept once, not per partner or store: placeholders the wallet migration posts to.
const (
	// RetiredWalletLiability: the balances customers still hold in the retired wallet
	// (credit-normal; never negative).
	RetiredWalletLiability = "retired_wallet_liability"
	// CompensationExpense: what the chain pays customers as compensation (debit-normal).
	CompensationExpense = "compensation_expense"
	// BankRefundPayable: wallet balances to be paid back to customers' bank accounts
	// (credit-normal; never negative).
	BankRefundPayable = "bank_refund_payable"
)

// PartnerClearing is the clearing account of partner (contracts.PartnerOf), e.g.
// "partner_clearing:paypay".
func PartnerClearing(partner string) string { return PartnerClearingPrefix + partner }

// StoreReceivable is the account of what is due to store, e.g. "store_receivable:store-1".
func StoreReceivable(storeID string) string { return StoreReceivablePrefix + storeID }

// StoredValueIssued is the account of the stored value issued on partner's cards.
func StoredValueIssued(partner string) string { return StoredValueIssuedPrefix + partner }

// PointsRedeemed is the account of the points exchanged for stored value at partner.
func PointsRedeemed(partner string) string { return PointsRedeemedPrefix + partner }

// MigrationInTransit is the account of retired-wallet balances on their way to partner.
func MigrationInTransit(partner string) string { return MigrationInTransitPrefix + partner }

// CompensationInTransit is the account of compensation on its way to partner.
func CompensationInTransit(partner string) string { return CompensationInTransitPrefix + partner }

// CompensationRecredited is the account of compensation partner credited to victims' cards.
func CompensationRecredited(partner string) string { return CompensationRecreditedPrefix + partner }

// DebitNormal reports whether account's balance is its debits less its credits (assets,
// expenses); otherwise it is its credits less its debits (liabilities).
func DebitNormal(account string) bool {
	return strings.HasPrefix(account, PartnerClearingPrefix) || strings.HasPrefix(account, PointsRedeemedPrefix) ||
		strings.HasPrefix(account, MigrationInTransitPrefix) || account == CompensationExpense
}

// MustNotGoNegative reports whether account's balance (Balance) may never be below zero:
// a partner cannot owe less than nothing, no more value can be cancelled than was issued,
// and the wallet's liabilities cannot be overpaid.
func MustNotGoNegative(account string) bool {
	for _, p := range []string{PartnerClearingPrefix, StoredValueIssuedPrefix, PointsRedeemedPrefix, MigrationInTransitPrefix,
		CompensationInTransitPrefix, CompensationRecreditedPrefix} {
		if strings.HasPrefix(account, p) {
			return true
		}
	}
	return account == RetiredWalletLiability || account == BankRefundPayable
}

// Balance is b's balance on the account's normal side (DebitNormal).
func Balance(b contracts.LedgerBalance) int64 {
	if DebitNormal(b.Account) {
		return b.Debit - b.Credit
	}
	return b.Credit - b.Debit
}

// partnerOf names the partner of method in account names (contracts.PartnerOf); a method
// no partner is known for is named after itself, as migration 00022 names it.
func partnerOf(m contracts.Method) string {
	if p := contracts.PartnerOf(m); p != "" {
		return p
	}
	return string(m)
}

// Kinds of ledger transactions.
const (
	// KindPaymentCaptured: a payment succeeded (taken, or captured in full or in part).
	KindPaymentCaptured contracts.LedgerKind = "payment.captured"
	// KindPaymentReversed: a succeeded payment was canceled, or its provisional success
	// failed.
	KindPaymentReversed contracts.LedgerKind = "payment.reversed"
	// KindPaymentCaptureAdjusted: a succeeded payment's captured amount changed.
	KindPaymentCaptureAdjusted contracts.LedgerKind = "payment.capture_adjusted"
	// KindRefundSucceeded: a refund succeeded.
	KindRefundSucceeded contracts.LedgerKind = "refund.succeeded"
	// KindTopUpSucceeded: a top-up succeeded.
	KindTopUpSucceeded contracts.LedgerKind = "top_up.succeeded"
	// KindTopUpCanceled: a succeeded top-up was cancelled.
	KindTopUpCanceled contracts.LedgerKind = "top_up.canceled"
)

// transfer is the transaction moving amount from the credited account to the debited one.
func transfer(id string, kind contracts.LedgerKind, object contracts.LedgerObject, objectID string,
	debit, credit string, amount contracts.Money, at time.Time) contracts.LedgerTransaction {
	return contracts.LedgerTransaction{ID: id, Kind: kind, ObjectType: object, ObjectID: objectID, CreatedAt: at,
		Entries: []contracts.LedgerEntry{
			{Account: debit, Debit: amount.Amount, Currency: amount.Currency},
			{Account: credit, Credit: amount.Amount, Currency: amount.Currency},
		}}
}

// Booked is what a payment in its current state holds on the ledger: its captured amount
// while it is succeeded (provisional or not), nothing otherwise. Refunds are posted on
// their own.
func Booked(p contracts.Payment) int64 {
	if p.Status == contracts.StatusSucceeded {
		return p.AmountCaptured
	}
	return 0
}

// PaymentCaptured is the posting of p taking amount (its AmountCaptured: all of it, a
// partial capture, or what a split tender's card held).
func PaymentCaptured(p contracts.Payment, amount int64, at time.Time) contracts.LedgerTransaction {
	return transfer("payment:"+p.ID+":captured", KindPaymentCaptured, contracts.LedgerObjectPayment, p.ID,
		PartnerClearing(partnerOf(p.Method)), StoreReceivable(p.StoreID),
		contracts.Money{Amount: amount, Currency: p.Amount.Currency}, at)
}

// PaymentReversed is the posting of p's booked amount given back: canceled after it
// succeeded, or a provisional success the partner reversed.
func PaymentReversed(p contracts.Payment, amount int64, at time.Time) contracts.LedgerTransaction {
	return transfer("payment:"+p.ID+":reversed", KindPaymentReversed, contracts.LedgerObjectPayment, p.ID,
		StoreReceivable(p.StoreID), PartnerClearing(partnerOf(p.Method)),
		contracts.Money{Amount: amount, Currency: p.Amount.Currency}, at)
}

// PaymentCaptureAdjusted is the posting of a succeeded payment whose captured amount moved
// from one amount to another (a capture whose answer was lost, learnt later).
func PaymentCaptureAdjusted(p contracts.Payment, from, to int64, at time.Time) contracts.LedgerTransaction {
	id := fmt.Sprintf("payment:%s:adjusted:%d:%d>%d", p.ID, p.EventSequence, from, to)
	debit, credit := PartnerClearing(partnerOf(p.Method)), StoreReceivable(p.StoreID)
	amount := to - from
	if amount < 0 {
		debit, credit, amount = credit, debit, -amount
	}
	return transfer(id, KindPaymentCaptureAdjusted, contracts.LedgerObjectPayment, p.ID, debit, credit,
		contracts.Money{Amount: amount, Currency: p.Amount.Currency}, at)
}

// ForPayment is the posting of a payment moving from before to after, if money moved:
// captured when it starts to hold money, reversed when it stops, adjusted when what it
// holds changes. before is the zero Payment for a new one.
func ForPayment(before, after contracts.Payment, at time.Time) (contracts.LedgerTransaction, bool) {
	was, is := Booked(before), Booked(after)
	switch {
	case was == is:
		return contracts.LedgerTransaction{}, false
	case was == 0:
		return PaymentCaptured(after, is, at), true
	case is == 0:
		return PaymentReversed(after, was, at), true
	}
	return PaymentCaptureAdjusted(after, was, is, at), true
}

// RefundSucceeded is the posting of r, a refund of a payment with method, succeeding.
func RefundSucceeded(method contracts.Method, r contracts.Refund, at time.Time) contracts.LedgerTransaction {
	return transfer("refund:"+r.ID+":succeeded", KindRefundSucceeded, contracts.LedgerObjectRefund, r.ID,
		StoreReceivable(r.StoreID), PartnerClearing(partnerOf(method)), r.Amount, at)
}

// ForRefund is the posting of a refund (of a payment with method) moving from before to
// after: RefundSucceeded when it enters succeeded. Refunds never leave succeeded.
func ForRefund(method contracts.Method, before, after contracts.Refund, at time.Time) (contracts.LedgerTransaction, bool) {
	if after.Status != contracts.RefundSucceeded || before.Status == contracts.RefundSucceeded || after.Amount.Amount <= 0 {
		return contracts.LedgerTransaction{}, false
	}
	return RefundSucceeded(method, after, at), true
}

// topUpSource is the account a top-up's value is paid from: the store's till for cash, the
// partner's points for points.
func topUpSource(t contracts.TopUp) string {
	if t.Funding == contracts.FundingPoints {
		return PointsRedeemed(partnerOf(t.Method))
	}
	return StoreReceivable(t.StoreID)
}

// TopUpSucceeded is the posting of t loading its amount onto a card.
func TopUpSucceeded(t contracts.TopUp, at time.Time) contracts.LedgerTransaction {
	return transfer("top_up:"+t.ID+":succeeded", KindTopUpSucceeded, contracts.LedgerObjectTopUp, t.ID,
		topUpSource(t), StoredValueIssued(partnerOf(t.Method)), t.Amount, at)
}

// TopUpCanceled is the posting of a succeeded top-up cancelled: its posting reversed.
func TopUpCanceled(t contracts.TopUp, at time.Time) contracts.LedgerTransaction {
	return transfer("top_up:"+t.ID+":canceled", KindTopUpCanceled, contracts.LedgerObjectTopUp, t.ID,
		StoredValueIssued(partnerOf(t.Method)), topUpSource(t), t.Amount, at)
}

// ForTopUp is the posting of a top-up moving from before to after: TopUpSucceeded when it
// enters succeeded, TopUpCanceled when it leaves it. A top-up an inquiry finds already
// cancelled (unknown → canceled) moved nothing.
func ForTopUp(before, after contracts.TopUp, at time.Time) (contracts.LedgerTransaction, bool) {
	was, is := before.Status == contracts.TopUpSucceeded, after.Status == contracts.TopUpSucceeded
	switch {
	case was == is || after.Amount.Amount <= 0:
		return contracts.LedgerTransaction{}, false
	case is:
		return TopUpSucceeded(after, at), true
	}
	return TopUpCanceled(after, at), true
}

// Post writes t in the database transaction tx after checking that it balances per
// currency (contracts.ErrLedgerUnbalanced otherwise, and nothing is written). A t posted
// before is not posted again.
func Post(ctx context.Context, tx contracts.LedgerTx, t contracts.LedgerTransaction) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("ledger: post: %w", err)
	}
	if err := tx.PostLedger(ctx, t); err != nil {
		return fmt.Errorf("ledger: post %s: %w", t.ID, err)
	}
	return nil
}
