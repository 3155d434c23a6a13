package registry_test

import (
	"context"
	"testing"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
)

func TestSetFeedbackAnnotation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.register(t, "risk", e.run(t, "proj", nil, "finished"))
		ann := annotate.NewService(d, e.audit, nil)
		labels := []annotate.Label{{Name: "yes", Color: "#d55e00"}, {Name: "no", Color: "#0072b2"}}
		for _, ap := range []annotate.Project{
			{Project: "proj", Name: "review", Kind: annotate.KindClassification, Labels: labels},
			{Project: "proj", Name: "rows", Kind: annotate.KindRows, Labels: labels},
			{Project: "proj", Name: "notes", Kind: annotate.KindSpan, Labels: labels},
			{Project: "other", Name: "elsewhere", Kind: annotate.KindClassification, Labels: labels},
		} {
			if _, err := ann.Create(e.ctx, ap); err != nil {
				t.Fatal(err)
			}
		}
		as := func(role auth.Role) context.Context {
			return auth.WithPrincipal(context.Background(), &auth.Principal{Username: string(role), Roles: map[string][]auth.Role{"proj": {role}}})
		}
		for _, c := range []struct {
			name       string
			ctx        context.Context
			annotation string
			code       errs.Code
		}{
			{"viewer", as(auth.RoleViewer), "review", errs.Forbidden},
			{"clinician", as(auth.RoleClinicianValidator), "review", errs.Forbidden},
			{"span project", e.ctx, "notes", errs.Invalid},
			{"another project's", e.ctx, "elsewhere", errs.Invalid},
			{"unknown", e.ctx, "nosuch", errs.Invalid},
		} {
			t.Run(c.name, func(t *testing.T) {
				if _, err := e.reg.SetFeedbackAnnotation(c.ctx, "risk", c.annotation); errs.CodeOf(err) != c.code {
					t.Errorf("err = %v, want %s", err, c.code)
				}
				if got, err := e.reg.FeedbackAnnotationOf(e.ctx, "risk"); err != nil || got != "" {
					t.Errorf("after a refusal: %q %v", got, err)
				}
			})
		}
		for _, name := range []string{"review", "rows", ""} {
			m, err := e.reg.SetFeedbackAnnotation(e.ctx, "risk", name)
			if err != nil || m.FeedbackAnnotation != name {
				t.Fatalf("set %q: %+v %v", name, m, err)
			}
			// A clinician giving feedback reads it; so does GetModel.
			if got, err := e.reg.FeedbackAnnotationOf(as(auth.RoleClinicianValidator), "risk"); err != nil || got != name {
				t.Errorf("clinician reads %q %v, want %q", got, err, name)
			}
			if m, err := e.reg.GetModel(e.ctx, "risk"); err != nil || m.FeedbackAnnotation != name {
				t.Errorf("model %+v %v, want %q", m, err, name)
			}
		}
		if _, err := e.reg.FeedbackAnnotationOf(as(auth.RoleAnnotator), "risk"); !errs.Is(err, errs.Forbidden) {
			t.Errorf("annotator reads the setting: %v", err)
		}
		var ok, denied int
		if err := d.QueryRow(e.ctx, `SELECT COUNT(CASE WHEN outcome = 'success' THEN 1 END), COUNT(CASE WHEN outcome <> 'success' THEN 1 END) FROM audit_events WHERE action = 'model.feedback_annotation.set'`).Scan(&ok, &denied); err != nil || ok != 3 || denied != 5 {
			t.Errorf("audit: %d changes, %d refusals (%v), want 3 and 5", ok, denied, err)
		}
	})
}
