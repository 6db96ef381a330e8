package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/spf13/cobra"

	"payhub/contracts"
	"payhub/internal/audit"
	"payhub/internal/config"
)

// The audit log's commands and the CLI's audit entries (docs/security.md §9).

// AuditCommand is `payhub audit`: verify the hash chain, export its anchor, list entries.
func AuditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify, anchor and list the tamper-evident audit log (PAYHUB_AUDIT_KEY)"}
	cmd.AddCommand(auditVerifyCommand(), auditAnchorCommand(), auditListCommand())
	return cmd
}

// auditKey is the configured audit key; none is an error that says how to set it.
func auditKey() ([]byte, error) {
	k, err := config.AuditKey()
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, errors.New("set PAYHUB_AUDIT_KEY (base64 of 32 bytes, the key serve runs with; payhub demo's is PAYHUB_AUDIT_KEY_FILE=<data dir>/audit.key): it keys the audit log's hash chain")
	}
	return k, nil
}

// actorFlag is the --actor flag of the commands that write audit entries.
func actorFlag(cmd *cobra.Command, actor *string) {
	cmd.Flags().StringVar(actor, "actor", "", "who makes the change, for the audit log (default: the OS user); recorded as cli:<actor>")
}

// cliActor is the audit actor of a CLI change: cli:<--actor>, else cli:<OS user>.
func cliActor(flag string) string {
	if flag != "" {
		return "cli:" + flag
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli:unknown"
}

// recordChange appends an audit entry for a change made by the CLI, in the change's
// transaction tx.
func recordChange(ctx context.Context, tx contracts.Tx, key []byte, actor, action, target string, c audit.Change) error {
	params, err := audit.Params(c)
	if err != nil {
		return err
	}
	_, err = audit.Append(ctx, tx, key, audit.Entry{Actor: actor, Action: action, Target: target, Params: params})
	return err
}

// errChainBroken is what verify returns (exit 1) after naming the first bad entry.
var errChainBroken = errors.New("audit log: chain broken")

func auditVerifyCommand() *cobra.Command {
	var dbURL, anchorFile string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit log's hash chain; exit 1 naming the first broken entry",
		Long: `Recompute every entry's HMAC-SHA256 under PAYHUB_AUDIT_KEY and its link to the entry
before it. An edited entry breaks its own hash, a deleted one leaves a gap in seq, a
reordered or inserted one breaks prev_hash. With --anchor (a file payhub audit anchor
wrote earlier), a log whose head is below the anchor was truncated. Exit 0: the chain is
intact; exit 1: the first bad entry is named (docs/security.md §9).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := auditKey()
			if err != nil {
				return err
			}
			var anchor *audit.Anchor
			if anchorFile != "" {
				b, err := os.ReadFile(anchorFile)
				if err != nil {
					return err
				}
				a, err := audit.ReadAnchor(bytes.NewReader(b))
				if err != nil {
					return err
				}
				anchor = &a
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				sum, err := audit.Check(audit.Entries(ctx, st, 0), key, anchor)
				var broken *audit.BrokenError
				if errors.As(err, &broken) {
					fmt.Fprintf(cmd.OutOrStdout(), "audit log broken at entry %d: %s (%d entries verified before it)\n",
						broken.Seq, broken.Reason, sum.Entries)
					return fmt.Errorf("%w: %w", errChainBroken, err)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d entries, chain intact, head %d/%s\n", sum.Entries, sum.Head.Seq, sum.Head.Hash)
				if anchor != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "anchor %d/%s holds\n", anchor.Seq, anchor.Hash)
				}
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().StringVar(&anchorFile, "anchor", "", "anchor file (payhub audit anchor): detects a truncated log")
	return cmd
}

func auditAnchorCommand() *cobra.Command {
	var dbURL, out string
	cmd := &cobra.Command{
		Use:   "anchor",
		Short: "Verify the audit log and write its head (seq, hash) as JSON, to keep outside the database",
		Long: `Verify the chain, then write its head {"seq":…,"hash":…} to --out (or stdout). Keep
anchors outside the database (another host, the change ticket): payhub audit verify
--anchor detects a log truncated or rewritten below one. A broken chain is not anchored.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				sum, err := audit.Check(audit.Entries(ctx, st, 0), key, nil)
				if err != nil {
					return fmt.Errorf("%w: %w", errChainBroken, err)
				}
				if sum.Entries == 0 {
					return errors.New("the audit log is empty: nothing to anchor")
				}
				var b bytes.Buffer
				if err := audit.WriteAnchor(&b, sum.Head); err != nil {
					return err
				}
				if out == "" {
					_, err := cmd.OutOrStdout().Write(b.Bytes())
					return err
				}
				if err := os.WriteFile(out, b.Bytes(), 0o600); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "anchored head %d/%s in %s\n", sum.Head.Seq, sum.Head.Hash, out)
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().StringVar(&out, "out", "", "file to write the anchor to (default stdout)")
	return cmd
}

func auditListCommand() *cobra.Command {
	var dbURL string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the latest audit log entries, oldest first (no key needed; payhub audit verify checks them)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				head, err := st.GetAuditHead(ctx)
				if err != nil {
					return err
				}
				entries, err := st.ListAuditEntries(ctx, max(head.Seq-int64(limit), 0), limit)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if len(entries) == 0 {
					fmt.Fprintln(out, "the audit log is empty")
				}
				for _, e := range entries {
					req := ""
					if e.RequestID != "" {
						req = " request " + e.RequestID
					}
					fmt.Fprintf(out, "%d %s %s %s %s %s%s\n", e.Seq, e.At.Format(time.RFC3339), e.Actor, e.Action, e.Target, e.Params, req)
				}
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().IntVar(&limit, "limit", 20, "how many of the latest entries")
	return cmd
}
