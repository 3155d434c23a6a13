package web

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
)

// The review pages of an annotation project: the agreement report
// (annotation.manage, as the service's Agreement) with the most disagreed
// tasks, and adjudication (annotation.adjudicate): the queue of tasks whose
// annotators all answered, and one task with every answer side by side,
// where the adjudicator takes an answer or edits it into the gold one.
// They are script-free, like every page but the annotator's.

// maxDisagreed is the number of most disagreed tasks the agreement page lists.
const maxDisagreed = 20

func (u *UI) annotateReviewRoutes(tag string) []httpapi.Route {
	const one = "/projects/{project}/annotate/{name}"
	return []httpapi.Route{
		{Method: "GET", Pattern: one + "/agreement", Summary: "The agreement report of an annotation project: pairwise matrix, group figures per label, warnings, the most disagreed tasks", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermAnnotationManage, Web: true, Handler: u.agreementPage},
		{Method: "GET", Pattern: one + "/adjudicate", Summary: "The tasks of an annotation project awaiting adjudication", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermAnnotationAdjudicate, Web: true, Handler: u.adjudicateQueue},
		{Method: "GET", Pattern: one + "/adjudicate/{task}", Summary: "A task awaiting adjudication, with every answer side by side (query: from, the annotator whose answer prefills the gold field)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermAnnotationAdjudicate, Web: true, Handler: u.adjudicateTaskPage},
		{Method: "POST", Pattern: one + "/adjudicate/{task}", Summary: `Record a task's gold answer (form: answer, {"spans": [...]} or {"choices": [...]}), then go to the next task`, Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermAnnotationAdjudicate, Web: true, Handler: u.adjudicatePost},
	}
}

// heatClass buckets a statistic in [-1, 1] for the matrix's colours.
func heatClass(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "heat-na"
	case v < 0.2:
		return "heat-0"
	case v < 0.4:
		return "heat-1"
	case v < 0.6:
		return "heat-2"
	case v < 0.8:
		return "heat-3"
	}
	return "heat-4"
}

// heatCell is a cell of an annotator × annotator matrix.
type heatCell struct {
	Value string
	Class string
	Items int
	Self  bool
}

type heatRow struct {
	Annotator string
	Cells     []heatCell
}

// heatMatrix is a symmetric matrix of one pairwise statistic.
type heatMatrix struct {
	ID, Title, Note string
	Annotators      []string
	Rows            []heatRow
}

func matrixOf(id, title, note string, rep annotate.Report, stat func(annotate.Pair) float64) heatMatrix {
	m := heatMatrix{ID: id, Title: title, Note: note, Annotators: rep.Annotators}
	for _, a := range rep.Annotators {
		row := heatRow{Annotator: a}
		for _, b := range rep.Annotators {
			if a == b {
				row.Cells = append(row.Cells, heatCell{Value: "—", Class: "heat-self", Self: true})
				continue
			}
			i := slices.IndexFunc(rep.Pairs, func(p annotate.Pair) bool { return p.A == a && p.B == b || p.A == b && p.B == a })
			if i < 0 {
				row.Cells = append(row.Cells, heatCell{Value: "n/a", Class: "heat-na"})
				continue
			}
			p := rep.Pairs[i]
			v := stat(p)
			row.Cells = append(row.Cells, heatCell{Value: annotate.Stat(v).String(), Class: heatClass(v), Items: p.Items})
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}

// labelFigures is a line of the per-label table.
type labelFigures struct {
	Label      string
	Prevalence string
	Fleiss     string
	Alpha      string
	Unitizing  string
	Spans      int
	Class      string
}

// disagreed is a task with its mean pairwise agreement.
type disagreed struct {
	ID        int64
	Ref       string
	Excerpt   string
	Agreement float64
	Score     string
	Answers   []string // "annotator: answer"
	Gold      bool
	URL       string
}

type agreementData struct {
	Project     string
	Ann         annotate.Project
	URL         string
	Span        bool
	Report      annotate.Report
	Overall     labelFigures
	Matrices    []heatMatrix
	Labels      []labelFigures
	Disagreed   []disagreed
	Adjudicator bool
}

func figuresOf(label string, f annotate.Figures) labelFigures {
	lf := labelFigures{Label: label, Fleiss: f.FleissKappa.String(), Alpha: f.Alpha.String(), Spans: f.Spans, Class: heatClass(float64(f.Alpha))}
	lf.Prevalence = "n/a"
	if p := float64(f.Prevalence); !math.IsNaN(p) {
		lf.Prevalence = strconv.FormatFloat(100*p, 'f', 1, 64) + "%"
	}
	if f.UnitizingAlpha != nil {
		lf.Unitizing = f.UnitizingAlpha.String()
		lf.Class = heatClass(float64(*f.UnitizingAlpha))
	}
	return lf
}

// agreementPage shows the agreement report and the most disagreed tasks.
func (u *UI) agreementPage(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.annotateService()
	if err != nil {
		return err
	}
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	rep, err := svc.Agreement(ctx, project, name)
	if err != nil {
		return err
	}
	p, rs, err := svc.Reviews(ctx, project, name)
	if err != nil {
		return err
	}
	base := annotateURL(project, name)
	d := agreementData{Project: project, Ann: p, URL: base, Span: p.Kind == annotate.KindSpan, Report: rep,
		Adjudicator: auth.FromContext(ctx).Can(project, auth.PermAnnotationAdjudicate)}
	d.Overall = figuresOf("all labels", rep.Overall)
	if d.Span {
		d.Matrices = append(d.Matrices,
			matrixOf("matrix-exact", "Exact span F1", "same start, end and label", rep, func(p annotate.Pair) float64 {
				if p.Span == nil {
					return math.NaN()
				}
				return float64(p.Span.Exact)
			}),
			matrixOf("matrix-overlap", "Overlap span F1", "same label, at least one character in common", rep, func(p annotate.Pair) float64 {
				if p.Span == nil {
					return math.NaN()
				}
				return float64(p.Span.Overlap)
			}))
	} else {
		d.Matrices = append(d.Matrices, matrixOf("matrix-kappa", "Cohen's kappa", "per pair of annotators, on the items both answered", rep, func(p annotate.Pair) float64 { return float64(p.Kappa) }))
	}
	for _, l := range p.Labels {
		if f, ok := rep.Labels[l.Name]; ok {
			d.Labels = append(d.Labels, figuresOf(l.Name, f))
		}
	}
	d.Disagreed = mostDisagreed(p, rs, base, maxDisagreed)
	return u.render(w, http.StatusOK, "annotate_agreement", u.newPage(r, "Agreement · "+p.Name+" · "+project, "projects", d))
}

// pairAgreement is how far two answers agree, from 0 to 1: single choice,
// equal or not; multi-label, the Jaccard index of the sets; spans, the
// exact-match F1 (two empty answers agree).
func pairAgreement(kind string, a, b annotate.Result) float64 {
	if kind == annotate.KindSpan {
		if len(a.Spans)+len(b.Spans) == 0 {
			return 1
		}
		m := 0
		for _, x := range a.Spans {
			if slices.ContainsFunc(b.Spans, func(y annotate.Span) bool { return x.Start == y.Start && x.End == y.End && x.Label == y.Label }) {
				m++
			}
		}
		return 2 * float64(m) / float64(len(a.Spans)+len(b.Spans))
	}
	inter, union := 0, map[string]bool{}
	for _, c := range a.Choices {
		union[c] = true
		if slices.Contains(b.Choices, c) {
			inter++
		}
	}
	for _, c := range b.Choices {
		union[c] = true
	}
	if len(union) == 0 {
		return 1
	}
	return float64(inter) / float64(len(union))
}

// answerText is an answer in a line: choices, or labelled span texts.
func answerText(r annotate.Result) string {
	if len(r.Spans) == 0 && len(r.Choices) == 0 {
		return "(nothing)"
	}
	if len(r.Choices) > 0 {
		return strings.Join(r.Choices, ", ")
	}
	var parts []string
	for _, s := range r.Spans {
		parts = append(parts, fmt.Sprintf("%s “%s” %d–%d", s.Label, s.Text, s.Start, s.End))
	}
	return strings.Join(parts, "; ")
}

// mostDisagreed lists the tasks with two or more answers whose mean
// pairwise agreement is below 1, lowest first.
func mostDisagreed(p annotate.Project, rs []annotate.Review, base string, n int) []disagreed {
	var out []disagreed
	for _, r := range rs {
		var ans []annotate.Annotation
		for _, a := range r.Annotations {
			if !a.Skipped {
				ans = append(ans, a)
			}
		}
		if len(ans) < 2 {
			continue
		}
		sum, pairs := 0.0, 0
		for i := range ans {
			for j := i + 1; j < len(ans); j++ {
				sum += pairAgreement(p.Kind, ans[i].Result, ans[j].Result)
				pairs++
			}
		}
		ag := sum / float64(pairs)
		if ag >= 1 {
			continue
		}
		d := disagreed{ID: r.ID, Ref: r.Ref, Excerpt: shorten(taskText(r.Task), 90), Agreement: ag, Score: strconv.FormatFloat(ag, 'f', 2, 64), Gold: r.Gold != nil,
			URL: base + "/adjudicate/" + strconv.FormatInt(r.ID, 10)}
		for _, a := range ans {
			d.Answers = append(d.Answers, a.Annotator+": "+answerText(a.Result))
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Agreement != out[j].Agreement {
			return out[i].Agreement < out[j].Agreement
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// taskText is a task's text, or its row as JSON.
func taskText(t annotate.Task) string {
	if t.Data.Row != nil {
		b, _ := json.Marshal(t.Data.Row)
		return string(b)
	}
	return t.Data.Text
}

// adjQueueRow is a line of the adjudication queue.
type adjQueueRow struct {
	ID        int64
	Ref       string
	Excerpt   string
	Answers   int
	Skipped   int
	Agreement string
	Agree     bool
	URL       string
}

type adjQueueData struct {
	Project string
	Ann     annotate.Project
	URL     string
	Flash   string
	Rows    []adjQueueRow
	Manager bool
}

// adjudicateQueue lists the tasks awaiting adjudication.
func (u *UI) adjudicateQueue(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.annotateService()
	if err != nil {
		return err
	}
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	p, err := svc.Get(ctx, project, name)
	if err != nil {
		return err
	}
	rs, err := svc.ForAdjudication(ctx, project, name)
	if err != nil {
		return err
	}
	base := annotateURL(project, name)
	d := adjQueueData{Project: project, Ann: p, URL: base, Manager: auth.FromContext(ctx).Can(project, auth.PermAnnotationManage)}
	if r.URL.Query().Get("done") == "1" {
		d.Flash = "The gold answer was saved. No task is left awaiting adjudication."
		if len(rs) > 0 {
			d.Flash = "The gold answer was saved."
		}
	}
	for _, rv := range rs {
		row := adjQueueRow{ID: rv.ID, Ref: rv.Ref, Excerpt: shorten(taskText(rv.Task), 90), URL: base + "/adjudicate/" + strconv.FormatInt(rv.ID, 10)}
		var ans []annotate.Annotation
		for _, a := range rv.Annotations {
			if a.Skipped {
				row.Skipped++
			} else {
				ans = append(ans, a)
			}
		}
		row.Answers = len(ans)
		row.Agreement = "—"
		if len(ans) >= 2 {
			sum, n := 0.0, 0
			for i := range ans {
				for j := i + 1; j < len(ans); j++ {
					sum += pairAgreement(p.Kind, ans[i].Result, ans[j].Result)
					n++
				}
			}
			row.Agreement = strconv.FormatFloat(sum/float64(n), 'f', 2, 64)
			row.Agree = sum == float64(n)
		}
		d.Rows = append(d.Rows, row)
	}
	return u.render(w, http.StatusOK, "annotate_adjudicate", u.newPage(r, "Adjudication · "+p.Name+" · "+project, "projects", d))
}

// adjColumn is one annotator's answer on the adjudication page.
type adjColumn struct {
	Annotator  string
	Skipped    bool
	SkipReason string
	Segments   []annSeg
	Spans      []annotate.Span
	Choices    []string
	JSON       string
	TakeURL    string
	Chosen     bool
}

type adjTaskData struct {
	Project  string
	Ann      annotate.Project
	URL      string
	TaskURL  string
	Span     bool
	Task     *annotate.Review // nil: no longer awaiting adjudication
	Row      [][2]string
	Columns  []adjColumn
	Labels   []string
	Answer   string // the gold field: JSON
	From     string // whose answer prefills it
	Error    string
	Flash    string
	Left     int
	TaskID   int64
	Adjudged bool
}

// adjudicateData loads task id's page; without it in the queue, Task is nil.
func (u *UI) adjudicateData(r *http.Request, taskID int64, from string) (*adjTaskData, error) {
	svc, err := u.annotateService()
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	p, err := svc.Get(ctx, project, name)
	if err != nil {
		return nil, err
	}
	rs, err := svc.ForAdjudication(ctx, project, name)
	if err != nil {
		return nil, err
	}
	base := annotateURL(project, name)
	d := &adjTaskData{Project: project, Ann: p, URL: base, TaskURL: base + "/adjudicate/" + strconv.FormatInt(taskID, 10),
		Span: p.Kind == annotate.KindSpan, Left: len(rs), TaskID: taskID, Labels: labelNames(p.Labels)}
	i := slices.IndexFunc(rs, func(rv annotate.Review) bool { return rv.ID == taskID })
	if i < 0 {
		return d, nil
	}
	rv := rs[i]
	d.Task = &rv
	if rv.Data.Row != nil {
		keys := make([]string, 0, len(rv.Data.Row))
		for k := range rv.Data.Row {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.Row = append(d.Row, [2]string{k, anyValue(rv.Data.Row[k])})
		}
	}
	for _, a := range rv.Annotations {
		c := adjColumn{Annotator: a.Annotator, Skipped: a.Skipped, SkipReason: a.SkipReason, Spans: a.Result.Spans, Choices: a.Result.Choices,
			TakeURL: d.TaskURL + "?from=" + url.QueryEscape(a.Annotator) + "#gold"}
		if !a.Skipped {
			c.JSON = resultJSON(p.Kind, a.Result)
			if d.Span {
				c.Segments = segments(rv.Data.Text, a.Result.Spans, nil)
			}
			if d.From == "" && (from == "" || from == a.Annotator) {
				d.From, d.Answer = a.Annotator, c.JSON
			}
		}
		d.Columns = append(d.Columns, c)
	}
	for i := range d.Columns {
		d.Columns[i].Chosen = d.Columns[i].Annotator == d.From
	}
	if d.Answer == "" {
		d.Answer = resultJSON(p.Kind, annotate.Result{})
	}
	return d, nil
}

func labelNames(ls []annotate.Label) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out
}

// resultJSON is an answer as the gold field takes it: spans without their
// texts, or choices.
func resultJSON(kind string, r annotate.Result) string {
	if kind == annotate.KindSpan {
		type sp struct {
			Start int    `json:"start"`
			End   int    `json:"end"`
			Label string `json:"label"`
		}
		out := struct {
			Spans []sp `json:"spans"`
		}{Spans: []sp{}}
		for _, s := range r.Spans {
			out.Spans = append(out.Spans, sp{s.Start, s.End, s.Label})
		}
		b, _ := json.Marshal(out)
		return string(b)
	}
	ch := r.Choices
	if ch == nil {
		ch = []string{}
	}
	b, _ := json.Marshal(struct {
		Choices []string `json:"choices"`
	}{ch})
	return string(b)
}

func taskParam(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("task"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errs.NotFoundf("no task %q", r.PathValue("task"))
	}
	return id, nil
}

func (u *UI) renderAdjudicate(w http.ResponseWriter, r *http.Request, status int, d *adjTaskData) error {
	title := fmt.Sprintf("Task %d · adjudication · %s · %s", d.TaskID, d.Ann.Name, d.Project)
	return u.render(w, status, "annotate_adjudicate_task", u.newPage(r, title, "projects", d))
}

// adjudicateTaskPage shows a task awaiting adjudication.
func (u *UI) adjudicateTaskPage(w http.ResponseWriter, r *http.Request) error {
	id, err := taskParam(r)
	if err != nil {
		return err
	}
	d, err := u.adjudicateData(r, id, r.URL.Query().Get("from"))
	if err != nil {
		return err
	}
	if d.Task == nil {
		return errs.NotFoundf("task %d is not awaiting adjudication (already adjudicated, not yet answered by all its annotators, or not in %s)", id, d.Ann.Name)
	}
	if r.URL.Query().Get("done") == "1" {
		d.Flash = "The gold answer was saved. Next task:"
	}
	return u.renderAdjudicate(w, r, http.StatusOK, d)
}

// parseGold reads a posted gold answer: {"spans": [...]} or {"choices": [...]}.
func parseGold(s string) (annotate.Result, error) {
	var res annotate.Result
	s = strings.TrimSpace(s)
	if s == "" {
		return res, errs.Invalidf(`the gold answer is empty (want {"spans": [...]} or {"choices": [...]})`)
	}
	if len(s) > maxAnswerBytes {
		return res, errs.Invalidf("the answer is too long")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		return res, errs.Invalidf(`the gold answer is not valid JSON (want {"spans": [{"start", "end", "label"}]} or {"choices": [...]}): %v`, err)
	}
	return res, nil
}

// adjudicatePost records the gold answer, then goes to the next task. A
// refused answer (invalid, or the task already adjudicated) re-renders the
// page with the message and the input kept; nothing is stored.
func (u *UI) adjudicatePost(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.annotateService()
	if err != nil {
		return err
	}
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	id, err := taskParam(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxAnswerBytes+64<<10)
	if err := postForm(r); err != nil {
		return err
	}
	answer := r.PostForm.Get("answer")
	res, perr := parseGold(answer)
	if perr == nil {
		_, perr = svc.Adjudicate(ctx, project, name, id, res)
	}
	if perr != nil {
		code := errs.CodeOf(perr)
		if code != errs.Invalid && code != errs.Conflict {
			return perr
		}
		d, err := u.adjudicateData(r, id, r.PostForm.Get("from"))
		if err != nil {
			return err
		}
		d.Error, d.Answer = errs.MessageOf(perr), answer
		d.From = r.PostForm.Get("from")
		status := http.StatusBadRequest
		if code == errs.Conflict {
			status = http.StatusConflict
		}
		return u.renderAdjudicate(w, r, status, d)
	}
	rs, err := svc.ForAdjudication(ctx, project, name)
	if err != nil {
		return err
	}
	base := annotateURL(project, name)
	if len(rs) == 0 {
		http.Redirect(w, r, base+"/adjudicate?done=1", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, base+"/adjudicate/"+strconv.FormatInt(rs[0].ID, 10)+"?done=1", http.StatusSeeOther)
	return nil
}
