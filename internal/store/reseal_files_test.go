package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/secrets"
)

// Webhook secrets kept in clear by an earlier payhub are gone from the SQLite files once
// the reseal has sealed them: no copy is left in the database's free space or its WAL.
func TestResealLeavesNoClearSecretInSQLiteFiles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "payhub.db")
	s, err := open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var clear []string
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range 40 {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		secret := "whsec_" + base64.StdEncoding.EncodeToString(b)
		clear = append(clear, secret)
		e := contracts.WebhookEndpoint{ID: fmt.Sprintf("we_%026d", i), StoreID: "store-a", ClientID: "cli",
			URL: "https://shop.example/hooks", Status: contracts.EndpointEnabled, CreatedAt: now, UpdatedAt: now}
		if err := s.InTx(ctx, func(tx contracts.Tx) error {
			return tx.CreateWebhookEndpoint(ctx, e, contracts.WebhookSecret{EndpointID: e.ID, Secret: secret, CreatedAt: now})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil { // the clear secrets are in the database file
		t.Fatal(err)
	}
	box, err := secrets.NewBox(secrets.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Reseal(ctx, s, box, ResealOptions{BatchSize: 7})
	if err != nil || res.Resealed[ColumnWebhookSecrets] != len(clear) {
		t.Fatalf("reseal: %v, %v", res.Resealed, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, secret := range clear {
			if strings.Contains(string(b), strings.TrimPrefix(secret, "whsec_")) {
				t.Fatalf("%s still holds a secret the reseal sealed", filepath.Base(f))
			}
		}
	}
}
