package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/registry"
)

// TestFeedbackAnnotationREST: PATCH on a model sets its feedback
// annotation project (model.write; a span or unknown project is refused
// and changes nothing); then feedback without "annotation" sends an
// incorrect prediction there, and "annotation": "" sends it nowhere.
func TestFeedbackAnnotationREST(t *testing.T) {
	e, x := newExplainedEnv(t)
	ctx := context.Background()
	reg := registry.NewService(e.db, e.runs, e.audit)
	mon := monitor.NewService(e.db, e.audit)
	mon.SetSources(monitor.Sources{Registry: reg, Annotate: x.ann})
	srv := httpapi.New(httpapi.Options{Auth: e.auth, Audit: e.audit, Logger: slog.New(slog.DiscardHandler)})
	srv.AddAPI(httpapi.Services{Auth: e.auth, Audit: e.audit, Registry: reg, Monitor: mon, Runs: e.runs})
	srv.AddGovernanceAPI(reg)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	labels := []annotate.Label{{Name: "sepsis", Color: "#d55e00"}, {Name: "no-sepsis", Color: "#0072b2"}}
	for _, ap := range []annotate.Project{{Project: "sepsis", Name: "review", Kind: annotate.KindClassification, Labels: labels}, {Project: "sepsis", Name: "notes", Kind: annotate.KindSpan, Labels: labels}} {
		if _, err := x.ann.Create(e.as("alice"), ap); err != nil {
			t.Fatal(err)
		}
	}
	token := map[string]string{}
	for _, u := range []string{"alice", "carla"} {
		_, secret, err := e.auth.CreateToken(ctx, u, "test", auth.KindAPI, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		token[u] = secret
	}
	call := func(method, path, as, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token[as])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	const model = "/api/v1/projects/sepsis/models/sepsis-explained"
	for _, c := range []struct {
		name, as, body string
		status         int
		want           string
	}{
		{"clinician", "carla", `{"feedback_annotation": "review"}`, 403, "model.write"},
		{"span project", "alice", `{"feedback_annotation": "notes"}`, 400, "classification or rows"},
		{"unknown project", "alice", `{"feedback_annotation": "nosuch"}`, 400, `no annotation project of that name in project sepsis`},
		{"nothing to change", "alice", `{}`, 400, "feedback_annotation"},
		{"set", "alice", `{"feedback_annotation": "review"}`, 200, `"feedback_annotation": "review"`},
	} {
		if status, body := call(http.MethodPatch, model, c.as, c.body); status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d and %q", c.name, status, body, c.status, c.want)
		}
	}
	if m, err := reg.GetModel(e.as("alice"), "sepsis-explained"); err != nil || m.FeedbackAnnotation != "review" {
		t.Errorf("model = %+v (%v)", m, err)
	}

	feedback := "/api/v1/projects/sepsis/predictions/" + x.pred + "/feedback"
	status, body := call(http.MethodPost, feedback, "carla", `{"verdict": "incorrect", "annotation": ""}`)
	if status != 201 || strings.Contains(body, `"task"`) {
		t.Errorf("explicitly none: %d %s", status, body)
	}
	status, body = call(http.MethodPost, feedback, "carla", `{"verdict": "incorrect", "corrected": "no-sepsis"}`)
	var out struct {
		Annotation string              `json:"annotation"`
		Task       *annotate.AddResult `json:"task"`
	}
	if err := json.Unmarshal([]byte(body), &out); status != 201 || err != nil || out.Annotation != "review" || out.Task == nil || out.Task.Added != 1 {
		t.Fatalf("default: %d %s (%v)", status, body, err)
	}
	var ref string
	if err := e.db.QueryRow(ctx, `SELECT t.ref FROM annotation_tasks t JOIN annotation_projects a ON a.id = t.annotation_project_id WHERE a.name = 'review'`).Scan(&ref); err != nil || ref != "prediction:"+x.pred {
		t.Errorf("task %q (%v)", ref, err)
	}
	var n int
	if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = 'model.feedback_annotation.set'`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d audit events of the setting (%v), want 3 (2 refusals, 1 change; the route refuses the clinician)", n, err)
	}
}
