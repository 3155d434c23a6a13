// Package app wires hygie together: configuration → logger, metadata
// database, blob store, master key, feature services and the HTTP server.
// Open builds the whole program; Run serves it; Close releases it.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/auth/sso"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/keys"
	"github.com/hygie-health/hygie/internal/mlflowapi"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/pipeline"
	"github.com/hygie-health/hygie/internal/privacy/dp"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/serve"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/train"
	"github.com/hygie-health/hygie/internal/web"
)

// Version is the build's version, set with -ldflags at release time.
var Version = "0.1.0-dev"

// App is a wired hygie.
type App struct {
	Config config.Config
	Log    *slog.Logger
	DB     *db.DB
	Blobs  blob.Store
	Keys   *keys.Keyring
	httpapi.Services
	Server *httpapi.Server
	// DP releases differentially private statistics and keeps budgets.
	DP *dp.Service
	// Jobs runs commands as tracked jobs (local executor).
	Jobs *jobs.Service
	// Executable is the hygie binary that jobs running built-in commands
	// (training) execute; os.Executable() by default.
	Executable string
	// Pipelines validates, caches and runs pipelines (hygie.yaml).
	Pipelines *pipeline.Service
	// Annotate manages annotation projects.
	Annotate *annotate.Service

	draining atomic.Bool // see drain.go
}

// NewLogger returns the logger for a configuration: text or JSON on w.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Options tunes Open.
type Options struct {
	// Migrate applies pending migrations (hygie server and demo do; other
	// commands require an up-to-date schema).
	Migrate bool
	Logger  *slog.Logger
	// Serving tunes model serving (the registry, logger and metrics are
	// set by Open).
	Serving serve.Options
}

// Open connects to storage and builds every service.
func Open(ctx context.Context, cfg config.Config, o Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = NewLogger(cfg, os.Stderr)
	}
	if cfg.Database == "" {
		if err := checkDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	d, err := db.Open(ctx, cfg.Database, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: log, DB: d}
	if a.Executable, err = os.Executable(); err != nil {
		a.Executable = "hygie"
	}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	if o.Migrate {
		n, err := d.Migrate(ctx)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			log.Info("database migrated", "applied", n, "dialect", d.Dialect())
		}
	}
	if err := d.CheckSchema(ctx); err != nil {
		return nil, err
	}
	artifacts := cfg.Artifacts
	if artifacts == "" {
		artifacts = filepath.Join(cfg.DataDir, "blobs")
	}
	a.Blobs, err = blob.Open(ctx, artifacts, blob.S3Config{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Region: cfg.S3Region, UseSSL: cfg.S3UseSSL})
	if err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
	}
	kr, created, err := keys.Load(cfg.MasterKeyPath(), cfg.MasterKeyFile == "")
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("generated a new master key inside the data directory; for production, keep it elsewhere (HYGIE_MASTER_KEY_FILE) and back it up", "path", cfg.MasterKeyPath())
	}
	a.Keys = kr

	al := audit.New(d)
	a.Services = httpapi.Services{
		Auth:     auth.NewService(d, al),
		Audit:    al,
		Projects: project.NewService(d, al),
		Datasets: dataset.NewService(d, a.Blobs, kr, al),
		Runs:     track.NewService(d, a.Blobs, al),
		Monitor:  monitor.NewService(d, al),
	}
	a.Pseudo = pseudo.NewService(d, kr, a.Datasets, al)
	a.Registry = registry.NewService(d, a.Runs, al)
	a.DP = dp.NewService(a.DB, a.Datasets, a.Audit)
	var executor jobs.Executor = jobs.NewLocal(0)
	if cfg.JobsExecutor == "slurm" {
		// slurmd reads the job scripts and writes their output in the spool
		// directory: it must be on a filesystem the compute nodes share.
		executor = jobs.NewSlurm(jobs.SlurmOptions{Partition: cfg.SlurmPartition, SpoolDir: filepath.Join(cfg.DataDir, "slurm")})
	}
	a.Jobs = jobs.NewService(d, a.Runs, a.Auth, al, executor, cfg.BaseURL(), filepath.Join(cfg.DataDir, "jobs"))
	a.Services.Train = func(ctx context.Context, spec train.Spec, experiment string) (jobs.Job, train.Spec, error) {
		return train.Submit(ctx, a.Datasets, a.Jobs, a.Executable, spec, jobs.Request{Experiment: experiment})
	}

	if created, err := a.Auth.Bootstrap(ctx, cfg.BootstrapToken); err != nil {
		return nil, fmt.Errorf("bootstrap admin: %w", err)
	} else if created {
		log.Info("created the first administrator 'admin' from HYGIE_BOOTSTRAP_TOKEN")
	}

	a.Server = httpapi.New(httpapi.Options{
		Auth: a.Auth, Audit: al, Logger: log, MaxRequestBytes: cfg.MaxRequestBytes, Version: Version,
		Readiness: []httpapi.Check{{Name: "database", Fn: d.Ping}, {Name: "blobs", Fn: a.Blobs.Ping}, {Name: "shutdown", Fn: a.notDraining}},
	})
	so := o.Serving
	so.Registerer, so.Logger = a.Server.Registry(), log
	a.Serve = serve.New(d, a.Registry, a.Blobs, al, so)
	a.Server.AddAPI(a.Services)
	a.Server.AddJobsAPI(a.Jobs, a.Runs)
	a.Server.AddGovernanceAPI(a.Registry)
	a.Server.AddPrivacyAPI(a.Datasets, a.DP)
	ann := annotate.NewService(d, al, a.Datasets) // the API and the annotation pages share it
	a.Server.AddAnnotationAPI(ann)
	a.Annotate = ann
	a.Pipelines = pipeline.NewService(pipeline.Deps{DB: d, Audit: al, Datasets: a.Datasets, Pseudo: a.Pseudo, Runs: a.Runs, Registry: a.Registry,
		Jobs: a.Jobs, Annotate: ann, Executable: a.Executable})
	a.Server.AddPipelineAPI(a.Pipelines, cfg.BaseURL())
	a.wireMonitoring()
	a.Server.Add(mlflowapi.Routes(a.Runs)...)
	a.Server.Add(mlflowapi.RegistryRoutes(a.Registry, a.Runs)...)
	signOn, err := sso.New(sso.Options{OIDC: cfg.OIDC, LDAP: cfg.LDAP, GroupRoles: cfg.GroupRoles, AdminGroups: cfg.AdminGroups,
		RedirectURL: cfg.OIDCRedirectURL(), Logger: log}, a.Auth)
	if err != nil {
		return nil, err
	}
	ui, err := web.New(web.Deps{Auth: a.Auth, SSO: signOn, Projects: a.Projects, Audit: al, Datasets: a.Datasets, Runs: a.Runs, Registry: a.Registry,
		Jobs: a.Jobs, Pipelines: a.Pipelines, TrackingURI: cfg.BaseURL(),
		Monitor: a.Monitor, DP: a.DP, Vault: a.Pseudo.Vault(), Annotate: ann, Serve: a.Serve, SessionTTL: cfg.SessionTTL, SecureCookies: cfg.TLSCert != "" || strings.HasPrefix(cfg.BaseURL(), "https://"), Logger: log})
	if err != nil {
		return nil, err
	}
	a.Server.Add(ui.Routes()...)
	a.Server.ErrorPage = ui.ErrorPage
	ok = true
	return a, nil
}

// checkDataDir creates the data directory and checks it is writable, with a
// message naming the setting.
func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("setting data (HYGIE_DATA): cannot create %s: %w", dir, errors.Unwrap(err))
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("setting data (HYGIE_DATA): %s is not writable", dir)
	}
	f.Close()
	return os.Remove(f.Name())
}

// Listen opens the server's listening socket.
func (a *App) Listen() (net.Listener, error) {
	l, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return nil, fmt.Errorf("setting addr (HYGIE_ADDR): %w", err)
	}
	return l, nil
}

// Run serves HTTP on l until ctx is done, then shuts down gracefully,
// giving in-flight requests the configured grace period.
func (a *App) Run(ctx context.Context, l net.Listener) error {
	handler := a.closeWhenDraining(a.Server)
	if a.Config.TLSCert != "" {
		tc, err := a.tlsConfig()
		if err != nil {
			return err
		}
		l, handler = tls.NewListener(l, tc), hsts(handler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	a.startMonitoring(ctx)
	go a.Serve.RunRetention(ctx, a.Config.PredictionRetention, time.Hour)
	go a.Pipelines.Schedule(ctx, pipeline.TickInterval, pipeline.TriggerOptions{Auth: a.Auth, TrackingURI: a.Config.BaseURL(), Log: a.Log})
	if a.Jobs != nil {
		go a.reconcileJobs(ctx)
	}
	a.Log.Info("hygie serving", "addr", l.Addr().String(), "database", string(a.DB.Dialect()), "version", Version)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.drain(a.Config.ShutdownDrain) // see drain.go
	a.Log.Info("shutting down", "grace", a.Config.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	return nil
}

// reconcileJobs takes over the jobs a previous run of the server left
// queued or running (see jobs.Service.Reconcile) and logs what it did.
func (a *App) reconcileJobs(ctx context.Context) {
	done, err := a.Jobs.Reconcile(ctx)
	for _, r := range done {
		a.Log.Warn("job left by a previous run of the server", "job", r.Job.ID, "executor", r.Job.Executor, "action", r.Action, "reason", r.Reason)
	}
	if err != nil {
		a.Log.Error("reconciling jobs after the restart", "err", err)
	}
}

// Close writes the pending prediction log and releases the database.
func (a *App) Close() error {
	var err error
	if a.Serve != nil {
		err = a.Serve.Close()
	}
	return errors.Join(err, a.DB.Close())
}
