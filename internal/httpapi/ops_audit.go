package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/internal/auth"
)

// The audit log through the operator API (docs/ops-api.md, docs/security.md §9): security
// admins read it page by page in seq order.

// auditPage bounds GET /v1/ops/audit's limit.
const (
	auditDefaultLimit = 100
	auditMaxLimit     = 1000
)

func (s *Server) registerOpsAudit(g *gin.RouterGroup) {
	s.opsRoute(g, http.MethodGet, "/audit", auth.RoleSecurityAdmin, s.listAudit)
}

// auditEntryJSON is an audit entry as answered.
type auditEntryJSON struct {
	Object    string          `json:"object"`
	Seq       int64           `json:"seq"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	Params    json.RawMessage `json:"params"`
	RequestID string          `json:"request_id"`
	PrevHash  string          `json:"prev_hash"`
	Hash      string          `json:"hash"`
}

// queryInt reads an optional non-negative integer query parameter (def when absent).
func queryInt(c *gin.Context, name string, def, maxValue int64) (int64, error) {
	v, ok := c.GetQuery(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > maxValue {
		return 0, contracts.Errorf(contracts.CodeInvalidRequest, "%s: an integer from 0 to %d", name, maxValue)
	}
	return n, nil
}

// listAudit handles GET /v1/ops/audit[?after=N&limit=M]: up to M (100 by default, 1000 at
// most) entries with seq above N, in seq order.
func (s *Server) listAudit(c *gin.Context) {
	after, err := queryInt(c, "after", 0, 1<<62)
	if err != nil {
		s.writeError(c, err)
		return
	}
	limit, err := queryInt(c, "limit", auditDefaultLimit, auditMaxLimit)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if limit == 0 {
		limit = auditDefaultLimit
	}
	entries, err := s.store.ListAuditEntries(c.Request.Context(), after, int(limit))
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := listJSON[auditEntryJSON]{Object: "list", Data: make([]auditEntryJSON, 0, len(entries))}
	for _, e := range entries {
		params := json.RawMessage(e.Params)
		if len(params) == 0 {
			params = json.RawMessage("{}")
		}
		out.Data = append(out.Data, auditEntryJSON{Object: "audit_entry", Seq: e.Seq, At: e.At.UTC(), Actor: e.Actor, Action: e.Action,
			Target: e.Target, Params: params, RequestID: e.RequestID, PrevHash: e.PrevHash, Hash: e.Hash})
	}
	c.JSON(http.StatusOK, out)
}
