package train

import (
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/privacy/mia"
)

// TestAuditFindsTheSplit: a run's params rebuild a spec whose LockedSplit
// gives the run's training and test rows again, and the model's losses on
// them feed the attack.
func TestAuditFindsTheSplit(t *testing.T) {
	tab := stays(200)
	cases := []struct {
		name string
		spec Spec
		loss func(p, y float64) float64
	}{
		{"binary gbdt, grouped", Spec{Dataset: "stays@1", Target: "death", Positive: "oui", Learner: model.GBDT, Group: "patient", Features: []string{"age", "lactate", "ward"},
			SplitSeed: 7, TestFraction: 0.3, Resamples: 100, Params: map[string]string{"trees": "20"}}, mia.LogLoss},
		{"regression, by row", Spec{Dataset: "stays@1", Target: "los", Learner: model.Linear, Features: []string{"age", "lactate"}, Resamples: 100}, mia.SquaredError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newMem()
			out, err := Fit(tab, c.spec, tr, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			want := c.spec
			want.Defaults()
			trainRows, testRows, how, _ := LockedSplit(tab, want)
			got, err := SpecFromParams(tr.params)
			if err != nil {
				t.Fatal(err)
			}
			gTrain, gTest, gHow, err := LockedSplit(tab, got)
			if err != nil || !reflect.DeepEqual(gTrain, trainRows) || !reflect.DeepEqual(gTest, testRows) || gHow != how {
				t.Fatalf("split from params %+v: %v, %s (want %s)", got, err, gHow, how)
			}
			// Runs that predate split_seed and test_fraction: the split's description.
			legacy := map[string]string{}
			for k, v := range tr.params {
				if k != "split_seed" && k != "test_fraction" {
					legacy[k] = v
				}
			}
			old, err := SpecFromParams(legacy)
			if err != nil || old.SplitSeed != want.SplitSeed || old.TestFraction != want.TestFraction {
				t.Fatalf("legacy params: %+v %v", old, err)
			}
			members, nonMembers, _, err := auditLosses(tab, got, out.Model, tr.params)
			if err != nil || len(members) != len(trainRows) || len(nonMembers) != len(testRows) {
				t.Fatalf("auditLosses: %d %d %v", len(members), len(nonMembers), err)
			}
			pred, _ := out.Model.Predict(tab)
			tg, _ := model.ReadTarget(tab, out.Model.Target, out.Model.Positive, out.Model.Learner)
			if i := testRows[0]; nonMembers[0] != c.loss(pred[i], tg.Y[i]) {
				t.Errorf("loss of row %d = %v, want %v", i, nonMembers[0], c.loss(pred[i], tg.Y[i]))
			}
			// A split that no longer matches the run is refused.
			moved := map[string]string{"train_rows": "3"}
			if _, _, _, err := auditLosses(tab, got, out.Model, moved); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "changed") {
				t.Errorf("changed split: %v", err)
			}
		})
	}
}

func TestSpecFromParamsErrors(t *testing.T) {
	base := map[string]string{"dataset": "stays@1", "target": "death", "learner": "gbdt", "split_seed": "0", "test_fraction": "0.2"}
	with := func(k, v string) map[string]string {
		p := map[string]string{}
		for a, b := range base {
			p[a] = b
		}
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
		return p
	}
	cases := []struct {
		name   string
		params map[string]string
		msg    string
	}{
		{"no dataset", with("dataset", ""), "only runs of 'hygie train --dataset'"},
		{"bad seed", with("split_seed", "x"), "split_seed"},
		{"bad cv", with("cv", "two"), "cv"},
		{"no split", with("test_fraction", ""), "does not record its test split"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := SpecFromParams(c.params); err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("err = %v, want %q", err, c.msg)
			}
		})
	}
	s, err := SpecFromParams(with("split_column", "split"))
	if err != nil || s.SplitColumn != "split" {
		t.Errorf("split column: %+v %v", s, err)
	}
}

func TestAuditSpecCheck(t *testing.T) {
	cases := []struct {
		spec AuditSpec
		msg  string
	}{
		{AuditSpec{Project: "icu", RunID: 1}, ""},
		{AuditSpec{RunID: 1}, "project"},
		{AuditSpec{Project: "icu"}, "run to audit"},
		{AuditSpec{Project: "icu", RunID: 1, Resamples: 50}, "resamples"},
		{AuditSpec{Project: "icu", RunID: 1, Level: 0.3}, "level"},
	}
	for _, c := range cases {
		s := c.spec
		s.Defaults()
		err := s.Check()
		if c.msg == "" && err != nil || c.msg != "" && (err == nil || !strings.Contains(err.Error(), c.msg)) {
			t.Errorf("%+v: %v, want %q", c.spec, err, c.msg)
		}
	}
}
