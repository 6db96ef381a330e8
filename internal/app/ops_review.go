package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// `payhub ops approvals|audit|needs-attention`: the second operator's side of two-person
// approval (docs/security.md §8), the audit log (§9) and the payments the resolver handed
// over, through the operator API (docs/ops-api.md).

func opsApprovalsCommand(f *opsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "approvals",
		Aliases: []string{"approval"},
		Short:   "List, show, approve and reject two-person approval requests",
		Long: `A change that loosens a control (lifting a kill switch, removing a limit) or touches who
may call payhub is an approval request (apr_…) until a different operator with the required
role approves it with their own step-up; it then runs, exactly as asked, once. Requests
expire (24 h by default) and can be rejected. Through the operator API of a running payhub
(--url; serve must be reachable).`,
	}
	cmd.AddCommand(opsApprovalsListCommand(f), opsApprovalsShowCommand(f), opsApprovalsApproveCommand(f), opsApprovalsRejectCommand(f))
	return cmd
}

func opsApprovalsListCommand(f *opsFlags) *cobra.Command {
	var status string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List approval requests (--status pending for those waiting)",
		Args:  cobra.NoArgs,
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, _ []string) error {
			q := url.Values{}
			if status != "" {
				q.Set("status", status)
			}
			raw, err := c.get(cmd.Context(), "/v1/ops/approvals", q)
			if err != nil {
				return err
			}
			if f.json {
				writeJSON(cmd.OutOrStdout(), raw)
				return nil
			}
			list, err := decodeList[opsApproval](raw)
			if err != nil {
				return err
			}
			writeApprovals(cmd.OutOrStdout(), list)
			return nil
		}),
	}
	cmd.Flags().StringVar(&status, "status", "", "only this status: pending, executed, rejected, expired or failed")
	return cmd
}

// writeApprovals prints approval requests as a table.
func writeApprovals(out io.Writer, list []opsApproval) {
	if len(list) == 0 {
		fmt.Fprintln(out, "no approval requests")
		return
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tACTION\tSTATUS\tREQUESTED BY\tREQUESTED AT\tEXPIRES\tAPPROVER ROLE\tDECIDED BY\tPARAMS")
	for _, a := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Action, a.Status, a.RequestedBy, a.RequestedAt,
			orDash(a.ExpiresAt), orDash(a.RequiredRole), orDash(a.DecidedBy), compactJSON(a.Params))
	}
	_ = w.Flush()
}

// writeApproval prints one approval request, a field a line.
func writeApproval(out io.Writer, a opsApproval) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, row := range [][2]string{
		{"id", a.ID}, {"action", a.Action}, {"status", a.Status}, {"reason", orDash(a.Reason)}, {"params", compactJSON(a.Params)},
		{"params hash", orDash(a.ParamsHash)}, {"approver role", orDash(a.RequiredRole)},
		{"requested by", a.RequestedBy}, {"requested at", a.RequestedAt}, {"expires at", orDash(a.ExpiresAt)},
		{"decided by", orDash(a.DecidedBy)}, {"decided at", orDash(a.DecidedAt)}, {"decision reason", orDash(a.DecisionReason)},
		{"result", compactJSON(a.Result)},
	} {
		fmt.Fprintf(w, "%s:\t%s\n", row[0], row[1])
	}
	_ = w.Flush()
}

// printApprovalAnswer prints the approval request a change answered with (202): its id
// first, and what happens next.
func printApprovalAnswer(out io.Writer, asJSON bool, raw []byte) error {
	if asJSON {
		writeJSON(out, raw)
		return nil
	}
	var a opsApproval
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("read the approval request: %w", err)
	}
	fmt.Fprintf(out, "approval %s: %s %s %s\n", a.ID, a.Action, a.Status, compactJSON(a.Params))
	if a.Status == "pending" {
		fmt.Fprintf(out, "It runs when a different operator (role %s) approves it, before %s:\n  payhub ops approvals approve %s\n",
			orDash(a.RequiredRole), orDash(a.ExpiresAt), a.ID)
	}
	return nil
}

func opsApprovalsShowCommand(f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show <id>",
		Short: "Show one approval request: its exact parameters, status and result",
		Args:  cobra.ExactArgs(1),
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, args []string) error {
			raw, err := c.get(cmd.Context(), "/v1/ops/approvals/"+url.PathEscape(args[0]), nil)
			if err != nil {
				return err
			}
			if f.json {
				writeJSON(cmd.OutOrStdout(), raw)
				return nil
			}
			var a opsApproval
			if err := json.Unmarshal(raw, &a); err != nil {
				return fmt.Errorf("read the approval request: %w", err)
			}
			writeApproval(cmd.OutOrStdout(), a)
			return nil
		}),
	}
}

func opsApprovalsApproveCommand(f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "approve <id>",
		Short: "Approve another operator's request: it runs now, exactly as asked (needs step-up)",
		Long: `Approve an approval request: the change runs at once with exactly the parameters that were
asked for (payhub ops approvals show <id> prints them), and the request becomes executed,
or failed when the action refused (nothing changed; the result says why: this command then
exits non-zero). The requester cannot approve their own request. Needs the request's
approver role and a step-up of your own.`,
		Args: cobra.ExactArgs(1),
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, args []string) error {
			raw, err := c.post(cmd.Context(), "/v1/ops/approvals/"+url.PathEscape(args[0])+"/approve", struct{}{})
			if err != nil {
				return err
			}
			return printDecision(cmd.OutOrStdout(), f.json, raw)
		}),
	}
}

// printDecision prints an approval request after approve or reject; a failed action is
// an error (non-zero exit).
func printDecision(out io.Writer, asJSON bool, raw []byte) error {
	var a opsApproval
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("read the approval request: %w", err)
	}
	if asJSON {
		writeJSON(out, raw)
	} else {
		fmt.Fprintf(out, "approval %s: %s %s by %s; result %s\n", a.ID, a.Action, a.Status, orDash(a.DecidedBy), compactJSON(a.Result))
	}
	if a.Status == "failed" {
		return fmt.Errorf("approval %s failed: the action refused, nothing was changed: %s", a.ID, compactJSON(a.Result))
	}
	return nil
}

func opsApprovalsRejectCommand(f *opsFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "reject <id>",
		Short: "Reject an approval request: it never runs (needs step-up)",
		Args:  cobra.ExactArgs(1),
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, args []string) error {
			raw, err := c.post(cmd.Context(), "/v1/ops/approvals/"+url.PathEscape(args[0])+"/reject", map[string]string{"reason": reason})
			if err != nil {
				return err
			}
			return printDecision(cmd.OutOrStdout(), f.json, raw)
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; audited)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// auditPage is how many audit entries --tail asks for a call (payhub's most).
const auditPage = 1000

func opsAuditCommand(f *opsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log through the operator API (security_admin)",
	}
	var after int64
	var limit, tail int
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit log entries after --after (seq), oldest first; --tail N for the latest",
		Long: `GET /v1/ops/audit: the audit log's entries with seq above --after, oldest first, at most
--limit. --tail N reads on from --after to the end and prints the last N. Needs the
security_admin role. (payhub audit verify, on the database host, checks the hash chain.)`,
		Example: `  payhub ops audit list --tail 20
  payhub ops audit list --after 120 --limit 50`,
		Args: cobra.NoArgs,
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, _ []string) error {
			if tail > 0 && (limit > 0 || f.json) {
				return errors.New("--tail reads the log to its end: not with --limit or --json")
			}
			q := url.Values{}
			if after > 0 {
				q.Set("after", strconv.FormatInt(after, 10))
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			if tail > 0 {
				q.Set("limit", strconv.Itoa(auditPage))
			}
			raw, err := c.get(cmd.Context(), "/v1/ops/audit", q)
			if err != nil {
				return err
			}
			if f.json {
				writeJSON(cmd.OutOrStdout(), raw)
				return nil
			}
			entries, err := decodeList[opsAuditEntry](raw)
			if err != nil {
				return err
			}
			for page := entries; tail > 0 && len(page) == auditPage; {
				if len(entries) > tail {
					entries = entries[len(entries)-tail:]
				}
				q.Set("after", strconv.FormatInt(page[len(page)-1].Seq, 10))
				if raw, err = c.get(cmd.Context(), "/v1/ops/audit", q); err != nil {
					return err
				}
				if page, err = decodeList[opsAuditEntry](raw); err != nil {
					return err
				}
				entries = append(entries, page...)
			}
			if tail > 0 && len(entries) > tail {
				entries = entries[len(entries)-tail:]
			}
			out := cmd.OutOrStdout()
			if len(entries) == 0 {
				fmt.Fprintln(out, "no audit entries")
			}
			for _, e := range entries {
				req := ""
				if e.RequestID != "" {
					req = " request " + e.RequestID
				}
				fmt.Fprintf(out, "%d %s %s %s %s %s%s\n", e.Seq, e.At, e.Actor, e.Action, e.Target, compactJSON(e.Params), req)
			}
			return nil
		}),
	}
	list.Flags().Int64Var(&after, "after", 0, "entries after this seq")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many (default: payhub's, 100)")
	list.Flags().IntVar(&tail, "tail", 0, "the last N entries (after --after)")
	cmd.AddCommand(list)
	return cmd
}

// opsPayment is what the needs-attention list shows of a payment.
type opsPayment struct {
	ID         string `json:"id"`
	Method     string `json:"method"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	Status     string `json:"status"`
	TerminalID string `json:"terminal_id"`
	OrderID    string `json:"order_id"`
	CreatedAt  string `json:"created_at"`
}

func opsNeedsAttentionCommand(f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "needs-attention",
		Short: "List the payments the resolver could not settle, for an operator to settle (operator role)",
		Args:  cobra.NoArgs,
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, _ []string) error {
			raw, err := c.get(cmd.Context(), "/v1/ops/needs-attention", nil)
			if err != nil {
				return err
			}
			if f.json {
				writeJSON(cmd.OutOrStdout(), raw)
				return nil
			}
			list, err := decodeList[opsPayment](raw)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(list) == 0 {
				fmt.Fprintln(out, "no payments need attention")
				return nil
			}
			w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tMETHOD\tAMOUNT\tSTATUS\tTERMINAL\tORDER\tCREATED")
			for _, p := range list {
				fmt.Fprintf(w, "%s\t%s\t%d %s\t%s\t%s\t%s\t%s\n", p.ID, p.Method, p.Amount, p.Currency, p.Status,
					orDash(p.TerminalID), orDash(p.OrderID), p.CreatedAt)
			}
			return w.Flush()
		}),
	}
}

// opsInstance is what the instances list shows of one payhub process.
type opsInstance struct {
	ID          string  `json:"id"`
	Version     string  `json:"version"`
	StartedAt   string  `json:"started_at"`
	HeartbeatAt string  `json:"heartbeat_at"`
	StoppedAt   *string `json:"stopped_at"`
	Alive       bool    `json:"alive"`
	Self        bool    `json:"self"`
	Leases      int     `json:"work_leases"`
}

func opsInstancesCommand(f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "instances",
		Short: "List the payhub instances sharing the database: alive or gone, and the work leases each holds (viewer role)",
		Args:  cobra.NoArgs,
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, _ []string) error {
			raw, err := c.get(cmd.Context(), "/v1/ops/instances", nil)
			if err != nil {
				return err
			}
			if f.json {
				writeJSON(cmd.OutOrStdout(), raw)
				return nil
			}
			list, err := decodeList[opsInstance](raw)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tSTATE\tVERSION\tSTARTED\tHEARTBEAT\tLEASES")
			for _, i := range list {
				state := "alive"
				switch {
				case i.StoppedAt != nil:
					state = "stopped"
				case !i.Alive:
					state = "gone"
				}
				if i.Self {
					state += " (answering)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", i.ID, state, orDash(i.Version), i.StartedAt, i.HeartbeatAt, i.Leases)
			}
			return w.Flush()
		}),
	}
}
