package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/db"
)

// run executes the CLI in-process with an isolated environment.
func run(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestOfflineAdministration(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"HYGIE_DATA": data, "HYGIE_LOG_LEVEL": "warn"}
	steps := []struct {
		args  []string
		stdin string
		code  int
		out   string
	}{
		{[]string{"migrate"}, "", 0, "migration(s); sqlite schema at version"},
		{[]string{"migrate"}, "", 0, "applied 0 migration"},
		{[]string{"user", "create", "alice", "--admin"}, "", 0, "created user alice"},
		{[]string{"user", "create", "bob", "--password-stdin"}, "a long enough password\n", 0, "created user bob"},
		{[]string{"user", "create", "bob"}, "", 1, ""},
		{[]string{"project", "create", "sepsis-icu", "--title", "Sepsis"}, "", 0, "created project sepsis-icu"},
		{[]string{"grant", "sepsis-icu", "bob", "clinician-validator"}, "", 0, "granted"},
		{[]string{"grant", "sepsis-icu", "bob", "surgeon"}, "", 1, ""},
		{[]string{"token", "create", "alice", "--expires", "1h"}, "", 0, "hyg_"},
		{[]string{"token", "list", "alice"}, "", 0, "cli"},
		{[]string{"token", "revoke", "alice", "1"}, "", 0, "revoked token 1"},
		{[]string{"user", "list"}, "", 0, "bob"},
		{[]string{"audit", "list", "--action", "grant.*"}, "", 0, "grant.create"},
		{[]string{"audit", "verify"}, "", 0, "audit chain verified"},
	}
	for _, s := range steps {
		code, out, errOut := run(t, env, s.stdin, s.args...)
		if code != s.code || !strings.Contains(out, s.out) {
			t.Fatalf("hygie %s = %d\nstdout: %s\nstderr: %s\nwant code %d and %q", strings.Join(s.args, " "), code, out, errOut, s.code, s.out)
		}
	}
	// JSON output is machine-readable.
	code, out, _ := run(t, env, "", "user", "list", "--output", "json")
	var users []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &users) != nil || len(users) != 2 {
		t.Fatalf("user list json: %d %s", code, out)
	}
	// Editing a stored event is caught by audit verify (exit 1).
	d, err := db.OpenSQLite(context.Background(), filepath.Join(data, "hygie.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(context.Background(), `UPDATE audit_events SET actor = 'mallory' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	code, out, errOut := run(t, env, "", "audit", "verify")
	if code != 1 || !strings.Contains(out, "BROKEN at event 3") || !strings.Contains(errOut, "broken") {
		t.Fatalf("tampered audit verify = %d\n%s\n%s", code, out, errOut)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	env := map[string]string{"HYGIE_DATA": t.TempDir()}
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"no-such-command"},
		{"user", "create"},
		{"grant", "p", "u"},
		{"token", "revoke", "alice", "x"},
		{"config", "--output", "yaml"},
		{"audit", "list", "--since", "yesterday"},
	} {
		code, _, errOut := run(t, env, "", args...)
		if code != ExitUsage || !strings.Contains(errOut, "hygie:") {
			t.Errorf("hygie %v = %d (%s), want 2", args, code, errOut)
		}
	}
}

func TestConfigCommandAndErrors(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(secret, []byte("super-secret-bootstrap"), 0o600)
	env := map[string]string{"HYGIE_BOOTSTRAP_TOKEN_FILE": secret, "HYGIE_DATABASE": "postgres://u:pw@db/hygie"}
	code, out, _ := run(t, env, "", "config", "--addr", "127.0.0.1:9999")
	if code != 0 || !strings.Contains(out, "127.0.0.1:9999") || strings.Contains(out, "super-secret") || strings.Contains(out, ":pw@") {
		t.Fatalf("config: %d\n%s", code, out)
	}
	code, _, errOut := run(t, map[string]string{"HYGIE_LOG_FORMAT": "xml"}, "", "config")
	if code != 1 || !strings.Contains(errOut, "setting log_format") {
		t.Fatalf("invalid config: %d %s", code, errOut)
	}
	// A file where the data directory should be is named in the error.
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, nil, 0o600)
	code, _, errOut = run(t, map[string]string{"HYGIE_DATA": filepath.Join(f, "x")}, "", "user", "list")
	if code != 1 || !strings.Contains(errOut, "setting data") {
		t.Fatalf("bad data dir: %d %s", code, errOut)
	}
	// Commands other than migrate/server/demo refuse an unmigrated database.
	code, _, errOut = run(t, map[string]string{"HYGIE_DATA": t.TempDir()}, "", "user", "list")
	if code != 1 || !strings.Contains(errOut, "hygie migrate") {
		t.Fatalf("unmigrated: %d %s", code, errOut)
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"demo", "--help"}, {"server", "--help"}, {"grant", "--help"}, {"completion", "bash"}} {
		code, out, _ := run(t, nil, "", args...)
		if code != 0 || len(out) < 100 {
			t.Errorf("hygie %v: %d, %d bytes", args, code, len(out))
		}
		if args[0] != "completion" && !strings.Contains(out, "Example") && !strings.Contains(out, "Examples") {
			t.Errorf("hygie %v has no example", args)
		}
	}
}

func TestDatasetCommandsFollowAccessRules(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"HYGIE_DATA": data, "HYGIE_LOG_LEVEL": "error", "HYGIE_ADDR": "127.0.0.1:0"}
	if code, _, errOut := run(t, env, "", "demo", "--patients", "2000"); code != 0 {
		t.Fatalf("demo: %d %s", code, errOut)
	}
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"dataset", "list", "-p", "demo-bmi", "--as", "marc"}, 0, "cohort_features@1"},
		{[]string{"dataset", "lineage", "cohort_features", "-p", "demo-bmi", "--as", "marc"}, 0, "└─ cohort_pseudo@1"},
		{[]string{"dataset", "show", "cohort@1", "-p", "demo-bmi", "--as", "sophie"}, 0, "content encrypted at rest"},
		{[]string{"dataset", "list", "-p", "demo-bmi", "--as", "claire"}, 1, ""},
		{[]string{"dataset", "list", "-p", "demo-bmi"}, 2, ""},
		{[]string{"dataset", "show", "cohort@x", "-p", "demo-bmi", "--as", "marc"}, 2, ""},
		{[]string{"dataset", "show", "nope", "-p", "demo-bmi", "--as", "marc"}, 1, ""},
	}
	for _, c := range cases {
		code, out, errOut := run(t, env, "", c.args...)
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("hygie %s = %d\n%s%s", strings.Join(c.args, " "), code, out, errOut)
		}
	}
}

func TestDatasetImportExportTransform(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"HYGIE_DATA": data, "HYGIE_LOG_LEVEL": "error", "HYGIE_ADDR": "127.0.0.1:0"}
	if code, _, errOut := run(t, env, "", "demo", "--patients", "2000"); code != 0 {
		t.Fatalf("demo: %d %s", code, errOut)
	}
	dir := t.TempDir()
	extract := filepath.Join(dir, "extract.csv")
	// Windows-1252, semicolons, decimal comma, CRLF: as hospital tools export.
	os.WriteFile(extract, []byte("IPP;Nom;Taille;Poids\r\nIPP001;H\xe9l\xe8ne;170;70,5\r\nIPP002;Zo\xeb;165;\r\n"), 0o600)
	rolesYAML := filepath.Join(dir, "roles.yaml")
	os.WriteFile(rolesYAML, []byte("roles:\n  IPP: patient_id\n  Nom: direct_identifier\n  Taille: feature\n"), 0o600)
	recipeYAML := filepath.Join(dir, "recipe.yaml")
	os.WriteFile(recipeYAML, []byte("steps:\n  - convert: {column: Taille, from: cm, to: m, as: taille_m}\n  - not_null: {columns: [taille_m]}\n"), 0o600)
	out := filepath.Join(dir, "out.jsonl")
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"dataset", "import", extract, "--name", "labs", "-p", "demo-bmi", "--level", "pseudonymized", "--as", "sophie"}, 1, ""},
		{[]string{"dataset", "import", extract, "--name", "labs", "-p", "demo-bmi", "--level", "identifying", "--as", "marc", "--roles", rolesYAML}, 1, ""},
		{[]string{"dataset", "import", extract, "--name", "labs", "-p", "demo-bmi", "--level", "identifying", "--as", "sophie", "--roles", rolesYAML}, 0, "encoding windows-1252, decimal mark ','"},
		{[]string{"dataset", "import", extract, "--name", "labs", "-p", "demo-bmi", "--level", "identifying", "--as", "sophie", "--roles", rolesYAML}, 0, "reused"},
		{[]string{"dataset", "import", "--name", "labs", "-p", "demo-bmi", "--level", "identifying", "--as", "sophie"}, 2, ""},
		{[]string{"dataset", "export", "labs", "-p", "demo-bmi", "--as", "sophie", "--format", "jsonl", "--out", out}, 0, ""},
		{[]string{"dataset", "export", "labs", "-p", "demo-bmi", "--as", "marc"}, 1, ""},
		{[]string{"dataset", "transform", "cohort_features", "-p", "demo-bmi", "--as", "marc", "--recipe", recipeYAML}, 1, ""},
		{[]string{"dataset", "transform", "labs", "-p", "demo-bmi", "--as", "sophie", "--recipe", recipeYAML, "--output", "labs_m"}, 0, "labs_m@1"},
		{[]string{"dataset", "profile", "labs_m", "-p", "demo-bmi", "--as", "sophie"}, 0, "values withheld (identifier)"},
	}
	for _, c := range cases {
		code, stdout, errOut := run(t, env, "", c.args...)
		if code != c.code || !strings.Contains(stdout, c.out) {
			t.Errorf("hygie %s = %d\n%s%s", strings.Join(c.args, " "), code, stdout, errOut)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), `"Nom":"Hélène"`) || !strings.Contains(string(b), `"Poids":70.5`) {
		t.Fatalf("export = %q, %v", b, err)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Fatalf("export of identifying data has mode %v", st.Mode().Perm())
	}
}
