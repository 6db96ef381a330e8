package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// FaultKind names one way a partner (or the network in front of it) misbehaves.
type FaultKind string

// The fault kinds. Only the commit kinds run the request: they are the "unknown outcome"
// payhub must resolve by querying, because the partner moved money but the client cannot
// tell.
const (
	// FaultLatency delays the request by Fault.Latency, then serves it normally.
	FaultLatency FaultKind = "latency"
	// FaultError answers Fault.Status with the partner's error body without running the
	// request: nothing is committed.
	FaultError FaultKind = "error"
	// FaultHang never answers: the request blocks until the client gives up (its context
	// is cancelled or it closes the connection). Nothing is committed.
	FaultHang FaultKind = "hang"
	// FaultReset resets the connection (TCP RST) without running the request.
	FaultReset FaultKind = "reset"
	// FaultCommitThenDrop runs the request to completion — its state change is committed —
	// then resets the connection instead of answering.
	FaultCommitThenDrop FaultKind = "commit_then_drop"
	// FaultCommitThenError runs the request to completion, then answers Fault.Status with
	// the partner's error body instead of the real answer.
	FaultCommitThenError FaultKind = "commit_then_error"
)

// faultKinds are the kinds a rule may name, in documentation order.
var faultKinds = []FaultKind{FaultLatency, FaultError, FaultHang, FaultReset, FaultCommitThenDrop, FaultCommitThenError}

func (k FaultKind) valid() bool {
	for _, known := range faultKinds {
		if k == known {
			return true
		}
	}
	return false
}

// answersError reports whether the kind answers an HTTP error status.
func (k FaultKind) answersError() bool { return k == FaultError || k == FaultCommitThenError }

// Fault is what happens to one request.
type Fault struct {
	// Kind is the misbehaviour.
	Kind FaultKind
	// Latency delays the request before the fault acts (required for FaultLatency; a
	// slow 503 or a slow commit-then-drop for the others; ignored by FaultHang). A client
	// that gives up during the delay never reaches the partner.
	Latency time.Duration
	// Status is the HTTP status of FaultError and FaultCommitThenError (default 500).
	Status int
	// Code picks among the partner's error codes for Status (e.g. PayPay's
	// TRANSACTION_FAILED instead of INTERNAL_SERVER_ERROR for a 500); empty means the
	// partner's usual code for Status. The simulator's ErrorBody interprets it.
	Code string
	// Body, when set, is sent verbatim instead of the partner's error body.
	Body []byte
}

// FaultRule chooses the requests a fault applies to.
type FaultRule struct {
	// Method matches the request method; "" or "*" matches any.
	Method string
	// PathPrefix matches the beginning of the request path; "" or "*" matches any.
	PathPrefix string
	// Probability is the chance (0..1) that a matching request gets the fault.
	Probability float64
	// Fault is what the request gets.
	Fault Fault
	// Count caps how many times the rule fires; 0 means no cap.
	Count int
}

// Validate reports whether the rule can be applied.
func (r FaultRule) Validate() error {
	if r.Probability < 0 || r.Probability > 1 {
		return fmt.Errorf("sim: fault probability %v is outside 0..1", r.Probability)
	}
	if r.Count < 0 {
		return fmt.Errorf("sim: fault count %d is negative", r.Count)
	}
	if r.PathPrefix != "" && r.PathPrefix != "*" && !strings.HasPrefix(r.PathPrefix, "/") {
		return fmt.Errorf("sim: fault path prefix %q must begin with /", r.PathPrefix)
	}
	f := r.Fault
	switch {
	case !f.Kind.valid():
		return fmt.Errorf("sim: unknown fault kind %q", f.Kind)
	case f.Latency < 0:
		return fmt.Errorf("sim: fault latency %v is negative", f.Latency)
	case f.Kind == FaultLatency && f.Latency == 0:
		return errors.New("sim: a latency fault needs a latency")
	case f.Kind.answersError() && f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return fmt.Errorf("sim: fault status %d is not an HTTP error", f.Status)
	}
	return nil
}

// normalized spells wildcards one way and fills the default status, so matching and the
// state shown by GET /_sim/faults need no special cases.
func (r FaultRule) normalized() FaultRule {
	r.Method = strings.ToUpper(r.Method)
	if r.Method == "*" {
		r.Method = ""
	}
	if r.PathPrefix == "*" {
		r.PathPrefix = ""
	}
	if r.Fault.Kind.answersError() && r.Fault.Status == 0 {
		r.Fault.Status = 500
	}
	return r
}

func (r FaultRule) matches(method, path string) bool {
	return (r.Method == "" || r.Method == method) && strings.HasPrefix(path, r.PathPrefix)
}

// faultJSON is Fault on the wire: latency as a Go duration string ("250ms").
type faultJSON struct {
	Kind    FaultKind `json:"kind"`
	Latency string    `json:"latency,omitempty"`
	Status  int       `json:"status,omitempty"`
	Code    string    `json:"code,omitempty"`
	Body    string    `json:"body,omitempty"`
}

// MarshalJSON encodes the fault as {"kind", "latency", "status", "code", "body"}.
func (f Fault) MarshalJSON() ([]byte, error) {
	out := faultJSON{Kind: f.Kind, Status: f.Status, Code: f.Code, Body: string(f.Body)}
	if f.Latency != 0 {
		out.Latency = f.Latency.String()
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes the form MarshalJSON writes.
func (f *Fault) UnmarshalJSON(data []byte) error {
	var in faultJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*f = Fault{Kind: in.Kind, Status: in.Status, Code: in.Code}
	if in.Body != "" {
		f.Body = []byte(in.Body)
	}
	if in.Latency != "" {
		d, err := time.ParseDuration(in.Latency)
		if err != nil {
			return fmt.Errorf("sim: fault latency: %w", err)
		}
		f.Latency = d
	}
	return nil
}

// ruleJSON is FaultRule on the wire. An absent probability means 1: a rule written by
// hand usually means "always".
type ruleJSON struct {
	Method      string   `json:"method,omitempty"`
	PathPrefix  string   `json:"path_prefix,omitempty"`
	Probability *float64 `json:"probability,omitempty"`
	Fault       Fault    `json:"fault"`
	Count       int      `json:"count,omitempty"`
}

// MarshalJSON encodes the rule as {"method", "path_prefix", "probability", "fault", "count"}.
func (r FaultRule) MarshalJSON() ([]byte, error) {
	p := r.Probability
	return json.Marshal(ruleJSON{Method: r.Method, PathPrefix: r.PathPrefix, Probability: &p, Fault: r.Fault, Count: r.Count})
}

// UnmarshalJSON decodes the form MarshalJSON writes; an absent probability means 1.
func (r *FaultRule) UnmarshalJSON(data []byte) error {
	var in ruleJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*r = FaultRule{Method: in.Method, PathPrefix: in.PathPrefix, Probability: 1, Fault: in.Fault, Count: in.Count}
	if in.Probability != nil {
		r.Probability = *in.Probability
	}
	return nil
}

// activeRule is a rule and how often it has fired.
type activeRule struct {
	rule    FaultRule
	applied int
}

// Faults is the fault engine: rules, a seeded random source and counters. It decides per
// request, in arrival order, under a mutex, so the same seed and the same request order
// give the same decisions. It is safe for concurrent use.
type Faults struct {
	// Sleep waits out a fault's latency, returning early with the context's error when
	// the client gives up. nil means a real timer. Tests may replace it before serving.
	Sleep func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	seed  int64
	rng   *rand.Rand
	rules []activeRule
	stats map[FaultKind]int
}

// NewFaults returns an engine with no rules whose random choices follow seed.
func NewFaults(seed int64) *Faults {
	f := &Faults{stats: map[FaultKind]int{}}
	f.Seed(seed)
	return f
}

// Seed restarts the engine's random sequence from seed.
func (f *Faults) Seed(seed int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seed = seed
	// PCG takes two words; deriving the second from the first keeps one seed per engine.
	f.rng = rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
}

// Set replaces the rules (each starts with its full Count) after validating all of them;
// on error the old rules stay. Counters and the random sequence carry on.
func (f *Faults) Set(rules []FaultRule) error {
	active := make([]activeRule, 0, len(rules))
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("rule %d: %w", i+1, err)
		}
		active = append(active, activeRule{rule: r.normalized()})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = active
	return nil
}

// Clear removes every rule and zeroes the counters.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
	f.stats = map[FaultKind]int{}
}

// Rules returns the current rules, wildcards and default status normalized.
func (f *Faults) Rules() []FaultRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FaultRule, len(f.rules))
	for i, r := range f.rules {
		out[i] = r.rule
	}
	return out
}

// Stats returns how many faults of each kind were injected since the engine was made or
// last cleared.
func (f *Faults) Stats() map[FaultKind]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[FaultKind]int, len(f.stats))
	for k, n := range f.stats {
		out[k] = n
	}
	return out
}

// Decide picks the fault for a request, if any. Rules are tried in order; each matching
// rule with firings left draws once from the random source and fires with its
// probability; the first that fires wins and is counted. Control paths (/_sim/…) never
// get a fault, so a test can always inspect and repair the simulator.
func (f *Faults) Decide(method, path string) (Fault, bool) {
	if IsControlPath(path) {
		return Fault{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.rules {
		r := &f.rules[i]
		if !r.rule.matches(method, path) || (r.rule.Count > 0 && r.applied >= r.rule.Count) {
			continue
		}
		if f.rng.Float64() >= r.rule.Probability {
			continue
		}
		r.applied++
		f.stats[r.rule.Fault.Kind]++
		return r.rule.Fault, true
	}
	return Fault{}, false
}

// IsControlPath reports whether path is a simulator control endpoint (/_sim or below).
func IsControlPath(path string) bool {
	return path == "/_sim" || strings.HasPrefix(path, "/_sim/")
}

// sleep waits d with the injected Sleep or a timer.
func (f *Faults) sleep(ctx context.Context, d time.Duration) error {
	if f.Sleep != nil {
		return f.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
