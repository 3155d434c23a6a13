package web_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/auth"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
)

// govPolicy asks, for dev, a lower bound of the AUC interval of 0.7 and
// one clinician sign-off.
const govPolicy = `environments:
  dev:
    metrics:
      - {metric: roc_auc, min: 0.7}
    signoffs: 1
  test:
    clinical_tests: true
`

// gov is the governance fixture: ada, a project admin of sepsis (with a
// password), the registry, and model "sepsis-gbm" version 1 trained and
// registered by alice, whose AUC interval starts at 0.66 (under the
// policy's 0.7).
type gov struct {
	reg   *registry.Service
	model string
	v1    registry.Version
	base  string // v1's page
}

func (e *env) seedGovernance() gov {
	t := e.t
	t.Helper()
	admin := e.as("admin")
	if _, err := e.auth.CreateUser(admin, "ada", "Ada Lovelace", password, false); err != nil {
		t.Fatal(err)
	}
	if err := e.auth.Grant(admin, "sepsis", "ada", auth.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	g := gov{reg: registry.NewService(e.db, e.runs, e.audit), model: "sepsis-gbm"}
	if _, err := g.reg.SetPolicy(e.as("ada"), "sepsis", []byte(govPolicy)); err != nil {
		t.Fatal(err)
	}
	g.v1 = e.registerRisk(g.reg, g.model, 0.66)
	g.base = fmt.Sprintf("/projects/sepsis/models/%s/versions/%d", g.model, g.v1.Version)
	return g
}

// registerRisk trains a small hygie model (risk rising with age) as alice,
// and registers it from a finished run whose AUC interval starts at ciLow.
func (e *env) registerRisk(reg *registry.Service, name string, ciLow float64) registry.Version {
	t := e.t
	t.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	age := hmodel.Column{Name: "age", Num: make([]float64, 300)}
	y := hmodel.Column{Name: "y", Text: make([]string, 300)}
	for i := range age.Num {
		age.Num[i] = 20 + 70*r.Float64()
		y.Text[i] = map[bool]string{true: "1", false: "0"}[r.Float64() < (age.Num[i]-20)/70]
	}
	params, err := hmodel.ParseParams(hmodel.Logistic, nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := hmodel.Prepare(&hmodel.Table{Cols: []hmodel.Column{age, y}}, "y", "", nil, params)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pb.Fit(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ctx := e.as("alice")
	run, err := e.runs.StartRun(ctx, "sepsis", "governed", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]float64{"auc": 0.84, "test_roc_auc": 0.8, "test_roc_auc_ci_low": ciLow, "test_roc_auc_ci_high": 0.9, "test_n": 250} {
		if err := e.runs.LogMetric(ctx, run.ID, k, v, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.runs.LogParam(ctx, run.ID, "confidence_level", "0.95"); err != nil {
		t.Fatal(err)
	}
	if err := e.runs.PutArtifact(ctx, run.ID, "model/model.json", bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if err := e.runs.End(ctx, run.ID, track.Finished); err != nil {
		t.Fatal(err)
	}
	v, err := reg.Register(ctx, "sepsis", name, run.ID, "model/model.json", hmodel.Format, registry.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// check asserts a response's status and fragments, and that the page
// holds no inline style (the Content Security Policy blocks it).
func check(t *testing.T, what string, r response, status int, want []string, notWant []string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s: status %d, want %d:\n%s", what, r.StatusCode, status, r.Body)
	}
	for _, s := range want {
		if !strings.Contains(r.Body, s) {
			t.Errorf("%s: page lacks %q", what, s)
		}
	}
	for _, s := range notWant {
		if strings.Contains(r.Body, s) {
			t.Errorf("%s: page has %q", what, s)
		}
	}
	if strings.Contains(r.Body, "style=") || strings.Contains(r.Body, "<script") {
		t.Errorf("%s: inline style or script: the Content Security Policy blocks them", what)
	}
}

func TestModelPages(t *testing.T) {
	e := newEnv(t)
	g := e.seedGovernance()
	cookies := map[string]*http.Cookie{}
	for _, u := range []string{"alice", "victor", "carla", "nora", "sam", "ada"} {
		cookies[u] = e.session(u)
	}
	cases := []struct {
		name    string
		path    string
		as      string
		status  int
		want    []string
		notWant []string
	}{
		{name: "models", path: "/projects/sepsis/models", as: "alice", status: 200, want: []string{
			`id="models-title"`, `data-model="sepsis-gbm"`, `data-model="sepsis-risk"`, `href="` + g.base + `"`,
			`<span class="badge">none</span>`, `<span class="badge badge-info">dev</span>`, fmt.Sprintf(`href="/projects/sepsis/runs/%d"`, *g.v1.RunID),
			`href="/projects/sepsis/models/sepsis-gbm/cases"`, `href="/projects/sepsis/policy"`}},
		{name: "models, clinician sees no run link", path: "/projects/sepsis/models", as: "carla", status: 200,
			want: []string{`href="` + g.base + `"`}, notWant: []string{`href="/projects/sepsis/runs/`}},
		{name: "models, steward", path: "/projects/sepsis/models", as: "sam", status: 403},
		{name: "models, outsider", path: "/projects/sepsis/models", as: "nora", status: 403},
		{name: "models, signed out", path: "/projects/sepsis/models", status: 303},
		{name: "version, scientist", path: g.base, as: "alice", status: 200, want: []string{
			`id="version-title"`, `id="version-env">none</span>`, `<th scope="row" class="mono">age</th>`, "FP64", "y_probability",
			`id="promote-form"`, `name="to" value="dev"`, `id="version-run"`, `id="card-link"`, `No promotion of this version yet.`,
			`No clinician has signed this version off.`, `No clinical case is written for sepsis-gbm.`,
			`id="next-gates"`, "metric auc &gt;= 0.8 on the training run", "roc_auc ≥ 0.7 on the lower bound of its 95% confidence interval"},
			notWant: []string{`id="signoff-form"`, `id="override-form"`, `id="rollback-form"`}},
		{name: "version, clinician", path: g.base, as: "carla", status: 200, want: []string{`id="signoff-form"`, `<option value="dev" selected>`, `Run ` + fmt.Sprint(*g.v1.RunID)},
			notWant: []string{`id="promote-form"`, `id="override-form"`, `id="version-run"`}},
		{name: "version, viewer", path: g.base, as: "victor", status: 200, notWant: []string{`id="signoff-form"`, `id="promote-form"`, `id="override-form"`}},
		{name: "version, project admin", path: g.base, as: "ada", status: 200, want: []string{`id="promote-form"`, `id="override-form"`}, notWant: []string{`id="signoff-form"`}},
		{name: "version, outsider", path: g.base, as: "nora", status: 403},
		{name: "version of another project's model", path: "/projects/sepsis/models/readmit/versions/1", as: "alice", status: 404},
		{name: "no such version", path: "/projects/sepsis/models/sepsis-gbm/versions/9", as: "alice", status: 404},
		{name: "bad version", path: "/projects/sepsis/models/sepsis-gbm/versions/x", as: "alice", status: 400},
		{name: "card", path: g.base + "/card", as: "carla", status: 200, want: []string{
			`id="card-title"`, `<th scope="row" class="mono">roc_auc</th><td class="num mono">0.800</td><td class="num mono">0.660 – 0.900</td>`,
			"Membership inference: not run", `id="card-limitations"`, "No clinician has signed this version off.", `href="` + g.base + `/card.md"`, `class="breadcrumb no-print"`}},
		{name: "card, outsider", path: g.base + "/card", as: "nora", status: 403},
		{name: "policy, viewer", path: "/projects/sepsis/policy", as: "victor", status: 200, want: []string{
			`id="policy-summary"`, "roc_auc ≥ 0.7 on the lower bound of its 95% confidence interval", "1 clinician sign-off for dev",
			"every clinical test case of the model passes", `id="policy-yaml"`, `id="policy-rules"`, "auc &gt;= 0.8"},
			notWant: []string{`id="policy-form"`}},
		{name: "policy, admin", path: "/projects/sepsis/policy", as: "ada", status: 200, want: []string{`id="policy-form"`, `name="policy"`}},
		{name: "policy, steward", path: "/projects/sepsis/policy", as: "sam", status: 403},
		{name: "cases, viewer", path: "/projects/sepsis/models/sepsis-gbm/cases", as: "victor", status: 200,
			want: []string{`id="cases-title"`, "No clinical case is written for this model yet."}, notWant: []string{`id="cases-form"`}},
		{name: "cases, clinician", path: "/projects/sepsis/models/sepsis-gbm/cases", as: "carla", status: 200,
			want: []string{`id="cases-form"`, `action="/projects/sepsis/models/sepsis-gbm/cases"`, "cases:"}},
		{name: "cases of another project's model", path: "/projects/sepsis/models/readmit/cases", as: "alice", status: 404},
		{name: "run page names its model versions", path: fmt.Sprintf("/projects/sepsis/runs/%d", *g.v1.RunID), as: "victor", status: 200,
			want: []string{`href="` + g.base + `" data-model-version="sepsis-gbm/1"`, "registered model version"}},
		{name: "project links", path: "/projects/sepsis", as: "victor", status: 200, want: []string{`id="project-models-link"`, `id="project-policy-link"`,
			`href="/projects/sepsis/models/sepsis-gbm/versions/1"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc.name, e.get(tc.path, cookies[tc.as]), tc.status, tc.want, tc.notWant)
		})
	}

	t.Run("print stylesheet", func(t *testing.T) {
		css := e.get("/static/style.css", nil).Body
		i := strings.LastIndex(css, "@media print")
		if i < 0 || !strings.Contains(css[i:], ".site-header, .site-footer") || !strings.Contains(css[i:], ".no-print") {
			t.Errorf("no print rules hiding the navigation")
		}
	})
	t.Run("card markdown", func(t *testing.T) {
		r := e.get(g.base+"/card.md", cookies["victor"])
		if r.StatusCode != 200 || !strings.HasPrefix(r.Body, "# Model card: sepsis-gbm version 1") {
			t.Fatalf("status %d, body %.80q", r.StatusCode, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); ct != "text/markdown; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename=model-card-sepsis-gbm-v1.md` {
			t.Errorf("Content-Disposition %q", cd)
		}
	})
}

func TestGovernanceForms(t *testing.T) {
	e := newEnv(t)
	g := e.seedGovernance()
	admin := e.as("admin")
	// dora is a clinician who also trains models: she may sign off, but
	// not her own model.
	if _, err := e.auth.CreateUser(admin, "dora", "Dora", password, false); err != nil {
		t.Fatal(err)
	}
	for _, role := range []auth.Role{auth.RoleScientist, auth.RoleClinicianValidator} {
		if err := e.auth.Grant(admin, "sepsis", "dora", role); err != nil {
			t.Fatal(err)
		}
	}
	own := e.registerRiskAs("dora", g.reg, "dora-model")
	alice, victor, carla, ada, dora := e.session("alice"), e.session("victor"), e.session("carla"), e.session("ada"), e.session("dora")
	post := func(path string, form url.Values, c *http.Cookie) response {
		t.Helper()
		return e.do("POST", path, form, c, "")
	}

	// Sign-off.
	signoff := g.base + "/signoff"
	check(t, "viewer signs off", post(signoff, url.Values{"environment": {"dev"}, "comment": {"ok"}}, victor), 403, nil, nil)
	check(t, "scientist signs off", post(signoff, url.Values{"environment": {"dev"}, "comment": {"ok"}}, alice), 403, nil, nil)
	check(t, "cross-site sign-off", e.do("POST", signoff, url.Values{"environment": {"dev"}, "comment": {"ok"}}, carla, "https://evil.example"), 403, nil, nil)
	check(t, "sign-off without comment", post(signoff, url.Values{"environment": {"test"}, "comment": {"  "}}, carla), 400,
		[]string{`id="form-error" data-form="signoff"`, "a sign-off needs a comment", `<option value="test" selected>`}, nil)
	check(t, "sign-off of one's own model", post(fmt.Sprintf("/projects/sepsis/models/dora-model/versions/%d/signoff", own.Version),
		url.Values{"environment": {"dev"}, "comment": {"all good"}}, dora), 403,
		[]string{`id="form-error"`, "the author of a model cannot sign it off", ">all good</textarea>"}, nil)
	r := post(signoff, url.Values{"environment": {"dev"}, "comment": {"calibration reviewed with the ICU team"}}, carla)
	if r.StatusCode != 303 || r.Header.Get("Location") != g.base+"?done=signoff" {
		t.Fatalf("sign-off: %d to %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	check(t, "after sign-off", e.get(g.base+"?done=signoff", carla), 200,
		[]string{`id="flash"`, "Your sign-off was recorded.", `id="signoff-list"`, "calibration reviewed with the ICU team", "<th scope=\"row\">carla</th>"}, nil)

	// Promotion: refused by the AUC gate, with the report.
	promote := g.base + "/promote"
	check(t, "viewer promotes", post(promote, url.Values{"to": {"dev"}}, victor), 403, nil, nil)
	check(t, "clinician promotes", post(promote, url.Values{"to": {"dev"}}, carla), 403, nil, nil)
	check(t, "refused promotion", post(promote, url.Values{"to": {"dev"}}, alice), 409, []string{
		`id="form-error" data-form="promote"`, "The promotion to dev was refused: 1 of 3 gates failed.", `id="refusal"`,
		`<tr class="gate-row-fail" data-pass="false">`, "roc_auc (lower bound of the 95% CI)", "0.66 (estimate 0.8)", "≥ 0.7", "✗ FAIL",
		"clinician sign-offs for dev", "✓ pass", `data-outcome="denied"`}, []string{`id="override-form"`})
	check(t, "skipping an environment", post(promote, url.Values{"to": {"test"}}, alice), 409, []string{"next environment"}, []string{`id="refusal"`})

	// Override: project admins only, with a reason.
	override := g.base + "/override"
	check(t, "scientist overrides", post(override, url.Values{"to": {"dev"}, "reason": {"urgent"}}, alice), 403, nil, nil)
	check(t, "override without reason", post(override, url.Values{"to": {"dev"}, "reason": {""}}, ada), 400, []string{"an override needs a reason"}, nil)
	r = post(override, url.Values{"to": {"dev"}, "reason": {"pilot approved by the committee"}}, ada)
	if r.StatusCode != 303 || r.Header.Get("Location") != g.base+"?done=override" {
		t.Fatalf("override: %d to %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	check(t, "after override", e.get(g.base+"?done=override", alice), 200, []string{
		`id="version-env">dev</span>`, `data-outcome="override"`, "Override reason:</span> pilot approved by the committee",
		`data-outcome="denied"`, `name="to" value="test"`}, nil)

	// Policy: project admins only; a parse error names the field and line,
	// and the text typed is kept.
	check(t, "scientist edits the policy", post("/projects/sepsis/policy", url.Values{"policy": {"environments: {}\n"}}, alice), 403, nil, nil)
	bad := "environments:\n  dev:\n    signofs: 1\n"
	check(t, "bad policy", post("/projects/sepsis/policy", url.Values{"policy": {bad}}, ada), 400,
		[]string{`id="policy-error"`, "line 3: field signofs not found", "    signofs: 1\n</textarea>"}, nil)
	r = post("/projects/sepsis/policy", url.Values{"policy": {"environments:\n  test:\n    min_test_rows: 100\n"}}, ada)
	if r.StatusCode != 303 || r.Header.Get("Location") != "/projects/sepsis/policy?saved=1" {
		t.Fatalf("policy: %d to %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	check(t, "after policy", e.get("/projects/sepsis/policy?saved=1", victor), 200, []string{`id="flash"`, "at least 100 rows in the test set", "min_test_rows: 100"},
		[]string{"clinician sign-off"})

	// Clinical cases: clinicians or scientists write them; they run on the
	// version page.
	casesPath := "/projects/sepsis/models/sepsis-gbm/cases"
	doc := "cases:\n  - {name: old patient, inputs: {age: 88}, expect: {min: 0.6}}\n  - {name: young patient, inputs: {age: 22}, expect: {max: 0.01}}\n"
	check(t, "viewer writes cases", post(casesPath, url.Values{"cases": {doc}}, victor), 403, nil, nil)
	check(t, "bad cases", post(casesPath, url.Values{"cases": {"cases:\n  - {name: x, inputs: {age: 1}}\n"}}, carla), 400,
		[]string{`id="cases-error"`, "expect needs min, max or both", "inputs: {age: 1}}\n</textarea>"}, nil)
	r = post(casesPath, url.Values{"cases": {doc}}, carla)
	if r.StatusCode != 303 || r.Header.Get("Location") != casesPath+"?saved=1" {
		t.Fatalf("cases: %d to %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	check(t, "cases page", e.get(casesPath+"?saved=1", victor), 200, []string{`id="flash"`, `id="case-list"`, "old patient", "≥ 0.6"}, nil)
	check(t, "case results", e.get(g.base, victor), 200, []string{`id="case-results"`, "old patient", "young patient", "✗ FAIL", "≤ 0.01"}, nil)
	check(t, "scientist's cases form", e.get("/projects/sepsis/models/new-model/cases", alice), 200, []string{`action="/projects/sepsis/models/new-model/cases/write"`}, nil)
	check(t, "scientist writes cases", post("/projects/sepsis/models/new-model/cases/write", url.Values{"cases": {doc}}, alice), 303, nil, nil)
	check(t, "scientist on the clinicians' route", post("/projects/sepsis/models/new-model/cases", url.Values{"cases": {doc}}, alice), 403, nil, nil)
	check(t, "clinician on the writers' route", post(casesPath+"/write", url.Values{"cases": {doc}}, carla), 403, nil, nil)
	check(t, "empty policy", post("/projects/sepsis/policy", url.Values{"policy": {"  \n"}}, ada), 400, []string{`id="policy-error"`, "the policy is empty"}, nil)
}

// registerRiskAs registers a risk model trained by user.
func (e *env) registerRiskAs(user string, reg *registry.Service, name string) registry.Version {
	e.t.Helper()
	ctx := e.as(user)
	run, err := e.runs.StartRun(ctx, "sepsis", "governed", "", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.runs.PutArtifact(ctx, run.ID, "model.json", strings.NewReader(`{}`)); err != nil {
		e.t.Fatal(err)
	}
	if err := e.runs.End(ctx, run.ID, track.Finished); err != nil {
		e.t.Fatal(err)
	}
	v, err := reg.Register(ctx, "sepsis", name, run.ID, "model.json", "linear", registry.Signature{})
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func TestRollbackForm(t *testing.T) {
	e := newEnv(t)
	g := e.seedGovernance()
	ada := e.as("ada")
	v2 := e.registerRisk(g.reg, g.model, 0.75)
	for _, v := range []int{g.v1.Version, v2.Version} {
		for _, env := range []string{"dev", "test", "integration", "production"} {
			if _, err := g.reg.PromoteOverride(ada, g.model, v, env, "fixture"); err != nil {
				t.Fatal(err)
			}
		}
	}
	v2Page := fmt.Sprintf("/projects/sepsis/models/%s/versions/%d", g.model, v2.Version)
	alice, victor := e.session("alice"), e.session("victor")
	check(t, "production version", e.get(v2Page, alice), 200, []string{`id="version-env">production</span>`, `id="rollback-form"`, "cannot be promoted further"},
		[]string{`id="promote-form"`})
	check(t, "archived version", e.get(g.base, alice), 200, []string{`id="version-env">archived</span>`}, []string{`id="rollback-form"`, `id="promote-form"`})
	check(t, "viewer rolls back", e.do("POST", v2Page+"/rollback", url.Values{"reason": {"alerts"}}, victor, ""), 403, nil, nil)
	check(t, "rollback without reason", e.do("POST", v2Page+"/rollback", url.Values{"reason": {""}}, alice, ""), 400, []string{"a rollback needs a reason"}, nil)
	check(t, "rollback of an archived version", e.do("POST", g.base+"/rollback", url.Values{"reason": {"x"}}, alice, ""), 409, []string{"nothing to roll back"}, nil)
	r := e.do("POST", v2Page+"/rollback", url.Values{"reason": {"false alerts from the ward"}}, alice, "")
	if r.StatusCode != 303 || r.Header.Get("Location") != g.base+"?done=rollback" {
		t.Fatalf("rollback: %d to %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	check(t, "after rollback", e.get(g.base+"?done=rollback", alice), 200, []string{`id="version-env">production</span>`, "Production was rolled back",
		`data-outcome="rollback"`, "Rollback reason:</span> false alerts from the ward"}, nil)
}
