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

// CreateNanacoTopUp handles POST /v1/nanaco/top-ups: value loaded onto a presented nanaco
// card, in cash or points. The hub checks the business rules (funding, ¥1,000 cash units,
// ranges) before anything is written or sent.
func (s *Server) CreateNanacoTopUp(c *gin.Context, _ api.CreateNanacoTopUpParams) {
	var req api.CreateNanacoTopUpRequest
	body, err := readJSON(c, &req, false)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if req.PresentedCard.Number == nil && req.PresentedCard.Idm == nil {
		s.writeError(c, invalidField("/presented_card", "presented_card needs the card's number or its idm."))
		return
	}
	if !terminalIDPattern.MatchString(req.TerminalId) {
		s.writeError(c, invalidField("/terminal_id", "terminal_id must be 1 to 64 of A-Z a-z 0-9 . _ -."))
		return
	}
	cmd := hub.CreateTopUp{Method: contracts.MethodNanaco, TerminalID: req.TerminalId,
		Card:    contracts.PresentedCard{Number: deref(req.PresentedCard.Number), IDm: deref(req.PresentedCard.Idm)},
		Amount:  contracts.Money{Amount: req.Amount, Currency: contracts.Currency(req.Currency)},
		Funding: contracts.TopUpFunding(req.Funding)}
	s.execute(c, body, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.CreateTopUp(ctx, caller, idem, cmd)
	})
}

// GetNanacoTopUp handles GET /v1/nanaco/top-ups/{id}.
func (s *Server) GetNanacoTopUp(c *gin.Context, id api.TopUpIdPath) {
	t, err := s.hub.GetTopUp(c.Request.Context(), callerFrom(c), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", render.TopUp(t))
}

// CancelNanacoTopUp handles POST /v1/nanaco/top-ups/{id}/cancel: the same terminal, the
// same business day; never a cash refund.
func (s *Server) CancelNanacoTopUp(c *gin.Context, id api.TopUpIdPath, _ api.CancelNanacoTopUpParams) {
	s.execute(c, nil, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.CancelTopUp(ctx, caller, idem, id)
	})
}
