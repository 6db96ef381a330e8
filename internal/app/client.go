package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"payhub/contracts"
	"payhub/internal/audit"
	"payhub/internal/auth"
	"payhub/internal/config"
	"payhub/internal/hub"
	"payhub/internal/store"
)

// idPattern is the syntax of client and store ids: they travel in tokens (iss, store) and
// into logs, so they hold no spaces, slashes or control characters. Key ids follow the
// verifier's own rule (auth.ValidKeyID), the same characters.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

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

func checkKeyID(kid string) error {
	if !auth.ValidKeyID(kid) {
		return fmt.Errorf("key id %q: use 1 to 64 of A–Z, a–z, 0–9, '.', '_' and '-' (a token's kid can carry nothing else)", kid)
	}
	return nil
}

func checkID(what, id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%s %q: use 1 to 64 of A–Z, a–z, 0–9, '.', '_' and '-'", what, id)
	}
	return nil
}

// returnOrigins checks and normalises --return-origin values, dropping repeats.
func returnOrigins(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		o, err := hub.ParseReturnOrigin(v)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

// noteLoopbackOrigins tells the operator that loopback origins serve local setups only.
func noteLoopbackOrigins(w io.Writer, origins []string) {
	for _, o := range origins {
		if hub.LoopbackOrigin(o) {
			fmt.Fprintf(w, "note: %s is a loopback origin; payhub sends browsers there only while its own public URL is loopback (payhub demo, local testing)\n", o)
		}
	}
}

func clientRegisterCommand() *cobra.Command {
	var dbURL, clientID, name, kid, pubFile, actor string
	var stores, origins, cidrs []string
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register a store client with its stores, one public key (PKIX PEM) and its shop's return origins",
		Long: `Register a store checkout system. Its public key (Ed25519 or P-256, PKIX PEM) is
pinned to its algorithm; the client keeps the private key and signs its own tokens.

--return-origin (repeatable) names where the return_url of the client's redirect payments
(LINE Pay online, cards with 3-D Secure) may point: https://host[:port], nothing after it.
A client without one cannot make redirect payments; payhub never sends a customer's
browser anywhere else.

--allow-cidr (repeatable) limits where the client's requests may come from (IPv4 or IPv6
networks, e.g. the store's egress 203.0.113.0/24); without one, any source.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkID("client id", clientID); err != nil {
				return err
			}
			if err := checkKeyID(kid); err != nil {
				return err
			}
			for _, s := range stores {
				if err := checkID("store id", s); err != nil {
					return err
				}
			}
			normalised, err := returnOrigins(origins)
			if err != nil {
				return err
			}
			networks, err := sourceNetworks(cidrs)
			if err != nil {
				return err
			}
			pub, alg, err := readPublicKey(pubFile)
			if err != nil {
				return err
			}
			if name == "" {
				name = clientID
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				now := time.Now().UTC()
				c := contracts.StoreClient{ID: clientID, Name: name, Stores: stores, CreatedAt: now,
					ReturnOrigins: normalised, SourceAllowlist: networks,
					Keys: []contracts.ClientKey{{KID: kid, ClientID: clientID, Algorithm: alg, PublicKeyPEM: pub, CreatedAt: now}}}
				err := st.InTx(ctx, func(tx contracts.Tx) error {
					if err := tx.CreateStoreClient(ctx, c); err != nil {
						return err
					}
					return recordChange(ctx, tx, key, cliActor(actor), "client.register", "client:"+clientID, audit.Change{
						After: map[string]any{"name": name, "stores": stores, "return_origins": normalised,
							"source_allowlist": prefixStrings(networks), "key": map[string]any{"kid": kid, "algorithm": alg, "public_key": keyFingerprint(pub)}}})
				})
				if err != nil {
					return fmt.Errorf("register client: %w", err)
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "registered client %s (key %s, %s) for stores %v\n", clientID, kid, alg, stores)
				if len(normalised) > 0 {
					fmt.Fprintf(out, "return origins: %s\n", strings.Join(normalised, " "))
				} else {
					fmt.Fprintln(out, "no return origin: the client cannot make redirect payments (payhub client set-return-origins adds some)")
				}
				noteLoopbackOrigins(out, normalised)
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

func clientRevokeCommand() *cobra.Command {
	var dbURL, kid, actor string
	cmd := &cobra.Command{
		Use:   "revoke",
		Short: "Revoke a store client's key: tokens it signs are refused within seconds",
		Long: fmt.Sprintf(`Revoke a key, e.g. one that leaked. Every payhub process sharing the database refuses
tokens signed with it within %s (a process trusts a key it read from the registry that
long), including tokens minted before. The client's other keys keep working; register a
new one with payhub client rotate-key first if this was its only key.`, revocationDelay),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkKeyID(kid); err != nil {
				return err
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				now := time.Now().UTC().Truncate(time.Microsecond) // as the database keeps it
				var k contracts.ClientKey
				err := st.InTx(ctx, func(tx contracts.Tx) error {
					var err error
					if k, err = tx.RevokeClientKey(ctx, kid, now); err != nil || k.RevokedAt == nil || k.RevokedAt.Before(now) {
						return err // already revoked: nothing changed, nothing to record
					}
					return recordChange(ctx, tx, key, cliActor(actor), "client.revoke_key", "client:"+k.ClientID, audit.Change{
						Before: map[string]any{"kid": kid, "revoked": false},
						After:  map[string]any{"kid": kid, "revoked": true, "revoked_at": now}})
				})
				if errors.Is(err, contracts.ErrNotFound) {
					return fmt.Errorf("no key %s is registered", kid)
				}
				if err != nil {
					return fmt.Errorf("revoke key: %w", err)
				}
				out := cmd.OutOrStdout()
				if k.RevokedAt != nil && k.RevokedAt.Before(now) {
					fmt.Fprintf(out, "key %s of client %s was already revoked at %s\n", kid, k.ClientID, k.RevokedAt.Format(time.RFC3339))
					return nil
				}
				fmt.Fprintf(out, "revoked key %s of client %s at %s; running payhub processes refuse its tokens within %s\n",
					kid, k.ClientID, now.Format(time.RFC3339), revocationDelay)
				if c, err := st.GetStoreClient(ctx, k.ClientID); err == nil && activeKeys(c) == 0 {
					fmt.Fprintf(out, "client %s has no key left: it cannot authenticate until payhub client rotate-key registers one\n", k.ClientID)
				}
				return nil
			})
		},
	}
	dbFlag(cmd, &dbURL)
	cmd.Flags().StringVar(&kid, "kid", "", "key id to revoke")
	actorFlag(cmd, &actor)
	_ = cmd.MarkFlagRequired("kid")
	return cmd
}

func activeKeys(c contracts.StoreClient) int {
	n := 0
	for _, k := range c.Keys {
		if k.RevokedAt == nil {
			n++
		}
	}
	return n
}

func clientRotateKeyCommand() *cobra.Command {
	var dbURL, clientID, kid, pubFile, actor string
	var revokeOld bool
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Register a new key for a store client (and, with --revoke-old, revoke its other keys)",
		Long: fmt.Sprintf(`Register another public key (PKIX PEM, Ed25519 or P-256) for an existing client. Its
other keys stay valid, so the client can switch to the new one without a gap (tokens live
at most 5 minutes); revoke the old one afterwards with payhub client revoke. With
--revoke-old, for a key that leaked, the client's other keys are revoked at once: running
payhub processes refuse them within %s.`, revocationDelay),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkID("client id", clientID); err != nil {
				return err
			}
			if err := checkKeyID(kid); err != nil {
				return err
			}
			pub, alg, err := readPublicKey(pubFile)
			if err != nil {
				return err
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				now := time.Now().UTC()
				// The keys --revoke-old revokes: the client's active keys as the change begins.
				var old []string
				if c, err := st.GetStoreClient(ctx, clientID); err == nil && revokeOld {
					for _, k := range c.Keys {
						if k.RevokedAt == nil && k.KID != kid {
							old = append(old, k.KID)
						}
					}
				}
				err := st.InTx(ctx, func(tx contracts.Tx) error {
					if err := tx.AddClientKey(ctx, contracts.ClientKey{KID: kid, ClientID: clientID, Algorithm: alg, PublicKeyPEM: pub, CreatedAt: now}); err != nil {
						return err
					}
					for _, o := range old {
						if _, err := tx.RevokeClientKey(ctx, o, now); err != nil {
							return fmt.Errorf("revoke key %s: %w", o, err)
						}
					}
					return recordChange(ctx, tx, key, cliActor(actor), "client.rotate_key", "client:"+clientID, audit.Change{
						After: map[string]any{"key": map[string]any{"kid": kid, "algorithm": alg, "public_key": keyFingerprint(pub)},
							"revoked": old}})
				})
				switch {
				case errors.Is(err, contracts.ErrConflict):
					return fmt.Errorf("key id %s is taken", kid)
				case errors.Is(err, contracts.ErrNotFound):
					return fmt.Errorf("no client %s is registered", clientID)
				case err != nil:
					return fmt.Errorf("add key: %w", err)
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "added key %s (%s) to client %s\n", kid, alg, clientID)
				c, err := st.GetStoreClient(ctx, clientID)
				if err != nil {
					return err
				}
				for _, o := range old {
					fmt.Fprintf(out, "revoked key %s; running payhub processes refuse its tokens within %s\n", o, revocationDelay)
				}
				for _, k := range c.Keys {
					if k.KID != kid && k.RevokedAt == nil {
						fmt.Fprintf(out, "key %s stays valid: once the client signs with %s, run payhub client revoke --kid %s\n", k.KID, kid, k.KID)
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
	f.BoolVar(&revokeOld, "revoke-old", false, "revoke the client's other keys at once (a leaked key)")
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
			normalised, err := returnOrigins(origins)
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

// sourceNetworks reads --allow-cidr values: networks (masked) or single addresses
// (docs/security.md §6).
func sourceNetworks(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		v = strings.TrimSpace(v)
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("--allow-cidr %q is neither a network (203.0.113.0/24, 2001:db8::/32) nor an address", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p = p.Masked(); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// prefixStrings is networks as text, for the audit log and the output.
func prefixStrings(networks []netip.Prefix) []string {
	out := make([]string, len(networks))
	for i, p := range networks {
		out[i] = p.String()
	}
	return out
}

func clientSetAllowlistCommand() *cobra.Command {
	var dbURL, clientID, actor string
	var cidrs []string
	cmd := &cobra.Command{
		Use:   "set-allowlist",
		Short: "Replace the networks a store client's requests may come from",
		Long: `Replace a client's source allowlist (repeatable --allow-cidr; none: any source). A request
from elsewhere is refused with 403 ip_not_allowed by every payhub process within seconds
(docs/security.md §6). The change is audited.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkID("client id", clientID); err != nil {
				return err
			}
			networks, err := sourceNetworks(cidrs)
			if err != nil {
				return err
			}
			key, err := auditKey()
			if err != nil {
				return err
			}
			return withClientStore(dbURL, func(ctx context.Context, st contracts.Store) error {
				var before []netip.Prefix
				if c, err := st.GetStoreClient(ctx, clientID); err == nil {
					before = c.SourceAllowlist
				}
				err := replaceClientList(ctx, st, key, actor, clientID, "source_allowlist", prefixStrings(before), prefixStrings(networks),
					func(tx contracts.Tx) error { return tx.SetClientSourceAllowlist(ctx, clientID, networks) })
				if err != nil {
					return fmt.Errorf("set source allowlist: %w", err)
				}
				if len(networks) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "client %s may call from any source\n", clientID)
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "client %s may call only from: %s\n", clientID, strings.Join(prefixStrings(networks), " "))
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
