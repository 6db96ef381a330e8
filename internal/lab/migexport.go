package lab

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"payhub/internal/migration"
)

// The synthetic export of the retired wallet (issue 18; docs/migration.md): rows with a known
// share of each destination, users above the caps, histories, disputes and a known number of
// each kind of bad row, streamed; and the plan figures payhub migrate plan must print for it.

// MigExportConfig is one synthetic export.
type MigExportConfig struct {
	// Users is how many rows the export has (bad rows included).
	Users int64
	// Seed makes the export reproducible.
	Seed uint64
	// Format is jsonl or csv.
	Format migration.Format
	// Caps are the caps the expected plan applies.
	Caps migration.Caps
}

// badPerReason is how many bad rows of each reason an export of n rows has: one per
// thousand, at least one.
func badPerReason(n int64) int64 { return max(1, n/1000) }

// genReasons are the reasons the generator makes bad rows for, each badPerReason times.
var genReasons = migration.Reasons

// GenerateMigrationExport writes a synthetic export to w and answers the plan its rows must
// give: built from the generator's own tally (each valid row's Caps.Split), not by reading
// the file back.
func GenerateMigrationExport(w io.Writer, cfg MigExportConfig) (*migration.Plan, error) {
	if cfg.Users < 100 {
		return nil, errors.New("--users must be at least 100")
	}
	bad := badPerReason(cfg.Users) * int64(len(genReasons))
	if bad*2 > cfg.Users {
		return nil, errors.New("too few users for the bad rows")
	}
	out, err := migration.NewWriter(w, cfg.Format)
	if err != nil {
		return nil, err
	}
	var scratchBuf bytes.Buffer
	scratch, err := migration.NewWriter(&scratchBuf, cfg.Format)
	if err != nil {
		return nil, err
	}
	if err := scratch.Flush(); err != nil {
		return nil, err
	}
	scratchBuf.Reset()

	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	exp := migration.NewPlan(cfg.Caps)
	step := cfg.Users / bad
	var badDone int64
	lastValid := ""
	for i := range cfg.Users {
		row := genRow(rng, i)
		if i%step == step-1 && badDone < bad && lastValid != "" {
			reason := genReasons[badDone%int64(len(genReasons))]
			badDone++
			line, balance, known, kind, err := badRow(rng, scratch, &scratchBuf, cfg.Format, row, reason, lastValid)
			if err != nil {
				return nil, err
			}
			if err := out.WriteRaw(line); err != nil {
				return nil, err
			}
			exp.AddRejection(&migration.Rejection{Reason: reason, Balance: balance, BalanceKnown: known, Kind: kind})
			continue
		}
		if err := out.Write(row); err != nil {
			return nil, err
		}
		tallyValid(exp, row)
		lastValid = row.UserID
	}
	if err := out.Flush(); err != nil {
		return nil, err
	}
	return exp, nil
}

// tallyValid adds a valid row to the expected plan field by field (not through Plan.AddRow,
// so the reader's plan is compared with an independent count; the split is Caps.Split's,
// table-tested on its own).
func tallyValid(exp *migration.Plan, row migration.Row) {
	s := exp.Caps.Split(row.Destination.Kind, row.Balance, row.Destination.Bank != nil)
	t := exp.ByKind[row.Destination.Kind]
	exp.Rows++
	t.Rows++
	t.Valid++
	t.Balance += row.Balance
	t.Now += s.Now
	t.Deferred += s.Deferred
	t.BankRefund += s.BankRefund
	t.Held += s.Held
	if s.Deferred > 0 {
		t.Capped++
	}
	if s.BankRefund > 0 {
		t.Refunded++
	}
	if s.Held > 0 {
		t.HeldRows++
	}
	exp.MaxDays = max(exp.MaxDays, s.Days)
	exp.KYC[row.KYCLevel]++
	if row.History != nil {
		exp.WithHistory++
	}
	if len(row.Disputed) > 0 {
		exp.DisputedUsers++
		exp.DisputedTxns += int64(len(row.Disputed))
		for _, d := range row.Disputed {
			exp.DisputedYen += d.Amount
		}
	}
}

var kanaNames = []string{"ﾔﾏﾀﾞ ﾀﾛｳ", "ｽｽﾞｷ ﾊﾅｺ", "ｻﾄｳ ｲﾁﾛｳ", "ﾀﾅｶ ﾐﾕｷ", "ﾜﾀﾅﾍﾞ ｹﾝ(ｶ"}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// genRow is row i, valid: destinations nanaco 35%, paypay 35%, bank 15%, none 15%; balances
// ¥0 3%, up to ¥20,000 62%, up to ¥100,000 20%, up to ¥500,000 15% (above the caps); a
// refund account on half the wallet moves; a history on 20%; disputes on 1%.
func genRow(rng *rand.Rand, i int64) migration.Row {
	row := migration.Row{UserID: fmt.Sprintf("u%09d", i), KYCLevel: rng.IntN(4)}
	switch r := rng.IntN(100); {
	case r < 3:
	case r < 65:
		row.Balance = 1 + rng.Int64N(20_000)
	case r < 85:
		row.Balance = 20_001 + rng.Int64N(80_000)
	default:
		row.Balance = 100_001 + rng.Int64N(400_000)
	}
	bank := func() *migration.BankAccount {
		types := []migration.AccountType{migration.AccountOrdinary, migration.AccountCurrent, migration.AccountSavings}
		return &migration.BankAccount{
			BankCode: fmt.Sprintf("%04d", rng.IntN(10_000)), BranchCode: fmt.Sprintf("%03d", rng.IntN(1000)),
			Type: types[rng.IntN(3)], Number: fmt.Sprintf("%07d", rng.IntN(10_000_000)), HolderKana: kanaNames[rng.IntN(len(kanaNames))],
		}
	}
	switch r := rng.IntN(100); {
	case r < 35:
		row.Destination = migration.Destination{Kind: migration.KindNanaco, NanacoNumber: fmt.Sprintf("7%015d", rng.Int64N(1e15))}
	case r < 70:
		var b strings.Builder
		b.WriteString("la_0")
		for range 25 {
			b.WriteByte(crockford[rng.IntN(32)])
		}
		row.Destination = migration.Destination{Kind: migration.KindPayPay, PayPayAccount: b.String()}
	case r < 85:
		row.Destination = migration.Destination{Kind: migration.KindBank, Bank: bank()}
	default:
		row.Destination = migration.Destination{Kind: migration.KindNone}
	}
	if k := row.Destination.Kind; (k == migration.KindNanaco || k == migration.KindPayPay) && rng.IntN(2) == 0 {
		row.Destination.Bank = bank()
	}
	if rng.IntN(5) == 0 {
		spent := rng.Int64N(5_000)
		row.History = []int64{row.Balance + spent, -spent}
		if rng.IntN(2) == 0 {
			row.History = []int64{row.Balance}
		}
	}
	if rng.IntN(100) == 0 {
		row.Disputed = []migration.Disputed{{ID: fmt.Sprintf("pay_%d", rng.Int64N(1e12)), Amount: 1 + rng.Int64N(5_000)}}
	}
	return row
}

// The balance the bad rows are rendered with and then replaced (a value no valid row has).
const balanceMarker = 987_654_321_987

// badRow renders row made bad for reason. known and kind are what the Rejection will say.
func badRow(rng *rand.Rand, scratch *migration.Writer, buf *bytes.Buffer, format migration.Format, row migration.Row, reason migration.Reason, lastValid string) (line []byte, balance int64, known bool, kind migration.Kind, err error) {
	known, kind = true, row.Destination.Kind
	balanceText := strconv.FormatInt(row.Balance, 10)
	row.History, row.Disputed = nil, nil
	var jsonExtra bool
	switch reason {
	case migration.ReasonMalformedRow:
		jsonExtra, known, kind = true, false, ""
	case migration.ReasonMalformedUserID:
		row.UserID = "bad id!"
	case migration.ReasonDuplicateUser:
		row.UserID = lastValid
	case migration.ReasonNonIntegerBalance:
		balanceText, known = balanceText+".5", false
	case migration.ReasonNegativeBalance:
		balanceText, known = "-"+strconv.FormatInt(row.Balance+1, 10), false
	case migration.ReasonBalanceOutOfRange:
		balanceText, known = strconv.FormatInt(migration.MaxBalance+1+rng.Int64N(1000), 10), false
	case migration.ReasonMalformedKYCLevel:
		row.KYCLevel = 4 + rng.IntN(5)
	case migration.ReasonUnknownDestination:
		row.Destination, kind = migration.Destination{Kind: "linepay"}, ""
	case migration.ReasonMalformedNanacoNumber:
		row.Destination = migration.Destination{Kind: migration.KindNanaco, NanacoNumber: "8" + strings.Repeat("1", 15)}
		kind = migration.KindNanaco
	case migration.ReasonMalformedPayPayAccount:
		row.Destination = migration.Destination{Kind: migration.KindPayPay, PayPayAccount: "la_xyz"}
		kind = migration.KindPayPay
	case migration.ReasonMalformedBankAccount:
		row.Destination = migration.Destination{Kind: migration.KindBank, Bank: &migration.BankAccount{
			BankCode: "12", BranchCode: "001", Type: migration.AccountOrdinary, Number: "1234567", HolderKana: "ﾔﾏﾀﾞ ﾀﾛｳ"}}
		kind = migration.KindBank
	case migration.ReasonBalanceHistoryMismatch:
		row.History = []int64{row.Balance + 100, -1}
	case migration.ReasonMalformedDisputed:
		row.Disputed = []migration.Disputed{{ID: "pay_1", Amount: 0}}
	default:
		return nil, 0, false, "", fmt.Errorf("no bad row for %s", reason)
	}
	balance = row.Balance
	if !known {
		balance = 0
	}
	row.Balance = balanceMarker
	buf.Reset()
	if err := scratch.Write(row); err != nil {
		return nil, 0, false, "", err
	}
	if err := scratch.Flush(); err != nil {
		return nil, 0, false, "", err
	}
	s := strings.Replace(buf.String(), strconv.FormatInt(balanceMarker, 10), balanceText, 1)
	if jsonExtra {
		if format == migration.FormatJSONL {
			s = strings.Replace(s, "{", `{"extra":1,`, 1)
		} else {
			s = s[:strings.LastIndexByte(s, ',')] + "\n" // one field short
		}
	}
	return []byte(s), balance, known, kind, nil
}

func migExportCommand() *cobra.Command {
	var cfg MigExportConfig
	var format, out string
	cmd := &cobra.Command{
		Use:   "migration-export",
		Short: "Write a synthetic export of the retired wallet (docs/migration.md) and print the plan it must give",
		Long: `Write --users rows (JSONL or CSV, streamed: memory stays flat) with a known share of each
destination (nanaco 35%, paypay 35%, bank 15%, none 15%), 35% of balances above the daily
cap and 15% above the total cap, histories, disputes, and one bad row per thousand for each
rejection reason (at least one each). Then print the plan 'payhub migrate plan' must print
for it under the default caps, from the generator's own tally.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := migration.ParseFormat(format)
			if err != nil {
				return err
			}
			cfg.Format = f
			cfg.Caps = migration.DefaultCaps()
			if out == "" {
				return errors.New("--out is required")
			}
			file, err := os.Create(out)
			if err != nil {
				return err
			}
			bw := bufio.NewWriterSize(file, 1<<20)
			exp, err := GenerateMigrationExport(bw, cfg)
			if err == nil {
				err = bw.Flush()
			}
			if cerr := file.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d rows, %d bad (%d per reason)\nexpected plan:\n", out, cfg.Users,
				badPerReason(cfg.Users)*int64(len(genReasons)), badPerReason(cfg.Users))
			return exp.WriteText(cmd.OutOrStdout(), 0)
		},
	}
	cmd.Flags().Int64Var(&cfg.Users, "users", 100_000, "rows in the export (bad rows included)")
	cmd.Flags().Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	cmd.Flags().StringVar(&format, "format", "jsonl", "jsonl or csv")
	cmd.Flags().StringVar(&out, "out", "", "file to write")
	return cmd
}
