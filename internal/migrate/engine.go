package migrate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/time/rate"

	"payhub/contracts"
	"payhub/internal/migration"
)

// Defaults of Config.
const (
	// DefaultWorkers is how many partner calls are in flight at once.
	DefaultWorkers = 4
	// DefaultBatch is how many rows' moves one database transaction writes, with the
	// checkpoint after them.
	DefaultBatch = 200
	// DefaultControlsEvery is how often the kill switches are read: a switch over operation
	// migration stops the run within this (plus the partner calls in flight).
	DefaultControlsEvery = time.Second
	// DefaultSettleWait is how long a move's outcome is inquired about before it is left
	// unknown for the next run.
	DefaultSettleWait = 5 * time.Second
	// maxAttempts bounds a nanaco move's attempts: a new one only after an inquiry proved
	// (found:false, the key fenced) that the previous one moved nothing.
	maxAttempts = 3
	// seqsPerTerminal is how many rows share one derived nanaco terminal (seq 1 to this,
	// under the adapter's MaxSeq).
	seqsPerTerminal = 400_000
)

// ErrStopped marks a run stopped before its end by a kill switch over operation migration
// (StoppedError) or by its context: running it again continues it.
var ErrStopped = errors.New("migration run stopped")

// StoppedError is a run stopped by a kill switch.
type StoppedError struct {
	// Switch is the switch in force.
	Switch contracts.KillSwitch
}

func (e *StoppedError) Error() string {
	return fmt.Sprintf("the kill switch %s stops operation migration (%s)", e.Switch.ID, e.Switch.PublicReason)
}

// Unwrap makes errors.Is(err, ErrStopped) true.
func (e *StoppedError) Unwrap() error { return ErrStopped }

// Config is one run's wiring and settings.
type Config struct {
	// Store keeps runs, moves and the ledger, and answers the kill switches and linked
	// accounts.
	Store contracts.Store
	// Nanaco takes value transfers (nil: nanaco moves fail, no partner configured).
	Nanaco contracts.ValueTransfers
	// PayPay gives cashbacks (nil: PayPay moves fail, no partner configured).
	PayPay contracts.Cashbacks
	// Caps are the per-user caps.
	Caps migration.Caps
	// Format is the export's format ("" = from the file's extension).
	Format migration.Format
	// Day is the run's day, YYYYMMDD (default: today in JST).
	Day string
	// ApprovalID is the executed migration.run approval the run starts under (checked by
	// the caller, CheckApproval).
	ApprovalID string
	// Workers bounds the partner calls in flight (default DefaultWorkers).
	Workers int
	// Rate bounds each partner's calls a second (0: unbounded).
	Rate float64
	// Batch is how many rows one transaction writes (default DefaultBatch).
	Batch int
	// ControlsEvery is how often the kill switches are read (default DefaultControlsEvery).
	ControlsEvery time.Duration
	// SettleWait is how long an outcome is inquired about (default DefaultSettleWait).
	SettleWait time.Duration
	// BankFile, when set, receives the bank refunds (CSV, mode 0600) for the bank
	// transfer system: every bank refund the run has recorded, rewritten at each end.
	BankFile string
	// Progress, when set, shows a progress bar (bytes, rate, ETA).
	Progress io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger logs (default: discard).
	Logger *slog.Logger
}

// Result is what one invocation of Run did.
type Result struct {
	// Run is the run as it stands at the end.
	Run contracts.MigrationRun
	// AlreadyFinished: the run had finished before; nothing was moved.
	AlreadyFinished bool
	// Created: this invocation started the run (otherwise it continued one).
	Created bool
	// Sent counts partner calls that ask to move money (transfers, cashbacks).
	Sent int64
	// Inquiries counts partner inquiries (transfer inquiries, cashback details).
	Inquiries int64
	// Settled counts moves left pending or unknown by an earlier invocation and settled.
	Settled int64
	// Report is the accounting of the export at the end.
	Report *Report
}

type moveKey struct {
	line int64
	kind string
}

type job struct {
	m      contracts.MigrationMove
	row    migration.Row
	settle bool // left pending or unknown by an earlier invocation: inquire first
}

type engine struct {
	cfg Config
	// run is the run as the reader writes it (its checkpoint); the workers read only runID.
	run        contracts.MigrationRun
	runID      string
	limiters   map[string]*rate.Limiter
	sent       atomic.Int64
	inquiries  atomic.Int64
	settled    atomic.Int64
	errMu      sync.Mutex
	err        error // the first database error of a worker
	log        *slog.Logger
	cancelRead context.CancelCauseFunc
}

// HashFile is the hex SHA-256 of the file at path.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (c *Config) defaults() error {
	if c.Store == nil {
		return errors.New("migrate: a store is required")
	}
	if err := c.Caps.Validate(); err != nil {
		return err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Day == "" {
		c.Day = contracts.BusinessDate(c.Now())
	}
	if _, err := time.Parse("20060102", c.Day); err != nil || len(c.Day) != 8 {
		return fmt.Errorf("migrate: day %q is not YYYYMMDD", c.Day)
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.ControlsEvery <= 0 {
		c.ControlsEvery = DefaultControlsEvery
	}
	if c.SettleWait <= 0 {
		c.SettleWait = DefaultSettleWait
	}
	if c.Rate < 0 {
		return errors.New("migrate: the rate must not be negative")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// migrationScopes are the requests a run makes, as kill switches see them.
var migrationScopes = []contracts.ControlScope{
	{Operation: contracts.OperationMigration, Partner: contracts.PartnerNanaco, Method: contracts.MethodNanaco},
	{Operation: contracts.OperationMigration, Partner: contracts.PartnerPayPay, Method: contracts.MethodPayPay},
}

// blocking is the kill switch in force over operation migration, if any.
func blocking(ctx context.Context, st contracts.ControlsStore, now time.Time) (*StoppedError, error) {
	switches, err := st.ListKillSwitches(ctx, false)
	if err != nil {
		return nil, err
	}
	for _, scope := range migrationScopes {
		if k, ok := contracts.Blocking(switches, scope, now); ok {
			return &StoppedError{Switch: k}, nil
		}
	}
	return nil, nil
}

// Run runs (or continues) the migration of the export at path on cfg.Day. It returns the
// result and, when the run stopped before its end, an error wrapping ErrStopped (a
// StoppedError for a kill switch); other errors are failures to read the export or write
// the database, after which running again continues safely.
func Run(ctx context.Context, cfg Config, path string) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	format := cfg.Format
	if format == "" {
		f, err := migration.FormatFor(path)
		if err != nil {
			return nil, err
		}
		format = f
	}
	sum, err := HashFile(path)
	if err != nil {
		return nil, err
	}
	if stop, err := blocking(ctx, cfg.Store, cfg.Now()); err != nil {
		return nil, fmt.Errorf("migrate: read the kill switches: %w", err)
	} else if stop != nil {
		return nil, stop
	}
	res := &Result{}
	run, err := cfg.Store.FindMigrationRun(ctx, sum, cfg.Day)
	if err == nil && run.Status == contracts.MigrationRunFinished {
		res.Run, res.AlreadyFinished = run, true
		rep, err := BuildReport(ctx, cfg, path, format, run)
		res.Report = rep
		return res, err
	}
	// A later day's run carries what the earlier days deferred: they must have finished.
	if err == nil || errors.Is(err, contracts.ErrNotFound) {
		if _, cerr := earlierRuns(ctx, cfg.Store, sum, cfg.Day, cfg.Caps); cerr != nil {
			return nil, cerr
		}
	}
	switch {
	case errors.Is(err, contracts.ErrNotFound):
		now := cfg.Now().UTC()
		run = contracts.MigrationRun{ID: contracts.PrefixMigrationRun + "_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String(),
			ExportSHA256: sum, Day: cfg.Day, DailyCap: cfg.Caps.Daily, TotalCap: cfg.Caps.Total, NanacoRoom: cfg.Caps.NanacoRoom,
			Status: contracts.MigrationRunRunning, ApprovalID: cfg.ApprovalID, StartedAt: now, UpdatedAt: now}
		if err := cfg.Store.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertMigrationRun(ctx, run) }); err != nil {
			return nil, fmt.Errorf("migrate: start the run: %w", err)
		}
		res.Created = true
	case err != nil:
		return nil, fmt.Errorf("migrate: find the run: %w", err)
	default:
		if run.DailyCap != cfg.Caps.Daily || run.TotalCap != cfg.Caps.Total || run.NanacoRoom != cfg.Caps.NanacoRoom {
			return nil, fmt.Errorf("migrate: run %s of this export on %s has the caps %d/%d/%d, not %d/%d/%d: continue it with its caps",
				run.ID, run.Day, run.DailyCap, run.TotalCap, run.NanacoRoom, cfg.Caps.Daily, cfg.Caps.Total, cfg.Caps.NanacoRoom)
		}
	}

	e := &engine{cfg: cfg, run: run, runID: run.ID, limiters: map[string]*rate.Limiter{}, log: cfg.Logger.With("run", run.ID)}
	for _, p := range []string{string(migration.KindNanaco), string(migration.KindPayPay)} {
		if cfg.Rate > 0 {
			e.limiters[p] = rate.NewLimiter(rate.Limit(cfg.Rate), 1)
		} else {
			e.limiters[p] = rate.NewLimiter(rate.Inf, 1)
		}
	}
	stopErr := e.pass(ctx, path, format)
	res.Sent, res.Inquiries, res.Settled = e.sent.Load(), e.inquiries.Load(), e.settled.Load()
	if e.err != nil {
		return res, e.err
	}
	if stopErr != nil && !errors.Is(stopErr, ErrStopped) {
		return res, stopErr
	}
	// Finished: the whole export read, no move left to settle.
	if stopErr == nil {
		open, err := cfg.Store.ListMigrationMoves(context.WithoutCancel(ctx), run.ID, 0, 1, contracts.MovePending, contracts.MoveUnknown)
		if err != nil {
			return res, err
		}
		if len(open) == 0 {
			now := cfg.Now().UTC()
			e.run.Status, e.run.FinishedAt, e.run.UpdatedAt = contracts.MigrationRunFinished, &now, now
			if err := cfg.Store.InTx(context.WithoutCancel(ctx), func(tx contracts.Tx) error { return tx.UpdateMigrationRun(ctx, e.run) }); err != nil {
				return res, err
			}
		}
	}
	res.Run = e.run
	rep, err := BuildReport(context.WithoutCancel(ctx), cfg, path, format, e.run)
	res.Report = rep
	if err != nil {
		return res, err
	}
	return res, stopErr
}

// pass reads the export once: rows before the checkpoint only feed the duplicate-user index
// (and their moves left unsettled are inquired about), the others' moves are written a
// batch at a time with the checkpoint and handed to the workers.
func (e *engine) pass(parent context.Context, path string, format migration.Format) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	e.cancelRead = cancel
	db := context.WithoutCancel(parent)

	// The kill switches, every ControlsEvery.
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		t := time.NewTicker(e.cfg.ControlsEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				stop, err := blocking(ctx, e.cfg.Store, e.cfg.Now())
				if err != nil {
					if ctx.Err() == nil {
						e.log.Warn("reading the kill switches failed", "err", err)
					}
					continue
				}
				if stop != nil {
					cancel(stop)
					return
				}
			}
		}
	}()
	defer func() { cancel(nil); <-watchDone }()

	// What an earlier invocation left unsettled.
	unsettled := map[moveKey]contracts.MigrationMove{}
	for after := int64(0); ; {
		page, err := e.cfg.Store.ListMigrationMoves(db, e.run.ID, after, 1000, contracts.MovePending, contracts.MoveUnknown)
		if err != nil {
			return err
		}
		for _, m := range page {
			unsettled[moveKey{m.Line, m.Kind}] = m
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Line
	}

	jobs := make(chan job, e.cfg.Workers*2)
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Go(func() {
			for j := range jobs {
				e.process(ctx, db, j)
			}
		})
	}
	err := e.read(ctx, db, path, format, unsettled, jobs)
	close(jobs)
	wg.Wait()
	if err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
		if errors.Is(cause, ErrStopped) {
			return cause
		}
		return fmt.Errorf("%w: %w", ErrStopped, cause)
	}
	return nil
}

func (e *engine) fail(err error) {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	if e.err == nil {
		e.err = err
		e.cancelRead(err)
	}
}

// read streams the export and feeds the workers.
func (e *engine) read(ctx, db context.Context, path string, format migration.Format, unsettled map[moveKey]contracts.MigrationMove, jobs chan<- job) error {
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
	var bar *progressbar.ProgressBar
	if e.cfg.Progress != nil {
		bar = progressbar.NewOptions64(info.Size(), progressbar.OptionSetWriter(e.cfg.Progress),
			progressbar.OptionSetDescription("migrating"), progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true), progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionFullWidth(), progressbar.OptionClearOnFinish())
		defer func() { _ = bar.Finish() }()
	}

	type pendingRow struct {
		row   migration.Row
		moves []contracts.MigrationMove
	}
	var batch []pendingRow
	flush := func(end int64) error {
		if len(batch) == 0 && end <= e.run.Checkpoint {
			return nil
		}
		// What earlier days of this export moved for each user is carried; a user another
		// export's run moved (the same users in a re-exported file) is not moved again.
		rows := make([]migration.Row, len(batch))
		for i := range batch {
			rows[i] = batch[i].row
		}
		before, err := earlierFor(db, e.cfg.Store, e.run, rows)
		if err != nil {
			return err
		}
		for i := range batch {
			b := before[batch[i].row.UserID]
			if batch[i].moves, err = e.movesOf(db, batch[i].row, b); err != nil {
				return err
			}
			if b.OtherRun != "" {
				for j := range batch[i].moves {
					m := &batch[i].moves[j]
					m.Status, m.Detail = contracts.MoveFailed, "rejected: the user was moved by run "+b.OtherRun
				}
			}
		}
		now := e.cfg.Now().UTC()
		run := e.run
		run.Checkpoint, run.UpdatedAt = end, now
		err = e.cfg.Store.InTx(db, func(tx contracts.Tx) error {
			for _, p := range batch {
				for _, m := range p.moves {
					m.CreatedAt, m.UpdatedAt = now, now
					if err := tx.InsertMigrationMove(db, m); err != nil {
						return err
					}
					if t, ok := postingOnWrite(m, now); ok {
						if err := tx.PostLedger(db, t); err != nil {
							return err
						}
					}
				}
			}
			return tx.UpdateMigrationRun(db, run)
		})
		if err != nil {
			return fmt.Errorf("migrate: write the moves up to byte %d: %w", end, err)
		}
		e.run = run
		for _, p := range batch {
			for _, m := range p.moves {
				if m.Status == contracts.MovePending {
					select {
					case jobs <- job{m: m, row: p.row}:
					case <-ctx.Done():
						// Written pending: the next invocation settles it by inquiry.
					}
				}
			}
		}
		batch = batch[:0]
		return nil
	}

	for n := 0; ; n++ {
		if ctx.Err() != nil {
			return nil
		}
		row, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		end := r.Offset()
		if bar != nil && n%256 == 0 {
			_ = bar.Set64(end)
		}
		if rej != nil {
			continue
		}
		if end <= e.run.Checkpoint {
			for _, k := range []migration.Kind{migration.KindNanaco, migration.KindPayPay} {
				if m, ok := unsettled[moveKey{row.Line, string(k)}]; ok {
					select {
					case jobs <- job{m: m, row: row, settle: true}:
					case <-ctx.Done():
						return nil
					}
				}
			}
			continue
		}
		batch = append(batch, pendingRow{row: row})
		if len(batch) >= e.cfg.Batch {
			if err := flush(end); err != nil {
				return err
			}
		}
	}
	return flush(r.Offset())
}

// movesOf is what a row moves: its wallet move (pending, or failed at once for a PayPay
// account that is not an active link) and its bank refund, as the caps split what the
// earlier days left.
func (e *engine) movesOf(ctx context.Context, row migration.Row, before earlier) ([]contracts.MigrationMove, error) {
	s := splitAfter(e.cfg.Caps, row.Destination.Kind, row.Balance, row.Destination.Bank != nil, before)
	var out []contracts.MigrationMove
	base := contracts.MigrationMove{RunID: e.run.ID, Line: row.Line, UserID: row.UserID, Attempt: 1}
	if s.Now > 0 {
		m := base
		m.Kind, m.Amount, m.Status = string(row.Destination.Kind), s.Now, contracts.MovePending
		switch row.Destination.Kind {
		case migration.KindNanaco:
			m.PartnerRef = e.nanacoRef(row.Line, 1)
			if e.cfg.Nanaco == nil {
				m.Status, m.Detail = contracts.MoveFailed, "no nanaco partner is configured"
			}
		case migration.KindPayPay:
			m.PartnerRef = e.cashbackID(row.Line, 1)
			if _, why, err := e.userAuthorization(ctx, row.Destination.PayPayAccount); err != nil {
				return nil, err
			} else if why != "" {
				m.Status, m.Detail = contracts.MoveFailed, why
			} else if e.cfg.PayPay == nil {
				m.Status, m.Detail = contracts.MoveFailed, "no PayPay partner is configured"
			}
		}
		out = append(out, m)
	}
	if s.BankRefund > 0 {
		m := base
		m.Kind, m.Amount, m.Status = string(migration.KindBank), s.BankRefund, contracts.MoveBankRefund
		out = append(out, m)
	}
	return out, nil
}

// userAuthorization is the PayPay user authorization of the linked account id, or why the
// account cannot receive (not found, not PayPay, not active).
func (e *engine) userAuthorization(ctx context.Context, id string) (ua, why string, err error) {
	la, err := e.cfg.Store.GetLinkedAccountByID(ctx, id)
	switch {
	case errors.Is(err, contracts.ErrNotFound):
		return "", "rejected: the linked account does not exist", nil
	case err != nil:
		return "", "", fmt.Errorf("migrate: read a linked account: %w", err)
	case la.Method != contracts.MethodPayPay:
		return "", "rejected: the linked account is not a PayPay account", nil
	case la.Status != contracts.LinkActive || la.UserAuthorizationID == "":
		return "", "rejected: the linked account is " + string(la.Status) + ", not active", nil
	}
	return la.UserAuthorizationID, "", nil
}

// nanacoRef derives a nanaco move's key from the run, the row and the attempt: a terminal
// enabled for transfers (MIG-…) named after the run, the attempt and the row's block, the
// business date of the attempt, and the row's place in its block.
func (e *engine) nanacoRef(line int64, attempt int) string {
	tag := e.runID[len(e.runID)-12:]
	return contracts.SequenceRef{Terminal: fmt.Sprintf("MIG-%s-%d-%d", tag, attempt, line/seqsPerTerminal),
		BusinessDate: contracts.BusinessDate(e.cfg.Now()), Seq: int(line%seqsPerTerminal) + 1}.String()
}

// cashbackID derives a PayPay move's merchantCashbackId from the run, the row and the
// attempt.
func (e *engine) cashbackID(line int64, attempt int) string {
	return fmt.Sprintf("%s_%d_%d", e.runID, line, attempt)
}

// sourceRef names a move for the partner's records: the run and the row, nothing personal.
func (e *engine) sourceRef(m contracts.MigrationMove) string {
	return fmt.Sprintf("%s/%d", e.runID, m.Line)
}

// sleep waits d or until ctx is done; false when ctx is.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
