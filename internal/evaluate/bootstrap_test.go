package evaluate

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func meanStat(x []float64) Statistic {
	return func(idx []int) (float64, error) {
		s := 0.0
		for _, i := range idx {
			s += x[i]
		}
		return s / float64(len(idx)), nil
	}
}

// Coverage: 200 replications of n=60 N(5,2²) samples; the 95 % percentile
// and BCa intervals for the mean must contain 5 at least 90 % of the time.
func TestBootstrapCoverage(t *testing.T) {
	const reps, n, mu = 200, 60, 5.0
	r := rand.New(rand.NewPCG(2026, 11))
	for _, method := range []CIMethod{Percentile, BCa} {
		hits := 0
		for rep := range reps {
			x := make([]float64, n)
			for i := range x {
				x[i] = mu + 2*r.NormFloat64()
			}
			iv, err := Bootstrap(n, meanStat(x), BootstrapOptions{Resamples: 500, Method: method, Seed: uint64(rep)})
			if err != nil {
				t.Fatal(err)
			}
			if float64(iv.Lower) <= mu && mu <= float64(iv.Upper) {
				hits++
			}
		}
		cov := float64(hits) / reps
		t.Logf("%s coverage %.3f", method, cov)
		if cov < 0.9 || cov > 0.995 {
			t.Errorf("%s coverage %.3f outside [0.90, 0.995]", method, cov)
		}
	}
}

func TestBootstrapReproducibleAndDefaults(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 30}
	for _, m := range []CIMethod{Percentile, BCa} {
		a, err := Bootstrap(len(x), meanStat(x), BootstrapOptions{Seed: 5, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Bootstrap(len(x), meanStat(x), BootstrapOptions{Seed: 5, Method: m})
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: not reproducible: %+v vs %+v", m, a, b)
		}
		c, _ := Bootstrap(len(x), meanStat(x), BootstrapOptions{Seed: 6, Method: m})
		if reflect.DeepEqual(a, c) {
			t.Errorf("%s: different seeds gave identical intervals", m)
		}
		if a.Resamples != DefaultResamples || a.Level != DefaultLevel || a.Estimate != 7.5 {
			t.Errorf("defaults: %+v", a)
		}
		if !(a.Lower < a.Estimate && a.Estimate < a.Upper) {
			t.Errorf("%s interval %+v does not bracket estimate", m, a)
		}
	}
	// Right-skewed data: BCa shifts the interval right of the percentile one.
	p, _ := Bootstrap(len(x), meanStat(x), BootstrapOptions{Seed: 5})
	bca, _ := Bootstrap(len(x), meanStat(x), BootstrapOptions{Seed: 5, Method: BCa})
	if !(bca.Acceleration > 0 && bca.Upper > p.Upper) {
		t.Errorf("BCa %+v vs percentile %+v", bca, p)
	}
	// Jackknife acceleration of the mean by hand: a = Σd³ / (6 (Σd²)^1.5),
	// with d_i = mean(jack) − jack_i = (x_i − x̄)/(n−1).
	var s2, s3 float64
	for _, v := range x {
		d := (v - 7.5) / 9
		s2 += d * d
		s3 += d * d * d
	}
	if want := s3 / (6 * math.Pow(s2, 1.5)); !near(float64(bca.Acceleration), want, 1e-12) {
		t.Errorf("acceleration %v want %v", bca.Acceleration, want)
	}
	for _, bad := range []BootstrapOptions{{Level: 1.2}, {Resamples: 1}, {Method: "studentized"}, {Strata: []int{1}}} {
		if _, err := Bootstrap(len(x), meanStat(x), bad); err == nil {
			t.Errorf("options %+v accepted", bad)
		}
	}
}

func TestBootstrapDegenerateAndStratified(t *testing.T) {
	// 2 positives in 30: plain resamples often miss them → redrawn.
	y := make([]int, 30)
	s := make([]float64, 30)
	for i := range y {
		s[i] = float64(i) / 30
	}
	y[25], y[10] = 1, 1
	iv, err := BootstrapBinary(y, s, ROCAUC, false, BootstrapOptions{Resamples: 300, Seed: 1, Method: BCa})
	if err != nil {
		t.Fatal(err)
	}
	if iv.Redrawn == 0 || iv.Resamples != 300 || !strings.Contains(iv.Note, "redrawn") {
		t.Errorf("expected redrawn resamples: %+v", iv)
	}
	st, err := BootstrapBinary(y, s, ROCAUC, true, BootstrapOptions{Resamples: 300, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Redrawn != 0 || !st.Stratified {
		t.Errorf("stratified resampling redrew: %+v", st)
	}
	// MaxAttempts exhausted → partial result with a note.
	part, err := BootstrapBinary(y, s, ROCAUC, false, BootstrapOptions{Resamples: 300, Seed: 1, MaxAttempts: 310})
	if err != nil {
		t.Fatal(err)
	}
	if part.Resamples >= 300 || !strings.Contains(part.Note, "requested") {
		t.Errorf("partial: %+v", part)
	}
	// Undefined on the full sample → error.
	if _, err := BootstrapBinary([]int{0, 0}, []float64{1, 2}, ROCAUC, false, BootstrapOptions{}); err == nil {
		t.Error("single-class full sample accepted")
	}
}

func TestSubgroupSuppression(t *testing.T) {
	var y []int
	var s []float64
	var g []string
	add := func(name string, n int) {
		for i := range n {
			y = append(y, i%2)
			s = append(s, float64(i%2)*0.6+0.2)
			g = append(g, name)
		}
	}
	add("site-A", 40)
	add("site-B", 10)
	add("site-C", 9)
	add("site-D", 1)
	rep, err := SubgroupMetrics(y, s, g, 0.5, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.MinSize != DefaultMinSubgroupSize || rep.Suppressed != 2 || !strings.Contains(rep.Note, "suppressed") {
		t.Errorf("report %+v", rep)
	}
	want := map[string]bool{"site-A": false, "site-B": false, "site-C": true, "site-D": true}
	for _, sg := range rep.Groups {
		if sg.Suppressed != want[sg.Group] {
			t.Errorf("%s suppressed=%v", sg.Group, sg.Suppressed)
		}
		if sg.Suppressed && sg.Metrics != nil {
			t.Errorf("%s: suppressed group leaks metrics", sg.Group)
		}
		if !sg.Suppressed && (sg.Metrics == nil || sg.Metrics.ROCAUC != 1) {
			t.Errorf("%s: metrics %+v", sg.Group, sg.Metrics)
		}
	}
	b, _ := json.Marshal(rep)
	if strings.Contains(string(b), `"n":9`) || strings.Contains(string(b), `"n":1,`) {
		t.Errorf("suppressed counts in JSON: %s", b)
	}
	rep20, _ := SubgroupMetrics(y, s, g, 0.5, 0, 20)
	if rep20.Suppressed != 3 {
		t.Errorf("min 20: %d suppressed", rep20.Suppressed)
	}
}

// Optional cross-check against scikit-learn (skipped if python3 + sklearn
// are not importable).
func TestSklearnCrossCheck(t *testing.T) {
	py := "/usr/bin/python3"
	if testing.Short() {
		t.Skip("short mode")
	}
	if _, err := os.Stat(py); err != nil {
		t.Skip("no python3")
	}
	if err := exec.Command(py, "-c", "import sklearn").Run(); err != nil {
		t.Skip("sklearn not importable")
	}
	r := rand.New(rand.NewPCG(314, 15))
	n := 400
	y := make([]int, n)
	p := make([]float64, n)
	for i := range n {
		y[i] = r.IntN(2)
		p[i] = math.Round(sigmoid(r.NormFloat64()+float64(y[i]))*50) / 50 // ties
	}
	data, _ := json.Marshal(map[string]any{"y": y, "p": p})
	f := filepath.Join(t.TempDir(), "d.json")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `import json,sys
from sklearn.metrics import roc_auc_score, average_precision_score, brier_score_loss
d=json.load(open(sys.argv[1]))
print(json.dumps([roc_auc_score(d["y"],d["p"]), average_precision_score(d["y"],d["p"]), brier_score_loss(d["y"],d["p"])]))`
	out, err := exec.Command(py, "-c", script, f).Output()
	if err != nil {
		t.Skipf("python failed: %v", err)
	}
	var want []float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	auc, _ := ROCAUC(y, p)
	ap, _ := AveragePrecision(y, p)
	br, _ := Brier(y, p)
	for i, got := range []float64{auc, ap, br} {
		if !near(got, want[i], 1e-12) {
			t.Errorf("metric %d: got %v sklearn %v", i, got, want[i])
		}
	}
	t.Logf("auc %v ap %v brier %v match sklearn", auc, ap, br)
}

func benchData(n int) ([]int, []float64) {
	r := rand.New(rand.NewPCG(1, 1))
	y := make([]int, n)
	s := make([]float64, n)
	for i := range n {
		y[i] = r.IntN(2)
		s[i] = sigmoid(r.NormFloat64() + float64(y[i]))
	}
	return y, s
}

func TestBootstrapAUCFastMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	n := 300
	y := make([]int, n)
	s := make([]float64, n)
	for i := range n {
		y[i] = r.IntN(5) / 4 // ~20 % positives
		s[i] = math.Round((r.Float64()+0.4*float64(y[i]))*20) / 20
	}
	for _, strat := range []bool{false, true} {
		for _, m := range []CIMethod{Percentile, BCa} {
			o := BootstrapOptions{Resamples: 200, Seed: 3, Method: m}
			a, err1 := BootstrapAUC(y, s, strat, o)
			b, err2 := BootstrapBinary(y, s, ROCAUC, strat, o)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if !near(float64(a.Lower), float64(b.Lower), 1e-12) || !near(float64(a.Upper), float64(b.Upper), 1e-12) ||
				!near(float64(a.Estimate), float64(b.Estimate), 1e-12) || a.Redrawn != b.Redrawn {
				t.Errorf("strat=%v %s: fast %+v generic %+v", strat, m, a, b)
			}
		}
	}
}

// BenchmarkBootstrapAUC: n=10,000, 1,000 resamples, stratified.
func BenchmarkBootstrapAUC(b *testing.B) {
	y, s := benchData(10000)
	for _, m := range []CIMethod{Percentile, BCa} {
		b.Run("fast/"+fmt.Sprint(m), func(b *testing.B) {
			for b.Loop() {
				if _, err := BootstrapAUC(y, s, true, BootstrapOptions{Resamples: 1000, Seed: 1, Method: m}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("generic/"+fmt.Sprint(m), func(b *testing.B) {
			for b.Loop() {
				if _, err := BootstrapBinary(y, s, ROCAUC, true, BootstrapOptions{Resamples: 1000, Seed: 1, Method: m}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
