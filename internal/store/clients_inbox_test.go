package store_test

import (
	"testing"

	"payhub/internal/store/storetest"
)

// TestClientsAndInboxConformance runs the store-client and inbox-retention conformance
// suite on SQLite, and on PostgreSQL when PAYHUB_TEST_POSTGRES_URL is set.
func TestClientsAndInboxConformance(t *testing.T) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			storetest.RunClientsAndInbox(t, db.Open)
		})
	}
}
