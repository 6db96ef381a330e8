package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	nanacoadapter "payhub/adapters/nanaco"
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
		Short: "Pay each claim once (refund or cancel through the original, else a nanaco re-credit, else a bank refund row); needs an executed compensation.run approval",
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
			var transfers contracts.ValueTransfers
			if cfg.Nanaco != nil {
				nc, err := nanacoadapter.New(*cfg.Nanaco)
				if err != nil {
					return err
				}
				transfers = nc
			} else {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: nanaco is not configured (PAYHUB_NANACO_*): claims only a nanaco re-credit can pay stay open")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			a, err := Build(ctx, cfg)
			if err != nil {
				return err
			}
			defer a.Close()
			return RunCompensation(ctx, compensate.Config{Store: a.Store, Hub: a.Hub, Transfers: transfers}, b, format, bankOut, cmd.OutOrStdout())
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().StringVar(&approval, "approval", "", "the executed compensation.run approval of this claims file")
	cmd.Flags().StringVar(&bankOut, "bank-out", "compensation-bank-refunds.csv", "write the bank refund rows of this list to this CSV (0600), rewritten whole from the database at the end of every run")
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

// RunCompensation pays the claims (compensate.Engine.Run) with cfg (the hub for refunds and
// cancels, the nanaco value transfers for the re-credits: nil leaves such claims open),
// prints the report, and (re)writes bankOut ("" skips it) from the claims table: every
// claim of the list recorded bank_refund, whatever run recorded it, even when this run
// stopped early. It fails when the run stopped, the report does not balance or the ledger
// check fails.
func RunCompensation(ctx context.Context, cfg compensate.Config, claims []byte, format compensate.Format, bankOut string, out io.Writer) error {
	_, err := runCompensation(ctx, cfg, claims, format, bankOut, out)
	return err
}

func runCompensation(ctx context.Context, cfg compensate.Config, claims []byte, format compensate.Format, bankOut string, out io.Writer) (compensate.Report, error) {
	cfg.BankRow = nil // the bank file is rewritten whole below
	rep, err := compensate.New(cfg).Run(ctx, bytes.NewReader(claims), format)
	rep.Write(out)
	if bankOut != "" {
		if berr := writeCompensationBankFile(context.WithoutCancel(ctx), cfg.Store, claims, format, bankOut, out); berr != nil {
			err = errors.Join(err, berr)
		}
	}
	if err != nil {
		return rep, err
	}
	if !rep.Balanced() {
		return rep, errors.New("compensate: the report does not balance")
	}
	return rep, CheckLedger(ctx, cfg.Store, 0, out)
}

// writeCompensationBankFile rewrites bankOut from the claims table (compensate.BankRows).
func writeCompensationBankFile(ctx context.Context, st contracts.Store, claims []byte, format compensate.Format, bankOut string, out io.Writer) error {
	list, _, _, err := compensate.Parse(bytes.NewReader(claims), format)
	if err != nil {
		return err
	}
	rows, err := compensate.BankRows(ctx, st, list)
	if err != nil {
		return fmt.Errorf("compensate: read the bank refund rows: %w", err)
	}
	if err := compensate.WriteBankFile(bankOut, rows); err != nil {
		return fmt.Errorf("compensate: write %s: %w", bankOut, err)
	}
	var yen int64
	for _, c := range rows {
		yen += c.Amount
	}
	fmt.Fprintf(out, "bank refund file %s: %d rows, %d yen (rewritten from the claims table)\n", bankOut, len(rows), yen)
	return nil
}
