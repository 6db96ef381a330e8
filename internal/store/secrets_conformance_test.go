package store_test

import (
	"testing"

	"payhub/internal/store/storetest"
)

// TestSecretsConformance runs the conformance suite of secrets at rest (sealed webhook
// secrets, the reseal) on SQLite, and on PostgreSQL when PAYHUB_TEST_POSTGRES_URL is set.
func TestSecretsConformance(t *testing.T) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			storetest.RunSecrets(t, db.Open)
		})
	}
}
