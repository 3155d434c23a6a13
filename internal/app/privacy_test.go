package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/demo"
	"github.com/hygie-health/hygie/internal/demo/cohort"
)

// TestPrivacyRoutes exercises risk, anonymisation and differential privacy
// on the demo's dataset versions over HTTP, API and web pages.
func TestPrivacyRoutes(t *testing.T) {
	a, _ := openDemo(t, sqliteConfig(t))
	ctx := context.Background()
	ts := httptest.NewServer(a.Server)
	defer ts.Close()
	if _, err := a.Auth.CreateUser(ctx, "vic", "", "", false); err != nil {
		t.Fatal(err)
	}
	if err := a.Auth.Grant(ctx, demo.Project, "vic", auth.RoleViewer); err != nil {
		t.Fatal(err)
	}
	tok := map[string]string{}
	for _, u := range []string{"admin", "marc", "sophie", "vic"} {
		_, secret, err := a.Auth.CreateToken(ctx, u, "privacy-test", auth.KindAPI, time.Hour, "")
		if err != nil {
			t.Fatal(err)
		}
		tok[u] = secret
	}
	do := func(who, method, path, ctype, body string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok[who])
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	const base = "/api/v1/projects/" + demo.Project + "/datasets/"
	const js = "application/json"

	// Risk.
	code, body, _ := do("marc", "GET", base+"cohort_pseudo/versions/1/risk?qi=sexe,date_naissance_annee&sampling_fraction=0.5", "", "")
	var rr struct {
		Risk struct {
			K                int      `json:"k"`
			Rows             int      `json:"rows"`
			QuasiIdentifiers []string `json:"quasi_identifiers"`
			SamplingFraction float64  `json:"sampling_fraction"`
		} `json:"risk"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &rr) != nil || rr.Risk.Rows != demoPatients || rr.Risk.K < 1 || rr.Risk.SamplingFraction != 0.5 || len(rr.Risk.QuasiIdentifiers) != 2 {
		t.Fatalf("risk: %d %s", code, body)
	}
	for who, want := range map[string]int{"vic": 403, "marc": 403, "sophie": 200} {
		if code, body, _ := do(who, "GET", base+"cohort/versions/1/risk?qi=sexe,date_naissance", "", ""); code != want {
			t.Errorf("risk of the identifying version as %s: %d %s, want %d", who, code, body, want)
		}
	}
	if code, _, _ := do("marc", "GET", base+"cohort_pseudo/versions/1/risk?sampling_fraction=2", "", ""); code != 400 {
		t.Errorf("bad sampling fraction: %d", code)
	}

	// Anonymise.
	cfg := `{"k": 10, "max_suppression": 0.05, "metric": "loss", "output": "cohort_k10",
		"quasi_identifiers": [{"column": "sexe"}, {"column": "date_naissance_annee", "hierarchy": "interval:10,20,40"}]}`
	code, body, _ = do("marc", "POST", base+"cohort_pseudo/versions/1/anonymize", js, cfg)
	var ar struct {
		Version struct {
			Dataset string `json:"dataset"`
			Version int    `json:"version"`
			Level   string `json:"privacy_level"`
			Parent  string `json:"parent"`
		} `json:"version"`
		SmallestClass int            `json:"smallest_class"`
		Levels        map[string]int `json:"levels"`
		RiskAfter     struct {
			K int `json:"k"`
		} `json:"risk_after"`
	}
	if code != 201 || json.Unmarshal([]byte(body), &ar) != nil || ar.Version.Level != "anonymized" || ar.Version.Parent != "cohort_pseudo@1" || ar.SmallestClass < 10 || ar.RiskAfter.K < 1 {
		t.Fatalf("anonymize: %d %s", code, body)
	}
	if code, _, _ := do("vic", "POST", base+"cohort_pseudo/versions/1/anonymize", js, cfg); code != 403 {
		t.Errorf("viewer anonymize: %d", code)
	}
	if code, _, _ := do("marc", "POST", base+"cohort/versions/1/anonymize", js, cfg); code != 403 {
		t.Errorf("scientist anonymizing the identifying version: %d", code)
	}
	if code, _, _ := do("marc", "POST", base+"cohort_pseudo/versions/1/anonymize", js, `{"k": 100000}`); code != 400 {
		t.Errorf("infeasible k: %d", code)
	}

	// Differential privacy.
	if code, body, _ := do("marc", "GET", base+"cohort_features/dp-budget", "", ""); code != 200 || !strings.Contains(body, `"budget": null`) {
		t.Errorf("budget before: %d %s", code, body)
	}
	if code, _, _ := do("marc", "PUT", base+"cohort_features/dp-budget", js, `{"epsilon": "2"}`); code != 403 {
		t.Errorf("scientist sets a budget: %d", code)
	}
	if code, body, _ := do("admin", "PUT", base+"cohort_features/dp-budget", js, `{"epsilon": "2", "delta": "1e-6"}`); code != 200 {
		t.Fatalf("set budget: %d %s", code, body)
	}
	q := `{"kind": "count", "epsilon": "0.5", "by": [{"column": "sexe", "categories": ["F", "M"]}]}`
	code, body, _ = do("marc", "POST", base+"cohort_features/versions/1/dp", js, q)
	if code != 201 || !strings.Contains(body, `"epsilon_spent": "0.5"`) {
		t.Fatalf("release: %d %s", code, body)
	}
	if code, _, _ := do("vic", "POST", base+"cohort_features/versions/1/dp", js, q); code != 403 {
		t.Errorf("viewer release: %d", code)
	}
	if code, _, _ := do("marc", "POST", base+"cohort_features/versions/1/dp", js, `{"kind": "count", "epsilon": "5"}`); code != 409 {
		t.Errorf("over budget: %d", code)
	}
	if code, body, _ := do("marc", "GET", base+"cohort_features/dp-budget", "", ""); code != 200 || !strings.Contains(body, `"releases": 1`) || !strings.Contains(body, `"cells"`) {
		t.Errorf("budget after: %d %s", code, body)
	}

	// Web pages: never an identifying value.
	patients := cohort.Generate(demoPatients, 7)
	clean := func(what, html string) {
		t.Helper()
		for _, p := range patients[:100] {
			if strings.Contains(html, p.NIR) || strings.Contains(html, p.PatientID) {
				t.Fatalf("%s shows an identifier", what)
			}
		}
	}
	code, html, _ := do("sophie", "GET", "/projects/"+demo.Project+"/datasets/cohort/risk?v=1", "", "")
	if code != 200 || !strings.Contains(html, "Singling out") || !strings.Contains(html, "Prosecutor") || !strings.Contains(html, `id="anon-form"`) {
		t.Fatalf("risk page (steward, identifying): %d", code)
	}
	clean("risk page", html)
	code, html, _ = do("marc", "GET", "/projects/"+demo.Project+"/datasets/cohort/risk?v=1", "", "")
	if code != 200 || !strings.Contains(html, `id="risk-note"`) || strings.Contains(html, "anon-form") {
		t.Errorf("risk page (scientist, identifying): %d", code)
	}
	code, html, _ = do("marc", "GET", "/projects/"+demo.Project+"/datasets/cohort_pseudo", "", "")
	if code != 200 || !strings.Contains(html, `/projects/demo-bmi/datasets/cohort_pseudo/risk?v=1`) {
		t.Errorf("dataset page links no risk page: %d", code)
	}
	form := url.Values{"version": {"1"}, "k": {"20"}, "max_suppression": {"0.05"}, "metric": {"entropy"}, "output": {"cohort_k20"},
		"qi": {"sexe", "date_naissance_annee"}, "h.date_naissance_annee": {"interval:10,20,40"}}
	code, _, hdr := do("marc", "POST", "/projects/"+demo.Project+"/datasets/cohort_pseudo/anonymize", "application/x-www-form-urlencoded", form.Encode())
	if code != 303 || !strings.HasPrefix(hdr.Get("Location"), "/projects/demo-bmi/datasets/cohort_k20?v=1") {
		t.Errorf("anonymize form: %d %s", code, hdr.Get("Location"))
	}
	form.Set("k", "100000")
	code, html, _ = do("marc", "POST", "/projects/"+demo.Project+"/datasets/cohort_pseudo/anonymize", "application/x-www-form-urlencoded", form.Encode())
	if code != 400 || !strings.Contains(html, `id="anon-error"`) {
		t.Errorf("anonymize form error: %d", code)
	}
	code, _, hdr = do("marc", "POST", "/projects/"+demo.Project+"/dp/release", "application/x-www-form-urlencoded",
		url.Values{"dataset": {"cohort_features@1"}, "epsilon": {"0.25"}, "by": {"sexe"}, "categories": {"sexe=F,M"}}.Encode())
	if code != 303 || !strings.HasPrefix(hdr.Get("Location"), "/projects/demo-bmi/dp?released=") {
		t.Errorf("dp form: %d %s", code, hdr.Get("Location"))
	}
	code, html, _ = do("marc", "GET", "/projects/"+demo.Project+"/dp", "", "")
	if code != 200 || !strings.Contains(html, `data-dataset="cohort_features"`) || !strings.Contains(html, "0.75") || strings.Count(html, "F, M") != 0 && !strings.Contains(html, "F: ") {
		t.Errorf("dp page: %d", code)
	}
	clean("dp page", html)
	if code, _, _ := do("vic", "GET", "/projects/"+demo.Project+"/dp", "", ""); code != 403 {
		t.Errorf("viewer dp page: %d", code)
	}
}
