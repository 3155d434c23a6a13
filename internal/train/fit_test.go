package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/plot"
)

// memTracker records a run in memory.
type memTracker struct {
	params    map[string]string
	metrics   []Metric
	artifacts map[string][]byte
}

func newMem() *memTracker {
	return &memTracker{params: map[string]string{}, artifacts: map[string][]byte{}}
}

func (m *memTracker) LogParams(p map[string]string) error {
	for k, v := range p {
		m.params[k] = v
	}
	return nil
}
func (m *memTracker) LogMetrics(ms []Metric) error { m.metrics = append(m.metrics, ms...); return nil }
func (m *memTracker) PutArtifact(p string, b []byte) error {
	m.artifacts[p] = b
	return nil
}

// stays is a table of hospital stays: several per patient, a binary
// outcome and a numeric length of stay.
func stays(patients int) *model.Table {
	r := rand.New(rand.NewPCG(5, 6))
	cols := map[string]*model.Column{}
	names := []string{"patient", "age", "lactate", "ward", "death", "los"}
	for _, n := range names {
		cols[n] = &model.Column{Name: n, Text: []string{}}
	}
	for p := range patients {
		age := 30 + 60*r.Float64()
		for range 1 + r.IntN(3) {
			lact := 0.5 + 2*r.ExpFloat64()
			ward := []string{"icu", "med"}[r.IntN(2)]
			z := -4 + 0.04*(age-30) + 0.9*lact + r.NormFloat64()*0.3
			add := func(n, v string) { cols[n].Text = append(cols[n].Text, v) }
			add("patient", fmt.Sprintf("PS%04d", p))
			add("age", fmt.Sprintf("%.0f", age))
			add("lactate", fmt.Sprintf("%.2f", lact))
			add("ward", ward)
			add("death", map[bool]string{true: "oui", false: "non"}[r.Float64() < 1/(1+math.Exp(-z))])
			add("los", fmt.Sprintf("%.2f", 2+0.05*age+1.5*lact+0.2*r.NormFloat64()))
		}
	}
	t := &model.Table{}
	for _, n := range names {
		t.Cols = append(t.Cols, *cols[n])
	}
	return t
}

func TestFitBinaryWithCV(t *testing.T) {
	tab := stays(400)
	tr := newMem()
	spec := Spec{Target: "death", Positive: "oui", Learner: model.Logistic, Features: []string{"age", "lactate", "ward"}, Group: "patient",
		CV: 4, Seed: 3, SplitSeed: 9, Resamples: 200, Prevalence: 0.05, Subgroups: []string{"ward"}}
	out, err := Fit(tab, spec, tr, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := out.Metrics
	if m["test_roc_auc"] < 0.8 || !(m["test_roc_auc_ci_low"] <= m["test_roc_auc"] && m["test_roc_auc"] <= m["test_roc_auc_ci_high"]) {
		t.Fatalf("test AUC %v [%v, %v]", m["test_roc_auc"], m["test_roc_auc_ci_low"], m["test_roc_auc_ci_high"])
	}
	for _, k := range []string{"test_sensitivity_ci_low", "test_ppv_at_prevalence", "test_ppv_at_prevalence_ci_high", "test_brier", "cv_roc_auc_mean", "cv_roc_auc_sd"} {
		if _, ok := m[k]; !ok {
			t.Errorf("metric %s missing", k)
		}
	}
	// One cv_roc_auc value per fold, as steps 0..3.
	steps := map[int64]bool{}
	for _, x := range tr.metrics {
		if x.Key == "cv_roc_auc" {
			steps[x.Step] = true
		}
	}
	if len(steps) != 4 || !steps[0] || !steps[3] {
		t.Errorf("cv_roc_auc steps %v", steps)
	}
	if tr.params["group"] != "patient" || tr.params["cv"] != "4" || tr.params["task"] != "binary" || tr.params["features"] != "age,lactate,ward" {
		t.Errorf("params %v", tr.params)
	}
	// The test split holds whole patients, and the same ones on every run.
	var rep Report
	if err := json.Unmarshal(tr.artifacts[ReportArtifact], &rep); err != nil || rep.Binary == nil || rep.CV == nil || len(rep.Binary.ROC) == 0 || rep.Subgroups["ward"] == nil {
		t.Fatalf("report: %v %+v", err, rep)
	}
	if _, err := model.Unmarshal(tr.artifacts[ModelArtifact]); err != nil {
		t.Fatalf("model artifact: %v", err)
	}
	for _, f := range []string{"evaluation/roc.svg", "evaluation/pr.svg", "evaluation/calibration.svg", "evaluation/cv_roc_auc.svg"} {
		if err := plot.Check(string(tr.artifacts[f])); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if c := string(tr.artifacts["evaluation/confusion.csv"]); !strings.HasPrefix(c, ",predicted positive,predicted negative\npositive,") {
		t.Errorf("confusion.csv = %q", c)
	}
	spec.Defaults()
	trainRows, testRows, _, err := LockedSplit(tab, spec)
	if err != nil {
		t.Fatal(err)
	}
	side := map[string]string{}
	for _, rows := range []struct {
		name string
		idx  []int
	}{{"train", trainRows}, {"test", testRows}} {
		for _, i := range rows.idx {
			p := tab.Col("patient").Text[i]
			if s, ok := side[p]; ok && s != rows.name {
				t.Fatalf("patient %s is on both sides of the split", p)
			}
			side[p] = rows.name
		}
	}
	again, _, _, _ := LockedSplit(stays(400), spec)
	if fmt.Sprint(again) != fmt.Sprint(trainRows) {
		t.Error("the locked split changed between runs")
	}
	spec.SplitSeed++
	other, _, _, _ := LockedSplit(tab, spec)
	if fmt.Sprint(other) == fmt.Sprint(trainRows) {
		t.Error("the split seed has no effect")
	}
}

func TestFitRegression(t *testing.T) {
	tr := newMem()
	out, err := Fit(stays(300), Spec{Target: "los", Learner: model.Linear, Features: []string{"age", "lactate"}, CV: 3, Resamples: 200}, tr, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := out.Metrics
	if m["test_r2"] < 0.9 || m["test_rmse"] > 0.4 || !(m["test_mse_ci_low"] <= m["test_mse"] && m["test_mse"] <= m["test_mse_ci_high"]) || m["cv_rmse_mean"] <= 0 {
		t.Fatalf("metrics %v", m)
	}
}

func TestFitRejects(t *testing.T) {
	tab := stays(200)
	for _, c := range []struct {
		spec Spec
		msg  string
	}{
		{Spec{Target: "death", CV: 1}, "cv must be 0"},
		{Spec{Target: "death", TestFraction: 1.5}, "test_fraction"},
		{Spec{Target: "death", Threshold: 1}, "threshold"},
		{Spec{Target: "death", Learner: "forest"}, "unknown learner"},
		{Spec{Target: "death", Params: map[string]string{"trees": "-1"}}, "trees must be at least 1"},
		{Spec{Target: "nope"}, "not a column"},
		{Spec{Target: "death", Group: "patient", Features: []string{"patient"}}, "patient or split column"},
		{Spec{Target: "death", SplitColumn: "ward"}, "must hold train or test"},
		{Spec{Target: "death", TestFraction: 0.01}, "need at least 10"},
		{Spec{Target: "death", Subgroups: []string{"nope"}}, "subgroup column"},
	} {
		tr := newMem()
		_, err := Fit(tab, c.spec, tr, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v, want %q", c.spec, err, c.msg)
		}
		if len(tr.artifacts) != 0 {
			t.Errorf("%+v: artifacts written for a failed run", c.spec)
		}
	}
}

func TestFromVersion(t *testing.T) {
	v := dataset.Version{Project: "icu", Dataset: "stays", Version: 2, Level: dataset.Pseudonymized, Columns: []dataset.Column{
		{Name: "pid", Role: dataset.RolePatientID}, {Name: "sexe", Role: dataset.RoleQuasiIdentifier}, {Name: "lactate", Role: dataset.RoleFeature},
		{Name: "note", Role: dataset.RoleText}, {Name: "death", Role: dataset.RoleTarget}, {Name: "admission", Role: dataset.RoleDate}}}
	s := Spec{Target: "death"}
	if err := FromVersion(&s, v); err != nil || s.Group != "pid" || strings.Join(s.Features, ",") != "sexe,lactate" || s.Dataset != "stays@2" {
		t.Fatalf("%+v %v", s, err)
	}
	v.Columns = append(v.Columns, dataset.Column{Name: "nom", Role: dataset.RoleDirectIdentifier})
	if err := FromVersion(&Spec{Target: "death", Features: []string{"nom"}}, v); err == nil || !strings.Contains(err.Error(), "direct identifier") {
		t.Errorf("direct identifier as a feature: %v", err)
	}
	v.Level = dataset.Identifying
	if err := FromVersion(&Spec{Target: "death"}, v); err == nil || !strings.Contains(err.Error(), "pseudonymize") {
		t.Errorf("identifying version: %v", err)
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("a,b\n1,x\n2,y\n"))
	f.Add([]byte("\ufeffa;b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := ReadCSV(strings.NewReader(string(b)), ',', "fuzz")
		if err != nil {
			return
		}
		if err := tab.Check(); err != nil || tab.Rows() == 0 {
			t.Fatalf("accepted an inconsistent table: %v", err)
		}
	})
}

func TestFitMulticlass(t *testing.T) {
	tab := stays(400)
	// A three-level severity from the lactate.
	sev := model.Column{Name: "severity", Text: make([]string, tab.Rows())}
	for i, s := range tab.Col("lactate").Text {
		var v float64
		fmt.Sscan(s, &v)
		sev.Text[i] = map[bool]string{true: "low", false: map[bool]string{true: "mid", false: "high"}[v < 4]}[v < 1.5]
	}
	tab.Cols = append(tab.Cols, sev)
	tr := newMem()
	out, err := Fit(tab, Spec{Target: "severity", Learner: model.GBDT, Features: []string{"lactate", "age"}, Group: "patient", CV: 3, Resamples: 200,
		Params: map[string]string{"trees": "30"}}, tr, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := out.Metrics
	if m["test_accuracy"] < 0.9 || !(m["test_accuracy_ci_low"] <= m["test_accuracy"] && m["test_accuracy"] <= m["test_accuracy_ci_high"]) ||
		m["cv_balanced_accuracy_mean"] < 0.85 || m["test_log_loss"] <= 0 {
		t.Fatalf("metrics %v", m)
	}
	var rep Report
	if err := json.Unmarshal(tr.artifacts[ReportArtifact], &rep); err != nil || rep.Multiclass == nil || len(rep.Multiclass.Confusion) != 3 || len(rep.Multiclass.PerClass) != 3 {
		t.Fatalf("report: %v %+v", err, rep.Multiclass)
	}
	if tr.params["task"] != "multiclass" {
		t.Errorf("params %v", tr.params)
	}
}
