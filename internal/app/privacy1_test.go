package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/demo"
)

func TestPrivacyIRoutes(t *testing.T) {
	a, _ := openDemo(t, sqliteConfig(t))
	ctx := context.Background()
	ts := httptest.NewServer(a.Server)
	defer ts.Close()
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"p1-sci", auth.RoleScientist}, {"p1-reid", auth.RoleReidentifier}, {"p1-stew", auth.RoleSteward}} {
		if _, err := a.Auth.CreateUser(ctx, u.name, "", "", false); err != nil {
			t.Fatal(err)
		}
		if err := a.Auth.Grant(ctx, demo.Project, u.name, u.role); err != nil {
			t.Fatal(err)
		}
	}
	// The demo's pseudonymized cohort: the first pseudonym and its patient.
	steward, _ := a.Auth.PrincipalOf(ctx, "p1-stew")
	sctx := auth.WithPrincipal(ctx, steward)
	pv, err := a.Datasets.Get(ctx, demo.Project, "cohort_pseudo", 1)
	if err != nil {
		t.Fatal(err)
	}
	f, err := a.Datasets.ReadFrame(sctx, pv)
	if err != nil {
		t.Fatal(err)
	}
	col, _ := f.Col("patient_id")
	pseudonym := col.String(0)
	raw, _ := a.Datasets.Get(ctx, demo.Project, "cohort", 1)
	rf, _ := a.Datasets.ReadFrame(sctx, raw)
	rcol, _ := rf.Col("patient_id")
	original := rcol.String(0)
	_ = dataset.Identifying

	do := func(who, path, body string) (int, map[string]any, http.Header) {
		_, secret, err := a.Auth.CreateToken(ctx, who, "t", auth.KindAPI, time.Hour, "")
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m, resp.Header
	}
	deidPath := "/api/v1/projects/" + demo.Project + "/deid"
	reidPath := "/api/v1/projects/" + demo.Project + "/vault/reidentify"
	reason := `{"pseudonym": "` + pseudonym + `", "reason": "contact the patient about a result"}`
	tests := []struct {
		name, who, path, body string
		status                int
		check                 func(m map[string]any) bool
	}{
		{"scientist de-identifies a text", "p1-sci", deidPath, `{"text": "Mme Jeanne Dupont, née le 12/03/1950, tél 06 12 34 56 78.", "mode": "mask"}`, 200,
			func(m map[string]any) bool {
				s, _ := m["text"].(string)
				ents, _ := m["entities"].([]any)
				return !strings.Contains(s, "06 12 34 56 78") && strings.Contains(s, "[TEL]") && len(ents) >= 2
			}},
		{"bad mode", "p1-sci", deidPath, `{"text": "x", "mode": "shout"}`, 400, nil},
		{"reidentifier may not de-identify", "p1-reid", deidPath, `{"text": "x"}`, 403, nil},
		{"steward may not open the vault", "p1-stew", reidPath, reason, 403, nil},
		{"reidentifier without reason", "p1-reid", reidPath, `{"pseudonym": "` + pseudonym + `", "reason": ""}`, 400, nil},
		{"reidentifier with reason", "p1-reid", reidPath, reason, 200, func(m map[string]any) bool { return m["original"] == original }},
		{"unknown pseudonym", "p1-reid", reidPath, `{"pseudonym": "PSnope", "reason": "contact the patient about a result"}`, 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, m, h := do(tt.who, tt.path, tt.body)
			if st != tt.status || (tt.check != nil && !tt.check(m)) {
				t.Fatalf("HTTP %d %v, want %d", st, m, tt.status)
			}
			if st == 200 && h.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", h.Get("Cache-Control"))
			}
		})
	}
}
