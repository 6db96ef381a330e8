package gmopg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"payhub/mocks/sim"
)

// Order returns the ledger entry of orderID.
func (s *Simulator) Order(orderID string) (LedgerOrder, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.byOrder[orderID]
	if o == nil {
		return LedgerOrder{}, false
	}
	return s.ledger(o, s.now()), true
}

// Orders returns every order in creation order.
func (s *Simulator) Orders() []LedgerOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]LedgerOrder, 0, len(s.orders))
	for _, o := range s.orders {
		out = append(out, s.ledger(o, now))
	}
	return out
}

// ExpireAuthorization makes the AUTH or SAUTH of orderID lapse now: SALES and ChangeTran
// then answer E01420010.
func (s *Simulator) ExpireAuthorization(orderID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.byOrder[orderID]
	switch {
	case o == nil:
		return fmt.Errorf("%w: %q", ErrNoSuchOrder, orderID)
	case o.status != StatusAuth && o.status != StatusSauth:
		return fmt.Errorf("%w: %s is %s", ErrWrongState, orderID, o.status)
	}
	o.authExpiresAt = s.now()
	return nil
}

// controlError is the body of a /_sim/ error.
type controlError struct {
	Error string `json:"error"`
}

func writeControlError(w http.ResponseWriter, status int, message string) {
	sim.WriteJSON(w, status, controlError{Error: message})
}

// serveControl serves the unauthenticated /_sim/ endpoints (see the package doc).
func (s *Simulator) serveControl(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/_sim"), "/"), "/")
	method := r.Method
	switch {
	case len(parts) == 1 && parts[0] == "tokens":
		if method != http.MethodPost {
			writeControlError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		s.simIssueToken(w, r)
	case len(parts) == 1 && parts[0] == "fixtures" && method == http.MethodGet:
		sim.WriteJSON(w, http.StatusOK, map[string]any{"fixtures": fixtureList(), "kinds": Kinds()})
	case len(parts) == 1 && parts[0] == "orders" && method == http.MethodGet:
		sim.WriteJSON(w, http.StatusOK, map[string][]LedgerOrder{"orders": s.Orders()})
	case len(parts) == 2 && parts[0] == "orders" && method == http.MethodGet:
		lo, ok := s.Order(parts[1])
		if !ok {
			writeControlError(w, http.StatusNotFound, "no such order")
			return
		}
		sim.WriteJSON(w, http.StatusOK, lo)
	case len(parts) == 3 && parts[0] == "orders" && parts[2] == "expire-auth" && method == http.MethodPost:
		err := s.ExpireAuthorization(parts[1])
		switch {
		case errors.Is(err, ErrNoSuchOrder):
			writeControlError(w, http.StatusNotFound, err.Error())
		case err != nil:
			writeControlError(w, http.StatusConflict, err.Error())
		default:
			lo, _ := s.Order(parts[1])
			sim.WriteJSON(w, http.StatusOK, lo)
		}
	case len(parts) == 2 && parts[0] == "tds2" && method == http.MethodGet:
		res, ok := s.Challenge(parts[1])
		if !ok {
			writeControlError(w, http.StatusNotFound, "no such 3DS2 challenge")
			return
		}
		sim.WriteJSON(w, http.StatusOK, res)
	case len(parts) == 3 && parts[0] == "tds2" && method == http.MethodPost:
		state := map[string]string{"approve": tdsStateApproved, "reject": tdsStateRejected, "abandon": tdsStateAbandoned}[parts[2]]
		if state == "" {
			writeControlError(w, http.StatusNotFound, "use /_sim/tds2/{transId}/approve, reject or abandon")
			return
		}
		res, err := s.complete(parts[1], state)
		switch {
		case errors.Is(err, ErrNoSuchChallenge):
			writeControlError(w, http.StatusNotFound, err.Error())
		case err != nil:
			writeControlError(w, http.StatusConflict, err.Error())
		default:
			sim.WriteJSON(w, http.StatusOK, res)
		}
	default:
		writeControlError(w, http.StatusNotFound, "no such simulator endpoint: "+method+" "+r.URL.Path)
	}
}

// tokenRequest is the body of POST /_sim/tokens: one JSON object, every field optional.
// Kind is a pointer so that an omitted kind (the default, success) and an empty one
// (refused) differ.
type tokenRequest struct {
	Kind *string `json:"kind"`
	Card Card    `json:"card"`
}

// tokenRequestShape is what POST /_sim/tokens takes, for its error messages.
const tokenRequestShape = `send Content-Type: application/json with {"kind": "<kind>", "card": {"brand": "VISA", "last4": "1234", "expire": "YYMM"}} (every field optional), or no body at all for a success token`

// decodeTokenRequest reads the body of POST /_sim/tokens strictly. No body at all is the
// default request (whatever the Content-Type). Any other body must come as
// application/json (parameters such as charset allowed) and be exactly one JSON object
// with only the fields of tokenRequest: a form, another or no Content-Type, malformed JSON,
// a JSON value that is not an object, unknown fields and trailing data are refused with an
// error saying what was expected.
func decodeTokenRequest(ct string, body []byte) (tokenRequest, error) {
	var in tokenRequest
	if len(body) == 0 {
		return in, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case ct == "":
		return in, fmt.Errorf("a body without Content-Type: %s", tokenRequestShape)
	case err == nil && mt == "application/x-www-form-urlencoded":
		return in, fmt.Errorf("a form body is not understood (curl -d sends a form unless given -H 'Content-Type: application/json'): %s", tokenRequestShape)
	case err != nil || mt != "application/json":
		return in, fmt.Errorf("Content-Type %q is not understood: %s", ct, tokenRequestShape)
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return in, fmt.Errorf("the body is not a JSON object: %s", tokenRequestShape)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, fmt.Errorf("the body is not understood (%v): %s", err, tokenRequestShape)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return in, fmt.Errorf("trailing data after the JSON object: %s", tokenRequestShape)
	}
	return in, nil
}

// simIssueToken serves POST /_sim/tokens → 201 {"token", "kind", "card", "expiresAt"}.
func (s *Simulator) simIssueToken(w http.ResponseWriter, r *http.Request) {
	body, err := sim.ReadBody(r)
	if err != nil {
		writeControlError(w, http.StatusBadRequest, err.Error())
		return
	}
	in, err := decodeTokenRequest(r.Header.Get("Content-Type"), body)
	if err != nil {
		writeControlError(w, http.StatusBadRequest, "POST /_sim/tokens: "+err.Error())
		return
	}
	kindName := "success"
	if in.Kind != nil {
		kindName = *in.Kind
	}
	// lookupKind reads "" and "tok_" as success (IssueToken's default); a request that
	// names a kind must name one.
	k, ok := lookupKind(kindName)
	if !ok || strings.TrimPrefix(kindName, "tok_") == "" {
		writeControlError(w, http.StatusBadRequest, fmt.Sprintf("POST /_sim/tokens: unknown kind %q; kinds: %s (a \"tok_\" prefix is allowed)", kindName, strings.Join(Kinds(), ", ")))
		return
	}
	if !validCard(in.Card) {
		writeControlError(w, http.StatusBadRequest, "POST /_sim/tokens: card: brand VISA|MASTER|JCB|AMEX|DINERS, last4 4 digits, expire YYMM")
		return
	}
	tok, exp, err := s.IssueTokenCard(k.name, in.Card)
	if err != nil { // cannot happen: k.name was just looked up
		writeControlError(w, http.StatusInternalServerError, err.Error())
		return
	}
	card := k.card
	if in.Card.Brand != "" {
		card.Brand = strings.ToUpper(in.Card.Brand)
	}
	if in.Card.Last4 != "" {
		card.Last4 = in.Card.Last4
	}
	if in.Card.Expire != "" {
		card.Expire = in.Card.Expire
	}
	w.Header().Set("Cache-Control", "no-store")
	sim.WriteJSON(w, http.StatusCreated, map[string]any{"token": tok, "kind": k.name, "card": card, "expiresAt": exp.UTC().Format(time.RFC3339)})
}

// validCard checks the optional card of a token request (empty fields allowed).
func validCard(c Card) bool {
	digits := func(s string, n int) bool {
		if len(s) != n {
			return false
		}
		for i := 0; i < n; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	switch strings.ToUpper(c.Brand) {
	case "", "VISA", "MASTER", "JCB", "AMEX", "DINERS":
	default:
		return false
	}
	return (c.Last4 == "" || digits(c.Last4, 4)) && (c.Expire == "" || digits(c.Expire, 4))
}

// fixtureList is GET /_sim/fixtures: the fixture tokens and what they do.
func fixtureList() []map[string]any {
	out := []map[string]any{}
	for _, name := range append(Kinds(), "used", "expired") {
		k := kinds[name]
		entry := map[string]any{"token": "tok_" + name}
		if k.card.Last4 != "" {
			entry["card"] = k.card
		}
		switch {
		case k.decline != "":
			entry["errInfo"] = k.decline
		case k.tokenError != "":
			entry["errInfo"] = k.tokenError
		case k.comms:
			entry["errInfo"] = infoComms
			entry["commits"] = k.commsCommit
		case k.rateLimited:
			entry["errInfo"] = infoRateLimited
		}
		if k.tds != tdsNone {
			entry["threeDS"] = string(k.tds)
		}
		if k.slow {
			entry["slow"] = true
		}
		out = append(out, entry)
	}
	return out
}

// FaultErrorBody is the simulator's sim.ErrorBody: GMO's KV error body for an injected
// error status, so the gmopg client reads it as a BadRequest instead of crashing
// (docs/partners/gmopg.md §9). code is an ErrInfo (9 characters, e.g. E91099999, E92000001,
// E90010001, 42C010000); anything else means E91099999.
func FaultErrorBody(_ int, code string) (string, []byte) {
	if len(code) != 9 {
		code = infoSystemError
	}
	return contentType, encodeKV(errorFields(code))
}

// serveFaults serves /_sim/faults through the fault engine of Config.Faults.
func (s *Simulator) serveFaults(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Faults == nil {
		writeControlError(w, http.StatusNotFound, "fault injection is off: the simulator was started without a fault engine")
		return
	}
	s.cfg.Faults.ControlHandler().ServeHTTP(w, r)
}
