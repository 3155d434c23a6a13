package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
)

// The annotation pages are the only ones with a script: annotate.js,
// hand-written, served from /static by this server. Their Content Security
// Policy is the pages' one plus script-src 'self' — no inline script, no
// inline style, nothing from elsewhere. Every other page stays script-free.

//go:embed static/annotate.js
var annotateJS []byte

var annotateJSVer = func() string {
	sum := sha256.Sum256(annotateJS)
	return hex.EncodeToString(sum[:6])
}()

// annotateCSP is the Content Security Policy of the annotation pages.
const annotateCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxAnswerBytes bounds an answer posted by the annotation form.
const maxAnswerBytes = 1 << 20

func (u *UI) annotateRoutes(tag string) []httpapi.Route {
	const one = "/projects/{project}/annotate/{name}"
	return []httpapi.Route{
		{Method: "GET", Pattern: "/static/annotate.js", Summary: "The annotation page's script", Tag: tag, Scope: httpapi.Public, Web: true, Handler: u.annotateScript},
		{Method: "GET", Pattern: "/projects/{project}/annotate", Summary: "The user's annotation projects and queue sizes (with progress for managers)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermAnnotationWrite, Web: true, Handler: u.annotateList},
		{Method: "GET", Pattern: one, Summary: "The next task of the user's annotation queue, with the labels, guidelines and model suggestions", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermAnnotationWrite, Web: true, Handler: u.annotatePage},
		{Method: "GET", Pattern: one + "/labels.css", Summary: "The label colours of an annotation project, as a stylesheet", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermAnnotationWrite, Web: true, Handler: u.annotateLabelsCSS},
		{Method: "POST", Pattern: one + "/submit", Summary: `Submit an answer to a task of one's queue (form: task, answer {"spans": [...]} or choice), then go to the next task`, Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermAnnotationWrite, Web: true, Handler: u.annotateSubmit},
		{Method: "POST", Pattern: one + "/skip", Summary: "Skip a task of one's queue (form: task, reason), then go to the next task", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermAnnotationWrite, Web: true, Handler: u.annotateSkip},
	}
}

// annotateScript serves annotate.js, cached like the stylesheet.
func (u *UI) annotateScript(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("ETag", `"`+annotateJSVer+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "annotate.js", time.Time{}, bytes.NewReader(annotateJS))
	return nil
}

// scriptPage lets a page load scripts from this server: it replaces the
// Content Security Policy render sets just before the header is written.
type scriptPage struct{ http.ResponseWriter }

func (s scriptPage) WriteHeader(code int) {
	s.Header().Set("Content-Security-Policy", annotateCSP)
	s.ResponseWriter.WriteHeader(code)
}

func (s scriptPage) Write(b []byte) (int, error) { return s.ResponseWriter.Write(b) }

func annotateURL(project, name string) string {
	return "/projects/" + url.PathEscape(project) + "/annotate/" + url.PathEscape(name)
}

func (u *UI) annotateService() (*annotate.Service, error) {
	if u.d.Annotate == nil {
		return nil, errs.NotFoundf("annotation is not enabled")
	}
	return u.d.Annotate, nil
}

// annotateRow is a line of the annotation projects page.
type annotateRow struct {
	annotate.Project
	URL      string
	Queue    int
	Progress *annotate.Progress // managers only
}

type annotateListData struct {
	Project string
	Rows    []annotateRow
	Manager bool
}

// annotateList lists the project's annotation projects with the size of
// the user's queue in each; managers see each project's progress too.
func (u *UI) annotateList(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.annotateService()
	if err != nil {
		return err
	}
	ctx := r.Context()
	project := r.PathValue("project")
	ps, err := svc.List(ctx, project)
	if err != nil {
		return err
	}
	d := annotateListData{Project: project, Manager: auth.FromContext(ctx).Can(project, auth.PermAnnotationManage)}
	for _, p := range ps {
		q, err := svc.Queue(ctx, project, p.Name)
		if err != nil {
			return err
		}
		row := annotateRow{Project: p, URL: annotateURL(project, p.Name), Queue: len(q)}
		if d.Manager {
			pr, err := svc.Progress(ctx, project, p.Name)
			if err != nil {
				return err
			}
			row.Progress = &pr
		}
		d.Rows = append(d.Rows, row)
	}
	return u.render(w, http.StatusOK, "annotate_list", u.newPage(r, "Annotation · "+project, "projects", d))
}

// annSeg is a run of a task's text: plain, an annotator's span (Span ≥ 0)
// or a model's suggestion (Sugg ≥ 0).
type annSeg struct {
	Text    string
	Start   int
	End     int
	Label   string
	Span    int
	Sugg    int
	Overlap bool
	Tail    bool // the run ends its span or suggestion: its label is shown
}

// annSuggestion is a model's suggestion, merged across models.
type annSuggestion struct {
	Start  int      `json:"start"`
	End    int      `json:"end"`
	Label  string   `json:"label"`
	Text   string   `json:"text"`
	Models []string `json:"models"`
}

// annChoiceSugg is a model's suggested choice.
type annChoiceSugg struct {
	Label  string   `json:"label"`
	Models []string `json:"models"`
}

// annLegend is a label of the legend, with its choice number.
type annLegend struct {
	annotate.Label
	N       int // 1-based
	Checked bool
}

// annClient is what annotate.js reads from the page's JSON data block.
type annClient struct {
	Kind        string           `json:"kind"`
	Text        string           `json:"text"`
	Labels      []annotate.Label `json:"labels"`
	Spans       []annotate.Span  `json:"spans"`
	Suggestions []annSuggestion  `json:"suggestions"`
	Choices     []annChoiceSugg  `json:"choice_suggestions"`
}

type annotateData struct {
	Project    string
	Ann        annotate.Project
	URL        string
	CSSURL     string
	JSVersion  string
	Flash      string
	Error      string
	ErrorFor   string // submit or skip
	Empty      bool   // the queue is empty
	Left       int    // tasks left in the queue, this one included
	Task       annotate.QueueTask
	Span       bool
	Multi      bool
	Row        [][2]string
	Segments   []annSeg
	Legend     []annLegend
	Sugg       []annSuggestion
	ChoiceSugg []annChoiceSugg
	Answer     string // the answer's JSON (spans), kept on failure
	Reason     string
	Guidelines []string // paragraphs, shown as text
	Client     annClient
}

var annotateFlashes = map[string]string{
	"submitted": "Your answer was saved.",
	"skipped":   "The task was skipped; your reason is recorded.",
}

// annotatePage shows the next task of the user's queue.
func (u *UI) annotatePage(w http.ResponseWriter, r *http.Request) error {
	d, err := u.annotateData(r.Context(), r.PathValue("project"), r.PathValue("name"), 0)
	if err != nil {
		return err
	}
	d.Flash = annotateFlashes[r.URL.Query().Get("done")]
	return u.renderAnnotate(w, r, http.StatusOK, d)
}

func (u *UI) renderAnnotate(w http.ResponseWriter, r *http.Request, status int, d *annotateData) error {
	title := d.Ann.Name + " · annotation · " + d.Project
	return u.render(scriptPage{w}, status, "annotate", u.newPage(r, title, "projects", d))
}

// annotateData loads the page of task taskID of the user's queue, or of the
// first task when taskID is 0. A task outside the queue is not found.
func (u *UI) annotateData(ctx context.Context, project, name string, taskID int64) (*annotateData, error) {
	svc, err := u.annotateService()
	if err != nil {
		return nil, err
	}
	p, err := svc.Get(ctx, project, name)
	if err != nil {
		return nil, err
	}
	q, err := svc.Queue(ctx, project, name)
	if err != nil {
		return nil, err
	}
	base := annotateURL(project, name)
	d := &annotateData{Project: project, Ann: p, URL: base, JSVersion: annotateJSVer,
		CSSURL: base + "/labels.css?v=" + labelsVersion(p.Labels), Span: p.Kind == annotate.KindSpan, Multi: p.Kind == annotate.KindMultiLabel,
		Guidelines: paragraphs(p.Guidelines), Left: len(q)}
	for i, l := range p.Labels {
		d.Legend = append(d.Legend, annLegend{Label: l, N: i + 1})
	}
	if len(q) == 0 {
		if taskID != 0 {
			return nil, errs.NotFoundf("task %d is not in your queue", taskID)
		}
		d.Empty = true
		return d, nil
	}
	i := 0
	if taskID != 0 {
		i = slices.IndexFunc(q, func(t annotate.QueueTask) bool { return t.ID == taskID })
		if i < 0 {
			return nil, errs.NotFoundf("task %d is not in your queue", taskID)
		}
	}
	d.Task = q[i]
	if d.Task.Data.Row != nil {
		keys := make([]string, 0, len(d.Task.Data.Row))
		for k := range d.Task.Data.Row {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.Row = append(d.Row, [2]string{k, anyValue(d.Task.Data.Row[k])})
		}
	}
	d.Sugg, d.ChoiceSugg = suggestions(d.Task)
	d.Client = annClient{Kind: p.Kind, Text: d.Task.Data.Text, Labels: p.Labels, Spans: []annotate.Span{}, Suggestions: d.Sugg, Choices: d.ChoiceSugg}
	if d.Client.Suggestions == nil {
		d.Client.Suggestions = []annSuggestion{}
	}
	if d.Client.Choices == nil {
		d.Client.Choices = []annChoiceSugg{}
	}
	d.Answer = `{"spans":[]}`
	d.Segments = segments(d.Task.Data.Text, nil, d.Sugg)
	return d, nil
}

// keepSpans puts a refused answer's spans back on the page.
func (d *annotateData) keepSpans(answer string, spans []annotate.Span) {
	d.Answer = answer
	if spans != nil {
		d.Client.Spans = spans
		d.Segments = segments(d.Task.Data.Text, spans, d.Sugg)
	}
}

// suggestions merges the models' suggestions: the same span (or choice)
// suggested by several models appears once, naming them all.
func suggestions(t annotate.QueueTask) ([]annSuggestion, []annChoiceSugg) {
	var spans []annSuggestion
	var choices []annChoiceSugg
	runes := []rune(t.Data.Text)
	for _, p := range t.Predictions {
		for _, s := range p.Result.Spans {
			if s.Start < 0 || s.End > len(runes) || s.Start >= s.End {
				continue
			}
			i := slices.IndexFunc(spans, func(x annSuggestion) bool { return x.Start == s.Start && x.End == s.End && x.Label == s.Label })
			if i < 0 {
				spans = append(spans, annSuggestion{Start: s.Start, End: s.End, Label: s.Label, Text: string(runes[s.Start:s.End])})
				i = len(spans) - 1
			}
			if !slices.Contains(spans[i].Models, p.Model) {
				spans[i].Models = append(spans[i].Models, p.Model)
			}
		}
		for _, c := range p.Result.Choices {
			i := slices.IndexFunc(choices, func(x annChoiceSugg) bool { return x.Label == c })
			if i < 0 {
				choices = append(choices, annChoiceSugg{Label: c})
				i = len(choices) - 1
			}
			if !slices.Contains(choices[i].Models, p.Model) {
				choices[i].Models = append(choices[i].Models, p.Model)
			}
		}
	}
	slices.SortStableFunc(spans, func(a, b annSuggestion) int { return a.Start - b.Start })
	return spans, choices
}

// segments cuts text at every span and suggestion boundary (code points).
// A run covered by one of the annotator's spans shows that span (the first
// one; Overlap when several cover it); otherwise by a suggestion, the
// suggestion. annotate.js renders the same way.
func segments(text string, spans []annotate.Span, sugg []annSuggestion) []annSeg {
	runes := []rune(text)
	n := len(runes)
	cuts := map[int]bool{0: true, n: true}
	clamp := func(x int) int { return max(0, min(n, x)) }
	for _, s := range spans {
		cuts[clamp(s.Start)], cuts[clamp(s.End)] = true, true
	}
	for _, s := range sugg {
		cuts[clamp(s.Start)], cuts[clamp(s.End)] = true, true
	}
	bounds := make([]int, 0, len(cuts))
	for c := range cuts {
		bounds = append(bounds, c)
	}
	sort.Ints(bounds)
	var out []annSeg
	for i := 0; i+1 < len(bounds); i++ {
		a, b := bounds[i], bounds[i+1]
		seg := annSeg{Text: string(runes[a:b]), Start: a, End: b, Span: -1, Sugg: -1}
		for j, s := range spans {
			if s.Start <= a && b <= s.End {
				if seg.Span < 0 {
					seg.Span, seg.Label, seg.Tail = j, s.Label, b == s.End
				} else {
					seg.Overlap = true
				}
			}
		}
		if seg.Span < 0 {
			for j, s := range sugg {
				if s.Start <= a && b <= s.End {
					seg.Sugg, seg.Label, seg.Tail = j, s.Label, b == s.End
					break
				}
			}
		}
		out = append(out, seg)
	}
	return out
}

// paragraphs splits Markdown guidelines into paragraphs shown as plain
// text: no HTML of theirs ever reaches the page.
func paragraphs(md string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// labelsVersion versions labels.css by the schema.
func labelsVersion(ls []annotate.Label) string {
	b, _ := json.Marshal(ls)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

var cssColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// cssString quotes s as a CSS string, escaping everything but letters,
// digits, '-' and '_'.
func cssString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\%x ", r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// annotateLabelsCSS serves one rule per label colour: the spans and legend
// swatches select their label with data-label, so no inline style is
// needed (the Content Security Policy forbids them).
func (u *UI) annotateLabelsCSS(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.annotateService()
	if err != nil {
		return err
	}
	p, err := svc.Get(r.Context(), r.PathValue("project"), r.PathValue("name"))
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "/* label colours of %s */\n", cssString(p.Name))
	for _, l := range p.Labels {
		if !cssColor.MatchString(l.Color) {
			continue
		}
		sel := "[data-label=" + cssString(l.Name) + "]"
		fmt.Fprintf(&b, ".ann-text mark.ann%s { background: %s40; border-bottom-color: %s; }\n", sel, l.Color, l.Color)
		fmt.Fprintf(&b, ".ann-text mark.sugg%s { outline-color: %s; }\n", sel, l.Color)
		fmt.Fprintf(&b, ".ann-swatch%s { background: %s; }\n", sel, l.Color)
	}
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(b.Bytes())
	return err
}

// postedTask reads the task id of an annotation form.
func postedTask(w http.ResponseWriter, r *http.Request) (int64, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAnswerBytes+64<<10)
	if err := postForm(r); err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(r.PostForm.Get("task"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errs.Invalidf("the form names no task")
	}
	return id, nil
}

// parseAnswer reads a posted span answer: {"spans": [...]} or a bare list.
func parseAnswer(s string) ([]annotate.Span, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return []annotate.Span{}, nil
	}
	if len(s) > maxAnswerBytes {
		return nil, errs.Invalidf("the answer is too long")
	}
	var res annotate.Result
	if strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &res.Spans); err != nil {
			return nil, errs.Invalidf("the answer is not valid JSON: %v", err)
		}
	} else if err := json.Unmarshal([]byte(s), &res); err != nil {
		return nil, errs.Invalidf(`the answer is not valid JSON (want {"spans": [{"start", "end", "label"}]}): %v`, err)
	}
	if res.Spans == nil {
		res.Spans = []annotate.Span{}
	}
	return res.Spans, nil
}

// annotateSubmit records the user's answer, then goes to the next task.
// A refused answer re-renders the task with the message, the answer kept.
func (u *UI) annotateSubmit(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.annotateService()
	if err != nil {
		return err
	}
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	id, err := postedTask(w, r)
	if err != nil {
		return err
	}
	p, err := svc.Get(ctx, project, name)
	if err != nil {
		return err
	}
	answer := r.PostForm.Get("answer")
	var res annotate.Result
	var spans []annotate.Span
	var perr error
	if p.Kind == annotate.KindSpan {
		spans, perr = parseAnswer(answer)
		res.Spans = slices.Clone(spans)
	} else {
		res.Choices = r.PostForm["choice"]
	}
	if perr == nil {
		perr = svc.Submit(ctx, project, name, id, res)
	}
	if perr != nil {
		if code := errs.CodeOf(perr); code != errs.Invalid {
			return perr
		}
		d, err := u.annotateData(ctx, project, name, id)
		if err != nil {
			return err
		}
		d.Error, d.ErrorFor = errs.MessageOf(perr), "submit"
		if d.Span {
			d.keepSpans(answer, spans)
		} else {
			for i := range d.Legend {
				d.Legend[i].Checked = slices.Contains(res.Choices, d.Legend[i].Name)
			}
		}
		return u.renderAnnotate(w, r, http.StatusBadRequest, d)
	}
	http.Redirect(w, r, annotateURL(project, name)+"?done=submitted", http.StatusSeeOther)
	return nil
}

// annotateSkip records that the user skipped a task, with a reason.
func (u *UI) annotateSkip(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.annotateService()
	if err != nil {
		return err
	}
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	id, err := postedTask(w, r)
	if err != nil {
		return err
	}
	reason := r.PostForm.Get("reason")
	if len(reason) > maxFormText {
		return errs.Invalidf("the reason is too long")
	}
	if err := svc.Skip(ctx, project, name, id, strings.TrimSpace(reason)); err != nil {
		if errs.CodeOf(err) != errs.Invalid {
			return err
		}
		d, derr := u.annotateData(ctx, project, name, id)
		if derr != nil {
			return derr
		}
		d.Error, d.ErrorFor, d.Reason = errs.MessageOf(err), "skip", reason
		return u.renderAnnotate(w, r, http.StatusBadRequest, d)
	}
	http.Redirect(w, r, annotateURL(project, name)+"?done=skipped", http.StatusSeeOther)
	return nil
}
