// Package config holds hygie's configuration: one typed struct filled, in
// increasing order of precedence, from defaults, an optional YAML file,
// HYGIE_* environment variables (secrets also from HYGIE_*_FILE) and flags.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the effective configuration. Each field's `env` tag names its
// environment variable; fields tagged secret are redacted by Redacted and may
// also be read from a file named by the variable with a _FILE suffix.
type Config struct {
	// DataDir holds the SQLite database, local artifacts and generated keys.
	DataDir string `yaml:"data" env:"HYGIE_DATA" flag:"data" help:"data directory (SQLite database, local artifacts)"`
	// Database is empty (SQLite in DataDir), a sqlite path, or a postgres:// URL.
	Database string `yaml:"database" env:"HYGIE_DATABASE" flag:"database" secret:"url" help:"metadata database: empty for SQLite in the data directory, or postgres://user:pass@host/db"`
	// Artifacts is empty (DataDir/blobs), a directory, or s3://bucket/prefix.
	Artifacts   string `yaml:"artifacts" env:"HYGIE_ARTIFACTS" flag:"artifacts" help:"artifact store: empty for <data>/blobs, a directory, or s3://bucket/prefix"`
	S3Endpoint  string `yaml:"s3_endpoint" env:"HYGIE_S3_ENDPOINT" flag:"s3-endpoint" help:"S3 endpoint host:port (for s3:// artifacts)"`
	S3AccessKey string `yaml:"s3_access_key" env:"HYGIE_S3_ACCESS_KEY" flag:"s3-access-key" help:"S3 access key"`
	S3SecretKey string `yaml:"s3_secret_key" env:"HYGIE_S3_SECRET_KEY" secret:"true" help:"S3 secret key"`
	S3Region    string `yaml:"s3_region" env:"HYGIE_S3_REGION" flag:"s3-region" help:"S3 region"`
	S3UseSSL    bool   `yaml:"s3_use_ssl" env:"HYGIE_S3_USE_SSL" flag:"s3-use-ssl" help:"use TLS to reach S3"`

	Addr            string        `yaml:"addr" env:"HYGIE_ADDR" flag:"addr" help:"HTTP listen address"`
	PublicURL       string        `yaml:"public_url" env:"HYGIE_PUBLIC_URL" flag:"public-url" help:"URL users reach the server at (default http://<addr>)"`
	MaxRequestBytes int64         `yaml:"max_request_bytes" env:"HYGIE_MAX_REQUEST_BYTES" flag:"max-request-bytes" help:"largest accepted request body in bytes"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" env:"HYGIE_SHUTDOWN_TIMEOUT" flag:"shutdown-timeout" help:"grace period for in-flight requests on SIGTERM"`
	ShutdownDrain   time.Duration `yaml:"shutdown_drain" env:"HYGIE_SHUTDOWN_DRAIN" flag:"shutdown-drain" help:"on SIGTERM, first serve this long with /readyz failing and no keep-alive (for load balancers); 0: none"`
	SessionTTL      time.Duration `yaml:"session_ttl" env:"HYGIE_SESSION_TTL" flag:"session-ttl" help:"lifetime of a web login session"`
	// TLSCert and TLSKey are PEM files (both or neither): with them every
	// listener serves HTTPS (TLS 1.2 at least) and picks up renewed files
	// without a restart.
	TLSCert string `yaml:"tls_cert" env:"HYGIE_TLS_CERT" flag:"tls-cert" help:"PEM certificate (chain) file: serve HTTPS; reloaded when renewed"`
	TLSKey  string `yaml:"tls_key" env:"HYGIE_TLS_KEY" flag:"tls-key" help:"PEM private key file of --tls-cert"`
	// PredictionRetention is how long logged predictions (and the feedback
	// on them) are kept; 0 keeps them. The server prunes hourly.
	PredictionRetention time.Duration `yaml:"prediction_retention" env:"HYGIE_PREDICTION_RETENTION" flag:"prediction-retention" help:"delete logged predictions older than this (e.g. 2160h); 0 keeps them"`
	// MonitorInterval is how often the server checks every model in
	// production (drift, live performance, alert rules); 0 turns it off.
	MonitorInterval time.Duration `yaml:"monitor_interval" env:"HYGIE_MONITOR_INTERVAL" flag:"monitor-interval" help:"run monitoring checks of production models this often (e.g. 1h); 0 turns them off"`

	LogFormat string `yaml:"log_format" env:"HYGIE_LOG_FORMAT" flag:"log-format" help:"log format: text or json"`
	LogLevel  string `yaml:"log_level" env:"HYGIE_LOG_LEVEL" flag:"log-level" help:"log level: debug, info, warn, error"`

	// BootstrapToken creates the first admin user when no user exists.
	BootstrapToken string `yaml:"bootstrap_token" env:"HYGIE_BOOTSTRAP_TOKEN" secret:"true" help:"on first start, create user 'admin' with this API token"`
	// MasterKeyFile holds the 32-byte master key (hex or raw) that wraps
	// per-project and per-version keys. Empty: <data>/secrets/master.key,
	// generated on first use.
	MasterKeyFile string `yaml:"master_key_file" env:"HYGIE_MASTER_KEY_FILE" flag:"master-key-file" help:"file holding the master key (default <data>/secrets/master.key, generated)"`

	// JobsExecutor runs jobs: local (this machine) or slurm (sbatch; the
	// spool directory <data>/slurm must be on a filesystem shared with the
	// compute nodes).
	JobsExecutor   string `yaml:"jobs_executor" env:"HYGIE_JOBS_EXECUTOR" flag:"jobs-executor" help:"job executor: local or slurm"`
	SlurmPartition string `yaml:"slurm_partition" env:"HYGIE_SLURM_PARTITION" flag:"slurm-partition" help:"Slurm partition for jobs (default: the cluster's default)"`

	// Single sign-on (see sso.go): an OpenID Connect provider, an LDAP or
	// Active Directory server, and how their groups map to hygie roles.
	OIDC        OIDC        `yaml:"oidc"`
	LDAP        LDAP        `yaml:"ldap"`
	GroupRoles  []GroupRole `yaml:"group_roles"`
	AdminGroups []string    `yaml:"admin_groups"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	c := Config{
		DataDir:         "./hygie-data",
		Addr:            "127.0.0.1:8080",
		MaxRequestBytes: 32 << 20,
		ShutdownTimeout: 15 * time.Second,
		SessionTTL:      12 * time.Hour,
		MonitorInterval: time.Hour,
		LogFormat:       "text",
		LogLevel:        "info",
		S3Region:        "us-east-1",
		JobsExecutor:    "local",
	}
	c.ssoDefaults()
	return c
}

// LoadFile merges a YAML file into c. Unknown keys are an error.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && err.Error() != "EOF" {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// LoadEnv merges HYGIE_* variables (and HYGIE_*_FILE for secrets) into c,
// using getenv (os.Getenv in production, a map in tests).
func (c *Config) LoadEnv(getenv func(string) string) error {
	return loadEnv(reflect.ValueOf(c).Elem(), getenv)
}

func loadEnv(v reflect.Value, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if isSection(f) {
			if err := loadEnv(v.Field(i), getenv); err != nil {
				return err
			}
			continue
		}
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		val := getenv(name)
		if val == "" && f.Tag.Get("secret") != "" {
			if file := getenv(name + "_FILE"); file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("%s_FILE: %w", name, err)
				}
				val = strings.TrimSpace(string(b))
				if val == "" {
					return fmt.Errorf("%s_FILE: file %s is empty", name, file)
				}
			}
		}
		if val == "" {
			continue
		}
		if err := setField(v.Field(i), val); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func setField(fv reflect.Value, val string) error {
	switch fv.Interface().(type) {
	case string:
		fv.SetString(val)
	case bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", val)
		}
		fv.SetBool(b)
	case int64:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", val)
		}
		fv.SetInt(n)
	case time.Duration:
		d, err := time.ParseDuration(val)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 30s, 5m)", val)
		}
		fv.SetInt(int64(d))
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

// Validate checks every setting and names the first wrong one.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.DataDir) == "" {
		return fmt.Errorf("setting data (HYGIE_DATA): must not be empty")
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") && !strings.HasPrefix(c.Database, "sqlite:") {
		return fmt.Errorf("setting database (HYGIE_DATABASE): want empty, sqlite:PATH or postgres://…, got a value with another scheme")
	}
	if strings.HasPrefix(c.Artifacts, "s3://") {
		u, err := url.Parse(c.Artifacts)
		if err != nil || u.Host == "" {
			return fmt.Errorf("setting artifacts (HYGIE_ARTIFACTS): want s3://bucket/prefix, got %q", c.Artifacts)
		}
		if c.S3Endpoint == "" {
			return fmt.Errorf("setting s3_endpoint (HYGIE_S3_ENDPOINT): required when artifacts is s3://")
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("setting addr (HYGIE_ADDR): %q is not host:port", c.Addr)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("setting tls_cert (HYGIE_TLS_CERT) and tls_key (HYGIE_TLS_KEY): set both or neither")
	}
	for _, f := range []struct{ name, path string }{{"tls_cert (HYGIE_TLS_CERT)", c.TLSCert}, {"tls_key (HYGIE_TLS_KEY)", c.TLSKey}} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(f.path); err != nil || st.IsDir() {
			return fmt.Errorf("setting %s: %s is not a readable file", f.name, f.path)
		}
	}
	if c.MaxRequestBytes <= 0 {
		return fmt.Errorf("setting max_request_bytes (HYGIE_MAX_REQUEST_BYTES): must be positive")
	}
	if c.ShutdownDrain < 0 {
		return fmt.Errorf("setting shutdown_drain (HYGIE_SHUTDOWN_DRAIN): must be 0 (none) or positive")
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("setting shutdown_timeout (HYGIE_SHUTDOWN_TIMEOUT): must be positive")
	}
	if c.SessionTTL <= 0 {
		return fmt.Errorf("setting session_ttl (HYGIE_SESSION_TTL): must be positive")
	}
	if c.MonitorInterval < 0 {
		return fmt.Errorf("setting monitor_interval (HYGIE_MONITOR_INTERVAL): must be 0 (off) or positive")
	}
	if c.PredictionRetention < 0 {
		return fmt.Errorf("setting prediction_retention (HYGIE_PREDICTION_RETENTION): must be 0 (keep) or positive")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("setting log_format (HYGIE_LOG_FORMAT): want text or json, got %q", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("setting log_level (HYGIE_LOG_LEVEL): want debug, info, warn or error, got %q", c.LogLevel)
	}
	switch c.JobsExecutor {
	case "local", "slurm":
	default:
		return fmt.Errorf("setting jobs_executor (HYGIE_JOBS_EXECUTOR): want local or slurm, got %q", c.JobsExecutor)
	}
	return c.validateSSO()
}

// MasterKeyPath returns the master key file, defaulting inside DataDir.
func (c *Config) MasterKeyPath() string {
	if c.MasterKeyFile != "" {
		return c.MasterKeyFile
	}
	return filepath.Join(c.DataDir, "secrets", "master.key")
}

// BaseURL is where users reach the server.
func (c *Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	if c.TLSCert != "" {
		return "https://" + c.Addr
	}
	return "http://" + c.Addr
}

// Redacted returns the settings as ordered name/value pairs with secrets
// hidden (passwords inside URLs too), for `hygie config`.
func (c *Config) Redacted() []Setting {
	return redacted(reflect.ValueOf(c).Elem(), "")
}

func redacted(v reflect.Value, prefix string) []Setting {
	t := v.Type()
	var out []Setting
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if isSection(f) {
			out = append(out, redacted(v.Field(i), prefix+f.Tag.Get("yaml")+".")...)
			continue
		}
		val := fmt.Sprint(v.Field(i).Interface())
		switch f.Tag.Get("secret") {
		case "true":
			if val != "" {
				val = "<redacted>"
			}
		case "url":
			val = redactURL(val)
		}
		out = append(out, Setting{Name: prefix + f.Tag.Get("yaml"), Env: f.Tag.Get("env"), Value: val})
	}
	return out
}

// isSection reports whether a field is a nested section (oidc:, ldap:)
// whose own fields carry the tags.
func isSection(f reflect.StructField) bool {
	return f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]()
}

// Setting is one line of the redacted configuration.
type Setting struct {
	Name  string `json:"name"`
	Env   string `json:"env"`
	Value string `json:"value"`
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	return u.String()
}

// Field describes one setting for flag registration.
type Field struct {
	Flag, Help string
	Ptr        any // *string, *bool, *int64 or *time.Duration
}

// Flags lists the settings that have a command-line flag, bound to c's fields.
func (c *Config) Flags() []Field {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name := f.Tag.Get("flag"); name != "" {
			out = append(out, Field{Flag: name, Help: f.Tag.Get("help") + " [" + f.Tag.Get("env") + "]", Ptr: v.Field(i).Addr().Interface()})
		}
	}
	return out
}

// CopyFlag copies into c the field that the named flag sets in from; the CLI
// uses it to give changed flags precedence over file and environment.
func (c *Config) CopyFlag(from *Config, flag string) {
	v := reflect.ValueOf(c).Elem()
	fv := reflect.ValueOf(from).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("flag") == flag {
			v.Field(i).Set(fv.Field(i))
		}
	}
}
