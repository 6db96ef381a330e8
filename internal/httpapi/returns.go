package httpapi

import (
	"errors"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/internal/hub"
	"payhub/internal/render"
)

// MaxReturnBytes limits what a customer's browser may post back from a partner's page
// (GMO posts AccessID and a few fields; LINE Pay redirects with a query).
const MaxReturnBytes = 16 << 10

// paymentReturn handles GET and POST /v1/payment-returns/{payment_id}: the customer's
// browser coming back from the partner's page of a redirect payment (LINE Pay's payment
// page, a card issuer's 3-D Secure challenge). It is outside the store contract and its
// tokens — a browser has none — so it reveals nothing: the partner completes the payment
// (the adapter checks what the browser brought first), and the browser is sent on to the
// store's return_url with 303 See Other. The store learns the result from the payment.
// Returns are bounded per source address (the TCP peer: no proxy is trusted) and per
// payment (hub.ReturnConfig): past a bound, 429 rate_limited with Retry-After.
func (s *Server) paymentReturn(c *gin.Context) {
	source := returnSource(c)
	query := c.Request.URL.Query()
	if c.Request.Method == http.MethodPost {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxReturnBytes)
		if err := c.Request.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeProblem(c, contracts.Errorf(contracts.CodeBodyTooLarge, "A return is at most 16 KiB."))
				return
			}
			writeProblem(c, contracts.Errorf(contracts.CodeInvalidRequest, "The returned form could not be read."))
			return
		}
		query = mergeValues(query, c.Request.PostForm)
	}
	next, err := s.hub.CompleteReturn(c.Request.Context(), c.Param("payment_id"), source, query)
	if err != nil {
		s.writeReturnError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusSeeOther, next)
}

// returnSource is the TCP peer of a customer's return (no proxy header is trusted here:
// the bounds are per address the connection came from).
func returnSource(c *gin.Context) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.Request.RemoteAddr); err == nil {
		return ap.Addr()
	}
	return netip.Addr{}
}

// writeReturnError answers a return's refusal: 429 with the bound's own Retry-After past a
// bound (hub.RetryLater), else the refusal's problem.
func (s *Server) writeReturnError(c *gin.Context, err error) {
	var later *hub.RetryLater
	if errors.As(err, &later) {
		// writeProblem's Retry-After of 1 s would be a lie here.
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(later.After.Seconds())))))
		c.Data(http.StatusTooManyRequests, "application/problem+json", render.ProblemAt(c.Request.Context(), later.Problem, http.StatusTooManyRequests))
		c.Abort()
		return
	}
	s.writeError(c, err)
}

// mergeValues is a and b together (b's values after a's).
func mergeValues(a, b url.Values) url.Values {
	out := url.Values{}
	for _, v := range []url.Values{a, b} {
		for k, vs := range v {
			out[k] = append(out[k], vs...)
		}
	}
	return out
}
