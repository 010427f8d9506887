// Package postgres is the store over PostgreSQL (github.com/jackc/pgx/v5
// through database/sql), sharing store.SQL's queries with store/sqlite; only
// the schema's identity columns and the migration lock differ.
//
// Concurrency: transactions run at READ COMMITTED; every transition is an
// UPDATE guarded on the current state, which PostgreSQL re-checks after
// waiting for a concurrent writer's row lock, so of two racing claimers one
// updates the row and the other sees no row changed.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/basalt-lava/basalt/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is an arbitrary advisory-lock key shared by every Basalt
// process migrating the same database.
const migrationLock = `SELECT pg_advisory_xact_lock(72066165)`

// Open connects to the database at dsn (a postgres:// URL or key=value
// string) and applies the migrations.
func Open(ctx context.Context, dsn string) (*store.SQL, error) {
	cfg, err := connConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		db.Close()
		return nil, err
	}
	s, err := store.NewSQL(ctx, db, store.Dialect{Name: "postgres", Numbered: true, Migrations: sub,
		MigrationLock: migrationLock, IsUnique: isUnique})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	return s, nil
}

// connConfig is dsn's configuration with PostgreSQL's JIT compilation off
// unless dsn sets jit itself. A non-superuser's job count (the visibility
// filter's correlated EXISTS) is estimated dear enough to be compiled, and
// compiling took 200 of its 280 ms at 100 000 jobs, for a query that runs
// in 35 ms without.
func connConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if _, ok := cfg.RuntimeParams["jit"]; !ok {
		cfg.RuntimeParams["jit"] = "off"
	}
	return cfg, nil
}

func isUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}
