package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/project"
)

// TestMembersFromDirectory: a role that follows a directory group shows
// a "from directory" badge on the project page, with the warning that
// revoking it by hand lasts until the next sign-in, and the REST members
// listing gives each grant's source.
func TestMembersFromDirectory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.session("alice")
	check(t, "no directory grant", e.get("/projects/sepsis", alice), http.StatusOK, []string{`id="members"`}, []string{"from directory", `id="directory-grants"`})
	if _, err := e.auth.SignInExternal(ctx, auth.ExternalUser{Source: auth.SourceOIDC, Username: "olga",
		Grants: []auth.DirectoryGrant{{Project: "sepsis", Role: auth.RoleAnnotator}}}); err != nil {
		t.Fatal(err)
	}
	check(t, "directory grant", e.get("/projects/sepsis", alice), http.StatusOK,
		[]string{`<tr data-testid="member-olga"><th scope="row">olga</th><td><span class="badge badge-role">annotator</span> <span class="badge" data-source="directory">from directory</span>`,
			`id="directory-grants"`, "lasts only until the user's next sign-in"}, nil)
	if r := e.get("/projects/sepsis", alice); strings.Count(r.Body, "from directory</span>") != 1 {
		t.Errorf("%d directory badges, want 1 (olga's only)", strings.Count(r.Body, "from directory</span>"))
	}

	srv := httpapi.New(httpapi.Options{Auth: e.auth, Audit: e.audit, Logger: slog.New(slog.DiscardHandler)})
	srv.AddAPI(httpapi.Services{Auth: e.auth, Audit: e.audit, Projects: project.NewService(e.db, e.audit)})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	_, secret, err := e.auth.CreateToken(ctx, "alice", "test", auth.KindAPI, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/projects/sepsis/members", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Members []auth.Member `json:"members"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("members: %d %v", res.StatusCode, err)
	}
	sources := map[string]string{}
	for _, m := range out.Members {
		for _, g := range m.Grants {
			sources[m.Username+"/"+string(g.Role)] = g.Source
		}
	}
	if s, ok := sources["olga/annotator"]; !ok || s != "directory" {
		t.Errorf("olga's grant source %q (%v): %+v", s, ok, out.Members)
	}
	if s, ok := sources["alice/scientist"]; !ok || s != "" {
		t.Errorf("alice's grant source %q (%v): %+v", s, ok, out.Members)
	}
}
