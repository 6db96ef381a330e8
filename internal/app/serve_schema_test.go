package app

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"payhub/internal/store"
)

// TestServeRefusesANewerSchema: serve against a database a newer release migrated (goose's
// latest version above this build's) stops at once with an error naming both versions and
// the way out, instead of serving on a schema it does not know (docs/design.md, "Rolling
// upgrades (expand, then contract)").
func TestServeRefusesANewerSchema(t *testing.T) {
	t.Setenv("PAYHUB_PAYPAY_BASE_URL", "http://127.0.0.1:1")
	t.Setenv("PAYHUB_PAYPAY_API_KEY", "k")
	t.Setenv("PAYHUB_PAYPAY_API_SECRET", "s")
	t.Setenv("PAYHUB_PAYPAY_MERCHANT_ID", "m")
	t.Setenv("PAYHUB_SECRET_KEYS", testAuditKey)
	t.Setenv("PAYHUB_AUDIT_KEY", testAuditKey)
	path := filepath.Join(t.TempDir(), "payhub.db")
	st, err := store.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var known int64
	if err := db.QueryRow("SELECT MAX(version_id) FROM goose_db_version").Scan(&known); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)", known+1); err != nil {
		t.Fatal(err)
	}

	cmd := rootCommand(io.Discard)
	cmd.SetArgs([]string{"serve", "--db", "sqlite:" + path, "--addr", "127.0.0.1:0", "--metrics-addr", ""})
	err = cmd.Execute()
	if err == nil {
		t.Fatal("serve started on a schema newer than its own")
	}
	for _, want := range []string{fmt.Sprintf("version %d, newer than this build's %d", known+1, known), "roll forward"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("serve's error %q does not say %q", err, want)
		}
	}
}
