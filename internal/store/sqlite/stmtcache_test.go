package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"modernc.org/sqlite"
)

// TestStatementCache: a query run again on a connection reuses its
// statement; the same query run while its rows are still open (nested, in
// one transaction) gets a statement of its own and both read right.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	c, err := sqlite.NewConnector("file:" + filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(cachingConnector{c})
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := db.ExecContext(ctx, `INSERT INTO t (x) VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	const q = `SELECT x FROM t ORDER BY x`
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var outer []int
	for rows.Next() {
		var x, first int
		if err := rows.Scan(&x); err != nil {
			t.Fatal(err)
		}
		outer = append(outer, x)
		if err := tx.QueryRowContext(ctx, q).Scan(&first); err != nil || first != 1 {
			t.Fatalf("nested query = %d, %v; want 1", first, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(outer) != 3 || outer[0] != 1 || outer[2] != 3 {
		t.Errorf("outer rows = %v, want [1 2 3]", outer)
	}
	var sum int
	for i := 0; i < 3; i++ {
		if err := db.QueryRowContext(ctx, `SELECT SUM(x) FROM t`).Scan(&sum); err != nil || sum != 6 {
			t.Fatalf("sum = %d, %v", sum, err)
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		cc := dc.(*cachingConn)
		if s := cc.stmts[`SELECT SUM(x) FROM t`]; s == nil || s.busy {
			t.Errorf("SUM's statement cached = %v, want cached and free", s)
		}
		if len(cc.stmts) != 4 {
			t.Errorf("%d statements cached, want 4 (CREATE, INSERT, SELECT, SUM)", len(cc.stmts))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
