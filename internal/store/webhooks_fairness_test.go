package store_test

import (
	"testing"

	"payhub/internal/store/storetest"
)

// TestWebhookFairness runs the conformance suite of fair leases, endpoint circuits and the
// endpoint limit on SQLite, and on PostgreSQL when PAYHUB_TEST_POSTGRES_URL is set.
func TestWebhookFairness(t *testing.T) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			storetest.WebhookFairness(t, db.Open)
		})
	}
}
