package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
	"github.com/basalt-lava/basalt/internal/store/storetest"
)

func open(t *testing.T) store.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "basalt.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSuite(t *testing.T) { storetest.Run(t, open) }

// TestMigrationsIdempotent opens the same file twice in a row and twice at
// once: the schema is applied once and the data survives.
func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "basalt.db")
	s, err := sqlite.Open(ctx, path)
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
			s, err := sqlite.Open(ctx, path)
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
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, max int
	if err := db.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	last := 0
	for _, f := range files {
		var v int
		fmt.Sscanf(filepath.Base(f), "%d_", &v)
		last = v
	}
	if n != len(files) || max != last {
		t.Errorf("schema_migrations holds %d rows up to version %d after three opens, want %d up to %d", n, max, len(files), last)
	}
}

// TestSecretsHashed writes a password, a user token and a worker token and
// reads the database files: none appears in clear.
func TestSecretsHashed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "basalt.db"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"password-in-clear-0123"}
	if _, err := s.CreateUser(ctx, "alice", secrets[0], false); err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateToken(ctx, "alice", "", "")
	if err != nil {
		t.Fatal(err)
	}
	wtok, err := s.CreateWorker(ctx, "w1", "worker-token-in-clear-4567")
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, tok, wtok)
	if _, err := s.Authenticate(ctx, "alice", tok); err != nil {
		t.Fatalf("Authenticate with the new token: %v", err)
	}
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "basalt.db*"))
	if len(files) == 0 {
		t.Fatal("no database file written")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("alice")) && filepath.Base(f) == "basalt.db" {
			t.Errorf("%s does not contain the user name: the test reads the wrong file", f)
		}
		for _, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("%s holds the secret %q in clear", f, sec)
			}
		}
	}
}

func TestOpenRefusesQueryInPath(t *testing.T) {
	_, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "x.db?mode=ro"))
	if err == nil {
		t.Fatal("Open with ? in the path succeeded")
	}
}
