package store

import (
	"context"
	"testing"
	"time"
)

// TestFairnessMigrationClassesAttempts writes delivery attempts under schema version 9 with
// the raw errors stores used to see, migrates to 10: each attempt keeps only its class, and
// the endpoints' circuits start closed. The way back keeps the rows.
func TestFairnessMigrationClassesAttempts(t *testing.T) {
	dsns := oldSchemaDSNs(t)
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sqlDB, d, provider := migratedTo(t, dsn, 9)
			at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
			if _, err := sqlDB.ExecContext(ctx, d.q(`INSERT INTO webhook_endpoints (id, store_id, client_id, url, description, event_types,
				status, disabled_reason, created_at, updated_at) VALUES (?, ?, ?, ?, '', '', 'enabled', '', ?, ?)`),
				"we_1", "store-a", "cli", "https://hooks.example.com/", d.ts(at), d.ts(at)); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"status 503": "http_503",
				`Post "https://hooks.example.com/": dial tcp: lookup hooks.example.com on 10.0.0.2:53: no such host`: "connection_failed",
				"endpoint URL not allowed: refusing to connect to 127.0.0.1":                                         "address_refused",
				"context deadline exceeded (Client.Timeout exceeded while awaiting headers)":                         "timeout",
				"tls: failed to verify certificate: x509: certificate signed by unknown authority":                   "tls_error",
				"dial tcp 203.0.113.7:443: connect: connection refused":                                              "connection_failed",
				"": "",
			}
			n := 0
			for raw := range want {
				n++
				status := 0
				if raw == "status 503" {
					status = 503
				}
				if raw == "" {
					status = 204
				}
				if _, err := sqlDB.ExecContext(ctx, d.q(`INSERT INTO webhook_attempts (id, event_id, endpoint_id, attempted_at, http_status,
					latency_us, error, sent_by) VALUES (?, ?, ?, ?, ?, 0, ?, 'old')`), raw+"#", "evt_1", "we_1", d.ts(at.Add(time.Duration(n))), status, raw); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := provider.UpTo(ctx, 10); err != nil {
				t.Fatalf("migrate to version 10: %v", err)
			}
			for raw, class := range want {
				var got string
				if err := sqlDB.QueryRowContext(ctx, d.q("SELECT error FROM webhook_attempts WHERE id = ?"), raw+"#").Scan(&got); err != nil || got != class {
					t.Errorf("%q became %q (%v), want %q", raw, got, err, class)
				}
			}
			var failures int
			var openUntil *time.Time
			if err := sqlDB.QueryRowContext(ctx, "SELECT consecutive_failures, circuit_open_until FROM webhook_endpoints").
				Scan(&failures, nullTimeCol{&openUntil}); err != nil || failures != 0 || openUntil != nil {
				t.Errorf("circuit after migrating: %d failures, open until %v, %v", failures, openUntil, err)
			}
			if _, err := provider.DownTo(ctx, 9); err != nil {
				t.Fatalf("migrate down to version 9: %v", err)
			}
			var rows int
			if err := sqlDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM webhook_attempts").Scan(&rows); err != nil || rows != len(want) {
				t.Errorf("attempts after migrating down: %d, %v", rows, err)
			}
		})
	}
}
