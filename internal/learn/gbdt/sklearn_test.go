package gbdt

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"testing"
)

// python is the interpreter of the scikit-learn cross-checks (Debian's
// python3-sklearn). They are skipped when it cannot import sklearn, unless
// CI=true, where that is a failure.
const python = "/usr/bin/python3"

func needSklearn(t *testing.T) {
	t.Helper()
	if err := exec.Command(python, "-c", "import sklearn").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s with sklearn not available: %v", python, err)
		}
		t.Skipf("%s with sklearn not available: %v", python, err)
	}
}

const hgbScript = `
import json, sys
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss, accuracy_score
d = json.load(sys.stdin)
X = np.array(d["X"], dtype=float)   # NaN arrives as null
Xt = np.array(d["Xt"], dtype=float)
m = HistGradientBoostingClassifier(max_iter=d["trees"], max_leaf_nodes=d["leaves"], learning_rate=d["lr"],
    min_samples_leaf=d["min_leaf"], l2_regularization=0.0, max_bins=255, early_stopping=False,
    categorical_features=d["cat"], random_state=0).fit(X, d["y"])
p = m.predict_proba(Xt)
json.dump({"log_loss": float(log_loss(d["yt"], p, labels=list(range(p.shape[1])))),
           "accuracy": float(accuracy_score(d["yt"], p.argmax(axis=1)))}, sys.stdout)
`

func nullNaN(X [][]float64) [][]any {
	out := make([][]any, len(X))
	for i, x := range X {
		out[i] = make([]any, len(x))
		for j, v := range x {
			if !math.IsNaN(v) {
				out[i][j] = v
			}
		}
	}
	return out
}

// TestMultinomialMatchesSklearn trains hygie's and scikit-learn's
// multi-class gradient boosting with the same settings and compares the
// test log loss and accuracy.
func TestMultinomialMatchesSklearn(t *testing.T) {
	needSklearn(t)
	for _, c := range []struct {
		name                    string
		feats                   []Feature
		gen                     func(r *rand.Rand) ([]float64, float64)
		n, trees, leaves        int
		minLeaf                 int
		maxLossDiff, maxAccDiff float64
	}{
		{
			// iris-like: 3 species, 4 Gaussian measurements, 50 of each
			name: "iris-like", feats: num("sepal_length", "sepal_width", "petal_length", "petal_width"),
			gen: func(r *rand.Rand) ([]float64, float64) {
				mu := [3][4]float64{{5.0, 3.4, 1.5, 0.25}, {5.9, 2.8, 4.3, 1.3}, {6.6, 3.0, 5.55, 2.0}}
				sd := [3][4]float64{{0.35, 0.38, 0.17, 0.1}, {0.5, 0.31, 0.47, 0.2}, {0.63, 0.32, 0.55, 0.27}}
				k := r.Intn(3)
				x := make([]float64, 4)
				for j := range x {
					x[j] = math.Round((mu[k][j]+sd[k][j]*r.NormFloat64())*10) / 10
				}
				return x, float64(k)
			},
			n: 300, trees: 50, leaves: 7, minLeaf: 5, maxLossDiff: 0.08, maxAccDiff: 0.04,
		},
		{
			// 3 classes from a non-linear score, a categorical feature and
			// missing values
			name:  "synthetic",
			feats: append(num("a", "b", "c"), Feature{Name: "g", Type: Categorical, Categories: []string{"p", "q", "r", "s", "t"}}),
			gen: func(r *rand.Rand) ([]float64, float64) {
				a, b, c, g := r.NormFloat64(), r.NormFloat64(), r.Float64(), float64(r.Intn(5))
				s0 := a + 0.5*math.Sin(3*b)
				s1 := b*b - 1 + 0.8*float64(int(g)%2)
				s2 := 2*c - 1 - 0.5*a
				if r.Float64() < 0.1 {
					b = math.NaN()
				}
				z := []float64{s0 + 0.7*r.NormFloat64(), s1 + 0.7*r.NormFloat64(), s2 + 0.7*r.NormFloat64()}
				k := 0
				for j := range z {
					if z[j] > z[k] {
						k = j
					}
				}
				return []float64{a, b, c, g}, float64(k)
			},
			n: 4000, trees: 100, leaves: 15, minLeaf: 20, maxLossDiff: 0.02, maxAccDiff: 0.02,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewSource(12))
			var X, Xt [][]float64
			var y, yt []float64
			for i := 0; i < c.n; i++ {
				x, k := c.gen(r)
				if i%4 == 0 {
					Xt, yt = append(Xt, x), append(yt, k)
				} else {
					X, y = append(X, x), append(y, k)
				}
			}
			cat := make([]bool, len(c.feats))
			for j, f := range c.feats {
				cat[j] = f.Type == Categorical
			}
			in, _ := json.Marshal(map[string]any{"X": nullNaN(X), "y": y, "Xt": nullNaN(Xt), "yt": yt, "cat": cat,
				"trees": c.trees, "leaves": c.leaves, "lr": 0.1, "min_leaf": c.minLeaf})
			cmd := exec.Command(python, "-c", hgbScript)
			cmd.Stdin = bytes.NewReader(in)
			cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("scikit-learn: %v\n%s", err, stderr.String())
			}
			var want struct {
				LogLoss  float64 `json:"log_loss"`
				Accuracy float64 `json:"accuracy"`
			}
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			p := DefaultParams()
			p.Loss, p.Trees, p.MaxLeaves, p.MinSamplesLeaf, p.Workers = Multinomial, c.trees, c.leaves, c.minLeaf, 1
			m, err := Fit(c.feats, X, y, p)
			if err != nil {
				t.Fatal(err)
			}
			var ll, acc float64
			for i, x := range Xt {
				pr, err := m.PredictProba(x)
				if err != nil {
					t.Fatal(err)
				}
				ll -= math.Log(math.Max(pr[int(yt[i])], 1e-15))
				if cl, _ := m.Predict(x); cl == yt[i] {
					acc++
				}
			}
			ll /= float64(len(Xt))
			acc /= float64(len(Xt))
			t.Logf("test log loss %.4f (scikit-learn %.4f), accuracy %.4f (scikit-learn %.4f)", ll, want.LogLoss, acc, want.Accuracy)
			if ll > want.LogLoss+c.maxLossDiff {
				t.Errorf("log loss %.4f, scikit-learn %.4f", ll, want.LogLoss)
			}
			if acc < want.Accuracy-c.maxAccDiff {
				t.Errorf("accuracy %.4f, scikit-learn %.4f", acc, want.Accuracy)
			}
		})
	}
}
