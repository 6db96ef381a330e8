package app

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"
)

// `payhub ops client …`: who may call payhub, changed through the operator API
// (docs/ops-api.md). Each change is an approval request for a second security admin
// (docs/security.md §8); `payhub client …` does the same on the database host.

func opsClientCommand(f *opsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Register store clients, rotate and revoke their keys, set their allowlists (approval requests)",
		Long: `Changes to who may call payhub, through the operator API of a running payhub (--url; serve
must be reachable). Each needs the security_admin role and a step-up, and becomes an
approval request (apr_…) that runs when a different security admin approves it
(payhub ops approvals approve). payhub client … makes the same changes on the database
host.`,
	}
	cmd.AddCommand(opsClientRevokeCommand(f), opsClientRotateKeyCommand(f), opsClientSetAllowlistCommand(f), opsClientRegisterCommand(f))
	return cmd
}

func opsClientRevokeCommand(f *opsFlags) *cobra.Command {
	var kid, reason string
	cmd := &cobra.Command{
		Use:   "revoke <client-id>",
		Short: "Ask to revoke a client's keys (all active ones, or --kid): an approval request",
		Example: `  payhub ops client revoke pos-1 --kid pos-1-key-1 --reason "INC-42: key leaked"
  payhub ops client revoke pos-1 --reason "INC-42: client compromised"`,
		Args: cobra.ExactArgs(1),
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, args []string) error {
			raw, err := c.post(cmd.Context(), "/v1/ops/clients/"+url.PathEscape(args[0])+"/revoke", map[string]string{"reason": reason, "kid": kid})
			if err != nil {
				return err
			}
			return printApprovalAnswer(cmd.OutOrStdout(), f.json, raw)
		}),
	}
	cmd.Flags().StringVar(&kid, "kid", "", "revoke this key only (default: every active key of the client)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; audited)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func opsClientRotateKeyCommand(f *opsFlags) *cobra.Command {
	var kid, publicKey, retire string
	cmd := &cobra.Command{
		Use:   "rotate-key <client-id>",
		Short: "Ask to add a key to a client (and revoke --retire-kid): an approval request",
		Args:  cobra.ExactArgs(1),
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, args []string) error {
			pem, err := os.ReadFile(publicKey)
			if err != nil {
				return fmt.Errorf("read public key: %w", err)
			}
			raw, err := c.post(cmd.Context(), "/v1/ops/clients/"+url.PathEscape(args[0])+"/rotate-key",
				map[string]string{"kid": kid, "public_key_pem": string(pem), "retire_kid": retire})
			if err != nil {
				return err
			}
			return printApprovalAnswer(cmd.OutOrStdout(), f.json, raw)
		}),
	}
	cmd.Flags().StringVar(&kid, "kid", "", "the new key's id (required)")
	cmd.Flags().StringVar(&publicKey, "public-key", "", "the new key: a PKIX PEM file, Ed25519 or P-256 (required)")
	cmd.Flags().StringVar(&retire, "retire-kid", "", "a key of the client to revoke in the same change (a leak)")
	_ = cmd.MarkFlagRequired("kid")
	_ = cmd.MarkFlagRequired("public-key")
	return cmd
}

func opsClientSetAllowlistCommand(f *opsFlags) *cobra.Command {
	var cidrs []string
	cmd := &cobra.Command{
		Use:   "set-allowlist <client-id>",
		Short: "Ask to replace where a client's requests may come from: an approval request",
		Args:  cobra.ExactArgs(1),
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, args []string) error {
			if cidrs == nil {
				cidrs = []string{}
			}
			raw, err := c.post(cmd.Context(), "/v1/ops/clients/"+url.PathEscape(args[0])+"/allowlist", map[string][]string{"allow_cidrs": cidrs})
			if err != nil {
				return err
			}
			return printApprovalAnswer(cmd.OutOrStdout(), f.json, raw)
		}),
	}
	cmd.Flags().StringSliceVar(&cidrs, "allow-cidr", nil, "an IPv4/IPv6 network or address (repeatable; none: any source)")
	return cmd
}

// opsClientRegistration is POST /v1/ops/clients's body.
type opsClientRegistration struct {
	ClientID      string   `json:"client_id"`
	Name          string   `json:"name"`
	StoreIDs      []string `json:"store_ids"`
	KID           string   `json:"kid"`
	PublicKeyPEM  string   `json:"public_key_pem"`
	ReturnOrigins []string `json:"return_origins"`
	AllowCIDRs    []string `json:"allow_cidrs"`
}

func opsClientRegisterCommand(f *opsFlags) *cobra.Command {
	var r opsClientRegistration
	var publicKey string
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Ask to register a store client: an approval request",
		Args:  cobra.NoArgs,
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, _ []string) error {
			pem, err := os.ReadFile(publicKey)
			if err != nil {
				return fmt.Errorf("read public key: %w", err)
			}
			r.PublicKeyPEM = string(pem)
			for _, l := range []*[]string{&r.StoreIDs, &r.ReturnOrigins, &r.AllowCIDRs} {
				if *l == nil {
					*l = []string{}
				}
			}
			raw, err := c.post(cmd.Context(), "/v1/ops/clients", r)
			if err != nil {
				return err
			}
			return printApprovalAnswer(cmd.OutOrStdout(), f.json, raw)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&r.ClientID, "client", "", "client id (required)")
	fl.StringVar(&r.Name, "name", "", "display name (default: the id)")
	fl.StringSliceVar(&r.StoreIDs, "store", nil, "a store the client acts for (repeatable; at least one)")
	fl.StringVar(&r.KID, "kid", "", "the key's id (required)")
	fl.StringVar(&publicKey, "public-key", "", "the client's public key: a PKIX PEM file, Ed25519 or P-256 (required)")
	fl.StringSliceVar(&r.ReturnOrigins, "return-origin", nil, "where its redirect payments may return, https://host[:port] (repeatable)")
	fl.StringSliceVar(&r.AllowCIDRs, "allow-cidr", nil, "a network its requests may come from (repeatable; none: any source)")
	for _, name := range []string{"client", "kid", "public-key", "store"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func opsEnrollCommand(f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "enroll <operator-id>",
		Short: "Ask to enrol an operator for TOTP step-up: an approval request a second security admin approves",
		Long: `POST /v1/ops/operators/{id}/enroll: an operator.enroll approval request (security_admin,
step-up). Once a different security admin approves it, the operator fetches their
otpauth:// URL once with payhub ops enrollment, with a token of their own. (payhub ops
operator enroll, on the database host, enrols only the first two operators.)`,
		Args: cobra.ExactArgs(1),
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, args []string) error {
			raw, err := c.post(cmd.Context(), "/v1/ops/operators/"+url.PathEscape(args[0])+"/enroll", struct{}{})
			if err != nil {
				return err
			}
			return printApprovalAnswer(cmd.OutOrStdout(), f.json, raw)
		}),
	}
}

// opsEnrollment is GET /v1/ops/operators/me/enrollment's answer.
type opsEnrollment struct {
	Operator   string `json:"operator"`
	OTPAuthURL string `json:"otpauth_url"`
}

func opsEnrollmentCommand(f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "enrollment",
		Short: "Fetch your own TOTP enrolment (otpauth:// URL) once, after it was approved",
		Long: `GET /v1/ops/operators/me/enrollment: the otpauth:// URL of your approved enrolment, for
your authenticator app. payhub answers it once (then 404): keep it off screens and logs.`,
		Args: cobra.NoArgs,
		RunE: opsRun(f, func(cmd *cobra.Command, c *opsClient, _ []string) error {
			raw, err := c.get(cmd.Context(), "/v1/ops/operators/me/enrollment", nil)
			if err != nil {
				return err
			}
			if f.json {
				writeJSON(cmd.OutOrStdout(), raw)
				return nil
			}
			var en opsEnrollment
			if err := json.Unmarshal(raw, &en); err != nil {
				return fmt.Errorf("read the enrolment: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "enrolment of %s (shown once; add it to your authenticator app):\notpauth URL: %s\n", en.Operator, en.OTPAuthURL)
			return nil
		}),
	}
}
