package app

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"payhub/internal/migration"
)

func TestMigratePlan(t *testing.T) {
	dir := t.TempDir()
	export := filepath.Join(dir, "wallet.jsonl")
	lines := []string{
		`{"user_id":"u1","balance":130000,"kyc_level":2,"destination":"paypay","paypay_account":"la_01HZX5Y8K2M3N4P5Q6R7S8T9VW","bank_code":"0001","branch_code":"001","account_type":"ordinary","account_number":"1234567","holder_kana":"ﾔﾏﾀﾞ ﾀﾛｳ"}`,
		`{"user_id":"u2","balance":60000,"kyc_level":1,"destination":"nanaco","nanaco_number":"7000000000000001"}`,
		`{"user_id":"u3","balance":5000,"kyc_level":0,"destination":"none"}`,
		`{"user_id":"u4","balance":-1,"kyc_level":0,"destination":"none"}`,
		`{"user_id":"u2","balance":10,"kyc_level":1,"destination":"nanaco","nanaco_number":"7000000000000001"}`,
	}
	if err := os.WriteFile(export, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "plan.csv")
	var out bytes.Buffer
	cmd := MigrateCommand()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"plan", export, "--report", report, "--rate", "2"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("migrate plan: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"rows: 5 (valid 3, rejected 2)",
		"holds (¥195,010)",
		"negative_balance", "duplicate_user",
		"2 users deferred (¥120,000 over later days",
		"1 bank refunds queued (¥30,000, of which ¥30,000 over the total cap)",
		"1 users held (¥5,000)",
		"expected duration: 2s for 3 users at 2 users/s",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the plan lacks %q:\n%s", want, text)
		}
	}
	f, err := os.Open(report)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o600 {
		t.Errorf("report mode %v, want 0600", fi.Mode().Perm())
	}
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != 6 {
		t.Fatalf("report: %d records, %v", len(recs), err)
	}
	if got := strings.Join(recs[1], ","); got != "1,u1,valid,paypay,130000,20000,80000,30000,0,," {
		t.Errorf("report row 1 = %s", got)
	}
	if got := recs[5]; got[2] != "rejected" || got[9] != string(migration.ReasonDuplicateUser) {
		t.Errorf("report row 5 = %v", got)
	}
}

func TestMigratePlanRefusals(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "wallet.txt")
	_ = os.WriteFile(txt, []byte("{}\n"), 0o600)
	badCSV := filepath.Join(dir, "wallet.csv")
	_ = os.WriteFile(badCSV, []byte("user_id,balance\n"), 0o600)
	for _, args := range [][]string{
		{"plan", txt},                    // no format from the extension
		{"plan", badCSV},                 // header
		{"plan", txt, "--format", "xml"}, // format
		{"plan", txt, "--format", "jsonl", "--daily-cap", "0"},
		{"plan", txt, "--format", "jsonl", "--daily-cap", "200000"}, // above the total cap
		{"plan", txt, "--format", "jsonl", "--rate", "0"},
		{"plan", filepath.Join(dir, "missing.jsonl")},
	} {
		cmd := MigrateCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err == nil {
			t.Errorf("migrate %v succeeded:\n%s", args, out.String())
		}
	}
}
