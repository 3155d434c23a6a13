package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDPCommands(t *testing.T) {
	env := map[string]string{"HYGIE_DATA": t.TempDir(), "HYGIE_LOG_LEVEL": "error", "HYGIE_ADDR": "127.0.0.1:0"}
	if code, _, errOut := run(t, env, "", "demo", "--patients", "2000"); code != 0 {
		t.Fatalf("demo: %d %s", code, errOut)
	}
	q := func(extra ...string) []string {
		return append([]string{"dp", "query", "cohort_features@1", "-p", "demo-bmi", "--as", "marc"}, extra...)
	}
	byBirthAndSex := q("--kind", "count", "--epsilon", "1", "--by", "sexe,date_naissance_annee", "--categories", "sexe=F,M",
		"--bins", "date_naissance_annee=1930,1960,1990,2006")
	cases := []struct {
		name string
		args []string
		code int
		out  string // in stdout (exit 0) or stderr
	}{
		{"no budget yet", q("--epsilon", "1"), 1, "no privacy budget is set"},
		{"budget needs project.manage", []string{"dp", "budget", "set", "cohort_features", "-p", "demo-bmi", "--epsilon", "2", "--as", "marc"}, 1, "project.manage"},
		{"budget set", []string{"dp", "budget", "set", "cohort_features", "-p", "demo-bmi", "--epsilon", "2", "--delta", "1e-6", "--as", "admin"}, 0, "ε 0 of 2 spent, 2 remaining"},
		{"histogram", byBirthAndSex, 0, "M     [1990,2006]"},
		{"clinician may not", append(byBirthAndSex[:5:5], "--as", "claire", "--epsilon", "0.1"), 1, "dataset.read"},
		{"mean", q("--kind", "mean", "--column", "imc", "--bounds", "15,45", "--epsilon", "0.5", "--noise", "gaussian", "--delta", "1e-6"), 0, "ε 1.5 of 2 spent, 0.5 remaining; δ 0.000001 of 0.000001 spent, 0 remaining"},
		{"over budget", q("--epsilon", "0.6"), 1, "remaining ε = 0.5 of 2"},
		{"quantile", q("--kind", "quantile", "--column", "taille_m", "--bounds", "1.2,2.2", "--quantiles", "0.5", "--epsilon", "0.5"), 0, "ε 2 of 2 spent, 0 remaining"},
		{"show", []string{"dp", "budget", "show", "cohort_features", "-p", "demo-bmi", "--as", "marc"}, 0, "ε 2 of 2 spent, 0 remaining"},
		{"releases", []string{"dp", "releases", "cohort_features", "-p", "demo-bmi", "--as", "marc"}, 0, "quantile of taille_m"},
		{"spent", q("--epsilon", "0.000001"), 1, "remaining ε = 0 of 2"},
		// Mistakes in the flags are usage errors (exit code 2).
		{"no epsilon", q("--kind", "count"), 2, "--epsilon is required"},
		{"bad epsilon", q("--epsilon", "1/3"), 2, "not a decimal"},
		{"bad kind", q("--kind", "median", "--epsilon", "1"), 2, "query kind"},
		{"bad bounds", q("--kind", "sum", "--column", "imc", "--bounds", "15", "--epsilon", "1"), 2, "LO,HI"},
		{"undeclared group", q("--by", "sexe", "--epsilon", "1"), 2, "no declared output space"},
		{"bad categories", q("--by", "sexe", "--categories", "sexe=F,,M", "--epsilon", "1"), 2, "empty value"},
		{"delta without gaussian", q("--epsilon", "1", "--delta", "1e-6"), 2, "only for --noise gaussian"},
		{"no project", []string{"dp", "budget", "show", "cohort_features", "--as", "marc"}, 2, "--project"},
	}
	for _, c := range cases {
		code, out, errOut := run(t, env, "", c.args...)
		where := out
		if c.code != 0 {
			where = errOut
		}
		if code != c.code || !strings.Contains(where, c.out) {
			t.Errorf("%s: hygie %s = %d\nstdout: %s\nstderr: %s\nwant %d and %q", c.name, strings.Join(c.args, " "), code, out, errOut, c.code, c.out)
		}
	}
	// The histogram shows declared cells only, and the JSON output carries
	// the values and the budget.
	if err := json.Unmarshal([]byte(runOK(t, env, "dp", "budget", "show", "cohort_features", "-p", "demo-bmi", "--as", "marc", "-o", "json")), new(map[string]any)); err != nil {
		t.Fatal(err)
	}
	runOK(t, env, "dp", "budget", "set", "cohort_features", "-p", "demo-bmi", "--epsilon", "3", "--delta", "1e-6", "--as", "admin")
	var rel struct {
		Result struct {
			By    []string `json:"by"`
			Cells []struct {
				Group []string `json:"group"`
				Value float64  `json:"value"`
			} `json:"cells"`
		} `json:"result"`
		Budget struct {
			EpsilonRemaining string `json:"epsilon_remaining"`
		} `json:"budget"`
	}
	out := runOK(t, env, append(byBirthAndSex, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), &rel); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rel.Result.Cells) != 6 || rel.Budget.EpsilonRemaining != "0" || strings.Join(rel.Result.By, ",") != "sexe,date_naissance_annee" {
		t.Fatalf("json release: %s", out)
	}
	var total float64
	for _, c := range rel.Result.Cells {
		total += c.Value
	}
	if total < 1800 || total > 2200 {
		t.Errorf("2000 patients counted as %v", total)
	}
	// Every release is in the audit log, without data values.
	out = runOK(t, env, "audit", "list", "--action", "dp.*", "-o", "json")
	if n := strings.Count(out, `"action": "dp.release"`); n != 6 {
		t.Errorf("%d dp.release events, want 4 releases + 2 refusals:\n%s", n, out)
	}
	if strings.Contains(out, "cells") || strings.Contains(out, "value") || strings.Contains(out, `\"F\"`) {
		t.Errorf("audit details hold released values or categories:\n%s", out)
	}
}

func runOK(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, env, "", args...)
	if code != 0 {
		t.Fatalf("hygie %s = %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}
