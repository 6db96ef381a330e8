package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"payhub/internal/config"
	"payhub/internal/secrets"
	"payhub/internal/store"
)

// SecretsCommand is `payhub secrets`: the key ring that seals the secrets payhub keeps at
// rest (PAYHUB_SECRET_KEYS, newest first) — `status` shows which key holds what, `reseal`
// moves everything to the newest key so the older ones can be dropped.
func SecretsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Rotate the key that seals secrets at rest (PAYHUB_SECRET_KEYS)",
		Long: `payhub keeps GMO-PG's AccessID/AccessPass and the webhook endpoints' signing secrets
sealed (AES-256-GCM) under PAYHUB_SECRET_KEYS: keys of 32 bytes in base64, newest first. The
first key seals, every key opens. To rotate: put a new key first on every instance and
restart them, run 'payhub secrets reseal --key-id <new key id>', check 'payhub secrets
status', then drop the old key. Keys come from the environment (or <NAME>_FILE), never from
flags.`,
	}
	cmd.AddCommand(secretsResealCommand(), secretsStatusCommand())
	return cmd
}

// secretRing is the configured key ring; an error when none is configured.
func secretRing() (*secrets.Box, error) {
	keys, err := config.SecretKeys()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no key configured: set PAYHUB_SECRET_KEYS (the new key first, then the old ones; base64 of 32 bytes each) or PAYHUB_SECRET_KEY")
	}
	return secrets.NewRing(keys...)
}

// describeRing names the ring's keys by id: never the keys.
func describeRing(box *secrets.Box) string {
	ids := box.KeyIDs()
	s := "sealing key " + ids[0]
	if len(ids) > 1 {
		s += ", also opening " + strings.Join(ids[1:], ", ")
	}
	return s
}

func secretsResealCommand() *cobra.Command {
	var (
		dbURL, keyID string
		batch        int
		pause        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "reseal",
		Short: "Move every sealed value to the newest key of PAYHUB_SECRET_KEYS",
		Long: `Reseal every sealed value under the newest key of PAYHUB_SECRET_KEYS: the payments'
partner credentials (format v1 without key id, or under an older key) and the webhook
endpoints' signing secrets (sealing those still kept in clear). It refuses to run unless
--key-id names the newest key (the first of PAYHUB_SECRET_KEYS; 'payhub secrets status'
shows the ids), so it never moves values to a key the instances do not have: put the new
key first on every instance before resealing.

It works in batches, each in its own transaction, and never rewrites a value already under
the newest key: stopped or killed, it goes on where it stopped when run again, and run once
more it changes nothing. Instances keep serving meanwhile. It prints counts and row ids,
never a secret. Exit status 1 while values it cannot move remain: values no configured key
opens (listed by row), or values an instance keeps sealing under an older key.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			box, err := secretRing()
			if err != nil {
				return err
			}
			switch {
			case keyID == "":
				return fmt.Errorf("--key-id is required: the id of the key to move to, the first of PAYHUB_SECRET_KEYS (%s)", describeRing(box))
			case keyID != box.KeyID() && box.Has(keyID):
				return fmt.Errorf("key %s is configured but does not seal: put it first in PAYHUB_SECRET_KEYS (%s)", keyID, describeRing(box))
			case keyID != box.KeyID():
				return fmt.Errorf("key %s is not configured (%s): set PAYHUB_SECRET_KEYS with the new key first", keyID, describeRing(box))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			st, err := store.Open(ctx, config.DatabaseURL(dbURL))
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "resealing under key %s (%s)\n", box.KeyID(), describeRing(box))
			batches := 0
			res, err := store.Reseal(ctx, st, box, store.ResealOptions{BatchSize: batch, Pause: pause, Progress: func(b store.ResealBatch) error {
				batches++
				fmt.Fprintf(out, "batch %d: %s pass %d: resealed %d (through %s)\n", batches, b.Column, b.Pass, b.Resealed, b.Through)
				return nil
			}})
			for _, col := range store.SealedColumns {
				fmt.Fprintf(out, "%s: resealed %d\n", col, res.Resealed[col])
				for _, row := range res.Unreadable[col] {
					fmt.Fprintf(out, "%s: %s opens under no configured key: left as it is\n", col, row)
				}
			}
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return errors.New("reseal stopped: what it did is committed; run it again to go on")
				}
				return err
			}
			fmt.Fprintf(out, "done: every sealed value is under key %s\n", box.KeyID())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dbURL, "db", "", "database: sqlite:<file> or postgres://… (default $PAYHUB_DATABASE_URL, else sqlite:payhub.db)")
	f.StringVar(&keyID, "key-id", "", "the id of the key to move to: the first of PAYHUB_SECRET_KEYS (required)")
	f.IntVar(&batch, "batch-size", store.DefaultResealBatch, "values per transaction")
	f.DurationVar(&pause, "pause", 0, "wait between batches, to spare a busy database")
	return cmd
}

func secretsStatusCommand() *cobra.Command {
	var dbURL string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Count the sealed values under each key, and those no configured key opens",
		RunE: func(cmd *cobra.Command, _ []string) error {
			box, err := secretRing()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := store.Open(ctx, config.DatabaseURL(dbURL))
			if err != nil {
				return err
			}
			defer st.Close()
			inv, err := store.Inventory(ctx, st, box)
			if err != nil {
				return err
			}
			return writeSecretsStatus(cmd.OutOrStdout(), box, inv)
		},
	}
	cmd.Flags().StringVar(&dbURL, "db", "", "database: sqlite:<file> or postgres://… (default $PAYHUB_DATABASE_URL, else sqlite:payhub.db)")
	return cmd
}

// writeSecretsStatus prints the inventory: per column, how many values each key holds.
func writeSecretsStatus(out io.Writer, box *secrets.Box, inv map[string]store.SealedCounts) error {
	fmt.Fprintf(out, "configured: %s\n", describeRing(box))
	stale := 0
	for _, col := range store.SealedColumns {
		c := inv[col]
		labels := make([]string, 0, len(c.ByKey))
		for k := range c.ByKey {
			labels = append(labels, k)
		}
		slices.Sort(labels)
		fmt.Fprintf(out, "%s:\n", col)
		if len(labels) == 0 {
			fmt.Fprintln(out, "  none")
		}
		for _, k := range labels {
			what := ""
			switch {
			case k == box.KeyID():
				what = "the sealing key"
			case k == "v1":
				what = "format v1, no key id: reseal"
			case k == "clear":
				what = "in clear: reseal"
			case k == "unknown":
				what = "no sealed format"
			case box.Has(k):
				what = "an older configured key: reseal"
			default:
				what = "a key not configured"
			}
			if k != box.KeyID() {
				stale += c.ByKey[k]
			}
			fmt.Fprintf(out, "  %-12s %8d  %s\n", k, c.ByKey[k], what)
		}
		if c.Unreadable > 0 {
			fmt.Fprintf(out, "  %d open under no configured key\n", c.Unreadable)
		}
	}
	if stale == 0 {
		fmt.Fprintf(out, "every sealed value is under %s: the other keys may be dropped\n", box.KeyID())
	}
	return nil
}
