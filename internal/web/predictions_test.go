package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/httpapi"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/serve"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/web"
)

// explained is a project with an explainable model and one prediction of it.
type explained struct {
	model *hmodel.Model
	pred  string // the prediction's id
	page  string // its page
	in    map[string]any
	ann   *annotate.Service
}

// newExplainedEnv is newEnv with the UI reading model artifacts and
// sending flagged predictions to annotation, plus "sepsis-explained": a
// logistic regression on age and lactate, registered from a finished run,
// and one logged prediction of it.
func newExplainedEnv(t *testing.T) (*env, explained) {
	t.Helper()
	ann := new(annotate.Service)
	e := newEnv(t, func(d *web.Deps) { d.Annotate = ann })
	*ann = *annotate.NewService(e.db, e.audit, e.datasets)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 7))
	age, lac, spo2, y := hmodel.Column{Name: "age"}, hmodel.Column{Name: "lactate"}, hmodel.Column{Name: "spo2"}, hmodel.Column{Name: "y"}
	for range 400 {
		a, l, s := 20+70*r.Float64(), 0.5+4*r.Float64(), 85+15*r.Float64()
		p := 1 / (1 + math.Exp(-(0.04*(a-55) + 0.9*(l-2.5) - 0.15*(s-93))))
		age.Num, lac.Num, spo2.Num = append(age.Num, math.Round(a)), append(lac.Num, math.Round(l*10)/10), append(spo2.Num, math.Round(s))
		y.Text = append(y.Text, map[bool]string{true: "1", false: "0"}[r.Float64() < p])
	}
	params, err := hmodel.ParseParams(hmodel.Logistic, nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := hmodel.Prepare(&hmodel.Table{Cols: []hmodel.Column{age, lac, spo2, y}}, "y", "", nil, params)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pb.Fit(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	alice := e.as("alice")
	run, err := e.runs.StartRun(alice, "sepsis", "explained", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.runs.PutArtifact(alice, run.ID, "model/model.json", bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if err := e.runs.End(alice, run.ID, track.Finished); err != nil {
		t.Fatal(err)
	}
	reg := registry.NewService(e.db, e.runs, e.audit)
	v, err := reg.Register(alice, "sepsis", "sepsis-explained", run.ID, "model/model.json", hmodel.Format, registry.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]any{"age": 71.0, "lactate": 3.4, "spo2": 97.0}
	p, err := m.Predict(&hmodel.Table{Cols: []hmodel.Column{{Name: "age", Num: []float64{71}}, {Name: "lactate", Num: []float64{3.4}}, {Name: "spo2", Num: []float64{97}}}})
	if err != nil {
		t.Fatal(err)
	}
	// The log holds the model's inputs only; an extra key, were one ever
	// logged, must not be shown: the page keeps to the signature.
	if _, err := e.db.Exec(ctx, `INSERT INTO predictions (id, model_version_id, at, inputs_json, outputs_json, route) VALUES (?, ?, ?, ?, ?, 'primary')`,
		"pred-explained-01", v.ID, time.Now().UTC(), `{"age":71,"lactate":3.4,"spo2":97,"ipp":"`+rowValue+`"}`, fmt.Sprintf(`{"y":%g}`, p[0])); err != nil {
		t.Fatal(err)
	}
	return e, explained{model: m, pred: "pred-explained-01", page: "/projects/sepsis/predictions/pred-explained-01", in: in, ann: ann}
}

// TestPredictionPages: a clinician lists the predictions, filters them by
// model, and opens one: its inputs (the model's features only), output
// and explanation chart; users without prediction.read are refused, and a
// prediction of another project is not found.
func TestPredictionPages(t *testing.T) {
	e, x := newExplainedEnv(t)
	carla, victor, nora := e.session("carla"), e.session("victor"), e.session("nora")

	r := e.get("/projects/sepsis/predictions", carla)
	check(t, "list", r, http.StatusOK, []string{`id="prediction-list"`, x.page, "sepsis-explained v1", "sepsis-risk v1", "none yet", `id="filter-model"`}, []string{rowValue})
	r = e.get("/projects/sepsis/predictions?model=sepsis-explained", carla)
	check(t, "filtered list", r, http.StatusOK, []string{x.page}, []string{"sepsis-risk v1"})

	r = e.get(x.page, carla)
	check(t, "prediction", r, http.StatusOK, []string{
		`id="input-table"`, `data-input="age"`, `data-input="lactate"`, ">71<", ">3.4<",
		`id="explanation-chart"`, `class="plot hbar-chart"`, `id="explanation-base"`, `id="explanation-probability"`,
		`id="feedback-form"`, `id="verdict-incorrect"`, `name="corrected"`, "No feedback on this prediction yet",
	}, []string{rowValue, `data-input="ipp"`, `id="annotation"`}) // carla may not manage annotation
	if h := r.Header.Get("Content-Security-Policy"); !strings.Contains(h, "default-src 'none'") {
		t.Errorf("CSP %q", h)
	}
	// A model the UI cannot explain still shows its prediction.
	check(t, "linear flavor", e.get("/projects/sepsis/predictions/"+e.pred, carla), http.StatusOK, []string{`id="no-explanation"`, "lactate"}, []string{"hbar-chart"})

	check(t, "viewer list", e.get("/projects/sepsis/predictions", victor), http.StatusForbidden, nil, []string{"pred-"})
	check(t, "viewer page", e.get(x.page, victor), http.StatusForbidden, nil, []string{"lactate"})
	check(t, "outsider", e.get(x.page, nora), http.StatusForbidden, nil, nil)
	check(t, "other project", e.get("/projects/sepsis/predictions/"+e.cardioPr, carla), http.StatusNotFound, nil, nil)
	if r := e.get("/projects/sepsis/predictions/pred-nope", carla); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown prediction: %d", r.StatusCode)
	}
}

// TestPredictionExplanation: the contributions and the base add up to the
// model's output (log-odds), whose probability is the model's prediction.
func TestPredictionExplanation(t *testing.T) {
	_, x := newExplainedEnv(t)
	ex, err := web.ExplainInputs(x.model, x.in)
	if err != nil {
		t.Fatal(err)
	}
	sum := ex.Base
	for _, c := range ex.Contributions {
		sum += c
	}
	if math.Abs(sum-ex.Output) > 1e-6 {
		t.Errorf("base %v + contributions %v = %v, output %v", ex.Base, ex.Contributions, sum, ex.Output)
	}
	if len(ex.Contributions) != 3 || ex.Probability == nil {
		t.Fatalf("explanation %+v", ex)
	}
	p, err := x.model.Predict(&hmodel.Table{Cols: []hmodel.Column{{Name: "age", Num: []float64{71}}, {Name: "lactate", Num: []float64{3.4}}, {Name: "spo2", Num: []float64{97}}}})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(*ex.Probability-p[0]) > 1e-9 {
		t.Errorf("probability %v, the model predicts %v", *ex.Probability, p[0])
	}
	if ex.Contributions["lactate"] <= 0 || ex.Contributions["spo2"] >= 0 {
		t.Errorf("a high lactate should raise the risk, a high saturation lower it: %v", ex.Contributions)
	}
}

// TestPredictionFeedback: a clinician marks a prediction incorrect with the
// right answer and a comment; it is stored and shown. A verdict is
// required; a viewer may not give one.
func TestPredictionFeedback(t *testing.T) {
	e, x := newExplainedEnv(t)
	carla, victor := e.session("carla"), e.session("victor")
	r := e.do(http.MethodPost, x.page, url.Values{"verdict": {"incorrect"}, "corrected": {"0"}, "comment": {"lactate from a haemolysed sample"}}, carla, "")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != x.page+"?done=recorded#feedback" {
		t.Fatalf("feedback: %d to %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	p, err := e.monitor.Prediction(context.Background(), x.pred)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Feedback) != 1 || p.Feedback[0].User != "carla" || p.Feedback[0].Verdict != "incorrect" || p.Feedback[0].Corrected != "0" || p.Feedback[0].Comment != "lactate from a haemolysed sample" {
		t.Fatalf("feedback stored: %+v", p.Feedback)
	}
	check(t, "after", e.get(x.page+"?done=recorded", carla), http.StatusOK, []string{`id="flash"`, `data-verdict="incorrect"`, "lactate from a haemolysed sample"}, nil)
	check(t, "list after", e.get("/projects/sepsis/predictions", carla), http.StatusOK, []string{"verdict-incorrect"}, nil)

	check(t, "no verdict", e.do(http.MethodPost, x.page, url.Values{"comment": {"keep me"}}, carla, ""), http.StatusBadRequest, []string{`id="form-error"`, "keep me"}, nil)
	if r := e.do(http.MethodPost, x.page, url.Values{"verdict": {"correct"}}, victor, ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("viewer feedback: %d", r.StatusCode)
	}
	// An unknown annotation project: nothing is recorded.
	if r := e.do(http.MethodPost, x.page, url.Values{"verdict": {"incorrect"}, "annotation": {"review"}}, carla, ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("clinician sends to an unknown annotation project: %d", r.StatusCode)
	}
	if r := e.do(http.MethodPost, x.page, url.Values{"verdict": {"correct"}}, carla, "https://evil.example"); r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin feedback: %d", r.StatusCode)
	}
	if p, _ := e.monitor.Prediction(context.Background(), x.pred); len(p.Feedback) != 1 {
		t.Errorf("%d verdicts stored, want 1", len(p.Feedback))
	}
}

// TestPredictionToAnnotation: a clinician-validator, who does not manage
// annotation, marks a prediction incorrect and sends it to a rows
// annotation project: the task is added on her behalf (audited as such)
// and holds its inputs, with the right answer as a suggestion; sending it
// again adds nothing.
func TestPredictionToAnnotation(t *testing.T) {
	e, x := newExplainedEnv(t)
	ctx := context.Background()
	carla := e.session("carla")
	labels := []annotate.Label{{Name: "sepsis", Color: "#d55e00"}, {Name: "no-sepsis", Color: "#0072b2"}}
	for _, ap := range []annotate.Project{{Project: "sepsis", Name: "review", Kind: annotate.KindRows, Labels: labels}, {Project: "sepsis", Name: "notes", Kind: annotate.KindSpan, Labels: labels}} {
		if _, err := x.ann.Create(e.as("alice"), ap); err != nil {
			t.Fatal(err)
		}
	}
	check(t, "form", e.get(x.page, carla), http.StatusOK, []string{`id="annotation"`, `value="review"`}, []string{`value="notes"`})

	form := url.Values{"verdict": {"incorrect"}, "corrected": {"no-sepsis"}, "comment": {"lactate of a haemolysed sample"}, "annotation": {"review"}}
	r := e.do(http.MethodPost, x.page, form, carla, "")
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=sent") {
		t.Fatalf("send: %d to %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	check(t, "confirmation", e.get(r.Header.Get("Location"), carla), http.StatusOK, []string{`id="flash"`, "added to the annotation project review"}, nil)
	var ref, source, data, preds string
	if err := e.db.QueryRow(ctx, `SELECT t.ref, t.source, t.data, t.predictions FROM annotation_tasks t JOIN annotation_projects a ON a.id = t.annotation_project_id WHERE a.name = 'review'`).Scan(&ref, &source, &data, &preds); err != nil {
		t.Fatal(err)
	}
	if ref != "prediction:"+x.pred || source != "feedback" {
		t.Errorf("task %s from %s", ref, source)
	}
	var d annotate.TaskData
	if err := json.Unmarshal([]byte(data), &d); err != nil || d.Row["age"] != 71.0 || d.Row["lactate"] != 3.4 || d.Row["ipp"] != nil {
		t.Errorf("task data %s (%v)", data, err)
	}
	if !strings.Contains(preds, `"no-sepsis"`) {
		t.Errorf("suggestions %s: want the clinician's answer", preds)
	}
	if p, _ := e.monitor.Prediction(ctx, x.pred); len(p.Feedback) != 1 {
		t.Errorf("feedback: %+v", p.Feedback)
	}
	var detail string
	if err := e.db.QueryRow(ctx, `SELECT detail FROM audit_events WHERE action = 'annotation.import' AND actor = 'carla'`).Scan(&detail); err != nil || !strings.Contains(detail, `"on_behalf_of":"carla"`) {
		t.Errorf("audit of the task added on carla's behalf: %q %v", detail, err)
	}

	r = e.do(http.MethodPost, x.page, form, carla, "")
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=already") {
		t.Errorf("send again: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	check(t, "correct to annotation", e.do(http.MethodPost, x.page, url.Values{"verdict": {"correct"}, "annotation": {"review"}}, carla, ""), http.StatusBadRequest, []string{"marked incorrect"}, nil)
	check(t, "span project", e.do(http.MethodPost, x.page, url.Values{"verdict": {"incorrect"}, "annotation": {"notes"}}, carla, ""), http.StatusBadRequest, []string{"classification or rows"}, nil)
	var n int
	if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM annotation_tasks`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d tasks (%v), want 1", n, err)
	}
}

// TestPredictionListWithServe: with the serving service, the predictions
// page shows each prediction's route, and the model filter reaches the log.
func TestPredictionListWithServe(t *testing.T) {
	e, x := newExplainedEnv(t)
	reg := registry.NewService(e.db, e.runs, e.audit)
	sv := serve.NewService(e.db, reg, blob.NewMemory(), e.audit)
	t.Cleanup(func() { sv.Close() })
	srv := httpapi.New(httpapi.Options{Auth: e.auth, Audit: e.audit, Logger: slog.New(slog.DiscardHandler)})
	ui, err := web.New(web.Deps{Auth: e.auth, Projects: project.NewService(e.db, e.audit), Audit: e.audit, Datasets: e.datasets, Runs: e.runs,
		Registry: reg, Monitor: e.monitor, Serve: sv, SessionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv.Add(ui.Routes()...)
	srv.ErrorPage = ui.ErrorPage
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e.srv = ts
	carla := e.session("carla")
	check(t, "list", e.get("/projects/sepsis/predictions?model=sepsis-explained", carla), http.StatusOK,
		[]string{x.page, `<th scope="col">Route</th>`, `<span class="badge">primary</span>`}, []string{"sepsis-risk v1", rowValue})
	check(t, "viewer", e.get("/projects/sepsis/predictions", e.session("victor")), http.StatusForbidden, nil, nil)
}

// TestFeedbackAnnotationDefault: a scientist sets the model's feedback
// annotation project on its version page (a span project or a viewer is
// refused); then the clinician's feedback form preselects it, and a verdict
// posted without the field sends the incorrect prediction there.
func TestFeedbackAnnotationDefault(t *testing.T) {
	e, x := newExplainedEnv(t)
	ctx := context.Background()
	alice, carla, victor := e.session("alice"), e.session("carla"), e.session("victor")
	labels := []annotate.Label{{Name: "sepsis", Color: "#d55e00"}, {Name: "no-sepsis", Color: "#0072b2"}}
	for _, ap := range []annotate.Project{{Project: "sepsis", Name: "review", Kind: annotate.KindRows, Labels: labels}, {Project: "sepsis", Name: "notes", Kind: annotate.KindSpan, Labels: labels}} {
		if _, err := x.ann.Create(e.as("alice"), ap); err != nil {
			t.Fatal(err)
		}
	}
	const ver = "/projects/sepsis/models/sepsis-explained/versions/1"
	check(t, "version page", e.get(ver, alice), http.StatusOK, []string{`id="feedback-form"`, `value="review"`, "go to no annotation project"}, []string{`value="notes"`})
	check(t, "viewer sees no form", e.get(ver, victor), http.StatusOK, []string{`id="feedback-annotation"`}, []string{`id="feedback-form"`})
	check(t, "viewer", e.do(http.MethodPost, ver+"/feedback-annotation", url.Values{"annotation": {"review"}}, victor, ""), http.StatusForbidden, nil, nil)
	check(t, "span project", e.do(http.MethodPost, ver+"/feedback-annotation", url.Values{"annotation": {"notes"}}, alice, ""), http.StatusBadRequest, []string{"classification or rows"}, nil)
	check(t, "unknown project", e.do(http.MethodPost, ver+"/feedback-annotation", url.Values{"annotation": {"nosuch"}}, alice, ""), http.StatusBadRequest, []string{`feedback annotation &#34;nosuch&#34;`}, nil)
	r := e.do(http.MethodPost, ver+"/feedback-annotation", url.Values{"annotation": {"review"}}, alice, "")
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=feedback") {
		t.Fatalf("set: %d to %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	check(t, "version page after", e.get(ver, alice), http.StatusOK, []string{"goes by default to the annotation project <strong>review</strong>", `<option value="review" selected>`}, nil)
	var detail string
	if err := e.db.QueryRow(ctx, `SELECT detail FROM audit_events WHERE action = 'model.feedback_annotation.set' AND outcome = 'success'`).Scan(&detail); err != nil || !strings.Contains(detail, `"to":"review"`) {
		t.Errorf("audit of the change: %q %v", detail, err)
	}

	check(t, "form preselects", e.get(x.page, carla), http.StatusOK, []string{`<option value="review" selected>review (rows), the model's default</option>`}, nil)
	// A correct verdict without the field sends nothing.
	if r := e.do(http.MethodPost, x.page, url.Values{"verdict": {"correct"}}, carla, ""); r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=recorded") {
		t.Errorf("correct: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	// "Do not send" chosen on the form sends nothing either.
	if r := e.do(http.MethodPost, x.page, url.Values{"verdict": {"incorrect"}, "annotation": {""}}, carla, ""); r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=recorded") {
		t.Errorf("not sent: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	var n int
	if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM annotation_tasks`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d tasks (%v), want 0", n, err)
	}
	r = e.do(http.MethodPost, x.page, url.Values{"verdict": {"incorrect"}, "corrected": {"no-sepsis"}}, carla, "")
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=sent") || !strings.Contains(r.Header.Get("Location"), "annotation=review") {
		t.Fatalf("default: %d to %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	var ref string
	if err := e.db.QueryRow(ctx, `SELECT t.ref FROM annotation_tasks t JOIN annotation_projects a ON a.id = t.annotation_project_id WHERE a.name = 'review'`).Scan(&ref); err != nil || ref != "prediction:"+x.pred {
		t.Errorf("task %q (%v)", ref, err)
	}
}
