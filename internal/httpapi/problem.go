package httpapi

import (
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/internal/render"
)

// writeProblem answers the request with e as application/problem+json, with the status
// of e's code (render.ErrorStatus).
func writeProblem(c *gin.Context, e *contracts.Error) {
	if e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds())))))
	}
	writeProblemAt(c, render.ErrorStatus(e), e)
}

// writeProblemAt answers with e under an HTTP status of the HTTP layer's own (405).
func writeProblemAt(c *gin.Context, status int, e *contracts.Error) {
	switch status {
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if c.Writer.Header().Get("Retry-After") == "" {
			c.Header("Retry-After", strconv.Itoa(1))
		}
	}
	c.Data(status, "application/problem+json", render.ProblemAt(c.Request.Context(), e, status))
	c.Abort()
}

// writeError answers with err's problem when it is a refusal, else with a 500 that says
// nothing of the cause (the log does).
func (s *Server) writeError(c *gin.Context, err error) {
	if e, ok := contracts.AsError(err); ok {
		writeProblem(c, e)
		return
	}
	s.log.ErrorContext(c.Request.Context(), "request failed", "err", err)
	writeProblem(c, &contracts.Error{Code: contracts.CodeInternalError, Detail: "Something went wrong inside payhub; the request id helps support find it."})
}

func notFound() *contracts.Error {
	return &contracts.Error{Code: contracts.CodeNotFound, Detail: "No such resource."}
}
