package nanaco

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"payhub/mocks/sim"
)

// Errors of the Go test hooks.
var (
	// ErrNoSuchTxn: no transaction has the given centerTxnId.
	ErrNoSuchTxn = errors.New("nanaco sim: no such transaction")
	// ErrNotPending: the transaction is not PENDING_CONFIRMATION.
	ErrNotPending = errors.New("nanaco sim: transaction is not PENDING_CONFIRMATION")
	// ErrKeyUsed: the idempotency key already holds a transaction or a fence.
	ErrKeyUsed = errors.New("nanaco sim: key already used or fenced")
	// ErrInvalid: a hook's argument is malformed.
	ErrInvalid = errors.New("nanaco sim: invalid argument")
)

// Now reads the simulator's clock (Config.Clock, moved by SetNow and Advance).
func (s *Simulator) Now() time.Time { return s.now() }

// settable is a clock the simulator can move itself, like *sim.ManualClock.
type settable interface {
	Set(time.Time)
	Advance(time.Duration) time.Time
}

// SetNow moves the clock to t: Config.Clock itself when it can be set (*sim.ManualClock),
// else by an offset over it.
func (s *Simulator) SetNow(t time.Time) {
	if c, ok := s.cfg.Clock.(settable); ok {
		c.Set(t.Add(-time.Duration(s.offset.Load())))
		return
	}
	s.offset.Store(int64(t.Sub(s.cfg.Clock.Now())))
}

// Advance moves the clock forward by d (backwards if negative) and returns the new time.
func (s *Simulator) Advance(d time.Duration) time.Time {
	if c, ok := s.cfg.Clock.(settable); ok {
		c.Advance(d)
	} else {
		s.offset.Add(int64(d))
	}
	return s.now()
}

// BusinessDate is the centre's current business date, YYYYMMDD (JST).
func (s *Simulator) BusinessDate() string { return businessDate(s.now()) }

// Flags returns the realism flags in force.
func (s *Simulator) Flags() Flags {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flags
}

// SetFlags replaces the realism flags.
func (s *Simulator) SetFlags(f Flags) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flags = f
}

// Reset puts the simulator back to its seeded cards: no transactions, keys, fences or
// nonces; the clock and the flags stay.
func (s *Simulator) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

// Ledger returns every committed transaction in commit order, with current statuses.
func (s *Simulator) Ledger() []LedgerEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LedgerEntry, 0, len(s.order))
	for _, t := range s.order {
		out = append(out, t.ledger())
	}
	return out
}

// Txn returns the ledger entry of centerTxnId.
func (s *Simulator) Txn(centerTxnID string) (LedgerEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[centerTxnID]
	if t == nil {
		return LedgerEntry{}, false
	}
	return t.ledger(), true
}

// Card returns a card's state at the simulator's clock (scheduled suspension and point
// expiry applied).
func (s *Simulator) Card(number string) (CardState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cards[number]
	if c == nil {
		return CardState{}, false
	}
	c.refresh(s.now())
	return c.state(), true
}

// Cards returns every card by number.
func (s *Simulator) Cards() []CardState {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]CardState, 0, len(s.cards))
	for _, c := range s.cards {
		c.refresh(now)
		out = append(out, c.state())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NanacoNumber < out[j].NanacoNumber })
	return out
}

// PutCard creates a card or sets an existing one (its transactions stay): number (16
// digits), idm (default "0114" + the number's last 12 digits), cardType (default CARD),
// status (default ACTIVE), balance and centerHeld (0 to 50,000), points (one lot of the
// current fiscal year), transferCode. A scheduled suspension is cleared.
func (s *Simulator) PutCard(st CardState) error {
	if !numberRE.MatchString(st.NanacoNumber) {
		return fmt.Errorf("%w: nanacoNumber must be 16 digits", ErrInvalid)
	}
	if st.IDm == "" {
		st.IDm = fixtureIDm(st.NanacoNumber)
	}
	st.IDm = strings.ToUpper(st.IDm)
	if st.CardType == "" {
		st.CardType = CardTypeCard
	}
	if st.Status == "" {
		st.Status = CardActive
	}
	switch {
	case !idmRE.MatchString(st.IDm):
		return fmt.Errorf("%w: idm must be 16 hexadecimal characters", ErrInvalid)
	case !oneOf(st.CardType, CardTypeCard, CardTypeMobile, CardTypeApplePay, CardTypeGooglePay):
		return fmt.Errorf("%w: cardType %q", ErrInvalid, st.CardType)
	case !oneOf(st.Status, CardActive, CardSuspended, CardLost, CardMigrating, CardMigrated, CardClosed):
		return fmt.Errorf("%w: status %q", ErrInvalid, st.Status)
	case st.Balance < 0 || st.Balance > BalanceCap || st.CenterHeld < 0 || st.CenterHeld > CenterHeldCap || st.Points < 0:
		return fmt.Errorf("%w: balance and centerHeld must be 0 to 50000, points ≥ 0", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if other := s.byIDm[st.IDm]; other != nil && other.number != st.NanacoNumber {
		return fmt.Errorf("%w: idm %s belongs to %s", ErrInvalid, st.IDm, other.number)
	}
	c := s.cards[st.NanacoNumber]
	if c == nil {
		c = &card{number: st.NanacoNumber}
		s.cards[c.number] = c
	}
	delete(s.byIDm, c.idm)
	c.idm, c.cardType, c.status, c.balance, c.centerHeld = st.IDm, st.CardType, st.Status, st.Balance, st.CenterHeld
	c.lots, c.suspendAt, c.transferCode = nil, time.Time{}, st.TransferCode
	c.addPoints(st.Points, s.now())
	s.byIDm[c.idm] = c
	return nil
}

func oneOf(v string, options ...string) bool {
	for _, o := range options {
		if v == o {
			return true
		}
	}
	return false
}

// SettlePending ends a PENDING_CONFIRMATION payment (the PendingChipWrite flag): confirm
// makes it APPROVED (the chip write happened); otherwise it is REVERSED (it never did): the
// debit goes back on the card and the points are taken back, and an inquiry shows REVERSED.
func (s *Simulator) SettlePending(centerTxnID string, confirm bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[centerTxnID]
	switch {
	case t == nil:
		return fmt.Errorf("%w: %q", ErrNoSuchTxn, centerTxnID)
	case t.status != StatusPendingConfirmation:
		return fmt.Errorf("%w: %s is %s", ErrNotPending, centerTxnID, t.status)
	}
	s.settlePending(t, confirm, s.now())
	return nil
}

// MarkInProgress makes transactions/inquiry answer {"found":true,"status":"IN_PROGRESS"} for
// an unused key of the simulator's merchant, as if its request were still being processed.
// The key's request, when it arrives, is processed as usual (and ends the mark).
func (s *Simulator) MarkInProgress(terminalID, businessDate string, terminalSeq int) error {
	k, err := s.keyOf(terminalID, businessDate, terminalSeq)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.keys[k]; rec != nil && !rec.inProgress {
		return ErrKeyUsed
	}
	s.keys[k] = &keyRecord{inProgress: true}
	return nil
}

// ClearInProgress removes a MarkInProgress mark: the key is unused again.
func (s *Simulator) ClearInProgress(terminalID, businessDate string, terminalSeq int) error {
	k, err := s.keyOf(terminalID, businessDate, terminalSeq)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.keys[k]; rec != nil && rec.inProgress {
		delete(s.keys, k)
	}
	return nil
}

func (s *Simulator) keyOf(terminalID, date string, seq int) (seqKey, error) {
	if _, valid := parseBusinessDate(date); !valid || !terminalRE.MatchString(terminalID) || seq < 1 || seq > MaxSeq {
		return seqKey{}, fmt.Errorf("%w: key (%q, %q, %d)", ErrInvalid, terminalID, date, seq)
	}
	return seqKey{merchant: s.cfg.MerchantID, terminal: terminalID, date: date, seq: seq}, nil
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
	route := parts[0]
	arg := ""
	if len(parts) == 2 {
		arg = parts[1]
	} else if len(parts) > 2 {
		route = ""
	}
	method := r.Method
	allow := func(methods ...string) bool {
		for _, m := range methods {
			if m == method {
				return true
			}
		}
		w.Header().Set("Allow", strings.Join(methods, ", "))
		writeControlError(w, http.StatusMethodNotAllowed, "use "+strings.Join(methods, " or "))
		return false
	}
	switch {
	case route == "faults" && arg == "":
		s.serveFaults(w, r)
	case route == "ledger" && arg == "":
		if allow(http.MethodGet) {
			sim.WriteJSON(w, http.StatusOK, map[string][]LedgerEntry{"transactions": s.Ledger()})
		}
	case route == "ledger":
		if allow(http.MethodGet) {
			if e, found := s.Txn(arg); found {
				sim.WriteJSON(w, http.StatusOK, e)
			} else {
				writeControlError(w, http.StatusNotFound, "no such transaction")
			}
		}
	case route == "cards" && arg == "":
		if allow(http.MethodGet) {
			sim.WriteJSON(w, http.StatusOK, map[string][]CardState{"cards": s.Cards()})
		}
	case route == "cards":
		if allow(http.MethodGet, http.MethodPut) {
			s.controlCard(w, r, arg)
		}
	case route == "clock" && arg == "":
		if allow(http.MethodGet, http.MethodPut) {
			s.controlClock(w, r)
		}
	case route == "flags" && arg == "":
		if allow(http.MethodGet, http.MethodPut) {
			s.controlFlags(w, r)
		}
	case route == "pending" && arg != "":
		if allow(http.MethodPut) {
			s.controlPending(w, r, arg)
		}
	case route == "in-progress" && arg == "":
		if allow(http.MethodPut, http.MethodDelete) {
			s.controlInProgress(w, r)
		}
	case route == "reset" && arg == "":
		if allow(http.MethodPost) {
			s.Reset()
			sim.WriteJSON(w, http.StatusOK, map[string]string{"status": "reset"})
		}
	default:
		writeControlError(w, http.StatusNotFound, "no such simulator endpoint")
	}
}

// readControl decodes a /_sim/ body strictly (unknown fields refused).
func readControl(r *http.Request, v any) error {
	body, err := sim.ReadBody(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func (s *Simulator) controlCard(w http.ResponseWriter, r *http.Request, number string) {
	if r.Method == http.MethodPut {
		st := CardState{NanacoNumber: number}
		if err := readControl(r, &st); err != nil {
			writeControlError(w, http.StatusBadRequest, "body must be a card: "+err.Error())
			return
		}
		if st.NanacoNumber != number {
			writeControlError(w, http.StatusBadRequest, "nanacoNumber differs from the path")
			return
		}
		if err := s.PutCard(st); err != nil {
			writeControlError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	st, found := s.Card(number)
	if !found {
		writeControlError(w, http.StatusNotFound, "no such card")
		return
	}
	sim.WriteJSON(w, http.StatusOK, st)
}

// clockState is the body of GET and PUT /_sim/clock.
type clockState struct {
	Now          string `json:"now"`
	BusinessDate string `json:"businessDate"`
}

func (s *Simulator) controlClock(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		var in struct {
			Now     string `json:"now"`
			Advance string `json:"advance"`
		}
		if err := readControl(r, &in); err != nil || (in.Now == "") == (in.Advance == "") {
			writeControlError(w, http.StatusBadRequest, `body must be {"now": RFC 3339} or {"advance": Go duration, e.g. "36h"}`)
			return
		}
		if in.Now != "" {
			t, err := time.Parse(time.RFC3339, in.Now)
			if err != nil {
				writeControlError(w, http.StatusBadRequest, "now: "+err.Error())
				return
			}
			s.SetNow(t)
		} else {
			d, err := time.ParseDuration(in.Advance)
			if err != nil {
				writeControlError(w, http.StatusBadRequest, "advance: "+err.Error())
				return
			}
			s.Advance(d)
		}
	}
	now := s.now()
	sim.WriteJSON(w, http.StatusOK, clockState{Now: now.In(JST).Format(TimestampLayout), BusinessDate: businessDate(now)})
}

func (s *Simulator) controlFlags(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		f := s.Flags() // a PUT changes only the fields it names
		if err := readControl(r, &f); err != nil {
			writeControlError(w, http.StatusBadRequest, "body must be flags: "+err.Error())
			return
		}
		s.SetFlags(f)
	}
	sim.WriteJSON(w, http.StatusOK, s.Flags())
}

func (s *Simulator) controlPending(w http.ResponseWriter, r *http.Request, id string) {
	var in struct {
		Outcome string `json:"outcome"`
	}
	if err := readControl(r, &in); err != nil || (in.Outcome != "confirm" && in.Outcome != "reverse") {
		writeControlError(w, http.StatusBadRequest, `body must be {"outcome": "confirm"|"reverse"}`)
		return
	}
	err := s.SettlePending(id, in.Outcome == "confirm")
	switch {
	case errors.Is(err, ErrNoSuchTxn):
		writeControlError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeControlError(w, http.StatusConflict, err.Error())
	default:
		e, _ := s.Txn(id)
		sim.WriteJSON(w, http.StatusOK, e)
	}
}

func (s *Simulator) controlInProgress(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TerminalID   string `json:"terminalId"`
		BusinessDate string `json:"businessDate"`
		TerminalSeq  int    `json:"terminalSeq"`
	}
	if err := readControl(r, &in); err != nil {
		writeControlError(w, http.StatusBadRequest, `body must be {"terminalId", "businessDate", "terminalSeq"}`)
		return
	}
	var err error
	if r.Method == http.MethodPut {
		err = s.MarkInProgress(in.TerminalID, in.BusinessDate, in.TerminalSeq)
	} else {
		err = s.ClearInProgress(in.TerminalID, in.BusinessDate, in.TerminalSeq)
	}
	switch {
	case errors.Is(err, ErrKeyUsed):
		writeControlError(w, http.StatusConflict, err.Error())
	case err != nil:
		writeControlError(w, http.StatusBadRequest, err.Error())
	default:
		sim.WriteJSON(w, http.StatusOK, in)
	}
}
