package migrate

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"payhub/contracts"
	"payhub/internal/ledger"
	"payhub/internal/migration"
)

// Totals are one destination's yen (and rows) at the end of an invocation. Every yen of a
// row is in exactly one of the columns after Balance:
//
//	Balance = MovedBefore + BankRefundBefore + Moved + Deferred + BankRefund + Held +
//	          Rejected + Failed + Unsettled + NotReached
type Totals struct {
	// Rows counts the export's rows (valid and rejected).
	Rows int64
	// Balance sums the balances (of rejected rows, those that read as integers).
	Balance int64
	// MovedBefore is what partners credited on the export's earlier days.
	MovedBefore int64
	// BankRefundBefore is what the export's earlier days queued for bank refunds.
	BankRefundBefore int64
	// Moved is what the partners credited.
	Moved int64
	// Deferred is what the caps leave to later days, plus what a partner had no room for.
	Deferred int64
	// BankRefund is what is queued for bank refunds (the bank file).
	BankRefund int64
	// Held is what stays in the retired wallet: users who chose nothing, or over the total
	// cap without a refund account.
	Held int64
	// Rejected is the balance of the export's rejected rows.
	Rejected int64
	// Failed is what a partner refused or could not receive (a link not active, a card not
	// found): never moved, to be handled by hand or another run.
	Failed int64
	// Unsettled is what is on its way: moves pending or unknown, settled by the next run.
	Unsettled int64
	// NotReached is what a stopped run has not read yet.
	NotReached int64
}

// Accounted sums every column after Balance.
func (t Totals) Accounted() int64 {
	return t.MovedBefore + t.BankRefundBefore + t.Moved + t.Deferred + t.BankRefund + t.Held + t.Rejected + t.Failed +
		t.Unsettled + t.NotReached
}

func (t *Totals) add(o Totals) {
	t.Rows += o.Rows
	t.Balance += o.Balance
	t.MovedBefore += o.MovedBefore
	t.BankRefundBefore += o.BankRefundBefore
	t.Moved += o.Moved
	t.Deferred += o.Deferred
	t.BankRefund += o.BankRefund
	t.Held += o.Held
	t.Rejected += o.Rejected
	t.Failed += o.Failed
	t.Unsettled += o.Unsettled
	t.NotReached += o.NotReached
}

// reportKinds are the report's destinations; "unknown" is rejected rows that name none.
var reportKinds = []string{"nanaco", "paypay", "bank", "none", "unknown"}

// Report is a run's accounting of the export, and whether the ledger agrees.
type Report struct {
	// Run is the run.
	Run contracts.MigrationRun
	// ByKind is the totals per destination (reportKinds).
	ByKind map[string]*Totals
	// Total sums ByKind.
	Total Totals
	// LedgerMoved is what the run's "moved" postings say per destination; LedgerBankRefund
	// what its bank refund postings say; LedgerInTransit what its postings leave in transit
	// per destination.
	LedgerMoved, LedgerInTransit map[string]int64
	// LedgerBankRefund sums the run's bank refund postings.
	LedgerBankRefund int64
	// Ledger is the whole ledger's check (ledger.Check).
	Ledger ledger.Report
	// BankRefunds counts the bank file's rows.
	BankRefunds int64
}

// Check is nil when every destination's yen are accounted for to the yen and the ledger
// agrees with the report.
func (r *Report) Check() error {
	var problems []string
	for _, k := range reportKinds {
		t := r.ByKind[k]
		if t.Balance != t.Accounted() {
			problems = append(problems, fmt.Sprintf("%s: balances %d, accounted %d", k, t.Balance, t.Accounted()))
		}
	}
	for _, k := range []string{"nanaco", "paypay"} {
		if got, want := r.LedgerMoved[k], r.ByKind[k].Moved; got != want {
			problems = append(problems, fmt.Sprintf("ledger: %s moved %d, report %d", k, got, want))
		}
		if got, want := r.LedgerInTransit[k], r.ByKind[k].Unsettled; got != want {
			problems = append(problems, fmt.Sprintf("ledger: %s in transit %d, report unsettled %d", k, got, want))
		}
	}
	if r.LedgerBankRefund != r.Total.BankRefund {
		problems = append(problems, fmt.Sprintf("ledger: bank refunds %d, report %d", r.LedgerBankRefund, r.Total.BankRefund))
	}
	if !r.Ledger.OK() {
		problems = append(problems, "ledger check: "+strings.Join(r.Ledger.Problems, "; "))
	}
	if len(problems) > 0 {
		return fmt.Errorf("migrate: the report does not balance: %s", strings.Join(problems, "; "))
	}
	return nil
}

// WriteText prints the report.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "run %s (day %s, %s)\n", r.Run.ID, r.Run.Day, r.Run.Status)
	before := r.Total.MovedBefore+r.Total.BankRefundBefore != 0
	if before {
		fmt.Fprintf(bw, "%-8s %9s %14s %14s %14s %14s %14s %14s %14s %14s %12s %12s %12s\n", "dest", "rows", "balance", "moved_before",
			"bank_before", "moved", "deferred", "bank_refund", "held", "rejected", "failed", "unsettled", "not_reached")
	} else {
		fmt.Fprintf(bw, "%-8s %9s %14s %14s %14s %14s %14s %14s %12s %12s %12s\n", "dest", "rows", "balance", "moved", "deferred",
			"bank_refund", "held", "rejected", "failed", "unsettled", "not_reached")
	}
	line := func(name string, t Totals) {
		if before {
			fmt.Fprintf(bw, "%-8s %9d %14d %14d %14d ", name, t.Rows, t.Balance, t.MovedBefore, t.BankRefundBefore)
		} else {
			fmt.Fprintf(bw, "%-8s %9d %14d ", name, t.Rows, t.Balance)
		}
		fmt.Fprintf(bw, "%14d %14d %14d %14d %14d %12d %12d %12d\n", t.Moved, t.Deferred,
			t.BankRefund, t.Held, t.Rejected, t.Failed, t.Unsettled, t.NotReached)
	}
	for _, k := range reportKinds {
		line(k, *r.ByKind[k])
	}
	line("total", r.Total)
	fmt.Fprintf(bw, "ledger: moved nanaco %d, paypay %d; in transit nanaco %d, paypay %d; bank refunds %d (%d rows); %s\n",
		r.LedgerMoved["nanaco"], r.LedgerMoved["paypay"], r.LedgerInTransit["nanaco"], r.LedgerInTransit["paypay"],
		r.LedgerBankRefund, r.BankRefunds, r.Ledger.Summary())
	if err := r.Check(); err != nil {
		fmt.Fprintf(bw, "DOES NOT BALANCE: %v\n", err)
	} else {
		fmt.Fprintln(bw, "balances to the yen per destination: Σ balances = moved before + bank refunds before + moved + deferred + bank refund + held + rejected + failed + unsettled + not reached; the ledger agrees")
	}
	return bw.Flush()
}

// RowColumns are --report's header.
var RowColumns = []string{"line", "user_id", "destination", "balance", "moved_before", "bank_refund_before", "moved", "deferred", "bank_refund", "held", "rejected",
	"failed", "unsettled", "not_reached", "status", "detail"}

// BankColumns are the bank file's header: what a zengin transfer needs, per refund.
var BankColumns = []string{"run_id", "line", "user_id", "amount", "bank_code", "branch_code", "account_type", "account_number", "holder_kana"}

type csvOut struct {
	f  *os.File
	bw *bufio.Writer
	w  *csv.Writer
}

func createCSV(path string, header []string) (*csvOut, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	o := &csvOut{f: f, bw: bufio.NewWriterSize(f, 1<<20)}
	o.w = csv.NewWriter(o.bw)
	return o, o.w.Write(header)
}

func (o *csvOut) write(rec []string) error {
	if o == nil {
		return nil
	}
	return o.w.Write(rec)
}

func (o *csvOut) close() error {
	if o == nil {
		return nil
	}
	o.w.Flush()
	err := errors.Join(o.w.Error(), o.bw.Flush(), o.f.Sync())
	return errors.Join(err, o.f.Close())
}

// BuildReport reads the export once more with the run's moves (both by line) and adds
// every row up; it writes cfg.BankFile, and rowReport when set, and compares with the
// ledger.
func BuildReport(ctx context.Context, cfg Config, path string, format migration.Format, run contracts.MigrationRun) (*Report, error) {
	return buildReport(ctx, cfg, path, format, run, "")
}

// BuildReportTo is BuildReport also writing one CSV line per row to rowReport.
func BuildReportTo(ctx context.Context, cfg Config, path string, format migration.Format, run contracts.MigrationRun, rowReport string) (*Report, error) {
	return buildReport(ctx, cfg, path, format, run, rowReport)
}

func buildReport(ctx context.Context, cfg Config, path string, format migration.Format, run contracts.MigrationRun, rowReport string) (rep *Report, err error) {
	caps := migration.Caps{Daily: run.DailyCap, Total: run.TotalCap, NanacoRoom: run.NanacoRoom}
	rep = &Report{Run: run, ByKind: map[string]*Totals{}, LedgerMoved: map[string]int64{}, LedgerInTransit: map[string]int64{}}
	for _, k := range reportKinds {
		rep.ByKind[k] = &Totals{}
	}
	if format == "" {
		if format, err = migration.FormatFor(path); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := migration.NewReader(f, format)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	bank, err := createCSV(cfg.BankFile, BankColumns)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, bank.close()) }()
	rows, err := createCSV(rowReport, RowColumns)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, rows.close()) }()

	// The moves, a page at a time, merged with the rows by line.
	var page []contracts.MigrationMove
	after, done := int64(0), false
	movesAt := func(line int64) ([]contracts.MigrationMove, error) {
		for {
			for len(page) > 0 && page[0].Line < line {
				page = page[1:]
			}
			if len(page) > 0 || done {
				break
			}
			next, err := cfg.Store.ListMigrationMoves(ctx, run.ID, after, 2000)
			if err != nil {
				return nil, err
			}
			if len(next) == 0 {
				done = true
				break
			}
			page, after = next, next[len(next)-1].Line
		}
		n := 0
		for n < len(page) && page[n].Line == line {
			n++
		}
		return page[:n], nil
	}

	// A later day's report counts what the earlier days moved, read a chunk of rows at a time.
	carried, err := hasEarlierDays(ctx, cfg.Store, run)
	if err != nil {
		return nil, err
	}
	rec := make([]string, 0, len(RowColumns))
	account := func(row migration.Row, rej *migration.Rejection, before earlier) error {
		var t Totals
		var kind, status, detail string
		var line int64
		var userID string
		if rej != nil {
			kind, line, userID, status, detail = string(rej.Kind), rej.Line, rej.UserID, "rejected", string(rej.Reason)
			if kind == "" {
				kind = "unknown"
			}
			t.Rows = 1
			if rej.BalanceKnown {
				t.Balance, t.Rejected = rej.Balance, rej.Balance
			}
		} else {
			kind, line, userID = string(row.Destination.Kind), row.Line, row.UserID
			s := splitAfter(caps, row.Destination.Kind, row.Balance, row.Destination.Bank != nil, before)
			t = Totals{Rows: 1, Balance: row.Balance, MovedBefore: before.Credited, BankRefundBefore: before.BankRefund,
				Deferred: s.Deferred, Held: s.Held}
			moves, err := movesAt(row.Line)
			if err != nil {
				return err
			}
			wallet, refund := false, false
			status = "valid"
			for _, m := range moves {
				switch {
				case m.Kind == string(migration.KindBank) && m.Status != contracts.MoveBankRefund:
					refund = true
					t.Failed += m.Amount
					status, detail = string(m.Status), m.Detail
				case m.Kind == string(migration.KindBank):
					refund = true
					t.BankRefund += m.Amount
					rep.BankRefunds++
					if b := row.Destination.Bank; b != nil {
						if err := bank.write([]string{run.ID, strconv.FormatInt(row.Line, 10), row.UserID, strconv.FormatInt(m.Amount, 10),
							b.BankCode, b.BranchCode, string([]byte{b.Type.ZenginCode()}), b.Number, b.HolderKana}); err != nil {
							return err
						}
					}
				case m.Kind == kind:
					wallet = true
					status, detail = string(m.Status), m.Detail
					switch m.Status {
					case contracts.MoveSucceeded:
						t.Moved += m.Credited
						t.Deferred += m.Amount - m.Credited
					case contracts.MoveDeferred:
						t.Deferred += m.Amount
					case contracts.MoveFailed:
						t.Failed += m.Amount
					default:
						t.Unsettled += m.Amount
					}
				}
			}
			if !wallet && s.Now > 0 {
				t.NotReached += s.Now
				status = "not_reached"
			}
			if !refund && s.BankRefund > 0 {
				t.NotReached += s.BankRefund
				status = "not_reached"
			}
		}
		rep.ByKind[kind].add(t)
		rep.Total.add(t)
		if rows != nil {
			rec = append(rec[:0], strconv.FormatInt(line, 10), userID, kind, strconv.FormatInt(t.Balance, 10),
				strconv.FormatInt(t.MovedBefore, 10), strconv.FormatInt(t.BankRefundBefore, 10), strconv.FormatInt(t.Moved, 10), strconv.FormatInt(t.Deferred, 10), strconv.FormatInt(t.BankRefund, 10),
				strconv.FormatInt(t.Held, 10), strconv.FormatInt(t.Rejected, 10), strconv.FormatInt(t.Failed, 10),
				strconv.FormatInt(t.Unsettled, 10), strconv.FormatInt(t.NotReached, 10), status, detail)
			if err := rows.write(rec); err != nil {
				return err
			}
		}
		return nil
	}
	type item struct {
		row migration.Row
		rej *migration.Rejection
	}
	chunk := make([]item, 0, 500)
	valid := make([]migration.Row, 0, 500)
	flush := func() error {
		var before map[string]earlier
		if carried && len(valid) > 0 {
			if before, err = earlierFor(ctx, cfg.Store, run, valid); err != nil {
				return err
			}
		}
		for _, it := range chunk {
			if err := account(it.row, it.rej, before[it.row.UserID]); err != nil {
				return err
			}
		}
		chunk, valid = chunk[:0], valid[:0]
		return nil
	}
	for {
		row, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		chunk = append(chunk, item{row: row, rej: rej})
		if rej == nil {
			valid = append(valid, row)
		}
		if len(chunk) == cap(chunk) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if err := rep.readLedger(ctx, cfg.Store, run.ID); err != nil {
		return nil, err
	}
	return rep, nil
}

// readLedger sums the run's postings and checks the whole ledger.
func (r *Report) readLedger(ctx context.Context, st contracts.Store, runID string) error {
	prefix := ledgerPrefix(runID)
	after := prefix
	for {
		page, err := st.ListLedgerTransactions(ctx, after, 1000)
		if err != nil {
			return err
		}
		for _, t := range page {
			if !strings.HasPrefix(t.ID, prefix) {
				return r.checkLedger(ctx, st)
			}
			for _, e := range t.Entries {
				if !strings.HasPrefix(e.Account, ledger.MigrationInTransitPrefix) {
					continue
				}
				dest := strings.TrimPrefix(e.Account, ledger.MigrationInTransitPrefix)
				switch t.Kind {
				case KindMoveMoved:
					r.LedgerMoved[dest] += e.Credit
				case KindBankRefund:
					r.LedgerBankRefund += e.Debit
					continue
				}
				r.LedgerInTransit[dest] += e.Debit - e.Credit
			}
		}
		if len(page) < 1000 {
			return r.checkLedger(ctx, st)
		}
		after = page[len(page)-1].ID
	}
}

func (r *Report) checkLedger(ctx context.Context, st contracts.Store) error {
	rep, err := ledger.Check(ctx, st, 0)
	if err != nil {
		return err
	}
	r.Ledger = rep
	return nil
}
