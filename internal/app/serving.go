package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/serve"
	"github.com/hygie-health/hygie/internal/track"
)

// OpenServing builds a serving replica (hygie serve): the registry and the
// blob store of cfg, and an HTTP server with only the Open Inference
// Protocol (/v2), /healthz, /readyz and /metrics. It holds no state of its
// own (no master key, no migrations, no web UI), so several replicas on
// one PostgreSQL and S3 store can stand behind any load balancer.
// o.Environment names the environment unversioned model names resolve to.
func OpenServing(ctx context.Context, cfg config.Config, ao Options, o serve.Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Environment != "" && !slices.Contains(registry.Environments[1:], o.Environment) {
		return nil, fmt.Errorf("environment %q: want dev, test, integration or production", o.Environment)
	}
	lg := ao.Logger
	if lg == nil {
		lg = NewLogger(cfg, os.Stderr)
	}
	d, err := db.Open(ctx, cfg.Database, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	if err := d.CheckSchema(ctx); err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: lg, DB: d}
	artifacts := cfg.Artifacts
	if artifacts == "" {
		artifacts = filepath.Join(cfg.DataDir, "blobs")
	}
	a.Blobs, err = blob.Open(ctx, artifacts, blob.S3Config{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Region: cfg.S3Region, UseSSL: cfg.S3UseSSL})
	if err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
	}
	al := audit.New(d)
	a.Auth = auth.NewService(d, al)
	a.Audit = al
	a.Runs = track.NewService(d, a.Blobs, al)
	a.Registry = registry.NewService(d, a.Runs, al)
	a.Server = httpapi.New(httpapi.Options{
		Auth: a.Auth, Audit: al, Logger: lg, MaxRequestBytes: cfg.MaxRequestBytes, Version: Version,
		Readiness: []httpapi.Check{{Name: "database", Fn: d.Ping}, {Name: "blobs", Fn: a.Blobs.Ping}, {Name: "shutdown", Fn: a.notDraining}},
	})
	o.Registerer, o.Logger = a.Server.Registry(), lg
	a.Serve = serve.New(d, a.Registry, a.Blobs, al, o)
	a.Server.AddOIP(a.Services)
	ok = true
	return a, nil
}
