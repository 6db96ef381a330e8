package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/hub"
	"payhub/internal/idempotency"
)

// callerInfo is the authenticated caller, kept in the request context.
type callerInfo = hub.Caller

func callerFrom(c *gin.Context) hub.Caller {
	ci, _ := c.Request.Context().Value(callerKey).(callerInfo)
	return ci
}

// authenticate verifies the bearer token; the store comes only from the verified token.
// Around it runs the network policy of docs/security.md §6: a source address that sent too
// many bad tokens is refused before its token is parsed (no key lookup, no database read),
// every 401 counts against its address, and an authenticated client is held to its source
// allowlist and its request rate.
func (s *Server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		src := source(c)
		if !s.net.beforeAuth(c, src) {
			return
		}
		p, err := s.verifier.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
		if err != nil {
			var reason string
			if ae, ok := err.(*auth.AuthError); ok {
				reason = ae.Reason
				if ae.Public.Code == contracts.CodeUnauthenticated && s.net.authFailed(src) {
					s.log.WarnContext(c.Request.Context(), "source address throttled after failed authentications",
						"remote", src.String(), "cooldown", s.net.cfg.Cooldown.String())
				}
			}
			s.log.WarnContext(c.Request.Context(), "authentication refused", "reason", reason, "remote", c.ClientIP())
			s.writeError(c, err)
			return
		}
		if !s.net.afterAuth(c, src, p) {
			s.log.WarnContext(c.Request.Context(), "store client request refused by the network policy",
				"client_id", p.ClientID, "remote", src.String(), "status", c.Writer.Status())
			return
		}
		ci := callerInfo{ClientID: p.ClientID, StoreID: p.StoreID}
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), callerKey, ci))
		c.Next()
	}
}

// readOnlyPosts are the POSTs that change nothing: they are POSTs only so that what they
// carry (a card's number) never travels in a URL, and take no Idempotency-Key.
var readOnlyPosts = map[string]bool{"/v1/nanaco/balance": true}

// requireIdempotencyKey refuses a POST without a usable Idempotency-Key before anything
// runs (docs/api.md §3), but for readOnlyPosts. A quoted Structured-Field string and a bare
// token are both accepted.
func requireIdempotencyKey() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method != http.MethodPost || readOnlyPosts[c.FullPath()] {
			c.Next()
			return
		}
		values := c.Request.Header.Values("Idempotency-Key")
		if len(values) == 0 {
			writeProblem(c, contracts.Errorf(contracts.CodeIdempotencyKeyMissing,
				"Every POST needs an Idempotency-Key header; generate a UUID per operation and keep it for retries."))
			return
		}
		key, ok := idempotency.ParseKey(values)
		if !ok {
			writeProblem(c, contracts.Errorf(contracts.CodeIdempotencyKeyInvalid,
				"The Idempotency-Key must be 1–255 printable ASCII characters."))
			return
		}
		c.Request.Header.Set("Idempotency-Key", key)
		c.Next()
	}
}

func idempotencyFor(c *gin.Context, body []byte) (idempotency.Key, error) {
	params := make([]idempotency.Param, len(c.Params))
	for i, p := range c.Params {
		params[i] = idempotency.Param{Name: p.Key, Value: p.Value}
	}
	fp, err := idempotency.Fingerprint(callerFrom(c).StoreID, c.Request.Method, c.FullPath(), params, body)
	if err != nil {
		return idempotency.Key{}, err
	}
	return idempotency.Key{Key: strings.TrimSpace(c.GetHeader("Idempotency-Key")), Fingerprint: fp}, nil
}
