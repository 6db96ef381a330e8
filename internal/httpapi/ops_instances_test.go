package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"payhub/internal/auth"
	"payhub/internal/store/storetest"
)

// GET /v1/ops/instances lists the instances on the database to any operator role, the
// answering one alive and marked self; store tokens are refused.
func TestOpsInstances(t *testing.T) {
	e := newEnv(t, nil)
	viewer, err := auth.Mint(auth.TokenRequest{Key: e.operator, KeyID: "op-alice-1", ClientID: "op-alice", Roles: []string{auth.RoleViewer},
		Audience: auth.OperatorAudience, IssuedAt: time.Now(), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(http.MethodGet, "/v1/ops/instances", viewer, "", nil)
	expectStatus(t, r, http.StatusOK, "")
	data, _ := r.json(t)["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("instances: %s", r.body)
	}
	in := data[0].(map[string]any)
	if in["object"] != "instance" || in["id"] != e.app.Hub.InstanceID() || in["alive"] != true || in["self"] != true || in["stopped_at"] != nil {
		t.Fatalf("instance: %s", r.body)
	}
	expectStatus(t, e.do(http.MethodGet, "/v1/ops/instances", e.token(e.a), "", nil), http.StatusUnauthorized, "unauthenticated")
}

// /readyz fails (503) while the database's migrations are behind this build's, and passes
// again once they are not.
func TestReadyzFailsWhileTheSchemaIsBehind(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	expectStatus(t, e.do(http.MethodGet, "/readyz", "", "", nil), http.StatusOK, "")
	db, _, ok := storetest.RawSQL(t, st)
	if !ok {
		t.Fatal("no raw access")
	}
	var latest int64
	if err := db.QueryRow("SELECT MAX(version_id) FROM goose_db_version").Scan(&latest); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE goose_db_version SET version_id = -version_id WHERE version_id = ?", latest); err != nil {
		t.Fatal(err)
	}
	r := e.do(http.MethodGet, "/readyz", "", "", nil)
	if r.status != http.StatusServiceUnavailable || r.json(t)["reason"] != "schema_behind" {
		t.Fatalf("readyz with the schema behind: %d %s", r.status, r.body)
	}
	if _, err := db.Exec("UPDATE goose_db_version SET version_id = -version_id WHERE version_id = ?", -latest); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, e.do(http.MethodGet, "/readyz", "", "", nil), http.StatusOK, "")
}
