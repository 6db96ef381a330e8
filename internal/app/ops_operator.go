package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"payhub/contracts"
	"payhub/internal/audit"
	"payhub/internal/operators"
)

// Operator step-up enrolment (docs/security.md §7): `payhub ops operator enroll|unlock`.

// withOperatorCommands adds `operator` to the `payhub ops` parent command and returns it,
// so the parent stays shared (commands.go: withOperatorCommands(OpsCommand())).
func withOperatorCommands(ops *cobra.Command) *cobra.Command {
	ops.AddCommand(opsOperatorCommand())
	return ops
}

func opsOperatorCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "operator", Short: "Enrol operators for TOTP step-up and lift their lockouts (PAYHUB_SECRET_KEYS, PAYHUB_AUDIT_KEY)"}
	cmd.AddCommand(opsOperatorEnrollCommand(), opsOperatorUnlockCommand())
	return cmd
}

func opsOperatorEnrollCommand() *cobra.Command {
	var dbURL, operator, actor string
	var replace bool
	cmd := &cobra.Command{
		Use:   "enroll",
		Short: "Give an operator a new TOTP secret for step-up; prints it once",
		Long: `Enrol an operator (the subject of their operator tokens, as in PAYHUB_OPERATOR_KEYS) for
TOTP step-up: every change through /v1/ops needs a code accepted by POST /v1/ops/step-up
within the last 5 minutes (docs/security.md §7). For security admins.

A new 20-byte secret (TOTP: SHA-1, 6 digits, 30 s) is generated, sealed under
PAYHUB_SECRET_KEYS (the ring serve runs with) and stored; the otpauth:// URL and the secret
are printed once, for the operator's authenticator app, and never again. The enrolment is
recorded in the audit log (PAYHUB_AUDIT_KEY) in the same transaction, without the secret.
An operator enrolled before keeps their secret unless --replace is given.

This command is the bootstrap of the two-person rule (docs/security.md §8): it works only
while fewer than two operators are enrolled. From then on an enrolment is an approval
request (POST /v1/ops/operators/{id}/enroll, approved by a second security admin), and the
enrolled operator fetches their otpauth URL once (GET /v1/ops/operators/me/enrollment).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkID("operator", operator); err != nil {
				return err
			}
			box, err := secretRing()
			if err != nil {
				return err
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				by := cliActor(actor)
				var en operators.Enrolment
				err := st.InTx(ctx, func(tx contracts.Tx) error {
					if n, err := tx.CountEnrolledOperators(ctx); err != nil {
						return err
					} else if n >= bootstrapOperators {
						return errBootstrapOver
					}
					_, err := tx.GetOperatorTOTPForUpdate(ctx, operator)
					switch {
					case err == nil && !replace:
						return fmt.Errorf("operator %s is enrolled already: --replace gives them a new secret (the old one stops working)", operator)
					case err != nil && !errors.Is(err, contracts.ErrNotFound):
						return err
					}
					replaced := err == nil
					if en, err = operators.Enroll(ctx, tx, box, operator, by, time.Now().UTC()); err != nil {
						return err
					}
					return recordChange(ctx, tx, key, by, "operator.step_up.enroll", "operator:"+operator, audit.Change{
						After: map[string]any{"replaced": replaced, "sealed_under": box.KeyID(),
							"period_seconds": int(operators.Period / time.Second), "digits": 6, "algorithm": "SHA1"}})
				})
				if err != nil {
					return fmt.Errorf("enrol operator: %w", err)
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "enrolled operator %s for step-up (secret sealed under key %s)\n", operator, box.KeyID())
				fmt.Fprintf(out, "otpauth URL: %s\n", en.URL)
				fmt.Fprintf(out, "secret:      %s\n", en.Secret)
				fmt.Fprintln(out, "Shown once: hand it to the operator over a safe channel for their authenticator app; payhub cannot show it again.")
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().StringVar(&operator, "operator", "", "the operator's id (their tokens' iss, as in PAYHUB_OPERATOR_KEYS)")
	cmd.Flags().BoolVar(&replace, "replace", false, "replace the secret of an operator enrolled before")
	actorFlag(cmd, &actor)
	_ = cmd.MarkFlagRequired("operator")
	return cmd
}

// bootstrapOperators is how many operators `payhub ops operator enroll` may enrol: after
// them, the two-person rule needs no command-line way around it.
const bootstrapOperators = 2

// errBootstrapOver refuses a command-line enrolment once two operators are enrolled.
var errBootstrapOver = fmt.Errorf("%d operators are enrolled already: enrolments now need two-person approval — a security admin asks with POST /v1/ops/operators/{id}/enroll, another approves it, and the operator fetches their otpauth URL once from GET /v1/ops/operators/me/enrollment", bootstrapOperators)

func opsOperatorUnlockCommand() *cobra.Command {
	var dbURL, operator, actor string
	cmd := &cobra.Command{
		Use:   "unlock",
		Short: "Lift an operator's step-up lockout and clear their wrong-code count",
		Long: `Five wrong TOTP codes within 15 minutes lock an operator's step-up for 15 minutes
(docs/security.md §7). This lifts the lockout at once and clears the count, recorded in
the audit log (PAYHUB_AUDIT_KEY). Codes used before stay used.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkID("operator", operator); err != nil {
				return err
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				var before contracts.OperatorTOTP
				err := st.InTx(ctx, func(tx contracts.Tx) error {
					var err error
					if before, err = operators.Unlock(ctx, tx, operator); err != nil {
						return err
					}
					was := map[string]any{"failures": before.Failures}
					if before.LockedUntil != nil {
						was["locked_until"] = before.LockedUntil.UTC().Format(time.RFC3339)
					}
					return recordChange(ctx, tx, key, cliActor(actor), "operator.step_up.unlock", "operator:"+operator,
						audit.Change{Before: was, After: map[string]any{"failures": 0}})
				})
				if errors.Is(err, operators.ErrNotEnrolled) {
					return fmt.Errorf("operator %s is not enrolled (payhub ops operator enroll)", operator)
				}
				if err != nil {
					return fmt.Errorf("unlock operator: %w", err)
				}
				if before.LockedUntil != nil && before.LockedUntil.After(time.Now()) {
					fmt.Fprintf(cmd.OutOrStdout(), "unlocked operator %s (was locked until %s)\n", operator, before.LockedUntil.UTC().Format(time.RFC3339))
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "operator %s was not locked; wrong-code count cleared\n", operator)
				}
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().StringVar(&operator, "operator", "", "the operator's id")
	actorFlag(cmd, &actor)
	_ = cmd.MarkFlagRequired("operator")
	return cmd
}
