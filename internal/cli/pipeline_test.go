package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const icuPipeline = `pipeline: icu
params:
  min_age: 18
  trees: 20
steps:
  - name: stays
    type: import
    with:
      file: icu.csv
      dataset: stays
      level: pseudonymized
      roles: {patient_id: patient_id, sexe: quasi_identifier, age: quasi_identifier, lactate: feature, ward: feature, deces: target}
  - name: adults
    type: recipe
    inputs: {dataset: stays}
    with:
      output: stays_adults
      recipe: |
        name: adults
        steps:
          - filter: age >= ${params.min_age}
  - name: train
    type: train
    inputs: {dataset: adults}
    retries: 1
    with:
      target: deces
      positive: oui
      learner: gbdt
      params: {trees: "${params.trees}"}
      cv: 3
      group: patient_id
  - name: evaluate
    type: evaluate
    inputs: {run: train}
    with: {min: {cv_roc_auc_mean: 0.55}}
  - name: register
    type: register
    inputs: {run: train}
    after: [evaluate]
    with: {model: icu-death}
`

type cliRun struct {
	ID    int64  `json:"id"`
	State string `json:"state"`
	Steps []struct {
		Name     string `json:"name"`
		State    string `json:"state"`
		Cached   bool   `json:"cached"`
		JobID    *int64 `json:"job_id"`
		Attempts int    `json:"attempts"`
		Outputs  []struct {
			Kind string `json:"kind"`
			Ref  string `json:"ref"`
		} `json:"outputs"`
	} `json:"steps"`
}

func (r cliRun) ran() string {
	var out []string
	for _, s := range r.Steps {
		if !s.Cached {
			out = append(out, s.Name)
		}
	}
	return strings.Join(out, ",")
}

// pipelineEnv sets up the icu project and writes the pipeline file.
func pipelineEnv(t *testing.T, executor string) (map[string]string, string) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{"HYGIE_DATA": dir, "HYGIE_LOG_LEVEL": "warn", "HYGIE_ADDR": "127.0.0.1:1", "HYGIE_JOBS_EXECUTOR": executor}
	data, _ := writeICU(t, dir, 200)
	if filepath.Base(data) != "icu.csv" {
		t.Fatal(data)
	}
	file := filepath.Join(dir, "hygie.yaml")
	os.WriteFile(file, []byte(icuPipeline), 0o600)
	for _, args := range [][]string{{"migrate"}, {"user", "create", "sophie"}, {"user", "create", "marc"}, {"user", "create", "claire"},
		{"project", "create", "icu"}, {"grant", "icu", "sophie", "steward"}, {"grant", "icu", "marc", "scientist"}, {"grant", "icu", "claire", "clinician-validator"}} {
		if code, out, errs := run(t, env, "", args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errs)
		}
	}
	return env, file
}

func runPipelineCLI(t *testing.T, env map[string]string, args ...string) cliRun {
	t.Helper()
	code, out, errOut := run(t, env, "", append([]string{"pipeline", "run", "-p", "icu", "--as", "marc", "--output", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("pipeline run %v = %d\n%s\n%s", args, code, out, errOut)
	}
	var r cliRun
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return r
}

func TestPipelineCommands(t *testing.T) {
	env, file := pipelineEnv(t, "local")

	code, out, errOut := run(t, env, "", "pipeline", "validate", "-f", file)
	if code != 0 || !strings.Contains(out, "pipeline icu is valid: 5 steps") {
		t.Fatalf("validate = %d %s %s", code, out, errOut)
	}
	// A training step fed by identifying data is refused, with the line.
	bad := filepath.Join(filepath.Dir(file), "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(icuPipeline, "level: pseudonymized", "level: identifying", 1)), 0o600)
	code, _, errOut = run(t, env, "", "pipeline", "validate", "-f", bad)
	if code != 1 || !strings.Contains(errOut, `bad.yaml:24: step "train": would give a scientist identifying data`) {
		t.Fatalf("identifying validate = %d %s", code, errOut)
	}
	// Nothing has run: everything is stale, and a dry run changes nothing.
	code, out, _ = run(t, env, "", "pipeline", "run", "-p", "icu", "--as", "marc", "-f", file, "--dry-run")
	if code != 0 || strings.Count(out, "never run") != 5 {
		t.Fatalf("dry run = %d %s", code, out)
	}
	if code, out, _ := run(t, env, "", "dataset", "list", "-p", "icu", "--as", "marc"); code != 0 || strings.Contains(out, "stays") {
		t.Fatalf("the dry run imported: %s", out)
	}

	first := runPipelineCLI(t, env, "-f", file)
	if first.State != "succeeded" || first.ran() != "stays,adults,train,evaluate,register" {
		t.Fatalf("first run: %+v", first)
	}
	if first.Steps[2].JobID == nil || first.Steps[4].Outputs[0].Ref != "icu-death@1" {
		t.Fatalf("train job / model: %+v", first.Steps)
	}
	// The training step was a job: it is listed with the others.
	if code, out, _ := run(t, env, "", "job", "list", "-p", "icu", "--as", "marc"); code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("job list: %s", out)
	}

	code, out, _ = run(t, env, "", "pipeline", "status", "-p", "icu", "--as", "marc", "-f", file)
	if code != 0 || strings.Count(out, "up to date") != 5 {
		t.Fatalf("status after a run = %d %s", code, out)
	}
	again := runPipelineCLI(t, env, "-f", file)
	if again.State != "succeeded" || again.ran() != "" {
		t.Fatalf("cached re-run ran %q", again.ran())
	}

	// A parameter of the recipe changes: the import stays cached.
	code, out, _ = run(t, env, "", "pipeline", "status", "-p", "icu", "--as", "marc", "-f", file, "--param", "min_age=40")
	if code != 0 || !strings.Contains(out, "adults    recipe    stale       config changed") || !strings.Contains(out, `input changed (upstream step "adults" will run)`) {
		t.Fatalf("status after a change = %d\n%s", code, out)
	}
	partial := runPipelineCLI(t, env, "-f", file, "--param", "min_age=40")
	if partial.ran() != "adults,train,evaluate,register" || partial.Steps[4].Outputs[0].Ref != "icu-death@2" {
		t.Fatalf("partial re-run ran %q: %+v", partial.ran(), partial.Steps)
	}

	code, out, _ = run(t, env, "", "pipeline", "runs", "icu", "-p", "icu", "--as", "marc")
	if code != 0 || strings.Count(out, "succeeded") != 3 {
		t.Fatalf("runs = %s", out)
	}
	code, out, _ = run(t, env, "", "pipeline", "show", "2", "-p", "icu", "--as", "marc")
	if code != 0 || strings.Count(out, "cached") != 5 {
		t.Fatalf("show = %s", out)
	}
	// A clinician may read but not run; an unknown parameter is refused.
	if code, _, errOut := run(t, env, "", "pipeline", "run", "-p", "icu", "--as", "claire", "-f", file); code != 1 || !strings.Contains(errOut, "run.write") {
		t.Fatalf("clinician run = %d %s", code, errOut)
	}
	if code, _, errOut := run(t, env, "", "pipeline", "run", "-p", "icu", "--as", "marc", "-f", file, "--param", "epochs=3"); code != 1 || !strings.Contains(errOut, "--param epochs: not declared") {
		t.Fatalf("unknown param = %d %s", code, errOut)
	}
}

// TestPipelineOnSlurm runs the pipeline's training step as a Slurm job.
func TestPipelineOnSlurm(t *testing.T) {
	if os.Getenv("HYGIE_TEST_SLURM") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("HYGIE_TEST_SLURM is not set: CI must start the single-node Slurm cluster (scripts/slurm.sh)")
		}
		t.Skip("HYGIE_TEST_SLURM not set; run scripts/slurm.sh (as root) and export HYGIE_TEST_SLURM=1")
	}
	env, file := pipelineEnv(t, "slurm")
	first := runPipelineCLI(t, env, "-f", file)
	if first.State != "succeeded" || first.Steps[2].JobID == nil {
		t.Fatalf("slurm run: %+v", first)
	}
	code, out, _ := run(t, env, "", "job", "show", "1", "--as", "marc", "--output", "json")
	var j struct {
		Executor   string `json:"executor"`
		ExternalID string `json:"external_id"`
	}
	if err := json.Unmarshal([]byte(out), &j); code != 0 || err != nil || j.Executor != "slurm" || j.ExternalID == "" {
		t.Fatalf("the training step's job: %d %s", code, out)
	}
	if again := runPipelineCLI(t, env, "-f", file); again.ran() != "" {
		t.Fatalf("cached re-run on slurm ran %q", again.ran())
	}
}
