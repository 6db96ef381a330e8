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
	return cmd
}

// migInvocation is one `payhub migrate run` process.
type migInvocation struct {
	killed  bool
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

	// Two people approve.
	sum, err := migrate.HashFile(path)
	if err != nil {
		return err
	}
	caps := migration.DefaultCaps()
	params := migrate.RunParams{ExportSHA256: sum, Day: contracts.BusinessDate(time.Now()), DailyCap: caps.Daily, TotalCap: caps.Total, NanacoRoom: caps.NanacoRoom}
	svc := approvals.New(approvals.Config{Store: st, AuditKey: auditKey})
	migrate.RegisterApproval(svc)
	a, err := svc.Request(ctx, approvals.Requester{ID: "cli:lab"}, migrate.ActionRun, params, "payhub-lab migration-run", "")
	if err != nil {
		return err
	}
	if _, err := svc.Approve(ctx, a.ID, "lab-approver", []string{auth.RoleOperator}, ""); err != nil {
		return err
	}

	// Run, SIGKILL, run again.
	rng := rand.New(rand.NewPCG(cfg.Seed, 18))
	bankFile := filepath.Join(dir, "bank.csv")
	args := []string{"migrate", "run", path, "--approval", a.ID, "--db", dbURL, "--bank-file", bankFile,
		"--workers", strconv.Itoa(cfg.Workers), "--rate", strconv.FormatFloat(cfg.Rate, 'f', -1, 64)}
	var runs []migInvocation
	invoke := func(i int, killAfter time.Duration) (migInvocation, error) {
		c := &childProcess{name: "migrate", logPath: filepath.Join(dir, fmt.Sprintf("migrate-%d.log", i)), bin: bins.payhub, env: env, args: args}
		start := time.Now()
		if err := c.start(); err != nil {
			return migInvocation{}, err
		}
		inv := migInvocation{}
		if killAfter > 0 {
			select {
			case <-c.exited:
			case <-time.After(killAfter):
				c.kill()
				inv.killed = true
			case <-ctx.Done():
				c.kill()
				return inv, ctx.Err()
			}
		} else {
			select {
			case <-c.exited:
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
	for i := range cfg.Kills {
		inv, err := invoke(i, time.Duration(500+rng.IntN(2500))*time.Millisecond)
		if err != nil {
			return err
		}
		runs = append(runs, inv)
	}
	for i := cfg.Kills; ; i++ {
		inv, err := invoke(i, 0)
		if err != nil {
			return err
		}
		runs = append(runs, inv)
		run, err := st.FindMigrationRun(ctx, sum, params.Day)
		if err != nil {
			return err
		}
		if run.Status == contracts.MigrationRunFinished {
			break
		}
		if i > cfg.Kills+5 {
			return errors.New("the run does not finish")
		}
	}
	// Once more: nothing may move.
	again, err := invoke(len(runs), 0)
	if err != nil {
		return err
	}
	logAgain, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("migrate-%d.log", len(runs))))
	if !strings.Contains(string(logAgain), "nothing to move") {
		return fmt.Errorf("the finished run run again did not say it moves nothing:\n%s", logAgain)
	}

	// The checks.
	run, err := st.FindMigrationRun(ctx, sum, params.Day)
	if err != nil {
		return err
	}
	rep, err := migrate.BuildReport(ctx, migrate.Config{Store: st, Caps: caps}, path, "", run)
	if err != nil {
		return err
	}
	var problems []string
	if err := rep.Check(); err != nil {
		problems = append(problems, err.Error())
	}
	total := plan.Total()
	if total.Balance != rep.Total.Balance || total.RejectedYen != rep.Total.Rejected || total.Held != rep.Total.Held {
		problems = append(problems, fmt.Sprintf("the report differs from the generator's plan: plan %+v, report %+v", total, rep.Total))
	}
	if rep.Total.Unsettled != 0 || rep.Total.NotReached != 0 {
		problems = append(problems, fmt.Sprintf("a finished run leaves %d unsettled and %d not reached", rep.Total.Unsettled, rep.Total.NotReached))
	}
	var ledger struct {
		Transactions []nanacosim.LedgerEntry `json:"transactions"`
	}
	if err := simSend(ctx, http.MethodGet, nanacoURL+"/_sim/ledger", nil, http.StatusOK, &ledger); err != nil {
		return err
	}
	var transferred int64
	perCard := map[string]int{}
	for _, e := range ledger.Transactions {
		if e.Type == "TRANSFER" && e.Status == "APPROVED" {
			transferred += int64(e.Amount)
			perCard[e.NanacoNumber]++
		}
	}
	for card, n := range perCard {
		if n > 1 {
			problems = append(problems, fmt.Sprintf("card …%s received %d transfers", card[len(card)-4:], n))
		}
	}
	if transferred != rep.ByKind["nanaco"].Moved {
		problems = append(problems, fmt.Sprintf("nanaco's ledger holds %d yen of transfers, the report moved %d", transferred, rep.ByKind["nanaco"].Moved))
	}
	var acct paypaysim.CashbackAccount
	if err := simSend(ctx, http.MethodGet, paypayURL+"/_sim/cashback/"+paypaysim.UserOK, nil, http.StatusOK, &acct); err != nil {
		return err
	}
	if acct.Balance != rep.ByKind["paypay"].Moved {
		problems = append(problems, fmt.Sprintf("PayPay's cashbacks hold %d yen, the report moved %d", acct.Balance, rep.ByKind["paypay"].Moved))
	}

	if err := rep.WriteText(out); err != nil {
		return err
	}
	var work time.Duration
	for i, inv := range runs {
		what := "finished"
		if inv.killed {
			what = "SIGKILLed"
		}
		fmt.Fprintf(out, "invocation %d: %s after %s, peak RSS %.1f MiB\n", i+1, what, inv.elapsed.Round(time.Millisecond), float64(inv.maxRSS)/1024)
		work += inv.elapsed
	}
	fmt.Fprintf(out, "run again: %s, peak RSS %.1f MiB, nothing moved\n", again.elapsed.Round(time.Millisecond), float64(again.maxRSS)/1024)
	fmt.Fprintf(out, "%d users in %s over %d invocations: %.0f users/s; nanaco transfers %d yen, PayPay cashbacks %d yen, both as reported\n",
		cfg.Users, work.Round(time.Millisecond), len(runs), float64(cfg.Users)/work.Seconds(), transferred, acct.Balance)
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
