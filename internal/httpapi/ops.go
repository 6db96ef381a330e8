package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"payhub/contracts/api"
	"payhub/internal/render"
)

// authenticateOperator admits operator tokens only (audience payhub-ops, roles); store
// tokens never reach /v1/ops, and operator tokens never reach the store routes.
func (s *Server) authenticateOperator() gin.HandlerFunc {
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
		s.log.InfoContext(c.Request.Context(), "operator request", "operator", p.ClientID, "roles", p.Roles)
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
