package httpapi

import (
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/jsonin"
	"payhub/internal/operators"
	"payhub/internal/render"
)

// Operator step-up (docs/security.md §7). An operator proves presence with a TOTP code at
// POST /v1/ops/step-up; for the next operators.ValidFor (5 minutes) their changes are
// allowed. Every /v1/ops route that changes something is registered with opsChangeRoute,
// which puts requireStepUp after the role check: without a step-up that recent, the change
// is refused with 403 forbidden and nothing runs.

// operatorKey is where authenticateOperator leaves the operator's id in the gin context.
const operatorKey = "payhub.operator"

// codePattern is a TOTP code's syntax: six ASCII digits.
var codePattern = regexp.MustCompile(`^[0-9]{6}$`)

// allOperatorRoles is every operator role: any of them may step up.
var allOperatorRoles = []string{auth.RoleViewer, auth.RoleOperator, auth.RoleSecurityAdmin}

// registerStepUp adds POST /v1/ops/step-up to the /v1/ops group and the lockout counter to
// reg (nil: not counted).
func (s *Server) registerStepUp(g *gin.RouterGroup, reg *prometheus.Registry) {
	s.stepUpLockouts = prometheus.NewCounter(prometheus.CounterOpts{Name: "payhub_operator_step_up_lockouts_total",
		Help: "Operator step-up lockouts: five wrong TOTP codes within 15 minutes (an alert)."})
	if reg != nil {
		reg.MustRegister(s.stepUpLockouts)
	}
	s.opsRoles[http.MethodPost+" "+g.BasePath()+"/step-up"] = "any"
	g.Handle(http.MethodPost, "/step-up", s.authenticateOperator(allOperatorRoles...), s.stepUp)
}

// opsChangeRoute registers an operator route that changes something: it requires role and
// a step-up no older than operators.ValidFor (requireStepUp).
func (s *Server) opsChangeRoute(g *gin.RouterGroup, method, path, role string, h gin.HandlerFunc) {
	s.opsRoles[method+" "+g.BasePath()+path] = role
	g.Handle(method, path, s.authenticateOperator(role), s.requireStepUp(), h)
}

// requireStepUp refuses a change (403 forbidden) unless the authenticated operator stepped
// up within operators.ValidFor. It runs after authenticateOperator; it fails closed when
// step-up is not configured or its state cannot be read.
func (s *Server) requireStepUp() gin.HandlerFunc {
	return func(c *gin.Context) {
		operator := c.GetString(operatorKey)
		if s.stepUps == nil || operator == "" {
			writeProblem(c, contracts.Errorf(contracts.CodeForbidden, "Changes need a TOTP step-up, which is not configured on this payhub."))
			return
		}
		su, err := s.stepUps.Require(c.Request.Context(), operator)
		if errors.Is(err, operators.ErrStepUpRequired) {
			s.log.WarnContext(c.Request.Context(), "operator change refused without a recent step-up", "operator", operator)
			writeProblem(c, contracts.Errorf(contracts.CodeForbidden,
				"This change needs a step-up within the last %s: POST /v1/ops/step-up with a current TOTP code.", operators.ValidFor))
			return
		}
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.log.InfoContext(c.Request.Context(), "operator change under step-up", "operator", operator, "step_up", su.ID)
		c.Next()
	}
}

// stepUpRequest is POST /v1/ops/step-up's body.
type stepUpRequest struct {
	Code string `json:"code"`
}

// stepUpResponse is its answer.
type stepUpResponse struct {
	Object     string    `json:"object"`
	ID         string    `json:"id"`
	Operator   string    `json:"operator"`
	VerifiedAt time.Time `json:"verified_at"`
	ValidUntil time.Time `json:"valid_until"`
}

// stepUp handles POST /v1/ops/step-up {"code":"123456"}: 200 with valid_until, 401 for a
// wrong or already used code, 429 with Retry-After while locked, 403 when not enrolled.
func (s *Server) stepUp(c *gin.Context) {
	ctx := c.Request.Context()
	if s.stepUps == nil {
		writeProblem(c, notFound())
		return
	}
	body, err := jsonin.ReadBody(c.Request, 1<<10)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var req stepUpRequest
	if err := jsonin.Decode(body, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if !codePattern.MatchString(req.Code) {
		writeProblem(c, contracts.Errorf(contracts.CodeInvalidRequest, "code: six digits from the authenticator app"))
		return
	}
	operator := c.GetString(operatorKey)
	su, err := s.stepUps.Verify(ctx, operator, req.Code)
	var locked *operators.LockedError
	switch {
	case err == nil:
		s.log.InfoContext(ctx, "operator stepped up", "operator", operator, "step_up", su.ID)
		c.JSON(http.StatusOK, stepUpResponse{Object: "step_up", ID: su.ID, Operator: operator,
			VerifiedAt: su.VerifiedAt.UTC(), ValidUntil: su.VerifiedAt.Add(operators.ValidFor).UTC()})
	case errors.Is(err, operators.ErrWrongCode):
		s.log.WarnContext(ctx, "operator step-up refused: wrong or used code", "operator", operator, "remote", c.ClientIP())
		e := contracts.Errorf(contracts.CodeUnauthenticated, "The code is wrong or was used already.")
		c.Data(http.StatusUnauthorized, "application/problem+json", render.ProblemAt(ctx, e, http.StatusUnauthorized))
		c.Abort()
	case errors.As(err, &locked):
		if locked.Fresh {
			s.stepUpLockouts.Inc()
			s.log.ErrorContext(ctx, "ALERT operator step-up locked after repeated wrong codes", "operator", operator,
				"remote", c.ClientIP(), "until", locked.Until)
		}
		writeRetryLater(c, "Step-up is locked after repeated wrong codes; try again later or ask a security admin.",
			locked.Until.Sub(s.stepUps.Now()))
	case errors.Is(err, operators.ErrNotEnrolled):
		writeProblem(c, contracts.Errorf(contracts.CodeForbidden, "No TOTP is enrolled for this operator: a security admin enrols operators (payhub ops operator enroll)."))
	default:
		s.writeError(c, err)
	}
}
