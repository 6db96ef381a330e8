package store_test

import (
	"testing"

	"payhub/internal/store/storetest"
)

// TestOperatorsConformance runs the conformance suite of operator step-up state on SQLite,
// and on PostgreSQL when PAYHUB_TEST_POSTGRES_URL is set.
func TestOperatorsConformance(t *testing.T) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			storetest.RunOperators(t, db.Open)
		})
	}
}
