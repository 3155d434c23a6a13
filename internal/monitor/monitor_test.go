package monitor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
)

type env struct {
	d     *db.DB
	audit *audit.Log
	mon   *monitor.Service
	users map[string]context.Context
}

// newEnv creates projects "proj" and "other", a model version in each, one
// logged prediction per project ("pred-1" in proj, "pred-other" in other)
// and users acting with one role each.
func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	admin := audit.WithActor(context.Background(), "admin")
	a := audit.New(d)
	for _, p := range []string{"proj", "other"} {
		if _, err := project.NewService(d, a).Create(admin, p, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	runs := track.NewService(d, blob.NewMemory(), a)
	reg := registry.NewService(d, runs, a)
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i, p := range []struct{ project, model, pred string }{{"proj", "sepsis", "pred-1"}, {"other", "readmission", "pred-other"}} {
		r, err := runs.StartRun(admin, p.project, "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := runs.PutArtifact(admin, r.ID, "model.json", strings.NewReader("{}")); err != nil {
			t.Fatal(err)
		}
		if err := runs.End(admin, r.ID, track.Finished); err != nil {
			t.Fatal(err)
		}
		v, err := reg.Register(admin, p.project, p.model, r.ID, "model.json", "hygie.linear_regression", registry.Signature{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(admin, `INSERT INTO predictions (id, model_version_id, at, inputs_json, outputs_json) VALUES (?, ?, ?, ?, ?)`,
			p.pred, v.ID, at.Add(time.Duration(i)*time.Minute), `{"age":54,"glycemie":7.1}`, `{"risk":0.42}`); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{d: d, audit: a, mon: monitor.NewService(d, a), users: map[string]context.Context{}}
	as := auth.NewService(d, a)
	for _, u := range []struct {
		name, project string
		role          auth.Role
	}{
		{"claire", "proj", auth.RoleClinicianValidator},
		{"camille", "proj", auth.RoleClinicianValidator},
		{"sam", "proj", auth.RoleScientist},
		{"victor", "proj", auth.RoleViewer},
		{"olga", "other", auth.RoleClinicianValidator},
	} {
		usr, err := as.CreateUser(admin, u.name, "", "", false)
		if err != nil {
			t.Fatal(err)
		}
		e.users[u.name] = auth.WithPrincipal(context.Background(), &auth.Principal{UserID: usr.ID, Username: u.name,
			Roles: map[string][]auth.Role{u.project: {u.role}}})
	}
	return e
}

func TestPrediction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		p, err := e.mon.Prediction(ctx, "pred-1")
		if err != nil {
			t.Fatal(err)
		}
		if p.Project != "proj" || p.Model != "sepsis" || p.Version != 1 || p.Inputs["age"] != 54.0 || p.Outputs["risk"] != 0.42 || len(p.Feedback) != 0 ||
			!p.At.Equal(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("Prediction = %+v", p)
		}
		if _, err := e.mon.Prediction(ctx, "nope"); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown prediction: %v", err)
		}
		list, err := e.mon.Predictions(ctx, "proj", 0)
		if err != nil || len(list) != 1 || list[0].ID != "pred-1" {
			t.Errorf("Predictions(proj) = %v, %v; want only pred-1", list, err)
		}
	})
}

func TestRecordFeedback(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		tests := []struct {
			name      string
			user      string // "" for no principal
			pred      string
			verdict   string
			corrected string
			comment   string
			want      errs.Code
		}{
			{"unknown verdict", "claire", "pred-1", "wrong", "", "", errs.Invalid},
			{"empty verdict", "claire", "pred-1", "", "", "", errs.Invalid},
			{"verdict in capitals", "claire", "pred-1", "Correct", "", "", errs.Invalid},
			{"comment too long", "claire", "pred-1", "unsure", "", strings.Repeat("x", 4001), errs.Invalid},
			{"corrected value too long", "claire", "pred-1", "incorrect", strings.Repeat("1", 201), "", errs.Invalid},
			{"unknown prediction", "claire", "pred-404", "correct", "", "", errs.NotFound},
			{"scientist lacks feedback.write", "sam", "pred-1", "correct", "", "", errs.Forbidden},
			{"viewer lacks feedback.write", "victor", "pred-1", "correct", "", "", errs.Forbidden},
			{"clinician of another project", "olga", "pred-1", "correct", "", "", errs.Forbidden},
			{"clinician on another project's prediction", "claire", "pred-other", "correct", "", "", errs.Forbidden},
			{"no principal", "", "pred-1", "correct", "", "", errs.Unauthenticated},
			{"correct", "claire", "pred-1", "correct", "", "", ""},
			{"incorrect with a correction", "camille", "pred-1", "incorrect", "0.9", "sepsis confirmed at 48 h", ""},
			{"unsure at the size limits", "claire", "pred-1", "unsure", strings.Repeat("1", 200), strings.Repeat("x", 4000), ""},
			{"clinician of the other project on its prediction", "olga", "pred-other", "correct", "", "", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				if tt.user != "" {
					ctx = e.users[tt.user]
				}
				f, err := e.mon.RecordFeedback(ctx, tt.pred, tt.verdict, tt.corrected, tt.comment)
				if errs.CodeOf(err) != tt.want {
					t.Fatalf("RecordFeedback = %v, want %q", err, tt.want)
				}
				if tt.want == "" && (f.ID == 0 || f.User != tt.user || f.Verdict != tt.verdict || f.PredictionID != tt.pred) {
					t.Errorf("feedback = %+v", f)
				}
			})
		}
		p, err := e.mon.Prediction(context.Background(), "pred-1")
		if err != nil {
			t.Fatal(err)
		}
		want := []struct{ user, verdict, corrected, comment string }{
			{"claire", "correct", "", ""},
			{"camille", "incorrect", "0.9", "sepsis confirmed at 48 h"},
			{"claire", "unsure", strings.Repeat("1", 200), strings.Repeat("x", 4000)},
		}
		if len(p.Feedback) != len(want) {
			t.Fatalf("pred-1 has %d feedback, want %d: %+v", len(p.Feedback), len(want), p.Feedback)
		}
		for i, w := range want {
			f := p.Feedback[i]
			if f.User != w.user || f.Verdict != w.verdict || f.Corrected != w.corrected || f.Comment != w.comment || f.PredictionID != "pred-1" || f.At.IsZero() {
				t.Errorf("feedback %d = %s/%s/%q, want %s/%s/%q", i, f.User, f.Verdict, f.Corrected, w.user, w.verdict, w.corrected)
			}
		}
		if other, _ := e.mon.Prediction(context.Background(), "pred-other"); len(other.Feedback) != 1 || other.Feedback[0].User != "olga" {
			t.Errorf("pred-other feedback = %+v", other.Feedback)
		}
		evs, err := e.audit.List(context.Background(), audit.Filter{Action: "feedback.create"})
		if err != nil || len(evs) != 4 {
			t.Fatalf("feedback.create events = %d, %v; want 4", len(evs), err)
		}
		if ev := evs[0]; ev.Actor != "olga" || ev.Project != "other" || ev.Target != "prediction:pred-other" || strings.Contains(ev.Detail, "confirmed") {
			t.Errorf("latest event = %+v", ev)
		}
	})
}
