package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"payhub/contracts"
	"payhub/internal/approvals"
	"payhub/internal/audit"
	"payhub/internal/auth"
	"payhub/internal/clients"
	"payhub/internal/config"
	"payhub/internal/hub"
	"payhub/internal/store"
)

// revocationDelay is how long a running payhub may still accept a revoked key: the
// verifier trusts a key read from the registry for auth.DefaultKeyTTL.
const revocationDelay = auth.DefaultKeyTTL

func ClientCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Manage store clients (POS systems), their keys and return origins"}
	cmd.AddCommand(clientRegisterCommand(), clientRevokeCommand(), clientRotateKeyCommand(), clientListCommand(),
		clientSetReturnOriginsCommand(), clientSetAllowlistCommand())
	return cmd
}

// dbFlag is the --db flag every client command takes.
func dbFlag(cmd *cobra.Command, dbURL *string) {
	cmd.Flags().StringVar(dbURL, "db", "", "database: sqlite:<file> or postgres://… (default $PAYHUB_DATABASE_URL, else sqlite:payhub.db)")
}

// withClientStore runs fn on the database the --db flag names.
func withClientStore(dbURL string, fn func(ctx context.Context, st contracts.Store) error) error {
	ctx := context.Background()
	st, err := store.Open(ctx, config.DatabaseURL(dbURL))
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(ctx, st)
}

// readPublicKey reads a PKIX PEM public key file and names the algorithm it is pinned to.
func readPublicKey(file string) ([]byte, string, error) {
	pub, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("read public key: %w", err)
	}
	alg, err := auth.PublicKeyAlgorithm(pub)
	if err != nil {
		return nil, "", fmt.Errorf("public key: %w", err)
	}
	return pub, alg, nil
}

func checkID(what, id string) error { return clients.CheckID(what, id) }

// noteLoopbackOrigins tells the operator that loopback origins serve local setups only.
func noteLoopbackOrigins(w io.Writer, origins []string) {
	for _, o := range origins {
		if hub.LoopbackOrigin(o) {
			fmt.Fprintf(w, "note: %s is a loopback origin; payhub sends browsers there only while its own public URL is loopback (payhub demo, local testing)\n", o)
		}
	}
}

// requestClientChange asks for a client change through two-person approval
// (docs/security.md §8) as the CLI's actor and says who must approve it: nothing changes
// until a security admin other than the requester approves it through the operator API.
func requestClientChange(ctx context.Context, st contracts.Store, out io.Writer, key []byte, actor, action string, params any, reason, summary string) error {
	svc := approvals.New(approvals.Config{Store: st, AuditKey: key})
	a, err := svc.Request(ctx, approvals.Requester{ID: cliActor(actor)}, action, params, reason, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "approval %s requested: %s (%s, params %s)\n", a.ID, summary, action, a.ParamsHash)
	fmt.Fprintf(out, "nothing changes until then; it expires at %s\n", a.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintf(out, "waiting for a security_admin to approve: payhub ops approvals approve %s\n", a.ID)
	return nil
}

func clientRegisterCommand() *cobra.Command {
	var dbURL, clientID, name, kid, pubFile, actor string
	var stores, origins, cidrs []string
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Ask to register a store client with its stores, one public key (PKIX PEM) and its shop's return origins",
		Long: `Ask to register a store checkout system. Registering a client is a two-person change
(docs/security.md §8): this command stores a client.register approval request and prints
its id; nothing is registered until a security admin other than you approves it
(payhub ops approvals approve <id>, or POST /v1/ops/approvals/<id>/approve).

Its public key (Ed25519 or P-256, PKIX PEM) is pinned to its algorithm; the client keeps
the private key and signs its own tokens.

--return-origin (repeatable) names where the return_url of the client's redirect payments
(LINE Pay online, cards with 3-D Secure) may point: https://host[:port], nothing after it.
A client without one cannot make redirect payments; payhub never sends a customer's
browser anywhere else.

--allow-cidr (repeatable) limits where the client's requests may come from (IPv4 or IPv6
networks, e.g. the store's egress 203.0.113.0/24); without one, any source.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, _, err := readPublicKey(pubFile)
			if err != nil {
				return err
			}
			r := clients.Registration{ClientID: clientID, Name: name, StoreIDs: stores, KID: kid, PublicKeyPEM: string(pub),
				ReturnOrigins: origins, AllowCIDRs: cidrs}
			if _, err := r.Normalise(); err != nil {
				return plain(err)
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				if _, err := st.GetStoreClient(ctx, clientID); err == nil {
					return fmt.Errorf("client %s is registered already", clientID)
				}
				out := cmd.OutOrStdout()
				if err := requestClientChange(ctx, st, out, key, actor, approvals.ActionClientRegister, r, "",
					fmt.Sprintf("register client %s (key %s) for stores %v", clientID, kid, r.StoreIDs)); err != nil {
					return fmt.Errorf("register client: %w", plain(err))
				}
				if len(r.ReturnOrigins) > 0 {
					fmt.Fprintf(out, "return origins: %s\n", strings.Join(r.ReturnOrigins, " "))
				} else {
					fmt.Fprintln(out, "no return origin: the client cannot make redirect payments (payhub client set-return-origins adds some)")
				}
				noteLoopbackOrigins(out, r.ReturnOrigins)
				return nil
			})
		},
	}
	f := cmd.Flags()
	dbFlag(cmd, &dbURL)
	f.StringVar(&clientID, "client", "", "client id (the tokens' iss)")
	f.StringVar(&name, "name", "", "human label")
	f.StringVar(&kid, "kid", "", "key id (the tokens' kid): 1–64 of A–Z a–z 0–9 . _ -")
	f.StringVar(&pubFile, "public-key", "", "public key file (PKIX PEM)")
	f.StringSliceVar(&stores, "store", nil, "store the client may act for (repeatable)")
	f.StringArrayVar(&origins, "return-origin", nil, "origin the return_url of redirect payments may point to, https://host[:port] (repeatable)")
	f.StringArrayVar(&cidrs, "allow-cidr", nil, "network the client's requests may come from, IPv4 or IPv6 CIDR or one address (repeatable; none: any source)")
	actorFlag(cmd, &actor)
	for _, req := range []string{"client", "kid", "public-key", "store"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}

// plain is err as the CLI says it: a refusal's detail.
func plain(err error) error {
	if e, ok := contracts.AsError(err); ok {
		return errors.New(e.Detail)
	}
	return err
}

func clientRevokeCommand() *cobra.Command {
	var dbURL, kid, actor, reason string
	cmd := &cobra.Command{
		Use:   "revoke",
		Short: "Ask to revoke a store client's key: once approved, tokens it signs are refused within seconds",
		Long: fmt.Sprintf(`Ask to revoke a key, e.g. one that leaked. Revoking is a two-person change
(docs/security.md §8): this command stores a client.revoke approval request and prints its
id; a security admin other than you approves it (payhub ops approvals approve <id>). From
then on every payhub process sharing the database refuses tokens signed with the key within
%s (a process trusts a key it read from the registry that long), including tokens minted
before. The client's other keys keep working; register a new one with payhub client
rotate-key first if this was its only key.`, revocationDelay),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := clients.CheckKeyID(kid); err != nil {
				return err
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				k, found, err := findClientKey(ctx, st, kid)
				if err != nil {
					return err
				}
				if !found {
					return fmt.Errorf("no key %s is registered", kid)
				}
				out := cmd.OutOrStdout()
				if k.RevokedAt != nil {
					fmt.Fprintf(out, "key %s of client %s was already revoked at %s\n", kid, k.ClientID, k.RevokedAt.Format(time.RFC3339))
					return nil
				}
				r := clients.Revocation{ClientID: k.ClientID, KIDs: []string{kid}, Reason: reason}
				if err := requestClientChange(ctx, st, out, key, actor, approvals.ActionClientRevoke, r, reason,
					fmt.Sprintf("revoke key %s of client %s", kid, k.ClientID)); err != nil {
					return fmt.Errorf("revoke key: %w", plain(err))
				}
				fmt.Fprintf(out, "once approved, running payhub processes refuse its tokens within %s\n", revocationDelay)
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().StringVar(&kid, "kid", "", "key id to revoke")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the approver and the audit log")
	actorFlag(cmd, &actor)
	_ = cmd.MarkFlagRequired("kid")
	return cmd
}

// findClientKey finds the key kid among every client's keys, revoked ones included.
func findClientKey(ctx context.Context, st contracts.Store, kid string) (contracts.ClientKey, bool, error) {
	list, err := st.ListStoreClients(ctx)
	if err != nil {
		return contracts.ClientKey{}, false, err
	}
	for _, c := range list {
		for _, k := range c.Keys {
			if k.KID == kid {
				return k, true, nil
			}
		}
	}
	return contracts.ClientKey{}, false, nil
}

func clientRotateKeyCommand() *cobra.Command {
	var dbURL, clientID, kid, pubFile, actor string
	var revokeOld bool
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Ask to register a new key for a store client (and, with --revoke-old, revoke its other keys)",
		Long: fmt.Sprintf(`Ask to register another public key (PKIX PEM, Ed25519 or P-256) for an existing client.
A key change is a two-person change (docs/security.md §8): this command stores a
client.rotate_key approval request and prints its id; a security admin other than you
approves it (payhub ops approvals approve <id>). Once it runs, the client's other keys stay
valid, so the client can switch to the new one without a gap (tokens live at most 5
minutes); revoke the old one afterwards with payhub client revoke. With --revoke-old, for a
key that leaked, the client's other keys active now are revoked with it: running payhub
processes refuse them within %s.`, revocationDelay),
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, _, err := readPublicKey(pubFile)
			if err != nil {
				return err
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				c, err := st.GetStoreClient(ctx, clientID)
				if errors.Is(err, contracts.ErrNotFound) {
					return fmt.Errorf("no client %s is registered", clientID)
				}
				if err != nil {
					return err
				}
				// The keys --revoke-old revokes: the client's active keys as it is asked for.
				k := clients.KeyRotation{ClientID: clientID, KID: kid, PublicKeyPEM: string(pub)}
				for _, o := range c.Keys {
					if revokeOld && o.RevokedAt == nil && o.KID != kid {
						k.RevokeKIDs = append(k.RevokeKIDs, o.KID)
					}
				}
				if _, err := k.Normalise(); err != nil {
					return plain(err)
				}
				if _, found, err := findClientKey(ctx, st, kid); err != nil {
					return err
				} else if found {
					return fmt.Errorf("key id %s is taken", kid)
				}
				out := cmd.OutOrStdout()
				if err := requestClientChange(ctx, st, out, key, actor, approvals.ActionClientRotateKey, k, "",
					fmt.Sprintf("add key %s to client %s", kid, clientID)); err != nil {
					return fmt.Errorf("add key: %w", plain(err))
				}
				for _, o := range k.RevokeKIDs {
					fmt.Fprintf(out, "with it, key %s is revoked; running payhub processes refuse its tokens within %s\n", o, revocationDelay)
				}
				for _, o := range c.Keys {
					if !revokeOld && o.KID != kid && o.RevokedAt == nil {
						fmt.Fprintf(out, "key %s stays valid: once the client signs with %s, run payhub client revoke --kid %s\n", o.KID, kid, o.KID)
					}
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	dbFlag(cmd, &dbURL)
	f.StringVar(&clientID, "client", "", "client id")
	f.StringVar(&kid, "kid", "", "the new key's id: 1–64 of A–Z a–z 0–9 . _ -")
	f.StringVar(&pubFile, "public-key", "", "the new public key file (PKIX PEM)")
	f.BoolVar(&revokeOld, "revoke-old", false, "revoke the client's other keys with it (a leaked key)")
	actorFlag(cmd, &actor)
	for _, req := range []string{"client", "kid", "public-key"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}

func clientListCommand() *cobra.Command {
	var dbURL string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the store clients with their stores, keys and return origins",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				clients, err := st.ListStoreClients(ctx)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if len(clients) == 0 {
					fmt.Fprintln(out, "no store clients")
				}
				for _, c := range clients {
					fmt.Fprintf(out, "client %s (%s), registered %s\n", c.ID, c.Name, c.CreatedAt.Format(time.RFC3339))
					fmt.Fprintf(out, "  stores: %s\n", strings.Join(c.Stores, " "))
					origins := strings.Join(c.ReturnOrigins, " ")
					if origins == "" {
						origins = "none (no redirect payments)"
					}
					fmt.Fprintf(out, "  return origins: %s\n", origins)
					for _, k := range c.Keys {
						state := "active"
						if k.RevokedAt != nil {
							state = "revoked " + k.RevokedAt.Format(time.RFC3339)
						}
						fmt.Fprintf(out, "  key %s %s, added %s, %s\n", k.KID, k.Algorithm, k.CreatedAt.Format(time.RFC3339), state)
					}
				}
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	return cmd
}

func clientSetReturnOriginsCommand() *cobra.Command {
	var dbURL, clientID, actor string
	var origins []string
	cmd := &cobra.Command{
		Use:   "set-return-origins",
		Short: "Replace the origins a store client's return_url may point to",
		Long: `Replace a client's return origins (https://host[:port], repeatable --return-origin;
none: the client can make no redirect payments). New payments are checked against them at
once; payments already created keep their return_url.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkID("client id", clientID); err != nil {
				return err
			}
			normalised, err := clients.ReturnOrigins(origins)
			if err != nil {
				return err
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				var before []string
				if c, err := st.GetStoreClient(ctx, clientID); err == nil {
					before = c.ReturnOrigins
				}
				err := replaceClientList(ctx, st, key, actor, clientID, "return_origins", before, normalised, func(tx contracts.Tx) error {
					return tx.SetClientReturnOrigins(ctx, clientID, normalised)
				})
				if err != nil {
					return fmt.Errorf("set return origins: %w", err)
				}
				out := cmd.OutOrStdout()
				if len(normalised) == 0 {
					fmt.Fprintf(out, "client %s has no return origin: it cannot make redirect payments\n", clientID)
					return nil
				}
				fmt.Fprintf(out, "client %s return origins: %s\n", clientID, strings.Join(normalised, " "))
				noteLoopbackOrigins(out, normalised)
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().StringVar(&clientID, "client", "", "client id")
	cmd.Flags().StringArrayVar(&origins, "return-origin", nil, "origin the return_url of redirect payments may point to (repeatable; none clears)")
	actorFlag(cmd, &actor)
	_ = cmd.MarkFlagRequired("client")
	return cmd
}

func clientSetAllowlistCommand() *cobra.Command {
	var dbURL, clientID, actor string
	var cidrs []string
	cmd := &cobra.Command{
		Use:   "set-allowlist",
		Short: "Ask to replace the networks a store client's requests may come from",
		Long: `Ask to replace a client's source allowlist (repeatable --allow-cidr; none: any source).
Changing it is a two-person change (docs/security.md §8): this command stores a
client.set_allowlist approval request and prints its id; a security admin other than you
approves it (payhub ops approvals approve <id>). From then on a request from elsewhere is
refused with 403 ip_not_allowed by every payhub process within seconds (docs/security.md
§6). The change is audited.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l := clients.Allowlist{ClientID: clientID, AllowCIDRs: cidrs}
			networks, err := l.Normalise()
			if err != nil {
				return plain(err)
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				if _, err := st.GetStoreClient(ctx, clientID); errors.Is(err, contracts.ErrNotFound) {
					return fmt.Errorf("no client %s is registered", clientID)
				} else if err != nil {
					return err
				}
				summary := fmt.Sprintf("client %s may call only from: %s", clientID, strings.Join(clients.PrefixStrings(networks), " "))
				if len(networks) == 0 {
					summary = fmt.Sprintf("client %s may call from any source", clientID)
				}
				if err := requestClientChange(ctx, st, cmd.OutOrStdout(), key, actor, approvals.ActionClientSetAllowlist, l, "", summary); err != nil {
					return fmt.Errorf("set source allowlist: %w", plain(err))
				}
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().StringVar(&clientID, "client", "", "client id")
	cmd.Flags().StringArrayVar(&cidrs, "allow-cidr", nil, "network the client's requests may come from (repeatable; none: any source)")
	actorFlag(cmd, &actor)
	_ = cmd.MarkFlagRequired("client")
	return cmd
}

// replaceClientList replaces one list of a client (set) in a transaction with its audit
// entry, client.set_<field>, naming the list before and after (docs/security.md §9).
func replaceClientList(ctx context.Context, st contracts.Store, key []byte, actor, clientID, field string, before, after any,
	set func(tx contracts.Tx) error) error {
	err := st.InTx(ctx, func(tx contracts.Tx) error {
		if err := set(tx); err != nil {
			return err
		}
		return recordChange(ctx, tx, key, cliActor(actor), "client.set_"+field, "client:"+clientID, audit.Change{
			Before: map[string]any{field: before}, After: map[string]any{field: after}})
	})
	if errors.Is(err, contracts.ErrNotFound) {
		return fmt.Errorf("no client %s is registered", clientID)
	}
	return err
}
