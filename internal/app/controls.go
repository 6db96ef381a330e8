package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"payhub/contracts"
	"payhub/internal/hub"
	"payhub/internal/ids"
)

// The incident CLI's kill switches (docs/security.md §4): `payhub ops switch set|lift|list`
// write through the store, each change with its audit entry in the same transaction, like
// `payhub client`. Every payhub instance on the database enforces a change within a second.

// OpsCommand is `payhub ops`: the operators' incident controls.
func OpsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ops", Short: "Incident controls: kill switches (PAYHUB_AUDIT_KEY)"}
	cmd.AddCommand(opsSwitchCommand())
	return cmd
}

func opsSwitchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "switch",
		Short: "Set, lift and list kill switches",
		Long: `Kill switches stop an operation for a scope on every payhub instance sharing the
database within a second: any combination of partner (paypay, linepay, gmopg, nanaco),
method (paypay, linepay, card, nanaco), operation (pay, capture, cancel, refund, top_up,
value_transfer, migration, account_link, client_registration), store, terminal and store
client. A refused request answers 503 operation_disabled with the switch's public reason;
nothing is done and its Idempotency-Key stays unused. The resolver's reversals are never
stopped. Every change is written to the audit log (PAYHUB_AUDIT_KEY).

These commands write to the database directly, as payhub client does. The operator API
(/v1/ops/…, with TOTP step-up, and two-person approval for lifting a switch) comes later;
until then, whoever holds the database URL and the audit key can flip switches.`,
	}
	cmd.AddCommand(opsSwitchSetCommand(), opsSwitchLiftCommand(), opsSwitchListCommand())
	return cmd
}

func opsSwitchSetCommand() *cobra.Command {
	var dbURL, actor, partner, method, operation, storeID, terminal, client, reason, note string
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Switch an operation off for a scope (in force on every instance within 1 s)",
		Example: `  payhub ops switch set --method card --operation refund --reason "Card refunds are paused." --note "INC-42" --expires 2h
  payhub ops switch set --store store-7 --reason "This store is paused."`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := auditKey()
			if err != nil {
				return err
			}
			if expires < 0 {
				return errors.New("--expires must be positive")
			}
			now := time.Now().UTC().Truncate(time.Microsecond)
			k := contracts.KillSwitch{ID: ids.New(contracts.SystemClock{}).New(contracts.PrefixKillSwitch),
				Scope: contracts.ControlScope{Partner: partner, Method: contracts.Method(method),
					Operation: contracts.ControlOperation(operation), StoreID: storeID, TerminalID: terminal, ClientID: client},
				PublicReason: reason, InternalNote: note, SetBy: cliActor(actor), SetAt: now}
			if expires > 0 {
				exp := now.Add(expires)
				k.ExpiresAt = &exp
			}
			if err := hub.ValidateKillSwitch(k); err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				if err := hub.SetKillSwitch(ctx, st, key, "", k); err != nil {
					return fmt.Errorf("set kill switch: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "set %s: %s off (in force on every instance within 1 s)\n", k.ID, describeScope(k.Scope))
				return nil
			})
		},
	}
	f := cmd.Flags()
	dbFlag(cmd, &dbURL)
	actorFlag(cmd, &actor)
	f.StringVar(&partner, "partner", "", "partner: "+strings.Join(contracts.Partners, ", "))
	f.StringVar(&method, "method", "", "payment method: paypay, linepay, card, nanaco")
	f.StringVar(&operation, "operation", "", "operation: "+joinOps())
	f.StringVar(&storeID, "store", "", "store id")
	f.StringVar(&terminal, "terminal", "", "terminal (till) id")
	f.StringVar(&client, "client", "", "store client id")
	f.StringVar(&reason, "reason", "", "public reason, shown to the stores whose requests it refuses (required)")
	f.StringVar(&note, "note", "", "internal note for operators, never shown to stores")
	f.DurationVar(&expires, "expires", 0, "lift by itself after this long (e.g. 2h; default: until lifted)")
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

func opsSwitchLiftCommand() *cobra.Command {
	var dbURL, actor, reason string
	cmd := &cobra.Command{
		Use:   "lift <id>",
		Short: "Lift a kill switch (in force on every instance within 1 s)",
		Long: `Lift a kill switch, with a reason for the audit log. (Through the operator API, which
comes later, lifting will need a second operator's approval.)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := auditKey()
			if err != nil {
				return err
			}
			id := args[0]
			if !contracts.ValidID(contracts.PrefixKillSwitch, id) {
				return fmt.Errorf("%q is not a kill switch id (ks_…)", id)
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				k, err := hub.LiftKillSwitch(ctx, st, key, "", id, cliActor(actor), reason, time.Now().UTC())
				switch {
				case errors.Is(err, contracts.ErrNotFound):
					return fmt.Errorf("no kill switch %s", id)
				case errors.Is(err, contracts.ErrInvalidTransition):
					return fmt.Errorf("kill switch %s was lifted before", id)
				case err != nil:
					return fmt.Errorf("lift kill switch: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "lifted %s: %s back on\n", k.ID, describeScope(k.Scope))
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	actorFlag(cmd, &actor)
	cmd.Flags().StringVar(&reason, "reason", "", "why it is lifted (required)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func opsSwitchListCommand() *cobra.Command {
	var dbURL string
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the kill switches in force, with who set them, when and why",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				list, err := st.ListKillSwitches(ctx, all)
				if err != nil {
					return err
				}
				writeSwitches(cmd.OutOrStdout(), list, time.Now())
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().BoolVar(&all, "all", false, "include lifted switches")
	return cmd
}

// writeSwitches prints switches as a table.
func writeSwitches(out io.Writer, list []contracts.KillSwitch, now time.Time) {
	if len(list) == 0 {
		fmt.Fprintln(out, "no kill switches")
		return
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSCOPE\tSTATE\tSET BY\tSET AT\tEXPIRES\tREASON\tNOTE")
	for _, k := range list {
		state := "in force"
		switch {
		case k.LiftedAt != nil:
			state = "lifted " + k.LiftedAt.Format(time.RFC3339) + " by " + k.LiftedBy + ": " + k.LiftReason
		case !k.ActiveAt(now):
			state = "expired"
		}
		exp := "-"
		if k.ExpiresAt != nil {
			exp = k.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%q\t%q\n", k.ID, describeScope(k.Scope), state, k.SetBy,
			k.SetAt.Format(time.RFC3339), exp, k.PublicReason, k.InternalNote)
	}
	_ = w.Flush()
}

// describeScope names a scope: "method=card operation=refund".
func describeScope(s contracts.ControlScope) string {
	var parts []string
	for _, f := range []struct{ name, v string }{{"partner", s.Partner}, {"method", string(s.Method)},
		{"operation", string(s.Operation)}, {"store", s.StoreID}, {"terminal", s.TerminalID}, {"client", s.ClientID}} {
		if f.v != "" {
			parts = append(parts, f.name+"="+f.v)
		}
	}
	return strings.Join(parts, " ")
}
