package httpapi_test

import (
	"net/http"
	"testing"

	"payhub/internal/store/storetest"
)

// /readyz stays 200 while a newer release's migrations are ahead of this build's (a rolling
// upgrade under way: they only expand the schema), and says so with both versions.
func TestReadyzStaysReadyWhileTheSchemaIsAhead(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	db, _, ok := storetest.RawSQL(t, st)
	if !ok {
		t.Fatal("no raw access")
	}
	var latest int64
	if err := db.QueryRow("SELECT MAX(version_id) FROM goose_db_version").Scan(&latest); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)", latest+1); err != nil {
		t.Fatal(err)
	}
	r := e.do(http.MethodGet, "/readyz", "", "", nil)
	body := r.json(t)
	if r.status != http.StatusOK || body["status"] != "ready" || body["schema"] != "ahead" ||
		body["schema_version"] != float64(latest+1) || body["build_schema_version"] != float64(latest) {
		t.Fatalf("readyz with the schema ahead: %d %s", r.status, r.body)
	}
	if _, err := db.Exec("DELETE FROM goose_db_version WHERE version_id = ?", latest+1); err != nil {
		t.Fatal(err)
	}
	if r := e.do(http.MethodGet, "/readyz", "", "", nil); r.status != http.StatusOK || r.json(t)["schema"] != nil {
		t.Fatalf("readyz at this build's schema: %d %s", r.status, r.body)
	}
}
