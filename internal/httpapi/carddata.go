package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/internal/carddata"
)

// refuseCardData refuses, with 422 card_data_not_accepted, a store request that carries
// anything resembling a card number or security code: in its path, query (names and
// values), Idempotency-Key or body (docs/partners/gmopg.md §7, docs/security.md §11; what
// "resembling" means is internal/carddata's package documentation). It runs before
// authentication and before any handler, so nothing of the request is stored, and it logs
// only the fact and the place — which part of the request; in a body, a JSON pointer made
// of plain field names and, for a member whose key is at fault or is not a plain name, the
// member's position — never the value nor a key the store sent. A partner's barcode the
// routing table recognises is not a card number. Partner callbacks and browsers returning
// from a partner's page are not store requests and are not scanned here. (A card number in
// X-Request-Id is not refused: withRequestID replaces the id.)
func (s *Server) refuseCardData() gin.HandlerFunc {
	exempt := func(pointer, value string) bool { return pointer == "/barcode" && s.hub.IsPartnerBarcode(value) }
	return func(c *gin.Context) {
		r := c.Request
		if !strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/v1/partners/") ||
			strings.HasPrefix(r.URL.Path, "/v1/payment-returns/") {
			c.Next()
			return
		}
		in, what := scanRequestLine(r)
		var f carddata.Finding
		if what == "" && r.Body != nil && r.Body != http.NoBody {
			// Read what the API would accept (one byte more tells a too-large body, which
			// the handler refuses) and hand the same bytes on.
			raw, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
			r.Body = readCloser{io.MultiReader(bytes.NewReader(raw), r.Body), r.Body}
			if err == nil && len(raw) > 0 {
				var found bool
				if f, found = carddata.ScanJSON(raw, exempt); found {
					in, what = "body", f.What
				}
			}
		}
		if what == "" {
			c.Next()
			return
		}
		s.log.WarnContext(r.Context(), "card data refused", "route", c.FullPath(), "in", in,
			"field", f.Pointer, "member", f.Member, "key", f.Key, "kind", what)
		e := contracts.Errorf(contracts.CodeCardDataNotAccepted,
			"payhub takes card tokens only: the request carries what looks like a %s (%s). Tokenize the card in the browser and send card_token.",
			strings.ReplaceAll(what, "_", " "), describePlace(in, f))
		e.Pointer = f.Pointer
		writeProblem(c, e)
		c.Abort()
	}
}

// describePlace says where card data was found, in words, without any of the request's
// text but the plain field names of the pointer.
func describePlace(in string, f carddata.Finding) string {
	if in != "body" {
		return "in the " + in
	}
	object := "the body"
	if f.Pointer != "" {
		object = f.Pointer
	}
	switch {
	case f.Member == 0 && f.Pointer == "":
		return "in the body"
	case f.Member == 0:
		return "at " + f.Pointer
	case f.Key:
		return fmt.Sprintf("in the key of member %d of %s", f.Member, object)
	default:
		return fmt.Sprintf("in member %d of %s", f.Member, object)
	}
}

// scanRequestLine looks for card data in the path, the query (names and values) and the
// Idempotency-Key (every value sent). It answers where ("path", "query",
// "Idempotency-Key") and what ("card_number", "security_code"), or "", "".
func scanRequestLine(r *http.Request) (in, what string) {
	if carddata.ContainsCardNumber(r.URL.Path) {
		return "path", "card_number"
	}
	query, err := url.QueryUnescape(r.URL.RawQuery)
	if err != nil {
		query = r.URL.RawQuery
	}
	if carddata.ContainsCardNumber(query) {
		return "query", "card_number"
	}
	for k := range r.URL.Query() {
		if what := carddata.KeyNamesCardData(k); what != "" {
			return "query", what
		}
	}
	for _, key := range r.Header.Values("Idempotency-Key") {
		if carddata.ContainsCardNumber(key) {
			return "Idempotency-Key", "card_number"
		}
	}
	return "", ""
}

// readCloser reads from r and closes c.
type readCloser struct {
	io.Reader
	c io.Closer
}

func (rc readCloser) Close() error { return rc.c.Close() }
