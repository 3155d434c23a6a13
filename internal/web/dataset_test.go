package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/dataset"
)

// heightRecipe is the demo's recipe, as the dataset page prefills it.
const heightRecipe = `name: height-in-metres
steps:
  - convert: {column: taille_cm, from: cm, to: m, as: taille_m, digits: 3}
`

func TestDatasetPage(t *testing.T) {
	e := newEnv(t)
	cookies := map[string]*http.Cookie{}
	for _, u := range []string{"admin", "alice", "victor", "carla", "nora", "sam"} {
		cookies[u] = e.session(u)
	}
	const (
		pseudo = "/projects/sepsis/datasets/admissions_pseudo"
		ident  = "/projects/sepsis/datasets/admissions"
	)
	profile := []string{`id="profile-summary"`, `data-column="taille_cm"`, `data-column="lactate"`, `data-column="admission"`, `data-column="diabete"`,
		`aria-label="Histogram of taille_cm, bins of width 10"`, `aria-label="Timeline of admission, per month"`, `<rect class="bar" x=`,
		`class="bar bar-suppressed"`, "&lt;5 (suppressed: small count)", "≥5", `id="suppressed-legend"`, "Most frequent values", `data-withheld="identifier"`}
	cases := []struct {
		name, as, path string
		status         int
		want, not      []string
	}{
		{name: "scientist, pseudonymized version", as: "alice", path: pseudo, status: 200,
			want: append([]string{`id="dataset-title"`, "pseudonymized", `id="versions"`, `id="schema"`, "naissance_annee", "quasi_identifier",
				`id="lineage"`, `href="/projects/sepsis/datasets/admissions?v=1"`, "admissions@1", "imported", "admissions_pseudo@1", "pseudonymize: hmac-sha256",
				`id="recipe"`, `id="digest"`, `id="transform-form"`, `action="/projects/sepsis/datasets/admissions_pseudo/transform#transform"`,
				`name="version" value="1"`, "convert: {column: taille_cm, from: cm, to: m, as: taille_m, digits: 3}", `id="recipe-steps-help"`, "one_hot"}, profile...),
			not: []string{`id="identifying-note"`, `id="profile-note"`}},
		{name: "the version asked for", as: "alice", path: pseudo + "?v=1", status: 200, want: []string{`id="profile-summary"`, "(the latest)"}},
		{name: "scientist, identifying version: schema and lineage, no profile, no form", as: "alice", path: ident, status: 200,
			want: []string{`id="schema"`, "direct_identifier", `id="lineage"`, `id="profile-note"`, "data stewards", `id="encrypted">yes`},
			not:  []string{`id="profile-summary"`, `<rect class="bar"`, `id="transform-form"`, `id="identifying-note"`}},
		{name: "steward, identifying version: profile with the audit note, identifiers withheld", as: "sam", path: ident, status: 200,
			want: []string{`id="profile-summary"`, `id="identifying-note"`, "audit log", `data-column="nom"`, `data-withheld="identifier"`, `data-withheld="free_text"`,
				`aria-label="Timeline of naissance, per year"`, `id="transform-form"`}},
		{name: "admin reads the pseudonymized profile, no recipe form", as: "admin", path: pseudo, status: 200,
			want: []string{`id="profile-summary"`}, not: []string{`id="transform-form"`}},
		{name: "viewer without dataset.read", as: "victor", path: pseudo, status: 403, want: []string{"Access denied", "dataset.read"}, not: []string{"admissions_pseudo@1"}},
		{name: "clinician without dataset.read", as: "carla", path: ident, status: 403},
		{name: "no role", as: "nora", path: pseudo, status: 403},
		{name: "malformed version", as: "alice", path: pseudo + "?v=latest", status: 400, want: []string{"positive number"}},
		{name: "unknown version", as: "alice", path: pseudo + "?v=9", status: 404},
		{name: "unknown dataset", as: "alice", path: "/projects/sepsis/datasets/nope", status: 404},
		{name: "another project's dataset name", as: "alice", path: "/projects/cardio/datasets/admissions_pseudo", status: 404},
		{name: "project page links its datasets", as: "alice", path: "/projects/sepsis", status: 200,
			want: []string{`href="/projects/sepsis/datasets/admissions_pseudo"`, `href="/projects/sepsis/datasets/admissions"`, `href="/projects/sepsis/datasets/icu_vitals"`,
				`<a href="/projects/sepsis/datasets/admissions?v=1">admissions@1</a>`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(tc.path, cookies[tc.as])
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body:\n%s", r.StatusCode, tc.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q", ct)
			}
			for _, s := range tc.want {
				if !strings.Contains(r.Body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(r.Body, s) {
					t.Errorf("page shows %q", s)
				}
			}
			e.noSecrets(t, tc.path, r.Body)
		})
	}

	t.Run("only the steward's view read identifying data, audited", func(t *testing.T) {
		evs, err := e.audit.List(context.Background(), audit.Filter{Action: "dataset.read_identifying"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Actor != "sam" || evs[0].Outcome != audit.Success || evs[0].Target != "dataset:admissions@1" {
			t.Fatalf("identifying reads %+v, want one by sam", evs)
		}
	})
}

// TestNoIdentifyingValueOnAnyPage opens every page of the UI as every user
// and looks for the identifying cells of the seeded extract.
func TestNoIdentifyingValueOnAnyPage(t *testing.T) {
	e := newEnv(t)
	paths := []string{"/", "/projects/sepsis", "/projects/sepsis/audit", "/admin/audit", "/admin/audit?action=dataset.*",
		"/projects/sepsis/datasets/admissions", "/projects/sepsis/datasets/admissions?v=1",
		"/projects/sepsis/datasets/admissions_pseudo", "/projects/sepsis/datasets/icu_vitals",
		"/projects/sepsis/models", "/projects/sepsis/models/sepsis-risk/versions/1", "/projects/sepsis/models/sepsis-risk/versions/1/card",
		"/projects/sepsis/models/sepsis-risk/cases", "/projects/sepsis/policy"}
	pages := 0
	for _, u := range []string{"admin", "alice", "victor", "carla", "nora", "sam"} {
		c := e.session(u)
		for _, p := range paths {
			r := e.get(p, c)
			if r.StatusCode == 200 {
				pages++
			}
			e.noSecrets(t, u+" "+p, r.Body)
		}
	}
	// The steward's bad recipe on the identifying version re-renders it.
	r := e.do("POST", "/projects/sepsis/datasets/admissions/transform", url.Values{"version": {"1"}, "recipe": {"steps:\n  - drop: [absent]\n"}}, e.session("sam"), "")
	if r.StatusCode != 400 {
		t.Fatalf("bad recipe: %d", r.StatusCode)
	}
	e.noSecrets(t, "sam's recipe error", r.Body)
	if pages < 25 {
		t.Fatalf("only %d pages opened", pages)
	}
}

// noSecrets fails when a page shows an identifying cell of the seeded
// extract or of the pseudonymized dataset.
func (e *env) noSecrets(t *testing.T, page, body string) {
	t.Helper()
	if len(e.secrets) == 0 {
		t.Fatal("no seeded secrets")
	}
	for _, s := range append([]string{"IPP-", "douleur thoracique", rowValue, "PSEUDO-"}, e.secrets...) {
		if strings.Contains(body, s) {
			t.Errorf("%s shows identifying value %q", page, s)
			return
		}
	}
}

func TestTransform(t *testing.T) {
	e := newEnv(t)
	alice, victor := e.session("alice"), e.session("victor")
	const path = "/projects/sepsis/datasets/admissions_pseudo/transform"
	ctx := e.as("sam")
	before, err := e.datasets.List(ctx, "sepsis")
	if err != nil {
		t.Fatal(err)
	}
	nothingCreated := func(t *testing.T) {
		t.Helper()
		after, err := e.datasets.List(ctx, "sepsis")
		if err != nil {
			t.Fatal(err)
		}
		vs, _ := e.datasets.Versions(ctx, "sepsis", "admissions_pseudo")
		if len(after) != len(before) || len(vs) != 1 {
			t.Errorf("a failed transform created a version: %d datasets (was %d), %d versions", len(after), len(before), len(vs))
		}
	}

	bad := []struct {
		name, recipe, output, version string
		status                        int
		want                          []string
	}{
		{name: "unknown column", recipe: "name: x\nsteps:\n  - select: [ipp]\n  - convert: {column: poids, from: kg, to: g}\n", version: "1", status: 400,
			want: []string{"recipe step 2 (convert)", "poids"}},
		{name: "unknown step", recipe: "steps:\n  - explode: {}\n", version: "1", status: 400, want: []string{"recipe step 1", "unknown step", "explode"}},
		{name: "failed quality check", recipe: "steps:\n  - row_count: {min: 1000}\n", version: "1", status: 400, want: []string{"recipe step 1 (row_count)"}},
		{name: "malformed YAML", recipe: "steps: [\n", version: "1", status: 400, want: []string{"recipe:"}},
		{name: "empty recipe", recipe: "", version: "1", status: 400, want: []string{"recipe: empty"}},
		{name: "invalid output name", recipe: heightRecipe, output: "Cohort Final", version: "1", status: 400, want: []string{"dataset name", `value="Cohort Final"`}},
		{name: "no version", recipe: heightRecipe, status: 400, want: []string{"no version"}},
		{name: "unknown version", recipe: heightRecipe, version: "7", status: 404},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"recipe": {tc.recipe}, "output": {tc.output}, "version": {tc.version}}
			r := e.do("POST", path, form, alice, "")
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d:\n%s", r.StatusCode, tc.status, r.Body)
			}
			for _, s := range tc.want {
				if !strings.Contains(r.Body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			if tc.status == 400 && tc.version != "" {
				// The page again, with the error and the recipe as typed.
				for _, s := range []string{`id="transform-error"`, `aria-invalid="true"`, `id="profile-summary"`, `id="lineage"`} {
					if !strings.Contains(r.Body, s) {
						t.Errorf("re-rendered page lacks %q", s)
					}
				}
				if typed := between(r.Body, `name="recipe"`, "</textarea>"); !strings.Contains(typed, strings.ReplaceAll(tc.recipe, `"`, "&#34;")) {
					t.Errorf("the recipe typed is not kept: %q", typed)
				}
			}
			nothingCreated(t)
		})
	}

	t.Run("viewer may not transform", func(t *testing.T) {
		r := e.do("POST", path, url.Values{"recipe": {heightRecipe}, "version": {"1"}}, victor, "")
		if r.StatusCode != 403 {
			t.Fatalf("status %d", r.StatusCode)
		}
		nothingCreated(t)
	})
	t.Run("cross-site post refused", func(t *testing.T) {
		r := e.do("POST", path, url.Values{"recipe": {heightRecipe}, "version": {"1"}, "output": {"cohort"}}, alice, "https://evil.example")
		if r.StatusCode != 403 {
			t.Fatalf("status %d", r.StatusCode)
		}
		nothingCreated(t)
	})
	t.Run("scientist may not transform an identifying version", func(t *testing.T) {
		r := e.do("POST", "/projects/sepsis/datasets/admissions/transform", url.Values{"recipe": {"steps:\n  - drop: [nom]\n"}, "version": {"1"}, "output": {"leak"}}, alice, "")
		if r.StatusCode != 403 {
			t.Fatalf("status %d:\n%s", r.StatusCode, r.Body)
		}
		if _, err := e.datasets.Get(ctx, "sepsis", "leak", 0); err == nil {
			t.Errorf("a version was created")
		}
		evs, _ := e.audit.List(context.Background(), audit.Filter{Action: "dataset.read_identifying", Actor: "alice"})
		if len(evs) != 1 || evs[0].Outcome != audit.Denied {
			t.Errorf("the refused read is not audited: %+v", evs)
		}
	})

	t.Run("good recipe: a new version linked to its parent", func(t *testing.T) {
		// Typed in a browser: lines end in CRLF.
		form := url.Values{"recipe": {strings.ReplaceAll(heightRecipe, "\n", "\r\n")}, "version": {"1"}, "output": {" cohort "}}
		r := e.do("POST", path, form, alice, "")
		if r.StatusCode != 303 || r.Header.Get("Location") != "/projects/sepsis/datasets/cohort?v=1&created=1#top" {
			t.Fatalf("status %d → %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
		}
		v, err := e.datasets.Get(ctx, "sepsis", "cohort", 1)
		if err != nil {
			t.Fatal(err)
		}
		if v.Parent != "admissions_pseudo@1" || v.Recipe != heightRecipe || v.Level != dataset.Pseudonymized || v.CreatedBy != "alice" || v.Rows != 120 {
			t.Errorf("new version %+v", v)
		}
		var names []string
		for _, c := range v.Columns {
			names = append(names, c.Name)
		}
		if got := strings.Join(names, ","); !strings.Contains(got, "taille_m") || strings.Contains(got, "taille_cm") {
			t.Errorf("columns %s", got)
		}
		page := e.get(r.Header.Get("Location"), alice)
		for _, s := range []string{`id="flash"`, "cohort@1 was created", "admissions@1", "admissions_pseudo@1", "name: height-in-metres",
			"convert taille_cm from cm to m as taille_m", `aria-label="Histogram of taille_m`} {
			if !strings.Contains(page.Body, s) {
				t.Errorf("new version's page lacks %q", s)
			}
		}
		if n := strings.Count(between(page.Body, `id="lineage"`, "</ol>"), "lineage-box"); n != 3 {
			t.Errorf("lineage has %d boxes, want 3", n)
		}
		e.noSecrets(t, "cohort@1", page.Body)

		// The same recipe again: the same content, nothing new.
		r = e.do("POST", path, form, alice, "")
		if r.StatusCode != 303 || r.Header.Get("Location") != "/projects/sepsis/datasets/cohort?v=1&created=0#top" {
			t.Fatalf("again: %d → %q", r.StatusCode, r.Header.Get("Location"))
		}
		if vs, _ := e.datasets.Versions(ctx, "sepsis", "cohort"); len(vs) != 1 {
			t.Errorf("%d versions of cohort, want 1", len(vs))
		}
	})
}
