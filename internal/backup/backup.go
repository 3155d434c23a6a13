// Package backup takes a consistent snapshot of a hygie instance while it
// runs — the metadata database, every blob and the master key file — into a
// directory with a manifest of checksums, and restores such a snapshot into
// an empty instance, checking the checksums first and the audit chain last.
//
// The database is copied first (SQLite: VACUUM INTO, a read transaction that
// does not stop writers; PostgreSQL: pg_dump on a snapshot exported by a
// repeatable-read transaction, in which the manifest's counts are taken
// too), then the blobs. Blobs are immutable and content-addressed, so a blob
// written after the database snapshot is at worst an unreferenced extra.
//
// Layout of a backup directory:
//
//	manifest.json     format, hygie version, schema version, database kind,
//	                  counts, audit head, SHA-256 of every other file
//	metadata.sqlite   or metadata.pgdump (pg_dump --format=custom)
//	blobs/<key>       every object of the blob store, under its key
//	keys/master.key   the master key file as stored (unless left out)
//
// Dataset data keys, pseudonym keys and vault keys live in the database,
// wrapped by the master key: a backup without keys/master.key (or the
// master key kept elsewhere) cannot decrypt them.
package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	// Progress, when set, is told what is being copied.
	Progress func(format string, args ...any)
	Now      func() time.Time
}

// countedTables are counted into the manifest (the tables that matter to an
// operator checking a backup at a glance).
var countedTables = []string{"users", "projects", "datasets", "dataset_versions", "runs", "run_metrics", "models", "model_versions", "vault_entries", "predictions"}

// Create writes a backup of src into dir, which must not exist or be empty.
func Create(ctx context.Context, src Source, dir string) (Manifest, error) {
	if src.Now == nil {
		src.Now = time.Now
	}
	progress := src.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	if err := emptyDir(dir); err != nil {
		return Manifest{}, err
	}
	m := Manifest{Format: FormatVersion, HygieVersion: src.Version, CreatedAt: src.Now().UTC().Truncate(time.Second), Database: src.DB.Dialect(), Counts: map[string]int64{}}

	progress("database (%s)", m.Database)
	switch m.Database {
	case db.SQLite:
		if err := sqliteSnapshot(ctx, src.DB, dir, &m); err != nil {
			return Manifest{}, err
		}
	case db.Postgres:
		if err := pgSnapshot(ctx, src.DB, src.DatabaseURL, dir, &m); err != nil {
			return Manifest{}, err
		}
	default:
		return Manifest{}, fmt.Errorf("backup: unsupported database %q", m.Database)
	}

	progress("blobs")
	infos, err := src.Blobs.List(ctx, "")
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: list blobs: %w", err)
	}
	for _, in := range infos {
		if err := copyBlob(ctx, src.Blobs, in.Key, filepath.Join(dir, BlobsDir, filepath.FromSlash(in.Key))); err != nil {
			return Manifest{}, err
		}
	}
	m.Counts["blobs"] = int64(len(infos))

	if src.MasterKeyFile != "" {
		progress("master key")
		if err := copyFile(src.MasterKeyFile, filepath.Join(dir, filepath.FromSlash(MasterKeyFile))); err != nil {
			return Manifest{}, fmt.Errorf("backup: master key: %w", err)
		}
		m.MasterKey = true
	}

	if m.Files, err = checksums(dir); err != nil {
		return Manifest{}, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	if err := writeFileSync(filepath.Join(dir, ManifestFile), append(b, '\n')); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// emptyDir creates dir (mode 0700: a backup holds the master key) or checks
// that it is empty.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o700)
	case err != nil:
		return fmt.Errorf("backup directory: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("backup directory %s is not empty: back up into a new directory", dir)
	}
	return os.Chmod(dir, 0o700)
}

// sqliteSnapshot copies the database with VACUUM INTO (a consistent read of
// the database, concurrent writers go on) and takes the manifest's counts
// from the copy.
func sqliteSnapshot(ctx context.Context, d *db.DB, dir string, m *Manifest) error {
	path := filepath.Join(dir, SQLiteFile)
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
func pgSnapshot(ctx context.Context, d *db.DB, dsn, dir string, m *Manifest) error {
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
		args := []string{"--format=custom", "--no-owner", "--no-privileges", "--snapshot=" + snapshot, "--file=" + filepath.Join(dir, PGDumpFile)}
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

func copyBlob(ctx context.Context, s blob.Store, key, path string) error {
	r, err := s.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("backup: blob %s: %w", key, err)
	}
	defer r.Close()
	if err := writeReader(path, r); err != nil {
		return fmt.Errorf("backup: blob %s: %w", key, err)
	}
	return nil
}

func copyFile(from, to string) error {
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeReader(to, f)
}

// writeReader writes r to path (mode 0600, parents 0700) and syncs it.
func writeReader(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	return errors.Join(err, f.Sync(), f.Close())
}

func writeFileSync(path string, b []byte) error {
	return writeReader(path, strings.NewReader(string(b)))
}

// checksums lists every file under dir but the manifest, sorted.
func checksums(dir string) ([]File, error) {
	var files []File
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == ManifestFile {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("backup: %s is not a regular file", rel)
		}
		sum, size, err := hashFile(path)
		if err != nil {
			return err
		}
		files = append(files, File{Path: rel, Size: size, SHA256: sum})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, err
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}
