package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"payhub/internal/auth"
)

// demoIdentity is what `payhub demo` writes next to the demo store's private key, so
// `payhub token --demo-dir` can mint without repeating the ids.
type demoIdentity struct {
	ClientID string `json:"client_id"`
	KeyID    string `json:"key_id"`
	StoreID  string `json:"store_id"`
}

const (
	demoKeyFile      = "demo-store.pem"
	demoIdentityFile = "demo-store.json"
)

func TokenCommand() *cobra.Command {
	var keyFile, kid, client, store, aud, demoDir, operator string
	var roles []string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a short-lived store or operator token from a private key file (PKCS#8 PEM)",
		Long: `Mint a store token the way a store checkout system does: an EdDSA or ES256 JWT
signed with the client's own private key, naming the key (kid), the client (iss), the
store, the audience, and an expiry at most 5 minutes away. With --demo-dir the ids and key
come from the files 'payhub demo' wrote.

With --operator it mints an operator token for the operator API (aud payhub-ops, iss the
operator, the --role roles; --kid defaults to the operator id): from --key, or with
--demo-dir from the demo operator's files (alice or bob, all their roles unless --role
narrows them). The token is printed: handle it like a password.`,
		Example: `  payhub token --demo-dir payhub-demo
  payhub token --demo-dir payhub-demo --operator alice
  payhub token --key alice.pem --kid alice-1 --operator alice --role operator`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if operator != "" {
				if client != "" || store != "" {
					return errors.New("--operator mints an operator token: --client and --store are for store tokens")
				}
				tok, err := mintOperatorTokenFor(demoDir, keyFile, kid, operator, roles, aud, ttl)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), tok)
				return nil
			}
			if len(roles) > 0 {
				return errors.New("--role needs --operator: roles are for operator tokens")
			}
			if demoDir != "" {
				id, err := readDemoIdentity(demoDir)
				if err != nil {
					return err
				}
				keyFile, kid, client, store = filepath.Join(demoDir, demoKeyFile), id.KeyID, id.ClientID, id.StoreID
			}
			pemBytes, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("read key: %w", err)
			}
			key, err := auth.ParsePrivateKeyPEM(pemBytes)
			if err != nil {
				return err
			}
			tok, err := auth.Mint(auth.TokenRequest{Key: key, KeyID: kid, ClientID: client, StoreID: store,
				Audience: aud, IssuedAt: time.Now(), TTL: ttl})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key", "", "private key file (PKCS#8 PEM)")
	f.StringVar(&kid, "kid", "", "registered key id")
	f.StringVar(&client, "client", "", "store client id (iss)")
	f.StringVar(&store, "store", "", "store the token acts for")
	f.StringVar(&aud, "aud", auth.DefaultAudience, "audience")
	f.DurationVar(&ttl, "ttl", auth.MaxTokenLifetime, "lifetime (at most 5m)")
	f.StringVar(&demoDir, "demo-dir", "", "take key and ids from a 'payhub demo' data directory")
	f.StringVar(&operator, "operator", "", "mint an operator token (aud payhub-ops) for this operator (iss)")
	f.StringSliceVar(&roles, "role", nil, "with --operator: the roles the token claims (repeatable; with --demo-dir default all the operator's)")
	return cmd
}

// mintOperatorTokenFor mints an operator token: from the demo operator's files (demoDir),
// or from keyFile. aud "payhub" (the store audience, the flag's default) becomes
// payhub-ops.
func mintOperatorTokenFor(demoDir, keyFile, kid, operator string, roles []string, aud string, ttl time.Duration) (string, error) {
	if err := checkRoles(roles); err != nil {
		return "", err
	}
	if demoDir != "" {
		d, err := readDemoOperators(demoDir)
		if err != nil {
			return "", err
		}
		op, err := d.find(demoDir, operator)
		if err != nil {
			return "", err
		}
		keyFile, kid = op.keyPath, op.KeyID
		if len(roles) == 0 {
			roles = op.Roles
		}
	}
	if keyFile == "" {
		return "", errors.New("--operator needs --key (the operator's private key) or --demo-dir")
	}
	if len(roles) == 0 {
		return "", errors.New("--operator needs --role: the roles the token claims")
	}
	if kid == "" {
		kid = operator
	}
	if aud == auth.DefaultAudience {
		aud = auth.OperatorAudience
	}
	key, err := readOperatorKey(keyFile)
	if err != nil {
		return "", err
	}
	return auth.Mint(auth.TokenRequest{Key: key, KeyID: kid, ClientID: operator, Roles: roles,
		Audience: aud, IssuedAt: time.Now(), TTL: ttl})
}

func readDemoIdentity(dir string) (demoIdentity, error) {
	var id demoIdentity
	b, err := os.ReadFile(filepath.Join(dir, demoIdentityFile))
	if err != nil {
		return id, fmt.Errorf("read demo identity (run 'payhub demo' first): %w", err)
	}
	return id, json.Unmarshal(b, &id)
}
