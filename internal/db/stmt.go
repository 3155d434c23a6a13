package db

import (
	"context"
	"database/sql"
)

// Stmt is a statement prepared once and run many times, in or out of
// transactions: database/sql prepares it on each pooled connection at its
// first use there and reuses it afterwards, so a statement run at every
// commit (the prediction log) is parsed once per connection, not per run.
type Stmt struct {
	stmt *sql.Stmt
}

// Prepare prepares q (with `?` placeholders) for repeated use; Close it
// when done.
func (d *DB) Prepare(ctx context.Context, q string) (*Stmt, error) {
	s, err := d.sql.PrepareContext(ctx, rebind(d.dialect, q))
	if err != nil {
		return nil, err
	}
	return &Stmt{stmt: s}, nil
}

// Close releases the statement on every connection.
func (s *Stmt) Close() error { return s.stmt.Close() }

// ExecStmt runs a prepared statement in the transaction.
func (t *Tx) ExecStmt(ctx context.Context, s *Stmt, args ...any) (sql.Result, error) {
	st := t.tx.StmtContext(ctx, s.stmt)
	defer st.Close()
	return st.ExecContext(ctx, args...)
}
