package learn

import (
	"math"
	"testing"
)

func TestROCAUC(t *testing.T) {
	for _, c := range []struct {
		name  string
		y, s  []float64
		want  float64
		fails bool
	}{
		{"perfect", []float64{0, 0, 1, 1}, []float64{0.1, 0.2, 0.8, 0.9}, 1, false},
		{"reversed", []float64{1, 1, 0, 0}, []float64{0.1, 0.2, 0.8, 0.9}, 0, false},
		// scikit-learn docs: roc_auc_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.75
		{"sklearn example", []float64{0, 0, 1, 1}, []float64{0.1, 0.4, 0.35, 0.8}, 0.75, false},
		{"all tied", []float64{0, 1, 0, 1}, []float64{0.5, 0.5, 0.5, 0.5}, 0.5, false},
		// pairs (pos, neg): (0.5 vs 0.5) ½, (0.5 vs 0.2) 1, (0.9 vs both) 2 → 3.5/4
		{"some ties", []float64{1, 0, 1, 0}, []float64{0.5, 0.5, 0.9, 0.2}, 0.875, false},
		{"one class", []float64{1, 1}, []float64{0.1, 0.2}, 0, true},
		{"bad label", []float64{1, 2}, []float64{0.1, 0.2}, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ROCAUC(c.y, c.s)
			if (err != nil) != c.fails {
				t.Fatalf("error %v, want failure %v", err, c.fails)
			}
			if math.Abs(got-c.want) > 1e-12 {
				t.Errorf("AUC %v, want %v", got, c.want)
			}
		})
	}
}

func TestLogLoss(t *testing.T) {
	got, err := LogLoss([]int{0, 2}, [][]float64{{0.5, 0.25, 0.25}, {0.1, 0.1, 0.8}})
	if err != nil {
		t.Fatal(err)
	}
	if want := -(math.Log(0.5) + math.Log(0.8)) / 2; math.Abs(got-want) > 1e-15 {
		t.Errorf("log loss %v, want %v", got, want)
	}
	if got, _ := LogLoss([]int{1}, [][]float64{{1, 0}}); math.Abs(got-(-math.Log(1e-15))) > 1e-9 {
		t.Errorf("clipping: %v", got)
	}
	if _, err := LogLoss([]int{3}, [][]float64{{1, 0}}); err == nil {
		t.Error("out-of-range label accepted")
	}
}
