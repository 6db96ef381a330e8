package store

import (
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Rolling upgrades (docs/design.md, "Rolling upgrades (expand, then contract)"): the
// instances sharing one PostgreSQL upgrade one at a time, so the release before a
// migration keeps running beside it. A release's migrations may therefore only expand the
// schema; a contract step ships a release after nothing reads the old shape, and says so in
// a marker comment. This file holds the check and its classifier.
//
// Only the PostgreSQL migrations are checked: SQLite serves one process, which is stopped
// before the next release starts (no old instance runs beside the new schema), and its
// migrations must rebuild a table to change a column.

// expandOnlyFrom is the first migration bound by the rule; those before it were written
// while payhub ran as one instance at a time.
const expandOnlyFrom = 27

// grandfathered lists the migrations before expandOnlyFrom whose up step contracts the
// schema or builds an index without CONCURRENTLY on a table in use. The list is exact: an
// old migration edited to contract the schema fails as a new one would.
var grandfathered = []string{
	"00003_resolution.sql", "00004_stuck_requests.sql", "00006_partner_callbacks.sql",
	"00008_instances_and_reversals.sql", // redefines payments_to_resolve: DROP INDEX
	"00009_answers.sql",                 // rewrites the stored answers: DROP COLUMN response_status
	"00010_webhook_fairness.sql", "00012_clients_and_inbox.sql",
	"00014_provisional_payments.sql", // redefines payments_to_resolve: DROP INDEX
}

// Marker comments that let a new migration do what the rule otherwise refuses; each needs
// its reason after the colon.
var (
	// contractMarker: "-- contract: <why nothing reads the old shape any more, and the
	// release after which that holds>".
	contractMarker = regexp.MustCompile(`(?m)^\s*--\s*contract:[ \t]*\S`)
	// locksMarker: "-- locks: <why the table's writes may wait for the index build>",
	// e.g. the table is small.
	locksMarker = regexp.MustCompile(`(?m)^\s*--\s*locks:[ \t]*\S`)
)

// schemaChange is one statement of a migration's up step that the previous release might
// not survive.
type schemaChange struct {
	statement string
	// contract: it removes or changes what the previous release reads or writes; else the
	// statement only locks a table in use for as long as it runs.
	contract bool
	why      string
}

// Contract clauses of an ALTER TABLE, tried in order.
var alterTableRules = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`^DROP CONSTRAINT\b`), "drops a constraint (the previous release's ON CONFLICT may need it)"},
	{regexp.MustCompile(`^DROP (COLUMN )?`), "drops a column the previous release reads"},
	{regexp.MustCompile(`^RENAME\b`), "renames what the previous release names"},
	{regexp.MustCompile(`^ALTER (COLUMN )?\S+ (SET DATA )?TYPE\b`), "changes a column's type"},
	{regexp.MustCompile(`^ALTER (COLUMN )?\S+ DROP DEFAULT\b`), "drops a default the previous release's inserts rely on"},
	{regexp.MustCompile(`^ADD (CONSTRAINT|UNIQUE|CHECK|FOREIGN KEY|PRIMARY KEY|EXCLUDE)\b`), "adds a constraint the previous release's writes may break"},
}

var (
	createTableRE = regexp.MustCompile(`^CREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?([^\s(]+)`)
	alterTableRE  = regexp.MustCompile(`^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?(\S+) (.*)$`)
	createIndexRE = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?(?:\S+ )?ON (?:ONLY )?([^\s(]+)`)
	dropRE        = regexp.MustCompile(`^DROP (TABLE|INDEX|VIEW|MATERIALIZED VIEW|TYPE|SEQUENCE|FUNCTION|TRIGGER|SCHEMA|DOMAIN)\b`)
	alterRenameRE = regexp.MustCompile(`^ALTER \S+ .*\bRENAME\b`)
	setNotNullRE  = regexp.MustCompile(`^ALTER (?:COLUMN )?(\S+) SET NOT NULL\b`)
	addColumnRE   = regexp.MustCompile(`^ADD (?:COLUMN )?(?:IF NOT EXISTS )?\S+ `)
)

// schemaChanges classifies the statements of a migration's up step. Statements on a table
// the same step creates are left alone: no release before it knows that table.
func schemaChanges(up string) []schemaChange {
	var out []schemaChange
	created := map[string]bool{}
	for _, st := range sqlStatements(up) {
		if m := createTableRE.FindStringSubmatch(st); m != nil {
			created[m[1]] = true
			continue
		}
		if c, ok := classifyStatement(st, created); ok {
			out = append(out, c)
		}
	}
	return out
}

// classifyStatement says what in statement st (normalized by sqlStatements) the previous release
// might not survive, if anything.
func classifyStatement(st string, created map[string]bool) (schemaChange, bool) {
	contract := func(why string) (schemaChange, bool) { return schemaChange{st, true, why}, true }
	if m := alterTableRE.FindStringSubmatch(st); m != nil {
		if created[m[1]] {
			return schemaChange{}, false
		}
		return alterTable(st, splitClauses(m[2]))
	}
	if m := createIndexRE.FindStringSubmatch(st); m != nil {
		switch {
		case created[m[3]]:
			return schemaChange{}, false
		case m[1] != "":
			return contract("adds a unique index: the previous release may write rows it refuses")
		case m[2] == "":
			return schemaChange{st, false, "builds an index without CONCURRENTLY: writes to the table wait for it"}, true
		}
		return schemaChange{}, false
	}
	if m := dropRE.FindStringSubmatch(st); m != nil {
		what := strings.ToLower(m[1])
		if what == "index" {
			what = "n " + what
		} else {
			what = " " + what
		}
		return contract("drops a" + what + " the previous release may use")
	}
	if alterRenameRE.MatchString(st) {
		return contract("renames what the previous release names")
	}
	return schemaChange{}, false
}

// alterTable classifies an ALTER TABLE statement st on a table in use by its clauses.
func alterTable(st string, clauses []string) (schemaChange, bool) {
	for _, c := range clauses {
		for _, r := range alterTableRules {
			if r.re.MatchString(c) {
				return schemaChange{st, true, r.why}, true
			}
		}
		if m := setNotNullRE.FindStringSubmatch(c); m != nil && !setsDefault(clauses, m[1]) {
			return schemaChange{st, true, "makes a column NOT NULL without a default: the previous release's inserts may leave it out"}, true
		}
		if addColumnRE.MatchString(c) && strings.Contains(c, "NOT NULL") && !strings.Contains(c, "DEFAULT") {
			return schemaChange{st, true, "adds a NOT NULL column without a default: the previous release's inserts leave it out"}, true
		}
	}
	return schemaChange{}, false
}

// setsDefault reports whether one of an ALTER TABLE's clauses gives column a default.
func setsDefault(clauses []string, column string) bool {
	re := regexp.MustCompile(`^ALTER (?:COLUMN )?` + regexp.QuoteMeta(column) + ` SET DEFAULT\b`)
	return slices.ContainsFunc(clauses, re.MatchString)
}

// splitClauses splits an ALTER TABLE's actions at the commas outside parentheses.
func splitClauses(actions string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range actions {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(actions[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(actions[start:]))
}

// sqlStatements splits SQL into its statements, each upper-cased with its whitespace
// folded, without comments, and with quoted text and dollar-quoted bodies emptied — so
// neither a comment nor a string nor a function body that mentions DROP COLUMN counts,
// and a body's semicolons do not split it.
func sqlStatements(sql string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if st := strings.Join(strings.Fields(strings.ToUpper(b.String())), " "); st != "" {
			out = append(out, st)
		}
		b.Reset()
	}
	for i := 0; i < len(sql); {
		rest := sql[i:]
		switch {
		case strings.HasPrefix(rest, "--"):
			i += skipPast(rest, "\n", 2)
			b.WriteByte(' ')
		case strings.HasPrefix(rest, "/*"):
			i += skipPast(rest, "*/", 2)
			b.WriteByte(' ')
		case rest[0] == '\'':
			i += skipQuoted(rest)
			b.WriteString("''")
		case rest[0] == '$' && dollarTag.MatchString(rest):
			tag := dollarTag.FindString(rest)
			i += skipPast(rest, tag, len(tag))
			b.WriteString("$$ $$")
		case rest[0] == ';':
			flush()
			i++
		default:
			b.WriteByte(rest[0])
			i++
		}
	}
	flush()
	return out
}

// dollarTag matches the opening of a dollar-quoted body: $$ or $tag$.
var dollarTag = regexp.MustCompile(`^\$[A-Za-z_]*\$`)

// skipPast is how far past the first end after from rest runs (all of it when none).
func skipPast(rest, end string, from int) int {
	if j := strings.Index(rest[from:], end); j >= 0 {
		return from + j + len(end)
	}
	return len(rest)
}

// skipQuoted is the length of the single-quoted string rest starts with (” escapes a quote).
func skipQuoted(rest string) int {
	for j := 1; j < len(rest); j++ {
		if rest[j] != '\'' {
			continue
		}
		if j+1 < len(rest) && rest[j+1] == '\'' {
			j++
			continue
		}
		return j + 1
	}
	return len(rest)
}

// upStep is a goose migration's up step: from "-- +goose Up" to "-- +goose Down".
func upStep(src string) string {
	_, up, _ := strings.Cut(src, "-- +goose Up")
	up, _, _ = strings.Cut(up, "-- +goose Down")
	return up
}

// expandOnlyViolations says why the PostgreSQL migration name (its file name) breaks the
// rule, if it does.
func expandOnlyViolations(name, src string) []string {
	num, _, _ := strings.Cut(name, "_")
	n, err := strconv.Atoi(num)
	if err != nil {
		return []string{name + ": not a numbered migration"}
	}
	changes := schemaChanges(upStep(src))
	if n < expandOnlyFrom {
		switch old := slices.Contains(grandfathered, name); {
		case old && len(changes) == 0:
			return []string{name + ": grandfathered, but it no longer contracts the schema: drop it from the list"}
		case !old && len(changes) > 0:
			return []string{name + ": an old migration may not start to contract the schema: " + changes[0].why}
		}
		return nil
	}
	var out []string
	for _, c := range changes {
		switch {
		case c.contract && !contractMarker.MatchString(src):
			out = append(out, name+": "+c.why+" — ship it a release later with \"-- contract: <reason, and the release after which it is safe>\": "+c.statement)
		case !c.contract && !locksMarker.MatchString(src):
			out = append(out, name+": "+c.why+" — use CREATE INDEX CONCURRENTLY in a migration of its own (-- +goose NO TRANSACTION), or say why not with \"-- locks: <reason>\": "+c.statement)
		}
	}
	return out
}

// Every PostgreSQL migration only expands the schema (or carries its marker), and each has
// its SQLite twin.
func TestMigrationsOnlyExpand(t *testing.T) {
	names := func(dialect string) []string {
		entries, err := fs.ReadDir(migrations, "migrations/"+dialect)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			num, _, _ := strings.Cut(e.Name(), "_")
			out = append(out, num)
		}
		return out
	}
	if pg, lite := names("postgres"), names("sqlite"); !slices.Equal(pg, lite) {
		t.Errorf("migration numbers differ: postgres %v, sqlite %v", pg, lite)
	}
	entries, err := fs.ReadDir(migrations, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		src, err := fs.ReadFile(migrations, path.Join("migrations/postgres", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range expandOnlyViolations(e.Name(), string(src)) {
			t.Error(v)
		}
	}
}

// The classifier tells contract statements from expanding ones.
func TestSchemaChangeClassifier(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want string // "contract", "locks" or "" (expands)
	}{
		{"ALTER TABLE payments DROP COLUMN card_brand", "contract"},
		{"ALTER TABLE payments DROP card_brand", "contract"},
		{"alter table payments\n  drop column if exists card_brand", "contract"},
		{"DROP TABLE partner_callbacks", "contract"},
		{"DROP INDEX payments_partner_ref", "contract"},
		{"ALTER TABLE payments RENAME COLUMN order_id TO order_ref", "contract"},
		{"ALTER TABLE payments RENAME TO charges", "contract"},
		{"ALTER INDEX payments_store_id RENAME TO payments_by_store", "contract"},
		{"ALTER TABLE payments ALTER COLUMN amount TYPE NUMERIC", "contract"},
		{"ALTER TABLE payments ALTER amount SET DATA TYPE NUMERIC", "contract"},
		{"ALTER TABLE events ALTER COLUMN payment_id SET NOT NULL", "contract"},
		{"ALTER TABLE payments ALTER COLUMN note DROP DEFAULT", "contract"},
		{"ALTER TABLE payments ADD COLUMN terminal TEXT NOT NULL", "contract"},
		{"ALTER TABLE payments ADD COLUMN note TEXT, DROP COLUMN memo", "contract"},
		{"ALTER TABLE payments DROP CONSTRAINT payments_amount_check", "contract"},
		{"ALTER TABLE payments ADD CONSTRAINT amount_positive CHECK (amount > 0)", "contract"},
		{"ALTER TABLE refunds ADD FOREIGN KEY (payment_id) REFERENCES payments (id)", "contract"},
		{"CREATE UNIQUE INDEX payments_order ON payments (store_id, order_id)", "contract"},
		{"CREATE INDEX payments_terminal ON payments (terminal_id)", "locks"},
		{"CREATE INDEX ON payments (terminal_id)", "locks"},

		{"CREATE TABLE work_leases (kind TEXT NOT NULL, PRIMARY KEY (kind))", ""},
		{"ALTER TABLE payments ADD COLUMN note TEXT", ""},
		{"ALTER TABLE payments ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0", ""},
		{"ALTER TABLE payments ADD COLUMN IF NOT EXISTS flags TEXT NOT NULL DEFAULT ''", ""},
		{"ALTER TABLE events ALTER COLUMN payment_id DROP NOT NULL", ""},
		{"ALTER TABLE payments ALTER COLUMN kind SET DEFAULT 'x', ALTER COLUMN kind SET NOT NULL", ""},
		{"CREATE INDEX CONCURRENTLY payments_terminal ON payments (terminal_id)", ""},
		{"CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_terminal ON payments (terminal_id)", ""},
		{"UPDATE payments SET note = 'DROP COLUMN x; RENAME' WHERE note IS NULL", ""},
		{"-- we never DROP COLUMN here\nINSERT INTO limits (id) VALUES ('a')", ""},
		{"CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN DROP TABLE x; RETURN NEW; END $$ LANGUAGE plpgsql", ""},
		{"ALTER TYPE payment_status ADD VALUE 'disputed'", ""},
		// A table the same step creates is nobody's yet.
		{"CREATE TABLE t (a TEXT); CREATE UNIQUE INDEX t_a ON t (a); ALTER TABLE t ADD CONSTRAINT a_set CHECK (a <> '')", ""},
	} {
		changes := schemaChanges(c.sql)
		got := ""
		if len(changes) > 0 {
			got = "locks"
			if changes[0].contract {
				got = "contract"
			}
		}
		if got != c.want {
			t.Errorf("%q: classified %q %+v, want %q", c.sql, got, changes, c.want)
		}
	}
}

// The rule as a whole: a new migration that contracts fails unless it carries the marker;
// an old one is held to the grandfathered list.
func TestExpandOnlyRule(t *testing.T) {
	const drop = "-- +goose Up\nALTER TABLE payments DROP COLUMN memo;\n-- +goose Down\nALTER TABLE payments ADD COLUMN memo TEXT;\n"
	const add = "-- +goose Up\nALTER TABLE payments ADD COLUMN memo TEXT;\n-- +goose Down\nALTER TABLE payments DROP COLUMN memo;\n"
	const index = "-- +goose Up\nCREATE INDEX payments_memo ON payments (memo);\n-- +goose Down\nDROP INDEX payments_memo;\n"
	for _, c := range []struct {
		name, src string
		fails     bool
	}{
		{"00027_memo.sql", add, false},
		{"00027_memo.sql", drop, true},
		{"00027_memo.sql", "-- contract: nothing reads memo since release 1.8; safe after 1.8\n" + drop, false},
		{"00027_memo.sql", "-- contract:\n" + drop, true},
		{"00027_memo.sql", index, true},
		{"00027_memo.sql", "-- locks: payments_memo is tiny\n" + index, false},
		{"00027_memo.sql", "-- locks: for the index only\n" + drop, true},
		{"00009_answers.sql", drop, false},
		{"00009_answers.sql", add, true},
		{"00011_sealed_secrets.sql", drop, true},
		{"00011_sealed_secrets.sql", add, false},
	} {
		if got := expandOnlyViolations(c.name, c.src); (len(got) > 0) != c.fails {
			t.Errorf("%s %q: violations %q, want failing %v", c.name, c.src, got, c.fails)
		}
	}
}
