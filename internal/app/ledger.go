package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"payhub/contracts"
	"payhub/internal/ledger"
)

// The double-entry ledger's command (internal/ledger).

// LedgerCommand is `payhub ledger`: check the double-entry ledger.
func LedgerCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Check the double-entry ledger every money movement posts to"}
	cmd.AddCommand(ledgerCheckCommand())
	return cmd
}

// errLedgerDisagrees is what check returns (exit 1) after naming what disagrees.
var errLedgerDisagrees = errors.New("ledger check failed")

func ledgerCheckCommand() *cobra.Command {
	var (
		dbURL string
		batch int
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Prove the ledger balances and agrees with payments, refunds and top-ups; exit 1 naming what disagrees",
		Long: `Read every ledger transaction, a batch at a time, and check that its debits equal its
credits in every currency; check that no account that must not go negative (partner
clearing, stored value issued, points redeemed, the wallet migration's liabilities) is
negative; and check that the partner clearing, store receivable, stored value and points
accounts hold exactly what the payments, refunds and top-ups tables say moved
(Σ captured − refunded per partner and per store, less a store's cash top-ups).
Exit 0 with a one-line summary; exit 1 naming each disagreement.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				return CheckLedger(ctx, st, batch, cmd.OutOrStdout())
			})
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().IntVar(&batch, "batch", ledger.DefaultBatch, "transactions read at a time")
	return cmd
}

// CheckLedger runs the ledger check on st (ledger.Check) and writes its summary to out,
// and each problem when there are any; it returns an error wrapping errLedgerDisagrees
// then (the command's exit 1).
func CheckLedger(ctx context.Context, st contracts.LedgerStore, batch int, out io.Writer) error {
	r, err := ledger.Check(ctx, st, batch)
	if err != nil {
		return err
	}
	if r.OK() {
		fmt.Fprintf(out, "ledger ok: %s\n", r.Summary())
		return nil
	}
	fmt.Fprintf(out, "ledger disagrees: %s\n", r.Summary())
	for _, p := range r.Problems {
		fmt.Fprintf(out, "  %s\n", p)
	}
	if r.Dropped > 0 {
		fmt.Fprintf(out, "  … and %d more\n", r.Dropped)
	}
	return fmt.Errorf("%w: %d problems", errLedgerDisagrees, len(r.Problems)+r.Dropped)
}
