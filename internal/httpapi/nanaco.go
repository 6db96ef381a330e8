package httpapi

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/contracts/api"
	"payhub/internal/hub"
	"payhub/internal/render"
)

// InquireNanacoBalance handles POST /v1/nanaco/balance: what a presented card holds. It
// moves nothing and writes nothing, so it takes no Idempotency-Key.
func (s *Server) InquireNanacoBalance(c *gin.Context) {
	var req api.NanacoBalanceRequest
	if _, err := readJSON(c, &req, false); err != nil {
		s.writeError(c, err)
		return
	}
	if req.PresentedCard.Number == nil && req.PresentedCard.Idm == nil {
		s.writeError(c, invalidField("/presented_card", "presented_card needs the card's number or its idm."))
		return
	}
	if req.TerminalId != nil && !terminalIDPattern.MatchString(*req.TerminalId) {
		s.writeError(c, invalidField("/terminal_id", "terminal_id must be 1 to 64 of A-Z a-z 0-9 . _ -."))
		return
	}
	res, err := s.hub.StoredValueBalance(c.Request.Context(), callerFrom(c), hub.BalanceQuery{Method: contracts.MethodNanaco,
		TerminalID: deref(req.TerminalId), Card: contracts.PresentedCard{Number: deref(req.PresentedCard.Number), IDm: deref(req.PresentedCard.Idm)}})
	var later *hub.RetryLater
	if errors.As(err, &later) {
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(later.After.Seconds())))))
		c.Data(http.StatusTooManyRequests, "application/problem+json", render.ProblemAt(c.Request.Context(), later.Problem, http.StatusTooManyRequests))
		c.Abort()
		return
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	body, _ := json.Marshal(api.NanacoBalance{Object: "nanaco_balance", Currency: "JPY", CardStatus: res.CardStatus,
		Balance: res.Balance, CenterHeld: res.CenterHeld, MaxChargeable: res.MaxChargeable, Points: res.Points})
	c.Data(http.StatusOK, "application/json", body)
}
