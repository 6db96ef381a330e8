package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"payhub/contracts"
	"payhub/internal/audit"
)

// Kill switches (docs/security.md §4). Every instance keeps the switches in force in
// memory, re-reading the controls version every RefreshEvery (one row: cheap) and the
// switches when it changed, so a switch set through any instance or the CLI is enforced
// everywhere within RefreshEvery plus a read. Money-moving operations (create payment,
// capture, a store's cancel, a store's refund, top-up and its cancel) check the switches
// before anything is written, so a refusal leaves the Idempotency-Key unused. The
// resolver's reversals (its cancels and payhub's own reversal refunds) never pass through
// the check: they only reduce exposure.
//
// Fail closed: when the switches were last read more than MaxAge ago — the database
// cannot be read — money-moving operations are refused with 503 controls_unavailable;
// reads go on.

// ControlsConfig tunes the kill switches' refresh.
type ControlsConfig struct {
	// RefreshEvery is how often RunControls re-reads the controls version.
	RefreshEvery time.Duration
	// MaxAge is how old the switches may be before money-moving operations are refused.
	MaxAge time.Duration
	// Now is the clock that dates the reads (monotonic time.Now when nil); tests move it.
	Now func() time.Time
}

// DefaultControlsConfig re-reads every 500 ms and fails closed after 3 s without a read.
var DefaultControlsConfig = ControlsConfig{RefreshEvery: 500 * time.Millisecond, MaxAge: 3 * time.Second}

func (c ControlsConfig) withDefaults() ControlsConfig {
	if c.RefreshEvery <= 0 {
		c.RefreshEvery = DefaultControlsConfig.RefreshEvery
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultControlsConfig.MaxAge
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// controls is an instance's copy of the switches in force.
type controls struct {
	cfg ControlsConfig
	// reload serialises the reads.
	reload sync.Mutex
	mu     sync.RWMutex
	// loaded: the switches were read at least once.
	loaded   bool
	version  int64
	switches []contracts.KillSwitch
	rules    []contracts.LimitRule
	// readAt is when the switches were last known current.
	readAt time.Time
}

// RefreshControls reads the controls version and, when it changed (or on the first
// call), the switches in force.
func (h *Hub) RefreshControls(ctx context.Context) error {
	c := h.controls
	c.reload.Lock()
	defer c.reload.Unlock()
	v, err := h.store.GetControlsVersion(ctx)
	if err != nil {
		return fmt.Errorf("read controls version: %w", err)
	}
	c.mu.RLock()
	same := c.loaded && c.version == v
	c.mu.RUnlock()
	var (
		list  []contracts.KillSwitch
		rules []contracts.LimitRule
	)
	if !same {
		if list, err = h.store.ListKillSwitches(ctx, false); err != nil {
			return fmt.Errorf("read kill switches: %w", err)
		}
		if rules, err = h.store.ListLimitRules(ctx, false); err != nil {
			return fmt.Errorf("read limit rules: %w", err)
		}
	}
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !same {
		c.switches, c.rules, c.version, c.loaded = list, rules, v, true
	}
	c.readAt = now
	return nil
}

// RunControls keeps the switches current until ctx ends (a background job of serve and
// demo). A hub without it still enforces them: a check that finds them older than MaxAge
// reads them itself.
func (h *Hub) RunControls(ctx context.Context) {
	if l, ok := h.store.(contracts.ControlsListener); ok {
		go h.listenControls(ctx, l)
	}
	h.repeat(ctx, h.controls.cfg.RefreshEvery, true, "refresh kill switches", h.RefreshControls)
}

// listenControls re-reads the controls the moment the database notifies a change (on
// PostgreSQL), listening again a second after a failed connection, until ctx ends.
func (h *Hub) listenControls(ctx context.Context, l contracts.ControlsListener) {
	for {
		err := l.ListenControls(ctx, func() { h.runPass(ctx, "refresh kill switches on notice", h.RefreshControls) })
		if errors.Is(err, errors.ErrUnsupported) || ctx.Err() != nil {
			return
		}
		h.log.WarnContext(ctx, "listening for control changes failed; the periodic re-read goes on", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// activeSwitches are the switches in force as last read, re-read first when that was
// longer ago than MaxAge; controls_unavailable when they cannot be read.
func (h *Hub) activeSwitches(ctx context.Context) ([]contracts.KillSwitch, error) {
	c := h.controls
	c.mu.RLock()
	fresh := c.loaded && c.cfg.Now().Sub(c.readAt) <= c.cfg.MaxAge
	list := c.switches
	c.mu.RUnlock()
	if fresh {
		return list, nil
	}
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := h.RefreshControls(rctx); err != nil {
		h.log.ErrorContext(ctx, "kill switches unavailable: refusing money-moving operations", "err", err)
		return nil, &contracts.Error{Code: contracts.CodeControlsUnavailable,
			Detail: "payhub cannot confirm its operating controls right now; nothing was done. Retry later with the same Idempotency-Key."}
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.switches, nil
}

// disabled is the refusal a switch answers with: its public reason, never its note.
func disabled(k contracts.KillSwitch) *contracts.Error {
	return &contracts.Error{Code: contracts.CodeOperationDisabled, Detail: k.PublicReason}
}

// checkControls refuses r when a switch in force matches it.
func (h *Hub) checkControls(ctx context.Context, r contracts.ControlScope) error {
	list, err := h.activeSwitches(ctx)
	if err != nil {
		return err
	}
	if k, ok := contracts.Blocking(list, r, h.now()); ok {
		h.metrics.switchRefusal(r.Operation)
		return disabled(k)
	}
	return nil
}

// checkObjectControls refuses op on an existing object (a payment, a top-up) when a switch
// matches it. The object is read (by load, giving its method and terminal) only when a
// switch in force names a partner, method or terminal that could match it.
func (h *Hub) checkObjectControls(ctx context.Context, c Caller, op contracts.ControlOperation, load func(context.Context) (contracts.Method, string, error)) error {
	list, err := h.activeSwitches(ctx)
	if err != nil {
		return err
	}
	now := h.now()
	r := contracts.ControlScope{Operation: op, StoreID: c.StoreID, ClientID: c.ClientID}
	needObject := false
	for _, k := range list {
		if !k.ActiveAt(now) {
			continue
		}
		s := k.Scope
		s.Partner, s.Method, s.TerminalID = "", "", ""
		if !s.Matches(r) {
			continue
		}
		if s == k.Scope {
			h.metrics.switchRefusal(op)
			return disabled(k)
		}
		needObject = true
	}
	if !needObject {
		return nil
	}
	m, terminal, err := load(ctx)
	if errors.Is(err, contracts.ErrNotFound) {
		return nil // the operation itself answers 404
	}
	if err != nil {
		return err
	}
	r.Method, r.Partner, r.TerminalID = m, contracts.PartnerOf(m), terminal
	return h.checkControls(ctx, r)
}

// checkPaymentControls is checkObjectControls for the caller's payment id.
func (h *Hub) checkPaymentControls(ctx context.Context, c Caller, op contracts.ControlOperation, id string) error {
	return h.checkObjectControls(ctx, c, op, func(ctx context.Context) (contracts.Method, string, error) {
		p, err := h.store.GetPayment(ctx, c.StoreID, id)
		return p.Method, p.TerminalID, err
	})
}

// KillSwitches are the switches in force as this instance last read them.
func (h *Hub) KillSwitches(ctx context.Context) ([]contracts.KillSwitch, error) {
	return h.activeSwitches(ctx)
}

// maxReasonLen bounds a switch's reasons and note, in characters.
const maxReasonLen = 500

// ValidateKillSwitch checks a switch before it is set: a scope naming at least one thing
// (known partner, method and operation; a partner and a method that agree), a public
// reason, reasons of bounded length, an expiry after SetAt.
func ValidateKillSwitch(k contracts.KillSwitch) error {
	s := k.Scope
	switch {
	case s.IsZero():
		return errors.New("a kill switch needs a scope: a partner, method, operation, store, terminal or client")
	case s.Partner != "" && !contains(contracts.Partners, s.Partner):
		return fmt.Errorf("unknown partner %q (one of %s)", s.Partner, strings.Join(contracts.Partners, ", "))
	case s.Method != "" && contracts.PartnerOf(s.Method) == "":
		return fmt.Errorf("unknown method %q", s.Method)
	case s.Partner != "" && s.Method != "" && contracts.PartnerOf(s.Method) != s.Partner:
		return fmt.Errorf("method %s is not served by partner %s: the switch would match nothing", s.Method, s.Partner)
	case s.Operation != "" && !s.Operation.Valid():
		return fmt.Errorf("unknown operation %q", s.Operation)
	case strings.TrimSpace(k.PublicReason) == "":
		return errors.New("a kill switch needs a public reason (shown to the stores it refuses)")
	case utf8.RuneCountInString(k.PublicReason) > maxReasonLen || utf8.RuneCountInString(k.InternalNote) > maxReasonLen:
		return fmt.Errorf("reasons are at most %d characters", maxReasonLen)
	case k.SetBy == "":
		return errors.New("a kill switch needs who sets it")
	case k.ExpiresAt != nil && !k.ExpiresAt.After(k.SetAt):
		return errors.New("a kill switch's expiry must be after it is set")
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// switchParams is a switch as its audit entry records it.
func switchParams(k contracts.KillSwitch) map[string]any {
	m := map[string]any{"partner": k.Scope.Partner, "method": string(k.Scope.Method),
		"operation": string(k.Scope.Operation), "store": k.Scope.StoreID, "terminal": k.Scope.TerminalID,
		"client": k.Scope.ClientID, "public_reason": k.PublicReason, "internal_note": k.InternalNote,
		"set_by": k.SetBy, "set_at": k.SetAt}
	if k.ExpiresAt != nil {
		m["expires_at"] = *k.ExpiresAt
	}
	return m
}

// SetKillSwitch validates k and records it with its audit entry (actor k.SetBy, action
// "switch.set") in one transaction, bumping the controls version: every instance enforces
// it within a second. auditKey is PAYHUB_AUDIT_KEY; requestID names the API request ("" for
// the CLI).
func SetKillSwitch(ctx context.Context, st contracts.Store, auditKey []byte, requestID string, k contracts.KillSwitch) error {
	if err := ValidateKillSwitch(k); err != nil {
		return err
	}
	if err := audit.CheckKey(auditKey); err != nil {
		return err
	}
	params, err := audit.Params(audit.Change{After: switchParams(k), Reason: k.PublicReason})
	if err != nil {
		return err
	}
	return st.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.InsertKillSwitch(ctx, k); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, auditKey, audit.Entry{At: k.SetAt, Actor: k.SetBy, Action: "switch.set",
			Target: "switch:" + k.ID, Params: params, RequestID: requestID})
		return err
	})
}

// LiftKillSwitch lifts the switch id with its audit entry (action "switch.lift") in one
// transaction and returns it as lifted. A reason is required. ErrNotFound without such a
// switch, ErrInvalidTransition when it was lifted before.
func LiftKillSwitch(ctx context.Context, st contracts.Store, auditKey []byte, requestID, id, by, reason string, at time.Time) (contracts.KillSwitch, error) {
	if err := checkLift(auditKey, by, reason); err != nil {
		return contracts.KillSwitch{}, err
	}
	var k contracts.KillSwitch
	err := st.InTx(ctx, func(tx contracts.Tx) error {
		var err error
		k, err = LiftKillSwitchTx(ctx, tx, auditKey, requestID, id, by, reason, at, nil)
		return err
	})
	return k, err
}

func checkLift(auditKey []byte, by, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("lifting a kill switch needs a reason")
	}
	if by == "" {
		return errors.New("lifting a kill switch needs who lifts it")
	}
	return audit.CheckKey(auditKey)
}

// LiftKillSwitchTx is LiftKillSwitch in the caller's transaction tx (two-person approval
// runs it in the approval's, docs/security.md §8); extra joins the audit entry's "after"
// (e.g. the approval's id and approver).
func LiftKillSwitchTx(ctx context.Context, tx contracts.Tx, auditKey []byte, requestID, id, by, reason string, at time.Time, extra map[string]any) (contracts.KillSwitch, error) {
	if err := checkLift(auditKey, by, reason); err != nil {
		return contracts.KillSwitch{}, err
	}
	k, err := tx.LiftKillSwitch(ctx, id, by, reason, at)
	if err != nil {
		return contracts.KillSwitch{}, err
	}
	after := map[string]any{"lifted_by": by, "lifted_at": *k.LiftedAt}
	for name, v := range extra {
		after[name] = v
	}
	params, err := audit.Params(audit.Change{Before: switchParams(k), After: after, Reason: reason})
	if err != nil {
		return contracts.KillSwitch{}, err
	}
	_, err = audit.Append(ctx, tx, auditKey, audit.Entry{At: at, Actor: by, Action: "switch.lift",
		Target: "switch:" + id, Params: params, RequestID: requestID})
	return k, err
}
