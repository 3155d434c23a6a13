package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/backup"
	"github.com/hygie-health/hygie/internal/blob"
)

func (e *env) backupCmd() *cobra.Command {
	var to string
	var noKey bool
	cmd := &cobra.Command{
		Use:   "backup --to DIR|s3://BUCKET/PREFIX",
		Short: "Take a consistent backup of this instance while it runs",
		Long: `Write a backup of the instance into a new directory, or under a new prefix
of an S3 bucket: a consistent snapshot of the metadata database (SQLite: an
online copy; PostgreSQL: pg_dump on one snapshot), every object of the
artifact store, the master key file, and manifest.json with the SHA-256 of
every file, written last (a backup without it is incomplete and is never
restored). The server may keep running.

s3:// backups use the artifact store's S3 settings (s3_endpoint,
s3_access_key, s3_secret_key, s3_region, s3_use_ssl).

The backup holds the master key unless --no-master-key: keep it where the
database and the patients' data would be kept (it decrypts them). Restore
with 'hygie restore --from DIR'.`,
		Example: `  hygie backup --to /var/backups/hygie/$(date +%F)
  hygie backup --to /mnt/backup/hygie-$(date +%F) --no-master-key   # key kept apart
  hygie backup --database postgres://hygie@db/hygie --artifacts s3://hygie/prod --s3-endpoint minio:9000 --to /backups/today
  hygie backup --to s3://hygie-backups/$(date +%F) --s3-endpoint minio:9000 --no-master-key`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usageError{fmt.Errorf("--to DIR or --to s3://BUCKET/PREFIX is required")}
			}
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				src := backup.Source{DB: a.DB, DatabaseURL: e.cfg.Database, Blobs: a.Blobs, Version: app.Version, Progress: e.progress, S3: e.s3Config()}
				if !noKey {
					src.MasterKeyFile = e.cfg.MasterKeyPath()
				}
				m, err := backup.Create(ctx, src, to)
				if err != nil {
					return err
				}
				if err := a.Audit.Append(ctx, audit.Event{Action: "backup.create", Target: "backup:" + path.Base(strings.TrimRight(filepath.ToSlash(to), "/")), Outcome: audit.Success,
					Detail: audit.MarshalDetail(map[string]any{"files": len(m.Files), "audit_events": m.AuditEvents, "master_key": m.MasterKey})}); err != nil {
					return err
				}
				return e.print(m, func(w io.Writer) {
					fmt.Fprintf(w, "backup written to %s: %s database (schema %d), %d files, audit chain of %d events\n", to, m.Database, m.SchemaVersion, len(m.Files), m.AuditEvents)
					printCounts(w, m.Counts)
					if !m.MasterKey {
						fmt.Fprintln(w, "the master key is NOT in this backup: keep it safely, a restore needs it")
					}
				})
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "new or empty directory, or s3://bucket/prefix with no object under it, to write the backup into")
	cmd.Flags().BoolVar(&noKey, "no-master-key", false, "leave the master key file out of the backup (keep it apart)")
	return cmd
}

func (e *env) restoreCmd() *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "restore --from DIR|s3://BUCKET/PREFIX",
		Short: "Restore a backup into an empty instance",
		Long: `Restore a backup written by 'hygie backup' into the instance the settings
name (--data, or --database and --artifacts), which must be empty: no
database, no artifact, no master key (unless the backup was taken with
--no-master-key: then the instance's master key must be in place).

The checksums of the manifest are verified first: a damaged or modified
backup is refused. The database is restored (SQLite: the file; PostgreSQL:
pg_restore), then the artifacts and the master key, and the audit chain of
the result is verified; it must end on the head recorded in the backup.`,
		Example: `  hygie restore --from /var/backups/hygie/2026-11-29 --data /srv/hygie-restored
  hygie restore --from /backups/today --database postgres://hygie@db2/hygie --artifacts s3://hygie/restored --s3-endpoint minio:9000
  hygie restore --from s3://hygie-backups/2026-11-29 --s3-endpoint minio:9000 --data /srv/hygie-restored`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return usageError{fmt.Errorf("--from DIR or --from s3://BUCKET/PREFIX is required")}
			}
			ctx := cmd.Context()
			artifacts := e.cfg.Artifacts
			if artifacts == "" {
				artifacts = filepath.Join(e.cfg.DataDir, "blobs")
			}
			if e.cfg.Database == "" {
				if err := checkDir(e.cfg.DataDir); err != nil {
					return err
				}
			}
			store, err := blob.Open(ctx, artifacts, e.s3Config())
			if err != nil {
				return fmt.Errorf("artifact store: %w", err)
			}
			res, err := backup.Restore(ctx, from, backup.Target{Database: e.cfg.Database, DataDir: e.cfg.DataDir, Blobs: store, MasterKeyFile: e.cfg.MasterKeyPath(), Progress: e.progress, S3: e.s3Config()})
			if err != nil {
				return err
			}
			m := res.Manifest
			return e.print(res, func(w io.Writer) {
				fmt.Fprintf(w, "restored the backup of %s (hygie %s, %s database, schema %d)\n", m.CreatedAt.Format("2006-01-02 15:04:05 UTC"), m.HygieVersion, m.Database, m.SchemaVersion)
				printCounts(w, m.Counts)
				fmt.Fprintf(w, "audit chain verified: %d events, head %s\n", res.Audit.Events, res.Audit.Head)
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "backup written by 'hygie backup': its directory or s3://bucket/prefix")
	return cmd
}

// s3Config is how to reach S3: for the artifact store and s3:// backups.
func (e *env) s3Config() blob.S3Config {
	return blob.S3Config{Endpoint: e.cfg.S3Endpoint, AccessKey: e.cfg.S3AccessKey, SecretKey: e.cfg.S3SecretKey, Region: e.cfg.S3Region, UseSSL: e.cfg.S3UseSSL}
}

// progress reports a step of a long operation on standard error.
func (e *env) progress(format string, args ...any) {
	fmt.Fprintf(e.stderr, "… "+format+"\n", args...)
}

func printCounts(w io.Writer, counts map[string]int64) {
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %-17s %d\n", k, counts[k])
	}
}

// checkDir creates the data directory for a restore.
func checkDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("setting data (HYGIE_DATA): %w", err)
	}
	return nil
}
