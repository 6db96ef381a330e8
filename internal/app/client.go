package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/config"
	"payhub/internal/store"
)

func ClientCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Manage store clients (POS systems) and their keys"}
	cmd.AddCommand(clientRegisterCommand())
	return cmd
}

func clientRegisterCommand() *cobra.Command {
	var dbURL, clientID, name, kid, pubFile string
	var stores []string
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register a store client with its stores and one public key (PKIX PEM)",
		Long: `Register a store checkout system. Its public key (Ed25519 or P-256, PKIX PEM) is
pinned to its algorithm; the client keeps the private key and signs its own tokens.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, err := os.ReadFile(pubFile)
			if err != nil {
				return fmt.Errorf("read public key: %w", err)
			}
			alg, err := auth.PublicKeyAlgorithm(pub)
			if err != nil {
				return fmt.Errorf("public key: %w", err)
			}
			ctx := context.Background()
			st, err := store.Open(ctx, config.DatabaseURL(dbURL))
			if err != nil {
				return err
			}
			defer st.Close()
			now := time.Now().UTC()
			if name == "" {
				name = clientID
			}
			err = st.CreateStoreClient(ctx, contracts.StoreClient{ID: clientID, Name: name, Stores: stores, CreatedAt: now,
				Keys: []contracts.ClientKey{{KID: kid, ClientID: clientID, Algorithm: alg, PublicKeyPEM: pub, CreatedAt: now}}})
			if err != nil {
				return fmt.Errorf("register client: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registered client %s (key %s, %s) for stores %v\n", clientID, kid, alg, stores)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dbURL, "db", "", "database: sqlite:<file> or postgres://… (default $PAYHUB_DATABASE_URL, else sqlite:payhub.db)")
	f.StringVar(&clientID, "client", "", "client id (the tokens' iss)")
	f.StringVar(&name, "name", "", "human label")
	f.StringVar(&kid, "kid", "", "key id")
	f.StringVar(&pubFile, "public-key", "", "public key file (PKIX PEM)")
	f.StringSliceVar(&stores, "store", nil, "store the client may act for (repeatable)")
	for _, req := range []string{"client", "kid", "public-key", "store"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}
