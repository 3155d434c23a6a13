package db_test

import (
	"context"
	"testing"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
)

// A prepared statement runs in one transaction after another (placeholders
// rebound for PostgreSQL), and what a rolled-back transaction ran is gone.
func TestPreparedStatementAcrossTransactions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.Exec(ctx, `CREATE TABLE stmt_test (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		st, err := d.Prepare(ctx, `INSERT INTO stmt_test (k, v) VALUES (?, ?), (?, ?)`)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for i := range 5 {
			err := d.InTx(ctx, func(tx *db.Tx) error {
				_, err := tx.ExecStmt(ctx, st, 2*i, "a", 2*i+1, "b")
				return err
			})
			if err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
		}
		// A failing run (duplicate key) rolls its transaction back.
		err = d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := tx.ExecStmt(ctx, st, 100, "c", 101, "d"); err != nil {
				return err
			}
			_, err := tx.ExecStmt(ctx, st, 0, "dup", 102, "e")
			return err
		})
		if !db.IsUniqueViolation(err) {
			t.Fatalf("duplicate key: %v", err)
		}
		var n, b int
		if err := d.QueryRow(ctx, `SELECT COUNT(*), SUM(CASE WHEN v = 'b' THEN 1 ELSE 0 END) FROM stmt_test`).Scan(&n, &b); err != nil {
			t.Fatal(err)
		}
		if n != 10 || b != 5 {
			t.Fatalf("%d rows (%d 'b'), want 10 (5)", n, b)
		}
	})
}
