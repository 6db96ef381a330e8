package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	nanacoadapter "payhub/adapters/nanaco"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/config"
	"payhub/internal/migrate"
	"payhub/internal/migration"
)

// migrateRunOptions are `payhub migrate request` and `payhub migrate run`'s flags.
type migrateRunOptions struct {
	format   string
	caps     migration.Caps
	day      string
	approval string
	workers  int
	rate     float64
	report   string
	bankFile string
	actor    string
	reason   string
	dbURL    string
}

func (o *migrateRunOptions) capsFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.format, "format", "", "jsonl or csv (default: from the file's extension)")
	cmd.Flags().Int64Var(&o.caps.Daily, "daily-cap", migration.DefaultDailyCap, "yen moved to one user's wallet a day")
	cmd.Flags().Int64Var(&o.caps.Total, "total-cap", migration.DefaultTotalCap, "yen moved to one user's wallet in all; the rest is refunded to their bank account if given")
	cmd.Flags().Int64Var(&o.caps.NanacoRoom, "nanaco-room", migration.NanacoCentreHeldCap, "a nanaco card's centre-held room on the first day")
	cmd.Flags().StringVar(&o.day, "day", "", "the run's day, YYYYMMDD (default: today in JST)")
	dbFlag(cmd, &o.dbURL)
}

// params are the migration.run approval's parameters for the export at path.
func (o *migrateRunOptions) params(path string) (migrate.RunParams, error) {
	if err := o.caps.Validate(); err != nil {
		return migrate.RunParams{}, err
	}
	sum, err := migrate.HashFile(path)
	if err != nil {
		return migrate.RunParams{}, err
	}
	day := o.day
	if day == "" {
		day = contracts.BusinessDate(time.Now())
	}
	return migrate.RunParams{ExportSHA256: sum, Day: day, DailyCap: o.caps.Daily, TotalCap: o.caps.Total, NanacoRoom: o.caps.NanacoRoom}, nil
}

func migrateRequestCommand() *cobra.Command {
	o := migrateRunOptions{caps: migration.DefaultCaps()}
	cmd := &cobra.Command{
		Use:   "request <export>",
		Short: "Ask for the two-person approval a migration run needs (migration.run)",
		Long: `Store a migration.run approval request for exactly this export file (its SHA-256), day and
caps, as cli:<user>, and print its id. A second person (operator or security admin) approves
it through the operator API (payhub ops approvals approve <id>); then
payhub migrate run <export> --approval <id> may run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := auditKey()
			if err != nil {
				return err
			}
			p, err := o.params(args[0])
			if err != nil {
				return err
			}
			return withClientStore(o.dbURL, func(ctx context.Context, st contracts.Store) error {
				return requestMigrationRun(ctx, st, cmd.OutOrStdout(), key, o.actor, p, o.reason)
			})
		},
	}
	o.capsFlags(cmd)
	actorFlag(cmd, &o.actor)
	cmd.Flags().StringVar(&o.reason, "reason", "", "why the run should happen (recorded in the audit log)")
	return cmd
}

// requestMigrationRun stores the migration.run approval request.
func requestMigrationRun(ctx context.Context, st contracts.Store, out io.Writer, key []byte, actor string, p migrate.RunParams, reason string) error {
	svc := approvals.New(approvals.Config{Store: st, AuditKey: key})
	migrate.RegisterApproval(svc)
	a, err := svc.Request(ctx, approvals.Requester{ID: cliActor(actor)}, migrate.ActionRun, p, reason, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "approval %s requested: migrate the export %s on %s (caps %d/%d/%d; params %s)\n",
		a.ID, p.ExportSHA256, p.Day, p.DailyCap, p.TotalCap, p.NanacoRoom, a.ParamsHash)
	fmt.Fprintf(out, "nothing moves until a second operator approves it (payhub ops approvals approve %s); it expires at %s\n",
		a.ID, a.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintf(out, "then: payhub migrate run <export> --approval %s\n", a.ID)
	return nil
}

func migrateRunCommand() *cobra.Command {
	o := migrateRunOptions{caps: migration.DefaultCaps()}
	cmd := &cobra.Command{
		Use:   "run <export>",
		Short: "Move the retired wallet's balances: nanaco value transfer, PayPay cashback, bank refund file",
		Long: `Move every balance of the export to where its owner chose (docs/migration.md §8), under an
executed migration.run approval for exactly this file, day and caps (payhub migrate request).
nanaco moves are value transfers into centre-held (the rest deferred), PayPay moves are
cashbacks to the linked account, bank refunds are written to --bank-file for the bank
transfer system. Stopped at any moment (killed, Ctrl-C, or a kill switch over operation
migration, read every second), run it again with the same export: it continues from its
checkpoint and settles what was in flight by inquiry, never sending a move twice. A finished
run moves nothing more. The report at the end accounts for every yen per destination and
checks the ledger; --report writes it per row (CSV, 0600).

Partners: PAYHUB_NANACO_* and PAYHUB_PAYPAY_* as for payhub serve.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			boundBatchMemory()
			deps := migrateDeps{}
			if nc, err := config.Nanaco(); err != nil {
				return err
			} else if nc != nil {
				a, err := nanacoadapter.New(*nc)
				if err != nil {
					return err
				}
				deps.nanaco = a
			}
			if pc, err := config.PayPay(); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: PayPay is not configured (%v): PayPay moves fail and are reported\n", err)
			} else {
				a, err := paypayadapter.New(pc)
				if err != nil {
					return err
				}
				deps.paypay = a
			}
			if isTerminal(os.Stderr) {
				deps.progress = os.Stderr
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return withClientStore(o.dbURL, func(_ context.Context, st contracts.Store) error {
				deps.store = st
				return runMigrateRun(ctx, cmd.OutOrStdout(), args[0], o, deps)
			})
		},
	}
	o.capsFlags(cmd)
	cmd.Flags().StringVar(&o.approval, "approval", "", "the executed migration.run approval (apr_…) for this export, day and caps")
	cmd.Flags().IntVar(&o.workers, "workers", migrate.DefaultWorkers, "partner calls in flight at once")
	cmd.Flags().Float64Var(&o.rate, "rate", 50, "partner calls a second, per partner (0: unbounded)")
	cmd.Flags().StringVar(&o.report, "report", "", "write every row's outcome to this CSV file")
	cmd.Flags().StringVar(&o.bankFile, "bank-file", "bank-refunds.csv", "write the bank refunds to this CSV file (for the bank transfer system)")
	return cmd
}

// migrateDeps are what a run needs besides its options (tests give simulators).
type migrateDeps struct {
	store    contracts.Store
	nanaco   contracts.ValueTransfers
	paypay   contracts.Cashbacks
	progress io.Writer
	now      func() time.Time
	// settleWait and controlsEvery override the engine's defaults (tests).
	settleWait, controlsEvery time.Duration
}

// runMigrateRun checks the approval, runs (or continues) the migration, and prints the
// report.
func runMigrateRun(ctx context.Context, out io.Writer, path string, o migrateRunOptions, d migrateDeps) error {
	if o.approval == "" {
		return errors.New("a migration run needs --approval apr_…: ask with payhub migrate request, and have a second operator approve it")
	}
	p, err := o.params(path)
	if err != nil {
		return err
	}
	if d.now != nil && o.day == "" {
		p.Day = contracts.BusinessDate(d.now())
	}
	if err := migrate.CheckApproval(ctx, d.store, o.approval, p); err != nil {
		return err
	}
	var format migration.Format
	if o.format != "" {
		if format, err = migration.ParseFormat(o.format); err != nil {
			return err
		}
	}
	cfg := migrate.Config{Store: d.store, Nanaco: d.nanaco, PayPay: d.paypay, Caps: o.caps, Format: format, Day: p.Day,
		ApprovalID: o.approval, Workers: o.workers, Rate: o.rate, BankFile: o.bankFile, Progress: d.progress, Now: d.now,
		SettleWait: d.settleWait, ControlsEvery: d.controlsEvery}
	start := time.Now()
	res, runErr := migrate.Run(ctx, cfg, path)
	if res == nil {
		return runErr
	}
	elapsed := time.Since(start)
	switch {
	case res.AlreadyFinished:
		fmt.Fprintf(out, "run %s finished at %s: nothing to move (the same export on the same day)\n", res.Run.ID,
			res.Run.FinishedAt.Format(time.RFC3339))
	case errors.Is(runErr, migrate.ErrStopped):
		fmt.Fprintf(out, "run %s stopped: %v\nrun the same command again to continue from byte %d (nothing is sent twice)\n",
			res.Run.ID, runErr, res.Run.Checkpoint)
	case runErr == nil && res.Run.Status != contracts.MigrationRunFinished:
		fmt.Fprintf(out, "run %s read the whole export, but some moves are still unknown: run it again later to settle them by inquiry\n", res.Run.ID)
	}
	if !res.AlreadyFinished {
		what := "continued"
		if res.Created {
			what = "started"
		}
		fmt.Fprintf(out, "run %s %s: %d partner moves sent, %d inquiries, %d earlier moves settled, in %s\n",
			res.Run.ID, what, res.Sent, res.Inquiries, res.Settled, elapsed.Round(time.Millisecond))
	}
	if res.Report != nil {
		if o.report != "" {
			if _, err := migrate.BuildReportTo(context.WithoutCancel(ctx), cfg, path, format, res.Run, o.report); err != nil {
				return errors.Join(runErr, err)
			}
			fmt.Fprintf(out, "report: %s\n", o.report)
		}
		if err := res.Report.WriteText(out); err != nil {
			return err
		}
		if o.bankFile != "" {
			fmt.Fprintf(out, "bank refunds: %s (%d rows)\n", o.bankFile, res.Report.BankRefunds)
		}
		if runErr == nil {
			runErr = res.Report.Check()
		}
	}
	return runErr
}
