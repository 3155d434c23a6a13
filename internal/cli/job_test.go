package cli

import (
	"strings"
	"testing"
)

func TestJobCommands(t *testing.T) {
	env := map[string]string{"HYGIE_DATA": t.TempDir(), "HYGIE_LOG_LEVEL": "warn"}
	for _, args := range [][]string{{"migrate"}, {"user", "create", "marc"}, {"project", "create", "icu"}, {"grant", "icu", "marc", "scientist"}} {
		if code, _, errs := run(t, env, "", args...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, errs)
		}
	}
	code, out, errs := run(t, env, "", "job", "submit", "-p", "icu", "--as", "marc", "--mem", "1G", "--", "sh", "-c", "echo hello; echo oops >&2; exit 3")
	if code != 1 || out != "hello\n" || !strings.Contains(errs, "oops\n") || !strings.Contains(errs, "job 1 failed") {
		t.Errorf("failing job: %d %q %q", code, out, errs)
	}
	code, out, errs = run(t, env, "", "job", "submit", "-p", "icu", "--as", "marc", "--time", "1m", "echo", "$MLFLOW_RUN_ID", "-n")
	if code != 0 || out != "$MLFLOW_RUN_ID -n\n" {
		t.Errorf("job: %d %q %q", code, out, errs)
	}
	if code, _, errs := run(t, env, "", "job", "submit", "-p", "icu", "--as", "marc"); code != 2 {
		t.Errorf("submit without a command: %d %s", code, errs)
	}
	if code, _, errs := run(t, env, "", "job", "submit", "-p", "icu", "--as", "marc", "--mem", "lots", "--", "true"); code != 2 {
		t.Errorf("bad --mem: %d %s", code, errs)
	}
	code, out, errs = run(t, env, "", "job", "list", "-p", "icu", "--as", "marc")
	if code != 0 || !strings.Contains(out, "failed") || !strings.Contains(out, "succeeded") {
		t.Errorf("list: %d %q %q", code, out, errs)
	}
	code, out, errs = run(t, env, "", "job", "show", "1", "--as", "marc")
	if code != 0 || !strings.Contains(out, "exit:     3") || !strings.Contains(out, "mem=1073741824") {
		t.Errorf("show: %d %q %q", code, out, errs)
	}
	if code, _, errs := run(t, env, "", "job", "cancel", "1", "--as", "marc"); code != 1 || !strings.Contains(errs, "already ended") {
		t.Errorf("cancel an ended job: %d %s", code, errs)
	}
	if code, _, _ := run(t, env, "", "job", "list", "-p", "icu"); code != 2 {
		t.Errorf("list without --as: %d", code)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"4G": 4 << 30, "512M": 512 << 20, "1024": 1024, "2GiB": 2 << 30, "1k": 1024} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "G", "-1G", "x"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}
