package contracts

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// The double-entry ledger: every money movement payhub performs (a payment taken, a capture,
// a reversal, a refund, a top-up and its cancel, later the wallet migration's transfers and
// compensations) posts one balanced LedgerTransaction to named accounts, in the database
// transaction of the state change it records. Entries are never changed or removed;
// corrections are new transactions. internal/ledger names the accounts and builds the
// transactions; the store keeps them.

// ErrLedgerUnbalanced marks a ledger transaction whose debits and credits differ in some
// currency (or that has a malformed entry): it is refused, nothing is written.
var ErrLedgerUnbalanced = errors.New("ledger transaction does not balance")

// LedgerKind names what a ledger transaction records, e.g. "payment.captured".
type LedgerKind string

// LedgerObject names the kind of object a ledger transaction is about.
type LedgerObject string

// Ledger objects.
const (
	// LedgerObjectPayment: a payment (its capture or its reversal).
	LedgerObjectPayment LedgerObject = "payment"
	// LedgerObjectRefund: a refund of a payment.
	LedgerObjectRefund LedgerObject = "refund"
	// LedgerObjectTopUp: a stored-value top-up (or its cancel).
	LedgerObjectTopUp LedgerObject = "top_up"
	// LedgerObjectMigration: a transfer or compensation of the wallet migration.
	LedgerObjectMigration LedgerObject = "migration"
)

// LedgerEntry is one line of a ledger transaction: an amount debited or credited to one
// account, in one currency's minor unit. Exactly one of Debit and Credit is positive.
type LedgerEntry struct {
	// ID is TransactionID + "#" + Line: deterministic, so a replayed posting names the
	// same entries.
	ID string
	// TransactionID is the transaction the entry belongs to.
	TransactionID string
	// Line is the entry's position in its transaction, from 1.
	Line int
	// Account names the account, e.g. "partner_clearing:paypay" (internal/ledger).
	Account string
	// Debit is the amount debited, in Currency's minor unit; 0 for a credit.
	Debit int64
	// Credit is the amount credited, in Currency's minor unit; 0 for a debit.
	Credit int64
	// Currency is the ISO 4217 code of Debit and Credit.
	Currency Currency
	// Kind, ObjectType and ObjectID repeat the transaction's when read back.
	Kind LedgerKind
	// ObjectType is the kind of object the transaction is about.
	ObjectType LedgerObject
	// ObjectID is the payment, refund or top-up id the transaction is about.
	ObjectID string
	// CreatedAt is when the transaction was posted.
	CreatedAt time.Time
}

// LedgerTransaction is one balanced posting: for every currency its entries' debits equal
// their credits.
type LedgerTransaction struct {
	// ID is derived from the object and the event ("payment:<id>:captured") and unique, so
	// that a state change posts at most once however often it is replayed.
	ID string
	// Kind names what the transaction records.
	Kind LedgerKind
	// ObjectType is the kind of object the transaction is about.
	ObjectType LedgerObject
	// ObjectID is the id of that object (a payment, refund or top-up id).
	ObjectID string
	// CreatedAt is when it was posted (the state change's time).
	CreatedAt time.Time
	// Entries are the lines, at least two.
	Entries []LedgerEntry
}

// Validate reports why t may not be posted, wrapping ErrLedgerUnbalanced: a missing id,
// kind or object, fewer than two entries, an entry without an account or currency, with
// both or neither side positive or a negative side, or a currency whose debits and
// credits differ (named in the error).
func (t LedgerTransaction) Validate() error {
	if t.ID == "" || t.Kind == "" || t.ObjectType == "" || t.ObjectID == "" {
		return fmt.Errorf("%w: id, kind and object are required", ErrLedgerUnbalanced)
	}
	if len(t.Entries) < 2 {
		return fmt.Errorf("%w: %s has %d entries, want at least 2", ErrLedgerUnbalanced, t.ID, len(t.Entries))
	}
	sums := map[Currency][2]int64{}
	for i, e := range t.Entries {
		if e.Account == "" || e.Currency == "" {
			return fmt.Errorf("%w: %s entry %d names no account or currency", ErrLedgerUnbalanced, t.ID, i+1)
		}
		if e.Debit < 0 || e.Credit < 0 || (e.Debit == 0) == (e.Credit == 0) {
			return fmt.Errorf("%w: %s entry %d (%s) must debit or credit a positive amount, not both",
				ErrLedgerUnbalanced, t.ID, i+1, e.Account)
		}
		s := sums[e.Currency]
		s[0] += e.Debit
		s[1] += e.Credit
		sums[e.Currency] = s
	}
	currencies := make([]string, 0, len(sums))
	for c := range sums {
		currencies = append(currencies, string(c))
	}
	sort.Strings(currencies)
	for _, c := range currencies {
		if s := sums[Currency(c)]; s[0] != s[1] {
			return fmt.Errorf("%w: %s debits %d %s, credits %d %s", ErrLedgerUnbalanced, t.ID, s[0], c, s[1], c)
		}
	}
	return nil
}

// LedgerBalance is an account's totals in one currency: the sums of its entries' debits
// and credits.
type LedgerBalance struct {
	// Account names the account.
	Account string
	// Currency is the ISO 4217 code.
	Currency Currency
	// Debit is the sum of the account's debits in Currency.
	Debit int64
	// Credit is the sum of the account's credits in Currency.
	Credit int64
}

// MovementKind names what a MovementTotal sums.
type MovementKind string

// Movement kinds.
const (
	// MovementCaptured: AmountCaptured of succeeded payments.
	MovementCaptured MovementKind = "captured"
	// MovementRefunded: Amount of succeeded refunds.
	MovementRefunded MovementKind = "refunded"
	// MovementToppedUp: Amount of succeeded top-ups.
	MovementToppedUp MovementKind = "topped_up"
)

// MovementTotal is what the payments, refunds or top-ups tables say moved, summed per
// store, method, funding (top-ups only) and currency: what the ledger must agree with.
type MovementTotal struct {
	// Kind says which table and which amounts were summed.
	Kind MovementKind
	// StoreID is the store.
	StoreID string
	// Method is the payment or top-up method (the partner: PartnerOf).
	Method Method
	// Funding is the top-ups' funding source; empty for payments and refunds.
	Funding TopUpFunding
	// Amount is the sum, in its currency's minor unit.
	Amount Money
	// Count is how many objects were summed.
	Count int64
}

// LedgerTx posts to the ledger in the transaction of the state change it records.
// contracts.Tx includes it.
type LedgerTx interface {
	// PostLedger writes t with its entries (their ID, TransactionID and Line are set from t
	// and their order). A t that fails Validate is refused with ErrLedgerUnbalanced and
	// nothing is written. A t whose ID was posted before writes nothing: nil when the
	// stored transaction has the same entries (a replay), ErrConflict when it differs.
	PostLedger(ctx context.Context, t LedgerTransaction) error
}

// LedgerStore reads the ledger, for the check (payhub ledger check). contracts.Store
// includes it. Entries are never updated or deleted.
type LedgerStore interface {
	// ListLedgerTransactions reads up to limit transactions whose ID is above afterID, by
	// ID, each with its entries by line; limit ≤ 0 reads all.
	ListLedgerTransactions(ctx context.Context, afterID string, limit int) ([]LedgerTransaction, error)
	// GetLedgerTransaction reads one transaction with its entries; ErrNotFound when there
	// is none.
	GetLedgerTransaction(ctx context.Context, id string) (LedgerTransaction, error)
	// ListLedgerBalances reads every account's totals per currency, by account and
	// currency.
	ListLedgerBalances(ctx context.Context) ([]LedgerBalance, error)
	// ListMovementTotals sums what the payments, refunds and top-ups tables say moved:
	// captured (succeeded payments), refunded (succeeded refunds, by their payment's store
	// and method) and topped up (succeeded top-ups), per store, method, funding and
	// currency.
	ListMovementTotals(ctx context.Context) ([]MovementTotal, error)
}
