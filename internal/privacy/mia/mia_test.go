package mia

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/evaluate"
)

func TestAssessByHand(t *testing.T) {
	cases := []struct {
		name           string
		members, non   []float64
		auc, adv       float64
		threshold      float64 // NaN: none
		tpr, fpr       float64
		nMembers, nNon int
	}{
		{"separated", []float64{1, 2}, []float64{3, 4}, 1, 1, 2, 1, 0, 2, 2},
		{"interleaved", []float64{1, 3}, []float64{2, 4}, 0.75, 0.5, 1, 0.5, 0, 2, 2},
		{"tie counts half", []float64{1, 2}, []float64{2, 3}, 0.875, 0.5, 1, 0.5, 0, 2, 2},
		{"all equal", []float64{2, 2}, []float64{2, 2}, 0.5, 0, math.NaN(), 0, 0, 2, 2},
		{"reversed", []float64{3, 4}, []float64{1, 2}, 0, 0, math.NaN(), 0, 0, 2, 2},
		{"one each", []float64{0.1}, []float64{0.2}, 1, 1, 0.1, 1, 0, 1, 1},
		{"infinite loss", []float64{0, 1}, []float64{math.Inf(1), 1}, 0.875, 0.5, 0, 0.5, 0, 2, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Assess(c.members, c.non, Options{Resamples: 200, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			th := float64(r.Threshold)
			if r.AUC != c.auc || r.Advantage != c.adv || r.TPR != c.tpr || r.FPR != c.fpr ||
				!(th == c.threshold || math.IsNaN(th) && math.IsNaN(c.threshold)) || r.Members != c.nMembers || r.NonMembers != c.nNon {
				t.Errorf("got auc %v adv %v threshold %v tpr %v fpr %v counts %d/%d", r.AUC, r.Advantage, th, r.TPR, r.FPR, r.Members, r.NonMembers)
			}
			if float64(r.AUCInterval.Estimate) != c.auc || float64(r.AdvantageInterval.Estimate) != c.adv {
				t.Errorf("interval estimates %v %v", r.AUCInterval.Estimate, r.AdvantageInterval.Estimate)
			}
			if !r.AUCInterval.Stratified || r.AUCInterval.Resamples != 200 {
				t.Errorf("auc interval %+v", r.AUCInterval)
			}
		})
	}
}

func TestAssessErrors(t *testing.T) {
	cases := []struct {
		name         string
		members, non []float64
		opt          Options
		want         error
	}{
		{"no members", nil, []float64{1}, Options{}, ErrEmpty},
		{"no non-members", []float64{1}, []float64{}, Options{}, ErrEmpty},
		{"NaN member", []float64{1, math.NaN()}, []float64{1}, Options{}, ErrNaN},
		{"NaN non-member", []float64{1}, []float64{math.NaN()}, Options{}, ErrNaN},
		{"level", []float64{1}, []float64{2}, Options{Level: 1.5}, ErrOption},
		{"resamples", []float64{1}, []float64{2}, Options{Resamples: 1}, ErrOption},
		{"method", []float64{1}, []float64{2}, Options{Method: "jackknife"}, ErrOption},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Assess(c.members, c.non, c.opt); !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func normals(r *rand.Rand, n int, mu float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Abs(mu + r.NormFloat64())
	}
	return x
}

func TestAssessDistributions(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	t.Run("identical", func(t *testing.T) {
		for _, method := range []evaluate.CIMethod{evaluate.Percentile, evaluate.BCa} {
			rep, err := Assess(normals(r, 800, 1), normals(r, 500, 1), Options{Resamples: 500, Seed: 3, Method: method})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Members != 500 || rep.NonMembers != 500 || rep.MembersAvailable != 800 || rep.NonMembersAvailable != 500 {
				t.Fatalf("balance: %+v", rep)
			}
			if !(rep.AUCInterval.Lower <= 0.5 && 0.5 <= rep.AUCInterval.Upper) || math.Abs(rep.AUC-0.5) > 0.05 {
				t.Errorf("%s: AUC %v %+v", method, rep.AUC, rep.AUCInterval)
			}
			// The advantage is a maximum: positive on any finite sample, but
			// at chance level, and its interval starts near 0.
			if rep.Advantage > rep.AdvantageChance || rep.AdvantageInterval.Lower > 0.06 || rep.AdvantageInterval.Upper > 0.15 {
				t.Errorf("%s: advantage %v (chance %v) %+v", method, rep.Advantage, rep.AdvantageChance, rep.AdvantageInterval)
			}
			if !strings.HasPrefix(rep.Interpretation, "the attack does no better than chance") || !rep.Pass(0.2) || rep.Pass(0.01) {
				t.Errorf("%s: %q pass(0.2) %v", method, rep.Interpretation, rep.Pass(0.2))
			}
		}
	})
	t.Run("separated", func(t *testing.T) {
		m, n := make([]float64, 300), make([]float64, 200)
		for i := range m {
			m[i] = r.Float64()
		}
		for i := range n {
			n[i] = 2 + r.Float64()
		}
		rep, err := Assess(m, n, Options{Resamples: 300, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		if rep.AUC != 1 || rep.Advantage != 1 || rep.TPR != 1 || rep.FPR != 0 || rep.AUCInterval.Lower != 1 || rep.AdvantageInterval.Lower != 1 || rep.AdvantageInterval.Upper != 1 {
			t.Errorf("%+v", rep)
		}
		if !(float64(rep.Threshold) < 1) || rep.Pass(0.5) || !rep.Pass(1) || !strings.Contains(rep.Interpretation, "strongly") {
			t.Errorf("threshold %v pass %v %q", rep.Threshold, rep.Pass(0.5), rep.Interpretation)
		}
	})
	t.Run("shifted", func(t *testing.T) {
		rep, err := Assess(normals(r, 400, 0.5), normals(r, 400, 1.5), Options{Resamples: 300, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		if !(rep.AUCInterval.Lower > 0.6 && rep.AdvantageInterval.Lower > 0.2 && float64(rep.AdvantageInterval.Lower) < rep.Advantage && rep.Advantage < float64(rep.AdvantageInterval.Upper)) {
			t.Errorf("%+v", rep)
		}
		if !strings.HasPrefix(rep.Interpretation, "the attack does better than chance") || !(rep.MemberMeanLoss < rep.NonMemberMeanLoss) {
			t.Errorf("%q", rep.Interpretation)
		}
	})
	t.Run("worse than chance", func(t *testing.T) {
		rep, err := Assess(normals(r, 300, 2), normals(r, 300, 0), Options{Resamples: 200})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(rep.Interpretation, "the attack does worse than chance") {
			t.Errorf("%q", rep.Interpretation)
		}
	})
}

func TestAssessDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m, n := normals(r, 300, 0.8), normals(r, 120, 1)
	js := func(seed uint64) string {
		rep, err := Assess(m, n, Options{Resamples: 200, Seed: seed, Method: evaluate.BCa})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a := js(5)
	if b := js(5); a != b {
		t.Errorf("same seed, different reports:\n%s\n%s", a, b)
	}
	if c := js(6); a == c {
		t.Errorf("different seeds, same report (subsample and bootstrap should change)")
	}
}

func TestLosses(t *testing.T) {
	cases := []struct {
		name      string
		got, want float64
	}{
		{"log loss positive", LogLoss(0.8, 1), -math.Log(0.8)},
		{"log loss negative", LogLoss(0.8, 0), -math.Log(0.2)},
		{"log loss clipped at 0", LogLoss(0, 1), -math.Log(Clip)},
		{"log loss clipped at 1", LogLoss(1, 0), -math.Log(Clip)}, // 1 − (1 − Clip) rounds
		{"log loss perfect", LogLoss(1, 1), -math.Log(1 - Clip)},
		{"squared error", SquaredError(3, 1.5), 2.25},
		{"squared error zero", SquaredError(-2, -2), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if math.Abs(c.got-c.want) > 1e-4*math.Max(1, math.Abs(c.want)) || math.IsInf(c.got, 0) {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
	if !math.IsNaN(LogLoss(math.NaN(), 1)) {
		t.Error("LogLoss(NaN) is not NaN")
	}
}
