// Package backup takes a consistent snapshot of a hygie instance while it
// runs — the metadata database, every blob and the master key file — into a
// directory or under an S3 prefix, with a manifest of checksums, and
// restores such a snapshot into an empty instance, checking the checksums
// first and the audit chain last.
//
// The database is copied first (SQLite: VACUUM INTO, a read transaction that
// does not stop writers; PostgreSQL: pg_dump on a snapshot exported by a
// repeatable-read transaction, in which the manifest's counts are taken
// too), then the blobs. Blobs are immutable and content-addressed, so a blob
// written after the database snapshot is at worst an unreferenced extra.
//
// Layout of a backup (a directory, or objects under an S3 prefix):
//
//	manifest.json     format, hygie version, schema version, database kind,
//	                  counts, audit head, SHA-256 of every other file
//	metadata.sqlite   or metadata.pgdump (pg_dump --format=custom)
//	blobs/<key>       every object of the blob store, under its key
//	keys/master.key   the master key file as stored (unless left out)
//
// The manifest is written last: a backup interrupted half way (a crash, a
// full disk, a broken upload) has none and is refused by Verify and
// Restore.
//
// Dataset data keys, pseudonym keys and vault keys live in the database,
// wrapped by the master key: a backup without keys/master.key (or the
// master key kept elsewhere) cannot decrypt them.
package backup

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, to read the snapshot

	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
)

// FormatVersion is the layout version written in manifests.
const FormatVersion = 1

// File names inside a backup directory.
const (
	ManifestFile  = "manifest.json"
	SQLiteFile    = "metadata.sqlite"
	PGDumpFile    = "metadata.pgdump"
	BlobsDir      = "blobs"
	MasterKeyFile = "keys/master.key"
)

// Tools run for PostgreSQL; tests may point them elsewhere.
var (
	PGDump    = "pg_dump"
	PGRestore = "pg_restore"
)

// Manifest describes a backup.
type Manifest struct {
	Format        int              `json:"format"`
	HygieVersion  string           `json:"hygie_version"`
	CreatedAt     time.Time        `json:"created_at"`
	Database      db.Dialect       `json:"database"`
	PGSchema      string           `json:"pg_schema,omitempty"` // the one schema dumped (search_path of the URL)
	SchemaVersion int              `json:"schema_version"`
	AuditEvents   int64            `json:"audit_events"`
	AuditHead     string           `json:"audit_head"`
	Counts        map[string]int64 `json:"counts"`
	MasterKey     bool             `json:"master_key"`
	Files         []File           `json:"files"`
}

// File is one file of a backup, with its checksum.
type File struct {
	Path   string `json:"path"` // slash-separated, relative to the backup directory
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Source is the instance to back up.
type Source struct {
	DB *db.DB
	// DatabaseURL is the postgres:// URL of DB, for pg_dump (unused for SQLite).
	DatabaseURL string
	Blobs       blob.Store
	// MasterKeyFile is copied into the backup; empty leaves it out (the
	// operator keeps the master key elsewhere).
	MasterKeyFile string
	// Version is hygie's version, recorded in the manifest.
	Version string
	// S3 says how to reach the object store of an s3:// destination.
	S3 blob.S3Config
	// Progress, when set, is told what is being copied.
	Progress func(format string, args ...any)
	Now      func() time.Time
}

// countedTables are counted into the manifest (the tables that matter to an
// operator checking a backup at a glance).
var countedTables = []string{"users", "projects", "datasets", "dataset_versions", "runs", "run_metrics", "models", "model_versions", "vault_entries", "predictions"}

// Create writes a backup of src to "to": a directory, which must not exist
// or be empty, or s3://bucket/prefix (reached with src.S3), under which no
// object may exist yet. The manifest is written last, so an interrupted
// backup is never taken for a complete one.
func Create(ctx context.Context, src Source, to string) (Manifest, error) {
	if src.Now == nil {
		src.Now = time.Now
	}
	progress := src.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	loc, err := openLocation(ctx, to, src.S3)
	if err != nil {
		return Manifest{}, err
	}
	if err := loc.prepare(ctx); err != nil {
		return Manifest{}, err
	}
	m := Manifest{Format: FormatVersion, HygieVersion: src.Version, CreatedAt: src.Now().UTC().Truncate(time.Second), Database: src.DB.Dialect(), Counts: map[string]int64{}}

	progress("database (%s)", m.Database)
	scratch, cleanup, err := loc.scratch()
	if err != nil {
		return Manifest{}, err
	}
	defer cleanup()
	dbFile := SQLiteFile
	switch m.Database {
	case db.SQLite:
		err = sqliteSnapshot(ctx, src.DB, filepath.Join(scratch, SQLiteFile), &m)
	case db.Postgres:
		dbFile = PGDumpFile
		err = pgSnapshot(ctx, src.DB, src.DatabaseURL, filepath.Join(scratch, PGDumpFile), &m)
	default:
		err = fmt.Errorf("backup: unsupported database %q", m.Database)
	}
	if err != nil {
		return Manifest{}, err
	}
	f, err := loc.adopt(ctx, dbFile, filepath.Join(scratch, dbFile))
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: database snapshot: %w", err)
	}
	m.Files = append(m.Files, f)

	progress("blobs")
	infos, err := src.Blobs.List(ctx, "")
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: list blobs: %w", err)
	}
	for _, in := range infos {
		f, err := copyBlob(ctx, src.Blobs, in.Key, loc)
		if err != nil {
			return Manifest{}, err
		}
		m.Files = append(m.Files, f)
	}
	m.Counts["blobs"] = int64(len(infos))

	if src.MasterKeyFile != "" {
		progress("master key")
		k, err := os.Open(src.MasterKeyFile)
		if err != nil {
			return Manifest{}, fmt.Errorf("backup: master key: %w", err)
		}
		f, err := loc.put(ctx, MasterKeyFile, k)
		k.Close()
		if err != nil {
			return Manifest{}, fmt.Errorf("backup: master key: %w", err)
		}
		m.Files = append(m.Files, f)
		m.MasterKey = true
	}

	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	if _, err := loc.put(ctx, ManifestFile, bytes.NewReader(append(b, '\n'))); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// sqliteSnapshot copies the database with VACUUM INTO (a consistent read of
// the database, concurrent writers go on) and takes the manifest's counts
// from the copy.
func sqliteSnapshot(ctx context.Context, d *db.DB, path string, m *Manifest) error {
	if _, err := d.Exec(ctx, `VACUUM INTO '`+strings.ReplaceAll(path, "'", "''")+`'`); err != nil {
		return fmt.Errorf("backup: SQLite snapshot: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return err
	}
	snap, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer snap.Close()
	return describe(func(q string) *sql.Row { return snap.QueryRowContext(ctx, q) }, m)
}

// pgSnapshot exports a snapshot from a repeatable-read transaction, runs
// pg_dump on it and counts in the same transaction, so the dump and the
// manifest describe the same state.
func pgSnapshot(ctx context.Context, d *db.DB, dsn, path string, m *Manifest) error {
	if dsn == "" {
		return errors.New("backup: the PostgreSQL URL is required for pg_dump")
	}
	conn, schema, err := libpqURL(dsn)
	if err != nil {
		return err
	}
	m.PGSchema = schema
	return d.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		var snapshot string
		if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
			return fmt.Errorf("backup: export snapshot: %w", err)
		}
		args := []string{"--format=custom", "--no-owner", "--no-privileges", "--snapshot=" + snapshot, "--file=" + path}
		if schema != "" {
			args = append(args, "--schema="+schema)
		}
		if err := runPG(ctx, PGDump, args, conn); err != nil {
			return err
		}
		return describe(func(q string) *sql.Row { return tx.QueryRow(ctx, q) }, m)
	})
}

// describe fills the manifest's schema version, counts and audit head.
func describe(row func(q string) *sql.Row, m *Manifest) error {
	if err := row(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&m.SchemaVersion); err != nil {
		return fmt.Errorf("backup: schema version: %w", err)
	}
	for _, t := range countedTables {
		var n int64
		if err := row(`SELECT COUNT(*) FROM ` + t).Scan(&n); err != nil {
			return fmt.Errorf("backup: count %s: %w", t, err)
		}
		m.Counts[t] = n
	}
	err := row(`SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&m.AuditEvents, &m.AuditHead)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("backup: audit head: %w", err)
	}
	return nil
}

// libpqURL turns a hygie PostgreSQL URL into one libpq tools accept: pgx
// takes runtime parameters such as search_path in the query string, libpq
// does not; search_path is returned apart (the schema to dump or restore).
func libpqURL(dsn string) (conn, schema string, err error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", "", errors.New("setting database: not a valid PostgreSQL URL")
	}
	q := u.Query()
	schema = q.Get("search_path")
	if strings.Contains(schema, ",") {
		return "", "", errors.New("backup: a search_path of several schemas is not supported")
	}
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

// runPG runs a PostgreSQL client tool on the database of conn. The
// password goes through PGPASSWORD, not the command line (which other users
// of the machine can read), and never into error messages.
func runPG(ctx context.Context, tool string, args []string, conn string) error {
	u, err := url.Parse(conn)
	if err != nil {
		return errors.New("setting database: not a valid PostgreSQL URL")
	}
	cmd := exec.CommandContext(ctx, tool)
	cmd.Env = os.Environ()
	password := ""
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			password = p
			cmd.Env = append(cmd.Env, "PGPASSWORD="+p)
			u.User = url.User(u.User.Username())
		}
	}
	cmd.Args = append(append(cmd.Args, args...), "--dbname="+u.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if password != "" {
			msg = strings.ReplaceAll(msg, password, "<redacted>")
		}
		return fmt.Errorf("%s: %w: %s", filepath.Base(tool), err, msg)
	}
	return nil
}

func copyBlob(ctx context.Context, s blob.Store, key string, loc location) (File, error) {
	r, err := s.Get(ctx, key)
	if err != nil {
		return File{}, fmt.Errorf("backup: blob %s: %w", key, err)
	}
	defer r.Close()
	f, err := loc.put(ctx, BlobsDir+"/"+key, r)
	if err != nil {
		return File{}, fmt.Errorf("backup: blob %s: %w", key, err)
	}
	return f, nil
}

// writeFile creates path (mode 0600, parents 0700; it must not exist),
// lets write fill it, and syncs it.
func writeFile(path string, write func(w io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = write(f)
	return errors.Join(err, f.Sync(), f.Close())
}
