package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// synth returns a table with a numeric, a categorical and a binary target
// column (outcome depends on both features), and a numeric target los.
func synth(n int) *Table {
	r := rand.New(rand.NewPCG(1, 2))
	x := Column{Name: "x", Text: make([]string, n)}
	ward := Column{Name: "ward", Text: make([]string, n)}
	out := Column{Name: "outcome", Text: make([]string, n)}
	los := Column{Name: "los", Num: make([]float64, n)}
	for i := range n {
		v := r.NormFloat64()
		w := []string{"icu", "med", "surg"}[r.IntN(3)]
		x.Text[i] = fmt.Sprintf("%.3f", v)
		ward.Text[i] = w
		z := 2*v + map[string]float64{"icu": 1, "med": -1, "surg": 0}[w] + 0.3*r.NormFloat64()
		out.Text[i] = map[bool]string{true: "yes", false: "no"}[z > 0]
		los.Num[i] = 3*v + map[string]float64{"icu": 4, "med": 1, "surg": 2}[w] + 0.1*r.NormFloat64()
	}
	return &Table{Cols: []Column{x, ward, out, los}}
}

func TestInferInput(t *testing.T) {
	for _, c := range []struct {
		col  Column
		typ  string
		cats string
		err  string
	}{
		{Column{Name: "a", Text: []string{"1", "2.5", "", "NA"}}, Numeric, "", ""},
		{Column{Name: "b", Text: []string{"z", "1", "a", "?"}}, Categorical, "1,a,z", ""},
		{Column{Name: "c", Num: []float64{1, math.NaN()}}, Numeric, "", ""},
		{Column{Name: "d", Text: []string{"1", "NaN"}}, "", "", "NaN or infinite"},
		{Column{Name: "e", Num: []float64{math.Inf(1)}}, "", "", "infinite"},
	} {
		in, err := InferInput(&c.col)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.col.Name, err, c.err)
			}
			continue
		}
		if err != nil || in.Type != c.typ || strings.Join(in.Categories, ",") != c.cats {
			t.Errorf("%s: %+v %v", c.col.Name, in, err)
		}
	}
}

func TestReadTarget(t *testing.T) {
	tab := func(vals ...string) *Table { return &Table{Cols: []Column{{Name: "y", Text: vals}}} }
	for _, c := range []struct {
		name     string
		t        *Table
		positive string
		learner  string
		task     string
		pos      string
		err      string
	}{
		{"two text values", tab("no", "yes", "no"), "", GBDT, Binary, "yes", ""},
		{"named positive", tab("a", "b", "c"), "c", GBDT, Binary, "c", ""},
		{"zero one", tab("0", "1", "1"), "", GBDT, Binary, "1", ""},
		{"zero one linear", tab("0", "1", "1"), "", Linear, Regression, "", ""},
		{"numbers", tab("1.5", "2", "7"), "", GBDT, Regression, "", ""},
		{"boolean stored", tab("true", "false"), "oui", Logistic, Binary, "true", ""},
		{"constant", tab("a", "a"), "", GBDT, "", "", "constant"},
		{"missing", tab("a", ""), "", GBDT, "", "", "row 2"},
		{"absent positive", tab("a", "b"), "z", GBDT, "", "", "never occurs"},
		{"three texts", tab("a", "b", "c"), "", GBDT, Multiclass, "", ""},
		{"linear on text", tab("a", "b"), "", Linear, "", "", "not numeric"},
		{"logistic on numbers", tab("1", "2", "3"), "", Logistic, "", "", "name the positive value"},
		{"not a column", &Table{Cols: []Column{{Name: "x", Text: []string{"1"}}}}, "", GBDT, "", "", "not a column"},
	} {
		tg, err := ReadTarget(c.t, "y", c.positive, c.learner)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || tg.Task != c.task || tg.Positive != c.pos && c.task == Binary {
			t.Errorf("%s: %+v %v", c.name, tg, err)
		}
	}
}

func TestParseParams(t *testing.T) {
	if p, err := ParseParams(GBDT, map[string]string{"trees": "7", "l2": "0.5", "seed": "3"}); err != nil || p.GBDT.Trees != 7 || p.GBDT.L2 != 0.5 || p.GBDT.Seed != 3 {
		t.Fatalf("%+v %v", p, err)
	}
	if p, err := ParseParams(Logistic, map[string]string{"l2": "2"}); err != nil || p.Logistic.L2 != 2 {
		t.Fatalf("%+v %v", p, err)
	}
	for _, c := range []struct {
		learner string
		set     map[string]string
		err     string
	}{
		{"forest", nil, "unknown learner"},
		{GBDT, map[string]string{"colour": "red"}, "unknown for the gbdt learner"},
		{Linear, map[string]string{"trees": "1"}, "known: l2"},
		{Linear, map[string]string{"l2": "-1"}, "l2 must be"},
		{GBDT, map[string]string{"trees": "x"}, "integer"},
		{GBDT, map[string]string{"trees": "0"}, "trees must be at least 1"},
		{GBDT, map[string]string{"learning_rate": "NaN"}, "finite"},
		{Logistic, map[string]string{"l2": "-1"}, "l2"},
	} {
		if _, err := ParseParams(c.learner, c.set); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s %v: %v, want %q", c.learner, c.set, err, c.err)
		}
	}
}

func TestFitRoundTrip(t *testing.T) {
	tab := synth(600)
	for _, c := range []struct {
		learner, target string
		check           func(p []float64) error
	}{
		{GBDT, "outcome", accuracyAbove(tab, 0.85)},
		{Logistic, "outcome", accuracyAbove(tab, 0.85)},
		{Linear, "los", func(p []float64) error {
			for i, v := range p {
				if d := v - tab.Col("los").Num[i]; math.Abs(d) > 0.5 {
					return fmt.Errorf("row %d: %v vs %v", i, v, tab.Col("los").Num[i])
				}
			}
			return nil
		}},
	} {
		params, _ := ParseParams(c.learner, nil)
		pb, err := Prepare(tab, c.target, "", []string{"x", "ward"}, params)
		if err != nil {
			t.Fatal(err)
		}
		m, err := pb.Fit(nil)
		if err != nil {
			t.Fatalf("%s: %v", c.learner, err)
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", c.learner, err)
		}
		p1, err := m.Predict(tab)
		if err != nil {
			t.Fatal(err)
		}
		p2, _ := m2.Predict(tab)
		for i := range p1 {
			if p1[i] != p2[i] {
				t.Fatalf("%s: row %d predicts %v before saving, %v after", c.learner, i, p1[i], p2[i])
			}
		}
		if err := c.check(p1); err != nil {
			t.Errorf("%s: %v", c.learner, err)
		}
		if imp := m.Importance(); imp["x"] <= 0 {
			t.Errorf("%s: importance %v", c.learner, imp)
		}
		// The same model on rows with an unseen ward and without a column.
		odd := &Table{Cols: []Column{{Name: "x", Text: []string{"0.5"}}, {Name: "ward", Text: []string{"cardio"}}}}
		if _, err := m.Predict(odd); err != nil {
			t.Errorf("%s: unseen category: %v", c.learner, err)
		}
		if _, err := m.Predict(&Table{Cols: []Column{{Name: "x", Text: []string{"1"}}}}); err == nil || !strings.Contains(err.Error(), `needs column "ward"`) {
			t.Errorf("%s: missing column: %v", c.learner, err)
		}
	}
}

func accuracyAbove(tab *Table, min float64) func([]float64) error {
	return func(p []float64) error {
		ok := 0
		for i, v := range p {
			if (v > 0.5) == (tab.Col("outcome").Text[i] == "yes") {
				ok++
			}
		}
		if acc := float64(ok) / float64(len(p)); acc < min {
			return fmt.Errorf("training accuracy %.3f < %.2f", acc, min)
		}
		return nil
	}
}

func TestUnmarshalRejects(t *testing.T) {
	for _, doc := range []string{`{`, `{"format":"hygie.gbdt/1"}`, `{"format":"hygie.model/1","learner":"gbdt","task":"binary"}`,
		`{"format":"hygie.model/1","learner":"gbdt","task":"binary","inputs":[{"name":"a","type":"numeric"}]}`,
		`{"format":"hygie.model/1","learner":"linear","task":"binary","inputs":[{"name":"a","type":"numeric"}],"linear":{"features":["a"],"coef":[1]}}`} {
		if _, err := Unmarshal([]byte(doc)); err == nil {
			t.Errorf("accepted %s", doc)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	tab := synth(100)
	params, _ := ParseParams(GBDT, map[string]string{"trees": "3"})
	pb, _ := Prepare(tab, "outcome", "", []string{"x", "ward"}, params)
	m, _ := pb.Fit(nil)
	b, _ := m.Marshal()
	f.Add(b)
	f.Add([]byte(`{"format":"hygie.model/1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			return
		}
		// A model that loads predicts or fails cleanly; it never panics.
		_, _ = m.Predict(tab)
	})
}

func TestFitMulticlass(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	n := 600
	x := Column{Name: "x", Num: make([]float64, n)}
	y := Column{Name: "triage", Text: make([]string, n)}
	for i := range n {
		v := 3 * r.Float64()
		x.Num[i] = v
		y.Text[i] = []string{"green", "orange", "red"}[min(2, int(v+0.3*r.NormFloat64()+0.0))]
		if v+0.3*r.NormFloat64() < 0 {
			y.Text[i] = "green"
		}
	}
	tab := &Table{Cols: []Column{x, y}}
	for _, learner := range []string{GBDT, Logistic} {
		params, _ := ParseParams(learner, nil)
		pb, err := Prepare(tab, "triage", "", nil, params)
		if err != nil {
			t.Fatal(err)
		}
		if pb.Target.Task != Multiclass || strings.Join(pb.Target.Classes, ",") != "green,orange,red" {
			t.Fatalf("target %+v", pb.Target)
		}
		m, err := pb.Fit(nil)
		if err != nil {
			t.Fatalf("%s: %v", learner, err)
		}
		b, _ := m.Marshal()
		m2, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", learner, err)
		}
		proba, err := m2.PredictProba(tab)
		if err != nil {
			t.Fatal(err)
		}
		cls, _ := m2.Predict(tab)
		ok := 0
		for i, p := range proba {
			if sum := p[0] + p[1] + p[2]; math.Abs(sum-1) > 1e-9 {
				t.Fatalf("%s: row %d probabilities sum to %v", learner, i, sum)
			}
			if m2.Classes[int(cls[i])] == tab.Col("triage").Text[i] {
				ok++
			}
		}
		if acc := float64(ok) / float64(n); acc < 0.7 {
			t.Errorf("%s: accuracy %.3f", learner, acc)
		}
	}
}
