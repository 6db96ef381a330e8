package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/compensate"
	"payhub/internal/config"
)

// Compensation of the retired wallet's victims (issue 18, docs/compensation.md).

// CompensateCommand is `payhub compensate`: pay the victims' claims back once each.
func CompensateCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "compensate", Short: "Pay account-takeover victims back, once per claim, after two-person approval (docs/compensation.md)"}
	cmd.AddCommand(compensateRequestCommand(), compensateRunCommand())
	return cmd
}

// readClaims reads a claims file and its format and SHA-256.
func readClaims(path string) ([]byte, compensate.Format, string, error) {
	format, err := compensate.FormatOf(path)
	if err != nil {
		return nil, "", "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", "", err
	}
	return b, format, compensate.FileSHA256(b), nil
}

func compensateRequestCommand() *cobra.Command {
	var dbURL, actor, reason string
	cmd := &cobra.Command{
		Use:   "request <claims>",
		Short: "Ask for a compensation.run approval of exactly this claims file (its SHA-256)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, format, sum, err := readClaims(args[0])
			if err != nil {
				return err
			}
			claims, refused, dups, err := compensate.Parse(bytes.NewReader(b), format)
			if err != nil {
				return err
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				svc := approvals.New(approvals.Config{Store: st, AuditKey: key})
				compensate.RegisterApproval(svc)
				a, err := svc.Request(ctx, approvals.Requester{ID: cliActor(actor)}, compensate.ActionRun,
					compensate.RunParams{ClaimsSHA256: sum}, reason, "")
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "approval %s requested: compensate %s (sha256 %s): %d claims, %d duplicate lines, %d lines refused\n",
					a.ID, args[0], sum, len(claims), dups, len(refused))
				fmt.Fprintf(out, "nothing is paid until another operator approves it: payhub ops approvals approve %s\n", a.ID)
				fmt.Fprintf(out, "then: payhub compensate run %s --approval %s\n", args[0], a.ID)
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	actorFlag(cmd, &actor)
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the approver and the audit log")
	return cmd
}

func compensateRunCommand() *cobra.Command {
	var dbURL, approval, bankOut string
	cmd := &cobra.Command{
		Use:   "run <claims>",
		Short: "Pay each claim once (refund or cancel through the original, else a bank refund row); needs an executed compensation.run approval",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if approval == "" {
				return errors.New("--approval apr_… is required: payhub compensate request <claims> first")
			}
			b, format, sum, err := readClaims(args[0])
			if err != nil {
				return err
			}
			if err := withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				return compensate.CheckApproval(ctx, st, approval, sum)
			}); err != nil {
				return err
			}
			cfg, err := compensateAppConfig(dbURL)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := Build(ctx, cfg)
			if err != nil {
				return err
			}
			defer a.Close()
			return RunCompensation(ctx, a.Store, a.Hub, bytes.NewReader(b), format, bankOut, cmd.OutOrStdout())
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().StringVar(&approval, "approval", "", "the executed compensation.run approval of this claims file")
	cmd.Flags().StringVar(&bankOut, "bank-out", "compensation-bank-refunds.csv", "append the new bank refund rows to this CSV (0600)")
	return cmd
}

// compensateAppConfig is serve's partner configuration (the environment), without workers.
func compensateAppConfig(dbURL string) (Config, error) {
	paypay, err := config.PayPay()
	if err != nil {
		return Config{}, err
	}
	linepay, err := config.LinePay()
	if err != nil {
		return Config{}, err
	}
	nanaco, err := config.Nanaco()
	if err != nil {
		return Config{}, err
	}
	secretKeys, err := config.SecretKeys()
	if err != nil {
		return Config{}, err
	}
	var secretKey []byte
	if len(secretKeys) > 0 {
		secretKey = secretKeys[0]
	}
	publicURL := config.EnvOr("PAYHUB_PUBLIC_URL", "")
	cards, err := config.GMOPG(secretKey, publicURL)
	if err != nil {
		return Config{}, err
	}
	key, err := auditKey()
	if err != nil {
		return Config{}, err
	}
	return Config{DatabaseURL: config.DatabaseURL(dbURL), PayPay: paypay, LinePay: linepay, Nanaco: nanaco, Card: cards,
		SecretKeys: secretKeys, PublicURL: publicURL, AuditKey: key}, nil
}

// RunCompensation pays the claims (compensate.Engine.Run) with h, appends the new bank
// refund rows to bankOut ("" drops them) and prints the report; it fails when the report
// does not balance or the ledger check fails.
func RunCompensation(ctx context.Context, st contracts.Store, h compensate.Hub, claims io.Reader, format compensate.Format, bankOut string, out io.Writer) error {
	var w *csv.Writer
	if bankOut != "" {
		f, err := os.OpenFile(bankOut, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = csv.NewWriter(f)
		if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
			_ = w.Write([]string{"row_id", "claim_id", "victim_id", "amount", "bank_code", "branch_code", "account_type", "account_number", "holder_kana"})
		}
	}
	eng := compensate.New(compensate.Config{Store: st, Hub: h, BankRow: func(c compensate.Claim) error {
		if w == nil {
			return nil
		}
		b := c.Bank
		if err := w.Write([]string{compensate.BankRowID(c.ClaimID), c.ClaimID, c.VictimID, fmt.Sprint(c.Amount), b.BankCode, b.BranchCode,
			string(b.Type), b.Number, b.HolderKana}); err != nil {
			return err
		}
		w.Flush()
		return w.Error()
	}})
	rep, err := eng.Run(ctx, claims, format)
	rep.Write(out)
	if err != nil {
		return err
	}
	if !rep.Balanced() {
		return errors.New("compensate: the report does not balance")
	}
	return CheckLedger(ctx, st, 0, out)
}
