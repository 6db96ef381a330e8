package httpapi

import (
	"errors"
	"io"
	"net/http"
	"net/netip"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
)

// MaxCallbackBytes limits a partner callback's body (docs/security.md §10; PayPay's
// are well under 2 KiB).
const MaxCallbackBytes = 256 << 10

// partnerCallback handles POST /v1/partners/{partner}/webhooks: a partner's callback,
// outside the store contract and its tokens. The source address is the TCP peer (no
// proxy is trusted) and is checked against the partner's allowlist before a byte of the
// body is read; then the body is read raw, kept for audit and answered at once — the
// inbox worker confirms it with the partner before anything changes.
func (s *Server) partnerCallback(c *gin.Context) {
	source, err := netip.ParseAddrPort(c.Request.RemoteAddr)
	if err != nil {
		writeProblem(c, contracts.Errorf(contracts.CodeForbidden, "Unknown source address."))
		return
	}
	method := contracts.Method(c.Param("partner"))
	if err := s.hub.CheckCallbackSource(c.Request.Context(), method, source.Addr()); err != nil {
		s.writeError(c, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxCallbackBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeProblem(c, contracts.Errorf(contracts.CodeBodyTooLarge, "A callback is at most 256 KiB."))
		return
	}
	if err != nil {
		writeProblem(c, contracts.Errorf(contracts.CodeInvalidRequest, "The body could not be read."))
		return
	}
	if err := s.hub.ReceiveCallback(c.Request.Context(), method, source.Addr(), body); err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "received"})
}
