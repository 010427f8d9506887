package sqlite

import (
	"context"
	"database/sql/driver"
)

// The driver prepares a statement for every query (the SQL text parsed
// and compiled again each time: a quarter of a submission's server time
// went there). These wrappers keep each connection's prepared statements
// by their text, so a query the store runs again on a connection reuses
// its compiled statement. The wrapped connection does not offer
// QueryerContext/ExecerContext, so database/sql prepares through it for
// every query.

// maxCachedStmts bounds a connection's cached statements (the store's
// queries are fixed texts, a few dozen; the job filters build a few more).
const maxCachedStmts = 256

type cachingConnector struct{ driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{conn: dc, stmts: map[string]*cachedStmt{}}, nil
}

// The interfaces of the driver's connection that database/sql uses, other
// than those for querying without a statement.
type driverConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.SessionResetter
	driver.Validator
	driver.Pinger
}

// cachingConn is used by one goroutine at a time (database/sql's rule).
type cachingConn struct {
	conn  driver.Conn
	stmts map[string]*cachedStmt
}

func (c *cachingConn) full() driverConn { return c.conn.(driverConn) }

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext returns the cached statement for query when it is not in
// use (a query's rows still open), else prepares one.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if s := c.stmts[query]; s != nil && !s.busy {
		s.busy = true
		return s, nil
	}
	ds, err := c.full().PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if _, ok := c.stmts[query]; ok || len(c.stmts) >= maxCachedStmts {
		return ds, nil // not cached: closed by its user
	}
	s := &cachedStmt{stmt: ds, busy: true}
	c.stmts[query] = s
	return s, nil
}

func (c *cachingConn) Close() error {
	for _, s := range c.stmts {
		s.stmt.Close()
	}
	c.stmts = nil
	return c.conn.Close()
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.full().BeginTx(ctx, opts)
}

func (c *cachingConn) ResetSession(ctx context.Context) error { return c.full().ResetSession(ctx) }
func (c *cachingConn) IsValid() bool                          { return c.full().IsValid() }
func (c *cachingConn) Ping(ctx context.Context) error         { return c.full().Ping(ctx) }

// cachedStmt is a connection's statement kept open; Close only marks it
// free for the next use.
type cachedStmt struct {
	stmt driver.Stmt
	busy bool
}

func (s *cachedStmt) Close() error  { s.busy = false; return nil }
func (s *cachedStmt) NumInput() int { return s.stmt.NumInput() }

func (s *cachedStmt) Exec(args []driver.Value) (driver.Result, error) {
	//lint:ignore SA1019 driver.Stmt requires the method
	return s.stmt.Exec(args)
}

func (s *cachedStmt) Query(args []driver.Value) (driver.Rows, error) {
	//lint:ignore SA1019 driver.Stmt requires the method
	return s.stmt.Query(args)
}

func (s *cachedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}
