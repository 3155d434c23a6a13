package backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/backup"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/blob/blobtest"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/demo"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/vault"
	"github.com/hygie-health/hygie/internal/train"
)

func TestMain(m *testing.M) {
	train.MainIfJob() // the demo's training job runs this binary as hygie
	os.Exit(blobtest.Main(m))
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func baseConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	return cfg
}

// TestBackupRestore populates an instance with the demo, backs it up while
// the app serves and writes to its audit log, restores the backup into a
// fresh instance and compares the two.
func TestBackupRestore(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testBackupRestore(t, baseConfig(t), baseConfig(t), localDir(t))
	})
	t.Run("postgres", func(t *testing.T) {
		src := baseConfig(t)
		src.Database = dbtest.PostgresURL(t)
		dst := baseConfig(t)
		dst.Database = freshDatabase(t, src.Database)
		testBackupRestore(t, src, dst, localDir(t))
	})
	// To and from S3 (MinIO), the backup's objects under a prefix of a
	// bucket, the restored instance's artifacts on S3 too.
	t.Run("sqlite to s3", func(t *testing.T) {
		src, dst := baseConfig(t), baseConfig(t)
		to := s3Location(t, &src, &dst)
		testBackupRestore(t, src, dst, to)
	})
	t.Run("postgres to s3", func(t *testing.T) {
		src := baseConfig(t)
		src.Database = dbtest.PostgresURL(t)
		dst := baseConfig(t)
		dst.Database = freshDatabase(t, src.Database)
		to := s3Location(t, &src, &dst)
		testBackupRestore(t, src, dst, to)
	})
}

func localDir(t *testing.T) string { return filepath.Join(t.TempDir(), "backup") }

// s3Location returns an s3:// backup location on the test MinIO and points
// both configurations' S3 settings at it; dst's artifacts go to another
// bucket of it.
func s3Location(t *testing.T, src, dst *config.Config) string {
	s3 := blobtest.S3(t)
	for _, c := range []*config.Config{src, dst} {
		c.S3Endpoint, c.S3AccessKey, c.S3SecretKey, c.S3Region, c.S3UseSSL = s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region, s3.UseSSL
	}
	dst.Artifacts = "s3://" + blobtest.Bucket(t) + "/restored"
	return "s3://" + blobtest.Bucket(t) + "/backups/2026-11-30"
}

func s3Of(c config.Config) blob.S3Config {
	return blob.S3Config{Endpoint: c.S3Endpoint, AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey, Region: c.S3Region, UseSSL: c.S3UseSSL}
}

// freshDatabase creates an empty database on the server of dsn and returns
// a URL to it with dsn's search_path (the schema a restore recreates).
func freshDatabase(t *testing.T, dsn string) string {
	t.Helper()
	if _, err := exec.LookPath(backup.PGDump); err != nil {
		t.Skip("pg_dump is not installed")
	}
	ctx := context.Background()
	admin, err := db.Open(ctx, dbtest.PostgresDSN(t), "")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	rand.Read(b)
	name := "restore_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := db.Open(context.Background(), dbtest.PostgresDSN(t), ""); err == nil {
			a.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
			a.Close()
		}
	})
	u, _ := url.Parse(dsn)
	u.Path = "/" + name
	return u.String()
}

func openDemo(t *testing.T, cfg config.Config) *app.App {
	t.Helper()
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, app.Options{Migrate: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, stop, err := demo.Run(ctx, a, &out, demo.Options{Patients: 2000, Seed: 7, Listener: l})
	if stop != nil {
		t.Cleanup(func() { stop() })
	}
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	return a
}

// state is what must survive a backup and restore, as comparable text.
var state = map[string]string{
	"dataset versions": `SELECT d.name, v.version, v.digest, v.blob_key, v.row_count, v.privacy_level FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id ORDER BY d.name, v.version`,
	"runs":             `SELECT r.id, r.name, r.status, m.key, m.value, m.step FROM runs r JOIN run_metrics m ON m.run_id = r.id ORDER BY r.id, m.key, m.step, m.value`,
	"run params":       `SELECT run_id, key, value FROM run_params ORDER BY run_id, key`,
	"model versions":   `SELECT m.name, v.version, v.run_id, v.artifact_key, v.environment FROM model_versions v JOIN models m ON m.id = v.model_id ORDER BY m.name, v.version`,
	"users":            `SELECT username FROM users ORDER BY username`,
	"vault":            `SELECT domain_id, pseudonym FROM vault_entries ORDER BY domain_id, pseudonym`,
}

func dump(t *testing.T, d *db.DB, q string) string {
	t.Helper()
	rows, err := d.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%v|", v)
		}
		b.WriteByte('\n')
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("%s: no rows: the demo should have filled it", q)
	}
	return b.String()
}

func blobSum(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	r, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("blob %s: %v", key, err)
	}
	defer r.Close()
	h := sha256.New()
	io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil))
}

func reidentify(t *testing.T, a *app.App, pseudonym string) string {
	t.Helper()
	ctx := context.Background()
	p, err := a.Auth.PrincipalOf(ctx, "rachid")
	if err != nil {
		t.Fatal(err)
	}
	op, err := a.Pseudo.Vault().Reidentify(auth.WithPrincipal(ctx, p), vault.Request{Project: demo.Project, Pseudonym: pseudonym,
		Reason: "backup test: the restored vault must open like the original"})
	if err != nil {
		t.Fatalf("re-identify %s: %v", pseudonym, err)
	}
	return op.Original
}

func testBackupRestore(t *testing.T, srcCfg, dstCfg config.Config, dir string) {
	ctx := context.Background()
	a := openDemo(t, srcCfg)
	before, err := a.Audit.Verify(ctx)
	if err != nil || !before.OK {
		t.Fatalf("source audit chain: %+v, %v", before, err)
	}

	// Back up while the app keeps writing to its audit log.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		actx := audit.WithActor(ctx, "test:writer")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := a.Audit.Append(actx, audit.Event{Action: "test.write", Target: fmt.Sprint("n:", i), Outcome: audit.Success}); err != nil {
				t.Errorf("concurrent write: %v", err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	m, err := backup.Create(ctx, backup.Source{DB: a.DB, DatabaseURL: srcCfg.Database, Blobs: a.Blobs, MasterKeyFile: srcCfg.MasterKeyPath(), Version: app.Version, S3: s3Of(srcCfg)}, dir)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if m.AuditEvents < before.Events || m.Counts["dataset_versions"] == 0 || m.Counts["blobs"] == 0 || !m.MasterKey {
		t.Fatalf("manifest: %d audit events (source had %d before), counts %v, master key %v", m.AuditEvents, before.Events, m.Counts, m.MasterKey)
	}

	// Restore into a fresh instance.
	artifacts := dstCfg.Artifacts
	if artifacts == "" {
		artifacts = filepath.Join(dstCfg.DataDir, "blobs")
	}
	dstBlobs, err := blob.Open(ctx, artifacts, s3Of(dstCfg))
	if err != nil {
		t.Fatal(err)
	}
	target := backup.Target{Database: dstCfg.Database, DataDir: dstCfg.DataDir, Blobs: dstBlobs, MasterKeyFile: dstCfg.MasterKeyPath(), S3: s3Of(dstCfg)}
	res, err := backup.Restore(ctx, dir, target)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Audit.OK || res.Audit.Head != m.AuditHead || res.Audit.Events != m.AuditEvents {
		t.Fatalf("restored audit chain %+v, backup head %s of %d events", res.Audit, m.AuditHead, m.AuditEvents)
	}

	b, err := app.Open(ctx, dstCfg, app.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("open the restored instance: %v", err)
	}
	defer b.Close()
	for name, q := range state {
		if got, want := dump(t, b.DB, q), dump(t, a.DB, q); got != want {
			t.Errorf("%s differ after restore:\n got %s\nwant %s", name, got, want)
		}
	}
	// The dataset files and model artifacts came along, byte for byte.
	for _, q := range []string{`SELECT blob_key FROM dataset_versions`, `SELECT artifact_key FROM model_versions`} {
		for _, key := range strings.Fields(strings.ReplaceAll(dump(t, a.DB, q), "|", "")) {
			if got, want := blobSum(t, b.Blobs, key), blobSum(t, a.Blobs, key); got != want {
				t.Errorf("blob %s: sha256 %s after restore, %s before", key, got, want)
			}
		}
	}
	rep, err := b.Audit.Verify(ctx)
	if err != nil || !rep.OK || rep.Head != m.AuditHead {
		t.Fatalf("restored instance's audit chain: %+v, %v", rep, err)
	}
	// The vault opens with the restored master key, to the same identity.
	var pseudonym string
	if err := a.DB.QueryRow(ctx, `SELECT pseudonym FROM vault_entries ORDER BY pseudonym LIMIT 1`).Scan(&pseudonym); err != nil {
		t.Fatal(err)
	}
	if got, want := reidentify(t, b, pseudonym), reidentify(t, a, pseudonym); got != want || got == "" {
		t.Errorf("vault: %q after restore, %q before", got, want)
	}

	t.Run("refuses a non-empty target", func(t *testing.T) {
		_, err := backup.Restore(ctx, dir, target)
		if errs.CodeOf(err) != errs.Conflict || !strings.Contains(err.Error(), "empty target") {
			t.Fatalf("restore over an instance: %v", err)
		}
	})
}

// TestRefusesTamperedBackup changes, adds and removes files of a backup and
// expects Verify (and so Restore) to refuse it before touching the target.
func TestRefusesTamperedBackup(t *testing.T) {
	ctx := context.Background()
	cfg := baseConfig(t)
	a, err := app.Open(ctx, cfg, app.Options{Migrate: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Blobs.Put(ctx, "datasets/x/data.csv", strings.NewReader("a,b\n1,2\n")); err != nil {
		t.Fatal(err)
	}
	if err := a.Audit.Append(audit.WithActor(ctx, "test"), audit.Event{Action: "test", Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	if _, err := backup.Create(ctx, backup.Source{DB: a.DB, Blobs: a.Blobs, MasterKeyFile: cfg.MasterKeyPath()}, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Create(ctx, backup.Source{DB: a.DB, Blobs: a.Blobs}, dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("backup into a non-empty directory: %v", err)
	}
	if _, err := backup.Verify(ctx, dir, blob.S3Config{}); err != nil {
		t.Fatalf("intact backup: %v", err)
	}
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		want   string
	}{
		{"changed blob", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "blobs", "datasets", "x", "data.csv"), []byte("a,b\n1,3\n"), 0o600)
		}, "blobs/datasets/x/data.csv does not match its checksum"},
		{"changed database", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, backup.SQLiteFile), os.O_WRONLY|os.O_APPEND, 0)
			f.Write([]byte{0})
			f.Close()
		}, "metadata.sqlite does not match"},
		{"added file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "blobs", "extra"), []byte("x"), 0o600)
		}, "blobs/extra is not in the manifest"},
		{"removed key", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "keys", "master.key"))
		}, "keys/master.key is missing"},
		{"no manifest", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, backup.ManifestFile))
		}, "manifest.json is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			copyDir := filepath.Join(t.TempDir(), "copy")
			if err := os.CopyFS(copyDir, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			tt.change(t, copyDir)
			dst := baseConfig(t)
			store, _ := blob.Open(ctx, filepath.Join(dst.DataDir, "blobs"), blob.S3Config{})
			_, err := backup.Restore(ctx, copyDir, backup.Target{DataDir: dst.DataDir, Blobs: store, MasterKeyFile: dst.MasterKeyPath()})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Restore = %v, want %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(dst.DataDir); len(entries) > 1 { // the empty blobs directory
				t.Fatalf("the refused restore wrote into the target: %v", entries)
			}
		})
	}
}

// failingStore fails reading one key, to interrupt a backup half way.
type failingStore struct {
	blob.Store
	key string
}

func (f failingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if key == f.key {
		return nil, fmt.Errorf("disk error reading %s", key)
	}
	return f.Store.Get(ctx, key)
}

// TestS3Backup checks what is particular to backups on S3: an interrupted
// upload leaves no manifest and is never restored, a used prefix is
// refused, and a changed object is refused before the target is touched.
func TestS3Backup(t *testing.T) {
	ctx := context.Background()
	s3 := blobtest.S3(t)
	cfg := baseConfig(t)
	a, err := app.Open(ctx, cfg, app.Options{Migrate: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, k := range []string{"datasets/a/data.csv", "datasets/b/data.csv", "datasets/c/data.csv"} {
		if _, err := a.Blobs.Put(ctx, k, strings.NewReader("a,b\n1,2\n"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Audit.Append(audit.WithActor(ctx, "test"), audit.Event{Action: "test", Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	bucket := blobtest.Bucket(t)
	src := backup.Source{DB: a.DB, Blobs: a.Blobs, MasterKeyFile: cfg.MasterKeyPath(), S3: s3}
	restoreInto := func(t *testing.T, from string) error {
		dst := baseConfig(t)
		store, _ := blob.Open(ctx, filepath.Join(dst.DataDir, "blobs"), blob.S3Config{})
		_, err := backup.Restore(ctx, from, backup.Target{DataDir: dst.DataDir, Blobs: store, MasterKeyFile: dst.MasterKeyPath(), S3: s3})
		if err != nil {
			if entries, _ := os.ReadDir(dst.DataDir); len(entries) > 1 { // the empty blobs directory
				t.Errorf("the refused restore wrote into the target: %v", entries)
			}
		}
		return err
	}

	t.Run("interrupted upload", func(t *testing.T) {
		to := "s3://" + bucket + "/interrupted"
		broken := src
		broken.Blobs = failingStore{a.Blobs, "datasets/c/data.csv"}
		if _, err := backup.Create(ctx, broken, to); err == nil || !strings.Contains(err.Error(), "disk error") {
			t.Fatalf("backup with a failing read = %v", err)
		}
		loc, _ := blob.Open(ctx, to, s3)
		if infos, _ := loc.List(ctx, ""); len(infos) < 2 {
			t.Fatalf("the interrupted backup should have left its first objects: %v", infos)
		}
		err := restoreInto(t, to)
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "not a complete hygie backup") {
			t.Fatalf("restore of an interrupted backup = %v", err)
		}
		if _, err := backup.Create(ctx, src, to); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("backup over the interrupted one = %v", err)
		}
	})

	to := "s3://" + bucket + "/complete"
	m, err := backup.Create(ctx, src, to)
	if err != nil {
		t.Fatal(err)
	}
	if m.Counts["blobs"] != 3 || !m.MasterKey || len(m.Files) != 5 {
		t.Fatalf("manifest: counts %v, master key %v, %d files", m.Counts, m.MasterKey, len(m.Files))
	}
	if got, err := backup.Verify(ctx, to, s3); err != nil || got.AuditHead != m.AuditHead {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	// A backup on S3 has exactly the files of a directory backup.
	dirM, err := backup.Create(ctx, src, localDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var s3Files, dirFiles []string
	for _, f := range m.Files {
		if f.Path != backup.SQLiteFile { // two snapshots of a database differ in bytes
			s3Files = append(s3Files, f.Path+" "+f.SHA256)
		}
	}
	for _, f := range dirM.Files {
		if f.Path != backup.SQLiteFile {
			dirFiles = append(dirFiles, f.Path+" "+f.SHA256)
		}
	}
	if fmt.Sprint(s3Files) != fmt.Sprint(dirFiles) {
		t.Fatalf("s3 backup files %v, directory backup files %v", s3Files, dirFiles)
	}

	if err := restoreInto(t, "s3://"+bucket+"/nothing-here"); errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "not a hygie backup") {
		t.Fatalf("restore from an empty prefix = %v", err)
	}
	// Change one object of the backup: refused, nothing written.
	store, err := blob.Open(ctx, to, s3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, "blobs/datasets/b/data.csv", strings.NewReader("a,b\n1,3\ndatasets/b/data.csv")); err != nil {
		t.Fatal(err)
	}
	if err := restoreInto(t, to); err == nil || !strings.Contains(err.Error(), "blobs/datasets/b/data.csv does not match its checksum") {
		t.Fatalf("restore of a changed backup = %v", err)
	}
	if _, err := backup.Create(ctx, src, "ftp://host/x"); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("backup to ftp:// = %v", err)
	}
	if _, err := backup.Create(ctx, backup.Source{DB: a.DB, Blobs: a.Blobs}, to); err == nil || !strings.Contains(err.Error(), "s3_endpoint") {
		t.Fatalf("backup to s3:// without an endpoint = %v", err)
	}
}
