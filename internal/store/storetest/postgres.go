package storetest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// PostgresDSN returns BASALT_POSTGRES_DSN with a fresh schema of its own
// as the search path, dropped when the test ends, so that every store
// opened on it starts empty. It skips the test when the variable is not
// set (`scripts/with-postgres.sh go test …` sets it) and, with urlOnly,
// when it is not a postgres:// URL (what `basalt manage --db` takes).
func PostgresDSN(t *testing.T, urlOnly bool) string {
	t.Helper()
	base := os.Getenv("BASALT_POSTGRES_DSN")
	if base == "" {
		t.Skip("BASALT_POSTGRES_DSN is not set: PostgreSQL tests need a server (scripts/with-postgres.sh starts one)")
	}
	isURL := strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://")
	if urlOnly && !isURL {
		t.Skip("BASALT_POSTGRES_DSN is not a postgres:// URL")
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "basalt_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	if !isURL {
		return base + " search_path=" + schema
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}
