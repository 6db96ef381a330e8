package app

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"payhub/internal/migration"
)

// The retired wallet's migration (issue 18; docs/migration.md): `payhub migrate plan`, a dry
// run over the export; `payhub migrate request`, the two-person approval a run needs; and
// `payhub migrate run` (internal/migrate), which moves the balances.

// MigrateCommand is `payhub migrate`: plan moving the retired wallet's balances.
func MigrateCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Move the retired wallet's balances: plan the move from its export (docs/migration.md)"}
	cmd.AddCommand(migratePlanCommand(), migrateRequestCommand(), migrateRunCommand())
	return cmd
}

// migratePlanOptions are `payhub migrate plan`'s flags.
type migratePlanOptions struct {
	format   string
	caps     migration.Caps
	rate     float64
	report   string
	progress bool // a progress bar on stderr (when stderr is a terminal)
}

func migratePlanCommand() *cobra.Command {
	o := migratePlanOptions{caps: migration.DefaultCaps()}
	cmd := &cobra.Command{
		Use:   "plan <export>",
		Short: "Dry run over the export: totals per destination, rejections by reason, what the caps defer",
		Long: `Read the retired wallet's export once (JSONL or CSV, docs/migration.md), moving nothing, and
print per destination the rows and yen that move now, are deferred by the caps, are queued as
bank refunds or are held, the rejected rows by reason (rows and yen), and the expected
duration at --rate. The invariant Σ balances = Σ movable now + Σ deferred + Σ bank refund +
Σ held + Σ rejected is checked per destination, to the yen: exit 1 if it fails.
--report writes every row's outcome as CSV (0600: it names user ids).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			boundBatchMemory()
			o.progress = isTerminal(os.Stderr)
			return runMigratePlan(cmd.OutOrStdout(), os.Stderr, args[0], o)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "", "jsonl or csv (default: from the file's extension)")
	cmd.Flags().Int64Var(&o.caps.Daily, "daily-cap", migration.DefaultDailyCap, "yen moved to one user's wallet a day")
	cmd.Flags().Int64Var(&o.caps.Total, "total-cap", migration.DefaultTotalCap, "yen moved to one user's wallet in all; the rest is refunded to their bank account if given")
	cmd.Flags().Int64Var(&o.caps.NanacoRoom, "nanaco-room", migration.NanacoCentreHeldCap, "a nanaco card's centre-held room on the first day")
	cmd.Flags().Float64Var(&o.rate, "rate", 100, "users moved a second, for the expected duration")
	cmd.Flags().StringVar(&o.report, "report", "", "write every row's outcome to this CSV file")
	return cmd
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// reportColumns are --report's header.
var reportColumns = []string{"line", "user_id", "status", "destination", "balance", "now", "deferred", "bank_refund", "held", "reason", "detail"}

// runMigratePlan is the plan over the file at path; the plan goes to out, the progress bar
// (o.progress) to progressOut.
func runMigratePlan(out, progressOut io.Writer, path string, o migratePlanOptions) error {
	if err := o.caps.Validate(); err != nil {
		return err
	}
	if o.rate <= 0 {
		return errors.New("--rate must be positive")
	}
	var format migration.Format
	var err error
	if o.format != "" {
		format, err = migration.ParseFormat(o.format)
	} else {
		format, err = migration.FormatFor(path)
	}
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	r, err := migration.NewReader(f, format)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer r.Close()

	var report *csv.Writer
	var reportBuf *bufio.Writer
	if o.report != "" {
		reportFile, err := os.OpenFile(o.report, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer reportFile.Close()
		reportBuf = bufio.NewWriterSize(reportFile, 1<<20)
		report = csv.NewWriter(reportBuf)
		if err := report.Write(reportColumns); err != nil {
			return err
		}
	}

	var bar *progressbar.ProgressBar
	if o.progress {
		bar = progressbar.NewOptions64(info.Size(),
			progressbar.OptionSetWriter(progressOut),
			progressbar.OptionSetDescription("planning"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
			progressbar.OptionClearOnFinish(),
		)
	}

	plan := migration.NewPlan(o.caps)
	start := time.Now()
	rec := make([]string, len(reportColumns))
	for n := 0; ; n++ {
		row, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if rej != nil {
			plan.AddRejection(rej)
			if report != nil {
				bal := ""
				if rej.BalanceKnown {
					bal = strconv.FormatInt(rej.Balance, 10)
				}
				rec = append(rec[:0], strconv.FormatInt(rej.Line, 10), rej.UserID, "rejected", string(rej.Kind), bal, "", "", "", "", string(rej.Reason), rej.Detail)
			}
		} else {
			s := plan.AddRow(row)
			if report != nil {
				rec = append(rec[:0], strconv.FormatInt(row.Line, 10), row.UserID, "valid", string(row.Destination.Kind),
					strconv.FormatInt(row.Balance, 10), strconv.FormatInt(s.Now, 10), strconv.FormatInt(s.Deferred, 10),
					strconv.FormatInt(s.BankRefund, 10), strconv.FormatInt(s.Held, 10), "", "")
			}
		}
		if report != nil {
			if err := report.Write(rec); err != nil {
				return err
			}
		}
		if bar != nil && n%4096 == 0 {
			_ = bar.Set64(r.Offset())
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if report != nil {
		report.Flush()
		if err := report.Error(); err != nil {
			return err
		}
		if err := reportBuf.Flush(); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	fmt.Fprintf(out, "%s (%s, %d bytes), read in %s (%.0f rows/s); duplicate-user index %d users, %.1f MiB\n",
		path, format, info.Size(), elapsed.Round(time.Millisecond), float64(plan.Rows)/max(elapsed.Seconds(), 1e-9),
		r.Users(), float64(r.IndexBytes())/(1<<20))
	if err := plan.WriteText(out, o.rate); err != nil {
		return err
	}
	if o.report != "" {
		fmt.Fprintf(out, "report: %s\n", o.report)
	}
	return plan.Check()
}

// batchMemoryLimit is the Go runtime's soft memory limit for the commands that stream a
// whole export (migrate plan, migrate run). Their live heap is a few MiB whatever the
// export's size (docs/migration.md §6), but a strict JSON decoder makes about 8 KB of
// garbage a row: on a busy machine the collector falls behind and the heap's transient peak
// grows with how long the run lasts, not with what it holds. The limit has the collector
// keep up before the peak passes it. GOMEMLIMIT, when set, wins.
const batchMemoryLimit = 48 << 20

func boundBatchMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(batchMemoryLimit)
	}
}
