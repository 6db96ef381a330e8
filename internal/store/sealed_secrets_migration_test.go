package store

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSealedSecretsMigrationWithholdsStoredSecrets writes the answers a create and a
// rotation of a webhook endpoint stored before secrets were withheld (the endpoint with
// its secret) under schema version 9, migrates, and finds them as a replay now answers —
// the endpoint with secret_withheld and no secret — while every other stored answer keeps
// its bytes. On SQLite no byte of the secrets is left in the database files.
func TestSealedSecretsMigrationWithholdsStoredSecrets(t *testing.T) {
	sqlitePath := filepath.Join(t.TempDir(), "old.db")
	dsns := map[string]string{"sqlite": "sqlite:" + sqlitePath}
	if u := os.Getenv("PAYHUB_TEST_POSTGRES_URL"); u != "" {
		dsns["postgres"] = postgresSchemaDSN(t, u)
	}
	const createSecret, rotateSecret = "whsec_Q1JFQVRFLXNlY3JldC1zaG91bGQtbm90LXN0YXk=", "whsec_Uk9UQVRFLXNlY3JldC1zaG91bGQtbm90LXN0YXk="
	endpoint := `{"object":"webhook_endpoint","id":"we_01JOLD","url":"https://shop.example/hooks","event_types":[],"status":"enabled","created_at":"2025-06-01T00:00:00Z","updated_at":"2025-06-01T00:00:00Z"`
	rows := []struct {
		key, kind, body string
		withheld        bool
	}{
		{"create", "created", endpoint + `,"secret":"` + createSecret + `"}`, true},
		{"rotate", "done", endpoint + `,"secret":"` + rotateSecret + `"}`, true},
		{"enable", "done", endpoint + `}`, false},
		{"payment", "created", `{"object":"payment","id":"pay_1","metadata":{"secret":"whsec_not-an-endpoint"}}`, false},
		{"refused", "refused", `{"type":"urn:payhub:problem:invalid_state","status":409,"code":"invalid_state"}`, false},
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sqlDB, d, _ := migratedTo(t, dsn, 9)
			at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
			for _, r := range rows {
				if _, err := sqlDB.ExecContext(ctx, d.q(`INSERT INTO idempotency_keys
					(client_id, key, fingerprint, completed, answer_kind, response_body, created_at, completed_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), "cli", r.key, "f", true, r.kind, []byte(r.body), d.ts(at), d.ts(at)); err != nil {
					t.Fatal(err)
				}
			}
			if err := migrate(ctx, sqlDB, d); err != nil {
				t.Fatalf("migrate to latest: %v", err)
			}
			s := &DB{db: sqlDB, d: d}
			for _, r := range rows {
				rec, err := s.GetIdempotency(ctx, "cli", r.key)
				if err != nil {
					t.Fatal(err)
				}
				body := string(rec.Answer.Body)
				if !r.withheld {
					if body != r.body {
						t.Errorf("%s: body changed to %s", r.key, body)
					}
					continue
				}
				var got, want map[string]any
				if err := json.Unmarshal(rec.Answer.Body, &got); err != nil {
					t.Fatalf("%s: %s: %v", r.key, body, err)
				}
				_ = json.Unmarshal([]byte(endpoint+`}`), &want)
				want["secret_withheld"] = true
				if gb, wb := mustJSON(t, got), mustJSON(t, want); gb != wb || strings.Contains(body, "whsec_") {
					t.Errorf("%s: replay body %s, want %s", r.key, body, wb)
				}
				if string(rec.Answer.Kind) != r.kind {
					t.Errorf("%s: kind %q", r.key, rec.Answer.Kind)
				}
			}
			if name != "sqlite" {
				return
			}
			if _, err := sqlDB.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				t.Fatal(err)
			}
			_ = sqlDB.Close()
			files, _ := filepath.Glob(sqlitePath + "*")
			for _, f := range files {
				b, _ := os.ReadFile(f)
				for _, secret := range []string{createSecret, rotateSecret} {
					if strings.Contains(string(b), secret) {
						t.Errorf("%s still holds a withheld secret", filepath.Base(f))
					}
				}
			}
		})
	}
}

// mustJSON is v as JSON with sorted keys.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
