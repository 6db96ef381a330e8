package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/jsonin"
	"payhub/internal/migration"
)

// ActionRun is the two-person approval action a migration run needs (docs/security.md §8):
// `payhub migrate request <export>` asks for it, a second operator approves it, and
// `payhub migrate run <export> --approval apr_…` runs only under it, for exactly that file,
// day and caps.
const ActionRun = "migration.run"

// RunParams are a migration.run request's parameters.
type RunParams struct {
	// ExportSHA256 is the hex SHA-256 of the export file.
	ExportSHA256 string `json:"export_sha256"`
	// Day is the run's day, YYYYMMDD.
	Day string `json:"day"`
	// DailyCap, TotalCap and NanacoRoom are the caps.
	DailyCap   int64 `json:"daily_cap"`
	TotalCap   int64 `json:"total_cap"`
	NanacoRoom int64 `json:"nanaco_room"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func decodeParams(raw json.RawMessage) (RunParams, error) {
	var p RunParams
	if err := jsonin.Decode(raw, &p); err != nil {
		return p, err
	}
	if !sha256Hex.MatchString(p.ExportSHA256) {
		return p, contracts.Errorf(contracts.CodeInvalidRequest, "export_sha256: the export file's SHA-256, 64 lower-case hex digits")
	}
	if _, err := time.Parse("20060102", p.Day); err != nil || len(p.Day) != 8 {
		return p, contracts.Errorf(contracts.CodeInvalidRequest, "day: YYYYMMDD")
	}
	if err := (migration.Caps{Daily: p.DailyCap, Total: p.TotalCap, NanacoRoom: p.NanacoRoom}).Validate(); err != nil {
		return p, contracts.Errorf(contracts.CodeInvalidRequest, "caps: %v", err)
	}
	return p, nil
}

// RegisterApproval registers migration.run with svc as a gate (approvals.RegisterGate):
// approving runs nothing; it records that the run may start, and the run checks it
// (CheckApproval).
func RegisterApproval(svc *approvals.Service) {
	approvals.RegisterGate(svc, ActionRun, func(params json.RawMessage) (map[string]any, error) {
		p, err := decodeParams(params)
		if err != nil {
			return nil, err
		}
		return map[string]any{"export_sha256": p.ExportSHA256, "day": p.Day}, nil
	})
}

// CheckApproval refuses unless approval id is an executed migration.run for exactly p (the
// export file's hash, the day and the caps).
func CheckApproval(ctx context.Context, st contracts.ApprovalsStore, id string, p RunParams) error {
	a, err := approvals.Executed(ctx, st, id, ActionRun)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	got, err := decodeParams(a.Params)
	if err != nil {
		return err
	}
	switch {
	case got.ExportSHA256 != p.ExportSHA256:
		return fmt.Errorf("migrate: approval %s is for the export %s, not this file (%s)", id, got.ExportSHA256, p.ExportSHA256)
	case got != p:
		return fmt.Errorf("migrate: approval %s is for day %s with caps %d/%d/%d, not day %s with %d/%d/%d", id,
			got.Day, got.DailyCap, got.TotalCap, got.NanacoRoom, p.Day, p.DailyCap, p.TotalCap, p.NanacoRoom)
	}
	return nil
}
