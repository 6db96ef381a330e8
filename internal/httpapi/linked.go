package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/contracts/api"
	"payhub/internal/hub"
	"payhub/internal/idempotency"
	"payhub/internal/render"
)

// Linked accounts (docs/api.md §4.4).

// CreateLinkedAccount handles POST /v1/linked-accounts.
func (s *Server) CreateLinkedAccount(c *gin.Context, _ api.CreateLinkedAccountParams) {
	var req api.CreateLinkedAccountRequest
	body, err := readJSON(c, &req, false)
	if err != nil {
		s.writeError(c, err)
		return
	}
	cmd := hub.CreateLink{Method: contracts.Method(req.Method), ReturnURL: deref(req.ReturnUrl)}
	if req.Scopes != nil {
		for _, sc := range *req.Scopes {
			cmd.Scopes = append(cmd.Scopes, string(sc))
		}
	}
	s.execute(c, body, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.CreateLinkedAccount(ctx, caller, idem, cmd)
	})
}

// GetLinkedAccount handles GET /v1/linked-accounts/{id}.
func (s *Server) GetLinkedAccount(c *gin.Context, id api.LinkedAccountIdPath) {
	a, err := s.hub.GetLinkedAccount(c.Request.Context(), callerFrom(c), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", render.LinkedAccount(a))
}

// UnlinkLinkedAccount handles DELETE /v1/linked-accounts/{id}.
func (s *Server) UnlinkLinkedAccount(c *gin.Context, id api.LinkedAccountIdPath) {
	a, err := s.hub.UnlinkLinkedAccount(c.Request.Context(), callerFrom(c), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", render.LinkedAccount(a))
}

// linkReturn handles GET /v1/link-returns/{id}?responseToken=…: the customer's browser,
// sent back by the partner with its signed answer. No store token: the answer's signature,
// the link's id and its nonce are what count; returns per source address are bounded as
// payment returns are (hub.ReturnConfig), before any database read. On to the store's return URL (303) when it
// gave one, else a small JSON answer.
func (s *Server) linkReturn(c *gin.Context) {
	token := c.Query("responseToken")
	if token == "" || len(token) > 8<<10 {
		writeProblem(c, contracts.Errorf(contracts.CodeInvalidRequest, "responseToken is required."))
		return
	}
	a, next, err := s.hub.CompleteLinkReturn(c.Request.Context(), c.Param("id"), returnSource(c), token)
	if err != nil {
		s.writeReturnError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	if next != "" {
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	c.JSON(http.StatusOK, gin.H{"object": "linked_account_return", "linked_account": a.ID, "status": a.Status})
}
