package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"payhub/contracts"
)

// `payhub ops …`: the incident runbook's commands, each a call of the operator API
// (docs/ops-api.md) of a running payhub — step-up, kill switches (docs/security.md §4),
// limits (§5), two-person approvals (§8) and the audit log (§9). Changes go through payhub's
// own rules: step-up, roles, approval by a second operator, the audit entry. Nothing here
// writes to the database; `payhub ops operator enroll|unlock` (ops_operator.go) does, on the
// database host.

// opsLong is what `payhub ops --help` says about how the commands reach payhub.
const opsLong = `The incident controls, through the operator API (/v1/ops/…) of a running payhub: serve
(or demo) must be reachable at --url. Apart from payhub ops operator enroll|unlock (run on
the database host), nothing here writes to the database: if payhub's API is down, so is
this way of setting a kill switch.

Every call carries an operator token (aud payhub-ops) of one of three kinds:
  --token / PAYHUB_OPS_TOKEN        a ready token (at most 5 minutes long)
  --key op.pem --operator alice --role operator [--kid alice-1]
                                    a 5-minute token minted for each call with your key
  --demo-dir payhub-demo --as alice a 'payhub demo' operator (alice or bob), from the
                                    demo's files; demo only

Every change needs a step-up within the last 5 minutes (payhub ops step-up). Setting a kill
switch or adding a limit runs at once; lifting a switch or removing a limit becomes an
approval request that a different operator approves (payhub ops approvals approve).
A refusal prints "refused: <status> <code>: <detail>" and exits non-zero; --json prints the
API's answer as it came.`

// OpsCommand is `payhub ops`: the operators' incident controls.
func OpsCommand() *cobra.Command {
	f := &opsFlags{}
	cmd := &cobra.Command{Use: "ops", Short: "Incident controls through the operator API: step-up, kill switches, limits, approvals, audit",
		Long: opsLong}
	f.register(cmd)
	cmd.AddCommand(opsStepUpCommand(f), opsSwitchCommand(f), opsLimitCommand(f), opsApprovalsCommand(f), opsAuditCommand(f),
		opsNeedsAttentionCommand(f), opsInstancesCommand(f), opsClientCommand(f), opsEnrollCommand(f), opsEnrollmentCommand(f))
	return cmd
}

// opsRun is the RunE of an API command: it builds the client from the flags first.
func opsRun(f *opsFlags, run func(cmd *cobra.Command, c *opsClient, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := f.client()
		if err != nil {
			return err
		}
		return run(cmd, c, args)
	}
}

func opsStepUpCommand(f *opsFlags) *cobra.Command {
	var code string
	cmd := &cobra.Command{
		Use:   "step-up",
		Short: "Prove presence with a TOTP code: your changes are allowed for the next 5 minutes",
		Long: `POST /v1/ops/step-up with a code from your authenticator app (--code, else read from
stdin). With --demo-dir and no --code, the code is computed from the demo operator's TOTP
secret in the demo's data directory (demo only: a real operator's secret is on their phone).
Five wrong codes within 15 minutes lock step-up for 15 minutes.`,
		Example: `  payhub ops --demo-dir payhub-demo --as alice step-up
  payhub ops --key alice.pem --operator alice --role operator step-up --code 123456`,
		Args: cobra.NoArgs,
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, _ []string) error {
			var err error
			used := func() error { return nil }
			if code == "" {
				if c.demo != nil {
					code, used, err = c.demo.demoCode(cmd.Context(), time.Now, cmd.ErrOrStderr())
				} else {
					code, err = readCode(cmd.InOrStdin(), cmd.ErrOrStderr())
				}
				if err != nil {
					return err
				}
			}
			raw, err := c.post(cmd.Context(), "/v1/ops/step-up", map[string]string{"code": code})
			var p *opsProblem
			if err == nil || (errors.As(err, &p) && p.Status == http.StatusUnauthorized) {
				// payhub took the code, or counts it as used or wrong: a demo never sends it again.
				if uerr := used(); uerr != nil && err == nil {
					err = uerr
				}
			}
			if err != nil {
				return err
			}
			if f.json {
				writeJSON(cmd.OutOrStdout(), raw)
				return nil
			}
			var su opsStepUp
			if err := json.Unmarshal(raw, &su); err != nil {
				return fmt.Errorf("read the step-up answer: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stepped up %s (%s): changes allowed until %s\n", su.Operator, su.ID, su.ValidUntil)
			return nil
		}),
	}
	cmd.Flags().StringVar(&code, "code", "", "the 6-digit TOTP code (default: read from stdin; with --demo-dir, computed)")
	return cmd
}

func opsSwitchCommand(f *opsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "switch",
		Short: "Set, lift and list kill switches",
		Long: `Kill switches stop an operation for a scope on every payhub instance sharing the
database within a second: any combination of partner (paypay, linepay, gmopg, nanaco),
method (paypay, linepay, card, nanaco), operation (pay, capture, cancel, refund, top_up,
value_transfer, migration, account_link, client_registration), store, terminal and store
client. A refused request answers 503 operation_disabled with the switch's public reason;
nothing is done and its Idempotency-Key stays unused. The resolver's reversals are never
stopped.

Through the operator API of a running payhub (--url; serve must be reachable): setting a
switch needs the operator role and a step-up, and runs at once; lifting one is an approval
request another operator approves (payhub ops approvals approve). Every change is in the
audit log.`,
	}
	cmd.AddCommand(opsSwitchSetCommand(f), opsSwitchLiftCommand(f), opsSwitchListCommand(f))
	return cmd
}

// opsSwitchRequest is POST /v1/ops/switches's body.
type opsSwitchRequest struct {
	Scope            opsScope `json:"scope"`
	PublicReason     string   `json:"public_reason"`
	InternalNote     string   `json:"internal_note"`
	ExpiresInSeconds int64    `json:"expires_in_seconds,omitempty"`
}

func opsSwitchSetCommand(f *opsFlags) *cobra.Command {
	var partner, method, operation, storeID, terminal, client, reason, note string
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Switch an operation off for a scope (in force on every instance within 1 s; needs step-up)",
		Example: `  payhub ops switch set --method card --operation refund --reason "Card refunds are paused." --note "INC-42" --expires 2h
  payhub ops switch set --store store-7 --reason "This store is paused."`,
		Args: cobra.NoArgs,
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, _ []string) error {
			if expires < 0 || (expires > 0 && expires < time.Second) {
				return errors.New("--expires must be at least 1s")
			}
			req := opsSwitchRequest{Scope: opsScope{Partner: partner, Method: method, Operation: operation, StoreID: storeID,
				TerminalID: terminal, ClientID: client}, PublicReason: reason, InternalNote: note,
				ExpiresInSeconds: int64(expires / time.Second)}
			raw, err := c.post(cmd.Context(), "/v1/ops/switches", req)
			if err != nil {
				return err
			}
			if f.json {
				writeJSON(cmd.OutOrStdout(), raw)
				return nil
			}
			var k opsSwitch
			if err := json.Unmarshal(raw, &k); err != nil {
				return fmt.Errorf("read the kill switch: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "set %s: %s off (in force on every instance within 1 s)\n", k.ID, describeOpsScope(k.Scope))
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&partner, "partner", "", "partner: "+strings.Join(contracts.Partners, ", "))
	fl.StringVar(&method, "method", "", "payment method: paypay, linepay, card, nanaco")
	fl.StringVar(&operation, "operation", "", "operation: "+joinOps())
	fl.StringVar(&storeID, "store", "", "store id")
	fl.StringVar(&terminal, "terminal", "", "terminal (till) id")
	fl.StringVar(&client, "client", "", "store client id")
	fl.StringVar(&reason, "reason", "", "public reason, shown to the stores whose requests it refuses (required)")
	fl.StringVar(&note, "note", "", "internal note for operators, never shown to stores")
	fl.DurationVar(&expires, "expires", 0, "lift by itself after this long (e.g. 2h; default: until lifted)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func joinOps() string {
	var s []string
	for _, o := range contracts.ControlOperations {
		s = append(s, string(o))
	}
	return strings.Join(s, ", ")
}

func opsSwitchLiftCommand(f *opsFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "lift <id>",
		Short: "Ask to lift a kill switch: an approval request a second operator approves",
		Long: `Switching something back on loosens a control, so it does not run when asked for: payhub
answers an approval request (apr_…), printed here, that a different operator approves with
their own step-up (payhub ops approvals approve <apr_id>). Needs the operator role and a
step-up.`,
		Args: cobra.ExactArgs(1),
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, args []string) error {
			raw, err := c.post(cmd.Context(), "/v1/ops/switches/"+url.PathEscape(args[0])+"/lift", map[string]string{"reason": reason})
			if err != nil {
				return err
			}
			return printApprovalAnswer(cmd.OutOrStdout(), f.json, raw)
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why it is lifted (required)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func opsSwitchListCommand(f *opsFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the kill switches in force, with who set them, when and why",
		Args:  cobra.NoArgs,
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, _ []string) error {
			q := url.Values{}
			if all {
				q.Set("all", "true")
			}
			raw, err := c.get(cmd.Context(), "/v1/ops/switches", q)
			if err != nil {
				return err
			}
			if f.json {
				writeJSON(cmd.OutOrStdout(), raw)
				return nil
			}
			list, err := decodeList[opsSwitch](raw)
			if err != nil {
				return err
			}
			writeSwitches(cmd.OutOrStdout(), list)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "include lifted and expired switches")
	return cmd
}

// writeSwitches prints switches as a table.
func writeSwitches(out io.Writer, list []opsSwitch) {
	if len(list) == 0 {
		fmt.Fprintln(out, "no kill switches")
		return
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSCOPE\tSTATE\tSET BY\tSET AT\tEXPIRES\tREASON\tNOTE")
	for _, k := range list {
		state := "in force"
		switch {
		case k.LiftedAt != "":
			state = "lifted " + k.LiftedAt + " by " + k.LiftedBy + ": " + k.LiftReason
		case !k.Active:
			state = "expired"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%q\t%q\n", k.ID, describeOpsScope(k.Scope), state, k.SetBy,
			k.SetAt, orDash(k.ExpiresAt), k.PublicReason, k.InternalNote)
	}
	_ = w.Flush()
}

func opsLimitCommand(f *opsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "limit",
		Short: "List, set and remove velocity and amount limits",
		Long: `Limits (docs/security.md §5) cap how many payments or top-ups, or how much money, a store,
terminal, store client or instrument may move within a window. Through the operator API of
a running payhub (--url; serve must be reachable): a new limit only tightens and runs at once
(operator role, step-up); removing one is an approval request another operator approves.`,
	}
	cmd.AddCommand(opsLimitListCommand(f), opsLimitSetCommand(f), opsLimitRemoveCommand(f))
	return cmd
}

// opsLimitRequest is POST /v1/ops/limits's body: a rule.
type opsLimitRequest struct {
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

func opsLimitListCommand(f *opsFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the limits in force",
		Args:  cobra.NoArgs,
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, _ []string) error {
			q := url.Values{}
			if all {
				q.Set("all", "true")
			}
			raw, err := c.get(cmd.Context(), "/v1/ops/limits", q)
			if err != nil {
				return err
			}
			if f.json {
				writeJSON(cmd.OutOrStdout(), raw)
				return nil
			}
			list, err := decodeList[opsLimit](raw)
			if err != nil {
				return err
			}
			writeLimits(cmd.OutOrStdout(), list)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "include removed limits")
	return cmd
}

// describeLimit names a rule: "terminal (each) pay any method: 2000000 JPY per 1h0m0s".
func describeLimit(l opsLimit) string {
	subject := l.Subject + " (each)"
	if l.SubjectID != "" {
		subject = l.Subject + "=" + l.SubjectID
	}
	method := "any method"
	if l.Method != "" {
		method = "method=" + l.Method
	}
	var caps []string
	if l.MaxCount > 0 {
		caps = append(caps, fmt.Sprintf("%d operations", l.MaxCount))
	}
	if l.MaxAmount > 0 {
		caps = append(caps, fmt.Sprintf("%d %s", l.MaxAmount, l.Currency))
	}
	return fmt.Sprintf("%s %s %s: at most %s per %s", subject, l.Operation, method, strings.Join(caps, " and "),
		time.Duration(l.WindowSeconds)*time.Second)
}

// writeLimits prints limit rules as a table.
func writeLimits(out io.Writer, list []opsLimit) {
	if len(list) == 0 {
		fmt.Fprintln(out, "no limits")
		return
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSUBJECT\tOPERATION\tMETHOD\tWINDOW\tMAX COUNT\tMAX AMOUNT\tSTATE\tSET BY\tSET AT\tREASON")
	for _, l := range list {
		subject := l.Subject + " (each)"
		if l.SubjectID != "" {
			subject = l.Subject + "=" + l.SubjectID
		}
		count, amount := "-", "-"
		if l.MaxCount > 0 {
			count = fmt.Sprint(l.MaxCount)
		}
		if l.MaxAmount > 0 {
			amount = fmt.Sprintf("%d %s", l.MaxAmount, l.Currency)
		}
		state := "in force"
		if l.RemovedAt != "" {
			state = "removed " + l.RemovedAt + " by " + l.RemovedBy + ": " + l.RemoveReason
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%q\n", l.ID, subject, l.Operation, orDash(l.Method),
			time.Duration(l.WindowSeconds)*time.Second, count, amount, state, l.SetBy, l.SetAt, l.Reason)
	}
	_ = w.Flush()
}

func opsLimitSetCommand(f *opsFlags) *cobra.Command {
	var req opsLimitRequest
	var window time.Duration
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Add a limit rule (only tightens; in force at once; needs step-up)",
		Example: `  payhub ops limit set --subject terminal --operation pay --window 1h --max-amount 2000000 --currency JPY --reason "INC-42: cap each till"
  payhub ops limit set --subject store --subject-id store-7 --operation top_up --window 10m --max-count 5 --reason "INC-42"`,
		Args: cobra.NoArgs,
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, _ []string) error {
			if window < time.Second || window%time.Second != 0 {
				return errors.New("--window must be a whole number of seconds, at least 1s (e.g. 1h)")
			}
			if req.MaxCount <= 0 && req.MaxAmount <= 0 {
				return errors.New("give --max-count, --max-amount (with --currency), or both")
			}
			req.WindowSeconds = int64(window / time.Second)
			raw, err := c.post(cmd.Context(), "/v1/ops/limits", req)
			if err != nil {
				return err
			}
			if f.json {
				writeJSON(cmd.OutOrStdout(), raw)
				return nil
			}
			var l opsLimit
			if err := json.Unmarshal(raw, &l); err != nil {
				return fmt.Errorf("read the limit rule: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "set %s: %s\n", l.ID, describeLimit(l))
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&req.Subject, "subject", "", "what is limited: store, terminal, client or instrument (required)")
	fl.StringVar(&req.SubjectID, "subject-id", "", "one subject only (default: each subject of that kind)")
	fl.StringVar(&req.Operation, "operation", "", "pay or top_up (required)")
	fl.StringVar(&req.Method, "method", "", "payment method only (default: any)")
	fl.DurationVar(&window, "window", 0, "the window counted in, e.g. 1h (required)")
	fl.Int64Var(&req.MaxCount, "max-count", 0, "at most this many operations per window")
	fl.Int64Var(&req.MaxAmount, "max-amount", 0, "at most this much per window, in minor units of --currency")
	fl.StringVar(&req.Currency, "currency", "", "the currency of --max-amount, e.g. JPY")
	fl.StringVar(&req.Reason, "reason", "", "why (required; audited)")
	for _, name := range []string{"subject", "operation", "window", "reason"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func opsLimitRemoveCommand(f *opsFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "remove <id>",
		Short: "Ask to remove a limit rule: an approval request a second operator approves",
		Args:  cobra.ExactArgs(1),
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, args []string) error {
			raw, err := c.post(cmd.Context(), "/v1/ops/limits/"+url.PathEscape(args[0])+"/remove", map[string]string{"reason": reason})
			if err != nil {
				return err
			}
			return printApprovalAnswer(cmd.OutOrStdout(), f.json, raw)
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why it is removed (required)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}
