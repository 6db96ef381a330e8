package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/internal/carddata"
)

// refuseCardData refuses, with 422 card_data_not_accepted, a store request that carries
// anything resembling a card number or security code: in its path, query, Idempotency-Key
// or body (docs/partners/gmopg.md §7). It runs before authentication and before any handler,
// so nothing of the request is stored, and it logs only the fact and the field, never the
// value. A partner's barcode the routing table recognises is not a card number. Partner
// callbacks and browsers returning from a partner's page are not store requests and are
// not scanned here.
func (s *Server) refuseCardData() gin.HandlerFunc {
	exempt := func(pointer, value string) bool { return pointer == "/barcode" && s.hub.IsPartnerBarcode(value) }
	return func(c *gin.Context) {
		r := c.Request
		if !strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/v1/partners/") ||
			strings.HasPrefix(r.URL.Path, "/v1/payment-returns/") {
			c.Next()
			return
		}
		f, found := scanRequestLine(r)
		if !found && r.Body != nil && r.Body != http.NoBody {
			// Read what the API would accept (one byte more tells a too-large body, which
			// the handler refuses) and hand the same bytes on.
			raw, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
			r.Body = readCloser{io.MultiReader(bytes.NewReader(raw), r.Body), r.Body}
			if err == nil && len(raw) > 0 {
				f, found = carddata.ScanJSON(raw, exempt)
			}
		}
		if !found {
			c.Next()
			return
		}
		s.log.WarnContext(r.Context(), "card data refused", "route", c.FullPath(), "field", f.Pointer, "kind", f.What)
		e := contracts.Errorf(contracts.CodeCardDataNotAccepted,
			"payhub takes card tokens only: the request carries what looks like a %s. Tokenize the card in the browser and send card_token.",
			strings.ReplaceAll(f.What, "_", " "))
		e.Pointer = f.Pointer
		writeProblem(c, e)
		c.Abort()
	}
}

// scanRequestLine looks for card data in the path, the query (names and values) and the
// Idempotency-Key.
func scanRequestLine(r *http.Request) (carddata.Finding, bool) {
	query, err := url.QueryUnescape(r.URL.RawQuery)
	if err != nil {
		query = r.URL.RawQuery
	}
	for _, s := range []string{r.URL.Path, query, r.Header.Get("Idempotency-Key")} {
		if carddata.ContainsCardNumber(s) {
			return carddata.Finding{What: "card_number"}, true
		}
	}
	for k := range r.URL.Query() {
		if what := carddata.KeyNamesCardData(k); what != "" {
			return carddata.Finding{What: what}, true
		}
	}
	return carddata.Finding{}, false
}

// readCloser reads from r and closes c.
type readCloser struct {
	io.Reader
	c io.Closer
}

func (rc readCloser) Close() error { return rc.c.Close() }
