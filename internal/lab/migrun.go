package lab

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/auth"
	"payhub/internal/ledger"
	"payhub/internal/migrate"
	"payhub/internal/migration"
	"payhub/internal/store"
	nanacosim "payhub/mocks/nanaco"
	paypaysim "payhub/mocks/paypay"
)

// The wallet migration under SIGKILL (issue 18): `payhub-lab migration-run` writes a
// synthetic export, starts `payhub sim`, seeds a nanaco card for every nanaco row and a
// linked PayPay account for every PayPay row, approves the run (two people), then runs
// `payhub migrate run` as a process, SIGKILLs it --kills times at seeded moments and runs
// it again until it finishes; then checks the report (balanced to the yen, equal to the
// generator's plan), the ledger, and the simulators' own ledgers, runs it once more
// (nothing may move), and prints users a second and each process's peak RSS.

type migRunConfig struct {
	Users   int64
	Seed    uint64
	Kills   int
	Workers int
	Rate    float64
	DB      string
	Payhub  string
	Keep    bool
	Days    int
}

func migRunCommand() *cobra.Command {
	var cfg migRunConfig
	cmd := &cobra.Command{
		Use:   "migration-run",
		Short: "Migrate a synthetic export against the simulators through SIGKILLs; check the report, ledger and simulators; measure users/s and peak RSS",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runMigRun(ctx, cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.Int64Var(&cfg.Users, "users", 100_000, "rows of the synthetic export")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the export and the kill moments")
	f.IntVar(&cfg.Kills, "kills", 2, "times payhub migrate run is SIGKILLed before it may finish")
	f.IntVar(&cfg.Workers, "workers", 8, "payhub migrate run --workers")
	f.Float64Var(&cfg.Rate, "rate", 0, "payhub migrate run --rate (0: unbounded)")
	f.StringVar(&cfg.DB, "db", "", "database: postgres://… (default: SQLite in the temporary directory)")
	f.StringVar(&cfg.Payhub, "payhub", "", "the payhub binary to run (default: payhub next to payhub-lab)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory (export, database, logs)")
	f.IntVar(&cfg.Days, "days", 2, "days to run the export on: the later days move what the caps deferred")
	return cmd
}

// migInvocation is one `payhub migrate run` process.
type migInvocation struct {
	day     string
	killed  bool
	killAt  int64 // the checkpoint (bytes) at the SIGKILL
	elapsed time.Duration
	maxRSS  int64 // KiB
	exit    int
}

func runMigRun(ctx context.Context, cfg migRunConfig, out io.Writer) error {
	bins, err := findBinaries(cfg.Payhub)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "payhub-migration-run-")
	if err != nil {
		return err
	}
	if cfg.Keep {
		fmt.Fprintf(out, "keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	// The export.
	path := filepath.Join(dir, "wallet.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	plan, err := GenerateMigrationExport(f, MigExportConfig{Users: cfg.Users, Seed: cfg.Seed, Format: migration.FormatJSONL, Caps: migration.DefaultCaps()})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "export: %d rows\n", cfg.Users)

	// The operators' dry run, as a process: it must balance (exit 0) and find the
	// generator's totals.
	planStart := time.Now()
	planCmd := exec.CommandContext(ctx, bins.payhub, "migrate", "plan", path)
	planOut, err := planCmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("payhub migrate plan: %w\n%s", err, planOut)
	}
	planRSS := int64(0)
	if ru, ok := planCmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		planRSS = ru.Maxrss
	}
	if t := plan.Total(); !strings.Contains(string(planOut), groupedYen(t.Balance)) || !strings.Contains(string(planOut), groupedYen(t.Deferred)) {
		return fmt.Errorf("payhub migrate plan does not show the generator's balance %d and deferred %d:\n%s", t.Balance, t.Deferred, planOut)
	}
	fmt.Fprintf(out, "payhub migrate plan: balanced, the generator's totals, in %s, peak RSS %.1f MiB\n",
		time.Since(planStart).Round(time.Millisecond), float64(planRSS)/1024)

	// The simulators.
	addrs := make([]string, 3)
	for i := range addrs {
		if addrs[i], err = freeLoopbackAddr(); err != nil {
			return err
		}
	}
	paypayURL, linepayURL, nanacoURL := "http://"+addrs[0], "http://"+addrs[1], "http://"+addrs[2]
	auditEnv := auditKeyEnv()
	auditKey, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(auditEnv, "PAYHUB_AUDIT_KEY="))
	if err != nil {
		return err
	}
	env := append([]string{secretKeyEnv(), auditEnv}, crashPartnerEnv(paypayURL, linepayURL, nanacoURL)...)
	simProc := &childProcess{name: "sim", logPath: filepath.Join(dir, "sim.log"), bin: bins.payhub, env: env,
		args: crashSimArgs(addrs[0], addrs[1], addrs[2], 0, int64(cfg.Seed))}
	if err := simProc.start(); err != nil {
		return err
	}
	defer simProc.stop()
	if err := waitReady(ctx, simProc, nanacoURL+"/_sim/cards"); err != nil {
		return err
	}
	if err := waitReady(ctx, simProc, paypayURL+"/_sim/cashback"); err != nil {
		return err
	}

	dbURL := cfg.DB
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(dir, "payhub.db")
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	seedStart := time.Now()
	cards, links, err := seedMigration(ctx, st, path, nanacoURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "seeded %d nanaco cards and %d linked PayPay accounts in %s\n", cards, links, time.Since(seedStart).Round(time.Millisecond))

	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	sum, err := migrate.HashFile(path)
	if err != nil {
		return err
	}
	caps := migration.DefaultCaps()
	svc := approvals.New(approvals.Config{Store: st, AuditKey: auditKey})
	migrate.RegisterApproval(svc)
	// approve has two people approve the run of one day.
	approve := func(day string) (string, error) {
		params := migrate.RunParams{ExportSHA256: sum, Day: day, DailyCap: caps.Daily, TotalCap: caps.Total, NanacoRoom: caps.NanacoRoom}
		a, err := svc.Request(ctx, approvals.Requester{ID: "cli:lab"}, migrate.ActionRun, params, "payhub-lab migration-run", "")
		if err != nil {
			return "", err
		}
		if _, err := svc.Approve(ctx, a.ID, "lab-approver", []string{auth.RoleOperator}, ""); err != nil {
			return "", err
		}
		return a.ID, nil
	}

	// Run, SIGKILL when the checkpoint passes seeded points of the export, run again.
	rng := rand.New(rand.NewPCG(cfg.Seed, 18))
	bankFile := filepath.Join(dir, "bank.csv")
	var runs []migInvocation
	n := 0
	invoke := func(day, approval string, killAt int64) (migInvocation, error) {
		n++
		args := []string{"migrate", "run", path, "--approval", approval, "--day", day, "--db", dbURL, "--bank-file", bankFile,
			"--workers", strconv.Itoa(cfg.Workers), "--rate", strconv.FormatFloat(cfg.Rate, 'f', -1, 64)}
		c := &childProcess{name: "migrate", logPath: filepath.Join(dir, fmt.Sprintf("migrate-%d.log", n)), bin: bins.payhub, env: env, args: args}
		start := time.Now()
		if err := c.start(); err != nil {
			return migInvocation{}, err
		}
		inv := migInvocation{day: day}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
	wait:
		for {
			select {
			case <-c.exited:
				break wait
			case <-tick.C:
				if killAt <= 0 {
					continue
				}
				run, err := st.FindMigrationRun(ctx, sum, day)
				if err == nil && run.Checkpoint >= killAt {
					c.kill()
					inv.killed, inv.killAt = true, run.Checkpoint
					break wait
				}
			case <-ctx.Done():
				c.kill()
				return inv, ctx.Err()
			}
		}
		inv.elapsed = time.Since(start)
		if ps := c.cmd.ProcessState; ps != nil {
			if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
				inv.maxRSS = ru.Maxrss
			}
			inv.exit = ps.ExitCode()
		}
		if !inv.killed && inv.exit != 0 {
			return inv, fmt.Errorf("payhub migrate run exited %d:\n%s", inv.exit, c.logTail())
		}
		return inv, nil
	}
	// runDay runs one day to its end, SIGKILLed at kills seeded points (fractions of the
	// export in order, spread over the run), and checks that running it again moves nothing.
	runDay := func(day string, kills int) (again migInvocation, err error) {
		approval, err := approve(day)
		if err != nil {
			return again, err
		}
		for i := range kills {
			lo, hi := float64(i)/float64(kills), float64(i+1)/float64(kills)
			frac := 0.1 + 0.8*(lo+(hi-lo)*rng.Float64())
			inv, err := invoke(day, approval, int64(frac*float64(info.Size())))
			if err != nil {
				return again, err
			}
			runs = append(runs, inv)
		}
		for i := 0; ; i++ {
			inv, err := invoke(day, approval, 0)
			if err != nil {
				return again, err
			}
			runs = append(runs, inv)
			run, err := st.FindMigrationRun(ctx, sum, day)
			if err != nil {
				return again, err
			}
			if run.Status == contracts.MigrationRunFinished {
				break
			}
			if i > 5 {
				return again, fmt.Errorf("the run of %s does not finish", day)
			}
		}
		// Once more: nothing may move.
		if again, err = invoke(day, approval, 0); err != nil {
			return again, err
		}
		logAgain, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("migrate-%d.log", n)))
		if !strings.Contains(string(logAgain), "nothing to move") {
			return again, fmt.Errorf("the finished run of %s run again did not say it moves nothing:\n%s", day, logAgain)
		}
		return again, nil
	}
	first := time.Now()
	var agains []migInvocation
	var reports []*migrate.Report
	days := max(cfg.Days, 1)
	for d := range days {
		day := contracts.BusinessDate(first.AddDate(0, 0, d))
		kills := 0
		if d == 0 {
			kills = cfg.Kills
		}
		again, err := runDay(day, kills)
		if err != nil {
			return err
		}
		agains = append(agains, again)
		run, err := st.FindMigrationRun(ctx, sum, day)
		if err != nil {
			return err
		}
		rep, err := migrate.BuildReport(ctx, migrate.Config{Store: st, Caps: caps}, path, "", run)
		if err != nil {
			return err
		}
		reports = append(reports, rep)
	}

	// The checks: every day's report balances, the first equals the generator's plan, the
	// later days count what the earlier moved; the simulators hold what the days moved.
	var problems []string
	var movedNanaco, movedPayPay int64
	total := plan.Total()
	for d, rep := range reports {
		if err := rep.Check(); err != nil {
			problems = append(problems, fmt.Sprintf("day %d: %v", d+1, err))
		}
		if total.Balance != rep.Total.Balance || total.RejectedYen != rep.Total.Rejected || total.Held != rep.Total.Held {
			problems = append(problems, fmt.Sprintf("day %d: the report differs from the generator's plan: plan %+v, report %+v", d+1, total, rep.Total))
		}
		if d == 0 && (total.Now < rep.Total.Moved || total.Deferred > rep.Total.Deferred) {
			problems = append(problems, fmt.Sprintf("day 1 moved %d (the plan's now is %d) and deferred %d (the plan's %d)", rep.Total.Moved, total.Now,
				rep.Total.Deferred, total.Deferred))
		}
		if d > 0 && rep.Total.MovedBefore != movedNanaco+movedPayPay {
			problems = append(problems, fmt.Sprintf("day %d counts %d moved before, the earlier days moved %d", d+1, rep.Total.MovedBefore, movedNanaco+movedPayPay))
		}
		if rep.Total.Unsettled != 0 || rep.Total.NotReached != 0 {
			problems = append(problems, fmt.Sprintf("day %d: a finished run leaves %d unsettled and %d not reached", d+1, rep.Total.Unsettled, rep.Total.NotReached))
		}
		movedNanaco += rep.ByKind["nanaco"].Moved
		movedPayPay += rep.ByKind["paypay"].Moved
	}
	var ncsLedger struct {
		Transactions []nanacosim.LedgerEntry `json:"transactions"`
	}
	if err := simSend(ctx, http.MethodGet, nanacoURL+"/_sim/ledger", nil, http.StatusOK, &ncsLedger); err != nil {
		return err
	}
	var transferred int64
	perCard := map[string]int{}
	for _, e := range ncsLedger.Transactions {
		if e.Type == "TRANSFER" && e.Status == "APPROVED" {
			transferred += int64(e.Amount)
			perCard[e.NanacoNumber]++
		}
	}
	for card, n := range perCard {
		if n > days {
			problems = append(problems, fmt.Sprintf("card …%s received %d transfers", card[len(card)-4:], n))
		}
	}
	if transferred != movedNanaco {
		problems = append(problems, fmt.Sprintf("nanaco's ledger holds %d yen of transfers, the reports moved %d", transferred, movedNanaco))
	}
	var acct paypaysim.CashbackAccount
	if err := simSend(ctx, http.MethodGet, paypayURL+"/_sim/cashback/"+paypaysim.UserOK, nil, http.StatusOK, &acct); err != nil {
		return err
	}
	if acct.Balance != movedPayPay {
		problems = append(problems, fmt.Sprintf("PayPay's cashbacks hold %d yen, the reports moved %d", acct.Balance, movedPayPay))
	}
	if lrep, err := ledger.Check(ctx, st, 0); err != nil {
		return err
	} else if !lrep.OK() {
		problems = append(problems, "payhub ledger check: "+strings.Join(lrep.Problems, "; "))
	}

	for _, rep := range reports {
		if err := rep.WriteText(out); err != nil {
			return err
		}
	}
	work := map[string]time.Duration{}
	var peak int64
	for i, inv := range runs {
		what := "finished"
		if inv.killed {
			what = fmt.Sprintf("SIGKILLed at byte %d of %d (%.0f%%)", inv.killAt, info.Size(), 100*float64(inv.killAt)/float64(info.Size()))
		}
		fmt.Fprintf(out, "invocation %d (%s): %s after %s, peak RSS %.1f MiB\n", i+1, inv.day, what, inv.elapsed.Round(time.Millisecond), float64(inv.maxRSS)/1024)
		work[inv.day] += inv.elapsed
		peak = max(peak, inv.maxRSS)
	}
	for _, again := range agains {
		fmt.Fprintf(out, "%s run again: %s, peak RSS %.1f MiB, nothing moved\n", again.day, again.elapsed.Round(time.Millisecond), float64(again.maxRSS)/1024)
	}
	for d, rep := range reports {
		w := work[rep.Run.Day]
		fmt.Fprintf(out, "day %d (%s): %d users in %s: %.0f users/s, %d yen moved\n", d+1, rep.Run.Day, cfg.Users, w.Round(time.Millisecond),
			float64(cfg.Users)/w.Seconds(), rep.ByKind["nanaco"].Moved+rep.ByKind["paypay"].Moved)
	}
	fmt.Fprintf(out, "peak RSS of any invocation: %.1f MiB; nanaco transfers %d yen, PayPay cashbacks %d yen, both as reported; payhub ledger check passed\n",
		float64(peak)/1024, transferred, acct.Balance)
	if len(problems) > 0 {
		return fmt.Errorf("migration-run: %s", strings.Join(problems, "; "))
	}
	fmt.Fprintln(out, "OK")
	return nil
}

// seedMigration puts an active card in the nanaco simulator for every nanaco row and an
// active linked account (PayPay's fixture user) in the store for every PayPay row.
func seedMigration(ctx context.Context, st contracts.Store, path, nanacoURL string) (cards, links int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r, err := migration.NewReader(f, migration.FormatJSONL)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	numbers := make(chan string, 256)
	var wg sync.WaitGroup
	var putErr error
	var mu sync.Mutex
	for range 8 {
		wg.Go(func() {
			for n := range numbers {
				body := nanacosim.CardState{NanacoNumber: n, CardType: nanacosim.CardTypeCard, Status: nanacosim.CardActive}
				if err := simSend(ctx, http.MethodPut, nanacoURL+"/_sim/cards/"+n, body, http.StatusOK, nil); err != nil {
					mu.Lock()
					putErr = err
					mu.Unlock()
				}
			}
		})
	}
	now := time.Now().UTC()
	var batch []contracts.LinkedAccount
	flush := func() error {
		err := st.InTx(ctx, func(tx contracts.Tx) error {
			for _, la := range batch {
				if err := tx.InsertLinkedAccount(ctx, la); err != nil && !errors.Is(err, contracts.ErrConflict) {
					return err
				}
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	for {
		row, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			close(numbers)
			wg.Wait()
			return 0, 0, err
		}
		if rej != nil {
			continue
		}
		switch row.Destination.Kind {
		case migration.KindNanaco:
			numbers <- row.Destination.NanacoNumber
			cards++
		case migration.KindPayPay:
			batch = append(batch, contracts.LinkedAccount{ID: row.Destination.PayPayAccount, ClientID: "lab-pos", StoreID: "lab-store",
				Method: contracts.MethodPayPay, Status: contracts.LinkActive, Scopes: []string{"cashback"},
				UserAuthorizationID: paypaysim.UserOK, Nonce: "lab", CreatedAt: now, UpdatedAt: now, LinkedAt: &now})
			links++
			if len(batch) >= 1000 {
				if err := flush(); err != nil {
					close(numbers)
					wg.Wait()
					return 0, 0, err
				}
			}
		}
	}
	close(numbers)
	wg.Wait()
	if putErr != nil {
		return 0, 0, putErr
	}
	return cards, links, flush()
}

// groupedYen writes yen as the plan prints them: ¥1,234,567.
func groupedYen(n int64) string {
	digits := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return "¥" + b.String()
}
