package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"payhub/internal/auth"
)

// A viewer does not list every store's payments needing attention: the route requires the
// operator role, and a token claiming only viewer gets 403 forbidden.
func TestNeedsAttentionRequiresTheOperatorRole(t *testing.T) {
	e := newEnv(t, nil)
	viewer, err := auth.Mint(auth.TokenRequest{Key: e.operator, KeyID: "op-alice-1", ClientID: "op-alice", Roles: []string{auth.RoleViewer},
		Audience: auth.OperatorAudience, IssuedAt: time.Now(), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	expectStatus(t, e.do(http.MethodGet, "/v1/ops/needs-attention", viewer, "", nil), http.StatusForbidden, "forbidden")
	expectStatus(t, e.do(http.MethodGet, "/v1/ops/needs-attention", e.operatorToken(), "", nil), http.StatusOK, "")
}
