// Package cli is hygie's command line: one file per command group. Commands
// parse flags, build the app (internal/app) and call feature services; they
// hold no business logic.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/errs"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ error }

// env carries what every command shares.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	getenv         func(string) string
	configFile     string
	output         string
	as             string
	flagCfg        config.Config // bound to flags
	cfg            config.Config // effective, after Load
}

// Main runs the CLI with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdout: stdout, stderr: stderr, stdin: stdin, getenv: getenv, flagCfg: config.Default()}
	root := e.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetIn(stdin)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintf(stderr, "hygie: %v\nRun 'hygie --help' for usage.\n", err)
		return ExitUsage
	}
	msg := err.Error()
	if errs.CodeOf(err) != errs.Internal {
		msg = errs.MessageOf(err)
	}
	fmt.Fprintf(stderr, "hygie: %s\n", msg)
	return ExitError
}

func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "required flag", "bad flag syntax"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func (e *env) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "hygie",
		Short: "hygie — the MLOps platform for hospital data teams, privacy first",
		Long: `hygie carries a clinical machine-learning project from the data warehouse
extract to a monitored model in production: pseudonymisation, datasets with
lineage, training and tracking, a model registry with validation gates,
serving over the Open Inference Protocol, and clinician feedback — in one
self-hosted binary, with every access audited.

Configuration comes from flags, HYGIE_* environment variables (secrets also
from HYGIE_*_FILE) and an optional YAML file (--config); see 'hygie config'.`,
		Example: `  hygie demo --serve          # the whole lifecycle on a synthetic cohort
  hygie server                 # serve the API, the UI and models on 127.0.0.1:8080
  hygie config                 # the effective configuration, secrets redacted`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return e.load(cmd.Flags())
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&e.configFile, "config", "", "YAML configuration file [HYGIE_CONFIG]")
	pf.StringVarP(&e.output, "output", "o", "text", "output format: text or json")
	pf.StringVar(&e.as, "as", "", "user to act as for commands on project data [HYGIE_USER]")
	for _, f := range e.flagCfg.Flags() {
		switch p := f.Ptr.(type) {
		case *string:
			pf.StringVar(p, f.Flag, *p, f.Help)
		case *bool:
			pf.BoolVar(p, f.Flag, *p, f.Help)
		case *int64:
			pf.Int64Var(p, f.Flag, *p, f.Help)
		case *time.Duration:
			pf.DurationVar(p, f.Flag, *p, f.Help)
		}
	}
	root.AddCommand(e.serverCmd(), e.serveCmd(), e.migrateCmd(), e.configCmd(), e.userCmd(), e.tokenCmd(), e.projectCmd(),
		e.grantCmd(), e.revokeCmd(), e.auditCmd(), e.demoCmd(), e.datasetCmd(),
		e.deidCmd(),
		e.anonymizeCmd(),
		e.riskCmd(),
		e.dpCmd(),
		e.vaultCmd(),
		e.trainCmd(), e.predictCmd(),
		e.jobCmd(), e.privacyAuditCmd(),
		e.modelCmd(), e.policyCmd(),
		e.annotateCmd(), e.pipelineCmd(),
		e.versionCmd(), e.backupCmd(), e.restoreCmd(),
	)
	root.AddCommand(e.workerCmds()...)
	return root
}

// load builds the effective configuration: defaults, file, environment,
// then the flags that were set.
func (e *env) load(flags *pflag.FlagSet) error {
	if e.output != "text" && e.output != "json" {
		return usageError{fmt.Errorf("--output: want text or json, got %q", e.output)}
	}
	cfg := config.Default()
	file := e.configFile
	if file == "" {
		file = e.getenv("HYGIE_CONFIG")
	}
	if file != "" {
		if err := cfg.LoadFile(file); err != nil {
			return err
		}
	}
	if err := cfg.LoadEnv(e.getenv); err != nil {
		return err
	}
	flags.Visit(func(f *pflag.Flag) { cfg.CopyFlag(&e.flagCfg, f.Name) })
	if err := cfg.Validate(); err != nil {
		return err
	}
	e.cfg = cfg
	return nil
}

// open builds the app for a command; offline commands act as the local
// operator, recorded as such in the audit log.
func (e *env) open(ctx context.Context, migrate bool) (*app.App, context.Context, error) {
	a, err := app.Open(ctx, e.cfg, app.Options{Migrate: migrate, Logger: app.NewLogger(e.cfg, e.stderr)})
	if err != nil {
		return nil, ctx, err
	}
	return a, audit.WithActor(ctx, operator()), nil
}

// operator names the local user running an offline command.
func operator() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return "cli:" + name
}

// print writes v as JSON with --output json, or calls text otherwise.
func (e *env) print(v any, text func(w io.Writer)) error {
	if e.output == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	text(e.stdout)
	return nil
}

func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %d argument(s): %s", cmd.CommandPath(), n, names)}
		}
		return nil
	}
}

// readSecret reads a password from a file or standard input.
func (e *env) readSecret(file string, stdin bool) (string, error) {
	var b []byte
	var err error
	switch {
	case file != "":
		b, err = os.ReadFile(file)
	case stdin:
		b, err = io.ReadAll(io.LimitReader(e.stdin, 4096))
	default:
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// withApp opens the app (without migrating), runs fn and closes it.
func (e *env) withApp(cmd *cobra.Command, fn func(a *app.App, ctx context.Context) error) error {
	a, ctx, err := e.open(cmd.Context(), false)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a, ctx)
}
