package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/serve"
)

// openApp opens the app of a test environment (as the CLI does) and
// returns it with a context acting as user.
func openApp(t *testing.T, env map[string]string) *app.App {
	t.Helper()
	cfg := config.Default()
	if err := cfg.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func actAs(t *testing.T, a *app.App, user string) context.Context {
	t.Helper()
	p, err := a.Auth.PrincipalOf(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return auth.WithPrincipal(context.Background(), p)
}

// TestModelRetrainFromFeedback runs the whole feedback loop: a model
// version is served, a clinician-validator (without annotation.manage)
// marks predictions incorrect and sends them to an annotation project, an
// annotator answers, the clinician adjudicates, and 'hygie model retrain'
// builds the next training set (the version's data plus the corrected
// rows, a new dataset version with lineage) and trains on it as a job.
func TestModelRetrainFromFeedback(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HYGIE_DATA": dir, "HYGIE_LOG_LEVEL": "warn", "HYGIE_ADDR": "127.0.0.1:1"}
	data, roles := writeICU(t, dir, 150)
	for _, args := range [][]string{{"migrate"}, {"user", "create", "sophie"}, {"user", "create", "marc"}, {"user", "create", "claire"}, {"user", "create", "rita"},
		{"project", "create", "icu"}, {"grant", "icu", "sophie", "steward"}, {"grant", "icu", "marc", "scientist"}, {"grant", "icu", "claire", "clinician-validator"},
		{"grant", "icu", "rita", "annotator"},
		{"dataset", "import", data, "--name", "stays", "-p", "icu", "--level", "pseudonymized", "--roles", roles, "--as", "sophie"},
		{"train", "--dataset", "stays@1", "-p", "icu", "--as", "marc", "--target", "deces", "--positive", "oui", "--learner", "logistic", "--cv", "0", "--experiment", "mortality"},
		{"model", "register", "1", "--name", "risk", "-p", "icu", "--as", "marc"}} {
		if code, out, errOut := run(t, env, "", args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errOut)
		}
	}
	// Nothing adjudicated yet: the retraining is refused and stores nothing.
	if code, _, errOut := run(t, env, "", "model", "retrain", "risk", "--version", "1", "-p", "icu", "--as", "marc"); code == 0 || !strings.Contains(errOut, "no adjudicated feedback") {
		t.Fatalf("retrain without gold = %d: %s", code, errOut)
	}

	a := openApp(t, env)
	marc, claire, rita := actAs(t, a, "marc"), actAs(t, a, "claire"), actAs(t, a, "rita")
	req := serve.Request{Inputs: []serve.Tensor{
		{Name: "sexe", Shape: []int64{3}, Datatype: "BYTES", Data: json.RawMessage(`["F","M","F"]`)},
		{Name: "age", Shape: []int64{3}, Datatype: "FP64", Data: json.RawMessage(`[81,45,67]`)},
		{Name: "lactate", Shape: []int64{3}, Datatype: "FP64", Data: json.RawMessage(`[0.7,6.25,3.5]`)},
		{Name: "ward", Shape: []int64{3}, Datatype: "BYTES", Data: json.RawMessage(`["rea","usc","med"]`)},
	}}
	resp, err := a.Serve.Infer(marc, "risk", 1, req)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := resp.Parameters["prediction_ids"].([]string)
	if len(ids) != 3 {
		t.Fatalf("prediction ids %v", resp.Parameters["prediction_ids"])
	}
	if err := a.Serve.Flush(marc); err != nil {
		t.Fatal(err)
	}
	ann := annotate.NewService(a.DB, a.Audit, a.Datasets)
	if _, err := ann.Create(marc, annotate.Project{Project: "icu", Name: "review", Kind: annotate.KindRows, Overlap: 1,
		Labels: []annotate.Label{{Name: "oui", Color: "#d55e00"}, {Name: "non", Color: "#0072b2"}}}); err != nil {
		t.Fatal(err)
	}
	// claire may not manage annotation, yet her feedback becomes tasks,
	// added on her behalf.
	if _, err := ann.AddTasks(claire, "icu", "review", nil); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("claire adds tasks directly: %v, want forbidden", err)
	}
	gold := []string{"oui", "non", "non"}
	for i, id := range ids {
		p, err := a.Monitor.Prediction(claire, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Monitor.RecordFeedback(claire, id, "incorrect", gold[i], "chart review"); err != nil {
			t.Fatal(err)
		}
		ap, err := a.Monitor.FeedbackAnnotation(claire, "icu", "review")
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.Monitor.SendToAnnotation(claire, p, ap, gold[i])
		if err != nil || res.Added != 1 {
			t.Fatalf("send %s: %+v %v", id, res, err)
		}
	}
	if _, err := ann.Assign(marc, "icu", "review", []string{"rita"}); err != nil {
		t.Fatal(err)
	}
	q, err := ann.Queue(rita, "icu", "review")
	if err != nil || len(q) != 3 {
		t.Fatalf("queue %d %v", len(q), err)
	}
	for _, task := range q {
		if err := ann.Submit(rita, "icu", "review", task.ID, annotate.Result{Choices: []string{"oui"}}); err != nil {
			t.Fatal(err)
		}
		i := indexOf(ids, strings.TrimPrefix(task.Ref, "prediction:"))
		if _, err := ann.Adjudicate(claire, "icu", "review", task.ID, annotate.Result{Choices: []string{gold[i]}}); err != nil {
			t.Fatal(err)
		}
	}
	var onBehalf int
	if err := a.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action = 'annotation.import' AND actor = 'claire' AND detail LIKE '%on_behalf_of%'`).Scan(&onBehalf); err != nil || onBehalf != 3 {
		t.Errorf("%d on-behalf imports audited (%v), want 3", onBehalf, err)
	}
	a.Close()

	// Bad input changes nothing: an unknown annotation project, a user
	// without run.write.
	if code, _, errOut := run(t, env, "", "model", "retrain", "risk", "--version", "1", "--annotation", "nope", "-p", "icu", "--as", "marc"); code == 0 || !strings.Contains(errOut, "nope") {
		t.Fatalf("retrain --annotation nope = %d: %s", code, errOut)
	}
	if code, _, _ := run(t, env, "", "model", "retrain", "risk", "--version", "1", "-p", "icu", "--as", "claire"); code == 0 {
		t.Fatal("claire retrained")
	}
	code, out, errOut := run(t, env, "", "model", "retrain", "risk", "--version", "1", "-p", "icu", "--as", "marc", "--output", "json")
	if code != 0 {
		t.Fatalf("retrain = %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Retrain struct {
			Base      string `json:"base_dataset"`
			Corrected int    `json:"corrected"`
			Dataset   struct {
				Dataset string `json:"dataset"`
				Version int    `json:"version"`
				Rows    int    `json:"rows"`
				Parent  string `json:"parent"`
				Recipe  string `json:"recipe"`
				Level   string `json:"privacy_level"`
			} `json:"dataset"`
			Annotations []string `json:"annotation_projects"`
			Job         struct {
				State string `json:"state"`
			} `json:"job"`
		} `json:"retrain"`
		Run struct {
			ID         int64             `json:"id"`
			Experiment string            `json:"experiment"`
			Params     map[string]string `json:"params"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	r := res.Retrain
	if r.Base != "stays@1" || r.Corrected != 3 || r.Dataset.Dataset != "stays" || r.Dataset.Version != 2 || r.Dataset.Rows != 303 ||
		r.Dataset.Parent != "stays@1" || r.Dataset.Level != "pseudonymized" || fmt.Sprint(r.Annotations) != "[review]" || r.Job.State != "succeeded" {
		t.Errorf("retrain: %+v", r)
	}
	if !strings.Contains(r.Dataset.Recipe, "annotation_projects: [review]") || !strings.Contains(r.Dataset.Recipe, ids[0]) {
		t.Errorf("recipe %q", r.Dataset.Recipe)
	}
	if p := res.Run.Params; p["dataset"] != "stays@2" || p["learner"] != "logistic" || p["target"] != "deces" || p["positive"] != "true" || p["cv"] != "0" || res.Run.Experiment != "mortality" {
		t.Errorf("new run %d in %s: %v", res.Run.ID, res.Run.Experiment, p)
	}

	// The new rows: the logged inputs, the gold label, a group of their own.
	a = openApp(t, env)
	defer a.Close()
	marc = actAs(t, a, "marc")
	v, err := a.Datasets.Get(marc, "icu", "stays", 2)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := a.Datasets.Read(marc, v)
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) int { i, _ := tab.MustColumn(name); return i }
	// deces was imported as a boolean (oui/non): the gold labels too.
	want := [][]string{{"F", "81", "0.7", "rea", "true"}, {"M", "45", "6.25", "usc", "false"}, {"F", "67", "3.5", "med", "false"}}
	for k, row := range tab.Rows[300:] {
		i := indexOf(ids, strings.TrimPrefix(row[col("patient_id")], "feedback:"))
		if i < 0 {
			t.Fatalf("row %d: patient %q", 300+k, row[col("patient_id")])
		}
		got := []string{row[col("sexe")], row[col("age")], row[col("lactate")], row[col("ward")], row[col("deces")]}
		if fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Errorf("feedback row of prediction %d: %v, want %v", i, got, want[i])
		}
	}
	var audited string
	if err := a.DB.QueryRow(context.Background(), `SELECT detail FROM audit_events WHERE action = 'model.retrain' AND outcome = 'success'`).Scan(&audited); err != nil || !strings.Contains(audited, `"dataset":"stays@2"`) {
		t.Errorf("audit of the retraining: %q %v", audited, err)
	}
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}
