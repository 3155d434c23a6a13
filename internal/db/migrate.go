package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one embedded schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations of a dialect in order.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", name)
		}
		b, err := migrationFS.ReadFile(path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.Name, i+1)
		}
	}
	return out, nil
}

// SchemaStatus describes the database schema against the binary's migrations.
type SchemaStatus struct {
	Current int `json:"current"` // highest applied migration
	Known   int `json:"known"`   // highest migration this binary has
}

func (d *DB) ensureMigrationTable(ctx context.Context) error {
	_, err := d.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL)`)
	return err
}

// Status reports the applied and known schema versions.
func (d *DB) Status(ctx context.Context) (SchemaStatus, error) {
	ms, err := Migrations(d.dialect)
	if err != nil {
		return SchemaStatus{}, err
	}
	if err := d.ensureMigrationTable(ctx); err != nil {
		return SchemaStatus{}, fmt.Errorf("schema_migrations: %w", err)
	}
	var cur int
	if err := d.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return SchemaStatus{}, err
	}
	return SchemaStatus{Current: cur, Known: len(ms)}, nil
}

// Migrate applies pending migrations, each in its own transaction, and
// returns how many it applied. It refuses a schema newer than it knows.
func (d *DB) Migrate(ctx context.Context) (int, error) {
	st, err := d.Status(ctx)
	if err != nil {
		return 0, err
	}
	if st.Current > st.Known {
		return 0, fmt.Errorf("database schema version %d is newer than this hygie knows (%d): upgrade hygie", st.Current, st.Known)
	}
	ms, _ := Migrations(d.dialect)
	applied := 0
	for _, m := range ms[st.Current:] {
		err := d.InTx(ctx, func(tx *Tx) error {
			if err := tx.Lock(ctx, LockVersions); err != nil {
				return err
			}
			var done int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&done); err != nil {
				return err
			}
			if done > 0 { // applied concurrently by another process
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		applied++
	}
	return applied, nil
}

// CheckSchema fails unless the schema is exactly the one this binary knows,
// so the server never runs on a schema from a newer release or unmigrated.
func (d *DB) CheckSchema(ctx context.Context) error {
	st, err := d.Status(ctx)
	if err != nil {
		return err
	}
	switch {
	case st.Current > st.Known:
		return fmt.Errorf("database schema version %d is newer than this hygie knows (%d): upgrade hygie", st.Current, st.Known)
	case st.Current < st.Known:
		return fmt.Errorf("database schema version %d is older than this hygie needs (%d): run `hygie migrate`", st.Current, st.Known)
	}
	return nil
}
