package registry_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
)

func TestParsePolicy(t *testing.T) {
	ok := `
confidence_level: 0.95
prevalence: 0.1
environments:
  integration:
    metrics:
      - {metric: sensitivity, min: 0.8}
      - {metric: brier, max: 0.2}
      - {metric: ppv_at_prevalence, min: 0.2}
    min_test_rows: 100
    subgroups: {column: sexe, metric: roc_auc, min: 0.6}
    signoffs: 2
    privacy_audit: {max_advantage: 0.1}
    clinical_tests: true
    no_regression: {metric: roc_auc, margin: 0.02}
webhooks:
  - {url: "https://chat.example/hooks"}
`
	p, err := registry.ParsePolicy([]byte(ok))
	if err != nil || p.Environments["integration"].Signoffs != 2 || *p.Environments["integration"].Metrics[1].Max != 0.2 {
		t.Fatalf("%+v %v", p, err)
	}
	if p, err := registry.ParsePolicy(nil); err != nil || p.Level != 0.95 {
		t.Fatalf("empty policy: %+v %v", p, err)
	}
	for _, c := range []struct{ doc, msg string }{
		{"environments:\n  integration:\n    metrics:\n      - {metric: auc, min: 0.8}\n", `unknown metric "auc" (known: accuracy`},
		{"environments:\n  staging: {}\n", "unknown environment"},
		{"environments:\n  test:\n    metrics:\n      - {metric: roc_auc}\n", "needs min or max"},
		{"environments:\n  test:\n    metrics:\n      - {metric: ppv_at_prevalence, min: 0.3}\n", "needs the policy's prevalence"},
		{"environments:\n  test:\n    signofs: 2\n", "line 3: field signofs not found"},
		{"environments:\n  test:\n    subgroups: {column: sexe, metric: roc_auc}\n", "set min, max_gap"},
		{"environments:\n  test:\n    privacy_audit: {max_advantage: 2}\n", "max_advantage"},
		{"environments:\n  test:\n    no_regression: {metric: kappa, margin: 0.1}\n", `unknown metric "kappa"`},
		{"confidence_level: 1.5\n", "confidence_level"},
		{"webhooks:\n  - {url: 'ftp://x'}\n", "http(s) URL"},
	} {
		if _, err := registry.ParsePolicy([]byte(c.doc)); err == nil || !strings.Contains(err.Error(), c.msg) || errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%q: %v, want %q", c.doc, err, c.msg)
		}
	}
}

// govEnv has real users and roles: sam (scientist, trains), claire and
// chloe (clinician-validators), ada (project admin), vic (viewer).
type govEnv struct {
	*env
	as map[string]context.Context
}

func newGov(t *testing.T, d *db.DB) *govEnv {
	e := newEnv(t, d)
	a := auth.NewService(d, e.audit)
	g := &govEnv{env: e, as: map[string]context.Context{}}
	for user, role := range map[string]auth.Role{"sam": auth.RoleScientist, "claire": auth.RoleClinicianValidator, "chloe": auth.RoleClinicianValidator,
		"ada": auth.RoleAdmin, "vic": auth.RoleViewer} {
		if _, err := a.CreateUser(e.ctx, user, "", "", false); err != nil {
			t.Fatal(err)
		}
		if err := a.Grant(e.ctx, "proj", user, role); err != nil {
			t.Fatal(err)
		}
		p, err := a.PrincipalOf(e.ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		g.as[user] = auth.WithPrincipal(context.Background(), p)
	}
	return g
}

// riskModel trains a small hygie model (risk rising with age) and
// registers it from a finished run with the given metrics.
func (g *govEnv) riskModel(t *testing.T, name string, metrics map[string]float64) registry.Version {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	age := hmodel.Column{Name: "age", Num: make([]float64, 300)}
	y := hmodel.Column{Name: "y", Text: make([]string, 300)}
	for i := range age.Num {
		age.Num[i] = 20 + 70*r.Float64()
		y.Text[i] = map[bool]string{true: "1", false: "0"}[r.Float64() < (age.Num[i]-20)/70]
	}
	params, _ := hmodel.ParseParams(hmodel.Logistic, nil)
	pb, err := hmodel.Prepare(&hmodel.Table{Cols: []hmodel.Column{age, y}}, "y", "", nil, params)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pb.Fit(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.Marshal()
	ctx := g.as["sam"]
	run, err := g.runs.StartRun(ctx, "proj", "exp", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range metrics {
		g.runs.LogMetric(ctx, run.ID, k, v, 0)
	}
	g.runs.LogParam(ctx, run.ID, "confidence_level", "0.95")
	g.runs.PutArtifact(ctx, run.ID, "model/model.json", bytes.NewReader(b))
	g.runs.End(ctx, run.ID, track.Finished)
	v, err := g.reg.Register(ctx, "proj", name, run.ID, "model/model.json", hmodel.Format, registry.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Signature.Inputs) != 1 || v.Signature.Inputs[0].Name != "age" || v.Signature.Inputs[0].Datatype != "FP64" {
		t.Fatalf("derived signature %+v", v.Signature)
	}
	return v
}

func TestGovernedPromotion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		g := newGov(t, d)
		var mu sync.Mutex
		var hooks []registry.Notification
		var sigOK = true
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mac := hmac.New(sha256.New, []byte("s3cret"))
			mac.Write(b)
			var n registry.Notification
			json.Unmarshal(b, &n)
			mu.Lock()
			hooks = append(hooks, n)
			sigOK = sigOK && r.Header.Get("X-Hygie-Signature") == "sha256="+hex.EncodeToString(mac.Sum(nil))
			mu.Unlock()
		}))
		defer ts.Close()
		t.Setenv("HYGIE_TEST_WEBHOOK_SECRET", "s3cret")
		policy := fmt.Sprintf(`
environments:
  dev:
    metrics: [{metric: roc_auc, min: 0.7}]
    min_test_rows: 100
  test:
    signoffs: 2
    clinical_tests: true
  integration:
    privacy_audit: {max_advantage: 0.1}
webhooks: [{url: %q, secret_env: HYGIE_TEST_WEBHOOK_SECRET}]
`, ts.URL)
		if _, err := g.reg.SetPolicy(g.as["sam"], "proj", []byte(policy)); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("a scientist set the policy: %v", err)
		}
		if _, err := g.reg.SetPolicy(g.as["ada"], "proj", []byte(policy)); err != nil {
			t.Fatal(err)
		}
		// dev: the lower bound of the AUC interval is under 0.7 → refused,
		// with a report naming the gate; nothing moves.
		v1 := g.riskModel(t, "risk", map[string]float64{"test_roc_auc": 0.78, "test_roc_auc_ci_low": 0.66, "test_n": 250})
		p, err := g.reg.Promote(g.as["sam"], "risk", v1.Version, "dev")
		var ref *registry.RefusedError
		if !errs.Is(err, errs.Conflict) || !asRefused(err, &ref) || p.Outcome != "denied" || len(p.Gates) != 2 || p.Gates[0].Pass || !p.Gates[1].Pass {
			t.Fatalf("promotion with a failing gate: %+v %v", p, err)
		}
		if !strings.Contains(err.Error(), "roc_auc (lower bound of the 95% CI): 0.66 (estimate 0.78) (need ≥ 0.7)") {
			t.Errorf("refusal message: %v", err)
		}
		if got, _ := g.reg.Version(g.ctx, "risk", v1.Version); got.Environment != "none" {
			t.Fatalf("refused version moved to %s", got.Environment)
		}
		// A better model passes dev; test needs two sign-offs and the cases.
		v2 := g.riskModel(t, "risk", map[string]float64{"test_roc_auc": 0.82, "test_roc_auc_ci_low": 0.74, "test_n": 250})
		if _, err := g.reg.Promote(g.as["sam"], "risk", v2.Version, "test"); !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "next environment") {
			t.Fatalf("skipping dev: %v", err)
		}
		if _, err := g.reg.Promote(g.as["sam"], "risk", v2.Version, "dev"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			who, comment string
			code         errs.Code
		}{
			{"sam", "I checked it", errs.Forbidden},     // the author
			{"vic", "looks fine", errs.Forbidden},       // no model.signoff
			{"claire", "  ", errs.Invalid},              // no comment
			{"claire", "calibration plot reviewed", ""}, // ok
		} {
			if _, err := g.reg.SignOff(g.as[c.who], "risk", v2.Version, "test", c.comment); errs.CodeOf(err) != c.code {
				t.Errorf("sign-off by %s: %v, want %q", c.who, err, c.code)
			}
		}
		_, err = g.reg.Promote(g.as["sam"], "risk", v2.Version, "test")
		if err == nil || !strings.Contains(err.Error(), "clinician sign-offs for test: 1 (need ≥ 2)") || !strings.Contains(err.Error(), "no clinical case is written") {
			t.Fatalf("promotion to test with one sign-off and no cases: %v", err)
		}
		g.reg.SignOff(g.as["chloe"], "risk", v2.Version, "test", "typical patients reviewed")
		cases := "cases:\n  - {name: old patient, inputs: {age: 88}, expect: {min: 0.6}}\n  - {name: young patient, inputs: {age: 22}, expect: {max: 0.05}}\n"
		if _, err := g.reg.SetCases(g.as["claire"], "proj", "risk", []byte(cases)); err != nil {
			t.Fatal(err)
		}
		_, err = g.reg.Promote(g.as["sam"], "risk", v2.Version, "test")
		if err == nil || !strings.Contains(err.Error(), `clinical test cases: 1/2 pass`) || !strings.Contains(err.Error(), `"young patient" predicted`) {
			t.Fatalf("a failing clinical case: %v", err)
		}
		cases = strings.Replace(cases, "max: 0.05", "max: 0.25", 1)
		g.reg.SetCases(g.as["claire"], "proj", "risk", []byte(cases))
		if p, err := g.reg.Promote(g.as["sam"], "risk", v2.Version, "test"); err != nil || p.Outcome != "success" {
			t.Fatalf("promotion to test: %+v %v", p, err)
		}
		// integration needs a membership-inference audit of the run.
		if _, err := g.reg.Promote(g.as["sam"], "risk", v2.Version, "integration"); err == nil || !strings.Contains(err.Error(), "hygie privacy-audit") {
			t.Fatalf("promotion without an audit: %v", err)
		}
		ar, _ := g.runs.StartRun(g.as["sam"], "proj", "audits", "", nil)
		g.runs.LogMetric(g.ctx, ar.ID, "mia_advantage_ci_high", 0.04, 0)
		g.runs.SetTag(g.ctx, ar.ID, "hygie.audit_of_run", fmt.Sprint(*v2.RunID))
		g.runs.End(g.ctx, ar.ID, track.Finished)
		if _, err := g.reg.Promote(g.as["sam"], "risk", v2.Version, "integration"); err != nil {
			t.Fatalf("promotion with a passing audit: %v", err)
		}
		g.reg.Promote(g.as["sam"], "risk", v2.Version, "production")
		// An override needs an admin and a reason; it is recorded as such.
		v3 := g.riskModel(t, "risk", map[string]float64{"test_roc_auc": 0.7, "test_roc_auc_ci_low": 0.6, "test_n": 250})
		if _, err := g.reg.PromoteOverride(g.as["sam"], "risk", v3.Version, "dev", "urgent"); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("override by a scientist: %v", err)
		}
		if _, err := g.reg.PromoteOverride(g.as["ada"], "risk", v3.Version, "dev", ""); !errs.Is(err, errs.Invalid) {
			t.Fatalf("override without reason: %v", err)
		}
		p, err = g.reg.PromoteOverride(g.as["ada"], "risk", v3.Version, "dev", "pilot study approved by the committee")
		if err != nil || p.Outcome != registry.OutcomeOverride || p.Gates[0].Pass {
			t.Fatalf("override: %+v %v", p, err)
		}
		if n := countAudit(t, g.env, "model.promote.override"); n != 1 {
			t.Errorf("%d override events", n)
		}
		// Rollback: production goes back to the previous version.
		for _, env := range []string{"test", "integration", "production"} {
			g.reg.PromoteOverride(g.as["ada"], "risk", v3.Version, env, "pilot")
		}
		if cur, _ := g.reg.InEnvironment(g.ctx, "risk", "production"); cur.Version != v3.Version {
			t.Fatalf("production is %d", cur.Version)
		}
		rb, err := g.reg.Rollback(g.as["sam"], "risk", "alerts from the ward")
		if cur, _ := g.reg.InEnvironment(g.ctx, "risk", "production"); err != nil || cur.Version != v2.Version || rb.Outcome != registry.OutcomeRollback {
			t.Fatalf("rollback: %+v %v, production %d", rb, err, cur.Version)
		}
		if old, _ := g.reg.Version(g.ctx, "risk", v3.Version); old.Environment != "archived" {
			t.Errorf("rolled-back version is %s", old.Environment)
		}
		reports, err := g.reg.Promotions(g.ctx, "risk")
		if err != nil || len(reports) < 10 || reports[0].Outcome != registry.OutcomeRollback || len(reports[len(reports)-1].Gates) != 2 {
			t.Fatalf("promotion history: %d %v", len(reports), err)
		}
		g.reg.WaitWebhooks()
		mu.Lock()
		defer mu.Unlock()
		events := map[string]int{}
		for _, n := range hooks {
			events[n.Event]++
		}
		if !sigOK || events["refusal"] < 4 || events["promotion"] != 4 || events["override"] < 4 || events["rollback"] != 1 {
			t.Errorf("webhooks: signed %v, events %v", sigOK, events)
		}
	})
}

func asRefused(err error, target **registry.RefusedError) bool {
	r, ok := err.(*registry.RefusedError)
	if ok {
		*target = r
	}
	return ok
}

func TestSignoffRevokedRole(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		g := newGov(t, d)
		g.reg.SetPolicy(g.as["ada"], "proj", []byte("environments:\n  dev: {signoffs: 1}\n"))
		v := g.riskModel(t, "risk", nil)
		if _, err := g.reg.SignOff(g.as["claire"], "risk", v.Version, "dev", "ok"); err != nil {
			t.Fatal(err)
		}
		a := auth.NewService(d, audit.New(d))
		if err := a.Revoke(g.ctx, "proj", "claire", auth.RoleClinicianValidator); err != nil {
			t.Fatal(err)
		}
		if _, err := g.reg.Promote(g.as["sam"], "risk", v.Version, "dev"); err == nil || !strings.Contains(err.Error(), "sign-offs for dev: 0") {
			t.Fatalf("a sign-off by a user who lost the role still counts: %v", err)
		}
	})
}

func TestCard(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		g := newGov(t, d)
		v := g.riskModel(t, "risk", map[string]float64{"test_roc_auc": 0.81, "test_roc_auc_ci_low": 0.74, "test_roc_auc_ci_high": 0.87, "cv_roc_auc_mean": 0.8, "cv_roc_auc_sd": 0.02})
		g.reg.SignOff(g.as["claire"], "risk", v.Version, "dev", "reviewed with the ward team")
		c, err := g.reg.Card(g.ctx, "risk", v.Version)
		if err != nil {
			t.Fatal(err)
		}
		md := c.Markdown()
		for _, want := range []string{"# Model card: risk version 1", "| roc_auc | 0.810 | 0.740 – 0.870 |", "roc_auc 0.800 ± 0.020", "| age | FP64 |",
			"claire, for dev", "reviewed with the ward team", "Membership inference: not run", "No membership-inference audit has been run", "logistic"} {
			if !strings.Contains(md, want) {
				t.Errorf("card lacks %q:\n%s", want, md)
			}
		}
	})
}
