package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeReport writes a gosec JSON report over the files of root.
func writeReport(t *testing.T, root string, issues []map[string]string, errs map[string]any) string {
	t.Helper()
	r := map[string]any{"Issues": issues}
	if errs != nil {
		r["Golang errors"] = errs
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "gosec.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	root := t.TempDir()
	src := "package a\n\nfunc f() {\n\tos.Remove(x) // a | b\n\tg()\n}\n"
	if err := os.MkdirAll(filepath.Join(root, "internal", "a"), 0o750); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "internal", "a", "a.go")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	issues := []map[string]string{
		{"rule_id": "G104", "file": file, "line": "4", "details": "Errors unhandled", "severity": "LOW"},
		{"rule_id": "G104", "file": file, "line": "5-6", "details": "Errors unhandled", "severity": "LOW"},
	}
	tests := []struct {
		name     string
		accepted string
		errs     map[string]any
		wantN    int
		wantOut  []string
		wantErr  string
	}{
		{name: "none accepted", accepted: "# nothing\n", wantN: 2,
			wantOut: []string{"NEW G104 internal/a/a.go:4", "NEW G104 internal/a/a.go:5", "2 finding(s): 0 accepted with a reason, 2 new"}},
		{name: "one accepted, source holds a bar",
			accepted: "G104 | internal/a/a.go | os.Remove(x) // a | b | cleanup\n", wantN: 1,
			wantOut: []string{"NEW G104 internal/a/a.go:5", "2 finding(s): 1 accepted with a reason, 1 new"}},
		{name: "all accepted, one stale",
			accepted: "G104 | internal/a/a.go | os.Remove(x) // a | b | cleanup\nG104 | internal/a/a.go | g() | ok\nG115 | internal/a/a.go | gone() | old\n", wantN: 0,
			wantOut: []string{"no longer found (remove it from accepted.txt): G115 | internal/a/a.go | gone()", "2 finding(s): 2 accepted with a reason, 0 new"}},
		{name: "same text, other rule is new", accepted: "G115 | internal/a/a.go | g() | no\nG104 | internal/a/a.go | os.Remove(x) // a | b | cleanup\n", wantN: 1,
			wantOut: []string{"NEW G104 internal/a/a.go:5"}},
		{name: "package not type-checked", accepted: "G104 | internal/a/a.go | os.Remove(x) // a | b | cleanup\nG104 | internal/a/a.go | g() | ok\n",
			errs:  map[string]any{file: []map[string]any{{"line": 3, "column": 1, "error": "undefined: x"}}},
			wantN: 1, wantOut: []string{"gosec could not check: internal/a/a.go:3: undefined: x"}},
		{name: "no reason", accepted: "G104 | internal/a/a.go | g() | \n", wantErr: "accepted.txt:1: want RULE | PATH | SOURCE LINE | REASON"},
		{name: "missing field", accepted: "G104 | g() | reason\n", wantErr: "accepted.txt:1:"},
		{name: "listed twice", accepted: "G104 | internal/a/a.go | g() | one\nG104 | internal/a/a.go | g() | two\n", wantErr: "accepted.txt:2: listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acc := filepath.Join(t.TempDir(), "accepted.txt")
			if err := os.WriteFile(acc, []byte(tt.accepted), 0o600); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			n, err := run(writeReport(t, root, issues, tt.errs), acc, root, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.wantN {
				t.Errorf("n = %d, want %d\n%s", n, tt.wantN, out.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
