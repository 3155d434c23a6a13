package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTLSSettings(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []string{cert, key} {
		if err := os.WriteFile(f, []byte("pem"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		cert, key string
		want      string // error fragment; "" for valid
	}{
		{"neither", "", "", ""},
		{"both", cert, key, ""},
		{"cert only", cert, "", "set both or neither"},
		{"key only", "", key, "set both or neither"},
		{"missing cert", filepath.Join(dir, "nope.pem"), key, "tls_cert (HYGIE_TLS_CERT)"},
		{"key is a directory", cert, dir, "tls_key (HYGIE_TLS_KEY)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.TLSCert, c.TLSKey = tt.cert, tt.key
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want mention of %q", err, tt.want)
			}
		})
	}

	c := Default()
	env := map[string]string{"HYGIE_TLS_CERT": cert, "HYGIE_TLS_KEY": key}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.TLSCert != cert || c.TLSKey != key {
		t.Fatalf("from environment: cert %q key %q", c.TLSCert, c.TLSKey)
	}
	flags := map[string]bool{}
	for _, f := range c.Flags() {
		flags[f.Flag] = true
	}
	if !flags["tls-cert"] || !flags["tls-key"] {
		t.Fatalf("flags --tls-cert and --tls-key missing: %v", flags)
	}
}
