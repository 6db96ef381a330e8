package hub

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"payhub/contracts"
	"payhub/internal/audit"
)

// Velocity and amount limits (docs/security.md §5). The rules are read with the kill
// switches (the same controls version) and kept in memory; the usage lives in the
// database, so every instance counts against the same budgets. A payment or top-up
// reserves its share of every rule that covers it in the transaction of its intent, under
// a lock per subject (reserveLimits), so 50 concurrent requests cannot together pass a
// budget that one of them would fill. A refusal writes nothing but the refusal's event
// (at most one a minute per rule and subject) and frees the Idempotency-Key: the same
// request may be retried after Retry-After.

// limitRequest is what an operation asks of the limits.
type limitRequest struct {
	Operation  contracts.ControlOperation
	Method     contracts.Method
	StoreID    string
	TerminalID string
	ClientID   string
	Amount     contracts.Money
	// Instruments are the customer's instruments known before the partner call, as subject
	// keys (instrumentKey).
	Instruments []string
}

// limitCheck is one rule applied to one subject.
type limitCheck struct {
	rule contracts.LimitRule
	key  string
}

// checks lists the rules in force that cover r, each with the subject it counts.
func (r limitRequest) checks(rules []contracts.LimitRule) []limitCheck {
	var out []limitCheck
	for _, rule := range rules {
		if !rule.Active() || rule.Operation != r.Operation || (rule.Method != "" && rule.Method != r.Method) ||
			(rule.Currency != "" && rule.Currency != r.Amount.Currency) {
			continue
		}
		for _, key := range r.subjectKeys(rule) {
			out = append(out, limitCheck{rule: rule, key: key})
		}
	}
	return out
}

// subjectKeys are the subjects of r that rule counts (none when the rule names another).
func (r limitRequest) subjectKeys(rule contracts.LimitRule) []string {
	one := func(id, key string) []string {
		if rule.SubjectID != "" && rule.SubjectID != id {
			return nil
		}
		return []string{key}
	}
	switch rule.Subject {
	case contracts.LimitStore:
		return one(r.StoreID, "store:"+r.StoreID)
	case contracts.LimitTerminal:
		// A request without a terminal counts against its store's "no terminal" budget,
		// so leaving terminal_id out does not escape a terminal limit.
		return one(r.StoreID+"/"+r.TerminalID, "terminal:"+r.StoreID+"/"+r.TerminalID)
	case contracts.LimitClient:
		return one(r.ClientID, "client:"+r.ClientID)
	case contracts.LimitInstrument:
		return r.Instruments
	}
	return nil
}

// instrumentKey is the subject key of a customer's instrument: a keyed hash, so that the
// database never holds a nanaco number or a partner's user reference, and one that cannot
// be reversed by trying every 16-digit number without the key.
func (h *Hub) instrumentKey(kind, value string) string {
	m := hmac.New(sha256.New, h.instrumentMAC)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return "instrument:" + kind + ":" + hex.EncodeToString(m.Sum(nil)[:16])
}

// paymentInstruments are the instruments of a create known before the partner call: a
// linked account's user reference, a presented card's number.
func (h *Hub) paymentInstruments(cmd CreatePayment) []string {
	var out []string
	partner := contracts.PartnerOf(cmd.Method)
	if cmd.UserAuthorizationID != "" {
		out = append(out, h.instrumentKey(partner+"-user", cmd.UserAuthorizationID))
	}
	if cmd.Card != nil && cmd.Card.Number != "" {
		out = append(out, h.instrumentKey(partner+"-card", cmd.Card.Number))
	}
	return out
}

// reportedCardInstrument is the instrument of a card payment as the partner reported it
// after the fact (GMO-PG: brand, last four digits, expiry); "" when it reported none.
func (h *Hub) reportedCardInstrument(m contracts.Method, card *contracts.CardDetails) string {
	if card == nil || card.Last4 == "" || card.Expiry == "" {
		return ""
	}
	return h.instrumentKey(contracts.PartnerOf(m)+"-card", strings.ToUpper(card.Brand)+"|"+card.Last4+"|"+card.Expiry)
}

// recordReportedInstrument counts a payment that went through against the instrument the
// partner reported paying it (a card, known only after the call), in the transaction of the
// outcome: it cannot stop this payment, but the next ones from the same card count it.
func (h *Hub) recordReportedInstrument(ctx context.Context, tx contracts.Tx, p contracts.Payment, now time.Time) error {
	if p.Status == contracts.StatusFailed {
		return nil
	}
	key := h.reportedCardInstrument(p.Method, p.Card)
	if key == "" {
		return nil
	}
	return tx.InsertLimitUsage(ctx, []contracts.LimitUsage{{SubjectKey: key, Operation: contracts.OperationPay,
		Method: p.Method, Amount: p.Amount, At: now, ObjectID: p.ID}})
}

// LimitError is a refusal by a limit: which rule, for what, and when it has room again.
type LimitError struct {
	Rule contracts.LimitRule
	// RetryAfter is how long until the window has room for the request; zero when it never
	// will (the request alone is over the rule's amount).
	RetryAfter time.Duration
}

// Error implements error.
func (e *LimitError) Error() string { return e.problem().Error() }

// problem is the refusal as a store sees it: which limit, never whose instrument.
func (e *LimitError) problem() *contracts.Error {
	r := e.Rule
	var caps []string
	if r.MaxCount > 0 {
		caps = append(caps, fmt.Sprintf("%d %s operations", r.MaxCount, r.Operation))
	}
	if r.MaxAmount > 0 {
		caps = append(caps, fmt.Sprintf("%d %s", r.MaxAmount, r.Currency))
	}
	detail := fmt.Sprintf("Limit %s reached: at most %s per %s within %s.", r.ID, strings.Join(caps, " and "), r.Subject, r.Window)
	if e.RetryAfter <= 0 {
		detail += " This request alone is over the limit."
	}
	return &contracts.Error{Code: contracts.CodeLimitExceeded, Detail: detail, RetryAfter: e.RetryAfter,
		Limit: &contracts.LimitBreach{RuleID: r.ID, Subject: string(r.Subject), Operation: string(r.Operation),
			WindowSeconds: int64(r.Window / time.Second), MaxCount: r.MaxCount, MaxAmount: r.MaxAmount, Currency: string(r.Currency)}}
}

// Unwrap lets contracts.AsError find the problem.
func (e *LimitError) Unwrap() error { return e.problem() }

// limitRules are the rules in force as last read with the kill switches.
func (h *Hub) limitRules(ctx context.Context) ([]contracts.LimitRule, error) {
	if _, err := h.activeSwitches(ctx); err != nil {
		return nil, err
	}
	c := h.controls
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rules, nil
}

// reserveLimits reserves r's share of every rule covering it for objectID, inside tx (the
// intent's transaction), or refuses with a *LimitError when one would be passed.
func (h *Hub) reserveLimits(ctx context.Context, tx contracts.Tx, rules []contracts.LimitRule, r limitRequest, objectID string, now time.Time) error {
	checks := r.checks(rules)
	if len(checks) == 0 {
		return nil
	}
	keys := make([]string, 0, len(checks))
	for _, c := range checks {
		keys = append(keys, c.key)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if err := tx.LockLimitSubjects(ctx, keys); err != nil {
		return err
	}
	for _, c := range checks {
		if err := h.checkLimit(ctx, tx, c, r, now); err != nil {
			return err
		}
	}
	uses := make([]contracts.LimitUsage, 0, len(keys))
	for _, k := range keys {
		uses = append(uses, contracts.LimitUsage{SubjectKey: k, Operation: r.Operation, Method: r.Method,
			Amount: r.Amount, At: now, ObjectID: objectID})
	}
	return tx.InsertLimitUsage(ctx, uses)
}

// checkLimit refuses r when it would take c's subject past c's rule.
func (h *Hub) checkLimit(ctx context.Context, tx contracts.Tx, c limitCheck, r limitRequest, now time.Time) error {
	rule := c.rule
	since := now.Add(-rule.Window)
	used, err := tx.LimitWindowUse(ctx, c.key, rule.Operation, rule.Method, string(rule.Currency), since)
	if err != nil {
		return err
	}
	overCount := rule.MaxCount > 0 && used.Count+1 > rule.MaxCount
	overAmount := rule.MaxAmount > 0 && used.Amount+r.Amount.Amount > rule.MaxAmount
	if !overCount && !overAmount {
		return nil
	}
	if rule.MaxAmount > 0 && r.Amount.Amount > rule.MaxAmount {
		return &LimitError{Rule: rule}
	}
	uses, err := tx.LimitUses(ctx, c.key, rule.Operation, rule.Method, string(rule.Currency), since)
	if err != nil {
		return err
	}
	return &LimitError{Rule: rule, RetryAfter: roomAfter(rule, uses, r.Amount.Amount, now)}
}

// roomAfter is how long until enough of uses (oldest first) leave the window for one more
// operation of amount to fit rule.
func roomAfter(rule contracts.LimitRule, uses []contracts.LimitUse, amount int64, now time.Time) time.Duration {
	count, total := int64(len(uses)), int64(0)
	for _, u := range uses {
		total += u.Amount
	}
	for _, u := range uses {
		count, total = count-1, total-u.Amount
		if (rule.MaxCount == 0 || count+1 <= rule.MaxCount) && (rule.MaxAmount == 0 || total+amount <= rule.MaxAmount) {
			// A tenth of a second past the moment u leaves the window.
			return max(u.At.Add(rule.Window).Sub(now), 0) + time.Second/10
		}
	}
	return time.Second
}

// limitRefused counts a refusal by a limit and raises its event to the store, at most once
// a minute per rule and subject so a flood of refused requests does not flood the outbox.
func (h *Hub) limitRefused(ctx context.Context, err error, r limitRequest) {
	var le *LimitError
	if !errors.As(err, &le) {
		return
	}
	h.metrics.limitRefusal(le.Rule)
	h.log.WarnContext(ctx, "limit exceeded", "rule", le.Rule.ID, "subject", le.Rule.Subject, "operation", r.Operation,
		"store_id", r.StoreID, "terminal_id", r.TerminalID, "client_id", r.ClientID, "retry_after", le.RetryAfter)
	if !h.limitEvents.allow(le.Rule.ID+"|"+r.StoreID+"|"+r.TerminalID, h.now()) {
		return
	}
	now := h.now()
	body, _ := json.Marshal(limitBreachObject{Object: "limit_breach", RuleID: le.Rule.ID, Subject: string(le.Rule.Subject),
		Operation: string(r.Operation), Method: string(r.Method), StoreID: r.StoreID, TerminalID: r.TerminalID,
		Amount: r.Amount.Amount, Currency: string(r.Amount.Currency), RetryAfterSeconds: int64(le.RetryAfter.Round(time.Second) / time.Second),
		At: now.Format(time.RFC3339)})
	ev := contracts.Event{ID: h.ids.New(contracts.PrefixEvent), Type: contracts.EventLimitExceeded, StoreID: r.StoreID, CreatedAt: now}
	ev.Payload, _ = json.Marshal(eventPayload{ID: ev.ID, Type: string(ev.Type), Timestamp: now.Format(time.RFC3339),
		APIVersion: h.version, Data: eventData{Object: body}})
	if err := h.store.InTx(context.WithoutCancel(ctx), func(tx contracts.Tx) error { return tx.AppendEvent(ctx, ev) }); err != nil {
		h.log.ErrorContext(ctx, "record limit event", "err", err)
	}
}

// limitBreachObject is the object of a limit.exceeded event: which limit refused what,
// never whose instrument.
type limitBreachObject struct {
	Object            string `json:"object"`
	RuleID            string `json:"rule_id"`
	Subject           string `json:"subject"`
	Operation         string `json:"operation"`
	Method            string `json:"method,omitempty"`
	StoreID           string `json:"store_id"`
	TerminalID        string `json:"terminal_id,omitempty"`
	Amount            int64  `json:"amount"`
	Currency          string `json:"currency"`
	RetryAfterSeconds int64  `json:"retry_after_seconds"`
	At                string `json:"at"`
}

// eventThrottle lets one event per key through per minute.
type eventThrottle struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (t *eventThrottle) allow(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil || len(t.last) > 10_000 {
		t.last = map[string]time.Time{}
	}
	if last, ok := t.last[key]; ok && now.Sub(last) < time.Minute {
		return false
	}
	t.last[key] = now
	return true
}

// ValidateLimitRule checks a rule before it is added.
func ValidateLimitRule(r contracts.LimitRule) error {
	switch {
	case !slices.Contains(contracts.LimitSubjects, r.Subject):
		return fmt.Errorf("unknown subject %q (store, terminal, client or instrument)", r.Subject)
	case !slices.Contains(contracts.LimitOperations, r.Operation):
		return fmt.Errorf("operation %q cannot be limited (pay or top_up)", r.Operation)
	case r.Method != "" && contracts.PartnerOf(r.Method) == "":
		return fmt.Errorf("unknown method %q", r.Method)
	case r.Subject == contracts.LimitInstrument && r.SubjectID != "":
		return errors.New("an instrument rule applies to each instrument: payhub keeps no instrument ids to name one")
	case r.Window < time.Second || r.Window > 31*24*time.Hour || r.Window%time.Second != 0:
		return errors.New("the window is whole seconds, from 1 s to 31 days")
	case r.MaxCount < 0 || r.MaxAmount < 0 || (r.MaxCount == 0 && r.MaxAmount == 0):
		return errors.New("a rule caps the count (max_count), the amount (max_amount) or both")
	case r.MaxAmount > 0 && !currencyPattern(string(r.Currency)):
		return errors.New("max_amount needs its currency (three upper-case letters, e.g. JPY)")
	case r.MaxAmount == 0 && r.Currency != "" && !currencyPattern(string(r.Currency)):
		return errors.New("currency is three upper-case letters, e.g. JPY")
	case utf8.RuneCountInString(r.Reason) > maxReasonLen || utf8.RuneCountInString(r.SubjectID) > 200:
		return fmt.Errorf("the reason is at most %d characters", maxReasonLen)
	case r.SetBy == "":
		return errors.New("a rule needs who sets it")
	}
	return nil
}

func currencyPattern(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// limitParams is a rule as its audit entry records it.
func limitParams(r contracts.LimitRule) map[string]any {
	return map[string]any{"subject": string(r.Subject), "subject_id": r.SubjectID, "operation": string(r.Operation),
		"method": string(r.Method), "window_seconds": int64(r.Window / time.Second), "max_count": r.MaxCount,
		"max_amount": r.MaxAmount, "currency": string(r.Currency), "reason": r.Reason, "set_by": r.SetBy, "set_at": r.SetAt}
}

// AddLimitRule validates r and adds it with its audit entry (action "limit.add") in one
// transaction; every instance enforces it within a second. A new rule only tightens, so it
// needs no second operator (docs/security.md §5, §8).
func AddLimitRule(ctx context.Context, st contracts.Store, auditKey []byte, requestID string, r contracts.LimitRule) error {
	if err := ValidateLimitRule(r); err != nil {
		return err
	}
	if err := audit.CheckKey(auditKey); err != nil {
		return err
	}
	return st.InTx(ctx, func(tx contracts.Tx) error { return addLimitRule(ctx, tx, auditKey, requestID, r) })
}

func addLimitRule(ctx context.Context, tx contracts.Tx, auditKey []byte, requestID string, r contracts.LimitRule) error {
	params, err := audit.Params(audit.Change{After: limitParams(r), Reason: r.Reason})
	if err != nil {
		return err
	}
	if err := tx.InsertLimitRule(ctx, r); err != nil {
		return err
	}
	_, err = audit.Append(ctx, tx, auditKey, audit.Entry{At: r.SetAt, Actor: r.SetBy, Action: "limit.add",
		Target: "limit:" + r.ID, Params: params, RequestID: requestID})
	return err
}

// RemoveLimitRuleTx removes the rule id with its audit entry (action "limit.remove") in
// tx — the transaction of the approval that allowed it. ErrNotFound without such a rule,
// ErrInvalidTransition when it was removed before.
func RemoveLimitRuleTx(ctx context.Context, tx contracts.Tx, auditKey []byte, requestID, id, by, reason string, at time.Time) (contracts.LimitRule, error) {
	if strings.TrimSpace(reason) == "" {
		return contracts.LimitRule{}, errors.New("removing a limit needs a reason")
	}
	r, err := tx.RemoveLimitRule(ctx, id, by, reason, at)
	if err != nil {
		return r, err
	}
	params, err := audit.Params(audit.Change{Before: limitParams(r),
		After: map[string]any{"removed_by": by, "removed_at": at}, Reason: reason})
	if err != nil {
		return r, err
	}
	_, err = audit.Append(ctx, tx, auditKey, audit.Entry{At: at, Actor: by, Action: "limit.remove",
		Target: "limit:" + id, Params: params, RequestID: requestID})
	return r, err
}

// DefaultLimitRules are the rules serve and demo start with (README, "Limits"): the counts
// generous enough for a busy till, a big store and a test suite driving the demo; the
// amounts far below what an attacker with one terminal's token wants — the review's burst
// of 100 × ¥500,000 from one terminal stops at the fourth payment.
func DefaultLimitRules() []contracts.LimitRule {
	const min, hour, day = time.Minute, time.Hour, 24 * time.Hour
	rule := func(s contracts.LimitSubject, op contracts.ControlOperation, w time.Duration, count, amount int64) contracts.LimitRule {
		r := contracts.LimitRule{Subject: s, Operation: op, Window: w, MaxCount: count, MaxAmount: amount, Reason: "default"}
		if amount > 0 {
			r.Currency = "JPY"
		}
		return r
	}
	return []contracts.LimitRule{
		rule(contracts.LimitTerminal, contracts.OperationPay, min, 60, 0),
		rule(contracts.LimitTerminal, contracts.OperationPay, hour, 0, 2_000_000),
		rule(contracts.LimitStore, contracts.OperationPay, min, 600, 0),
		rule(contracts.LimitStore, contracts.OperationPay, day, 0, 100_000_000),
		rule(contracts.LimitClient, contracts.OperationPay, min, 3_000, 0),
		rule(contracts.LimitInstrument, contracts.OperationPay, 10*min, 30, 0),
		rule(contracts.LimitInstrument, contracts.OperationPay, day, 0, 1_000_000),
		rule(contracts.LimitTerminal, contracts.OperationTopUp, hour, 60, 500_000),
		rule(contracts.LimitInstrument, contracts.OperationTopUp, day, 20, 200_000),
	}
}

// SeedDefaultLimits adds DefaultLimitRules once per database (the first serve or demo to
// start on it), each with its audit entry by "system". An operator may remove them later
// (with a second operator's approval); a restart does not bring them back.
func SeedDefaultLimits(ctx context.Context, st contracts.Store, auditKey []byte, newID func() string, now time.Time) (bool, error) {
	if err := audit.CheckKey(auditKey); err != nil {
		return false, err
	}
	var seeded bool
	err := st.InTx(ctx, func(tx contracts.Tx) error {
		var err error
		if seeded, err = tx.MarkLimitDefaultsSeeded(ctx, now); err != nil || !seeded {
			return err
		}
		for _, r := range DefaultLimitRules() {
			r.ID, r.SetBy, r.SetAt = newID(), "system", now
			if err := addLimitRule(ctx, tx, auditKey, "", r); err != nil {
				return err
			}
		}
		return nil
	})
	return seeded, err
}
