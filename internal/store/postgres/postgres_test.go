package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/postgres"
	"github.com/basalt-lava/basalt/internal/store/storetest"
)

// dsn is a fresh, empty schema on BASALT_POSTGRES_DSN, or skips.
func dsn(t *testing.T) string { return storetest.PostgresDSN(t, false) }

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
