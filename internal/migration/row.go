// Package migration reads the retired wallet's balance export and plans moving every yen of
// it to where its owner chose (issue 18; the format is docs/migration.md). It is pure
// computation over a file: it calls no partner and writes no database, so it depends on
// nothing of payhub's engine, stores or adapters.
//
// A Reader streams the export (JSONL, or CSV with a header row) and yields, one at a time,
// either a validated Row or a Rejection with a stable Reason code; memory stays flat whatever
// the file's size, except for the exact duplicate-user index (a few bytes per user,
// documented on Reader). Caps.Split applies the per-user daily and total caps and nanaco's
// centre-held room to one balance; a Plan adds rows and rejections up and checks, per
// destination, that every yen is accounted for.
package migration

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is a destination kind: where the user chose their balance to go.
type Kind string

// The destination kinds (docs/migration.md §3).
const (
	// KindNanaco moves the balance onto a nanaco card (its centre-held value).
	KindNanaco Kind = "nanaco"
	// KindPayPay moves the balance to a PayPay account linked to payhub.
	KindPayPay Kind = "paypay"
	// KindBank refunds the whole balance to a Japanese bank account (a zengin transfer).
	KindBank Kind = "bank"
	// KindNone is a user who chose nothing: the balance is held until they do.
	KindNone Kind = "none"
)

// Kinds are the destination kinds in report order.
var Kinds = []Kind{KindNanaco, KindPayPay, KindBank, KindNone}

// AccountType is a zengin deposit type (預金種目).
type AccountType string

// The account types a zengin transfer file carries.
const (
	// AccountOrdinary is 普通 (code 1).
	AccountOrdinary AccountType = "ordinary"
	// AccountCurrent is 当座 (code 2).
	AccountCurrent AccountType = "current"
	// AccountSavings is 貯蓄 (code 4).
	AccountSavings AccountType = "savings"
)

// ZenginCode is the account type's one-digit code in a zengin transfer file.
func (t AccountType) ZenginCode() byte {
	switch t {
	case AccountOrdinary:
		return '1'
	case AccountCurrent:
		return '2'
	case AccountSavings:
		return '4'
	}
	return 0
}

// BankAccount is a refund account: what a zengin (全銀) transfer file needs, no more.
type BankAccount struct {
	// BankCode is the 4-digit financial institution code.
	BankCode string
	// BranchCode is the 3-digit branch code.
	BranchCode string
	// Type is the deposit type.
	Type AccountType
	// Number is the 7-digit account number.
	Number string
	// HolderKana is the holder's name in half-width katakana as the transfer file carries it.
	HolderKana string
}

// Destination is where a user's balance goes.
type Destination struct {
	// Kind is the user's choice.
	Kind Kind
	// NanacoNumber is the card's 16-digit number (KindNanaco only).
	NanacoNumber string
	// PayPayAccount is payhub's linked-account id, "la_" + ULID (KindPayPay only).
	PayPayAccount string
	// Bank is the refund account: required for KindBank, optional for KindNanaco and
	// KindPayPay (it receives what the caps leave over), absent for KindNone.
	Bank *BankAccount
}

// Disputed is one of the user's disputed transactions.
type Disputed struct {
	// ID is the original payment's or top-up's id in the retired wallet.
	ID string
	// Amount is the disputed amount in yen, > 0.
	Amount int64
}

// Row is one validated user of the export.
type Row struct {
	// Line is the 1-based line of the file where the row starts.
	Line int64
	// UserID is the retired wallet's user id.
	UserID string
	// Balance is the balance in whole yen, ≥ 0.
	Balance int64
	// KYCLevel is the identity-verification level, 0–3, as the retired wallet had it.
	KYCLevel int
	// Destination is where the balance goes.
	Destination Destination
	// History is the user's balance movements (signed yen) whose sum equals Balance; nil
	// when the export gives none.
	History []int64
	// Disputed is the user's disputed transactions, if any.
	Disputed []Disputed
}

// Reason is a stable rejection reason code (docs/migration.md §5).
type Reason string

// The rejection reasons.
const (
	// ReasonMalformedRow: the row is not well-formed (JSON syntax, an unknown or duplicate
	// member, a wrong type, wrong CSV field count, invalid UTF-8, a required field missing,
	// a field that does not belong to the destination, a line over MaxRowBytes).
	ReasonMalformedRow Reason = "malformed_row"
	// ReasonMalformedUserID: user_id is missing or not 1–64 of [A-Za-z0-9_-].
	ReasonMalformedUserID Reason = "malformed_user_id"
	// ReasonDuplicateUser: the user id was already on an earlier row.
	ReasonDuplicateUser Reason = "duplicate_user"
	// ReasonNonIntegerBalance: the balance is not an integer (a fraction, an exponent, a
	// string, leading zeros).
	ReasonNonIntegerBalance Reason = "non_integer_balance"
	// ReasonNegativeBalance: the balance is a negative integer.
	ReasonNegativeBalance Reason = "negative_balance"
	// ReasonBalanceOutOfRange: the balance is above MaxBalance.
	ReasonBalanceOutOfRange Reason = "balance_out_of_range"
	// ReasonMalformedKYCLevel: kyc_level is missing or not an integer 0–3.
	ReasonMalformedKYCLevel Reason = "malformed_kyc_level"
	// ReasonUnknownDestination: destination is missing or not one of the kinds.
	ReasonUnknownDestination Reason = "unknown_destination"
	// ReasonMalformedNanacoNumber: not 16 ASCII digits starting with 7.
	ReasonMalformedNanacoNumber Reason = "malformed_nanaco_number"
	// ReasonMalformedPayPayAccount: not "la_" + a 26-character ULID.
	ReasonMalformedPayPayAccount Reason = "malformed_paypay_account"
	// ReasonMalformedBankAccount: a bank field is missing or malformed.
	ReasonMalformedBankAccount Reason = "malformed_bank_account"
	// ReasonBalanceHistoryMismatch: the history's sum is not the balance.
	ReasonBalanceHistoryMismatch Reason = "balance_history_mismatch"
	// ReasonMalformedDisputed: a disputed transaction without a valid id or a positive amount.
	ReasonMalformedDisputed Reason = "malformed_disputed"
)

// Reasons are every rejection reason, in report order.
var Reasons = []Reason{
	ReasonMalformedRow, ReasonMalformedUserID, ReasonDuplicateUser, ReasonNonIntegerBalance,
	ReasonNegativeBalance, ReasonBalanceOutOfRange, ReasonMalformedKYCLevel, ReasonUnknownDestination,
	ReasonMalformedNanacoNumber, ReasonMalformedPayPayAccount, ReasonMalformedBankAccount,
	ReasonBalanceHistoryMismatch, ReasonMalformedDisputed,
}

// Rejection is a row that is not migrated as it stands, and why.
type Rejection struct {
	// Line is the 1-based line of the file where the row starts.
	Line int64
	// UserID is the row's user id when it could be read (well-formed), else "".
	UserID string
	// Reason is the stable code.
	Reason Reason
	// Detail explains the reason; it names fields, never their values (no card or account
	// numbers in logs and reports).
	Detail string
	// Balance is the row's balance when it could be read as an integer from 0 to MaxBalance
	// (BalanceKnown), so a plan can account for the rejected yen.
	Balance int64
	// BalanceKnown says Balance was read.
	BalanceKnown bool
	// Kind is the destination the row named, when it is one of the kinds, else "".
	Kind Kind
}

// Error makes a Rejection printable.
func (r *Rejection) Error() string {
	return fmt.Sprintf("line %d: %s: %s", r.Line, r.Reason, r.Detail)
}

// Bounds of a row (docs/migration.md §2).
const (
	// MaxBalance is the largest balance, history movement or disputed amount (¥100 billion):
	// with it, the totals of 10^7 users fit int64 with room to spare.
	MaxBalance int64 = 100_000_000_000
	// MaxRowBytes is the longest row (a JSONL line, a CSV record).
	MaxRowBytes = 1 << 20
	// MaxKYCLevel is the highest identity-verification level.
	MaxKYCLevel = 3
	// maxHolderKana is the zengin file's 受取人名 width.
	maxHolderKana = 30
)

// fields is a row as text, before validation; both formats fill it.
type fields struct {
	line                           int64
	userID                         string
	balance, kyc                   string // the literal text; "" = missing
	balanceNotNumber, kycNotNumber bool   // JSON: a string, bool, array or object
	dest, nanaco, paypay           string
	bankCode, branchCode           string
	accountType, accountNumber     string
	holderKana                     string
	history                        []int64
	disputed                       []Disputed
	historyError, disputedError    string // a cell or member that does not parse
}

var errNotInteger = errors.New("not an integer")

// parseInt parses a canonical integer: -?(0|[1-9][0-9]*), no sign on 0 other than "-0",
// at most 19 digits.
func parseInt(s string) (int64, error) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || len(digits) > 18 || (len(digits) > 1 && digits[0] == '0') {
		return 0, errNotInteger
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, errNotInteger
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errNotInteger
	}
	return n, nil
}

// parseBalance reads a balance: its reason when it is not acceptable; known reports an
// integer from 0 to MaxBalance (one a plan can account for).
func parseBalance(text string, notNumber bool) (n int64, reason Reason, detail string, known bool) {
	switch {
	case text == "" && !notNumber:
		return 0, ReasonMalformedRow, "balance is required", false
	case notNumber:
		return 0, ReasonNonIntegerBalance, "balance must be a JSON integer, not a string or other value", false
	}
	n, err := parseInt(text)
	if err != nil {
		if strings.HasPrefix(text, "-") && allDigits(text[1:]) && len(text) > 19 {
			return 0, ReasonNegativeBalance, "balance is negative", false
		}
		if allDigits(text) && len(text) > 18 && text[0] != '0' {
			return 0, ReasonBalanceOutOfRange, fmt.Sprintf("balance is above %d yen", MaxBalance), false
		}
		return 0, ReasonNonIntegerBalance, "balance must be an integer number of yen (digits only, no fraction, exponent or leading zero)", false
	}
	if strings.HasPrefix(text, "-") {
		return 0, ReasonNegativeBalance, "balance is negative", false
	}
	if n > MaxBalance {
		return 0, ReasonBalanceOutOfRange, fmt.Sprintf("balance is above %d yen", MaxBalance), false
	}
	return n, "", "", true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validUserID: 1–64 of [A-Za-z0-9_-].
func validUserID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return false
		}
	}
	return true
}

func idByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// validNanaco: 16 ASCII digits, the first 7 (docs/partners/nanaco.md §B4: 16 digits, no check
// digit; README: nanaco codes start with 7).
func validNanaco(s string) bool {
	return len(s) == 16 && s[0] == '7' && allDigits(s)
}

// validLinkedAccount: "la_" + a ULID (26 Crockford base32 characters, upper case, the first ≤ 7).
func validLinkedAccount(s string) bool {
	u, ok := strings.CutPrefix(s, "la_")
	if !ok || len(u) != 26 || u[0] > '7' {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U') {
			return false
		}
	}
	return true
}

// validHolderKana: 1–30 characters of the zengin set: half-width katakana (ｦ, ｱ–ﾝ, ﾞ, ﾟ; no
// small kana), A–Z, 0–9, space and ( ) . - /, not only spaces.
func validHolderKana(s string) bool {
	if s == "" || strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > maxHolderKana || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0xFF66 || r >= 0xFF71 && r <= 0xFF9F: // ｦ, ｱ…ﾝ, ﾞ, ﾟ
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(" ().-/", r):
		default:
			return false
		}
	}
	return true
}

// validate turns fields into a Row or a Rejection (the checks in docs/migration.md §5's order,
// duplicate_user excepted: the Reader applies it).
func validate(f *fields) (Row, *Rejection) {
	rej := &Rejection{Line: f.line}
	if validUserID(f.userID) {
		rej.UserID = f.userID
	}
	kind := Kind(f.dest)
	switch kind {
	case KindNanaco, KindPayPay, KindBank, KindNone:
		rej.Kind = kind
	}
	balance, bReason, bDetail, known := parseBalance(f.balance, f.balanceNotNumber)
	rej.Balance, rej.BalanceKnown = balance, known
	reject := func(r Reason, detail string) (Row, *Rejection) {
		rej.Reason, rej.Detail = r, detail
		return Row{}, rej
	}
	if rej.UserID == "" {
		if f.userID == "" {
			return reject(ReasonMalformedUserID, "user_id is required")
		}
		return reject(ReasonMalformedUserID, "user_id must be 1–64 characters of A–Z, a–z, 0–9, _ and -")
	}
	if bReason != "" {
		return reject(bReason, bDetail)
	}
	if f.kyc == "" && !f.kycNotNumber {
		return reject(ReasonMalformedKYCLevel, "kyc_level is required")
	}
	kyc, err := parseInt(f.kyc)
	if f.kycNotNumber || err != nil || kyc < 0 || kyc > MaxKYCLevel {
		return reject(ReasonMalformedKYCLevel, "kyc_level must be an integer from 0 to 3")
	}
	row := Row{Line: f.line, UserID: f.userID, Balance: balance, KYCLevel: int(kyc), Destination: Destination{Kind: kind}}

	bankGiven := f.bankCode != "" || f.branchCode != "" || f.accountType != "" || f.accountNumber != "" || f.holderKana != ""
	switch kind {
	case KindNanaco, KindPayPay, KindBank, KindNone:
	case "":
		return reject(ReasonUnknownDestination, "destination is required (nanaco, paypay, bank or none)")
	default:
		return reject(ReasonUnknownDestination, "destination must be nanaco, paypay, bank or none")
	}
	if f.nanaco != "" && kind != KindNanaco {
		return reject(ReasonMalformedRow, "nanaco_number is given but destination is "+string(kind))
	}
	if f.paypay != "" && kind != KindPayPay {
		return reject(ReasonMalformedRow, "paypay_account is given but destination is "+string(kind))
	}
	if bankGiven && kind == KindNone {
		return reject(ReasonMalformedRow, "bank fields are given but destination is none")
	}
	switch kind {
	case KindNanaco:
		if !validNanaco(f.nanaco) {
			return reject(ReasonMalformedNanacoNumber, "nanaco_number must be 16 digits starting with 7")
		}
		row.Destination.NanacoNumber = f.nanaco
	case KindPayPay:
		if !validLinkedAccount(f.paypay) {
			return reject(ReasonMalformedPayPayAccount, `paypay_account must be a payhub linked-account id, "la_" + ULID`)
		}
		row.Destination.PayPayAccount = f.paypay
	case KindBank:
		if !bankGiven {
			return reject(ReasonMalformedBankAccount, "destination bank needs bank_code, branch_code, account_type, account_number and holder_kana")
		}
	}
	if bankGiven {
		acct := &BankAccount{BankCode: f.bankCode, BranchCode: f.branchCode, Type: AccountType(f.accountType), Number: f.accountNumber, HolderKana: f.holderKana}
		switch {
		case len(acct.BankCode) != 4 || !allDigits(acct.BankCode):
			return reject(ReasonMalformedBankAccount, "bank_code must be 4 digits")
		case len(acct.BranchCode) != 3 || !allDigits(acct.BranchCode):
			return reject(ReasonMalformedBankAccount, "branch_code must be 3 digits")
		case acct.Type.ZenginCode() == 0:
			return reject(ReasonMalformedBankAccount, "account_type must be ordinary, current or savings")
		case len(acct.Number) != 7 || !allDigits(acct.Number):
			return reject(ReasonMalformedBankAccount, "account_number must be 7 digits")
		case !validHolderKana(acct.HolderKana):
			return reject(ReasonMalformedBankAccount, "holder_kana must be 1–30 half-width katakana (zengin characters: ｱ–ﾝ, ﾞ, ﾟ, A–Z, 0–9, space, ( ) . - /)")
		}
		row.Destination.Bank = acct
	}

	if f.historyError != "" {
		return reject(ReasonMalformedRow, f.historyError)
	}
	if len(f.history) > 0 {
		var sum int64
		for _, m := range f.history {
			if m > MaxBalance || m < -MaxBalance {
				return reject(ReasonMalformedRow, "a history movement is beyond ±100,000,000,000 yen")
			}
			sum += m // ≤ MaxRowBytes/2 movements of ≤ 1e11: no overflow
		}
		if sum != balance {
			return reject(ReasonBalanceHistoryMismatch, fmt.Sprintf("the %d history movements sum to %d yen, not the balance", len(f.history), sum))
		}
		row.History = f.history
	}
	if f.disputedError != "" {
		return reject(ReasonMalformedRow, f.disputedError)
	}
	for i, d := range f.disputed {
		if !validUserID(d.ID) {
			return reject(ReasonMalformedDisputed, fmt.Sprintf("disputed[%d].id must be 1–64 characters of A–Z, a–z, 0–9, _ and -", i))
		}
		if d.Amount <= 0 || d.Amount > MaxBalance {
			return reject(ReasonMalformedDisputed, fmt.Sprintf("disputed[%d].amount must be a positive integer of yen", i))
		}
	}
	if len(f.disputed) > 0 {
		row.Disputed = f.disputed
	}
	return row, nil
}
