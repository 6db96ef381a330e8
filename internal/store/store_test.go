package store_test

import (
	"testing"

	"payhub/internal/store/storetest"
)

// TestConformance runs the store conformance suite on SQLite, and on PostgreSQL when
// PAYHUB_TEST_POSTGRES_URL is set.
func TestConformance(t *testing.T) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			storetest.Run(t, db.Open)
		})
	}
}
