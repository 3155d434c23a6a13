// Package dbtest runs store tests against every supported database: a fresh
// SQLite file and, when HYGIE_TEST_POSTGRES names a server, a fresh
// PostgreSQL schema. In CI (CI=true) a missing PostgreSQL fails the test.
package dbtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hygie-health/hygie/internal/db"
)

// Each runs fn as one subtest per database ("sqlite", "postgres"), each on a
// new, migrated database.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns a migrated SQLite database in a temporary directory.
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// PostgresDSN returns the test server's DSN, skipping the test when there is
// none (failing in CI).
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("HYGIE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("HYGIE_TEST_POSTGRES is not set: CI must start PostgreSQL (scripts/postgres.sh)")
		}
		t.Skip("HYGIE_TEST_POSTGRES not set; run `export HYGIE_TEST_POSTGRES=$(scripts/postgres.sh)` to include PostgreSQL")
	}
	return dsn
}

// Postgres returns a migrated PostgreSQL database living in a schema of its
// own, dropped when the test ends.
func Postgres(t testing.TB) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, PostgresURL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// PostgresURL returns a DSN for a fresh, empty PostgreSQL schema (not migrated), for
// tests that start the whole program against PostgreSQL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	dsn, drop, err := db.FreshSchema(context.Background(), PostgresDSN(t), "t_")
	if err != nil {
		t.Fatalf("PostgreSQL at HYGIE_TEST_POSTGRES: %v", err)
	}
	t.Cleanup(drop)
	return dsn
}
