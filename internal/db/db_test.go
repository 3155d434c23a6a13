package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
)

func TestMigrateAndSchemaCheck(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.CheckSchema(ctx); err != nil {
			t.Fatalf("fresh migrated db: %v", err)
		}
		n, err := d.Migrate(ctx)
		if err != nil || n != 0 {
			t.Fatalf("second Migrate = %d, %v; want 0, nil", n, err)
		}
		// A schema from a newer release is refused.
		if _, err := d.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, 999, "999_future.sql", "now"); err != nil {
			t.Fatal(err)
		}
		if err := d.CheckSchema(ctx); err == nil {
			t.Fatal("CheckSchema accepted a newer schema")
		}
		if _, err := d.Migrate(ctx); err == nil {
			t.Fatal("Migrate accepted a newer schema")
		}
	})
}

func TestRoundTripTypesAndErrors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 29, 10, 11, 12, 123456000, time.UTC)
		var id int64
		err := d.QueryRow(ctx, `INSERT INTO users (username, is_admin, created_at) VALUES (?, ?, ?) RETURNING id`, "alice", true, now).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		var (
			name  string
			admin bool
			at    time.Time
		)
		if err := d.QueryRow(ctx, `SELECT username, is_admin, created_at FROM users WHERE id = ?`, id).Scan(&name, &admin, &at); err != nil {
			t.Fatal(err)
		}
		if name != "alice" || !admin || !at.Equal(now) {
			t.Fatalf("round trip = %q %v %v", name, admin, at)
		}
		_, err = d.Exec(ctx, `INSERT INTO users (username, created_at) VALUES (?, ?)`, "alice", now)
		if !db.IsUniqueViolation(err) {
			t.Fatalf("duplicate username: %v, want unique violation", err)
		}
		err = db.NotFound(d.QueryRow(ctx, `SELECT username FROM users WHERE id = ?`, id+100).Scan(&name), "user not found")
		if !errs.Is(err, errs.NotFound) {
			t.Fatalf("missing row: %v", err)
		}
		// A failed transaction leaves nothing behind.
		boom := errors.New("boom")
		err = d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO users (username, created_at) VALUES (?, ?)`, "bob", now); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}
		var n int
		d.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE username = 'bob'`).Scan(&n)
		if n != 0 {
			t.Fatal("rolled back insert is visible")
		}
		// Foreign keys are enforced.
		_, err = d.Exec(ctx, `INSERT INTO tokens (user_id, name, kind, hash, prefix, created_at) VALUES (?, 'x', 'api', 'h', 'p', ?)`, id+100, now)
		if err == nil {
			t.Fatal("foreign key not enforced")
		}
	})
}

func TestRebind(t *testing.T) {
	d := dbtest.SQLite(t)
	_ = d
	cases := []struct{ in, want string }{
		{"SELECT ? , ?", "SELECT $1 , $2"},
		{"SELECT '?' , ?", "SELECT '?' , $1"},
		{"no params", "no params"},
	}
	for _, c := range cases {
		if got := db.Rebind(db.Postgres, c.in); got != c.want {
			t.Errorf("Rebind(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := db.Rebind(db.SQLite, c.in); got != c.in {
			t.Errorf("SQLite Rebind changed %q", c.in)
		}
	}
}
