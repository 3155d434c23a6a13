// Package demo runs hygie's end-to-end walking skeleton on a synthetic
// cohort: the steward imports the extract; the lifecycle up to a model in
// dev runs as a pipeline (hygie.yaml: pseudonymise → risk → anonymise →
// recipes → train and privacy audit as jobs → evaluate → register →
// promote), then again (nothing recomputed), then after a recipe change
// (only the affected step runs); the governed promotion, serving,
// monitoring and clinician feedback follow. Each stage goes through the
// same services, permissions and audit log as real use, acting as a user
// with the right role; the serving and feedback stages go over real HTTP.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/demo/cohort"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
	"github.com/hygie-health/hygie/internal/privacy/risk"
	"github.com/hygie-health/hygie/internal/privacy/vault"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/serve"
	"github.com/hygie-health/hygie/internal/track"
)

// Project and model names the demo uses.
const (
	Project = "demo-bmi"
	Model   = "demo-readmission"
)

// MinPatients is the smallest cohort the demo runs on.
const MinPatients = 1500

// Options tunes the demo.
type Options struct {
	Patients int
	Seed     int64
	// Listener serves the HTTP stages; Run closes it when it returns
	// unless Keep is set.
	Listener net.Listener
	// Progress receives progress bars (nil: none).
	Progress io.Writer
}

// Result is what the demo leaves behind.
type Result struct {
	BaseURL      string               `json:"base_url"`
	AdminToken   string               `json:"admin_token"`
	ClinicianTok string               `json:"clinician_token"`
	Dataset      string               `json:"dataset"`
	RunID        int64                `json:"run_id"`
	TestMetrics  map[string]float64   `json:"test_metrics"`
	ModelVersion int                  `json:"model_version"`
	PredictionID string               `json:"prediction_id"`
	Prediction   float64              `json:"prediction"`
	Explained    int                  `json:"explained_inputs"`     // inputs with a contribution in the first explanation
	Monitoring   *monitor.CheckReport `json:"monitoring,omitempty"` // the check after a month of use
	Pipeline     []PipelineRun        `json:"pipeline_runs"`        // first run, unchanged re-run, re-run after a recipe change
	Curl         string               `json:"curl"`
}

// Run executes the seven stages, printing each to out. The HTTP server runs
// on o.Listener until ctx ends or serveDone is closed by the caller; Run
// returns once the stages are done and leaves the server running, returning
// a function that stops it.
func Run(ctx context.Context, a *app.App, out io.Writer, o Options) (Result, func() error, error) {
	if o.Patients <= 0 {
		o.Patients = 2000
	}
	if o.Patients < MinPatients {
		return Result{}, nil, errs.Invalidf("the demo needs at least %d patients: fewer leave the risk model's test interval too wide to pass its gate", MinPatients)
	}
	var res Result
	step := func(n int, title string) { fmt.Fprintf(out, "\n[%d/7] %s\n", n, title) }

	users, err := setup(ctx, a)
	if err != nil {
		return res, nil, fmt.Errorf("set up the demo project and users: %w", err)
	}
	as := func(name string) context.Context { return auth.WithPrincipal(ctx, users[name]) }
	fmt.Fprintf(out, "project %q with users sophie (steward), marc (scientist), claire (clinician-validator)\n", Project)

	// 1. Import.
	step(1, "Import the warehouse extract (synthetic cohort) as an identifying dataset version")
	patients := cohort.Generate(o.Patients, o.Seed)
	var csv bytes.Buffer
	if err := cohort.WriteCSV(&csv, patients); err != nil {
		return res, nil, err
	}
	size := int64(csv.Len())
	bar := newBar(o.Progress, size, "importing extract")
	roles := map[string]dataset.Role{
		"patient_id": dataset.RolePatientID, "nom": dataset.RoleDirectIdentifier, "prenom": dataset.RoleDirectIdentifier,
		"nir": dataset.RoleDirectIdentifier, "sexe": dataset.RoleQuasiIdentifier, "date_naissance": dataset.RoleQuasiIdentifier,
		"taille_cm": dataset.RoleFeature, "poids_kg": dataset.RoleFeature, "imc": dataset.RoleFeature,
		"hba1c": dataset.RoleFeature, "readmission_30j": dataset.RoleTarget,
	}
	imp, err := a.Datasets.Import(as("sophie"), dataset.Stream("cohort.csv", dataset.FormatCSV, &csv), dataset.ImportOptions{
		Project: Project, Dataset: "cohort", Level: dataset.Identifying, Roles: roles,
		Progress: func(p dataset.Progress) {
			if p.Stage == "import" && p.Unit == "bytes" {
				bar.Set64(p.Done)
			}
		}})
	if err != nil {
		return res, nil, err
	}
	bar.Finish()
	raw, created := imp.Version, imp.Created
	suggested := dataset.SuggestRoles(colNames(raw.Columns))
	fmt.Fprintf(out, "  %s: %d rows, %d columns, level %s, encrypted at rest: %v%s\n", raw.Ref(), raw.Rows, len(raw.Columns), raw.Level, raw.Encrypted, reused(created))
	fmt.Fprintf(out, "  roles suggested from column names (confirmed by the steward): %s\n", fmtRoles(suggested))

	// The API serves from here on: the pipeline's jobs read the datasets
	// and record their runs through it, as they would from a cluster node.
	stop := serveInBackground(ctx, a, o.Listener)
	res.BaseURL = "http://" + o.Listener.Addr().String()

	// 2. The lifecycle as a pipeline.
	step(2, "Run the lifecycle as a pipeline (hygie.yaml): pseudonymise → risk → anonymise → recipes → train and privacy audit as jobs → evaluate → register → promote to dev")
	spec, values, err := a.Pipelines.Load(as("ci"), Project, "hygie.yaml", PipelineFile, nil)
	if err != nil {
		return res, stop, err
	}
	fmt.Fprintf(out, "  hygie.yaml validated: %d steps, no path gives a scientist identifying data; run by ci (steward and scientist)\n", len(spec.Steps))
	first, err := runPipeline(as("ci"), a, out, spec, values, res.BaseURL, "demo")
	if err != nil {
		return res, stop, err
	}
	res.Pipeline = append(res.Pipeline, first)
	pv, err := a.Datasets.ByID(as("marc"), first.output("pseudo").ID)
	if err != nil {
		return res, stop, err
	}
	if err := riskBefore(as("sophie"), a, out, raw); err != nil {
		return res, stop, err
	}
	if err := vaultAndText(as("marc"), as("rachid"), a, out, pv, patients[0]); err != nil {
		return res, stop, err
	}
	res.Dataset = first.output("features").Ref
	res.RunID = first.output("train").ID
	run, err := a.Runs.Get(as("marc"), res.RunID)
	if err != nil {
		return res, stop, err
	}
	res.TestMetrics = run.Metrics
	printMetrics(out, run)

	// 3. Nothing changed: nothing runs.
	step(3, "Re-run the pipeline unchanged: every step is up to date, nothing is recomputed")
	again, err := runPipeline(as("ci"), a, out, spec, values, res.BaseURL, "demo")
	if err != nil {
		return res, stop, err
	}
	res.Pipeline = append(res.Pipeline, again)
	fmt.Fprintf(out, "  recomputed: %s\n", again.ran())

	// 4. A changed recipe: only what depends on it runs.
	step(4, "Change the release recipe (BMI classes: obese from 35 instead of 30) and re-run: only the affected steps run")
	changed, values2, err := a.Pipelines.Load(as("ci"), Project, "hygie.yaml", PipelineFile, map[string]string{"obesity": "35"})
	if err != nil {
		return res, stop, err
	}
	partial, err := runPipeline(as("ci"), a, out, changed, values2, res.BaseURL, "demo")
	if err != nil {
		return res, stop, err
	}
	res.Pipeline = append(res.Pipeline, partial)
	fmt.Fprintf(out, "  recomputed: %s; reused: %s\n", partial.ran(), partial.reused())

	// 5. Governed promotion.
	step(5, "Promote the registered version test → integration → production through the project's gate policy")
	if _, err := a.Registry.SetPolicy(as("admin"), Project, []byte(Policy)); err != nil {
		return res, stop, err
	}
	fmt.Fprintln(out, "  admin set the gate policy: bounds on the pessimistic end of each 95% interval, test-set size, subgroups by sex,")
	fmt.Fprintln(out, "  clinical test cases, a membership-inference audit and two clinician sign-offs (hygie policy -p "+Project+")")
	mv, err := a.Registry.Version(as("marc"), Model, int(first.output("register").ID))
	if err != nil {
		return res, stop, err
	}
	sig := mv.Signature
	res.ModelVersion = mv.Version
	fmt.Fprintf(out, "  %s version %d registered from run %d by the pipeline, in %s\n", Model, mv.Version, res.RunID, mv.Environment)
	if err := governedPromotion(as, a, out, mv); err != nil {
		return res, stop, err
	}

	// 6. Serve.
	step(6, "Serve over the Open Inference Protocol and log predictions")
	clin, err := token(ctx, a, "claire")
	if err != nil {
		return res, stop, err
	}
	res.ClinicianTok = clin
	if res.AdminToken, err = token(ctx, a, "admin"); err != nil {
		return res, stop, err
	}
	sample := patients[:3]
	body := map[string]any{"id": "demo-1", "inputs": inferInputs(sig, sample), "parameters": map[string]any{"explain": true}}
	var resp serve.Response
	if err := call(ctx, res.BaseURL+"/v2/models/"+Model+"/infer", clin, body, &resp); err != nil {
		return res, stop, fmt.Errorf("inference request: %w", err)
	}
	ids, _ := resp.Parameters["prediction_ids"].([]any)
	if len(resp.Outputs) == 0 || len(ids) != len(sample) {
		return res, stop, fmt.Errorf("inference response has no outputs or prediction ids")
	}
	res.PredictionID, _ = ids[0].(string)
	res.Prediction = resp.Outputs[0].Data[0]
	for i, p := range sample {
		fmt.Fprintf(out, "  %s, born %d, BMI %.1f, HbA1c %.1f %% → risk of readmission %.1f %% (readmitted: %s)\n", p.Sex, p.BirthDate.Year(), p.BMI, p.HbA1c,
			100*resp.Outputs[0].Data[i], map[bool]string{true: "yes", false: "no"}[p.Readmitted])
	}
	fmt.Fprintf(out, "  %d predictions logged by %s version %s\n", len(ids), resp.ModelName, resp.ModelVersion)
	if ex, ok := resp.Parameters["explanations"].([]any); ok && len(ex) == len(sample) {
		e, _ := ex[0].(map[string]any)
		contrib, _ := e["contributions"].(map[string]any)
		names := make([]string, 0, len(contrib))
		for k := range contrib {
			names = append(names, k)
		}
		sort.Slice(names, func(i, j int) bool {
			return math.Abs(contrib[names[i]].(float64)) > math.Abs(contrib[names[j]].(float64))
		})
		var parts []string
		for _, k := range names {
			parts = append(parts, fmt.Sprintf("%s %+.2f", k, contrib[k].(float64)))
		}
		fmt.Fprintf(out, "  why (TreeSHAP, log-odds; base %.2f → %.2f): %s\n", e["base"], e["output"], strings.Join(parts, ", "))
		res.Explained = len(contrib)
	}

	// 7. Feedback.
	step(7, "Clinician feedback on a prediction")
	var fb map[string]any
	if err := call(ctx, res.BaseURL+"/api/v1/projects/"+Project+"/predictions/"+res.PredictionID+"/feedback", clin,
		map[string]any{"verdict": "correct", "comment": "consistent with the chart"}, &fb); err != nil {
		return res, stop, fmt.Errorf("feedback: %w", err)
	}
	fmt.Fprintf(out, "  claire marked prediction %s as %v\n", res.PredictionID, fb["verdict"])
	if res.Monitoring, err = monthOfUse(ctx, as, a, out, res.BaseURL, clin, sig, o.Seed); err != nil {
		return res, stop, err
	}

	rep, err := a.Audit.Verify(ctx)
	if err != nil {
		return res, stop, err
	}
	fmt.Fprintf(out, "\naudit chain: %d events, verified %v\n", rep.Events, rep.OK)
	example, _ := json.Marshal(map[string]any{"inputs": inferInputs(sig, patients[:1])})
	res.Curl = fmt.Sprintf(`curl -s -H "Authorization: Bearer %s" -H "Content-Type: application/json" \
  -d '%s' \
  %s/v2/models/%s/infer`, clin, example, res.BaseURL, Model)
	return res, stop, nil
}

// setup creates (or reuses) the demo project, its users and their roles,
// and returns their principals.
func setup(ctx context.Context, a *app.App) (map[string]*auth.Principal, error) {
	if n, err := a.Auth.CountUsers(ctx); err != nil {
		return nil, err
	} else if n == 0 {
		if _, err := a.Auth.CreateUser(ctx, "admin", "Administrator", "", true); err != nil {
			return nil, err
		}
	}
	if _, err := a.Projects.Create(ctx, Project, "Demo: 30-day readmission risk", "The lifecycle end to end, on a synthetic cohort."); err != nil && !errs.Is(err, errs.Conflict) {
		return nil, err
	}
	members := []struct {
		name, display string
		role          auth.Role
	}{
		{"sophie", "Sophie Bernard (data steward)", auth.RoleSteward},
		{"marc", "Marc Lefèvre (data scientist)", auth.RoleScientist},
		{"claire", "Dr Claire Martin (clinician)", auth.RoleClinicianValidator},
		{"chloe", "Dr Chloé Petit (clinician)", auth.RoleClinicianValidator},
		{"rachid", "Rachid Benali (re-identification officer)", auth.RoleReidentifier},
		// The account the pipeline runs as: it pseudonymises (steward) and
		// trains (scientist); validation keeps identifying data from training.
		{"ci", "Pipeline runner", auth.RoleSteward},
		{"ci", "Pipeline runner", auth.RoleScientist},
	}
	for _, m := range members {
		if _, err := a.Auth.CreateUser(ctx, m.name, m.display, "", false); err != nil && !errs.Is(err, errs.Conflict) {
			return nil, err
		}
		if err := a.Auth.Grant(ctx, Project, m.name, m.role); err != nil && !errs.Is(err, errs.Conflict) {
			return nil, err
		}
	}
	out := map[string]*auth.Principal{}
	for _, n := range []string{"admin", "sophie", "marc", "claire", "chloe", "rachid", "ci"} {
		p, err := a.Auth.PrincipalOf(ctx, n)
		if err != nil {
			return nil, err
		}
		out[n] = p
	}
	return out, nil
}

// token issues a demo API token valid for a day.
func token(ctx context.Context, a *app.App, user string) (string, error) {
	_, secret, err := a.Auth.CreateToken(ctx, user, "demo", auth.KindAPI, 24*time.Hour, "")
	return secret, err
}

func serveInBackground(ctx context.Context, a *app.App, l net.Listener) func() error {
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(sctx, l) }()
	return func() error {
		cancel()
		return <-done
	}
}

func call(ctx context.Context, url, tok string, in, out any) error {
	b, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(data)))
	}
	return json.Unmarshal(data, out)
}

func newBar(w io.Writer, n int64, desc string) *progressbar.ProgressBar {
	if w == nil {
		w = io.Discard
	}
	return progressbar.NewOptions64(n, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("  "+desc),
		progressbar.OptionShowBytes(true), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(50*time.Millisecond))
}

func reused(created bool) string {
	if created {
		return ""
	}
	return " (same content as before: existing version reused)"
}

func fmtRoles(m map[string]dataset.Role) string {
	var parts []string
	for _, c := range []string{"patient_id", "nom", "prenom", "nir", "sexe", "date_naissance"} {
		if r, ok := m[c]; ok {
			parts = append(parts, c+"→"+string(r))
		}
	}
	return strings.Join(parts, ", ")
}

func colNames(cs []dataset.Column) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// riskBefore prints the re-identification risk of the identifying extract
// on (sexe, date_naissance), for the steward: counts and rates only. The
// pipeline's risk step gives the risk after pseudonymisation.
func riskBefore(steward context.Context, a *app.App, out io.Writer, raw dataset.Version) error {
	r, err := risk.OfVersion(steward, a.Datasets, raw, risk.Options{QuasiIdentifiers: []string{"sexe", "date_naissance"}, Sensitive: []string{}, MaxCombination: 2})
	if err != nil {
		return fmt.Errorf("risk of %s: %w", raw.Ref(), err)
	}
	fmt.Fprintf(out, "  risk before pseudonymisation, %s on %s: k = %d, prosecutor risk highest %.3f, average %.3f, records at risk %.1f%%, %d unique records\n",
		raw.Ref(), strings.Join(r.QuasiIdentifiers, ", "), r.K, r.Prosecutor.Highest, r.Prosecutor.Average, 100*r.Prosecutor.RecordsAtRisk, r.Uniqueness.SampleUniques)
	return nil
}

// vaultAndText shows the two other faces of pseudonymization: the vault
// (a re-identification officer recovers one patient, with a written reason,
// audited) and the de-identification of clinical free text.
func vaultAndText(scientist, officer context.Context, a *app.App, out io.Writer, pv dataset.Version, p cohort.Patient) error {
	f, err := a.Datasets.ReadFrame(scientist, pv)
	if err != nil {
		return err
	}
	col, err := f.Col("patient_id")
	if err != nil {
		return err
	}
	ps := col.String(0)
	op, err := a.Pseudo.Vault().Reidentify(officer, vault.Request{Project: Project, Pseudonym: ps,
		Reason: "demo: the cardiology team must recall this patient after an incidental finding"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  vault: rachid (reidentifier) opened %s with a written reason → original id of %d characters, shown to him only (audited)\n", ps, len(op.Original))

	title := "Mme"
	if p.Sex == "M" {
		title = "M."
	}
	note := fmt.Sprintf("Consultation du 12/03/2024. %s %s %s, née le %s, NIR %s, tél 06 12 34 56 78, revue pour le suivi de son diabète de type 2 (HbA1c 7,1 %%). Pas de signe de Babinski. Dr Bernard.",
		title, p.FirstName, p.LastName, p.BirthDate.Format("02/01/2006"), p.NIR)
	eng, err := pseudo.Engine()
	if err != nil {
		return err
	}
	tr := pseudo.DeidentifyText(eng, note, pseudo.TextOptions{Mode: "mask"})
	fmt.Fprintf(out, "  free text de-identified (%d entities): %s\n", len(tr.Entities), tr.Text)
	return nil
}

// printMetrics prints a training run's cross-validation and test figures.
func printMetrics(out io.Writer, run track.Run) {
	m := run.Metrics
	fmt.Fprintf(out, "  training run %d: %s training rows, %s test rows, folds and split grouped by %s; cross-validation ROC AUC %.3f ± %.3f over 5 folds\n",
		run.ID, run.Params["train_rows"], run.Params["test_rows"], run.Params["group"], m["cv_roc_auc_mean"], m["cv_roc_auc_sd"])
	for _, k := range []string{"roc_auc", "sensitivity", "specificity", "ppv_at_prevalence", "brier"} {
		fmt.Fprintf(out, "  test %-18s %.3f [95%% BCa bootstrap CI %.3f–%.3f]\n", k, m["test_"+k], m["test_"+k+"_ci_low"], m["test_"+k+"_ci_high"])
	}
}

// inferInputs builds OIP input tensors for patients from the signature.
func inferInputs(sig registry.Signature, ps []cohort.Patient) []map[string]any {
	value := func(p cohort.Patient, name string) float64 {
		switch name {
		case "date_naissance", "date_naissance_annee":
			return float64(p.BirthDate.Year())
		case "taille_m":
			return math.Round(p.HeightCM*10) / 1000
		case "taille_cm":
			return p.HeightCM
		case "poids_kg":
			return p.WeightKG
		case "imc":
			return p.BMI
		case "hba1c":
			return p.HbA1c
		}
		return math.NaN()
	}
	var out []map[string]any
	for _, in := range sig.Inputs {
		var data []any
		for _, p := range ps {
			switch {
			case in.Name == "sexe":
				data = append(data, p.Sex)
			case in.Datatype == "BYTES":
				data = append(data, strconv.FormatFloat(value(p, in.Name), 'f', -1, 64))
			default:
				data = append(data, value(p, in.Name))
			}
		}
		out = append(out, map[string]any{"name": in.Name, "shape": []int{len(ps)}, "datatype": in.Datatype, "data": data})
	}
	return out
}

// Policy is the demo project's gate policy.
const Policy = `confidence_level: 0.95
prevalence: 0.10
environments:
  dev:
    metrics: [{metric: roc_auc, min: 0.65}]
    min_test_rows: 100
  test:
    metrics:
      - {metric: roc_auc, min: 0.70}
      - {metric: brier, max: 0.15}
    min_positives: 20
    subgroups: {column: sexe, metric: roc_auc, min: 0.60}
    clinical_tests: true
  integration:
    metrics:
      - {metric: sensitivity, min: 0.45}
      - {metric: npv_at_prevalence, min: 0.90}
    privacy_audit: {max_advantage: 0.25}
    signoffs: 2
  production:
    signoffs: 2
    no_regression: {metric: roc_auc, margin: 0.05}
`

// Cases are the clinical test cases Dr Martin writes for the model.
const Cases = `cases:
  - name: man born 1940, BMI 33, HbA1c 9.5 %
    inputs: {sexe: M, date_naissance_annee: 1940, taille_m: 1.70, poids_kg: 95.4, imc: 33, hba1c: 9.5}
    expect: {min: 0.30}
  - name: woman born 1995, BMI 21, HbA1c 5.0 %
    inputs: {sexe: F, date_naissance_annee: 1995, taille_m: 1.65, poids_kg: 57.2, imc: 21, hba1c: 5.0}
    expect: {max: 0.15}
`

// governedPromotion walks the version the pipeline put in dev through the
// policy: the promotion to test is first refused (no clinical case written
// yet), then passes once Dr Martin writes them; the pipeline's
// membership-inference audit counts for integration; two clinicians sign
// off integration and production. A version already in production (the
// demo run again on the same data: the pipeline reused it) stays there.
func governedPromotion(as func(string) context.Context, a *app.App, out io.Writer, mv registry.Version) error {
	if mv.Environment == "production" {
		fmt.Fprintf(out, "  version %d is already in production: nothing to promote\n", mv.Version)
		return nil
	}
	promote := func(env string) error {
		p, err := a.Registry.Promote(as("marc"), Model, mv.Version, env)
		var ref *registry.RefusedError
		if errors.As(err, &ref) {
			p = ref.Promotion
		} else if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s → %s: %s\n", p.From, p.To, strings.ToUpper(p.Outcome))
		for _, g := range p.Gates {
			verdict := "FAIL"
			if g.Pass {
				verdict = "pass"
			}
			line := fmt.Sprintf("    %s  %s: %s (need %s)", verdict, g.Gate, g.Value, g.Threshold)
			if !g.Pass && g.Detail != "" {
				line += " — " + g.Detail
			}
			fmt.Fprintln(out, line)
		}
		return err
	}
	existing, err := a.Registry.Cases(as("marc"), Project, Model)
	if err != nil {
		return err
	}
	if len(existing) == 0 { // first run: show the gate failing, then fixed
		if err := promote("test"); err == nil {
			return fmt.Errorf("the promotion to test passed without clinical test cases")
		}
		if _, err := a.Registry.SetCases(as("claire"), Project, Model, []byte(Cases)); err != nil {
			return err
		}
		fmt.Fprintln(out, "  claire writes two clinical test cases (hygie model cases "+Model+" --set cases.yaml); marc promotes again:")
	}
	if err := promote("test"); err != nil {
		return err
	}
	for _, env := range []string{"integration", "production"} {
		for _, who := range []string{"claire", "chloe"} {
			if _, err := a.Registry.SignOff(as(who), Model, mv.Version, env, "calibration, subgroups and clinical cases reviewed"); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "  claire and chloe sign version %d off for %s\n", mv.Version, env)
		if err := promote(env); err != nil {
			return err
		}
	}
	return nil
}

// monthOfUse plays a month in production: the ward sends an older
// population than the training cohort (patients born before 1965), the
// outcomes come back as clinicians' feedback, and a monitoring check
// compares the month with the training data.
func monthOfUse(ctx context.Context, as func(string) context.Context, a *app.App, out io.Writer, baseURL, tok string, sig registry.Signature, seed int64) (*monitor.CheckReport, error) {
	var month []cohort.Patient
	for _, p := range cohort.Generate(4000, seed+1) {
		if p.BirthDate.Year() < 1965 && len(month) < 400 {
			month = append(month, p)
		}
	}
	var ids []string
	var probs []float64
	for i := 0; i < len(month); i += 100 {
		batch := month[i:min(i+100, len(month))]
		var resp serve.Response
		if err := call(ctx, baseURL+"/v2/models/"+Model+"/infer", tok, map[string]any{"inputs": inferInputs(sig, batch)}, &resp); err != nil {
			return nil, fmt.Errorf("inference request: %w", err)
		}
		got, _ := resp.Parameters["prediction_ids"].([]any)
		for k, id := range got {
			s, _ := id.(string)
			ids = append(ids, s)
			probs = append(probs, resp.Outputs[0].Data[k])
		}
	}
	for i, id := range ids {
		verdict := "correct"
		if (probs[i] >= 0.15) != month[i].Readmitted {
			verdict = "incorrect"
		}
		if _, err := a.Monitor.RecordFeedback(as("claire"), id, verdict, strconv.FormatBool(month[i].Readmitted), ""); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(out, "  a month of use: %d predictions for patients born before 1965, each outcome fed back by the ward\n", len(ids))
	rep, err := a.Monitor.Check(as("marc"), Model, 30*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("monitoring check: %w", err)
	}
	if d := rep.Drift; d != nil {
		var drifted []string
		for _, c := range d.Columns {
			if c.Drift {
				drifted = append(drifted, fmt.Sprintf("%s (%s %.3g)", c.Name, c.Method, float64(c.Statistic)))
			}
		}
		fmt.Fprintf(out, "  monitoring: data drift in %d of %d inputs (dataset drift: %v): %s\n", d.Drifted, len(d.Columns), d.DatasetDrift, strings.Join(drifted, ", "))
	}
	if p := rep.Performance; p != nil {
		for _, m := range []string{"roc_auc", "sensitivity"} {
			if iv, ok := p.Metrics[m]; ok {
				fmt.Fprintf(out, "  live %s on %d labelled predictions: %.3f [%.3f–%.3f]\n", m, p.N, float64(iv.Estimate), float64(iv.Lower), float64(iv.Upper))
			}
		}
	}
	if c := rep.CBPE; c != nil {
		if v, ok := c.Metrics["roc_auc"]; ok {
			fmt.Fprintf(out, "  estimated without labels (CBPE) ROC AUC %.3f\n", float64(v))
		}
	}
	return &rep, nil
}
