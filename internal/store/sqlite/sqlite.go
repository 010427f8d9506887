// Package sqlite is the store over an embedded SQLite file (modernc.org/sqlite,
// pure Go, so the binary stays static): WAL journal, a busy timeout, foreign
// keys on, and transactions that take the write lock when they begin
// (BEGIN IMMEDIATE) so two writers never deadlock upgrading a read lock.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/basalt-lava/basalt/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// BusyTimeoutMS is how long a connection waits for another's write lock.
const BusyTimeoutMS = 10000

// Open opens (creating when missing) the database file at path and applies
// the migrations.
func Open(ctx context.Context, path string) (*store.SQL, error) {
	if strings.ContainsAny(path, "?#") {
		// The driver reads everything after ? as its own options.
		return nil, fmt.Errorf("store: database path %q: must not contain ? or #", path)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMS))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	c, err := sqlite.NewConnector("file:" + path + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := sql.OpenDB(cachingConnector{c})
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		db.Close()
		return nil, err
	}
	s, err := store.NewSQL(ctx, db, store.Dialect{Name: "sqlite", Migrations: sub, IsUnique: isUnique})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return s, nil
}

func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
