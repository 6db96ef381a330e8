package lab

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"payhub/internal/migration"
)

// A 100,000-row synthetic export, planned by the reader, gives exactly the figures the
// generator counted: per destination, per rejection reason, caps, disputes and KYC levels.
func TestMigrationExportPlansAsExpected(t *testing.T) {
	for _, format := range []migration.Format{migration.FormatJSONL, migration.FormatCSV} {
		t.Run(string(format), func(t *testing.T) {
			users := int64(100_000)
			if testing.Short() {
				users = 10_000
			}
			var buf bytes.Buffer
			exp, err := GenerateMigrationExport(&buf, MigExportConfig{Users: users, Seed: 7, Format: format, Caps: migration.DefaultCaps()})
			if err != nil {
				t.Fatal(err)
			}
			r, err := migration.NewReader(bytes.NewReader(buf.Bytes()), format)
			if err != nil {
				t.Fatal(err)
			}
			got := migration.NewPlan(migration.DefaultCaps())
			for {
				row, rej, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if rej != nil {
					got.AddRejection(rej)
				} else {
					got.AddRow(row)
				}
			}
			if err := got.Check(); err != nil {
				t.Fatal(err)
			}
			if got.Rows != users || exp.Rows != users {
				t.Fatalf("rows: planned %d, generated %d, want %d", got.Rows, exp.Rows, users)
			}
			for _, k := range append(migration.Kinds, migration.Unknown) {
				if !reflect.DeepEqual(got.ByKind[k], exp.ByKind[k]) {
					t.Errorf("%s: planned %+v, generated %+v", k, *got.ByKind[k], *exp.ByKind[k])
				}
			}
			per := badPerReason(users)
			for _, reason := range migration.Reasons {
				if g, e := got.ByReason[reason], exp.ByReason[reason]; !reflect.DeepEqual(g, e) || g.Rows != per {
					t.Errorf("%s: planned %+v, generated %+v, want %d rows", reason, *g, *e, per)
				}
			}
			if got.KYC != exp.KYC || got.DisputedUsers != exp.DisputedUsers || got.DisputedTxns != exp.DisputedTxns ||
				got.DisputedYen != exp.DisputedYen || got.WithHistory != exp.WithHistory || got.MaxDays != exp.MaxDays {
				t.Errorf("planned %+v\ngenerated %+v", got, exp)
			}
			// The export has what it promises: every destination, capped users, refunds, held
			// balances, histories and disputes.
			all := got.Total()
			for name, n := range map[string]int64{"capped": all.Capped, "refunded": all.Refunded, "held": all.HeldRows,
				"history": got.WithHistory, "disputed": got.DisputedUsers, "nanaco": got.ByKind[migration.KindNanaco].Valid,
				"paypay": got.ByKind[migration.KindPayPay].Valid, "bank": got.ByKind[migration.KindBank].Valid, "none": got.ByKind[migration.KindNone].Valid} {
				if n == 0 {
					t.Errorf("the export has no %s users", name)
				}
			}
		})
	}
}

// The same seed gives the same export.
func TestMigrationExportIsReproducible(t *testing.T) {
	gen := func() []byte {
		var buf bytes.Buffer
		if _, err := GenerateMigrationExport(&buf, MigExportConfig{Users: 2_000, Seed: 3, Format: migration.FormatCSV, Caps: migration.DefaultCaps()}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if !bytes.Equal(gen(), gen()) {
		t.Error("two exports with seed 3 differ")
	}
}

// payhub-lab migration-export writes the file and prints the expected plan.
func TestMigrationExportCommand(t *testing.T) {
	out := t.TempDir() + "/w.csv"
	cmd := migExportCommand()
	var stdout bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetArgs([]string{"--users", "1000", "--seed", "2", "--format", "csv", "--out", out})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1000 rows, 13 bad (1 per reason)", "rows: 1000 (valid 987, rejected 13)", "invariant", "holds"} {
		if !bytes.Contains(stdout.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, args := range [][]string{{"--users", "10", "--out", out}, {"--format", "xml", "--out", out}, {"--users", "1000"}} {
		c := migExportCommand()
		c.SetOut(io.Discard)
		c.SetErr(io.Discard)
		c.SetArgs(args)
		if err := c.Execute(); err == nil {
			t.Errorf("migration-export %v succeeded", args)
		}
	}
}
