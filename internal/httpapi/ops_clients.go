package httpapi

import (
	"errors"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/auth"
	"payhub/internal/clients"
)

// Store clients and operator enrolment through the operator API (docs/ops-api.md): each
// change becomes an approval request for a second security admin (docs/security.md §8).

func (s *Server) registerOpsClients(g *gin.RouterGroup) {
	s.opsChangeRoute(g, http.MethodPost, "/clients", auth.RoleSecurityAdmin, s.requestClientRegister)
	s.opsChangeRoute(g, http.MethodPost, "/clients/:id/rotate-key", auth.RoleSecurityAdmin, s.requestClientRotateKey)
	s.opsChangeRoute(g, http.MethodPost, "/clients/:id/revoke", auth.RoleSecurityAdmin, s.requestClientRevoke)
	s.opsChangeRoute(g, http.MethodPost, "/clients/:id/allowlist", auth.RoleSecurityAdmin, s.requestClientAllowlist)
	s.opsChangeRoute(g, http.MethodPost, "/operators/:id/enroll", auth.RoleSecurityAdmin, s.requestOperatorEnroll)
	s.opsAnyRoute(g, http.MethodGet, "/operators/me/enrollment", s.fetchEnrollment)
}

// requestClientRegister handles POST /v1/ops/clients: a client.register request (202).
func (s *Server) requestClientRegister(c *gin.Context) {
	if !s.approvalsReady(c) {
		return
	}
	var req clients.Registration
	if !s.readOpsBody(c, opsBodyLimit, &req) {
		return
	}
	if _, err := req.Normalise(); err != nil {
		s.writeError(c, err)
		return
	}
	s.requestApproval(c, approvals.ActionClientRegister, req, "")
}

// rotateKeyRequest is POST /v1/ops/clients/{id}/rotate-key's body.
type rotateKeyRequest struct {
	KID          string `json:"kid"`
	PublicKeyPEM string `json:"public_key_pem"`
	RetireKID    string `json:"retire_kid"`
}

// requestClientRotateKey handles POST /v1/ops/clients/{id}/rotate-key: a
// client.rotate_key request (202) adding the key and, with retire_kid, revoking that one.
func (s *Server) requestClientRotateKey(c *gin.Context) {
	if !s.approvalsReady(c) {
		return
	}
	var req rotateKeyRequest
	if !s.readOpsBody(c, opsBodyLimit, &req) {
		return
	}
	k := clients.KeyRotation{ClientID: c.Param("id"), KID: req.KID, PublicKeyPEM: req.PublicKeyPEM}
	if req.RetireKID != "" {
		k.RevokeKIDs = []string{req.RetireKID}
	}
	if _, err := k.Normalise(); err != nil {
		s.writeError(c, err)
		return
	}
	if _, ok := s.storeClient(c, k.ClientID); !ok {
		return
	}
	s.requestApproval(c, approvals.ActionClientRotateKey, k, "")
}

// storeClient reads the client id, answering 404 when there is none.
func (s *Server) storeClient(c *gin.Context, id string) (contracts.StoreClient, bool) {
	if clients.CheckID("client id", id) != nil {
		writeProblem(c, notFound())
		return contracts.StoreClient{}, false
	}
	sc, err := s.store.GetStoreClient(c.Request.Context(), id)
	if errors.Is(err, contracts.ErrNotFound) {
		writeProblem(c, notFound())
		return contracts.StoreClient{}, false
	}
	if err != nil {
		s.writeError(c, err)
		return contracts.StoreClient{}, false
	}
	return sc, true
}

// revokeRequest is POST /v1/ops/clients/{id}/revoke's body: kid names one key; without
// it every key of the client active now is revoked.
type revokeRequest struct {
	Reason string `json:"reason"`
	KID    string `json:"kid"`
}

// requestClientRevoke handles POST /v1/ops/clients/{id}/revoke {"reason"}: a client.revoke
// request (202) naming the keys it revokes — the client's active keys as asked, or kid.
func (s *Server) requestClientRevoke(c *gin.Context) {
	if !s.approvalsReady(c) {
		return
	}
	var req revokeRequest
	if !s.readOpsBody(c, opsSmallBody, &req) {
		return
	}
	sc, ok := s.storeClient(c, c.Param("id"))
	if !ok {
		return
	}
	var kids []string
	for _, k := range sc.Keys {
		if k.RevokedAt == nil && (req.KID == "" || k.KID == req.KID) {
			kids = append(kids, k.KID)
		}
	}
	if len(kids) == 0 {
		writeProblem(c, contracts.Errorf(contracts.CodeInvalidState, "Client %s has no active key to revoke.", sc.ID))
		return
	}
	slices.Sort(kids)
	s.requestApproval(c, approvals.ActionClientRevoke, clients.Revocation{ClientID: sc.ID, KIDs: kids, Reason: req.Reason}, req.Reason)
}

// allowlistRequest is POST /v1/ops/clients/{id}/allowlist's body.
type allowlistRequest struct {
	AllowCIDRs []string `json:"allow_cidrs"`
}

// requestClientAllowlist handles POST /v1/ops/clients/{id}/allowlist {"allow_cidrs"}: a
// client.set_allowlist request (202).
func (s *Server) requestClientAllowlist(c *gin.Context) {
	if !s.approvalsReady(c) {
		return
	}
	var req allowlistRequest
	if !s.readOpsBody(c, opsBodyLimit, &req) {
		return
	}
	l := clients.Allowlist{ClientID: c.Param("id"), AllowCIDRs: req.AllowCIDRs}
	if _, err := l.Normalise(); err != nil {
		s.writeError(c, err)
		return
	}
	if _, ok := s.storeClient(c, l.ClientID); !ok {
		return
	}
	s.requestApproval(c, approvals.ActionClientSetAllowlist, l, "")
}

// requestOperatorEnroll handles POST /v1/ops/operators/{id}/enroll {}: an operator.enroll
// request (202). Once approved, the operator fetches their otpauth URL once.
func (s *Server) requestOperatorEnroll(c *gin.Context) {
	if !s.approvalsReady(c) {
		return
	}
	var req struct{}
	if !s.readOpsBody(c, opsSmallBody, &req) {
		return
	}
	id := c.Param("id")
	if err := clients.CheckID("operator", id); err != nil {
		writeProblem(c, contracts.Errorf(contracts.CodeInvalidRequest, "%s", err.Error()))
		return
	}
	s.requestApproval(c, approvals.ActionOperatorEnroll, approvals.OperatorEnroll{Operator: id}, "")
}

// enrollmentJSON is GET /v1/ops/operators/me/enrollment's answer.
type enrollmentJSON struct {
	Object     string `json:"object"`
	Operator   string `json:"operator"`
	OTPAuthURL string `json:"otpauth_url"`
}

// fetchEnrollment handles GET /v1/ops/operators/me/enrollment: the authenticated
// operator's otpauth URL from an approved operator.enroll, once (then 404). Never cached,
// never logged.
func (s *Server) fetchEnrollment(c *gin.Context) {
	if !s.approvalsReady(c) {
		return
	}
	ctx := c.Request.Context()
	operator := c.GetString(operatorKey)
	url, err := s.approvals.TakeEnrollment(ctx, operator, contracts.RequestID(ctx))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.log.InfoContext(ctx, "operator fetched their TOTP enrolment", "operator", operator)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, enrollmentJSON{Object: "operator_enrollment", Operator: operator, OTPAuthURL: url})
}
