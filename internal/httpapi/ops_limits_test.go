package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"payhub/contracts"
	"payhub/internal/auth"
)

// Limits through the operator API (docs/ops-api.md): adding a rule tightens and runs at
// once; removing one needs a second operator.
func TestLimitsThroughTheOperatorAPI(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		e := newOpsEnv(t, st, 0)
		rule := map[string]any{"subject": "terminal", "subject_id": e.a.store + "/till-01", "operation": "pay",
			"window_seconds": 3600, "max_count": 1, "reason": "INC-42"}
		expectStatus(t, e.post("op-carol", "/v1/ops/limits", rule), http.StatusForbidden, "forbidden") // no step-up
		e.stepUp("op-victor")
		expectStatus(t, e.post("op-victor", "/v1/ops/limits", rule), http.StatusForbidden, "forbidden") // a viewer
		e.stepUp("op-carol")
		for _, bad := range []map[string]any{
			{"subject": "planet", "operation": "pay", "window_seconds": 60, "max_count": 1},
			{"subject": "store", "operation": "refund", "window_seconds": 60, "max_count": 1},
			{"subject": "store", "operation": "pay", "window_seconds": 60},
			{"subject": "store", "operation": "pay", "window_seconds": 60, "max_amount": 5000},
			{"subject": "instrument", "subject_id": "x", "operation": "pay", "window_seconds": 60, "max_count": 1},
			{"subject": "store", "operation": "pay", "window_seconds": 0, "max_count": 1},
		} {
			expectStatus(t, e.post("op-carol", "/v1/ops/limits", bad), http.StatusBadRequest, "invalid_request")
		}
		added := e.post("op-carol", "/v1/ops/limits", rule)
		expectStatus(t, added, http.StatusCreated, "")
		id := added.json(t)["id"].(string)
		if !contracts.ValidID(contracts.PrefixLimitRule, id) || added.json(t)["set_by"] != "op-carol" {
			t.Fatalf("added %s", added.body)
		}
		pay := func() response {
			tok := e.token(e.a, func(r *auth.TokenRequest) { r.IssuedAt = e.clk.Now() })
			return e.do(http.MethodPost, "/v1/payments", tok, newKey(), barcodePayment(1_000, barcodeOK))
		}
		expectStatus(t, pay(), http.StatusCreated, "")
		expectLimit(t, pay(), id)

		list := e.do(http.MethodGet, "/v1/ops/limits", e.tok("op-victor"), "", nil)
		expectStatus(t, list, http.StatusOK, "")
		if !strings.Contains(string(list.body), id) {
			t.Fatalf("limits: %s", list.body)
		}
		remove := e.post("op-carol", "/v1/ops/limits/"+id+"/remove", map[string]string{"reason": "incident closed"})
		expectStatus(t, remove, http.StatusAccepted, "")
		aprID := remove.json(t)["id"].(string)
		if remove.json(t)["action"] != "limit.remove" {
			t.Fatalf("remove answered %s", remove.body)
		}
		expectStatus(t, e.post("op-carol", "/v1/ops/approvals/"+aprID+"/approve", map[string]any{}), http.StatusForbidden, "forbidden")
		expectLimit(t, pay(), id) // still in force
		e.stepUp("op-bob")
		ok := e.post("op-bob", "/v1/ops/approvals/"+aprID+"/approve", map[string]any{})
		expectStatus(t, ok, http.StatusOK, "")
		if ok.json(t)["status"] != "executed" {
			t.Fatalf("approve answered %s", ok.body)
		}
		if err := e.app.Hub.RefreshControls(context.Background()); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, pay(), http.StatusCreated, "")
		expectStatus(t, e.post("op-carol", "/v1/ops/limits/"+id+"/remove", map[string]string{"reason": "again"}), http.StatusConflict, "invalid_state")
		actions := e.auditActions()
		for _, want := range []string{"op-carol limit.add", "op-carol approval.request", "op-carol limit.remove", "op-bob approval.approve"} {
			if !contains(actions, want) {
				t.Errorf("audit log lacks %q: %v", want, actions)
			}
		}
	})
}
