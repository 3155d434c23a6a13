package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModelGovernanceCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HYGIE_DATA": dir, "HYGIE_LOG_LEVEL": "warn", "HYGIE_ADDR": "127.0.0.1:1"}
	data, roles := writeICU(t, dir, 300)
	for _, args := range [][]string{{"migrate"}, {"user", "create", "ada"}, {"user", "create", "sophie"}, {"user", "create", "marc"}, {"user", "create", "claire"},
		{"project", "create", "icu"}, {"grant", "icu", "ada", "admin"}, {"grant", "icu", "sophie", "steward"}, {"grant", "icu", "marc", "scientist"},
		{"grant", "icu", "claire", "clinician-validator"},
		{"dataset", "import", data, "--name", "stays", "-p", "icu", "--level", "pseudonymized", "--roles", roles, "--as", "sophie"}} {
		if code, out, errs := run(t, env, "", args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errs)
		}
	}
	code, out, errOut := run(t, env, "", "train", "--dataset", "stays@1", "-p", "icu", "--as", "marc", "--target", "deces", "--positive", "oui",
		"--learner", "logistic", "--cv", "0", "--output", "json")
	if code != 0 {
		t.Fatalf("train: %d %s", code, errOut)
	}
	var tr struct {
		Run struct{ ID int64 } `json:"run"`
	}
	json.Unmarshal([]byte(out), &tr)
	runID := fmt.Sprint(tr.Run.ID)
	policy := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policy, []byte("environments:\n  dev:\n    metrics: [{metric: roc_auc, min: 0.99}]\n  test:\n    signoffs: 1\n"), 0o600)
	cases := filepath.Join(dir, "cases.yaml")
	os.WriteFile(cases, []byte("cases:\n  - {name: old, inputs: {sexe: M, age: 85, lactate: 6, ward: rea}, expect: {min: 0.5}}\n"), 0o600)
	labels := filepath.Join(dir, "labels.json")
	os.WriteFile(labels, []byte(`[{"name": "oui", "color": "#aa0000", "shortcut": "o"}, {"name": "non", "color": "#00aa00", "shortcut": "n"}]`), 0o600)
	steps := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"model", "register", runID, "-p", "icu", "--as", "marc", "--name", "mortality", "--description", "ICU mortality at 48 h"}, 0, "registered mortality version 1"},
		{[]string{"policy", "-p", "icu", "--set", policy, "--as", "marc"}, 1, ""}, // a scientist cannot set the policy
		{[]string{"policy", "-p", "icu", "--set", policy, "--as", "ada"}, 0, "min: 0.99"},
		{[]string{"model", "promote", "mortality", "1", "--to", "test", "-p", "icu", "--as", "marc"}, 1, ""},
		{[]string{"model", "promote", "mortality", "1", "--to", "dev", "-p", "icu", "--as", "marc"}, 1, "FAIL  roc_auc (lower bound of the 95% CI)"},
		{[]string{"model", "promote", "mortality", "1", "--to", "dev", "-p", "icu", "--as", "ada", "--override", "pilot on one ward"}, 0, "OVERRIDE (pilot on one ward)"},
		{[]string{"model", "signoff", "mortality", "1", "--env", "test", "--comment", "ok", "-p", "icu", "--as", "marc"}, 1, ""}, // the author
		{[]string{"model", "signoff", "mortality", "1", "--env", "test", "--comment", "20 charts reviewed", "-p", "icu", "--as", "claire"}, 0, "claire signed mortality version 1 off for test"},
		{[]string{"model", "promote", "mortality", "1", "--to", "test", "-p", "icu", "--as", "marc"}, 0, "pass  clinician sign-offs for test"},
		{[]string{"model", "cases", "mortality", "--set", cases, "-p", "icu", "--as", "claire"}, 0, "1 clinical cases set"},
		{[]string{"model", "cases", "mortality", "1", "-p", "icu", "--as", "claire"}, 0, "pass"},
		{[]string{"model", "cases", "mortality", "-p", "icu", "--as", "claire"}, 2, ""},
		{[]string{"model", "promotions", "mortality", "-p", "icu", "--as", "claire"}, 0, "DENIED"},
		{[]string{"model", "card", "mortality", "1", "-p", "icu", "--as", "claire"}, 0, "ICU mortality at 48 h"},
		{[]string{"model", "list", "-p", "icu", "--as", "claire"}, 0, "mortality  1        test"},
		{[]string{"model", "rollback", "mortality", "--reason", "x", "-p", "icu", "--as", "marc"}, 1, ""}, // nothing in production
		// The default annotation project of feedback.
		{[]string{"annotate", "create", "review", "-p", "icu", "--as", "marc", "--kind", "classification", "--labels", labels}, 0, ""},
		{[]string{"annotate", "create", "notes", "-p", "icu", "--as", "marc", "--kind", "span", "--labels", "deid"}, 0, ""},
		{[]string{"model", "set", "mortality", "-p", "icu", "--as", "marc"}, 2, ""},                                      // nothing to set
		{[]string{"model", "set", "mortality", "--feedback-annotation", "review", "-p", "icu", "--as", "claire"}, 1, ""}, // no model.write
		{[]string{"model", "set", "mortality", "--feedback-annotation", "nosuch", "-p", "icu", "--as", "marc"}, 1, ""},   // not an annotation project
		{[]string{"model", "set", "mortality", "--feedback-annotation", "notes", "-p", "icu", "--as", "marc"}, 1, ""},    // a span project
		{[]string{"model", "set", "mortality", "--feedback-annotation", "review", "-p", "icu", "--as", "marc"}, 0, "go to annotation project review by default"},
		{[]string{"model", "set", "mortality", "--feedback-annotation", "review", "-p", "icu", "--as", "marc", "--output", "json"}, 0, `"feedback_annotation": "review"`},
		{[]string{"audit", "list", "--action", "model.feedback_annotation.*"}, 0, "model.feedback_annotation.set"},
		{[]string{"model", "set", "mortality", "--feedback-annotation", "", "-p", "icu", "--as", "marc"}, 0, "go to no annotation project"},
	}
	for _, s := range steps {
		code, out, errOut := run(t, env, "", s.args...)
		if code != s.code || !strings.Contains(out, s.out) {
			t.Errorf("%v = %d\n%s\n%s\nwant %d and %q", s.args, code, out, errOut, s.code, s.out)
		}
	}
}
