package approvals

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"payhub/contracts"
	"payhub/internal/auth"
)

// Gates: an approval that runs nothing when approved, but lets a long job start — a
// migration run, a compensation run (docs/security.md §8). The job checks, when it starts,
// that an executed request of its action names exactly what it is about to do.

// RegisterGate registers action as a gate: operators or security admins ask for it (the CLI
// too, as cli:<user>) and another of them approves it; approving records the parameters as
// the result. summary checks the parameters and says what the result records.
func RegisterGate(svc *Service, action string, summary func(params json.RawMessage) (map[string]any, error)) {
	both := []string{auth.RoleOperator, auth.RoleSecurityAdmin}
	svc.Register(action, Action{RequesterRoles: both, ApproverRoles: both, CLI: true,
		Validate: func(params json.RawMessage) error { _, err := summary(params); return err },
		Execute: func(_ context.Context, _ contracts.Tx, params json.RawMessage, _ contracts.Approval, _ time.Time) (any, error) {
			out, err := summary(params)
			if err != nil {
				return nil, err
			}
			out["approved"] = true
			return out, nil
		}})
}

// Executed reads approval id and refuses unless it is an executed request of action: what a
// gated job checks before it starts (the caller then compares the parameters).
func Executed(ctx context.Context, st contracts.ApprovalsStore, id, action string) (contracts.Approval, error) {
	a, err := st.GetApproval(ctx, id)
	if err != nil {
		return a, fmt.Errorf("approval %s: %w", id, err)
	}
	if a.Action != action {
		return a, fmt.Errorf("approval %s is for %s, not %s", id, a.Action, action)
	}
	if a.Status != contracts.ApprovalExecuted {
		return a, fmt.Errorf("approval %s is %s: a second operator must approve it first", id, a.Status)
	}
	return a, nil
}
