package web_test

import (
	"html/template"
	"net/url"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/annotate"
)

// reviewProject creates annotation project name of kind with the texts as
// tasks, each assigned to both anna and bruno (overlap 2), and records
// their answers: answers[i] = {anna's, bruno's} for task i (nil: none).
func (e annotEnv) reviewProject(name, kind string, labels []annotate.Label, texts []string, answers [][2]*annotate.Result) []annotate.QueueTask {
	t := e.t
	t.Helper()
	ctx := e.as("alice")
	if _, err := e.svc.Create(ctx, annotate.Project{Project: "sepsis", Name: name, Kind: kind, Labels: labels, Overlap: 2}); err != nil {
		t.Fatal(err)
	}
	var tasks []annotate.NewTask
	for i, txt := range texts {
		tasks = append(tasks, annotate.NewTask{Ref: "doc-" + string(rune('a'+i)), Source: "jsonl", Data: annotate.TaskData{Text: txt}})
	}
	if _, err := e.svc.AddTasks(ctx, "sepsis", name, tasks); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Assign(ctx, "sepsis", name, []string{"anna", "bruno"}); err != nil {
		t.Fatal(err)
	}
	q := e.queue("anna", name)
	if len(q) != len(texts) || len(e.queue("bruno", name)) != len(texts) {
		t.Fatalf("queues of %d and %d tasks", len(q), len(e.queue("bruno", name)))
	}
	for i, a := range answers {
		for j, user := range []string{"anna", "bruno"} {
			if a[j] != nil {
				if err := e.svc.Submit(e.as(user), "sepsis", name, q[i].ID, *a[j]); err != nil {
					t.Fatalf("%s on task %d: %v", user, i, err)
				}
			}
		}
	}
	return q
}

func spans(ss ...annotate.Span) *annotate.Result { return &annotate.Result{Spans: ss} }

func choice(c string) *annotate.Result { return &annotate.Result{Choices: []string{c}} }

// gold returns the gold answer of task id, or nil.
func (e annotEnv) gold(name string, id int64) *annotate.Gold {
	e.t.Helper()
	_, rs, err := e.svc.Reviews(e.as("alice"), "sepsis", name)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rs {
		if r.ID == id {
			return r.Gold
		}
	}
	e.t.Fatalf("no task %d", id)
	return nil
}

// spanReviewEnv is a span project where anna and bruno disagree on the
// first task (first and last name, or one name) and agree on the others.
func spanReviewEnv(t *testing.T) (annotEnv, []annotate.QueueTask) {
	e := newAnnotEnv(t)
	jean, dupont := annotate.Span{Start: 22, End: 26, Label: "PRENOM"}, annotate.Span{Start: 27, End: 33, Label: "NOM"}
	claire := annotate.Span{Start: 18, End: 24, Label: "PRENOM"}
	q := e.reviewProject("review", annotate.KindSpan, annotate.DeidSchema(), annotTexts[:3], [][2]*annotate.Result{
		{spans(jean, dupont), spans(annotate.Span{Start: 22, End: 33, Label: "NOM"})},
		{spans(claire), spans(claire)},
		{spans(), spans()},
	})
	return e, q
}

func TestAgreementAndAdjudicationPermissions(t *testing.T) {
	e, q := spanReviewEnv(t)
	base := "/projects/sepsis/annotate/review"
	task := base + "/adjudicate/" + itoa(q[0].ID)
	// Annotators see neither the figures nor the others' answers.
	for _, u := range []string{"anna", "bruno", "victor", "nora"} {
		c := e.session(u)
		for _, p := range []string{base + "/agreement", base + "/adjudicate", task} {
			if r := e.get(p, c); r.StatusCode != 403 {
				t.Errorf("%s: GET %s: %d, want 403", u, p, r.StatusCode)
			}
		}
		if r := e.do("POST", task, url.Values{"answer": {`{"spans":[]}`}}, c, ""); r.StatusCode != 403 {
			t.Errorf("%s: POST %s: %d, want 403", u, task, r.StatusCode)
		}
	}
	if e.gold("review", q[0].ID) != nil {
		t.Fatal("a refused adjudication stored a gold answer")
	}
	// The clinician-validator adjudicates but does not read the agreement
	// report (annotation.manage); the scientist reads it but does not
	// adjudicate.
	if r := e.get(base+"/agreement", e.session("carla")); r.StatusCode != 403 {
		t.Errorf("carla: agreement %d, want 403", r.StatusCode)
	}
	if r := e.get(base+"/adjudicate", e.session("alice")); r.StatusCode != 403 {
		t.Errorf("alice: adjudication %d, want 403", r.StatusCode)
	}
}

func TestAgreementPageSpans(t *testing.T) {
	e, q := spanReviewEnv(t)
	r := e.get("/projects/sepsis/annotate/review/agreement", e.session("admin"))
	if r.StatusCode != 200 || r.Header.Get("Content-Security-Policy") != pageCSP {
		t.Fatalf("agreement: %d %q\n%s", r.StatusCode, r.Header.Get("Content-Security-Policy"), r.Body)
	}
	for _, want := range []string{`id="matrix-exact"`, `id="matrix-overlap"`, "Unitizing alpha", `id="agreement-warnings"`, "fewer than 30", `id="disagreed"`,
		`data-task="` + itoa(q[0].ID) + `"`, `href="/projects/sepsis/annotate/review/adjudicate/` + itoa(q[0].ID) + `"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("agreement page lacks %s", want)
		}
	}
	if strings.Contains(r.Body, `data-task="`+itoa(q[1].ID)+`"`) {
		t.Errorf("a task both annotators agree on is listed as disagreed")
	}
	if strings.Contains(r.Body, "style=") || strings.Contains(r.Body, "<script") {
		t.Errorf("inline style or script")
	}
}

func TestAgreementPageKappa(t *testing.T) {
	e := newAnnotEnv(t)
	labels := []annotate.Label{{Name: "sepsis", Color: "#e6194b"}, {Name: "no_sepsis", Color: "#3cb44b"}}
	q := e.reviewProject("triage", annotate.KindClassification, labels, []string{"a", "b", "c", "d"}, [][2]*annotate.Result{
		{choice("sepsis"), choice("sepsis")}, {choice("no_sepsis"), choice("no_sepsis")}, {choice("sepsis"), choice("no_sepsis")}, {choice("no_sepsis"), choice("no_sepsis")},
	})
	rep, err := e.svc.Agreement(e.as("alice"), "sepsis", "triage")
	if err != nil {
		t.Fatal(err)
	}
	r := e.get("/projects/sepsis/annotate/triage/agreement", e.session("alice"))
	if r.StatusCode != 200 {
		t.Fatalf("agreement: %d\n%s", r.StatusCode, r.Body)
	}
	kappa := rep.Pairs[0].Kappa.String()
	for _, want := range []string{`id="matrix-kappa"`, ">" + kappa + "<", "Fleiss", "Krippendorff", `data-task="` + itoa(q[2].ID) + `"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("agreement page lacks %s", want)
		}
	}
	// alice manages but does not adjudicate: no adjudication link.
	if strings.Contains(r.Body, "/adjudicate/") {
		t.Errorf("adjudication links shown to a non-adjudicator")
	}
	// The annotation list links managers to the report.
	if r := e.get("/projects/sepsis/annotate", e.session("alice")); !strings.Contains(r.Body, `href="/projects/sepsis/annotate/triage/agreement"`) {
		t.Errorf("no agreement link on the list page")
	}
	if r := e.get("/projects/sepsis/annotate", e.session("anna")); strings.Contains(r.Body, "/agreement") || strings.Contains(r.Body, "/adjudicate") {
		t.Errorf("review links shown to an annotator")
	}
}

func TestAdjudicatePickEditConflict(t *testing.T) {
	e, q := spanReviewEnv(t)
	c := e.session("carla")
	base := "/projects/sepsis/annotate/review/adjudicate"
	task := base + "/" + itoa(q[0].ID)

	r := e.get(base, c)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `data-task="`+itoa(q[0].ID)+`"`) || !strings.Contains(r.Body, `data-task="`+itoa(q[2].ID)+`"`) {
		t.Fatalf("queue: %d\n%s", r.StatusCode, r.Body)
	}
	r = e.get(task+"?from=bruno", c)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `data-annotator="anna"`) || !strings.Contains(r.Body, `data-annotator="bruno"`) || !strings.Contains(r.Body, "Take anna's answer") {
		t.Fatalf("task page: %d\n%s", r.StatusCode, r.Body)
	}
	bruno := `{"spans":[{"start":22,"end":33,"label":"NOM"}]}`
	if !strings.Contains(r.Body, template.HTMLEscapeString(bruno)) {
		t.Errorf("the gold field is not prefilled with bruno's answer")
	}

	// An edited answer with overlapping spans: refused, message, input kept.
	bad := `{"spans":[{"start":22,"end":26,"label":"PRENOM"},{"start":24,"end":33,"label":"NOM"}]}`
	r = e.do("POST", task, url.Values{"answer": {bad}, "from": {"anna"}}, c, "")
	if r.StatusCode != 400 || !strings.Contains(r.Body, `id="form-error"`) || !strings.Contains(r.Body, "overlap") || !strings.Contains(r.Body, template.HTMLEscapeString(bad)) {
		t.Fatalf("overlapping gold: %d\n%s", r.StatusCode, r.Body)
	}
	if r := e.do("POST", task, url.Values{"answer": {"{nope"}}, c, ""); r.StatusCode != 400 || !strings.Contains(r.Body, "not valid JSON") {
		t.Errorf("bad JSON: %d", r.StatusCode)
	}
	if e.gold("review", q[0].ID) != nil {
		t.Fatal("a refused gold answer was stored")
	}

	// Take anna's answer: stored as gold, on to the next task.
	anna := `{"spans":[{"start":22,"end":26,"label":"PRENOM"},{"start":27,"end":33,"label":"NOM"}]}`
	r = e.do("POST", task, url.Values{"answer": {anna}, "from": {"anna"}}, c, "")
	if r.StatusCode != 303 || r.Header.Get("Location") != base+"/"+itoa(q[1].ID)+"?done=1" {
		t.Fatalf("adjudicate: %d → %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	g := e.gold("review", q[0].ID)
	if g == nil || g.Adjudicator != "carla" || len(g.Result.Spans) != 2 || g.Result.Spans[0].Text != "Jean" || g.Result.Spans[1].Text != "Dupont" {
		t.Fatalf("gold %+v", g)
	}
	if r := e.get(r.Header.Get("Location"), c); r.StatusCode != 200 || !strings.Contains(r.Body, `id="flash"`) {
		t.Errorf("next task: %d", r.StatusCode)
	}

	// Twice: a conflict, with the message; the first gold stays.
	other := `{"spans":[{"start":22,"end":33,"label":"NOM"}]}`
	r = e.do("POST", task, url.Values{"answer": {other}}, c, "")
	if r.StatusCode != 409 || !strings.Contains(r.Body, "already adjudicated") || !strings.Contains(r.Body, template.HTMLEscapeString(other)) {
		t.Fatalf("second adjudication: %d\n%s", r.StatusCode, r.Body)
	}
	if g2 := e.gold("review", q[0].ID); g2 == nil || len(g2.Result.Spans) != 2 {
		t.Fatalf("the gold changed: %+v", g2)
	}
	// An annotator's stale submission is refused too.
	if err := e.svc.Submit(e.as("bruno"), "sepsis", "review", q[0].ID, *spans()); err == nil || !strings.Contains(err.Error(), "adjudicated") {
		t.Errorf("stale submission: %v", err)
	}
	if r := e.get(task, c); r.StatusCode != 404 {
		t.Errorf("an adjudicated task's page: %d, want 404", r.StatusCode)
	}
}
