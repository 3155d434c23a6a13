package explain

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/dmitryikh/leaves"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// leavesModel loads a LightGBM text model with github.com/dmitryikh/leaves,
// the independent reference for predictions.
func leavesModel(t *testing.T, b []byte, transform bool) *leaves.Ensemble {
	t.Helper()
	m, err := leaves.LGEnsembleFromReader(bufio.NewReader(bytes.NewReader(b)), transform)
	if err != nil {
		t.Fatalf("leaves: %v", err)
	}
	return m
}

// TestLightGBMSmall: the hand-written model of testdata/lgb-small.txt.
func TestLightGBMSmall(t *testing.T) {
	b := readFile(t, "lgb-small.txt")
	e, err := LoadLightGBMText(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Link != Logistic || e.Classes != 1 || len(e.Trees) != 3 || !e.Covers || e.Features[2].Name != "lactate" {
		t.Fatalf("loaded %+v", e)
	}
	nan := math.NaN()
	// features: age, ward (categorical, {1, 3} go left), lactate, unused;
	// expected raw scores worked out by hand, tree by tree
	cases := []struct {
		x    []float64
		want float64
	}{
		{[]float64{0.2, 3, 0.5, 9}, -0.2 + 0.08 + 0.07},
		{[]float64{nan, nan, nan, 0}, -0.2 + 0.05 - 0.04},      // NaN: default left / None reads 0 / Zero default right / category right
		{[]float64{1, 2, 0, 0}, 0.3 + 0.05 - 0.04},             // lactate 0 is "missing" for the Zero rule
		{[]float64{-1, 1.7, 2, 0}, 0.1 + 0.05 + 0.07},          // category 1.7 reads 1
		{[]float64{0.5, -0.5, 1.5, 0}, -0.2 + 0.05 - 0.04},     // ties go left; -0.5 reads category 0
		{[]float64{-0.3, 1, 1, 0}, -0.2 - 0.12 + 0.07},         // ties go left
		{[]float64{-0.3, 1e12, 1e-40, -5}, -0.2 + 0.05 - 0.04}, // 1e-40 is zero; a huge category is none
	}
	raw := leavesModel(t, b, false)
	prob := leavesModel(t, b, true)
	var X [][]float64
	for _, c := range cases {
		got, err := e.Predict(c.x)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%v: raw %v, by hand %v", c.x, got, c.want)
		}
		if ref := raw.PredictSingle(c.x, 0); math.Abs(got-ref) > 1e-12 {
			t.Errorf("%v: raw %v, leaves %v", c.x, got, ref)
		}
		p, _ := e.Probability(c.x)
		if ref := prob.PredictSingle(c.x, 0); math.Abs(p-ref) > 1e-12 {
			t.Errorf("%v: probability %v, leaves %v", c.x, p, ref)
		}
		X = append(X, c.x)
	}
	checkSHAP(t, e, X, 3)
	// by hand, row 0 (age 0.2, ward 3, lactate 0.5): tree 2 splits on ward
	// only (trees 0 and 1 never do), φ_ward = 0.07 − (0.55·0.07 + 0.45·−0.04)
	_, phi, _ := e.SHAP(cases[0].x)
	sh := 0.07 - (0.55*0.07 + 0.45*-0.04)
	if math.Abs(phi[1]-sh) > 1e-12 {
		t.Errorf("φ_ward %v, by hand %v", phi[1], sh)
	}
}

// TestLightGBMReal: a model saved by LightGBM itself (dart booster) against LightGBM's own predictions and
// leaves'; TreeSHAP's local accuracy on every row.
func TestLightGBMReal(t *testing.T) {
	t.Run("dart breast cancer", func(t *testing.T) {
		b := readFile(t, "lg_dart_breast_cancer.model")
		e, err := LoadLightGBMText(b)
		if err != nil {
			t.Fatal(err)
		}
		X := readTSV(t, "breast_cancer_test.tsv")
		want := readFloats(t, "lg_dart_breast_cancer_true_predictions.txt")
		checkLightGBM(t, e, leavesModel(t, b, false), X, want)
	})
}

func checkLightGBM(t *testing.T, e *Ensemble, ref *leaves.Ensemble, X [][]float64, want []float64) {
	t.Helper()
	if len(X) == 0 || len(X) != len(want) {
		t.Fatalf("%d rows, %d predictions", len(X), len(want))
	}
	for i, x := range X {
		raw, err := e.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if r := ref.PredictSingle(x, 0); math.Abs(raw-r) > 1e-12 {
			t.Errorf("row %d: raw %v, leaves %v", i, raw, r)
		}
		if p, _ := e.Probability(x); math.Abs(p-want[i]) > 1e-12 {
			t.Errorf("row %d: probability %v, LightGBM %v", i, p, want[i])
		}
	}
	checkSHAP(t, e, X)
}

func readFloats(t *testing.T, name string) []float64 {
	var out []float64
	for _, f := range strings.Fields(string(readFile(t, name))) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func readTSV(t *testing.T, name string) [][]float64 {
	var X [][]float64
	for _, line := range strings.Split(strings.TrimSpace(string(readFile(t, name))), "\n") {
		var x []float64
		for _, f := range strings.Fields(line) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatal(err)
			}
			x = append(x, v)
		}
		X = append(X, x)
	}
	return X
}

func TestLightGBMRefused(t *testing.T) {
	small := string(readFile(t, "lgb-small.txt"))
	for name, b := range map[string]string{
		"empty":         "",
		"not lightgbm":  "hello=1\n",
		"version":       strings.Replace(small, "version=v3", "version=v9", 1),
		"objective":     strings.Replace(small, "objective=binary sigmoid:1", "objective=lambdarank", 1),
		"linear tree":   strings.Replace(small, "is_linear=0", "is_linear=1", 1),
		"child":         strings.Replace(small, "left_child=1 -2", "left_child=1 -9", 1),
		"cycle":         strings.Replace(small, "left_child=1 -2", "left_child=0 -2", 1),
		"feature":       strings.Replace(small, "split_feature=0 2", "split_feature=0 4", 1),
		"lengths":       strings.Replace(small, "threshold=0.5 1.5", "threshold=0.5", 1),
		"no trees":      small[:strings.Index(small, "Tree=0")],
		"random forest": strings.Replace(small, "objective=binary sigmoid:1", "objective=binary sigmoid:1\naverage_output", 1),
		"cat threshold": strings.Replace(small, "cat_boundaries=0 1", "cat_boundaries=0 3", 1),
	} {
		if _, err := LoadLightGBMText([]byte(b)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}
