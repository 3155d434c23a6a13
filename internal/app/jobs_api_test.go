package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/jobs"
)

// TestJobsAPI lists, shows, reads the output of and cancels jobs over
// the REST API, as a scientist, a viewer and an outsider.
func TestJobsAPI(t *testing.T) {
	ctx := context.Background()
	cfg := sqliteConfig(t)
	cfg.BootstrapToken = "hyg_jobs-api-test-bootstrap-token"
	a, err := app.Open(ctx, cfg, app.Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ts := httptest.NewServer(a.Server)
	t.Cleanup(ts.Close)

	as := func(user string) context.Context {
		p, err := a.Auth.PrincipalOf(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return auth.WithPrincipal(ctx, p)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	admin := as("admin")
	for _, p := range []string{"icu", "other"} {
		_, err := a.Projects.Create(admin, p, p, "")
		must(err)
	}
	tokens := map[string]string{}
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"sci", auth.RoleScientist}, {"viv", auth.RoleViewer}, {"clin", auth.RoleClinicianValidator}, {"out", ""}} {
		_, err := a.Auth.CreateUser(admin, u.name, "", "", false)
		must(err)
		if u.role != "" {
			must(a.Auth.Grant(admin, "icu", u.name, u.role))
		}
		_, secret, err := a.Auth.CreateToken(ctx, u.name, "test", auth.KindAPI, time.Hour, "")
		must(err)
		tokens[u.name] = secret
	}
	must(a.Auth.Grant(admin, "other", "sci", auth.RoleScientist))

	sci := as("sci")
	submit := func(project, script string) jobs.Job {
		t.Helper()
		j, err := a.Jobs.Submit(sci, jobs.Request{Project: project, Command: []string{"/bin/sh", "-c", script}})
		must(err)
		return j
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	done := submit("icu", "echo trained; echo warning >&2")
	done, err = a.Jobs.Wait(wctx, done.ID)
	if err != nil || done.State != jobs.Succeeded {
		t.Fatalf("job: %+v, %v", done, err)
	}
	elsewhere := submit("other", "true")
	if _, err := a.Jobs.Wait(wctx, elsewhere.ID); err != nil {
		t.Fatal(err)
	}
	long := submit("icu", "sleep 30")
	for deadline := time.Now().Add(10 * time.Second); ; {
		j, err := a.Jobs.Get(sci, long.ID)
		must(err)
		if j.State == jobs.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job never started: %+v", j)
		}
		time.Sleep(20 * time.Millisecond)
	}

	base := "/api/v1/projects/icu/jobs"
	job := func(j jobs.Job) string { return fmt.Sprintf("%s/%d", base, j.ID) }
	cases := []struct {
		name, method, path, as string
		status                 int
		want                   []string // body fragments
	}{
		{"list", "GET", base, "viv", 200, []string{`"jobs"`, fmt.Sprintf(`"id": %d`, done.ID), fmt.Sprintf(`"id": %d`, long.ID), `"state": "running"`}},
		{"list, no credentials", "GET", base, "", 401, nil},
		{"list, clinician without run.read", "GET", base, "clin", 403, nil},
		{"list, outsider", "GET", base, "out", 403, nil},
		{"one job", "GET", job(done), "viv", 200, []string{`"state": "succeeded"`, `"exit_code": 0`, `"executor": "local"`, `"command": [`}},
		{"a job of another project", "GET", job(elsewhere), "sci", 404, []string{"not found"}},
		{"no such job", "GET", base + "/999999", "sci", 404, nil},
		{"bad job id", "GET", base + "/x", "sci", 400, nil},
		{"stdout", "GET", job(done) + "/logs", "viv", 200, []string{"trained\n"}},
		{"stderr", "GET", job(done) + "/logs?stream=stderr", "viv", 200, []string{"warning\n"}},
		{"unknown stream", "GET", job(done) + "/logs?stream=both", "viv", 400, []string{"stdout or stderr"}},
		{"output of a running job", "GET", job(long) + "/logs", "viv", 409, []string{"running", "when it ends"}},
		{"logs of another project's job", "GET", job(elsewhere) + "/logs", "sci", 404, nil},
		{"cancel as a viewer", "POST", job(long) + "/cancel", "viv", 403, nil},
		{"cancel another project's job", "POST", job(elsewhere) + "/cancel", "sci", 404, nil},
		{"cancel", "POST", job(long) + "/cancel", "sci", 200, []string{`"state": "cancelled"`}},
		{"cancel again", "POST", job(long) + "/cancel", "sci", 409, []string{"already ended"}},
		{"cancel an ended job", "POST", job(done) + "/cancel", "sci", 409, nil},
		{"output of the cancelled job", "GET", job(long) + "/logs", "sci", 200, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
			if tc.as != "" {
				req.Header.Set("Authorization", "Bearer "+tokens[tc.as])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("body lacks %q: %s", w, b)
				}
			}
			if resp.StatusCode == 200 && strings.HasSuffix(tc.path, "/logs") && resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			if resp.StatusCode >= 400 && !json.Valid(b) {
				t.Errorf("error body is not JSON: %s", b)
			}
		})
	}
}
