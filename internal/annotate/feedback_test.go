package annotate_test

import (
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
)

// TestFeedbackTasksAndGold: a clinician-validator (feedback.write, no
// annotation.manage) adds the tasks of predictions she flagged, on her
// behalf, into rows or classification projects only; FeedbackGold reads
// the adjudicated labels back, the latest per prediction.
func TestFeedbackTasksAndGold(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		labels := []annotate.Label{{Name: "yes", Color: "#d55e00"}, {Name: "no", Color: "#0072b2"}}
		for _, p := range []annotate.Project{{Project: "notes", Name: "review", Kind: annotate.KindRows, Labels: labels, Overlap: 1},
			{Project: "notes", Name: "second", Kind: annotate.KindRows, Labels: labels, Overlap: 1},
			{Project: "notes", Name: "spans", Kind: annotate.KindSpan, Labels: labels}} {
			if _, err := e.svc.Create(e.as["sam"], p); err != nil {
				t.Fatal(err)
			}
		}
		task := func(id string) annotate.NewTask {
			return annotate.FeedbackTasks([]annotate.Flagged{{PredictionID: id, Input: map[string]any{"age": 70.0}, Model: "risk v1", Predicted: "yes"}})[0]
		}
		for _, tc := range []struct {
			name, user, project string
			tasks               []annotate.NewTask
			want                errs.Code
		}{
			{"viewer", "vic", "review", []annotate.NewTask{task("p1")}, errs.Forbidden},
			{"annotator", "ann", "review", []annotate.NewTask{task("p1")}, errs.Forbidden},
			{"span project", "val", "spans", []annotate.NewTask{task("p1")}, errs.Invalid},
			{"not feedback", "val", "review", []annotate.NewTask{{Ref: "row:1", Source: "feedback", Data: annotate.TaskData{Row: map[string]any{"a": 1.0}}}}, errs.Invalid},
			{"other source", "val", "review", []annotate.NewTask{{Ref: "prediction:p9", Source: "jsonl", Data: annotate.TaskData{Row: map[string]any{"a": 1.0}}}}, errs.Invalid},
			{"unknown project", "val", "nope", []annotate.NewTask{task("p1")}, errs.NotFound},
		} {
			if _, err := e.svc.AddFeedbackTasks(e.as[tc.user], "notes", tc.project, tc.tasks); code(err) != tc.want {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
			}
		}
		if _, err := e.svc.AddTasks(e.as["val"], "notes", "review", []annotate.NewTask{task("p1")}); code(err) != errs.Forbidden {
			t.Errorf("clinician AddTasks: %v, want forbidden", err)
		}
		res, err := e.svc.AddFeedbackTasks(e.as["val"], "notes", "review", []annotate.NewTask{task("p1"), task("p2")})
		if err != nil || res.Added != 2 {
			t.Fatalf("add: %+v %v", res, err)
		}
		if res, err := e.svc.AddFeedbackTasks(e.as["val"], "notes", "second", []annotate.NewTask{task("p1")}); err != nil || res.Added != 1 {
			t.Fatalf("add to second: %+v %v", res, err)
		}
		var detail string
		if err := d.QueryRow(e.as["sam"], `SELECT detail FROM audit_events WHERE action = 'annotation.import' AND actor = 'val' AND outcome = 'success' ORDER BY seq LIMIT 1`).Scan(&detail); err != nil ||
			!strings.Contains(detail, `"on_behalf_of":"val"`) || !strings.Contains(detail, `"via":"feedback"`) {
			t.Errorf("audit %q %v", detail, err)
		}
		if g, err := e.svc.FeedbackGold(e.as["val"], "notes", ""); code(err) != errs.Forbidden {
			t.Errorf("clinician reads the gold: %v %v", g, err)
		}
		// ann answers everything; val adjudicates: p1 "no" in review, then
		// "yes" in second (later: it wins); p2 stays unadjudicated.
		adjudicate := func(project, ref, label string) {
			t.Helper()
			if _, err := e.svc.Assign(e.as["sam"], "notes", project, []string{"ann"}); err != nil {
				t.Fatal(err)
			}
			q, err := e.svc.Queue(e.as["ann"], "notes", project)
			if err != nil {
				t.Fatal(err)
			}
			for _, qt := range q {
				if err := e.svc.Submit(e.as["ann"], "notes", project, qt.ID, annotate.Result{Choices: []string{"yes"}}); err != nil {
					t.Fatal(err)
				}
				if qt.Ref == ref {
					if _, err := e.svc.Adjudicate(e.as["val"], "notes", project, qt.ID, annotate.Result{Choices: []string{label}}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		adjudicate("review", "prediction:p1", "no")
		adjudicate("second", "prediction:p1", "yes")
		gold, err := e.svc.FeedbackGold(e.as["sam"], "notes", "")
		if err != nil || len(gold) != 1 || gold[0].PredictionID != "p1" || gold[0].Label != "yes" || gold[0].Annotation != "second" || gold[0].Adjudicator != "val" {
			t.Fatalf("gold %+v %v", gold, err)
		}
		if gold, err := e.svc.FeedbackGold(e.as["sam"], "notes", "review"); err != nil || len(gold) != 1 || gold[0].Label != "no" {
			t.Errorf("gold of review %+v %v", gold, err)
		}
		if _, err := e.svc.FeedbackGold(e.as["sam"], "notes", "spans"); code(err) != errs.Invalid {
			t.Errorf("gold of a span project: %v", err)
		}
	})
}
