package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/blob/blobtest"
	"github.com/hygie-health/hygie/internal/train"
)

func TestMain(m *testing.M) {
	train.MainIfJob()         // training jobs run this test binary as hygie
	os.Exit(blobtest.Main(m)) // stops the MinIO of the S3 tests
}

// writeICU writes a pseudonymized ICU extract: two rows per patient, a
// binary outcome driven by lactate and age.
func writeICU(t *testing.T, dir string, patients int) (data, roles string) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	var sb strings.Builder
	sb.WriteString("patient_id,sexe,age,lactate,ward,deces\n")
	for p := range patients {
		age := 30 + r.Float64()*60
		sex := []string{"F", "M"}[r.IntN(2)]
		for range 2 {
			lact := 0.5 + r.ExpFloat64()*2
			z := -4 + 0.04*(age-30) + 0.9*lact + r.NormFloat64()*0.5
			outcome := "non"
			if r.Float64() < 1/(1+math.Exp(-z)) {
				outcome = "oui"
			}
			fmt.Fprintf(&sb, "PS%05d,%s,%.0f,%.2f,%s,%s\n", p, sex, age, lact, []string{"rea", "usc", "med"}[r.IntN(3)], outcome)
		}
	}
	data = filepath.Join(dir, "icu.csv")
	roles = filepath.Join(dir, "roles.yaml")
	os.WriteFile(data, []byte(sb.String()), 0o600)
	os.WriteFile(roles, []byte("roles:\n  patient_id: patient_id\n  sexe: quasi_identifier\n  age: quasi_identifier\n  lactate: feature\n  ward: feature\n  deces: target\n"), 0o600)
	return data, roles
}

func TestTrainDatasetJob(t *testing.T) {
	dir := t.TempDir()
	// HYGIE_ADDR points nowhere: hygie serves the job's API on loopback.
	env := map[string]string{"HYGIE_DATA": dir, "HYGIE_LOG_LEVEL": "warn", "HYGIE_ADDR": "127.0.0.1:1"}
	data, roles := writeICU(t, dir, 300)
	for _, args := range [][]string{{"migrate"}, {"user", "create", "sophie"}, {"user", "create", "marc"}, {"user", "create", "claire"},
		{"project", "create", "icu"}, {"grant", "icu", "sophie", "steward"}, {"grant", "icu", "marc", "scientist"}, {"grant", "icu", "claire", "clinician-validator"},
		{"dataset", "import", data, "--name", "stays", "-p", "icu", "--level", "pseudonymized", "--roles", roles, "--as", "sophie"}} {
		if code, out, errs := run(t, env, "", args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errs)
		}
	}
	code, out, errOut := run(t, env, "", "train", "--dataset", "stays@1", "-p", "icu", "--as", "marc", "--target", "deces", "--positive", "oui",
		"--learner", "logistic", "--cv", "3", "--experiment", "mortality", "--output", "json")
	if code != 0 {
		t.Fatalf("train --dataset = %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Job struct {
			ID       int64  `json:"id"`
			State    string `json:"state"`
			Executor string `json:"executor"`
		} `json:"job"`
		Run struct {
			ID               int64              `json:"id"`
			Experiment       string             `json:"experiment"`
			DatasetVersionID *int64             `json:"dataset_version_id"`
			Params           map[string]string  `json:"params"`
			Metrics          map[string]float64 `json:"metrics"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output: %v\n%s", err, out)
	}
	m := res.Run.Metrics
	if res.Job.State != "succeeded" || res.Run.Experiment != "icu/mortality" && res.Run.Experiment != "mortality" || res.Run.DatasetVersionID == nil {
		t.Fatalf("job/run: %+v", res)
	}
	// The patient column was found from its role and grouped the split;
	// features came from the roles (identifier excluded).
	if p := res.Run.Params; p["group"] != "patient_id" || p["features"] != "sexe,age,lactate,ward" || p["cv"] != "3" || p["positive"] != "true" { // oui/non was imported as a boolean
		t.Fatalf("params: %v", p)
	}
	if m["test_roc_auc"] < 0.7 || !(m["test_roc_auc_ci_low"] < m["test_roc_auc"] && m["test_roc_auc"] < m["test_roc_auc_ci_high"]) ||
		m["cv_roc_auc_mean"] < 0.7 || m["cv_roc_auc_sd"] <= 0 {
		t.Fatalf("metrics: %v", m)
	}
	// The job is recorded with its command.
	code, out, errOut = run(t, env, "", "job", "show", fmt.Sprint(res.Job.ID), "--as", "marc")
	if code != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, train.JobCommand) {
		t.Fatalf("job show: %d %s %s", code, out, errOut)
	}

	bad := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--target", "nope"}, 1, `the target "nope" is not a column of stays@1`},
		{[]string{"--target", "deces", "--cv", "1"}, 1, "cv must be 0"},
		{[]string{"--target", "deces", "--param", "trees=0"}, 2, "trees must be at least 1"},
		{[]string{"--target", "deces", "--feature", "patient_id"}, 1, "patient or split column"},
		{[]string{"--target", "deces", "--dataset", "stays"}, 2, "NAME@VERSION"},
		{[]string{"--target", "deces", "--dataset", "stays@9"}, 1, "not found"},
	}
	for _, c := range bad {
		args := append([]string{"train", "--dataset", "stays@1", "-p", "icu", "--as", "marc"}, c.args...)
		if code, _, errOut := run(t, env, "", args...); code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v = %d %q, want %d and %q", c.args, code, errOut, c.code, c.msg)
		}
	}
	// A clinician cannot start training.
	if code, _, errOut := run(t, env, "", "train", "--dataset", "stays@1", "-p", "icu", "--as", "claire", "--target", "deces"); code != 1 || !strings.Contains(errOut, "run.write") {
		t.Errorf("clinician train = %d %s", code, errOut)
	}
}

// TestTrainDatasetJobOnSlurm runs the same built-in training on the
// single-node Slurm cluster (scripts/slurm.sh): the job script runs this
// binary as hygie train-job on the node, which reaches the loopback API.
func TestTrainDatasetJobOnSlurm(t *testing.T) {
	if os.Getenv("HYGIE_TEST_SLURM") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("HYGIE_TEST_SLURM is not set: CI must start the single-node Slurm cluster (scripts/slurm.sh)")
		}
		t.Skip("HYGIE_TEST_SLURM not set; run scripts/slurm.sh (as root) and export HYGIE_TEST_SLURM=1")
	}
	dir := t.TempDir()
	env := map[string]string{"HYGIE_DATA": dir, "HYGIE_LOG_LEVEL": "warn", "HYGIE_ADDR": "127.0.0.1:1", "HYGIE_JOBS_EXECUTOR": "slurm"}
	data, roles := writeICU(t, dir, 200)
	for _, args := range [][]string{{"migrate"}, {"user", "create", "sophie"}, {"user", "create", "marc"}, {"project", "create", "icu"},
		{"grant", "icu", "sophie", "steward"}, {"grant", "icu", "marc", "scientist"},
		{"dataset", "import", data, "--name", "stays", "-p", "icu", "--level", "pseudonymized", "--roles", roles, "--as", "sophie"}} {
		if code, out, errs := run(t, env, "", args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errs)
		}
	}
	code, out, errOut := run(t, env, "", "train", "--dataset", "stays@1", "-p", "icu", "--as", "marc", "--target", "deces", "--positive", "oui",
		"--learner", "gbdt", "--param", "trees=20", "--cv", "3", "--output", "json")
	if code != 0 {
		t.Fatalf("train on Slurm = %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Job struct {
			Executor   string `json:"executor"`
			ExternalID string `json:"external_id"`
			State      string `json:"state"`
		} `json:"job"`
		Run struct {
			Metrics map[string]float64 `json:"metrics"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Job.Executor != "slurm" || res.Job.ExternalID == "" || res.Job.State != "succeeded" || res.Run.Metrics["cv_roc_auc_mean"] <= 0.5 {
		t.Fatalf("slurm training: %+v", res)
	}
}
