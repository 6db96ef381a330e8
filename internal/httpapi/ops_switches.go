package httpapi

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/oklog/ulid/v2"

	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/auth"
	"payhub/internal/hub"
)

// Kill switches through the operator API (docs/ops-api.md, docs/security.md §4): setting
// one (tightening) runs at once under step-up; lifting one (loosening) becomes a switch.lift
// approval request for a second operator.

func (s *Server) registerOpsSwitches(g *gin.RouterGroup) {
	s.opsRoute(g, http.MethodGet, "/switches", auth.RoleViewer, s.listSwitches)
	s.opsChangeRoute(g, http.MethodPost, "/switches", auth.RoleOperator, s.setSwitch)
	s.opsChangeRoute(g, http.MethodPost, "/switches/:id/lift", auth.RoleOperator, s.liftSwitch)
}

// switchScopeJSON is a kill switch's scope as the API writes it.
type switchScopeJSON struct {
	Partner    string `json:"partner"`
	Method     string `json:"method"`
	Operation  string `json:"operation"`
	StoreID    string `json:"store_id"`
	TerminalID string `json:"terminal_id"`
	ClientID   string `json:"client_id"`
}

// switchJSON is a kill switch as answered (docs/ops-api.md).
type switchJSON struct {
	Object       string          `json:"object"`
	ID           string          `json:"id"`
	Scope        switchScopeJSON `json:"scope"`
	PublicReason string          `json:"public_reason"`
	InternalNote string          `json:"internal_note"`
	SetBy        string          `json:"set_by"`
	SetAt        time.Time       `json:"set_at"`
	ExpiresAt    *time.Time      `json:"expires_at"`
	Active       bool            `json:"active"`
	LiftedBy     string          `json:"lifted_by"`
	LiftedAt     *time.Time      `json:"lifted_at"`
	LiftReason   string          `json:"lift_reason"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func renderSwitch(k contracts.KillSwitch, now time.Time) switchJSON {
	sc := k.Scope
	return switchJSON{Object: "kill_switch", ID: k.ID, Scope: switchScopeJSON{Partner: sc.Partner, Method: string(sc.Method),
		Operation: string(sc.Operation), StoreID: sc.StoreID, TerminalID: sc.TerminalID, ClientID: sc.ClientID},
		PublicReason: k.PublicReason, InternalNote: k.InternalNote, SetBy: k.SetBy, SetAt: k.SetAt.UTC(),
		ExpiresAt: utcPtr(k.ExpiresAt), Active: k.ActiveAt(now), LiftedBy: k.LiftedBy, LiftedAt: utcPtr(k.LiftedAt),
		LiftReason: k.LiftReason}
}

// listSwitches handles GET /v1/ops/switches[?all=true]: the switches not lifted (all of
// them with all=true), as the database has them.
func (s *Server) listSwitches(c *gin.Context) {
	all, err := queryBool(c, "all")
	if err != nil {
		s.writeError(c, err)
		return
	}
	list, err := s.store.ListKillSwitches(c.Request.Context(), all)
	if err != nil {
		s.writeError(c, err)
		return
	}
	now := s.clock.Now()
	out := listJSON[switchJSON]{Object: "list", Data: make([]switchJSON, 0, len(list))}
	for _, k := range list {
		out.Data = append(out.Data, renderSwitch(k, now))
	}
	c.JSON(http.StatusOK, out)
}

// setSwitchRequest is POST /v1/ops/switches's body.
type setSwitchRequest struct {
	Scope            switchScopeJSON `json:"scope"`
	PublicReason     string          `json:"public_reason"`
	InternalNote     string          `json:"internal_note"`
	ExpiresInSeconds int64           `json:"expires_in_seconds"`
}

// maxSwitchExpiry bounds expires_in_seconds (a year).
const maxSwitchExpiry = 366 * 24 * time.Hour

// setSwitch handles POST /v1/ops/switches: the switch is set at once (tightening needs no
// second person), by the operator, audited with the request id; 201 kill_switch.
func (s *Server) setSwitch(c *gin.Context) {
	var req setSwitchRequest
	if !s.readOpsBody(c, opsBodyLimit, &req) {
		return
	}
	if req.ExpiresInSeconds < 0 || time.Duration(req.ExpiresInSeconds) > maxSwitchExpiry/time.Second {
		writeProblem(c, contracts.Errorf(contracts.CodeInvalidRequest, "expires_in_seconds: 0 (no expiry) to %d", int64(maxSwitchExpiry/time.Second)))
		return
	}
	ctx := c.Request.Context()
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	sc := req.Scope
	k := contracts.KillSwitch{ID: contracts.PrefixKillSwitch + "_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String(),
		Scope: contracts.ControlScope{Partner: sc.Partner, Method: contracts.Method(sc.Method), Operation: contracts.ControlOperation(sc.Operation),
			StoreID: sc.StoreID, TerminalID: sc.TerminalID, ClientID: sc.ClientID},
		PublicReason: req.PublicReason, InternalNote: req.InternalNote, SetBy: c.GetString(operatorKey), SetAt: now}
	if req.ExpiresInSeconds > 0 {
		exp := now.Add(time.Duration(req.ExpiresInSeconds) * time.Second)
		k.ExpiresAt = &exp
	}
	if err := hub.ValidateKillSwitch(k); err != nil {
		writeProblem(c, contracts.Errorf(contracts.CodeInvalidRequest, "%s", err.Error()))
		return
	}
	if err := hub.SetKillSwitch(ctx, s.store, s.auditKey, contracts.RequestID(ctx), k); err != nil {
		s.writeError(c, err)
		return
	}
	if s.hub != nil {
		if err := s.hub.RefreshControls(ctx); err != nil { // every instance re-reads within 500 ms anyway
			s.log.WarnContext(ctx, "refresh kill switches after a set", "err", err)
		}
	}
	s.log.WarnContext(ctx, "kill switch set", "operator", k.SetBy, "switch", k.ID, "scope", k.Scope)
	c.JSON(http.StatusCreated, renderSwitch(k, now))
}

// liftRequest is POST /v1/ops/switches/{id}/lift's body.
type liftRequest struct {
	Reason string `json:"reason"`
}

// liftSwitch handles POST /v1/ops/switches/{id}/lift {"reason"}: a switch.lift approval
// request (202); the switch stays in force until another operator approves it. 404 for an
// unknown switch, 409 for one lifted already.
func (s *Server) liftSwitch(c *gin.Context) {
	s.requestUndo(c, contracts.PrefixKillSwitch, func(ctx context.Context, id string) (bool, error) {
		k, err := s.store.GetKillSwitch(ctx, id)
		return k.LiftedAt == nil, err
	}, "Kill switch %s was lifted already.", func(id, reason string) (string, any) {
		return approvals.ActionSwitchLift, approvals.SwitchLift{SwitchID: id, Reason: reason}
	})
}

// requestUndo answers POST …/{id}/lift or …/{id}/remove {"reason"}: an approval request
// (202) to undo a control in force — the object named by the path (ids with prefix),
// read by inForce — built by action; 404 for an unknown object, 409 (gone, a format of
// its id) for one undone already.
func (s *Server) requestUndo(c *gin.Context, prefix string, inForce func(context.Context, string) (bool, error),
	gone string, action func(id, reason string) (string, any)) {
	if !s.approvalsReady(c) {
		return
	}
	var req liftRequest
	if !s.readOpsBody(c, opsSmallBody, &req) {
		return
	}
	id := c.Param("id")
	if !contracts.ValidID(prefix, id) {
		writeProblem(c, notFound())
		return
	}
	active, err := inForce(c.Request.Context(), id)
	if errors.Is(err, contracts.ErrNotFound) {
		writeProblem(c, notFound())
		return
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	if !active {
		writeProblem(c, contracts.Errorf(contracts.CodeInvalidState, gone, id))
		return
	}
	name, params := action(id, req.Reason)
	s.requestApproval(c, name, params, req.Reason)
}
