package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/hub"
	"payhub/internal/jsonin"
)

// callerInfo is the authenticated caller, kept in the request context.
type callerInfo = hub.Caller

func callerFrom(c *gin.Context) hub.Caller {
	ci, _ := c.Request.Context().Value(callerKey).(callerInfo)
	return ci
}

// authenticate verifies the bearer token; the store comes only from the verified token.
func (s *Server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := s.verifier.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
		if err != nil {
			var reason string
			if ae, ok := err.(*auth.AuthError); ok {
				reason = ae.Reason
			}
			s.log.WarnContext(c.Request.Context(), "authentication refused", "reason", reason, "remote", c.ClientIP())
			s.writeError(c, err)
			return
		}
		ci := callerInfo{ClientID: p.ClientID, StoreID: p.StoreID}
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), callerKey, ci))
		c.Next()
	}
}

// requireIdempotencyKey refuses a POST without a usable Idempotency-Key before anything
// runs (docs/api.md §3). A quoted Structured-Field string and a bare token are both
// accepted.
func requireIdempotencyKey() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method != http.MethodPost {
			c.Next()
			return
		}
		values := c.Request.Header.Values("Idempotency-Key")
		if len(values) == 0 {
			writeProblem(c, contracts.Errorf(http.StatusBadRequest, contracts.CodeIdempotencyKeyMissing,
				"Every POST needs an Idempotency-Key header; generate a UUID per operation and keep it for retries."))
			return
		}
		key, ok := parseIdempotencyKey(values)
		if !ok {
			writeProblem(c, contracts.Errorf(http.StatusBadRequest, contracts.CodeIdempotencyKeyInvalid,
				"The Idempotency-Key must be 1–255 printable ASCII characters."))
			return
		}
		c.Request.Header.Set("Idempotency-Key", key)
		c.Next()
	}
}

func parseIdempotencyKey(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	key := values[0]
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = key[1 : len(key)-1]
	}
	if key == "" || len(key) > 255 {
		return "", false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e || key[i] == '"' || key[i] == '\\' {
			return "", false
		}
	}
	return key, true
}

// fingerprint is the SHA-256 of what makes two requests "the same": store, method, route template,
// path parameters and the canonical body (key order and spacing do not matter).
func fingerprint(c *gin.Context, body []byte) (string, error) {
	canonical := []byte{}
	if len(body) > 0 {
		var err error
		if canonical, err = jsonin.Canonical(body); err != nil {
			return "", err
		}
	}
	h := sha256.New()
	// The store is part of the request: a client acting for two stores that reuses a key
	// for the other store gets 422, never the first store's payment.
	h.Write([]byte(callerFrom(c).StoreID + "\n" + c.Request.Method + "\n" + c.FullPath() + "\n"))
	for _, p := range c.Params {
		h.Write([]byte(p.Key + "=" + p.Value + "\n"))
	}
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func idempotencyFor(c *gin.Context, body []byte) (hub.Idempotency, error) {
	fp, err := fingerprint(c, body)
	if err != nil {
		return hub.Idempotency{}, err
	}
	return hub.Idempotency{Key: strings.TrimSpace(c.GetHeader("Idempotency-Key")), Fingerprint: fp}, nil
}
