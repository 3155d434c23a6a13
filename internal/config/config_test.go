package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadPrecedenceAndSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hygie.yaml")
	if err := os.WriteFile(file, []byte("data: /from/file\naddr: 127.0.0.1:9000\nlog_level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "token")
	if err := os.WriteFile(secret, []byte("s3cr3t-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HYGIE_ADDR":                 "127.0.0.1:9100",
		"HYGIE_BOOTSTRAP_TOKEN_FILE": secret,
		"HYGIE_SHUTDOWN_TIMEOUT":     "3s",
		"HYGIE_DATABASE":             "postgres://hygie:pw@localhost/hygie",
	}
	c := Default()
	if err := c.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	flags := Default()
	flags.DataDir = "/from/flag"
	c.CopyFlag(&flags, "data")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/flag" || c.Addr != "127.0.0.1:9100" || c.LogLevel != "debug" || c.ShutdownTimeout != 3*time.Second {
		t.Fatalf("precedence wrong: %+v", c)
	}
	if c.BootstrapToken != "s3cr3t-token" {
		t.Fatalf("secret from _FILE not read: %q", c.BootstrapToken)
	}
	for _, s := range c.Redacted() {
		if strings.Contains(s.Value, "s3cr3t") || strings.Contains(s.Value, ":pw@") {
			t.Fatalf("secret not redacted in %s=%s", s.Name, s.Value)
		}
	}
}

func TestValidateNamesTheSetting(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"empty data", func(c *Config) { c.DataDir = "" }, "setting data"},
		{"bad addr", func(c *Config) { c.Addr = "nope" }, "setting addr"},
		{"bad database", func(c *Config) { c.Database = "mysql://x" }, "setting database"},
		{"s3 without endpoint", func(c *Config) { c.Artifacts = "s3://bucket/p" }, "setting s3_endpoint"},
		{"bad log format", func(c *Config) { c.LogFormat = "xml" }, "setting log_format"},
		{"bad level", func(c *Config) { c.LogLevel = "loud" }, "setting log_level"},
		{"zero body", func(c *Config) { c.MaxRequestBytes = 0 }, "setting max_request_bytes"},
		{"bad jobs executor", func(c *Config) { c.JobsExecutor = "k8s" }, "setting jobs_executor"},
		{"negative retention", func(c *Config) { c.PredictionRetention = -time.Hour }, "setting prediction_retention"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want mention of %q", err, tc.want)
			}
		})
	}
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
}

func TestEnvErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"bad duration":   {"HYGIE_SHUTDOWN_TIMEOUT": "soon"},
		"bad bool":       {"HYGIE_S3_USE_SSL": "maybe"},
		"missing secret": {"HYGIE_BOOTSTRAP_TOKEN_FILE": "/does/not/exist"},
	} {
		t.Run(name, func(t *testing.T) {
			c := Default()
			if err := c.LoadEnv(func(k string) string { return env[k] }); err == nil {
				t.Fatal("want error")
			}
		})
	}
	c := Default()
	if err := c.LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
	f := filepath.Join(t.TempDir(), "x.yaml")
	os.WriteFile(f, []byte("unknown_key: 1\n"), 0o600)
	if err := c.LoadFile(f); err == nil {
		t.Fatal("unknown key accepted")
	}
}

func TestPredictionRetention(t *testing.T) {
	c := Default()
	if c.PredictionRetention != 0 {
		t.Fatalf("default retention %v, want 0 (keep)", c.PredictionRetention)
	}
	env := map[string]string{"HYGIE_PREDICTION_RETENTION": "2160h"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil || c.PredictionRetention != 2160*time.Hour {
		t.Fatalf("retention from env = %v, %v", c.PredictionRetention, err)
	}
}

func TestMonitorInterval(t *testing.T) {
	c := Default()
	if c.MonitorInterval != time.Hour {
		t.Fatalf("default monitor interval %v, want 1h", c.MonitorInterval)
	}
	for _, tt := range []struct {
		value string
		want  time.Duration
	}{{"15m", 15 * time.Minute}, {"0", 0}} {
		c := Default()
		env := map[string]string{"HYGIE_MONITOR_INTERVAL": tt.value}
		if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil || c.MonitorInterval != tt.want || c.Validate() != nil {
			t.Errorf("HYGIE_MONITOR_INTERVAL=%s: %v, %v", tt.value, c.MonitorInterval, err)
		}
	}
	c.MonitorInterval = -time.Minute
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "monitor_interval") {
		t.Errorf("negative interval: %v", err)
	}
}
