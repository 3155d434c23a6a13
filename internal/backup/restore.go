package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/keys"
)

// Target is the empty instance a backup is restored into.
type Target struct {
	// Database is hygie's database setting: empty (SQLite in DataDir),
	// sqlite:PATH or a postgres:// URL.
	Database string
	DataDir  string
	Blobs    blob.Store
	// MasterKeyFile is where the master key goes (or already is, when the
	// backup was taken without it).
	MasterKeyFile string
	// S3 says how to reach the object store of an s3:// backup.
	S3       blob.S3Config
	Progress func(format string, args ...any)
}

// Result is what Restore found after restoring.
type Result struct {
	Manifest Manifest     `json:"manifest"`
	Audit    audit.Report `json:"audit"`
}

// Verify reads the manifest of the backup in from (a directory, or
// s3://bucket/prefix reached with cfg) and checks that every file it lists
// is there with its size and SHA-256, and that no other file is. It reads
// the whole backup.
func Verify(ctx context.Context, from string, cfg blob.S3Config) (Manifest, error) {
	loc, err := openLocation(ctx, from, cfg)
	if err != nil {
		return Manifest{}, err
	}
	return verify(ctx, loc)
}

func verify(ctx context.Context, loc location) (Manifest, error) {
	var m Manifest
	found, err := loc.list(ctx)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return m, errs.Invalidf("backup %s: %v", loc, err)
	}
	hasManifest := slices.ContainsFunc(found, func(f File) bool { return f.Path == ManifestFile })
	switch {
	case !hasManifest && len(found) > 0:
		return m, errs.Invalidf("%s is not a complete hygie backup: %s is missing (it is written last: the backup was interrupted, or this is not a backup)", loc, ManifestFile)
	case !hasManifest:
		return m, errs.Invalidf("%s is not a hygie backup: %s is missing", loc, ManifestFile)
	}
	r, err := loc.open(ctx, ManifestFile)
	if err != nil {
		return m, fmt.Errorf("backup %s: %w", loc, err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return m, fmt.Errorf("backup %s: %s: %w", loc, ManifestFile, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, errs.Invalidf("backup %s: %s is damaged: %v", loc, ManifestFile, err)
	}
	if m.Format != FormatVersion {
		return m, errs.Invalidf("backup %s: format %d, this hygie reads format %d", loc, m.Format, FormatVersion)
	}
	tampered := func(format string, args ...any) error {
		return errs.Invalidf("backup %s was damaged or tampered with, refusing to restore it: "+format, append([]any{loc}, args...)...)
	}
	listed := map[string]File{}
	for _, f := range m.Files {
		if !fs.ValidPath(f.Path) || f.Path == ManifestFile {
			return m, tampered("the manifest lists an invalid path %q", f.Path)
		}
		listed[f.Path] = f
	}
	for _, f := range found {
		if f.Path == ManifestFile {
			continue
		}
		want, ok := listed[f.Path]
		switch {
		case !ok:
			return m, tampered("%s is not in the manifest", f.Path)
		case want.Size != f.Size:
			return m, tampered("%s does not match its checksum in the manifest", f.Path)
		}
		r, err := loc.open(ctx, f.Path)
		if err != nil {
			return m, fmt.Errorf("backup %s: %w", loc, err)
		}
		got, err := hashed(f.Path, r, io.Discard)
		r.Close()
		if err != nil {
			return m, fmt.Errorf("backup %s: read %s: %w", loc, f.Path, err)
		}
		if got.Size != want.Size || got.SHA256 != want.SHA256 {
			return m, tampered("%s does not match its checksum in the manifest", f.Path)
		}
		delete(listed, f.Path)
	}
	for _, p := range slices.Sorted(maps.Keys(listed)) {
		return m, tampered("%s is missing", p)
	}
	dbFile := SQLiteFile
	if m.Database == db.Postgres {
		dbFile = PGDumpFile
	}
	if !slices.ContainsFunc(m.Files, func(f File) bool { return f.Path == dbFile }) {
		return m, tampered("%s is missing", dbFile)
	}
	return m, nil
}

// Restore verifies the backup in from (a directory, or s3://bucket/prefix
// reached with t.S3), then restores it into t, which must
// be empty: no database (or an empty PostgreSQL schema), no blob, no master
// key (unless the backup was taken without one, when the instance's master
// key must already be in place). It ends by opening the restored database
// and verifying the audit chain, which must reach the backup's head.
//
// A restore that fails half way leaves a partly restored target: empty it
// and restore again.
func Restore(ctx context.Context, from string, t Target) (Result, error) {
	progress := t.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	loc, err := openLocation(ctx, from, t.S3)
	if err != nil {
		return Result{}, err
	}
	progress("verifying the checksums of %s", loc)
	m, err := verify(ctx, loc)
	if err != nil {
		return Result{}, err
	}
	file := map[string]File{}
	for _, f := range m.Files {
		file[f.Path] = f
	}
	res := Result{Manifest: m}
	kind := db.SQLite
	if strings.HasPrefix(t.Database, "postgres://") || strings.HasPrefix(t.Database, "postgresql://") {
		kind = db.Postgres
	}
	if kind != m.Database {
		return res, errs.Invalidf("the backup holds a %s database; restore it into a %s database (setting database)", m.Database, m.Database)
	}

	if ms, err := db.Migrations(m.Database); err != nil {
		return res, err
	} else if m.SchemaVersion > len(ms) {
		return res, errs.Invalidf("the backup's database schema (version %d) is newer than this hygie knows (%d): restore with hygie %s or newer", m.SchemaVersion, len(ms), m.HygieVersion)
	}

	// The target must be empty: check everything before writing anything.
	sqlitePath := ""
	switch kind {
	case db.SQLite:
		sqlitePath = filepath.Join(t.DataDir, "hygie.db")
		if p, ok := strings.CutPrefix(t.Database, "sqlite:"); ok {
			sqlitePath = p
		}
		for _, p := range []string{sqlitePath, sqlitePath + "-wal"} {
			if _, err := os.Stat(p); err == nil {
				return res, errs.Conflictf("restore needs an empty target: database %s exists", sqlitePath)
			}
		}
	case db.Postgres:
		if err := pgEmpty(ctx, t.Database, m.PGSchema); err != nil {
			return res, err
		}
	}
	if infos, err := t.Blobs.List(ctx, ""); err != nil {
		return res, fmt.Errorf("restore: artifact store: %w", err)
	} else if len(infos) > 0 {
		return res, errs.Conflictf("restore needs an empty target: the artifact store holds %d objects", len(infos))
	}
	_, keyErr := os.Stat(t.MasterKeyFile)
	switch {
	case m.MasterKey && keyErr == nil:
		return res, errs.Conflictf("restore needs an empty target: master key %s exists", t.MasterKeyFile)
	case !m.MasterKey && keyErr != nil:
		return res, errs.Invalidf("the backup was taken without the master key: put the instance's master key at %s (setting master_key_file) first", t.MasterKeyFile)
	}

	progress("database (%s)", m.Database)
	switch kind {
	case db.SQLite:
		if err := os.MkdirAll(filepath.Dir(sqlitePath), 0o750); err != nil {
			return res, err
		}
		tmp := sqlitePath + ".restore"
		os.Remove(tmp)
		if err := fetch(ctx, loc, file[SQLiteFile], tmp); err != nil {
			return res, fmt.Errorf("restore database: %w", err)
		}
		if err := os.Rename(tmp, sqlitePath); err != nil {
			return res, fmt.Errorf("restore database: %w", err)
		}
	case db.Postgres:
		conn, _, err := libpqURL(t.Database)
		if err != nil {
			return res, err
		}
		dump := loc.localFile(PGDumpFile)
		if dump == "" { // fetch it, checked, into a private temporary directory
			tmp, err := os.MkdirTemp("", "hygie-restore-*")
			if err != nil {
				return res, fmt.Errorf("restore database: %w", err)
			}
			defer os.RemoveAll(tmp)
			dump = filepath.Join(tmp, PGDumpFile)
			if err := fetch(ctx, loc, file[PGDumpFile], dump); err != nil {
				return res, fmt.Errorf("restore database: %w", err)
			}
		}
		if err := runPG(ctx, PGRestore, []string{"--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", dump}, conn); err != nil {
			return res, fmt.Errorf("restore database: %w", err)
		}
	}

	progress("blobs")
	prefix := BlobsDir + "/"
	for _, f := range m.Files {
		key, ok := strings.CutPrefix(f.Path, prefix)
		if !ok {
			continue
		}
		if err := putBlob(ctx, loc, f, t.Blobs, key); err != nil {
			return res, err
		}
	}

	if m.MasterKey {
		progress("master key")
		if err := fetch(ctx, loc, file[MasterKeyFile], t.MasterKeyFile); err != nil {
			return res, fmt.Errorf("restore master key: %w", err)
		}
	}
	if _, _, err := keys.Load(t.MasterKeyFile, false); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}

	progress("verifying the audit chain")
	d, err := db.Open(ctx, t.Database, t.DataDir)
	if err != nil {
		return res, err
	}
	defer d.Close()
	// An older schema is fine: the server migrates it forward on start.
	if st, err := d.Status(ctx); err != nil {
		return res, fmt.Errorf("restored database: %w", err)
	} else if st.Current > st.Known {
		return res, fmt.Errorf("restored database: schema version %d is newer than this hygie knows (%d): restore with a newer hygie", st.Current, st.Known)
	}
	if res.Audit, err = audit.New(d).Verify(ctx); err != nil {
		return res, fmt.Errorf("restored database: audit chain: %w", err)
	}
	switch {
	case !res.Audit.OK:
		return res, fmt.Errorf("restored database: the audit chain does not verify: %s", res.Audit.Problem)
	case res.Audit.Events != m.AuditEvents || res.Audit.Head != m.AuditHead:
		return res, fmt.Errorf("restored database: the audit chain has %d events (head %.12s), the backup recorded %d (head %.12s)", res.Audit.Events, res.Audit.Head, m.AuditEvents, m.AuditHead)
	}
	return res, nil
}

// pgEmpty checks that the target PostgreSQL schema holds no table, and that
// it is the schema the backup was taken from when the backup holds one
// schema only (pg_restore recreates objects under their schema's name).
func pgEmpty(ctx context.Context, dsn, backupSchema string) error {
	_, schema, err := libpqURL(dsn)
	if err != nil {
		return err
	}
	if schema != backupSchema {
		want := "no search_path"
		if backupSchema != "" {
			want = "search_path=" + backupSchema
		}
		return errs.Invalidf("the backup holds PostgreSQL schema %q: restore it with a database URL with %s", backupSchema, want)
	}
	d, err := db.Open(ctx, dsn, "")
	if err != nil {
		return err
	}
	defer d.Close()
	q := `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()`
	args := []any{}
	if schema != "" {
		q, args = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?`, []any{schema}
	}
	var n int
	if err := d.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return fmt.Errorf("restore: inspect the target database: %w", err)
	}
	if n > 0 {
		return errs.Conflictf("restore needs an empty target: the database already holds %d tables", n)
	}
	return nil
}

// putBlob restores the backup's file f as the blob key of s, checking its
// checksum on the way: a mismatch fails the Put, which keeps nothing.
func putBlob(ctx context.Context, loc location, f File, s blob.Store, key string) error {
	r, err := loc.open(ctx, f.Path)
	if err != nil {
		return fmt.Errorf("restore blob %s: %w", key, err)
	}
	defer r.Close()
	if _, err := s.Put(ctx, key, newChecked(r, f)); err != nil {
		return fmt.Errorf("restore blob %s: %w", key, err)
	}
	return nil
}

// fetch copies the backup's file f to the new local file path (mode 0600),
// checking its checksum; a mismatch removes what was written.
func fetch(ctx context.Context, loc location, f File, path string) error {
	r, err := loc.open(ctx, f.Path)
	if err != nil {
		return err
	}
	defer r.Close()
	err = writeFile(path, func(w io.Writer) error {
		_, err := io.Copy(w, newChecked(r, f))
		return err
	})
	if err != nil {
		os.Remove(path)
	}
	return err
}
