package registry_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
)

type env struct {
	d     *db.DB
	audit *audit.Log
	runs  *track.Service
	reg   *registry.Service
	ctx   context.Context
}

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	// sam is a scientist of both projects (model.write, model.promote).
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{Username: "sam",
		Roles: map[string][]auth.Role{"proj": {auth.RoleScientist}, "other": {auth.RoleScientist}}})
	a := audit.New(d)
	for _, p := range []string{"proj", "other"} {
		if _, err := project.NewService(d, a).Create(ctx, p, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	runs := track.NewService(d, blob.NewMemory(), a)
	return &env{d: d, audit: a, runs: runs, reg: registry.NewService(d, runs, a), ctx: ctx}
}

// run starts a run in project, logs metrics and a "model.json" artifact, and
// ends it with status ("" leaves it running).
func (e *env) run(t *testing.T, projectName string, metrics map[string]float64, status string) int64 {
	t.Helper()
	r, err := e.runs.StartRun(e.ctx, projectName, "exp", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range metrics {
		if err := e.runs.LogMetric(e.ctx, r.ID, k, v, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.runs.PutArtifact(e.ctx, r.ID, "model.json", strings.NewReader(`{"coef":[1,2]}`)); err != nil {
		t.Fatal(err)
	}
	if status != "" {
		if err := e.runs.End(e.ctx, r.ID, status); err != nil {
			t.Fatal(err)
		}
	}
	return r.ID
}

func (e *env) register(t *testing.T, model string, runID int64) registry.Version {
	t.Helper()
	v, err := e.reg.Register(e.ctx, "proj", model, runID, "model.json", "hygie.linear_regression", registry.Signature{
		Inputs: []registry.Tensor{{Name: "age", Datatype: "FP64"}}, Outputs: []registry.Tensor{{Name: "risk", Datatype: "FP64"}}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *env) promote(t *testing.T, model string, version int, envs ...string) {
	t.Helper()
	for _, to := range envs {
		if _, err := e.reg.Promote(e.ctx, model, version, to); err != nil {
			t.Fatalf("promote %s v%d to %s: %v", model, version, to, err)
		}
	}
}

func TestRegister(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		finished := e.run(t, "proj", nil, track.Finished)
		running := e.run(t, "proj", nil, "")
		failed := e.run(t, "proj", nil, track.Failed)
		killed := e.run(t, "proj", nil, track.Killed)
		foreign := e.run(t, "other", nil, track.Finished)
		tests := []struct {
			name     string
			model    string
			run      int64
			artifact string
			want     errs.Code
		}{
			{"running run", "sepsis", running, "model.json", errs.Invalid},
			{"failed run", "sepsis", failed, "model.json", errs.Invalid},
			{"killed run", "sepsis", killed, "model.json", errs.Invalid},
			{"run of another project", "sepsis", foreign, "model.json", errs.Invalid},
			{"unknown run", "sepsis", foreign + 100, "model.json", errs.NotFound},
			{"missing artifact", "sepsis", finished, "weights.bin", errs.NotFound},
			{"bad name", "Sepsis", finished, "model.json", errs.Invalid},
			{"one-letter name", "s", finished, "model.json", errs.Invalid},
			{"name with a slash", "a/b", finished, "model.json", errs.Invalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := e.reg.Register(e.ctx, "proj", tt.model, tt.run, tt.artifact, "f", registry.Signature{}); !errs.Is(err, tt.want) {
					t.Fatalf("Register = %v, want %s", err, tt.want)
				}
			})
		}
		if vs, err := e.reg.ListVersions(e.ctx, "proj"); err != nil || len(vs) != 0 {
			t.Fatalf("refused registrations left versions: %v, %v", vs, err)
		}

		for i := 1; i <= 3; i++ {
			v := e.register(t, "sepsis", e.run(t, "proj", nil, track.Finished))
			if v.Version != i || v.Environment != "none" || v.Model != "sepsis" || v.CreatedBy != "sam" {
				t.Errorf("registration %d = %+v", i, v)
			}
		}
		other := e.register(t, "readmission", finished)
		if other.Version != 1 {
			t.Errorf("first version of a second model = %d, want 1", other.Version)
		}
		got, err := e.reg.Version(e.ctx, "sepsis", 2)
		if err != nil {
			t.Fatal(err)
		}
		if got.Project != "proj" || got.RunID == nil || got.ArtifactKey == "" || len(got.Signature.Inputs) != 1 || got.Signature.Inputs[0].Name != "age" {
			t.Errorf("Version = %+v", got)
		}
		vs, err := e.reg.Versions(e.ctx, "sepsis")
		if err != nil || len(vs) != 3 || vs[0].Version != 3 {
			t.Errorf("Versions = %v, %v", vs, err)
		}
		if _, err := e.reg.Version(e.ctx, "sepsis", 9); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown version: %v", err)
		}
		if _, err := e.reg.Register(e.ctx, "other", "sepsis", foreign, "model.json", "f", registry.Signature{}); !errs.Is(err, errs.Conflict) {
			t.Errorf("model name of another project: %v, want conflict", err)
		}
		if p, err := e.reg.ProjectOfModel(e.ctx, "sepsis"); err != nil || p != "proj" {
			t.Errorf("ProjectOfModel = %q, %v", p, err)
		}
	})
}

func TestPromoteOrder(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.register(t, "sepsis", e.run(t, "proj", nil, track.Finished))
		steps := []struct {
			to      string
			want    errs.Code
			wantEnv string // environment after the step
		}{
			{"test", errs.Conflict, "none"},
			{"production", errs.Conflict, "none"},
			{"none", errs.Invalid, "none"},
			{"archived", errs.Invalid, "none"},
			{"staging", errs.Invalid, "none"},
			{"", errs.Invalid, "none"},
			{"dev", "", "dev"},
			{"dev", errs.Conflict, "dev"},
			{"integration", errs.Conflict, "dev"},
			{"test", "", "test"},
			{"dev", errs.Conflict, "test"},
			{"production", errs.Conflict, "test"},
			{"integration", "", "integration"},
			{"production", "", "production"},
			{"production", errs.Conflict, "production"},
			{"dev", errs.Conflict, "production"},
		}
		for i, st := range steps {
			_, err := e.reg.Promote(e.ctx, "sepsis", 1, st.to)
			if errs.CodeOf(err) != st.want {
				t.Fatalf("step %d: Promote to %q = %v, want %q", i, st.to, err, st.want)
			}
			v, _ := e.reg.Version(e.ctx, "sepsis", 1)
			if v.Environment != st.wantEnv {
				t.Fatalf("step %d: environment %s, want %s", i, v.Environment, st.wantEnv)
			}
		}
		if _, err := e.reg.Promote(e.ctx, "sepsis", 2, "dev"); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown version: %v", err)
		}
		if _, err := e.reg.Promote(e.ctx, "nope", 1, "dev"); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown model: %v", err)
		}
		var n int
		d.QueryRow(e.ctx, `SELECT COUNT(*) FROM promotions WHERE outcome = 'success'`).Scan(&n)
		if n != 4 {
			t.Errorf("%d successful promotions recorded, want 4", n)
		}
	})
}

func TestPromoteGates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		for _, r := range []registry.Rule{{Metric: "brier", Op: "<=", Threshold: 0.2}, {Metric: "auc", Op: ">=", Threshold: 0.7}} {
			if err := e.reg.SetGate(e.ctx, "proj", r); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			name    string
			metrics map[string]float64
			pass    bool
			detail  string // fragment of the recorded detail
		}{
			{"both pass", map[string]float64{"brier": 0.1, "auc": 0.8}, true, "pass metric brier: 0.1 (need <= 0.2)"},
			{"at the thresholds", map[string]float64{"brier": 0.2, "auc": 0.7}, true, "pass metric auc: 0.7 (need >= 0.7)"},
			{"metric above a <= threshold", map[string]float64{"brier": 0.3, "auc": 0.9}, false, "FAIL metric brier: 0.3 (need <= 0.2)"},
			{"metric below a >= threshold", map[string]float64{"brier": 0.1, "auc": 0.6}, false, "FAIL metric auc: 0.6 (need >= 0.7)"},
			{"missing metric", map[string]float64{"brier": 0.1}, false, "the run has no metric auc"},
			{"no metrics at all", nil, false, "the run has no metric brier"},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				model := "model-" + string(rune('a'+i))
				v := e.register(t, model, e.run(t, "proj", tt.metrics, track.Finished))
				before := countAudit(t, e, "model.promote")
				p, err := e.reg.Promote(e.ctx, model, 1, "dev")
				got, _ := e.reg.Version(e.ctx, model, 1)
				var outcome, detail, from, to, by string
				if err := d.QueryRow(e.ctx, `SELECT outcome, detail, from_env, to_env, by_user FROM promotions WHERE model_version_id = ?`, v.ID).Scan(&outcome, &detail, &from, &to, &by); err != nil {
					t.Fatalf("no promotion recorded: %v", err)
				}
				evs, _ := e.audit.List(e.ctx, audit.Filter{Action: "model.promote", Limit: 1})
				if countAudit(t, e, "model.promote") != before+1 {
					t.Fatal("promotion attempt not audited")
				}
				if from != "none" || to != "dev" || by != "sam" || !strings.Contains(detail, tt.detail) {
					t.Errorf("recorded %s → %s by %s, detail %q; want none → dev by sam, detail with %q", from, to, by, detail, tt.detail)
				}
				if evs[0].Target != "model:"+model+"/1" {
					t.Errorf("audit target = %q", evs[0].Target)
				}
				if tt.pass {
					if err != nil || p.Outcome != audit.Success || got.Environment != "dev" || outcome != audit.Success || evs[0].Outcome != audit.Success {
						t.Fatalf("Promote = %+v, %v; environment %s; recorded %s; audit %s", p, err, got.Environment, outcome, evs[0].Outcome)
					}
					return
				}
				if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), tt.detail) {
					t.Errorf("Promote = %v, want conflict explaining %q", err, tt.detail)
				}
				if p.Outcome != audit.Denied {
					t.Errorf("outcome = %q, want denied", p.Outcome)
				}
				if got.Environment != "none" {
					t.Errorf("environment = %s after a refused promotion, want none", got.Environment)
				}
				if outcome != audit.Denied || evs[0].Outcome != audit.Denied {
					t.Errorf("recorded outcome %q, audit outcome %q; want denied", outcome, evs[0].Outcome)
				}
			})
		}
		if r, err := e.audit.Verify(e.ctx); err != nil || !r.OK {
			t.Errorf("audit chain: %+v, %v", r, err)
		}
	})
}

func countAudit(t *testing.T, e *env, action string) int {
	t.Helper()
	evs, err := e.audit.List(context.Background(), audit.Filter{Action: action, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func TestPromoteToProductionArchivesPrevious(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		path := []string{"dev", "test", "integration", "production"}
		for i := 1; i <= 3; i++ {
			e.register(t, "sepsis", e.run(t, "proj", nil, track.Finished))
		}
		e.register(t, "other-model", e.run(t, "proj", nil, track.Finished))
		e.promote(t, "other-model", 1, path...)
		e.promote(t, "sepsis", 1, path...)
		e.promote(t, "sepsis", 3, "dev", "test")

		if v, err := e.reg.InEnvironment(e.ctx, "sepsis", "production"); err != nil || v.Version != 1 {
			t.Fatalf("in production = v%d, %v; want v1", v.Version, err)
		}
		e.promote(t, "sepsis", 2, path...)
		want := map[int]string{1: "archived", 2: "production", 3: "test"}
		for n, env := range want {
			if v, _ := e.reg.Version(e.ctx, "sepsis", n); v.Environment != env {
				t.Errorf("sepsis v%d in %s, want %s", n, v.Environment, env)
			}
		}
		if v, _ := e.reg.Version(e.ctx, "other-model", 1); v.Environment != "production" {
			t.Errorf("another model's production version was archived: %s", v.Environment)
		}
		if v, err := e.reg.InEnvironment(e.ctx, "sepsis", "production"); err != nil || v.Version != 2 {
			t.Errorf("in production = v%d, %v; want v2", v.Version, err)
		}
		if _, err := e.reg.InEnvironment(e.ctx, "sepsis", "integration"); !errs.Is(err, errs.NotFound) {
			t.Errorf("empty environment: %v", err)
		}
		if _, err := e.reg.Promote(e.ctx, "sepsis", 1, "production"); !errs.Is(err, errs.Conflict) {
			t.Errorf("promoting an archived version: %v", err)
		}
	})
}

func TestRefusedProductionKeepsCurrent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		path := []string{"dev", "test", "integration"}
		e.register(t, "sepsis", e.run(t, "proj", map[string]float64{"auc": 0.9}, track.Finished))
		e.register(t, "sepsis", e.run(t, "proj", map[string]float64{"auc": 0.8}, track.Finished))
		e.promote(t, "sepsis", 1, append(path, "production")...)
		e.promote(t, "sepsis", 2, path...)
		if err := e.reg.SetGate(e.ctx, "proj", registry.Rule{Metric: "auc", Op: ">=", Threshold: 0.85}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.Promote(e.ctx, "sepsis", 2, "production"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("Promote = %v, want conflict", err)
		}
		for n, env := range map[int]string{1: "production", 2: "integration"} {
			if v, _ := e.reg.Version(e.ctx, "sepsis", n); v.Environment != env {
				t.Errorf("v%d in %s, want %s", n, v.Environment, env)
			}
		}
	})
}

func TestSetGate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		tests := []struct {
			name string
			proj string
			rule registry.Rule
			want errs.Code
		}{
			{"valid <=", "proj", registry.Rule{Metric: "brier", Op: "<=", Threshold: 0.2}, ""},
			{"valid >=", "proj", registry.Rule{Metric: "auc", Op: ">=", Threshold: 0.7}, ""},
			{"replaces", "proj", registry.Rule{Metric: "auc", Op: ">=", Threshold: 0.75}, ""},
			{"negative threshold", "proj", registry.Rule{Metric: "calibration_slope", Op: ">=", Threshold: -1}, ""},
			{"empty metric", "proj", registry.Rule{Metric: "", Op: "<=", Threshold: 1}, errs.Invalid},
			{"strict <", "proj", registry.Rule{Metric: "auc", Op: "<", Threshold: 1}, errs.Invalid},
			{"==", "proj", registry.Rule{Metric: "auc", Op: "==", Threshold: 1}, errs.Invalid},
			{"empty op", "proj", registry.Rule{Metric: "auc", Threshold: 1}, errs.Invalid},
			{"NaN threshold", "proj", registry.Rule{Metric: "auc", Op: ">=", Threshold: math.NaN()}, errs.Invalid},
			{"infinite threshold", "proj", registry.Rule{Metric: "brier", Op: "<=", Threshold: math.Inf(1)}, errs.Invalid},
			{"unknown project", "nope", registry.Rule{Metric: "auc", Op: ">=", Threshold: 0.7}, errs.NotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := e.reg.SetGate(e.ctx, tt.proj, tt.rule); errs.CodeOf(err) != tt.want {
					t.Fatalf("SetGate(%v) = %v, want %q", tt.rule, err, tt.want)
				}
			})
		}
		got, err := e.reg.Gates(e.ctx, "proj")
		if err != nil {
			t.Fatal(err)
		}
		want := []registry.Rule{{Metric: "auc", Op: ">=", Threshold: 0.75}, {Metric: "brier", Op: "<=", Threshold: 0.2}, {Metric: "calibration_slope", Op: ">=", Threshold: -1}}
		if len(got) != len(want) {
			t.Fatalf("Gates = %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("gate %d = %v, want %v", i, got[i], want[i])
			}
		}
		if g, _ := e.reg.Gates(e.ctx, "other"); len(g) != 0 {
			t.Errorf("gates leaked to another project: %v", g)
		}
		if n := countAudit(t, e, "gate.set"); n != 4 {
			t.Errorf("%d gate.set events, want 4", n)
		}
	})
}
