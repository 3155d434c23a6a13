package explain

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/model"
)

// patients: numeric age and lactate (lactate sometimes missing when
// missing is set), categorical ward, and a binary and a numeric target.
func patients(n int, missing bool) *model.Table {
	r := rand.New(rand.NewPCG(9, 9))
	age, lac, los := make([]float64, n), make([]float64, n), make([]float64, n)
	ward, death := make([]string, n), make([]string, n)
	for i := range n {
		age[i] = 20 + 70*r.Float64()
		lac[i] = 0.5 + 4*r.Float64()
		w := r.IntN(3)
		ward[i] = []string{"icu", "med", "surg"}[w]
		risk := 0.04*(age[i]-55) + 0.8*(lac[i]-2.5) + []float64{1, 0, -0.5}[w] + r.NormFloat64()
		death[i] = strconv.FormatBool(risk > 0.5)
		los[i] = 3 + 0.1*age[i] + 2*lac[i] + 3*float64(w) + r.NormFloat64()
		if missing && r.Float64() < 0.1 {
			lac[i] = math.NaN()
		}
	}
	return &model.Table{Cols: []model.Column{{Name: "age", Num: age}, {Name: "lactate", Num: lac}, {Name: "ward", Text: ward},
		{Name: "death", Text: death}, {Name: "los", Num: los}}}
}

func fit(t *testing.T, tb *model.Table, learner, target string) *model.Model {
	t.Helper()
	set := map[string]string{}
	if learner == model.GBDT {
		set = map[string]string{"trees": "15", "max_depth": "4", "min_samples_leaf": "5"}
	}
	p, err := model.ParseParams(learner, set)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := model.Prepare(tb, target, "", []string{"age", "lactate", "ward"}, p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pb.Fit(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestForModel: for every learner and task, base + Σ contributions is the
// raw output, the probability is the model's prediction, and every input
// has a contribution.
func TestForModel(t *testing.T) {
	for _, c := range []struct {
		learner, target string
		missing         bool
	}{
		{model.GBDT, "death", true}, {model.GBDT, "los", true},
		{model.Logistic, "death", false}, {model.Linear, "los", false},
	} {
		t.Run(c.learner+" "+c.target, func(t *testing.T) {
			tb := patients(300, c.missing)
			m := fit(t, tb, c.learner, c.target)
			test := tb.Subset([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
			ex, err := ForModel(m, test)
			if err != nil {
				t.Fatal(err)
			}
			pred, err := m.Predict(test)
			if err != nil {
				t.Fatal(err)
			}
			if len(ex) != len(pred) {
				t.Fatalf("%d explanations for %d rows", len(ex), len(pred))
			}
			for i, e := range ex {
				if len(e.Contributions) != 3 {
					t.Errorf("row %d: contributions %v", i, e.Contributions)
				}
				sum := e.Base
				for _, v := range e.Contributions {
					sum += v
				}
				if math.Abs(sum-e.Output) > 1e-9 {
					t.Errorf("row %d: base + Σ = %v, output %v", i, sum, e.Output)
				}
				if m.Task == model.Binary {
					if e.Probability == nil || math.Abs(*e.Probability-pred[i]) > 1e-12 {
						t.Errorf("row %d: probability %v, model %v", i, e.Probability, pred[i])
					}
				} else if e.Probability != nil || math.Abs(e.Output-pred[i]) > 1e-9 {
					t.Errorf("row %d: output %v, model %v", i, e.Output, pred[i])
				}
			}
		})
	}
}

// TestForModelLinearByHand: contributions are coefficient × value, a
// categorical input's the coefficient of its level, base the intercept.
func TestForModelLinearByHand(t *testing.T) {
	tb := patients(200, false)
	m := fit(t, tb, model.Linear, "los")
	coef := map[string]float64{}
	for j, f := range m.Linear.Features {
		coef[f] = m.Linear.Coef[j]
	}
	test := tb.Subset([]int{3})
	ex, err := ForModel(m, test)
	if err != nil {
		t.Fatal(err)
	}
	e := ex[0]
	if e.Base != m.Linear.Intercept || e.Method != MethodLinear {
		t.Errorf("base %v, intercept %v", e.Base, m.Linear.Intercept)
	}
	if want := coef["age"] * test.Col("age").Num[0]; math.Abs(e.Contributions["age"]-want) > 1e-12 {
		t.Errorf("age: %v, want %v", e.Contributions["age"], want)
	}
	if want := coef["ward="+test.Col("ward").Text[0]]; math.Abs(e.Contributions["ward"]-want) > 1e-12 { // 0 for the dropped level
		t.Errorf("ward: %v, want %v", e.Contributions["ward"], want)
	}
	// with means: base = intercept + coef·mean, contributions centred
	base, phi := Linear([]string{"a", "b"}, []float64{2, -1}, 0.5, []float64{3, 4}, []float64{1, 1})
	if base != 1.5 || phi[0] != 4 || phi[1] != -3 {
		t.Errorf("Linear with means: %v %v", base, phi)
	}
}

// TestForModelErrors: a missing numeric value for a linear model, a gbdt
// model saved without covers.
func TestForModelErrors(t *testing.T) {
	tb := patients(200, false)
	m := fit(t, tb, model.Logistic, "death")
	bad := tb.Subset([]int{0})
	bad.Col("age").Num[0] = math.NaN()
	if _, err := ForModel(m, bad); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("missing age: %v", err)
	}
	g := fit(t, tb, model.GBDT, "death")
	for _, tr := range g.GBDT.Trees {
		for i := range tr.Nodes {
			tr.Nodes[i].Cover = 0
		}
	}
	if _, err := ForModel(g, tb.Subset([]int{0})); err == nil || errs.MessageOf(err) != ErrNoCovers {
		t.Errorf("no covers: %v", err)
	}
	// an old model file still loads and predicts
	b, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	g2, err := model.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g2.Predict(tb.Subset([]int{0})); err != nil {
		t.Fatal(err)
	}
}
