package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/auth"
	"payhub/internal/jsonin"
)

// The operator API's two-person approval (docs/ops-api.md, docs/security.md §8): list and
// read approval requests, approve (the action runs then, once) and reject them.

// operatorRolesKey is where authenticateOperator leaves the token's roles.
const operatorRolesKey = "payhub.operator_roles"

// opsBodyLimit bounds the bodies of operator changes; small ones (a reason, {}) use
// opsSmallBody.
const (
	opsBodyLimit = 64 << 10
	opsSmallBody = 1 << 10
)

// registerOpsAPI adds the operator API's routes (docs/ops-api.md) other than step-up,
// needs-attention and limits to the /v1/ops group.
func (s *Server) registerOpsAPI(g *gin.RouterGroup) {
	s.registerOpsSwitches(g)
	s.registerOpsApprovals(g)
	s.registerOpsClients(g)
	s.registerOpsAudit(g)
}

func (s *Server) registerOpsApprovals(g *gin.RouterGroup) {
	s.opsRoute(g, http.MethodGet, "/approvals", auth.RoleViewer, s.listApprovals)
	s.opsRoute(g, http.MethodGet, "/approvals/:id", auth.RoleViewer, s.getApproval)
	approvers := []string{auth.RoleOperator, auth.RoleSecurityAdmin}
	s.opsChangeRouteAny(g, http.MethodPost, "/approvals/:id/approve", approvers, s.approveApproval)
	s.opsChangeRouteAny(g, http.MethodPost, "/approvals/:id/reject", approvers, s.rejectApproval)
}

// opsChangeRouteAny is opsChangeRoute for a route any of roles may use.
func (s *Server) opsChangeRouteAny(g *gin.RouterGroup, method, path string, roles []string, h gin.HandlerFunc) {
	s.opsRoles[method+" "+g.BasePath()+path] = strings.Join(roles, "|")
	g.Handle(method, path, s.authenticateOperator(roles...), s.requireStepUp(), h)
}

// opsAnyRoute registers a read any operator role may make.
func (s *Server) opsAnyRoute(g *gin.RouterGroup, method, path string, h gin.HandlerFunc) {
	s.opsRoles[method+" "+g.BasePath()+path] = "any"
	g.Handle(method, path, s.authenticateOperator(allOperatorRoles...), h)
}

// operatorRoles are the authenticated operator token's roles.
func operatorRoles(c *gin.Context) []string {
	roles, _ := c.Get(operatorRolesKey)
	r, _ := roles.([]string)
	return r
}

// requester is the authenticated operator as an approval requester.
func requester(c *gin.Context) approvals.Requester {
	return approvals.Requester{ID: c.GetString(operatorKey), Roles: operatorRoles(c)}
}

// readOpsBody reads and strictly decodes an operator change's body into v (limit bytes at
// most); false when it answered a refusal.
func (s *Server) readOpsBody(c *gin.Context, limit int64, v any) bool {
	body, err := jsonin.ReadBody(c.Request, limit)
	if err != nil {
		s.writeError(c, err)
		return false
	}
	if err := jsonin.Decode(body, v); err != nil {
		s.writeError(c, err)
		return false
	}
	return true
}

// approvalsReady answers 404 when this payhub has no approvals service.
func (s *Server) approvalsReady(c *gin.Context) bool {
	if s.approvals == nil {
		writeProblem(c, notFound())
		return false
	}
	return true
}

// approvalJSON is an approval request as every route answers it (docs/ops-api.md).
type approvalJSON struct {
	Object         string          `json:"object"`
	ID             string          `json:"id"`
	Action         string          `json:"action"`
	Params         json.RawMessage `json:"params"`
	ParamsHash     string          `json:"params_hash"`
	RequiredRole   string          `json:"required_role"`
	Status         string          `json:"status"`
	Reason         string          `json:"reason"`
	RequestedBy    string          `json:"requested_by"`
	RequestedAt    time.Time       `json:"requested_at"`
	ExpiresAt      time.Time       `json:"expires_at"`
	DecidedBy      string          `json:"decided_by"`
	DecidedAt      *time.Time      `json:"decided_at"`
	DecisionReason string          `json:"decision_reason"`
	Result         json.RawMessage `json:"result"`
}

func renderApproval(a contracts.Approval) approvalJSON {
	out := approvalJSON{Object: "approval", ID: a.ID, Action: a.Action, Params: a.Params, ParamsHash: a.ParamsHash,
		RequiredRole: a.RequiredRole, Status: string(a.Status), Reason: a.Reason, RequestedBy: a.RequestedBy,
		RequestedAt: a.RequestedAt.UTC(), ExpiresAt: a.ExpiresAt.UTC(), DecidedBy: a.DecidedBy,
		DecisionReason: a.DecisionReason, Result: a.Result}
	if a.DecidedAt != nil {
		t := a.DecidedAt.UTC()
		out.DecidedAt = &t
	}
	if out.Result == nil {
		out.Result = json.RawMessage("null")
	}
	return out
}

// listJSON is a list answer.
type listJSON[T any] struct {
	Object string `json:"object"`
	Data   []T    `json:"data"`
}

// writeApproval answers a with status.
func writeApproval(c *gin.Context, status int, a contracts.Approval) {
	c.JSON(status, renderApproval(a))
}

// listApprovals handles GET /v1/ops/approvals[?status=pending].
func (s *Server) listApprovals(c *gin.Context) {
	if !s.approvalsReady(c) {
		return
	}
	list, err := s.approvals.List(c.Request.Context(), contracts.ApprovalStatus(c.Query("status")), 0)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := listJSON[approvalJSON]{Object: "list", Data: make([]approvalJSON, 0, len(list))}
	for _, a := range list {
		out.Data = append(out.Data, renderApproval(a))
	}
	c.JSON(http.StatusOK, out)
}

// getApproval handles GET /v1/ops/approvals/{id}.
func (s *Server) getApproval(c *gin.Context) {
	if !s.approvalsReady(c) {
		return
	}
	a, err := s.approvals.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeApproval(c, http.StatusOK, a)
}

// approveApproval handles POST /v1/ops/approvals/{id}/approve {}: 200 executed or failed;
// 403 for the requester or an approver without the required role; 409 when not pending
// or expired.
func (s *Server) approveApproval(c *gin.Context) {
	if !s.approvalsReady(c) {
		return
	}
	var req struct{}
	if !s.readOpsBody(c, opsSmallBody, &req) {
		return
	}
	ctx := c.Request.Context()
	a, err := s.approvals.Approve(ctx, c.Param("id"), c.GetString(operatorKey), operatorRoles(c), contracts.RequestID(ctx))
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeApproval(c, http.StatusOK, a)
}

// rejectRequest is POST /v1/ops/approvals/{id}/reject's body.
type rejectRequest struct {
	Reason string `json:"reason"`
}

// rejectApproval handles POST /v1/ops/approvals/{id}/reject {"reason"}: 200 rejected.
func (s *Server) rejectApproval(c *gin.Context) {
	if !s.approvalsReady(c) {
		return
	}
	var req rejectRequest
	if !s.readOpsBody(c, opsSmallBody, &req) {
		return
	}
	ctx := c.Request.Context()
	a, err := s.approvals.Reject(ctx, c.Param("id"), c.GetString(operatorKey), operatorRoles(c), req.Reason, contracts.RequestID(ctx))
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeApproval(c, http.StatusOK, a)
}

// requestApproval asks for action with params as the authenticated operator and answers
// 202 with the request.
func (s *Server) requestApproval(c *gin.Context, action string, params any, reason string) {
	ctx := c.Request.Context()
	a, err := s.approvals.Request(ctx, requester(c), action, params, reason, contracts.RequestID(ctx))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.log.InfoContext(ctx, "operator asked for an approval", "operator", a.RequestedBy, "approval", a.ID, "action", action)
	writeApproval(c, http.StatusAccepted, a)
}

// queryBool reads an optional true/false query parameter.
func queryBool(c *gin.Context, name string) (bool, error) {
	v, ok := c.GetQuery(name)
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil || (v != "true" && v != "false") {
		return false, contracts.Errorf(contracts.CodeInvalidRequest, "%s: true or false", name)
	}
	return b, nil
}
