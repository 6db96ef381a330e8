package approvals

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"payhub/contracts"
	"payhub/internal/audit"
	"payhub/internal/auth"
	"payhub/internal/clients"
	"payhub/internal/hub"
	"payhub/internal/jsonin"
	"payhub/internal/operators"
)

// payhub's own actions (docs/ops-api.md, "Two-person approval"). limit.remove is
// registered by the limits' code.
const (
	// ActionSwitchLift lifts a kill switch (SwitchLift).
	ActionSwitchLift = "switch.lift"
	// ActionClientRegister registers a store client (clients.Registration).
	ActionClientRegister = "client.register"
	// ActionClientRotateKey adds a client key, revoking others with it (clients.KeyRotation).
	ActionClientRotateKey = "client.rotate_key"
	// ActionClientRevoke revokes client keys (clients.Revocation).
	ActionClientRevoke = "client.revoke"
	// ActionClientSetAllowlist replaces a client's source allowlist (clients.Allowlist).
	ActionClientSetAllowlist = "client.set_allowlist"
	// ActionOperatorEnroll gives an operator a new TOTP secret (OperatorEnroll).
	ActionOperatorEnroll = "operator.enroll"
)

// SwitchLift is switch.lift's parameters.
type SwitchLift struct {
	SwitchID string `json:"switch_id"`
	Reason   string `json:"reason"`
}

// OperatorEnroll is operator.enroll's parameters.
type OperatorEnroll struct {
	Operator string `json:"operator"`
}

// decodeNormal strictly decodes params into v, normalises it and refuses params that are
// not already in that normal form: what is approved is exactly what runs.
func decodeNormal[T any](params json.RawMessage, v *T, normalise func(*T) error) error {
	if err := jsonin.Decode(params, v); err != nil {
		return err
	}
	if err := normalise(v); err != nil {
		return err
	}
	again, err := Canonical(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, params) {
		return contracts.Errorf(contracts.CodeInvalidRequest, "the parameters are not in their normal form")
	}
	return nil
}

func (s *Service) registerBuiltins() {
	operatorOrAdmin := []string{auth.RoleOperator, auth.RoleSecurityAdmin}
	admin := []string{auth.RoleSecurityAdmin}

	liftParams := func(params json.RawMessage) (SwitchLift, error) {
		var p SwitchLift
		return p, decodeNormal(params, &p, func(p *SwitchLift) error {
			if !contracts.ValidID(contracts.PrefixKillSwitch, p.SwitchID) {
				return contracts.Errorf(contracts.CodeInvalidRequest, "switch_id: a kill switch's id (ks_…)")
			}
			if strings.TrimSpace(p.Reason) == "" || utf8.RuneCountInString(p.Reason) > maxReasonLen {
				return contracts.Errorf(contracts.CodeInvalidRequest, "reason: why the switch may go back on, 1 to %d characters", maxReasonLen)
			}
			return nil
		})
	}
	s.Register(ActionSwitchLift, Action{RequesterRoles: operatorOrAdmin, ApproverRoles: operatorOrAdmin,
		Validate: func(params json.RawMessage) error { _, err := liftParams(params); return err },
		Execute: func(ctx context.Context, tx contracts.Tx, params json.RawMessage, a contracts.Approval, now time.Time) (any, error) {
			p, err := liftParams(params)
			if err != nil {
				return nil, err
			}
			k, err := hub.LiftKillSwitchTx(ctx, tx, s.key, contracts.RequestID(ctx), p.SwitchID, a.RequestedBy, p.Reason, now,
				map[string]any{"approval": a.ID, "approved_by": a.DecidedBy})
			if err != nil {
				return nil, err
			}
			return map[string]any{"switch_id": k.ID, "lifted_by": k.LiftedBy, "lifted_at": k.LiftedAt}, nil
		}})

	registration := func(params json.RawMessage) (clients.Registration, error) {
		var r clients.Registration
		return r, decodeNormal(params, &r, func(r *clients.Registration) error { _, err := r.Normalise(); return err })
	}
	s.Register(ActionClientRegister, Action{RequesterRoles: admin, CLI: true, ApproverRoles: admin,
		Validate: func(params json.RawMessage) error { _, err := registration(params); return err },
		Describe: func(params json.RawMessage) any {
			r, err := registration(params)
			if err != nil {
				return nil
			}
			return r.Describe()
		},
		Execute: func(ctx context.Context, tx contracts.Tx, params json.RawMessage, a contracts.Approval, now time.Time) (any, error) {
			r, err := registration(params)
			if err != nil {
				return nil, err
			}
			// A kill switch over client_registration (docs/security.md §4) holds while it is in
			// force: the approval fails with its public reason and nothing is registered.
			if err := s.registrationAllowed(ctx, r, now); err != nil {
				return nil, err
			}
			c, err := clients.Register(ctx, tx, s.key, a.RequestedBy, contracts.RequestID(ctx), r, now)
			if err != nil {
				return nil, err
			}
			return map[string]any{"client_id": c.ID, "kid": r.KID, "algorithm": c.Keys[0].Algorithm, "store_ids": c.Stores}, nil
		}})

	rotation := func(params json.RawMessage) (clients.KeyRotation, error) {
		var k clients.KeyRotation
		return k, decodeNormal(params, &k, func(k *clients.KeyRotation) error { _, err := k.Normalise(); return err })
	}
	s.Register(ActionClientRotateKey, Action{RequesterRoles: admin, CLI: true, ApproverRoles: admin,
		Validate: func(params json.RawMessage) error { _, err := rotation(params); return err },
		Describe: func(params json.RawMessage) any {
			k, err := rotation(params)
			if err != nil {
				return nil
			}
			return k.Describe()
		},
		Execute: func(ctx context.Context, tx contracts.Tx, params json.RawMessage, a contracts.Approval, now time.Time) (any, error) {
			k, err := rotation(params)
			if err != nil {
				return nil, err
			}
			if err := clients.RotateKey(ctx, tx, s.key, a.RequestedBy, contracts.RequestID(ctx), k, now); err != nil {
				return nil, err
			}
			return map[string]any{"client_id": k.ClientID, "kid": k.KID, "revoked": k.RevokeKIDs}, nil
		}})

	revocation := func(params json.RawMessage) (clients.Revocation, error) {
		var r clients.Revocation
		return r, decodeNormal(params, &r, func(r *clients.Revocation) error { return r.Normalise() })
	}
	s.Register(ActionClientRevoke, Action{RequesterRoles: admin, CLI: true, ApproverRoles: admin,
		Validate: func(params json.RawMessage) error { _, err := revocation(params); return err },
		Execute: func(ctx context.Context, tx contracts.Tx, params json.RawMessage, a contracts.Approval, now time.Time) (any, error) {
			r, err := revocation(params)
			if err != nil {
				return nil, err
			}
			keys, fresh, err := clients.Revoke(ctx, tx, s.key, a.RequestedBy, contracts.RequestID(ctx), r, now)
			if err != nil {
				return nil, err
			}
			revoked, before := []string{}, []string{}
			for i, k := range keys {
				if fresh[i] {
					revoked = append(revoked, k.KID)
				} else {
					before = append(before, k.KID)
				}
			}
			return map[string]any{"revoked": revoked, "already_revoked": before}, nil
		}})

	allowlist := func(params json.RawMessage) (clients.Allowlist, error) {
		var l clients.Allowlist
		return l, decodeNormal(params, &l, func(l *clients.Allowlist) error { _, err := l.Normalise(); return err })
	}
	s.Register(ActionClientSetAllowlist, Action{RequesterRoles: admin, CLI: true, ApproverRoles: admin,
		Validate: func(params json.RawMessage) error { _, err := allowlist(params); return err },
		Execute: func(ctx context.Context, tx contracts.Tx, params json.RawMessage, a contracts.Approval, now time.Time) (any, error) {
			l, err := allowlist(params)
			if err != nil {
				return nil, err
			}
			if err := clients.SetAllowlist(ctx, tx, s.key, a.RequestedBy, contracts.RequestID(ctx), l, nil, now); err != nil {
				return nil, err
			}
			return map[string]any{"client_id": l.ClientID, "allow_cidrs": l.AllowCIDRs}, nil
		}})

	if s.box == nil {
		return
	}
	enrolment := func(params json.RawMessage) (OperatorEnroll, error) {
		var e OperatorEnroll
		return e, decodeNormal(params, &e, func(e *OperatorEnroll) error {
			if err := clients.CheckID("operator", e.Operator); err != nil {
				return contracts.Errorf(contracts.CodeInvalidRequest, "%s", err.Error())
			}
			return nil
		})
	}
	s.Register(ActionOperatorEnroll, Action{RequesterRoles: admin, ApproverRoles: admin,
		Validate: func(params json.RawMessage) error { _, err := enrolment(params); return err },
		Execute: func(ctx context.Context, tx contracts.Tx, params json.RawMessage, a contracts.Approval, now time.Time) (any, error) {
			e, err := enrolment(params)
			if err != nil {
				return nil, err
			}
			return s.enroll(ctx, tx, e.Operator, a, now)
		},
		Beneficiary: func(params json.RawMessage) string { e, _ := enrolment(params); return e.Operator }})
}

// enrollmentOwner binds a sealed enrolment URL to its operator.
func enrollmentOwner(operator string) string { return "operator_enrollment:" + operator }

// enroll gives operator a new TOTP secret (sealed, replacing any earlier one) and keeps
// its otpauth URL sealed for the operator to fetch once; neither the approver, nor the
// result, nor the audit log ever sees the secret.
func (s *Service) enroll(ctx context.Context, tx contracts.Tx, operator string, a contracts.Approval, now time.Time) (any, error) {
	_, err := tx.GetOperatorTOTPForUpdate(ctx, operator)
	if err != nil && !errors.Is(err, contracts.ErrNotFound) {
		return nil, err
	}
	replaced := err == nil
	en, err := operators.Enroll(ctx, tx, s.box, operator, a.RequestedBy, now)
	if err != nil {
		return nil, err
	}
	if err := tx.PutOperatorEnrollment(ctx, contracts.OperatorEnrollment{Operator: operator, ApprovalID: a.ID,
		SealedURL: s.box.Seal(enrollmentOwner(operator), en.URL), CreatedAt: now}); err != nil {
		return nil, err
	}
	err = clients.Record(ctx, tx, s.key, a.RequestedBy, contracts.RequestID(ctx), "operator.step_up.enroll", "operator:"+operator, now,
		audit.Change{After: map[string]any{"replaced": replaced, "sealed_under": s.box.KeyID(), "approval": a.ID,
			"approved_by": a.DecidedBy, "period_seconds": int(operators.Period / time.Second), "digits": 6, "algorithm": "SHA1"}})
	if err != nil {
		return nil, err
	}
	return map[string]any{"operator": operator, "replaced": replaced,
		"next": "the operator fetches their TOTP enrolment once: GET /v1/ops/operators/me/enrollment"}, nil
}

// TakeEnrollment hands operator the otpauth URL of their enrolment, once: it is erased in
// the same transaction, with the audit entry operator.enrollment.fetch (without the URL).
// 404 not_found when none waits (never enrolled through approval, or fetched already).
func (s *Service) TakeEnrollment(ctx context.Context, operator, requestID string) (string, error) {
	if s.box == nil {
		return "", contracts.Errorf(contracts.CodeNotFound, "No enrolment waits for %s.", operator)
	}
	var url string
	err := s.store.InTx(ctx, func(tx contracts.Tx) error {
		e, err := tx.TakeOperatorEnrollment(ctx, operator)
		if err != nil {
			return err
		}
		if url, err = s.box.Open(enrollmentOwner(operator), e.SealedURL); err != nil {
			return fmt.Errorf("approvals: open the enrolment of %s: %w", operator, err)
		}
		return clients.Record(ctx, tx, s.key, operator, requestID, "operator.enrollment.fetch", "operator:"+operator,
			s.clock.Now().UTC(), audit.Change{After: map[string]any{"approval": e.ApprovalID, "fetched": true}})
	})
	if errors.Is(err, contracts.ErrNotFound) {
		return "", contracts.Errorf(contracts.CodeNotFound, "No enrolment waits for %s: it was fetched already, or none was approved.", operator)
	}
	if err != nil {
		return "", err
	}
	return url, nil
}

// registrationAllowed refuses r with operation_disabled while a kill switch over
// client_registration matches the client or one of its stores.
func (s *Service) registrationAllowed(ctx context.Context, r clients.Registration, now time.Time) error {
	list, err := s.store.ListKillSwitches(ctx, false)
	if err != nil {
		return err
	}
	for _, store := range r.StoreIDs {
		scope := contracts.ControlScope{Operation: contracts.OperationClientRegistration, ClientID: r.ClientID, StoreID: store}
		if k, blocked := contracts.Blocking(list, scope, now); blocked {
			return &contracts.Error{Code: contracts.CodeOperationDisabled, Detail: k.PublicReason}
		}
	}
	return nil
}
