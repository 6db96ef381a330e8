package compensate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"payhub/contracts"
	"payhub/internal/approvals"
)

// ActionRun is the two-person approval action that allows `payhub compensate run` over one
// claims file, named by its SHA-256.
const ActionRun = "compensation.run"

// RunParams are compensation.run's parameters.
type RunParams struct {
	ClaimsSHA256 string `json:"claims_sha256"`
}

// FileSHA256 is the hex SHA-256 of a claims file's bytes.
func FileSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func decodeParams(params json.RawMessage) (RunParams, error) {
	var p RunParams
	if err := json.Unmarshal(params, &p); err != nil {
		return p, contracts.Errorf(contracts.CodeInvalidRequest, "compensation.run: %v", err)
	}
	if b, err := hex.DecodeString(p.ClaimsSHA256); err != nil || len(b) != sha256.Size {
		return p, contracts.Errorf(contracts.CodeInvalidRequest, "claims_sha256: the claims file's hex SHA-256")
	}
	return p, nil
}

// RegisterApproval registers compensation.run with svc as a gate (approvals.RegisterGate):
// approving it only records that the run may start; the run itself is `payhub compensate
// run --approval`.
func RegisterApproval(svc *approvals.Service) {
	approvals.RegisterGate(svc, ActionRun, func(params json.RawMessage) (map[string]any, error) {
		p, err := decodeParams(params)
		if err != nil {
			return nil, err
		}
		return map[string]any{"claims_sha256": p.ClaimsSHA256}, nil
	})
}

// CheckApproval refuses unless approval id is an executed compensation.run for exactly the
// claims file whose SHA-256 is sum.
func CheckApproval(ctx context.Context, st contracts.ApprovalsStore, id, sum string) error {
	a, err := approvals.Executed(ctx, st, id, ActionRun)
	if err != nil {
		return fmt.Errorf("compensate: %w", err)
	}
	p, err := decodeParams(a.Params)
	if err != nil {
		return err
	}
	if p.ClaimsSHA256 != sum {
		return fmt.Errorf("compensate: approval %s is for claims file %s, not this one (%s)", id, p.ClaimsSHA256, sum)
	}
	return nil
}

// Total is a count of claims and their yen.
type Total struct {
	Claims int
	Yen    int64
}

func (t *Total) add(yen int64) { t.Claims++; t.Yen += yen }

// Report is a run's account: Σ claimed = Σ refunded + Σ re-credited + Σ bank rows +
// Σ rejected + Σ open (unknown), to the yen, overall and per route.
type Report struct {
	Claimed, Refunded, Recredited, Bank, Rejected, Open Total
	// Already counts the claims settled by an earlier run (included above by status).
	Already Total
	// PaidNow counts the claims this run paid (refunded, re-credited or queued as a bank
	// row); zero when the list was paid before and the run paid nothing more.
	PaidNow Total
	// Duplicates counts the lines repeating a claim with the same body (paid once).
	Duplicates int
	// PerRoute sums what each route paid.
	PerRoute map[contracts.CompensationRoute]*Total
	// Rejections sums the rejected claims and lines by reason.
	Rejections map[string]*Total
	// Outcomes are every claim's outcome, in file order.
	Outcomes []Outcome
	// Refused are the lines refused while parsing.
	Refused []Rejection
}

// Balanced reports whether the report's invariant holds.
func (r Report) Balanced() bool {
	return r.Claimed.Yen == r.Refunded.Yen+r.Recredited.Yen+r.Bank.Yen+r.Rejected.Yen+r.Open.Yen &&
		r.Claimed.Claims == r.Refunded.Claims+r.Recredited.Claims+r.Bank.Claims+r.Rejected.Claims+r.Open.Claims
}

// Run parses the claims and pays each (Engine.Pay), returning the report. It stops at the
// first database error (a re-run continues where it stopped).
func (e *Engine) Run(ctx context.Context, r io.Reader, format Format) (Report, error) {
	claims, refused, dups, err := Parse(r, format)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Duplicates: dups, PerRoute: map[contracts.CompensationRoute]*Total{}, Rejections: map[string]*Total{}, Refused: refused}
	reject := func(reason string, yen int64) {
		rep.Rejected.add(yen)
		t := rep.Rejections[reason]
		if t == nil {
			t = &Total{}
			rep.Rejections[reason] = t
		}
		t.add(yen)
	}
	for _, x := range refused {
		rep.Claimed.add(x.Amount)
		reject(string(x.Reason), x.Amount)
	}
	for _, c := range claims {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("compensate: stopped before claim %s (line %d): %w", c.ClaimID, c.Line, err)
		}
		o, err := e.Pay(ctx, c)
		if err != nil {
			return rep, fmt.Errorf("compensate: claim %s (line %d): %w", c.ClaimID, c.Line, err)
		}
		rep.Outcomes = append(rep.Outcomes, o)
		rep.Claimed.add(c.Amount)
		if o.Already {
			rep.Already.add(c.Amount)
		}
		switch o.Status {
		case contracts.CompensationRefunded:
			rep.Refunded.add(c.Amount)
		case contracts.CompensationRecredit:
			rep.Recredited.add(c.Amount)
		case contracts.CompensationBankRefund:
			rep.Bank.add(c.Amount)
		case contracts.CompensationRejected:
			reject(o.Reason, c.Amount)
			continue
		default:
			rep.Open.add(c.Amount)
			continue
		}
		if !o.Already {
			rep.PaidNow.add(c.Amount)
		}
		t := rep.PerRoute[o.Route]
		if t == nil {
			t = &Total{}
			rep.PerRoute[o.Route] = t
		}
		t.add(c.Amount)
	}
	return rep, nil
}

// Write prints the report.
func (r Report) Write(w io.Writer) {
	line := func(name string, t Total) { fmt.Fprintf(w, "  %-22s %8d claims %16d yen\n", name, t.Claims, t.Yen) }
	fmt.Fprintln(w, "compensation report")
	line("claimed", r.Claimed)
	line("refunded (original)", r.Refunded)
	line("re-credited (nanaco)", r.Recredited)
	line("bank refund rows", r.Bank)
	line("rejected", r.Rejected)
	line("open (unknown)", r.Open)
	line("settled before", r.Already)
	line("paid in this run", r.PaidNow)
	fmt.Fprintf(w, "  duplicate lines (paid once): %d\n", r.Duplicates)
	routes := make([]string, 0, len(r.PerRoute))
	for k := range r.PerRoute {
		routes = append(routes, string(k))
	}
	sort.Strings(routes)
	for _, k := range routes {
		line("route "+k, *r.PerRoute[contracts.CompensationRoute(k)])
	}
	reasons := make([]string, 0, len(r.Rejections))
	for k := range r.Rejections {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		line("rejected "+k, *r.Rejections[k])
	}
	if len(r.Outcomes) > 0 && r.Already.Claims == len(r.Outcomes) {
		fmt.Fprintln(w, "  nothing more to pay: every claim of the list was settled before this run")
	}
	if r.Balanced() {
		fmt.Fprintln(w, "  balanced: claimed = refunded + re-credited + bank + rejected + open, to the yen")
	} else {
		fmt.Fprintln(w, "  NOT BALANCED")
	}
}
