package web_test

import (
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/web"
)

// pageCSP is the Content Security Policy of every page but the annotation
// ones; annotateCSP adds script-src 'self' and nothing else.
const (
	pageCSP     = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	annotateCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// annotEnv is the test env with the annotation service, and two annotators
// in sepsis: anna and bruno (alice, a scientist, manages and is an
// annotator too).
type annotEnv struct {
	*env
	svc *annotate.Service
}

func newAnnotEnv(t *testing.T) annotEnv {
	t.Helper()
	// The UI takes the service at construction, before the env's database
	// exists outside newEnv: fill the pointer right after.
	svc := new(annotate.Service)
	e := newEnv(t, func(d *web.Deps) { d.Annotate = svc })
	*svc = *annotate.NewService(e.db, e.audit, e.datasets)
	admin := e.as("admin")
	for _, u := range []string{"anna", "bruno"} {
		if _, err := e.auth.CreateUser(admin, u, "", password, false); err != nil {
			t.Fatal(err)
		}
		if err := e.auth.Grant(admin, "sepsis", u, auth.RoleAnnotator); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.auth.Grant(admin, "sepsis", "alice", auth.RoleAnnotator); err != nil {
		t.Fatal(err)
	}
	return annotEnv{env: e, svc: svc}
}

// deidLabel returns the de-identification label named name.
func deidLabel(t *testing.T, name string) annotate.Label {
	t.Helper()
	for _, l := range annotate.DeidSchema() {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no label %s", name)
	return annotate.Label{}
}

// spanProject creates a span project on the de-identification labels with
// the texts as tasks (each with a suggestion of the de-identifier on its
// first word), assigned to annotators with overlap 1.
func (e annotEnv) spanProject(name, guidelines string, texts []string, annotators ...string) {
	t := e.t
	t.Helper()
	ctx := e.as("alice")
	if _, err := e.svc.Create(ctx, annotate.Project{Project: "sepsis", Name: name, Kind: annotate.KindSpan, Labels: annotate.DeidSchema(), Guidelines: guidelines, Overlap: 1}); err != nil {
		t.Fatal(err)
	}
	var tasks []annotate.NewTask
	for i, txt := range texts {
		w := strings.IndexFunc(txt, func(r rune) bool { return r == ' ' || r == ',' })
		tasks = append(tasks, annotate.NewTask{Ref: "doc-" + string(rune('a'+i)), Source: "jsonl", Data: annotate.TaskData{Text: txt},
			Predictions: []annotate.Prediction{{Model: "hygie-deid", Result: annotate.Result{Spans: []annotate.Span{{Start: 0, End: utf8.RuneCountInString(txt[:w]), Label: "HOPITAL"}}}}}})
	}
	if _, err := e.svc.AddTasks(ctx, "sepsis", name, tasks); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Assign(ctx, "sepsis", name, annotators); err != nil {
		t.Fatal(err)
	}
}

// queue is user's queue in project name.
func (e annotEnv) queue(user, name string) []annotate.QueueTask {
	e.t.Helper()
	q, err := e.svc.Queue(e.as(user), "sepsis", name)
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

// answers returns the stored answers of task id (through adjudication, as
// the clinician-validator carla).
func (e annotEnv) answers(name string, id int64) []annotate.Annotation {
	e.t.Helper()
	rs, err := e.svc.ForAdjudication(e.as("carla"), "sepsis", name)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rs {
		if r.ID == id {
			return r.Annotations
		}
	}
	return nil
}

var annotTexts = []string{
	"Hopital Nord, patient Jean Dupont vu le 12/03/2024.",
	"Clinique Sud, Mme Claire Moreau, née en 1950.",
	"CHU Est, M. Paul Girardin adressé par son médecin.",
	"Centre Ouest, Lucie Perrin, sortie le 02/04/2024.",
}

func TestAnnotatePagesShowOnlyAssignedTasks(t *testing.T) {
	e := newAnnotEnv(t)
	e.spanProject("notes", "Mark every name.\n\nDo not mark <script>alert(1)</script> drugs.", annotTexts, "anna", "bruno")
	anna, bruno := e.queue("anna", "notes"), e.queue("bruno", "notes")
	if len(anna) != 2 || len(bruno) != 2 {
		t.Fatalf("queues: anna %d, bruno %d", len(anna), len(bruno))
	}
	ca := e.session("anna")

	r := e.get("/projects/sepsis/annotate", ca)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `data-annotation="notes"`) || !strings.Contains(r.Body, `data-queue="2"`) {
		t.Fatalf("annotation projects: %d\n%s", r.StatusCode, r.Body)
	}
	if strings.Contains(r.Body, "Adjudicated") {
		t.Errorf("an annotator sees the project's progress")
	}
	if got := r.Header.Get("Content-Security-Policy"); got != pageCSP {
		t.Errorf("annotation projects page CSP %q: it loads no script", got)
	}
	if got := e.get("/projects/sepsis/annotate", e.session("alice")); got.StatusCode != 200 || !strings.Contains(got.Body, "Adjudicated") || !strings.Contains(got.Body, "anna 0/2") {
		t.Errorf("a manager's view lacks the progress: %d", got.StatusCode)
	}

	r = e.get("/projects/sepsis/annotate/notes", ca)
	if r.StatusCode != 200 {
		t.Fatalf("annotate page: %d\n%s", r.StatusCode, r.Body)
	}
	if got := r.Header.Get("Content-Security-Policy"); got != annotateCSP {
		t.Errorf("annotate page CSP %q", got)
	}
	first := anna[0]
	if !strings.Contains(r.Body, `data-task="`+itoa(first.ID)+`"`) || !strings.Contains(r.Body, template.HTMLEscapeString(first.Data.Text[:12])) {
		t.Errorf("the page does not show anna's first task %d", first.ID)
	}
	for _, other := range bruno {
		if strings.Contains(r.Body, template.HTMLEscapeString(other.Data.Text[:12])) {
			t.Errorf("anna sees bruno's task %q", other.Data.Text)
		}
	}
	// The de-identifier's suggestion is shown, never as anna's answer.
	if !strings.Contains(r.Body, `<mark class="sugg tail"`) || !strings.Contains(r.Body, `id="suggestions"`) {
		t.Errorf("no suggestion shown")
	}
	if !strings.Contains(r.Body, `id="answer" value="{&#34;spans&#34;:[]}"`) {
		t.Errorf("the answer is not empty at first")
	}
	// Guidelines are text, never HTML.
	if strings.Contains(r.Body, "<script>alert") || !strings.Contains(r.Body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("guidelines not escaped")
	}
	if !strings.Contains(r.Body, `<script src="/static/annotate.js?v=`) || !strings.Contains(r.Body, `<link rel="stylesheet" href="/projects/sepsis/annotate/notes/labels.css?v=`) {
		t.Errorf("script or label stylesheet not linked")
	}
	// Other pages keep their script-free policy.
	if got := e.get("/projects/sepsis", ca).Header.Get("Content-Security-Policy"); got != pageCSP {
		t.Errorf("project page CSP changed: %q", got)
	}

	css := e.get("/projects/sepsis/annotate/notes/labels.css", ca)
	nom := deidLabel(t, "NOM")
	if css.StatusCode != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") || !strings.Contains(css.Body, `mark.ann[data-label="NOM"] { background: `+nom.Color) {
		t.Errorf("labels.css: %d %q\n%s", css.StatusCode, css.Header.Get("Content-Type"), css.Body)
	}
	js := e.get("/static/annotate.js", nil)
	if js.StatusCode != 200 || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(js.Body, "getSelection") {
		t.Errorf("annotate.js: %d %q", js.StatusCode, js.Header.Get("Content-Type"))
	}

	// Bruno may not answer anna's task, nor see it; a viewer and an
	// outsider get no annotation page.
	r = e.do("POST", "/projects/sepsis/annotate/notes/submit", url.Values{"task": {itoa(first.ID)}, "answer": {`{"spans":[]}`}}, e.session("bruno"), "")
	if r.StatusCode != 403 {
		t.Errorf("bruno submits anna's task: %d", r.StatusCode)
	}
	if r := e.get("/projects/sepsis/annotate/notes", e.session("bruno")); strings.Contains(r.Body, template.HTMLEscapeString(first.Data.Text[:12])) {
		t.Errorf("bruno sees anna's task")
	}
	for _, u := range []string{"victor", "nora", "carla"} {
		if r := e.get("/projects/sepsis/annotate/notes", e.session(u)); r.StatusCode != 403 {
			t.Errorf("%s: annotate page %d, want 403", u, r.StatusCode)
		}
	}
	if r := e.get("/projects/sepsis/annotate/nope", ca); r.StatusCode != 404 {
		t.Errorf("unknown annotation project: %d", r.StatusCode)
	}
}

func TestAnnotateSubmitSkipAndErrors(t *testing.T) {
	e := newAnnotEnv(t)
	e.spanProject("notes", "", annotTexts[:2], "anna")
	q := e.queue("anna", "notes")
	ca := e.session("anna")
	post := func(path string, form url.Values) response {
		t.Helper()
		return e.do("POST", "/projects/sepsis/annotate/notes/"+path, form, ca, "")
	}
	id := itoa(q[0].ID)

	// Overlapping spans: refused, the message shown, the answer kept.
	bad := `{"spans":[{"start":22,"end":26,"label":"PRENOM"},{"start":24,"end":33,"label":"NOM"}]}`
	r := post("submit", url.Values{"task": {id}, "answer": {bad}})
	if r.StatusCode != 400 || !strings.Contains(r.Body, `id="form-error"`) || !strings.Contains(r.Body, "overlap") {
		t.Fatalf("overlapping spans: %d\n%s", r.StatusCode, r.Body)
	}
	if !strings.Contains(r.Body, template.HTMLEscapeString(bad)) || !strings.Contains(r.Body, `class="ann overlap`) {
		t.Errorf("the refused answer is not kept")
	}
	if r.Header.Get("Content-Security-Policy") != annotateCSP {
		t.Errorf("error page CSP %q", r.Header.Get("Content-Security-Policy"))
	}
	if r := post("submit", url.Values{"task": {id}, "answer": {"{not json"}}); r.StatusCode != 400 || !strings.Contains(r.Body, "not valid JSON") {
		t.Errorf("bad JSON: %d", r.StatusCode)
	}

	// Skipping needs a reason.
	r = post("skip", url.Values{"task": {id}, "reason": {"  "}})
	if r.StatusCode != 400 || !strings.Contains(r.Body, "needs a reason") || !strings.Contains(r.Body, `<details class="card ann-skip" id="skip" open>`) {
		t.Errorf("skip without a reason: %d", r.StatusCode)
	}
	if len(e.queue("anna", "notes")) != 2 {
		t.Fatalf("a refused form changed the queue")
	}

	// A good answer (the textarea fallback's bare list works too) goes to
	// the next task.
	good := `[{"start":22,"end":26,"label":"PRENOM"},{"start":27,"end":33,"label":"NOM"}]`
	r = post("submit", url.Values{"task": {id}, "answer": {good}})
	if r.StatusCode != 303 || r.Header.Get("Location") != "/projects/sepsis/annotate/notes?done=submitted" {
		t.Fatalf("submit: %d → %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	got := e.answers("notes", q[0].ID)
	if len(got) != 1 || got[0].Annotator != "anna" || len(got[0].Result.Spans) != 2 || got[0].Result.Spans[0].Text != "Jean" || got[0].Result.Spans[1].Text != "Dupont" {
		t.Fatalf("stored answer %+v", got)
	}
	r = e.get("/projects/sepsis/annotate/notes?done=submitted", ca)
	if !strings.Contains(r.Body, `id="flash"`) || !strings.Contains(r.Body, `data-task="`+itoa(q[1].ID)+`"`) {
		t.Errorf("the next task is not shown")
	}

	// Skipping with a reason; then the queue is empty.
	r = post("skip", url.Values{"task": {itoa(q[1].ID)}, "reason": {"text in Breton"}})
	if r.StatusCode != 303 || !strings.HasSuffix(r.Header.Get("Location"), "?done=skipped") {
		t.Fatalf("skip: %d", r.StatusCode)
	}
	if a := e.answers("notes", q[1].ID); len(a) != 1 || !a[0].Skipped || a[0].SkipReason != "text in Breton" {
		t.Errorf("skip stored as %+v", a)
	}
	r = e.get("/projects/sepsis/annotate/notes", ca)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `id="queue-empty"`) {
		t.Errorf("empty queue: %d", r.StatusCode)
	}
	// A task no longer in the queue cannot be answered again here.
	if r := post("submit", url.Values{"task": {id}, "answer": {bad}}); r.StatusCode != 404 {
		t.Errorf("answer to a finished task with an error: %d", r.StatusCode)
	}
}

func TestAnnotateClassification(t *testing.T) {
	e := newAnnotEnv(t)
	ctx := e.as("alice")
	labels := []annotate.Label{{Name: "sepsis", Color: "#e6194b", Shortcut: "1"}, {Name: "no_sepsis", Color: "#3cb44b", Shortcut: "2"}}
	if _, err := e.svc.Create(ctx, annotate.Project{Project: "sepsis", Name: "triage", Kind: annotate.KindClassification, Labels: labels, Overlap: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddTasks(ctx, "sepsis", "triage", []annotate.NewTask{{Ref: "n1", Data: annotate.TaskData{Text: "Fièvre, lactates à 4."},
		Predictions: []annotate.Prediction{{Model: "sepsis-risk", Result: annotate.Result{Choices: []string{"sepsis"}}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Assign(ctx, "sepsis", "triage", []string{"anna"}); err != nil {
		t.Fatal(err)
	}
	ca := e.session("anna")
	r := e.get("/projects/sepsis/annotate/triage", ca)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `type="radio" name="choice" value="sepsis" data-n="1">`) || !strings.Contains(r.Body, `data-choice="sepsis"`) {
		t.Fatalf("classification page: %d\n%s", r.StatusCode, r.Body)
	}
	id := e.queue("anna", "triage")[0].ID
	r = e.do("POST", "/projects/sepsis/annotate/triage/submit", url.Values{"task": {itoa(id)}}, ca, "")
	if r.StatusCode != 400 || !strings.Contains(r.Body, "exactly one choice") {
		t.Errorf("no choice: %d", r.StatusCode)
	}
	r = e.do("POST", "/projects/sepsis/annotate/triage/submit", url.Values{"task": {itoa(id)}, "choice": {"no_sepsis"}}, ca, "")
	if r.StatusCode != 303 {
		t.Fatalf("submit: %d", r.StatusCode)
	}
	if a := e.answers("triage", id); len(a) != 1 || !slices.Equal(a[0].Result.Choices, []string{"no_sepsis"}) {
		t.Errorf("stored %+v", a)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
