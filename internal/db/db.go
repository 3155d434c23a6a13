// Package db is hygie's metadata database: one handle over SQLite (the
// embedded default, pure Go) or PostgreSQL (scale-out), embedded ordered
// migrations per dialect, and the few dialect differences in one place.
//
// Queries are written once with `?` placeholders; the handle rewrites them to
// `$n` for PostgreSQL.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hygie-health/hygie/internal/errs"
)

// Dialect names the SQL engine behind a DB.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is a handle on the metadata database.
type DB struct {
	sql     *sql.DB
	dialect Dialect
}

// Querier is what *DB and *Tx have in common, so store code runs in or out of
// a transaction.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
	Dialect() Dialect
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// Open connects to database: a postgres:// URL, "sqlite:PATH", or empty for
// SQLite at dataDir/hygie.db. It does not migrate.
func Open(ctx context.Context, database, dataDir string) (*DB, error) {
	switch {
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		return openPostgres(ctx, database)
	case database == "":
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data directory %s: %w", dataDir, err)
		}
		return OpenSQLite(ctx, filepath.Join(dataDir, "hygie.db"))
	case strings.HasPrefix(database, "sqlite:"):
		return OpenSQLite(ctx, strings.TrimPrefix(database, "sqlite:"))
	}
	return nil, errs.Invalidf("setting database: unsupported scheme (want postgres:// or sqlite:)")
}

// OpenSQLite opens (creating if needed) a SQLite file with WAL, a busy
// timeout, foreign keys, and transactions that take the write lock up front
// (so concurrent writers wait instead of failing on lock upgrade).
//
// Two settings serve write-heavy use (metric logging): statement journals
// and temporary tables stay in memory (a multi-row INSERT otherwise spills
// its statement journal to a temporary file, a write system call per page),
// and the WAL is checkpointed every 10,000 pages (~40 MB) rather than 1,000,
// so that pages written over and over reach the database file less often.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_time_format=sqlite" +
		"&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(10000)"
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	sdb.SetMaxOpenConns(8)
	d := &DB{sql: sdb, dialect: SQLite}
	if err := d.Ping(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	return d, nil
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	sdb, err := sql.Open("pgx", url)
	if err != nil {
		return nil, errs.Invalidf("setting database: not a valid PostgreSQL URL")
	}
	sdb.SetMaxOpenConns(20)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	d := &DB{sql: sdb, dialect: Postgres}
	if err := d.Ping(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", redactErr(err))
	}
	return d, nil
}

// redactErr drops connection strings (which may hold passwords) from errors'
// messages; the cause stays in the chain, for IsUnavailable.
func redactErr(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "postgres://"); i >= 0 {
		msg = msg[:i] + "<url redacted>"
	}
	return &redacted{msg: msg, err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// Dialect reports which engine this is.
func (d *DB) Dialect() Dialect { return d.dialect }

// Ping checks the connection.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return d.sql.PingContext(ctx)
}

// Close closes the handle.
func (d *DB) Close() error { return d.sql.Close() }

// Exec runs a statement.
func (d *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.sql.ExecContext(ctx, rebind(d.dialect, q), args...)
}

// Query runs a query.
func (d *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.sql.QueryContext(ctx, rebind(d.dialect, q), args...)
}

// QueryRow runs a query returning at most one row.
func (d *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return d.sql.QueryRowContext(ctx, rebind(d.dialect, q), args...)
}

// Tx is a transaction.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
}

// Dialect reports which engine this is.
func (t *Tx) Dialect() Dialect { return t.dialect }

// Exec runs a statement.
func (t *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, rebind(t.dialect, q), args...)
}

// Query runs a query.
func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, rebind(t.dialect, q), args...)
}

// QueryRow runs a query returning at most one row.
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, rebind(t.dialect, q), args...)
}

// InTx runs fn in a transaction, committing if it returns nil and rolling
// back otherwise.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	stx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	tx := &Tx{tx: stx, dialect: d.dialect}
	if err := fn(tx); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Lock serialises writers of one kind (the audit chain, version numbers)
// inside a transaction. SQLite transactions already hold the database write
// lock (_txlock=immediate); PostgreSQL takes an advisory transaction lock.
func (t *Tx) Lock(ctx context.Context, key int64) error {
	if t.dialect != Postgres {
		return nil
	}
	_, err := t.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", key)
	return err
}

// Lock keys for Tx.Lock.
const (
	LockAudit int64 = 0x6879_6769_6501 + iota
	LockVersions
)

// IsUniqueViolation reports whether err is a unique-constraint failure.
func IsUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// NotFound turns sql.ErrNoRows into an errs.NotFound with the given message
// and passes other errors through.
func NotFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errs.NotFoundf(format, args...)
	}
	return err
}

// rebind rewrites ? placeholders to $1, $2… for PostgreSQL, leaving quoted
// strings alone.
func rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	inQuote := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			fmt.Fprintf(&b, "$%d", n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Scanner is what *sql.Row and *sql.Rows have in common.
type Scanner interface{ Scan(dest ...any) error }

// All runs a query and scans every row with scan.
func All[T any](ctx context.Context, q Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
