package compensate

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"payhub/contracts"
)

// The bank refund file is a function of the database: at the end of every run it is
// rewritten whole from the claims table (every claim of the list recorded bank_refund, in
// the list's order, row id = its ledger id), so a run killed between recording a claim
// bank_refund and writing its row loses nothing, and a re-run writes each row once.

// BankFileHeader is the bank refund file's header.
var BankFileHeader = []string{"row_id", "claim_id", "victim_id", "amount", "bank_code", "branch_code", "account_type", "account_number", "holder_kana"}

// BankRows are the claims of a list recorded bank_refund, in the list's order: the bank
// account comes from the list (the claims table keeps only the body's hash, which the
// claim must match).
func BankRows(ctx context.Context, st contracts.CompensationStore, claims []Claim) ([]Claim, error) {
	var rows []Claim
	for _, c := range claims {
		rec, err := st.GetCompensationClaim(ctx, c.ClaimID)
		if errors.Is(err, contracts.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if rec.Status != contracts.CompensationBankRefund || rec.BodyHash != c.BodyHash() {
			continue
		}
		if c.Bank == nil {
			return nil, fmt.Errorf("compensate: claim %s is recorded bank_refund but the list gives no bank account", c.ClaimID)
		}
		rows = append(rows, c)
	}
	return rows, nil
}

// WriteBankFile replaces path with the bank refund rows, atomically: a temporary file in
// the same directory (mode 0600), synced, renamed over path, and the directory synced. A
// reader sees the old file or the new one, never a part.
func WriteBankFile(path string, rows []Claim) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.Write(BankFileHeader); err != nil {
		return err
	}
	for _, c := range rows {
		b := c.Bank
		if err := w.Write([]string{BankRowID(c.ClaimID), c.ClaimID, c.VictimID, strconv.FormatInt(c.Amount, 10), b.BankCode, b.BranchCode,
			string(b.Type), b.Number, b.HolderKana}); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		defer d.Close()
		return d.Sync()
	}
	return nil
}
