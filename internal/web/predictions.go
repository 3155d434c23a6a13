package web

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/explain"
	"github.com/hygie-health/hygie/internal/httpapi"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/plot"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/serve"
)

// The clinician feedback pages: a project's latest logged predictions
// (model, version, time, output, route, feedback state), and one
// prediction with its inputs as logged (the model's pseudonymized features
// only), its output, why the model gave it (each input's contribution,
// recomputed from the logged inputs with the model version, as a bar
// chart), the feedback already given, and a form to give one's own:
// verdict, the right answer and a comment. A prediction marked incorrect
// may be sent to one of the project's annotation projects (classification
// or rows) so that the corrected case joins the next training set.

// maxPredictionList bounds the predictions page.
const maxPredictionList = 50

// predictionsURL is a project's predictions page.
func predictionsURL(project string) string {
	return "/projects/" + url.PathEscape(project) + "/predictions"
}

// predictionURL is one prediction's page.
func predictionURL(project, id string) string {
	return predictionsURL(project) + "/" + url.PathEscape(id)
}

func (u *UI) predictionRoutes(tag string) []httpapi.Route {
	const base = "/projects/{project}/predictions"
	return []httpapi.Route{
		{Method: "GET", Pattern: base, Summary: "A project's latest logged predictions (query: model): model, version, time, output, route, feedback", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermPredictionsRead, Web: true, Handler: u.predictionsPage},
		{Method: "GET", Pattern: base + "/{id}", Summary: "One prediction: its inputs (pseudonymized features), output, explanation (contribution of each input) and feedback", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermPredictionsRead, Web: true, Handler: u.predictionPage},
		{Method: "POST", Pattern: base + "/{id}", Summary: "Give feedback on a prediction (form: verdict correct|incorrect|unsure, corrected, comment, annotation: an annotation project to send an incorrect prediction to)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermFeedbackWrite, Web: true, Handler: u.predictionFeedback},
	}
}

// predictionRow is a line of the predictions page.
type predictionRow struct {
	ID, Model, Route, URL string
	Version               int
	At                    time.Time
	Outputs               map[string]float64
	Feedback              int    // how many verdicts
	Last                  string // the latest verdict
}

type predictionsData struct {
	Project   string
	Model     string   // the filter
	Models    []string // the filter's choices
	Rows      []predictionRow
	Limit     int
	ShowRoute bool
}

// predictionsPage lists the project's latest predictions.
func (u *UI) predictionsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("project")
	p := auth.FromContext(ctx)
	d := predictionsData{Project: name, Model: strings.TrimSpace(r.URL.Query().Get("model")), Limit: maxPredictionList}
	if p.Can(name, auth.PermModelRead) {
		vs, err := u.d.Registry.ListVersions(ctx, name)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if !slices.Contains(d.Models, v.Model) {
				d.Models = append(d.Models, v.Model)
			}
		}
	}
	if u.d.Serve != nil {
		d.ShowRoute = true
		ps, err := u.d.Serve.Predictions(ctx, name, serve.Filter{Model: d.Model, Limit: maxPredictionList})
		if err != nil {
			return err
		}
		for _, sp := range ps {
			row := predictionRow{ID: sp.ID, Model: sp.Model, Version: sp.Version, At: sp.At, Route: sp.Route, URL: predictionURL(name, sp.ID)}
			mp, err := u.d.Monitor.Prediction(ctx, sp.ID)
			if err == nil {
				row.Outputs, row.Feedback = mp.Outputs, len(mp.Feedback)
				if n := len(mp.Feedback); n > 0 {
					row.Last = mp.Feedback[n-1].Verdict
				}
			} else if !errs.Is(err, errs.NotFound) { // pruned meanwhile
				return err
			}
			d.Rows = append(d.Rows, row)
		}
	} else {
		ps, err := u.d.Monitor.Predictions(ctx, name, 1000)
		if err != nil {
			return err
		}
		for _, mp := range ps {
			if d.Model != "" && mp.Model != d.Model {
				continue
			}
			if len(d.Rows) == maxPredictionList {
				break
			}
			row := predictionRow{ID: mp.ID, Model: mp.Model, Version: mp.Version, At: mp.At, Outputs: mp.Outputs, URL: predictionURL(name, mp.ID)}
			if full, err := u.d.Monitor.Prediction(ctx, mp.ID); err == nil {
				row.Feedback = len(full.Feedback)
				if row.Feedback > 0 {
					row.Last = full.Feedback[row.Feedback-1].Verdict
				}
			}
			d.Rows = append(d.Rows, row)
		}
	}
	return u.render(w, http.StatusOK, "predictions", u.newPage(r, "Predictions — "+name, "projects", d))
}

// inputRow is one logged input.
type inputRow struct {
	Name, Value  string
	Contribution string // signed, when explained
}

// explanationView is the explanation shown next to a prediction.
type explanationView struct {
	Method      string
	Scale       string // what the contributions add up to
	Base        string
	Output      string
	Probability string
	Chart       template.HTML
}

type predictionData struct {
	Project, ListURL, URL string
	Pred                  monitor.Prediction
	VersionURL            string
	Inputs                []inputRow
	Outputs               []inputRow
	Explanation           *explanationView
	ExplainNote           string // why there is no explanation
	CanFeedback           bool
	Verdicts              []string
	Annotations           []annotate.Project // where an incorrect prediction may go
	DefaultAnnotation     string             // the model's feedback annotation project, preselected
	Flash                 string
	Error                 string
	// The form's values, kept after an error.
	Verdict, Corrected, Comment, Annotation string
}

// annotationNameRE is an annotation project's name (see annotate), the
// only text a confirmation takes from the query.
var annotationNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{1,62}$`)

var predictionFlashes = map[string]string{
	"recorded": "Thank you: your feedback was recorded.",
	"sent":     "Thank you: your feedback was recorded, and the prediction was added to the annotation project %s.",
	"already":  "Thank you: your feedback was recorded. The prediction was already a task of the annotation project %s.",
}

// loadPrediction returns the project's prediction id, or NotFound when it
// belongs to another project (the route checked the permission in
// {project} only).
func (u *UI) loadPrediction(ctx context.Context, project, id string) (monitor.Prediction, error) {
	pred, err := u.d.Monitor.Prediction(ctx, id)
	if errs.Is(err, errs.NotFound) || (err == nil && pred.Project != project) {
		return monitor.Prediction{}, errs.NotFoundf("no such prediction in this project")
	}
	return pred, err
}

// predictionPage shows one prediction.
func (u *UI) predictionPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name, id := r.PathValue("project"), r.PathValue("id")
	pred, err := u.loadPrediction(ctx, name, id)
	if err != nil {
		return err
	}
	d, err := u.predictionView(r, name, pred)
	if err != nil {
		return err
	}
	d.Annotation = d.DefaultAnnotation
	q := r.URL.Query()
	if f, ok := predictionFlashes[q.Get("done")]; ok {
		if strings.Contains(f, "%s") {
			a := q.Get("annotation")
			if !annotationNameRE.MatchString(a) {
				f, a = predictionFlashes["recorded"], ""
			}
			f = strings.Replace(f, "%s", a, 1)
		}
		d.Flash = f
	}
	return u.render(w, http.StatusOK, "prediction", u.newPage(r, "Prediction "+shorten(id, 18), "projects", d))
}

// predictionView assembles the page of a prediction.
func (u *UI) predictionView(r *http.Request, project string, pred monitor.Prediction) (predictionData, error) {
	ctx := r.Context()
	p := auth.FromContext(ctx)
	d := predictionData{Project: project, ListURL: predictionsURL(project), URL: predictionURL(project, pred.ID), Pred: pred,
		CanFeedback: p.Can(project, auth.PermFeedbackWrite), Verdicts: monitor.Verdicts}
	if p.Can(project, auth.PermModelRead) {
		d.VersionURL = versionURL(project, pred.Model, pred.Version)
	}
	v, err := u.d.Registry.Version(ctx, pred.Model, pred.Version)
	if err != nil {
		return d, err
	}
	inputs := featuresOnly(v, pred.Inputs)
	ex, note := u.explainPrediction(ctx, v, inputs)
	d.ExplainNote = note
	for _, k := range sortedInputNames(inputs) {
		row := inputRow{Name: k, Value: anyValue(inputs[k])}
		if ex != nil {
			if c, ok := ex.Contributions[k]; ok {
				row.Contribution = signedNum(c)
			}
		}
		d.Inputs = append(d.Inputs, row)
	}
	outs := make([]string, 0, len(pred.Outputs))
	for k := range pred.Outputs {
		outs = append(outs, k)
	}
	sort.Strings(outs)
	for _, k := range outs {
		d.Outputs = append(d.Outputs, inputRow{Name: k, Value: formatNumber(pred.Outputs[k])})
	}
	if ex != nil {
		d.Explanation = explanationChart(ex)
	}
	if d.CanFeedback && u.d.Annotate != nil {
		if d.Annotations, err = u.feedbackAnnotations(ctx, project); err != nil {
			return d, err
		}
		if d.DefaultAnnotation, err = u.d.Registry.FeedbackAnnotationOf(ctx, pred.Model); err != nil {
			return d, err
		}
	}
	return d, nil
}

// feedbackAnnotations lists the project's annotation projects that take
// predictions flagged incorrect: classification and rows projects.
func (u *UI) feedbackAnnotations(ctx context.Context, project string) ([]annotate.Project, error) {
	aps, err := u.d.Annotate.List(ctx, project)
	if err != nil {
		return nil, err
	}
	var out []annotate.Project
	for _, ap := range aps {
		if ap.Kind == annotate.KindClassification || ap.Kind == annotate.KindRows {
			out = append(out, ap)
		}
	}
	return out, nil
}

// featuresOnly keeps the logged inputs that are inputs of the model's
// signature, when it is known: a page or a task never shows anything but
// the model's features.
func featuresOnly(v registry.Version, in map[string]any) map[string]any {
	return monitor.FeaturesOnly(v, in)
}

func sortedInputNames(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// explainPrediction recomputes a logged prediction's explanation with its
// model version, or says why it cannot.
func (u *UI) explainPrediction(ctx context.Context, v registry.Version, inputs map[string]any) (*explain.Explanation, string) {
	if v.Flavor != hmodel.Format {
		return nil, "This model's predictions cannot be explained here: only models trained by hygie can."
	}
	m, err := u.d.Registry.LoadModel(ctx, v)
	if err != nil {
		u.log.Warn("load a model to explain a prediction", "model", v.Model, "version", v.Version, "err", err)
		return nil, "The model's artifact could not be read: no explanation."
	}
	ex, err := ExplainInputs(m, inputs)
	if err != nil {
		return nil, "No explanation: " + errs.MessageOf(err)
	}
	return &ex, ""
}

// ExplainInputs explains m's prediction for one row of logged inputs
// (numbers and category values by input name; a missing input is a
// missing value).
func ExplainInputs(m *hmodel.Model, inputs map[string]any) (explain.Explanation, error) {
	t := &hmodel.Table{}
	for _, in := range m.Inputs {
		cell := ""
		switch x := inputs[in.Name].(type) {
		case nil:
		case float64:
			cell = strconv.FormatFloat(x, 'g', -1, 64)
		case string:
			cell = x
		case bool:
			cell = strconv.FormatBool(x)
		default:
			cell = fmt.Sprint(x)
		}
		t.Cols = append(t.Cols, hmodel.Column{Name: in.Name, Text: []string{cell}})
	}
	exs, err := explain.ForModel(m, t)
	if err != nil {
		return explain.Explanation{}, err
	}
	if len(exs) != 1 {
		return explain.Explanation{}, errs.Invalidf("no explanation")
	}
	return exs[0], nil
}

// signedNum writes a contribution with its sign, as the chart does.
func signedNum(v float64) string {
	switch {
	case v > 0:
		return "+" + plot.FormatNumber(v)
	case v < 0:
		return "−" + plot.FormatNumber(-v)
	}
	return plot.FormatNumber(v)
}

// explanationChart draws the contributions, largest first.
func explanationChart(ex *explain.Explanation) *explanationView {
	bars := make([]plot.Bar, 0, len(ex.Contributions))
	for k, c := range ex.Contributions {
		bars = append(bars, plot.Bar{Label: k, Value: c})
	}
	sort.Slice(bars, func(i, j int) bool {
		if a, b := math.Abs(bars[i].Value), math.Abs(bars[j].Value); a != b {
			return a > b
		}
		return bars[i].Label < bars[j].Label
	})
	v := &explanationView{Method: ex.Method, Base: plot.FormatNumber(ex.Base), Output: plot.FormatNumber(ex.Output)}
	pos, neg, scale := "raises the prediction", "lowers the prediction", "the predicted value"
	if ex.Probability != nil {
		pos, neg, scale = "raises the risk", "lowers the risk", "the log-odds of the positive class"
		v.Probability = plot.FormatNumber(*ex.Probability)
	}
	v.Scale = scale
	v.Chart = plot.HBarChart{ID: "explanation-chart", Title: "Contribution of each input to this prediction", XLabel: "contribution (" + scale + ")",
		Bars: bars, PositiveName: pos, NegativeName: neg,
		Desc: fmt.Sprintf("Contribution of each input, largest first, on the scale of %s: base %s plus the contributions gives %s.", scale, v.Base, v.Output)}.SVG()
	return v
}

// predictionFeedback records the acting clinician's verdict on the
// prediction and, for an incorrect one sent to an annotation project,
// adds it there as a task; then shows the page again (post/redirect/get).
func (u *UI) predictionFeedback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name, id := r.PathValue("project"), r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		return errs.Invalidf("malformed form")
	}
	pred, err := u.loadPrediction(ctx, name, id)
	if err != nil {
		return err
	}
	f := r.PostForm
	verdict, corrected := f.Get("verdict"), strings.TrimSpace(f.Get("corrected"))
	comment, annotation := strings.TrimSpace(f.Get("comment")), strings.TrimSpace(f.Get("annotation"))
	fail := func(msg string) error {
		d, err := u.predictionView(r, name, pred)
		if err != nil {
			return err
		}
		d.Error, d.Verdict, d.Corrected, d.Comment, d.Annotation = msg, verdict, corrected, comment, annotation
		return u.render(w, http.StatusBadRequest, "prediction", u.newPage(r, "Prediction "+shorten(id, 18), "projects", d))
	}
	if !slices.Contains(monitor.Verdicts, verdict) {
		return fail("Choose a verdict: " + strings.Join(monitor.Verdicts, ", ") + ".")
	}
	// A form without the field (not the page's, which preselects it)
	// sends an incorrect prediction to the model's feedback annotation
	// project, as the REST API does.
	if _, ok := f["annotation"]; !ok && verdict == "incorrect" {
		if annotation, err = u.d.Registry.FeedbackAnnotationOf(ctx, pred.Model); err != nil {
			return err
		}
	}
	var ap annotate.Project
	if annotation != "" {
		if verdict != "incorrect" {
			return fail("Only a prediction marked incorrect goes to an annotation project.")
		}
		if u.d.Annotate == nil {
			return errs.NotFoundf("annotation is not configured")
		}
		if ap, err = u.d.Annotate.Get(ctx, name, annotation); err != nil {
			return err
		}
		if ap.Kind != annotate.KindClassification && ap.Kind != annotate.KindRows {
			return fail(fmt.Sprintf("Annotation project %s is a %s project: predictions go to classification or rows projects.", ap.Name, ap.Kind))
		}
	}
	var features map[string]any
	if annotation != "" {
		v, err := u.d.Registry.Version(ctx, pred.Model, pred.Version)
		if err != nil {
			return err
		}
		features = featuresOnly(v, pred.Inputs)
	}
	if _, err := u.d.Monitor.RecordFeedback(ctx, id, verdict, corrected, comment); err != nil {
		if errs.Is(err, errs.Invalid) {
			return fail(errs.MessageOf(err))
		}
		return err
	}
	done := "recorded"
	if annotation != "" {
		// A system action on the clinician's behalf: feedback.write suffices.
		res, err := u.d.Annotate.AddFeedbackTasks(ctx, name, ap.Name, []annotate.NewTask{monitor.FeedbackTask(pred, features, ap, corrected)})
		if err != nil {
			d, verr := u.predictionView(r, name, pred)
			if verr != nil {
				return verr
			}
			d.Flash = predictionFlashes["recorded"]
			d.Error = "The prediction could not be added to the annotation project " + ap.Name + ": " + errs.MessageOf(err)
			return u.render(w, http.StatusOK, "prediction", u.newPage(r, "Prediction "+shorten(id, 18), "projects", d))
		}
		done = "sent"
		if res.Added == 0 {
			done = "already"
		}
	}
	q := url.Values{"done": {done}}
	if annotation != "" {
		q.Set("annotation", ap.Name)
	}
	http.Redirect(w, r, predictionURL(name, id)+"?"+q.Encode()+"#feedback", http.StatusSeeOther)
	return nil
}
