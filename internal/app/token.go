package app

import (
	"encoding/json"
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
	var keyFile, kid, client, store, aud, demoDir string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a short-lived store token from a private key file (PKCS#8 PEM)",
		Long: `Mint a store token the way a store checkout system does: an EdDSA or ES256 JWT
signed with the client's own private key, naming the key (kid), the client (iss), the
store, the audience, and an expiry at most 5 minutes away. With --demo-dir the ids and key
come from the files 'payhub demo' wrote.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	return cmd
}

func readDemoIdentity(dir string) (demoIdentity, error) {
	var id demoIdentity
	b, err := os.ReadFile(filepath.Join(dir, demoIdentityFile))
	if err != nil {
		return id, fmt.Errorf("read demo identity (run 'payhub demo' first): %w", err)
	}
	return id, json.Unmarshal(b, &id)
}
