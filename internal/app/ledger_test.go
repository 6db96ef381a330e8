package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/ledger"
	"payhub/internal/store"
)

// ledgerCLI runs `payhub ledger check` in process against the SQLite database db. An error
// is exit status 1.
func ledgerCLI(t *testing.T, db string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := rootCommand(io.Discard)
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"ledger", "check", "--db", "sqlite:" + db, "--batch", "1"})
	err := cmd.Execute()
	return out.String(), err
}

// TestLedgerCheckCommand: `payhub ledger check` exits 0 with its summary on a ledger that
// agrees with the tables, and 1 naming the account when it does not.
func TestLedgerCheckCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "payhub.db")
	out, err := ledgerCLI(t, db)
	if err != nil || out != "ledger ok: 0 transactions, 0 entries, 0 account balances (0 compared with payments, refunds and top-ups)\n" {
		t.Fatalf("empty ledger: %v %q", err, out)
	}
	st, err := store.Open(context.Background(), "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	// A posting no payment stands behind: the ledger disagrees with the payments table.
	p := contracts.Payment{ID: "pay_x", StoreID: "store-1", Method: contracts.MethodPayPay, Amount: contracts.Money{Amount: 500, Currency: contracts.JPY}}
	err = st.InTx(context.Background(), func(tx contracts.Tx) error {
		return ledger.Post(context.Background(), tx, ledger.PaymentCaptured(p, 500, time.Now()))
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err = ledgerCLI(t, db)
	if !errors.Is(err, errLedgerDisagrees) || !strings.HasPrefix(out, "ledger disagrees: 1 transactions, 2 entries") ||
		!strings.Contains(out, "account partner_clearing:paypay: ledger balance 500 JPY, payments, refunds and top-ups say 0 JPY") {
		t.Fatalf("disagreeing ledger: %v\n%s", err, out)
	}
}
