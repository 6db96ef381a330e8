// Package compensate pays the retired wallet's account-takeover victims back (issue 18,
// docs/compensation.md): a claims file is parsed strictly, each claim is recorded once ever
// under its claim id, then paid through the original method where it still can be (a
// payhub refund through the hub's own refund path, or a cancel of an authorization not yet
// captured), else re-credited to the victim's nanaco card by a value transfer (nanaco.go),
// else queued as a bank refund row posted to the ledger; the bank refund file is rewritten
// from the claims table at the end of every run (bank.go).
package compensate

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"payhub/contracts"
	"payhub/internal/migration"
)

// Reason is a rejected claim's stable reason.
type Reason string

// Rejection reasons.
const (
	ReasonMalformed         Reason = "malformed_claim"
	ReasonUnknownOriginal   Reason = "unknown_original"
	ReasonOverRefundable    Reason = "amount_over_refundable"
	ReasonDuplicateConflict Reason = "duplicate_claim_conflict"
	ReasonNotPaid           Reason = "original_not_paid"
	ReasonNoRoute           Reason = "no_route"
)

// MaxAmount bounds a claim's amount in yen.
const MaxAmount = 100_000_000_000

// Claim is one parsed claim.
type Claim struct {
	// Line is the claim's line in the file (from 2 for CSV, after the header).
	Line int
	// ClaimID is the victim's case number; VictimID the victim's user id.
	ClaimID, VictimID string
	// OriginalID is the disputed payhub payment (pay_…) or top-up (tu_…).
	OriginalID string
	// Amount is the claimed yen.
	Amount int64
	// Bank is the account for the fallback bank refund row, if given.
	Bank *migration.BankAccount
	// NanacoNumber is the card to re-credit, if given.
	NanacoNumber string
}

// BodyHash is the hex SHA-256 of the claim's canonical body (everything but its line).
func (c Claim) BodyHash() string {
	b := c.Bank
	if b == nil {
		b = &migration.BankAccount{}
	}
	body := strings.Join([]string{c.ClaimID, c.VictimID, c.OriginalID, strconv.FormatInt(c.Amount, 10),
		b.BankCode, b.BranchCode, string(b.Type), b.Number, b.HolderKana, c.NanacoNumber}, "\x1f")
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}

// Rejection is a line that is not a claim, or a claim that is refused.
type Rejection struct {
	Line    int
	ClaimID string
	// Amount is the claimed yen when it could be read (0 otherwise).
	Amount int64
	Reason Reason
	Detail string
}

// Columns are the CSV header (in any order; unknown columns are refused) and the JSONL keys.
var Columns = []string{"claim_id", "victim_id", "original_id", "amount", "bank_code", "branch_code", "account_type",
	"account_number", "holder_kana", "nanaco_number"}

// ParseRow turns one row's fields (column → value) into a claim, or says why not.
func ParseRow(line int, f map[string]string) (Claim, *Rejection) {
	rej := &Rejection{Line: line}
	if validID(f["claim_id"]) {
		rej.ClaimID = f["claim_id"]
	}
	amount, err := strconv.ParseInt(f["amount"], 10, 64)
	if err == nil && amount > 0 && amount <= MaxAmount && strconv.FormatInt(amount, 10) == f["amount"] {
		rej.Amount = amount
	}
	bad := func(detail string) (Claim, *Rejection) {
		rej.Reason, rej.Detail = ReasonMalformed, detail
		return Claim{}, rej
	}
	switch {
	case rej.ClaimID == "":
		return bad("claim_id must be 1–64 characters of A–Z, a–z, 0–9, _ and -")
	case !validID(f["victim_id"]):
		return bad("victim_id must be 1–64 characters of A–Z, a–z, 0–9, _ and -")
	case !contracts.ValidID(contracts.PrefixPayment, f["original_id"]) && !contracts.ValidID(contracts.PrefixTopUp, f["original_id"]):
		return bad("original_id must be a payhub payment (pay_…) or top-up (tu_…) id")
	case rej.Amount == 0:
		return bad("amount must be a positive integer of yen, at most 100,000,000,000, without sign or leading zeros")
	}
	c := Claim{Line: line, ClaimID: f["claim_id"], VictimID: f["victim_id"], OriginalID: f["original_id"], Amount: amount}
	if n := f["nanaco_number"]; n != "" {
		if len(n) != 16 || n[0] != '7' || !allDigits(n) {
			return bad("nanaco_number must be 16 digits starting with 7")
		}
		c.NanacoNumber = n
	}
	if f["bank_code"] != "" || f["branch_code"] != "" || f["account_type"] != "" || f["account_number"] != "" || f["holder_kana"] != "" {
		acct := &migration.BankAccount{BankCode: f["bank_code"], BranchCode: f["branch_code"], Type: migration.AccountType(f["account_type"]),
			Number: f["account_number"], HolderKana: f["holder_kana"]}
		if detail := checkBank(acct); detail != "" {
			return bad(detail)
		}
		c.Bank = acct
	}
	return c, nil
}

// checkBank is internal/migration's bank account rules (docs/migration.md): "" when valid.
func checkBank(a *migration.BankAccount) string {
	switch {
	case len(a.BankCode) != 4 || !allDigits(a.BankCode):
		return "bank_code must be 4 digits"
	case len(a.BranchCode) != 3 || !allDigits(a.BranchCode):
		return "branch_code must be 3 digits"
	case a.Type.ZenginCode() == 0:
		return "account_type must be ordinary, current or savings"
	case len(a.Number) != 7 || !allDigits(a.Number):
		return "account_number must be 7 digits"
	case !validHolderKana(a.HolderKana):
		return "holder_kana must be 1–30 half-width katakana (zengin characters)"
	}
	return ""
}

func validHolderKana(s string) bool {
	if strings.TrimSpace(s) == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > 30 {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0xFF66 || r >= 0xFF71 && r <= 0xFF9F:
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(" ().-/", r):
		default:
			return false
		}
	}
	return true
}

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Format is a claims file's format.
type Format string

// Formats.
const (
	FormatCSV   Format = "csv"
	FormatJSONL Format = "jsonl"
)

// FormatOf is the format a path's extension names.
func FormatOf(path string) (Format, error) {
	switch {
	case strings.HasSuffix(path, ".csv"):
		return FormatCSV, nil
	case strings.HasSuffix(path, ".jsonl"), strings.HasSuffix(path, ".ndjson"):
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("compensate: cannot tell the format of %s: name it .csv or .jsonl", path)
}

// maxLine bounds one line of a claims file.
const maxLine = 64 << 10

// Parse reads a whole claims file: the claims in order, and the lines refused with a reason.
// A claim id seen again with the same body is a duplicate (counted, paid once); with another
// body it is refused as duplicate_claim_conflict.
func Parse(r io.Reader, format Format) (claims []Claim, rejected []Rejection, duplicates int, err error) {
	seen := map[string]string{}
	add := func(line int, f map[string]string) {
		c, rej := ParseRow(line, f)
		if rej != nil {
			rejected = append(rejected, *rej)
			return
		}
		if h, ok := seen[c.ClaimID]; ok {
			if h == c.BodyHash() {
				duplicates++
				return
			}
			rejected = append(rejected, Rejection{Line: line, ClaimID: c.ClaimID, Amount: c.Amount, Reason: ReasonDuplicateConflict,
				Detail: "claim_id was listed before with another body"})
			return
		}
		seen[c.ClaimID] = c.BodyHash()
		claims = append(claims, c)
	}
	switch format {
	case FormatCSV:
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		header, err := cr.Read()
		if err != nil {
			return nil, nil, 0, fmt.Errorf("compensate: read the CSV header: %w", err)
		}
		known := map[string]bool{}
		for _, c := range Columns {
			known[c] = true
		}
		for _, h := range header {
			if !known[h] {
				return nil, nil, 0, fmt.Errorf("compensate: unknown CSV column %q (columns: %s)", h, strings.Join(Columns, ","))
			}
		}
		for line := 2; ; line++ {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil || len(rec) != len(header) {
				rejected = append(rejected, Rejection{Line: line, Reason: ReasonMalformed, Detail: "a CSV row with the header's columns"})
				if err != nil && !errors.As(err, new(*csv.ParseError)) {
					return nil, nil, 0, err
				}
				continue
			}
			f := map[string]string{}
			for i, h := range header {
				f[h] = rec[i]
			}
			add(line, f)
		}
	case FormatJSONL:
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 4096), maxLine)
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			if text == "" {
				continue
			}
			f, ok := jsonFields(text)
			if !ok {
				rejected = append(rejected, Rejection{Line: line, Reason: ReasonMalformed, Detail: "a JSON object of the claim's fields"})
				continue
			}
			add(line, f)
		}
		if err := sc.Err(); err != nil {
			return nil, nil, 0, fmt.Errorf("compensate: read the claims: %w", err)
		}
	default:
		return nil, nil, 0, fmt.Errorf("compensate: unknown format %q", format)
	}
	return claims, rejected, duplicates, nil
}

// jsonFields reads a JSONL line: an object of the known keys, strings but for amount (an
// integer number).
func jsonFields(text string) (map[string]string, bool) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil || dec.More() {
		return nil, false
	}
	out := map[string]string{}
	for k, v := range raw {
		if !contains(Columns, k) {
			return nil, false
		}
		switch x := v.(type) {
		case string:
			if k == "amount" {
				return nil, false
			}
			out[k] = x
		case json.Number:
			if k != "amount" {
				return nil, false
			}
			out[k] = x.String()
		default:
			return nil, false
		}
	}
	return out, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
