package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/train"
)

// TestPrivacyAuditJob trains an overfitting gbdt and a logistic regression
// on the same dataset version, audits both with the membership-inference
// job, and checks that the attack finds the overfitting model's training
// records and not the logistic model's.
func TestPrivacyAuditJob(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HYGIE_DATA": dir, "HYGIE_LOG_LEVEL": "warn", "HYGIE_ADDR": "127.0.0.1:1"}
	data, roles := writeICU(t, dir, 300)
	for _, args := range [][]string{{"migrate"}, {"user", "create", "sophie"}, {"user", "create", "marc"}, {"user", "create", "claire"},
		{"project", "create", "icu"}, {"grant", "icu", "sophie", "steward"}, {"grant", "icu", "marc", "scientist"}, {"grant", "icu", "claire", "clinician-validator"},
		{"dataset", "import", data, "--name", "stays", "-p", "icu", "--level", "pseudonymized", "--roles", roles, "--as", "sophie"}} {
		if code, out, errs := run(t, env, "", args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errs)
		}
	}
	trainRun := func(args ...string) int64 {
		t.Helper()
		code, out, errOut := run(t, env, "", append([]string{"train", "--dataset", "stays@1", "-p", "icu", "--as", "marc", "--target", "deces",
			"--experiment", "mortality", "--output", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("train %v = %d\n%s\n%s", args, code, out, errOut)
		}
		var res struct {
			Run struct {
				ID     int64             `json:"id"`
				Params map[string]string `json:"params"`
			} `json:"run"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("train output: %v\n%s", err, out)
		}
		if p := res.Run.Params; p["split_seed"] != "0" || p["test_fraction"] != "0.2" {
			t.Fatalf("the run does not record its split: %v", p)
		}
		return res.Run.ID
	}
	overfit := trainRun("--learner", "gbdt", "--param", "trees=300", "--param", "leaves=63", "--param", "min_samples_leaf=1")
	logistic := trainRun("--learner", "logistic")

	type result struct {
		Job struct {
			State string `json:"state"`
		} `json:"job"`
		Run struct {
			ID               int64              `json:"id"`
			Experiment       string             `json:"experiment"`
			DatasetVersionID *int64             `json:"dataset_version_id"`
			Params           map[string]string  `json:"params"`
			Metrics          map[string]float64 `json:"metrics"`
			Tags             map[string]string  `json:"tags"`
			Artifacts        []struct {
				Path string `json:"path"`
			} `json:"artifacts"`
		} `json:"run"`
		Report train.AuditReport `json:"report"`
		Gate   *struct {
			Pass bool `json:"pass"`
		} `json:"gate"`
	}
	audit := func(runID int64, extra ...string) result {
		t.Helper()
		code, out, errOut := run(t, env, "", append([]string{"privacy-audit", fmt.Sprint(runID), "-p", "icu", "--as", "marc", "--resamples", "300", "--output", "json"}, extra...)...)
		if code != 0 {
			t.Fatalf("privacy-audit %d = %d\n%s\n%s", runID, code, out, errOut)
		}
		var res result
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("privacy-audit output: %v\n%s", err, out)
		}
		r := res.Run
		hasReport := false
		for _, a := range r.Artifacts {
			hasReport = hasReport || a.Path == train.AuditArtifact
		}
		if res.Job.State != "succeeded" || !hasReport || r.Tags[train.AuditTag] != fmt.Sprint(runID) || r.Params["audited_run"] != fmt.Sprint(runID) ||
			r.Params["kind"] != train.AuditKind || r.DatasetVersionID == nil || r.Experiment != "mortality" {
			t.Fatalf("audit run of %d: %+v", runID, res)
		}
		rep := res.Report
		if rep.AuditedRun != runID || rep.Kind != train.AuditKind || rep.Loss != "log_loss" || rep.Members != rep.NonMembers ||
			rep.NonMembers != rep.NonMembersAvailable || rep.MembersAvailable <= rep.Members || rep.AUCInterval.Resamples != 300 {
			t.Fatalf("report of %d: %+v", runID, rep)
		}
		for k, want := range map[string]float64{"mia_auc": rep.AUC, "mia_advantage": rep.Advantage, "mia_auc_ci_low": float64(rep.AUCInterval.Lower),
			"mia_auc_ci_high": float64(rep.AUCInterval.Upper), "mia_advantage_ci_low": float64(rep.AdvantageInterval.Lower), "mia_advantage_ci_high": float64(rep.AdvantageInterval.Upper)} {
			if got, ok := r.Metrics[k]; !ok || got != want {
				t.Errorf("run %d: metric %s = %v (%v), report %v", r.ID, k, got, ok, want)
			}
		}
		return res
	}
	g, l := audit(overfit), audit(logistic)
	t.Logf("gbdt: AUC %.3f %+v advantage %.3f [%.3f, %.3f]; %s", g.Report.AUC, g.Report.AUCInterval, g.Report.Advantage, g.Report.AdvantageInterval.Lower, g.Report.AdvantageInterval.Upper, g.Report.Interpretation)
	t.Logf("logistic: AUC %.3f [%.3f, %.3f] advantage %.3f [%.3f, %.3f]; %s", l.Report.AUC, l.Report.AUCInterval.Lower, l.Report.AUCInterval.Upper, l.Report.Advantage, l.Report.AdvantageInterval.Lower, l.Report.AdvantageInterval.Upper, l.Report.Interpretation)
	if !(g.Report.AUC > l.Report.AUC && g.Report.Advantage > l.Report.Advantage && g.Report.AUCInterval.Lower > 0.5 && g.Report.AdvantageInterval.Lower > 0.15 &&
		g.Report.AdvantageInterval.Lower > l.Report.AdvantageInterval.Upper) {
		t.Errorf("the overfitting gbdt should leak more than the logistic regression")
	}
	if !(l.Report.AUCInterval.Lower <= 0.5 && 0.5 <= l.Report.AUCInterval.Upper) || l.Report.AdvantageInterval.Lower > 0.1 {
		t.Errorf("logistic regression: the attack should be at chance level")
	}
	// The gate fails on the overfitting model and passes on the logistic one.
	if code, _, errOut := run(t, env, "", "privacy-audit", fmt.Sprint(overfit), "-p", "icu", "--as", "marc", "--resamples", "200", "--max-advantage", "0.1"); code != 1 || !strings.Contains(errOut, "privacy gate failed") {
		t.Errorf("gate on gbdt = %d %s", code, errOut)
	}
	if res := audit(logistic, "--max-advantage", "0.5"); res.Gate == nil || !res.Gate.Pass {
		t.Errorf("gate on logistic: %+v", res.Gate)
	}
	// Text output.
	if code, out, errOut := run(t, env, "", "privacy-audit", fmt.Sprint(logistic), "-p", "icu", "--as", "marc", "--resamples", "100"); code != 0 ||
		!strings.Contains(out, "AUC") || !strings.Contains(out, "advantage") || !strings.Contains(out, "membership-inference audit of run") {
		t.Errorf("text output = %d\n%s\n%s", code, out, errOut)
	}

	bad := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"privacy-audit", "x", "-p", "icu", "--as", "marc"}, 2, "RUN_ID"},
		{[]string{"privacy-audit", "999", "-p", "icu", "--as", "marc"}, 1, "not found"},
		{[]string{"privacy-audit", fmt.Sprint(g.Run.ID), "-p", "icu", "--as", "marc"}, 1, "no model/model.json artifact"},
		{[]string{"privacy-audit", fmt.Sprint(overfit), "-p", "icu", "--as", "marc", "--resamples", "10"}, 1, "resamples must be"},
		{[]string{"privacy-audit", fmt.Sprint(overfit), "-p", "icu", "--as", "claire"}, 1, "permission"},
	}
	for _, c := range bad {
		if code, _, errOut := run(t, env, "", c.args...); code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v = %d %q, want %d and %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}
