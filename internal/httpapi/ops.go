package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/contracts/api"
	"payhub/internal/auth"
	"payhub/internal/render"
)

// opsRoute registers an operator route that requires role: every /v1/ops route names the
// role it needs (TestEveryOpsRouteRequiresARole walks the router).
func (s *Server) opsRoute(g *gin.RouterGroup, method, path, role string, h gin.HandlerFunc) {
	s.opsRoles[method+" "+g.BasePath()+path] = role
	roles := []string{role}
	if role == auth.RoleViewer {
		// What a viewer may read, an operator and a security admin may read too.
		roles = allOperatorRoles
	}
	g.Handle(method, path, s.authenticateOperator(roles...), h)
}

// authenticateOperator admits operator tokens only (audience payhub-ops) that claim one of
// roles; store tokens never reach /v1/ops, and operator tokens never reach the store routes.
// It leaves the operator's id in the context (operatorKey) for requireStepUp, and the
// token's roles (operatorRolesKey) for the approvals' own role checks.
func (s *Server) authenticateOperator(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.operators == nil {
			writeProblem(c, notFound())
			return
		}
		p, err := s.operators.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
		if err != nil {
			s.log.WarnContext(c.Request.Context(), "operator authentication refused", "remote", c.ClientIP())
			s.writeError(c, err)
			return
		}
		if !slices.ContainsFunc(roles, func(r string) bool { return slices.Contains(p.Roles, r) }) {
			s.log.WarnContext(c.Request.Context(), "operator lacks the route's role", "operator", p.ClientID, "roles", p.Roles, "needs", roles)
			writeProblem(c, contracts.Errorf(contracts.CodeForbidden, "This route needs the %s role.", strings.Join(roles, " or ")))
			return
		}
		s.log.InfoContext(c.Request.Context(), "operator request", "operator", p.ClientID, "roles", p.Roles)
		c.Set(operatorKey, p.ClientID)
		c.Set(operatorRolesKey, p.Roles)
		c.Next()
	}
}

// listNeedsAttention handles GET /v1/ops/needs-attention: the payments the resolver could
// not settle within its budget, across stores, for an operator to settle.
func (s *Server) listNeedsAttention(c *gin.Context) {
	payments, err := s.hub.NeedingAttention(c.Request.Context())
	if err != nil {
		s.writeError(c, err)
		return
	}
	list := api.PaymentList{Object: api.PaymentListObjectList, Data: make([]api.Payment, 0, len(payments))}
	for _, p := range payments {
		list.Data = append(list.Data, render.APIPayment(p))
	}
	body, _ := json.Marshal(list)
	c.Data(http.StatusOK, "application/json", body)
}
