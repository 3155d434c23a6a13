package annotate_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/deid"
	"github.com/hygie-health/hygie/internal/project"
)

const docs = `{"id": "d1", "text": "Nom : LEROY  Prénom : Nicolas\nDate : 08/04/2019", "entities": [{"start": 6, "end": 11, "label": "NOM"}]}
{"id": "d2", "text": "Patiente MARTIN Julie, née le 12/03/1950, vue à Lyon."}
{"id": "d3", "text": "Hôpital Édouard Herriot, tél 04 72 11 22 33."}
`

type env struct {
	svc  *annotate.Service
	as   map[string]context.Context
	d    *db.DB
	aLog *audit.Log
}

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	a := audit.New(d)
	au := auth.NewService(d, a)
	e := &env{svc: annotate.NewService(d, a, nil), as: map[string]context.Context{}, d: d, aLog: a}
	roles := map[string]auth.Role{"sam": auth.RoleScientist, "ann": auth.RoleAnnotator, "bob": auth.RoleAnnotator, "cat": auth.RoleAnnotator,
		"val": auth.RoleClinicianValidator, "vic": auth.RoleViewer}
	bg := context.Background()
	if _, err := project.NewService(d, a).Create(auth.WithPrincipal(bg, &auth.Principal{Username: "root", Admin: true}), "notes", "", ""); err != nil {
		t.Fatal(err)
	}
	for u, r := range roles {
		if _, err := au.CreateUser(bg, u, "", "", false); err != nil {
			t.Fatal(err)
		}
		if err := au.Grant(bg, "notes", u, r); err != nil {
			t.Fatal(err)
		}
		e.as[u] = audit.WithActor(auth.WithPrincipal(bg, &auth.Principal{Username: u, Roles: map[string][]auth.Role{"notes": {r}}}), u)
	}
	return e
}

func code(err error) errs.Code {
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestAnnotationLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := e.as["sam"]
		if _, err := e.svc.Create(ctx, annotate.Project{Project: "notes", Name: "bad", Kind: annotate.KindSpan,
			Labels: []annotate.Label{{Name: "A", Color: "#ff0000", Shortcut: "a"}, {Name: "B", Color: "#00ff00", Shortcut: "A"}}}); code(err) != errs.Invalid {
			t.Fatalf("shared shortcut: %v", err)
		}
		if _, err := e.svc.Create(e.as["ann"], annotate.Project{Project: "notes", Name: "x", Kind: annotate.KindSpan, Labels: annotate.DeidSchema()}); code(err) != errs.Forbidden {
			t.Fatalf("annotator creating a project: %v", err)
		}
		p, err := e.svc.Create(ctx, annotate.Project{Project: "notes", Name: "deid-notes", Kind: annotate.KindSpan, Labels: annotate.DeidSchema(), Guidelines: "# Guide\n"})
		if err != nil {
			t.Fatal(err)
		}
		if p.Overlap != 2 || p.GuidelinesVersion != 1 {
			t.Fatalf("project %+v", p)
		}
		tasks, err := annotate.ReadJSONL(strings.NewReader(docs))
		if err != nil {
			t.Fatal(err)
		}
		d0, err := deid.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		annotate.PreAnnotate(tasks, d0)
		res, err := e.svc.AddTasks(ctx, "notes", "deid-notes", tasks)
		if err != nil || res.Added != 3 {
			t.Fatalf("add: %+v %v", res, err)
		}
		if res, err := e.svc.AddTasks(ctx, "notes", "deid-notes", tasks[:1]); err != nil || res.Skipped != 1 {
			t.Fatalf("re-add: %+v %v", res, err)
		}
		if p, err = e.svc.SetGuidelines(ctx, "notes", "deid-notes", "# Guide v2\n"); err != nil || p.GuidelinesVersion != 2 {
			t.Fatalf("guidelines: %+v %v", p, err)
		}
		if _, err := e.svc.Assign(ctx, "notes", "deid-notes", []string{"ann", "vic"}); code(err) != errs.Invalid {
			t.Fatalf("assigning a viewer: %v", err)
		}
		ar, err := e.svc.Assign(ctx, "notes", "deid-notes", []string{"ann", "bob", "cat"})
		if err != nil || ar.Assigned != 6 || ar.Short != 0 {
			t.Fatalf("assign: %+v %v", ar, err)
		}
		for u, n := range ar.Load {
			if n != 2 {
				t.Errorf("%s has %d tasks, want 2 (balanced)", u, n)
			}
		}
		if ar, err := e.svc.Assign(ctx, "notes", "deid-notes", []string{"ann", "bob", "cat"}); err != nil || ar.Assigned != 0 {
			t.Fatalf("second round: %+v %v", ar, err)
		}
		queues := map[string][]annotate.QueueTask{}
		owner := map[int64][]string{}
		for _, u := range []string{"ann", "bob", "cat"} {
			q, err := e.svc.Queue(e.as[u], "notes", "deid-notes")
			if err != nil {
				t.Fatal(err)
			}
			queues[u] = q
			for _, qt := range q {
				owner[qt.ID] = append(owner[qt.ID], u)
				if qt.GuidelinesVersion != 2 || len(qt.Predictions) == 0 {
					t.Errorf("queue task %+v", qt)
				}
			}
		}
		for id, us := range owner {
			if len(us) != 2 || us[0] == us[1] {
				t.Errorf("task %d annotators %v", id, us)
			}
		}
		if _, err := e.svc.Queue(e.as["vic"], "notes", "deid-notes"); code(err) != errs.Forbidden {
			t.Fatalf("viewer queue: %v", err)
		}
		// Task d1 (id of the first task): find who has it and who has not.
		var t1 int64 = queues["ann"][0].ID
		var outsider string
		for _, u := range []string{"ann", "bob", "cat"} {
			if !contains(owner[t1], u) {
				outsider = u
			}
		}
		a1, a2 := owner[t1][0], owner[t1][1]
		good := annotate.Result{Spans: []annotate.Span{{Start: 6, End: 11, Label: "NOM"}, {Start: 22, End: 29, Label: "PRENOM"}}}
		if err := e.svc.Submit(e.as[outsider], "notes", "deid-notes", t1, good); code(err) != errs.Forbidden {
			t.Fatalf("unassigned submission: %v", err)
		}
		bad := map[string]annotate.Result{
			"overlap":      {Spans: []annotate.Span{{Start: 6, End: 11, Label: "NOM"}, {Start: 10, End: 12, Label: "NOM"}}},
			"out of range": {Spans: []annotate.Span{{Start: 40, End: 400, Label: "DATE"}}},
			"label":        {Spans: []annotate.Span{{Start: 6, End: 11, Label: "DIAGNOSIS"}}},
			"choices":      {Choices: []string{"NOM"}},
		}
		for name, r := range bad {
			if err := e.svc.Submit(e.as[a1], "notes", "deid-notes", t1, r); code(err) != errs.Invalid {
				t.Errorf("%s: %v", name, err)
			}
		}
		if q, _ := e.svc.Queue(e.as[a1], "notes", "deid-notes"); len(q) != 2 {
			t.Fatalf("refused submissions changed the queue: %d", len(q))
		}
		if err := e.svc.Submit(e.as[a1], "notes", "deid-notes", t1, good); err != nil {
			t.Fatal(err)
		}
		other := annotate.Result{Spans: []annotate.Span{{Start: 6, End: 11, Label: "NOM"}}}
		if err := e.svc.Submit(e.as[a2], "notes", "deid-notes", t1, other); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Skip(e.as[a2], "notes", "deid-notes", t1, ""); code(err) != errs.Invalid {
			t.Fatalf("skip without reason: %v", err)
		}
		if q, _ := e.svc.Queue(e.as[a1], "notes", "deid-notes"); len(q) != 1 {
			t.Fatalf("queue after submission: %d", len(q))
		}
		rep, err := e.svc.Agreement(ctx, "notes", "deid-notes")
		if err != nil {
			t.Fatal(err)
		}
		if rep.Items != 1 || len(rep.Pairs) != 1 || float64(rep.Pairs[0].Span.Exact) != 2.0/3 {
			t.Fatalf("agreement %+v", rep)
		}
		if _, err := e.svc.ForAdjudication(e.as[a1], "notes", "deid-notes"); code(err) != errs.Forbidden {
			t.Fatalf("annotator adjudication list: %v", err)
		}
		rev, err := e.svc.ForAdjudication(e.as["val"], "notes", "deid-notes")
		if err != nil || len(rev) != 1 || len(rev[0].Annotations) != 2 {
			t.Fatalf("for adjudication: %+v %v", rev, err)
		}
		g, err := e.svc.Adjudicate(e.as["val"], "notes", "deid-notes", t1, good)
		if err != nil || g.GuidelinesVersion != 2 {
			t.Fatalf("adjudicate: %+v %v", g, err)
		}
		if _, err := e.svc.Adjudicate(e.as["val"], "notes", "deid-notes", t1, good); code(err) != errs.Conflict {
			t.Fatalf("second adjudication: %v", err)
		}
		if err := e.svc.Submit(e.as[a2], "notes", "deid-notes", t1, good); code(err) != errs.Conflict {
			t.Fatalf("stale submission: %v", err)
		}
		pr, err := e.svc.Progress(ctx, "notes", "deid-notes")
		if err != nil || pr.Tasks != 3 || pr.Complete != 1 || pr.Adjudicated != 1 || pr.Annotators[a1].Done != 1 {
			t.Fatalf("progress %+v %v", pr, err)
		}
		proj, rs, err := e.svc.Reviews(ctx, "notes", "deid-notes")
		if err != nil {
			t.Fatal(err)
		}
		var gold bytes.Buffer
		if n, err := annotate.WriteGold(&gold, proj, rs); err != nil || n != 1 {
			t.Fatalf("gold: %d %v", n, err)
		}
		dd, err := deid.ReadDocuments(&gold, "gold", 1<<20)
		if err != nil || len(dd) != 1 || len(dd[0].Entities) != 2 || dd[0].Entities[1].Text != "Nicolas" || dd[0].ID != "d1" {
			t.Fatalf("gold as deid documents: %+v %v", dd, err)
		}
		var conll bytes.Buffer
		if _, err := annotate.WriteCoNLL(&conll, proj, rs); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(conll.String(), "LEROY\tB-NOM\n") || !strings.Contains(conll.String(), "Nicolas\tB-PRENOM\n") || !strings.Contains(conll.String(), "Nom\tO\n") {
			t.Fatalf("conll:\n%s", conll.String())
		}
		// Audit events never hold the texts.
		evs, err := e.aLog.List(context.Background(), audit.Filter{Project: "notes", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if strings.Contains(ev.Detail, "LEROY") || strings.Contains(ev.Detail, "Nicolas") {
				t.Errorf("audit event %s holds text: %s", ev.Action, ev.Detail)
			}
		}
	})
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// Label Studio: import → export → import gives the same tasks and
// annotations.
func TestLabelStudioRoundTrip(t *testing.T) {
	dbtest.Each(t, testLabelStudioRoundTrip)
}

func testLabelStudioRoundTrip(t *testing.T, d *db.DB) {
	e := newEnv(t, d)
	ctx := e.as["sam"]
	const ls = `[
 {"id": 7, "data": {"text": "Patient LEROY vu le 08/04/2019."},
  "annotations": [
   {"completed_by": {"email": "ann"}, "result": [{"from_name": "label", "to_name": "text", "type": "labels", "value": {"start": 8, "end": 13, "text": "LEROY", "labels": ["NOM"]}}]},
   {"completed_by": 3, "result": [{"from_name": "label", "to_name": "text", "type": "labels", "value": {"start": 20, "end": 30, "labels": ["DATE"]}}]},
   {"completed_by": "bob", "was_cancelled": true, "result": []}],
  "predictions": [{"model_version": "v1", "result": [{"from_name": "label", "to_name": "text", "type": "labels", "value": {"start": 8, "end": 13, "labels": ["NOM"]}}]}]},
 {"id": 8, "data": {"text": "Rien à signaler."}, "annotations": [], "predictions": []}
]`
	for _, name := range []string{"ls-a", "ls-b"} {
		if _, err := e.svc.Create(ctx, annotate.Project{Project: "notes", Name: name, Kind: annotate.KindSpan, Labels: annotate.DeidSchema()}); err != nil {
			t.Fatal(err)
		}
	}
	tasks, err := annotate.ReadLabelStudio(strings.NewReader(ls), annotate.KindSpan)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.svc.AddTasks(ctx, "notes", "ls-a", tasks); err != nil || res.Added != 2 || res.Annotations != 2 {
		t.Fatalf("import: %+v %v", res, err)
	}
	export := func(name string) (string, []annotate.Review) {
		p, rs, err := e.svc.Reviews(ctx, "notes", name)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := annotate.WriteLabelStudio(&b, p, rs); err != nil {
			t.Fatal(err)
		}
		return b.String(), rs
	}
	out1, rs1 := export("ls-a")
	tasks2, err := annotate.ReadLabelStudio(strings.NewReader(out1), annotate.KindSpan)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddTasks(ctx, "notes", "ls-b", tasks2); err != nil {
		t.Fatal(err)
	}
	out2, rs2 := export("ls-b")
	strip := func(s string) string { // task ids differ between projects
		var b strings.Builder
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), `"id":`) {
				b.WriteString(l + "\n")
			}
		}
		return b.String()
	}
	if strip(out1) != strip(out2) {
		t.Fatalf("round trip differs:\n%s\n---\n%s", out1, out2)
	}
	if len(rs1) != 2 || len(rs2) != 2 || rs2[0].Ref != "7" || len(rs2[0].Annotations) != 2 || rs2[0].Annotations[1].Annotator != "labelstudio-user-3" ||
		rs2[0].Annotations[0].Result.Spans[0].Text != "LEROY" || len(rs2[0].Predictions) != 1 {
		t.Fatalf("reviews after round trip: %+v", rs2)
	}
	// A label outside the schema refuses the import, nothing added.
	bad := strings.Replace(ls, `["DATE"]`, `["DIAGNOSIS"]`, 1)
	tasks3, _ := annotate.ReadLabelStudio(strings.NewReader(bad), annotate.KindSpan)
	if _, err := e.svc.Create(ctx, annotate.Project{Project: "notes", Name: "ls-c", Kind: annotate.KindSpan, Labels: annotate.DeidSchema()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddTasks(ctx, "notes", "ls-c", tasks3); code(err) != errs.Invalid {
		t.Fatalf("bad label: %v", err)
	}
	if _, rs, _ := e.svc.Reviews(ctx, "notes", "ls-c"); len(rs) != 0 {
		t.Fatalf("refused import added %d tasks", len(rs))
	}
}

func TestClassificationAgreement(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t))
	ctx := e.as["sam"]
	labels := []annotate.Label{{Name: "yes", Color: "#00aa00", Shortcut: "y"}, {Name: "no", Color: "#aa0000", Shortcut: "n"}}
	if _, err := e.svc.Create(ctx, annotate.Project{Project: "notes", Name: "cls", Kind: annotate.KindClassification, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	tasks := annotate.FeedbackTasks([]annotate.Flagged{{PredictionID: "p1", Text: "a", Predicted: "yes"}, {PredictionID: "p2", Text: "b"}})
	if _, err := e.svc.AddTasks(ctx, "notes", "cls", tasks); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Assign(ctx, "notes", "cls", []string{"ann", "bob"}); err != nil {
		t.Fatal(err)
	}
	q, _ := e.svc.Queue(e.as["ann"], "notes", "cls")
	if len(q) != 2 || q[0].Ref != "prediction:p1" {
		t.Fatalf("queue %+v", q)
	}
	if err := e.svc.Submit(e.as["ann"], "notes", "cls", q[0].ID, annotate.Result{Choices: []string{"yes", "no"}}); code(err) != errs.Invalid {
		t.Fatalf("two choices: %v", err)
	}
	for _, u := range []string{"ann", "bob"} {
		for _, qt := range q {
			if err := e.svc.Submit(e.as[u], "notes", "cls", qt.ID, annotate.Result{Choices: []string{"yes"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	rep, err := e.svc.Agreement(ctx, "notes", "cls")
	if err != nil || rep.Items != 2 || len(rep.Warnings) == 0 {
		t.Fatalf("report %+v %v", rep, err)
	}
}

// TestEveryRole calls each operation as a holder of each single role: it is
// refused (forbidden, nothing changed) exactly when the role lacks the
// permission, and an annotator's queue holds only the tasks assigned to
// them.
func TestEveryRole(t *testing.T) {
	dbtest.Each(t, testEveryRole)
}

func testEveryRole(t *testing.T, d *db.DB) {
	e := newEnv(t, d)
	au := auth.NewService(d, e.aLog)
	bg := context.Background()
	if _, err := e.svc.Create(e.as["sam"], annotate.Project{Project: "notes", Name: "roles", Kind: annotate.KindClassification,
		Labels: []annotate.Label{{Name: "yes", Color: "#00aa00"}, {Name: "no", Color: "#aa0000"}}, Overlap: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddTasks(e.as["sam"], "notes", "roles", annotate.FeedbackTasks([]annotate.Flagged{{PredictionID: "1", Text: "a"}, {PredictionID: "2", Text: "b"}})); err != nil {
		t.Fatal(err)
	}
	for _, r := range auth.Roles {
		name := "r-" + string(r)
		if _, err := au.CreateUser(bg, name, "", "", false); err != nil {
			t.Fatal(err)
		}
		if err := au.Grant(bg, "notes", name, r); err != nil {
			t.Fatal(err)
		}
		ctx := audit.WithActor(auth.WithPrincipal(bg, &auth.Principal{Username: name, Roles: map[string][]auth.Role{"notes": {r}}}), name)
		ops := []struct {
			perm auth.Perm
			fn   func() error
		}{
			{auth.PermProjectRead, func() error { _, err := e.svc.Get(ctx, "notes", "roles"); return err }},
			{auth.PermAnnotationWrite, func() error { _, err := e.svc.Queue(ctx, "notes", "roles"); return err }},
			{auth.PermAnnotationAdjudicate, func() error { _, err := e.svc.ForAdjudication(ctx, "notes", "roles"); return err }},
			{auth.PermAnnotationManage, func() error { _, err := e.svc.Agreement(ctx, "notes", "roles"); return err }},
			{auth.PermAnnotationManage, func() error { _, _, err := e.svc.Reviews(ctx, "notes", "roles"); return err }},
			{auth.PermAnnotationManage, func() error { _, err := e.svc.Progress(ctx, "notes", "roles"); return err }},
		}
		for i, op := range ops {
			err := op.fn()
			if forbidden := code(err) == errs.Forbidden; forbidden == auth.RoleHas(r, op.perm) || (!forbidden && err != nil) {
				t.Errorf("role %s, operation %d (%s): %v", r, i, op.perm, err)
			}
		}
	}
	// Overlap 1, two annotators: each sees exactly their own task.
	if _, err := e.svc.Assign(e.as["sam"], "notes", "roles", []string{"ann", "bob"}); err != nil {
		t.Fatal(err)
	}
	qa, _ := e.svc.Queue(e.as["ann"], "notes", "roles")
	qb, _ := e.svc.Queue(e.as["bob"], "notes", "roles")
	qc, _ := e.svc.Queue(e.as["cat"], "notes", "roles")
	if len(qa) != 1 || len(qb) != 1 || qa[0].ID == qb[0].ID || len(qc) != 0 {
		t.Fatalf("queues: ann %v, bob %v, cat %v", qa, qb, qc)
	}
	if err := e.svc.Submit(e.as["ann"], "notes", "roles", qb[0].ID, annotate.Result{Choices: []string{"yes"}}); code(err) != errs.Forbidden {
		t.Fatalf("submitting bob's task as ann: %v", err)
	}
}

func FuzzReadLabelStudio(f *testing.F) {
	f.Add([]byte(`[{"id": 1, "data": {"text": "abc"}, "annotations": [{"completed_by": 1, "result": [{"type": "labels", "value": {"start": 0, "end": 1, "labels": ["A"]}}]}]}]`))
	f.Add([]byte(`[{"data": {"text": "x"}, "predictions": [{"result": [{"type": "choices", "value": {"choices": ["y"]}}]}]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, k := range annotate.Kinds {
			_, _ = annotate.ReadLabelStudio(bytes.NewReader(b), k)
		}
	})
}

func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(docs))
	f.Add([]byte("{\"id\": 3, \"text\": \"a\", \"label\": \"x\"}\n\n{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = annotate.ReadJSONL(bytes.NewReader(b))
	})
}

func FuzzValidate(f *testing.F) {
	p := annotate.Project{Kind: annotate.KindSpan, Labels: annotate.DeidSchema()}
	f.Add("Nom : LEROY", 6, 11, "NOM", 0, 3, "PRENOM")
	f.Fuzz(func(t *testing.T, text string, s1, e1 int, l1 string, s2, e2 int, l2 string) {
		r := annotate.Result{Spans: []annotate.Span{{Start: s1, End: e1, Label: l1}, {Start: s2, End: e2, Label: l2}}}
		if p.Validate(&r, text) == nil {
			n := len([]rune(text))
			for i, s := range r.Spans {
				if s.Start < 0 || s.End > n || s.Start >= s.End || (i > 0 && s.Start < r.Spans[i-1].End) {
					t.Fatalf("accepted bad spans %+v in %d characters", r.Spans, n)
				}
			}
		}
	})
}
