// Package approvals is two-person approval (docs/security.md §8, docs/ops-api.md): a change
// that loosens a control or touches who may call payhub is not run when it is asked for. It
// becomes an approval request (apr_…) that stores the exact parameters (canonical JSON) and
// their SHA-256, and it runs — exactly those parameters, once — when a different identity
// with the required role approves it. A request expires (24 h by default) and can be
// rejected. Request, approval, rejection and expiry are audited in the transaction that
// makes them (docs/security.md §9); the action runs in the approval's transaction, under a
// lock on the request's row, so two approvers at once run it once.
package approvals

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"payhub/contracts"
	"payhub/internal/audit"
	"payhub/internal/secrets"
)

// DefaultTTL is how long a request may be approved (--approval-ttl).
const DefaultTTL = 24 * time.Hour

// maxReasonLen bounds reasons, in characters.
const maxReasonLen = 500

// Action is what an approved request runs.
type Action struct {
	// RequesterRoles are the operator roles that may ask for it.
	RequesterRoles []string
	// CLI lets `payhub …` on the database host ask for it (requester "cli:<user>").
	CLI bool
	// ApproverRoles are the roles that may approve it (any one of them); the first is the
	// request's RequiredRole.
	ApproverRoles []string
	// Validate checks the canonical parameters; it runs when the request is made (a bad
	// request is refused at once) and again before Execute.
	Validate func(params json.RawMessage) error
	// Describe is the parameters as the audit log records them (nil: as they are; the
	// audit log redacts secrets either way).
	Describe func(params json.RawMessage) any
	// Execute runs the action with exactly the stored params in tx, the transaction that
	// marks the request executed, at now; a decided-by approver is in a.DecidedBy. Its
	// result is stored as the request's result. An error that is a refusal (a
	// *contracts.Error, or ErrNotFound, ErrConflict, ErrInvalidTransition) rolls its writes
	// back and marks the request failed; any other error leaves it pending.
	Execute func(ctx context.Context, tx contracts.Tx, params json.RawMessage, a contracts.Approval, now time.Time) (any, error)
	// Beneficiary, when set, is the operator the action is for (operator.enroll): they may
	// not approve it, whoever asked — a second person checks every new credential.
	Beneficiary func(params json.RawMessage) string
}

// Config wires a Service.
type Config struct {
	// Store keeps the requests.
	Store contracts.Store
	// AuditKey keys the audit log (PAYHUB_AUDIT_KEY).
	AuditKey []byte
	// Secrets seals what operator.enroll hands its operator; nil leaves operator.enroll
	// unregistered.
	Secrets *secrets.Box
	// Clock dates requests and decides expiry (contracts.SystemClock when nil).
	Clock contracts.Clock
	// TTL is how long a request may be approved (DefaultTTL when ≤ 0).
	TTL time.Duration
	// Logger receives refusals and alerts.
	Logger *slog.Logger
}

// Service makes, decides and lists approval requests.
type Service struct {
	store contracts.Store
	key   []byte
	box   *secrets.Box
	clock contracts.Clock
	ttl   time.Duration
	log   *slog.Logger

	mu      sync.RWMutex
	actions map[string]Action
}

// New makes a Service with payhub's own actions registered (RegisterBuiltins).
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = contracts.SystemClock{}
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: cfg.Store, key: cfg.AuditKey, box: cfg.Secrets, clock: cfg.Clock, ttl: cfg.TTL, log: cfg.Logger,
		actions: map[string]Action{}}
	s.registerBuiltins()
	return s
}

// Register makes action available for requests; registering a name twice replaces it.
// Validate, Execute and at least one approver role are required.
func (s *Service) Register(action string, a Action) {
	if action == "" || a.Validate == nil || a.Execute == nil || len(a.ApproverRoles) == 0 {
		panic(fmt.Sprintf("approvals: action %q needs Validate, Execute and approver roles", action))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.actions[action] = a
}

func (s *Service) action(name string) (Action, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.actions[name]
	return a, ok
}

// TTL is how long a request may be approved.
func (s *Service) TTL() time.Duration { return s.ttl }

// Now is the time on the Service's clock.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Requester is who asks: an operator (their id and token roles) or the CLI ("cli:<user>",
// no roles).
type Requester struct {
	ID    string
	Roles []string
}

// cliPrefix marks the CLI's identities.
const cliPrefix = "cli:"

// Hash is params' hash as stored: "sha256:" and the hex SHA-256 of the bytes.
func Hash(params []byte) string {
	sum := sha256.Sum256(params)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Canonical is params (any value, or JSON bytes) as canonical JSON: members sorted, no
// insignificant space, numbers as written.
func Canonical(params any) (json.RawMessage, error) {
	var raw []byte
	switch p := params.(type) {
	case json.RawMessage:
		raw = p
	case []byte:
		raw = p
	default:
		var err error
		if raw, err = json.Marshal(params); err != nil {
			return nil, fmt.Errorf("approvals: params: %w", err)
		}
	}
	return canonicalJSON(raw)
}

func hasAny(have, want []string) bool {
	return slices.ContainsFunc(want, func(r string) bool { return slices.Contains(have, r) })
}

func checkReason(what, reason string, required bool) (string, error) {
	reason = strings.TrimSpace(reason)
	if required && reason == "" {
		return "", contracts.Errorf(contracts.CodeInvalidRequest, "%s needs a reason", what)
	}
	if utf8.RuneCountInString(reason) > maxReasonLen {
		return "", contracts.Errorf(contracts.CodeInvalidRequest, "a reason is at most %d characters", maxReasonLen)
	}
	return reason, nil
}

// refusalOf says whether err is a refusal (the action said no; nothing was changed) and
// what it answers.
func refusalOf(err error) (*contracts.Error, bool) {
	if e, ok := contracts.AsError(err); ok {
		return e, true
	}
	switch {
	case errors.Is(err, contracts.ErrNotFound):
		return &contracts.Error{Code: contracts.CodeNotFound, Detail: err.Error()}, true
	case errors.Is(err, contracts.ErrConflict), errors.Is(err, contracts.ErrInvalidTransition):
		return &contracts.Error{Code: contracts.CodeInvalidState, Detail: err.Error()}, true
	}
	return nil, false
}

// validate runs the action's Validate; a plain error is a 400 invalid_request.
func validate(a Action, params json.RawMessage) error {
	if err := a.Validate(params); err != nil {
		if e, ok := contracts.AsError(err); ok {
			return e
		}
		return &contracts.Error{Code: contracts.CodeInvalidRequest, Detail: err.Error()}
	}
	return nil
}

func notFound() *contracts.Error {
	return &contracts.Error{Code: contracts.CodeNotFound, Detail: "No such approval request."}
}

// Request asks for action with params (canonicalised and hashed) on behalf of r, with the
// audit entry approval.request in the same transaction. Refused: an unknown action or bad
// params (400 invalid_request), a requester without a role that may ask (403 forbidden).
// requestID names the API request ("" for the CLI).
func (s *Service) Request(ctx context.Context, r Requester, action string, params any, reason, requestID string) (contracts.Approval, error) {
	act, ok := s.action(action)
	if !ok {
		return contracts.Approval{}, contracts.Errorf(contracts.CodeInvalidRequest, "unknown action %q", action)
	}
	if r.ID == "" {
		return contracts.Approval{}, errors.New("approvals: a request needs who asks")
	}
	if strings.HasPrefix(r.ID, cliPrefix) {
		if !act.CLI {
			return contracts.Approval{}, contracts.Errorf(contracts.CodeForbidden, "%s cannot be asked for from the command line", action)
		}
	} else if !hasAny(r.Roles, act.RequesterRoles) {
		return contracts.Approval{}, contracts.Errorf(contracts.CodeForbidden, "asking for %s needs the %s role", action, strings.Join(act.RequesterRoles, " or "))
	}
	canonical, err := Canonical(params)
	if err != nil {
		return contracts.Approval{}, err
	}
	if err := validate(act, canonical); err != nil {
		return contracts.Approval{}, err
	}
	if reason, err = checkReason("a request", reason, false); err != nil {
		return contracts.Approval{}, err
	}
	if err := audit.CheckKey(s.key); err != nil {
		return contracts.Approval{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	a := contracts.Approval{ID: contracts.PrefixApproval + "_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String(),
		Action: action, Params: canonical, ParamsHash: Hash(canonical), RequiredRole: act.ApproverRoles[0],
		Status: contracts.ApprovalPending, Reason: reason, RequestedBy: r.ID, RequestedAt: now, ExpiresAt: now.Add(s.ttl)}
	err = s.store.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.InsertApproval(ctx, a); err != nil {
			return err
		}
		return s.record(ctx, tx, r.ID, "approval.request", a, now, requestID, map[string]any{
			"action": action, "params": describe(act, canonical), "params_hash": a.ParamsHash,
			"required_role": a.RequiredRole, "expires_at": a.ExpiresAt}, reason)
	})
	if err != nil {
		return contracts.Approval{}, err
	}
	s.log.InfoContext(ctx, "approval requested", "approval", a.ID, "action", action, "requested_by", r.ID)
	return a, nil
}

func describe(act Action, params json.RawMessage) any {
	if act.Describe != nil {
		return act.Describe(params)
	}
	return params
}

// record appends an approval's audit entry in tx.
func (s *Service) record(ctx context.Context, tx contracts.Tx, actor, action string, a contracts.Approval, at time.Time, requestID string, after map[string]any, reason string) error {
	params, err := audit.Params(audit.Change{After: after, Reason: reason})
	if err != nil {
		return err
	}
	_, err = audit.Append(ctx, tx, s.key, audit.Entry{At: at, Actor: actor, Action: action, Target: "approval:" + a.ID,
		Params: params, RequestID: requestID})
	return err
}

// expire marks a pending request past its expiry expired, in tx, with its audit entry.
func (s *Service) expire(ctx context.Context, tx contracts.Tx, a *contracts.Approval, now time.Time) error {
	a.Status, a.DecidedBy, a.DecidedAt, a.DecisionReason = contracts.ApprovalExpired, "system", &now, "not approved before "+a.ExpiresAt.UTC().Format(time.RFC3339)
	if err := tx.UpdateApprovalDecision(ctx, *a); err != nil {
		return err
	}
	return s.record(ctx, tx, "system", "approval.expire", *a, now, "", map[string]any{"action": a.Action,
		"params_hash": a.ParamsHash, "requested_by": a.RequestedBy, "status": string(a.Status)}, "")
}

// errActionRefused rolls back the approval transaction whose action refused.
var errActionRefused = errors.New("approvals: the action refused")

// Approve approves request id as approver (holding approverRoles) and runs its action with
// the stored params in the same transaction as marking it executed and its audit entry
// approval.approve, under a lock on the request's row: of concurrent approvals one runs it,
// the others find it decided. Refused, with nothing run: the requester themselves (403
// forbidden, every time), a request not pending (409 invalid_state), one past its expiry
// (marked expired; 409), an approver without the required role (403), params that no
// longer match their hash (marked failed; 409). When the action refuses, its writes roll
// back and the request is marked failed with the refusal as its result (200, status
// failed).
func (s *Service) Approve(ctx context.Context, id, approver string, approverRoles []string, requestID string) (contracts.Approval, error) {
	if !contracts.ValidID(contracts.PrefixApproval, id) {
		return contracts.Approval{}, notFound()
	}
	if approver == "" {
		return contracts.Approval{}, errors.New("approvals: an approval needs who approves")
	}
	if err := audit.CheckKey(s.key); err != nil {
		return contracts.Approval{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	var (
		out     contracts.Approval
		refusal error
		failure *contracts.Error
	)
	err := s.store.InTx(ctx, func(tx contracts.Tx) error {
		out, refusal, failure = contracts.Approval{}, nil, nil
		a, err := tx.GetApprovalForUpdate(ctx, id)
		if errors.Is(err, contracts.ErrNotFound) {
			refusal = notFound()
			return nil
		}
		if err != nil {
			return err
		}
		out = a
		if a.RequestedBy == approver {
			s.log.WarnContext(ctx, "approval refused: the requester cannot approve their own request", "approval", id, "operator", approver)
			refusal = contracts.Errorf(contracts.CodeForbidden,
				"%s asked for this change and cannot approve it: another operator must (two-person rule, docs/security.md §8).", approver)
			return nil
		}
		if act, ok := s.action(a.Action); ok && act.Beneficiary != nil && act.Beneficiary(a.Params) == approver {
			s.log.WarnContext(ctx, "approval refused: the operator it is for cannot approve it", "approval", id, "operator", approver)
			refusal = contracts.Errorf(contracts.CodeForbidden,
				"This change is for %s, who cannot approve it: another operator must (two-person rule, docs/security.md §8).", approver)
			return nil
		}
		if refusal, err = s.checkPending(ctx, tx, &a, now); refusal != nil || err != nil {
			out = a
			return err
		}
		act, ok := s.action(a.Action)
		if !ok {
			refusal = contracts.Errorf(contracts.CodeInvalidState, "This payhub cannot run %s.", a.Action)
			return nil
		}
		if !hasAny(approverRoles, act.ApproverRoles) {
			refusal = contracts.Errorf(contracts.CodeForbidden, "Approving %s needs the %s role.", a.Action, strings.Join(act.ApproverRoles, " or "))
			return nil
		}
		a.DecidedBy, a.DecidedAt = approver, &now
		if Hash(a.Params) != a.ParamsHash {
			s.log.ErrorContext(ctx, "ALERT approval refused: its parameters do not match their hash (changed after the request)",
				"approval", id, "action", a.Action, "approver", approver)
			a.Status, a.DecisionReason = contracts.ApprovalFailed, "the stored parameters do not match their hash: nothing was run"
			a.Result = json.RawMessage(`{"code":"params_tampered","detail":"the stored parameters do not match their hash"}`)
			if err := tx.UpdateApprovalDecision(ctx, a); err != nil {
				return err
			}
			if err := s.record(ctx, tx, approver, "approval.tamper", a, now, requestID, map[string]any{"action": a.Action,
				"params_hash": a.ParamsHash, "requested_by": a.RequestedBy, "approved_by": approver, "status": string(a.Status)}, ""); err != nil {
				return err
			}
			out = a
			refusal = contracts.Errorf(contracts.CodeInvalidState, "Approval request %s was changed after it was made: nothing was run; ask again.", id)
			return nil
		}
		result, err := func() (any, error) {
			if err := validate(act, a.Params); err != nil {
				return nil, err
			}
			return act.Execute(ctx, tx, a.Params, a, now)
		}()
		if err != nil {
			if r, ok := refusalOf(err); ok {
				failure = r
				return errActionRefused
			}
			return err
		}
		if a.Result, err = json.Marshal(result); err != nil {
			return fmt.Errorf("approvals: %s result: %w", a.Action, err)
		}
		a.Status = contracts.ApprovalExecuted
		if err := tx.UpdateApprovalDecision(ctx, a); err != nil {
			return err
		}
		out = a
		return s.record(ctx, tx, approver, "approval.approve", a, now, requestID, map[string]any{"action": a.Action,
			"params_hash": a.ParamsHash, "requested_by": a.RequestedBy, "approved_by": approver, "status": string(a.Status)}, "")
	})
	if errors.Is(err, errActionRefused) {
		return s.fail(ctx, id, approver, failure, now, requestID)
	}
	if err != nil {
		return contracts.Approval{}, err
	}
	if refusal != nil {
		return out, refusal
	}
	s.log.InfoContext(ctx, "approval executed", "approval", id, "action", out.Action, "requested_by", out.RequestedBy, "approved_by", approver)
	return out, nil
}

// fail records that the approved action refused: the request is failed with the refusal as
// its result, audited as approval.approve with status failed.
func (s *Service) fail(ctx context.Context, id, approver string, refusal *contracts.Error, now time.Time, requestID string) (contracts.Approval, error) {
	var (
		out   contracts.Approval
		later error
	)
	err := s.store.InTx(ctx, func(tx contracts.Tx) error {
		later = nil
		a, err := tx.GetApprovalForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if a.Status != contracts.ApprovalPending {
			out, later = a, contracts.Errorf(contracts.CodeInvalidState, "Approval request %s is %s, not pending.", id, a.Status)
			return nil
		}
		result, err := json.Marshal(map[string]string{"code": string(refusal.Code), "detail": refusal.Detail})
		if err != nil {
			return err
		}
		a.Status, a.DecidedBy, a.DecidedAt, a.DecisionReason, a.Result = contracts.ApprovalFailed, approver, &now, refusal.Detail, result
		if err := tx.UpdateApprovalDecision(ctx, a); err != nil {
			return err
		}
		out = a
		return s.record(ctx, tx, approver, "approval.approve", a, now, requestID, map[string]any{"action": a.Action,
			"params_hash": a.ParamsHash, "requested_by": a.RequestedBy, "approved_by": approver, "status": string(a.Status),
			"refusal": map[string]string{"code": string(refusal.Code), "detail": refusal.Detail}}, "")
	})
	if err != nil {
		return contracts.Approval{}, err
	}
	if later != nil {
		return out, later
	}
	s.log.WarnContext(ctx, "approved action refused: request failed, nothing changed", "approval", id, "action", out.Action,
		"code", refusal.Code, "detail", refusal.Detail)
	return out, nil
}

// Reject rejects request id with a reason, as rejecter: an approver of the action, or the
// requester withdrawing their own request. Refused: a request not pending or past its
// expiry (409; an expired one is marked so), a rejecter who is neither (403).
func (s *Service) Reject(ctx context.Context, id, rejecter string, roles []string, reason, requestID string) (contracts.Approval, error) {
	if !contracts.ValidID(contracts.PrefixApproval, id) {
		return contracts.Approval{}, notFound()
	}
	reason, err := checkReason("rejecting a request", reason, true)
	if err != nil {
		return contracts.Approval{}, err
	}
	if err := audit.CheckKey(s.key); err != nil {
		return contracts.Approval{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	var (
		out     contracts.Approval
		refusal error
	)
	err = s.store.InTx(ctx, func(tx contracts.Tx) error {
		out, refusal = contracts.Approval{}, nil
		a, err := tx.GetApprovalForUpdate(ctx, id)
		if errors.Is(err, contracts.ErrNotFound) {
			refusal = notFound()
			return nil
		}
		if err != nil {
			return err
		}
		out = a
		if refusal, err = s.checkPending(ctx, tx, &a, now); refusal != nil || err != nil {
			out = a
			return err
		}
		act, known := s.action(a.Action)
		if a.RequestedBy != rejecter && (!known || !hasAny(roles, act.ApproverRoles)) {
			refusal = contracts.Errorf(contracts.CodeForbidden, "Rejecting %s needs a role that may approve it.", a.Action)
			return nil
		}
		a.Status, a.DecidedBy, a.DecidedAt, a.DecisionReason = contracts.ApprovalRejected, rejecter, &now, reason
		if err := tx.UpdateApprovalDecision(ctx, a); err != nil {
			return err
		}
		out = a
		return s.record(ctx, tx, rejecter, "approval.reject", a, now, requestID, map[string]any{"action": a.Action,
			"params_hash": a.ParamsHash, "requested_by": a.RequestedBy, "rejected_by": rejecter, "status": string(a.Status)}, reason)
	})
	if err != nil {
		return contracts.Approval{}, err
	}
	if refusal != nil {
		return out, refusal
	}
	s.log.InfoContext(ctx, "approval rejected", "approval", id, "action", out.Action, "rejected_by", rejecter)
	return out, nil
}

// Get reads request id (404 not_found for an unknown or malformed id). A pending request
// past its expiry is answered as expired (and marked so).
func (s *Service) Get(ctx context.Context, id string) (contracts.Approval, error) {
	if !contracts.ValidID(contracts.PrefixApproval, id) {
		return contracts.Approval{}, notFound()
	}
	a, err := s.store.GetApproval(ctx, id)
	if errors.Is(err, contracts.ErrNotFound) {
		return contracts.Approval{}, notFound()
	}
	if err != nil {
		return contracts.Approval{}, err
	}
	return s.settle(ctx, a)
}

// settle marks a pending request past its expiry expired and returns it as stored.
func (s *Service) settle(ctx context.Context, a contracts.Approval) (contracts.Approval, error) {
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	if a.Status != contracts.ApprovalPending || now.Before(a.ExpiresAt) || audit.CheckKey(s.key) != nil {
		return a, nil
	}
	err := s.store.InTx(ctx, func(tx contracts.Tx) error {
		cur, err := tx.GetApprovalForUpdate(ctx, a.ID)
		if err != nil {
			return err
		}
		if a = cur; cur.Status != contracts.ApprovalPending {
			return nil
		}
		return s.expire(ctx, tx, &a, now)
	})
	return a, err
}

// List reads the requests in status ("" any), newest first, at most limit (≤ 0: all);
// pending ones past their expiry are marked expired first.
func (s *Service) List(ctx context.Context, status contracts.ApprovalStatus, limit int) ([]contracts.Approval, error) {
	if status != "" && !status.Valid() {
		return nil, contracts.Errorf(contracts.CodeInvalidRequest, "status: one of pending, executed, rejected, expired, failed")
	}
	if status == "" || status == contracts.ApprovalPending || status == contracts.ApprovalExpired {
		pending, err := s.store.ListApprovals(ctx, contracts.ApprovalPending, 0)
		if err != nil {
			return nil, err
		}
		for _, a := range pending {
			if _, err := s.settle(ctx, a); err != nil {
				return nil, err
			}
		}
	}
	return s.store.ListApprovals(ctx, status, limit)
}

// checkPending refuses a decision on a (read locked in tx) unless it is pending and not
// expired at now; an expired one is marked expired first, with its audit entry.
func (s *Service) checkPending(ctx context.Context, tx contracts.Tx, a *contracts.Approval, now time.Time) (error, error) {
	if a.Status != contracts.ApprovalPending {
		return contracts.Errorf(contracts.CodeInvalidState, "Approval request %s is %s, not pending.", a.ID, a.Status), nil
	}
	if now.Before(a.ExpiresAt) {
		return nil, nil
	}
	if err := s.expire(ctx, tx, a, now); err != nil {
		return nil, err
	}
	return contracts.Errorf(contracts.CodeInvalidState, "Approval request %s expired at %s; ask again.", a.ID, a.ExpiresAt.UTC().Format(time.RFC3339)), nil
}
