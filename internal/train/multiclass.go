package train

import (
	"fmt"
	"math"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/evaluate"
)

// MulticlassReport holds a multiclass classifier's test metrics: the
// confusion matrix (rows: true class, columns: predicted), per-class
// precision and recall, and the overall metrics with bootstrap intervals.
type MulticlassReport struct {
	Classes   []string                     `json:"classes"`
	Confusion [][]int                      `json:"confusion"`
	PerClass  []ClassMetrics               `json:"per_class"`
	Metrics   map[string]evaluate.Num      `json:"metrics"` // accuracy, balanced_accuracy, macro_f1, log_loss
	Intervals map[string]evaluate.Interval `json:"intervals"`
}

// ClassMetrics are one class's one-vs-rest figures.
type ClassMetrics struct {
	Class     string       `json:"class"`
	Support   int          `json:"support"`
	Precision evaluate.Num `json:"precision"`
	Recall    evaluate.Num `json:"recall"`
	F1        evaluate.Num `json:"f1"`
}

// multiclassMetrics computes the overall metrics of the rows idx (nil: all).
func multiclassMetrics(y []int, proba [][]float64, k int, idx []int) map[string]float64 {
	conf := make([][]int, k)
	for i := range conf {
		conf[i] = make([]int, k)
	}
	ll, n := 0.0, 0
	each := func(i int) {
		p := proba[i]
		best := 0
		for c := range p {
			if p[c] > p[best] {
				best = c
			}
		}
		conf[y[i]][best]++
		ll -= math.Log(math.Max(p[y[i]], 1e-15))
		n++
	}
	if idx == nil {
		for i := range y {
			each(i)
		}
	} else {
		for _, i := range idx {
			each(i)
		}
	}
	correct, recallSum, f1Sum, present := 0, 0.0, 0.0, 0
	for c := 0; c < k; c++ {
		correct += conf[c][c]
		support, predicted := 0, 0
		for j := 0; j < k; j++ {
			support += conf[c][j]
			predicted += conf[j][c]
		}
		if support == 0 {
			continue
		}
		present++
		recall := float64(conf[c][c]) / float64(support)
		recallSum += recall
		if predicted > 0 && conf[c][c] > 0 {
			precision := float64(conf[c][c]) / float64(predicted)
			f1Sum += 2 * precision * recall / (precision + recall)
		}
	}
	return map[string]float64{"accuracy": float64(correct) / float64(n), "balanced_accuracy": recallSum / float64(present),
		"macro_f1": f1Sum / float64(present), "log_loss": ll / float64(n)}
}

// multiclassReport evaluates class probabilities against true class
// indexes, with stratified BCa bootstrap intervals for each metric.
func multiclassReport(y []int, proba [][]float64, classes []string, boot evaluate.BootstrapOptions) (*MulticlassReport, error) {
	k := len(classes)
	rep := &MulticlassReport{Classes: classes, Confusion: make([][]int, k), Metrics: map[string]evaluate.Num{}, Intervals: map[string]evaluate.Interval{}}
	for i := range rep.Confusion {
		rep.Confusion[i] = make([]int, k)
	}
	for i, p := range proba {
		best := 0
		for c := range p {
			if p[c] > p[best] {
				best = c
			}
		}
		rep.Confusion[y[i]][best]++
	}
	for c := 0; c < k; c++ {
		cm := ClassMetrics{Class: classes[c], Precision: evaluate.Num(math.NaN()), Recall: evaluate.Num(math.NaN()), F1: evaluate.Num(math.NaN())}
		predicted := 0
		for j := 0; j < k; j++ {
			cm.Support += rep.Confusion[c][j]
			predicted += rep.Confusion[j][c]
		}
		tp := float64(rep.Confusion[c][c])
		if predicted > 0 {
			cm.Precision = evaluate.Num(tp / float64(predicted))
		}
		if cm.Support > 0 {
			cm.Recall = evaluate.Num(tp / float64(cm.Support))
		}
		if p, r := float64(cm.Precision), float64(cm.Recall); p+r > 0 {
			cm.F1 = evaluate.Num(2 * p * r / (p + r))
		}
		rep.PerClass = append(rep.PerClass, cm)
	}
	for name, v := range multiclassMetrics(y, proba, k, nil) {
		rep.Metrics[name] = evaluate.Num(v)
	}
	boot.Strata = y
	for _, name := range []string{"accuracy", "balanced_accuracy", "macro_f1", "log_loss"} {
		iv, err := evaluate.Bootstrap(len(y), func(idx []int) (float64, error) {
			return multiclassMetrics(y, proba, k, idx)[name], nil
		}, boot)
		if err != nil {
			return nil, fmt.Errorf("bootstrap of %s: %w", name, err)
		}
		rep.Intervals[name] = iv
	}
	return rep, nil
}

// everyClass checks each class has rows on both sides of the split.
func everyClass(y []float64, rows []int, classes []string, what string) error {
	seen := make([]int, len(classes))
	for _, i := range rows {
		seen[int(y[i])]++
	}
	for c, n := range seen {
		if n == 0 {
			return errs.Invalidf("the %s has no row of class %q: too few cases to train and evaluate it", what, classes[c])
		}
	}
	return nil
}
