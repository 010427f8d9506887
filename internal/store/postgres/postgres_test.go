package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/postgres"
	"github.com/basalt-lava/basalt/internal/store/storetest"
)

// dsn returns BASALT_POSTGRES_DSN and a fresh schema in it, dropped when the
// test ends, so every store starts empty.
func dsn(t *testing.T) string {
	base := os.Getenv("BASALT_POSTGRES_DSN")
	if base == "" {
		t.Skip("BASALT_POSTGRES_DSN is not set: the PostgreSQL store tests need a server (e.g. postgres://user:pw@127.0.0.1/db)")
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
	if strings.Contains(base, "://") {
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		return base + sep + "search_path=" + schema
	}
	return base + " search_path=" + schema
}

func open(t *testing.T) store.Store {
	s, err := postgres.Open(context.Background(), dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSuite(t *testing.T) { storetest.Run(t, open) }

// TestMigrationsIdempotent opens the same schema once, then twice at once:
// the advisory lock and the version table apply the schema once.
func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	d := dsn(t)
	s, err := postgres.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "alice", "pw", false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, d)
			if err != nil {
				t.Errorf("second Open: %v", err)
				return
			}
			defer s.Close()
			if _, err := s.User(ctx, "alice"); err != nil {
				t.Errorf("User(alice) after reopening: %v", err)
			}
		}()
	}
	wg.Wait()
}
