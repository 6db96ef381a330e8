package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/oklog/ulid/v2"

	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/auth"
	"payhub/internal/hub"
	"payhub/internal/jsonin"
)

// Limits through the operator API (docs/ops-api.md, docs/security.md §5): a new rule
// tightens and is added at once under step-up; removing one loosens and becomes a
// limit.remove approval request for a second operator.

// ActionLimitRemove is the approval action that removes a limit rule.
const ActionLimitRemove = "limit.remove"

// limitRemoval is a limit.remove request's parameters.
type limitRemoval struct {
	LimitID string `json:"limit_id"`
	Reason  string `json:"reason"`
}

func (s *Server) registerOpsLimits(g *gin.RouterGroup) {
	s.opsRoute(g, http.MethodGet, "/limits", auth.RoleViewer, s.listLimits)
	s.opsChangeRoute(g, http.MethodPost, "/limits", auth.RoleOperator, s.addLimit)
	s.opsChangeRoute(g, http.MethodPost, "/limits/:id/remove", auth.RoleOperator, s.removeLimit)
	if s.approvals == nil {
		return
	}
	both := []string{auth.RoleOperator, auth.RoleSecurityAdmin}
	s.approvals.Register(ActionLimitRemove, approvals.Action{RequesterRoles: both, ApproverRoles: both,
		Validate: func(params json.RawMessage) error { _, err := decodeLimitRemoval(params); return err },
		Execute: func(ctx context.Context, tx contracts.Tx, params json.RawMessage, a contracts.Approval, now time.Time) (any, error) {
			p, err := decodeLimitRemoval(params)
			if err != nil {
				return nil, err
			}
			// Recorded as the requester's change; the approval.approve entry names both.
			r, err := hub.RemoveLimitRuleTx(ctx, tx, s.auditKey, contracts.RequestID(ctx), p.LimitID, a.RequestedBy, p.Reason, now)
			if err != nil {
				return nil, err
			}
			return map[string]any{"limit_id": r.ID, "removed_at": r.RemovedAt}, nil
		}})
}

func decodeLimitRemoval(params json.RawMessage) (limitRemoval, error) {
	var p limitRemoval
	if err := jsonin.Decode(params, &p); err != nil {
		return p, err
	}
	if !contracts.ValidID(contracts.PrefixLimitRule, p.LimitID) {
		return p, contracts.Errorf(contracts.CodeInvalidRequest, "limit_id: a limit rule's id (lim_…)")
	}
	if strings.TrimSpace(p.Reason) == "" || utf8.RuneCountInString(p.Reason) > 500 {
		return p, contracts.Errorf(contracts.CodeInvalidRequest, "reason: why the limit may go, 1 to 500 characters")
	}
	return p, nil
}

// limitJSON is a limit rule as answered (docs/ops-api.md).
type limitJSON struct {
	Object        string     `json:"object"`
	ID            string     `json:"id"`
	Subject       string     `json:"subject"`
	SubjectID     string     `json:"subject_id"`
	Operation     string     `json:"operation"`
	Method        string     `json:"method"`
	WindowSeconds int64      `json:"window_seconds"`
	MaxCount      int64      `json:"max_count"`
	MaxAmount     int64      `json:"max_amount"`
	Currency      string     `json:"currency"`
	Reason        string     `json:"reason"`
	SetBy         string     `json:"set_by"`
	SetAt         time.Time  `json:"set_at"`
	RemovedBy     string     `json:"removed_by"`
	RemovedAt     *time.Time `json:"removed_at"`
	RemoveReason  string     `json:"remove_reason"`
}

func renderLimit(r contracts.LimitRule) limitJSON {
	return limitJSON{Object: "limit_rule", ID: r.ID, Subject: string(r.Subject), SubjectID: r.SubjectID,
		Operation: string(r.Operation), Method: string(r.Method), WindowSeconds: int64(r.Window / time.Second),
		MaxCount: r.MaxCount, MaxAmount: r.MaxAmount, Currency: string(r.Currency), Reason: r.Reason, SetBy: r.SetBy,
		SetAt: r.SetAt.UTC(), RemovedBy: r.RemovedBy, RemovedAt: utcPtr(r.RemovedAt), RemoveReason: r.RemoveReason}
}

// listLimits handles GET /v1/ops/limits[?all=true]: the rules in force (with removed ones
// with all=true).
func (s *Server) listLimits(c *gin.Context) {
	all, err := queryBool(c, "all")
	if err != nil {
		s.writeError(c, err)
		return
	}
	list, err := s.store.ListLimitRules(c.Request.Context(), all)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := listJSON[limitJSON]{Object: "list", Data: make([]limitJSON, 0, len(list))}
	for _, r := range list {
		out.Data = append(out.Data, renderLimit(r))
	}
	c.JSON(http.StatusOK, out)
}

// addLimitRequest is POST /v1/ops/limits's body.
type addLimitRequest struct {
	Subject       string `json:"subject"`
	SubjectID     string `json:"subject_id"`
	Operation     string `json:"operation"`
	Method        string `json:"method"`
	WindowSeconds int64  `json:"window_seconds"`
	MaxCount      int64  `json:"max_count"`
	MaxAmount     int64  `json:"max_amount"`
	Currency      string `json:"currency"`
	Reason        string `json:"reason"`
}

// addLimit handles POST /v1/ops/limits: the rule is added at once (a new rule only
// tightens), audited; 201 limit_rule, in force on every instance within a second.
func (s *Server) addLimit(c *gin.Context) {
	var req addLimitRequest
	if !s.readOpsBody(c, opsSmallBody, &req) {
		return
	}
	ctx := c.Request.Context()
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	if req.WindowSeconds <= 0 || req.WindowSeconds > int64(31*24*time.Hour/time.Second) {
		writeProblem(c, contracts.Errorf(contracts.CodeInvalidRequest, "window_seconds: 1 to %d", int64(31*24*time.Hour/time.Second)))
		return
	}
	r := contracts.LimitRule{ID: contracts.PrefixLimitRule + "_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String(),
		Subject: contracts.LimitSubject(req.Subject), SubjectID: req.SubjectID, Operation: contracts.ControlOperation(req.Operation),
		Method: contracts.Method(req.Method), Window: time.Duration(req.WindowSeconds) * time.Second, MaxCount: req.MaxCount,
		MaxAmount: req.MaxAmount, Currency: contracts.Currency(req.Currency), Reason: req.Reason,
		SetBy: c.GetString(operatorKey), SetAt: now}
	if err := hub.ValidateLimitRule(r); err != nil {
		writeProblem(c, contracts.Errorf(contracts.CodeInvalidRequest, "%s", err.Error()))
		return
	}
	if err := hub.AddLimitRule(ctx, s.store, s.auditKey, contracts.RequestID(ctx), r); err != nil {
		s.writeError(c, err)
		return
	}
	if s.hub != nil {
		if err := s.hub.RefreshControls(ctx); err != nil { // every instance re-reads within 500 ms anyway
			s.log.WarnContext(ctx, "refresh controls after a new limit", "err", err)
		}
	}
	s.log.WarnContext(ctx, "limit added", "operator", r.SetBy, "limit", r.ID, "subject", r.Subject, "operation", r.Operation)
	c.JSON(http.StatusCreated, renderLimit(r))
}

// removeLimit handles POST /v1/ops/limits/{id}/remove {"reason"}: a limit.remove approval
// request (202); the rule stays in force until another operator approves. 404 for an
// unknown rule, 409 for one removed already.
func (s *Server) removeLimit(c *gin.Context) {
	s.requestUndo(c, contracts.PrefixLimitRule, func(ctx context.Context, id string) (bool, error) {
		r, err := s.store.GetLimitRule(ctx, id)
		return r.Active(), err
	}, "Limit %s was removed already.", func(id, reason string) (string, any) {
		return ActionLimitRemove, limitRemoval{LimitID: id, Reason: reason}
	})
}
