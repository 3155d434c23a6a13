package monitor

// Live performance of a binary classifier in production, two ways:
//
//   - measured, where clinicians' feedback gives the true outcome: the
//     gate metrics recomputed on the window's labelled predictions, each
//     with a bootstrap interval (internal/evaluate);
//   - estimated without labels by confidence-based performance estimation
//     (CBPE, as NannyML): if the model's probabilities are calibrated, a
//     prediction of probability p is a positive with probability p, so the
//     expected confusion matrix at threshold t is
//     TP = Σ_{p≥t} p, FP = Σ_{p≥t} (1−p), FN = Σ_{p<t} p, TN = Σ_{p<t} (1−p),
//     and the metrics follow from it. The ROC AUC is estimated the same way,
//     each prediction counting p as a positive and 1−p as a negative.
//
// CBPE's caveats (docs/monitoring.md): it is only as good as the
// calibration on the current population — it assumes the outcome given
// the inputs has not changed (no concept drift), so it sees covariate
// shift but not a change in the disease itself; it says nothing in
// regression; and its figures are estimates without intervals here.

import (
	"cmp"
	"errors"
	"math"
	"slices"

	"github.com/hygie-health/hygie/internal/evaluate"
)

// LiveMetrics names the live metrics, in display order.
var LiveMetrics = []string{"sensitivity", "specificity", "ppv", "npv", "accuracy", "roc_auc"}

// PerfOptions tune the live metrics' intervals.
type PerfOptions struct {
	Threshold float64 // decision threshold (0 → 0.5)
	Resamples int     // bootstrap resamples (0 → 1000)
	Level     float64 // confidence level (0 → 0.95)
	Seed      uint64
}

// Performance is the measured live performance of a window.
type Performance struct {
	N         int                          `json:"n"` // labelled predictions
	Positives int                          `json:"positives"`
	Threshold float64                      `json:"threshold"`
	Confusion evaluate.Confusion           `json:"confusion"`
	Metrics   map[string]evaluate.Interval `json:"metrics"` // estimate and interval per metric
	Notes     []string                     `json:"notes,omitempty"`
}

// MeasurePerformance computes the live metrics of labelled predictions
// (y: 0/1 outcomes, score: the probabilities) with bootstrap intervals. A
// metric undefined on the window (no positive for the sensitivity…) is
// left out with a note.
func MeasurePerformance(y []int, score []float64, opt PerfOptions) (Performance, error) {
	if opt.Threshold == 0 {
		opt.Threshold = 0.5
	}
	c, err := evaluate.ConfusionAt(y, score, opt.Threshold)
	if err != nil {
		return Performance{}, err
	}
	p := Performance{N: len(y), Positives: c.TP + c.FN, Threshold: opt.Threshold, Confusion: c, Metrics: map[string]evaluate.Interval{}}
	bo := evaluate.BootstrapOptions{Resamples: opt.Resamples, Level: opt.Level, Seed: opt.Seed}
	funcs := map[string]func(evaluate.Confusion) float64{
		"sensitivity": evaluate.Confusion.Sensitivity, "specificity": evaluate.Confusion.Specificity,
		"ppv": evaluate.Confusion.PPV, "npv": evaluate.Confusion.NPV, "accuracy": evaluate.Confusion.Accuracy,
	}
	for _, name := range LiveMetrics {
		var iv evaluate.Interval
		var err error
		if name == "roc_auc" {
			iv, err = evaluate.BootstrapAUC(y, score, true, bo)
		} else {
			iv, err = evaluate.BootstrapBinary(y, score, evaluate.ThresholdMetric(opt.Threshold, funcs[name]), false, bo)
		}
		if err != nil {
			p.Notes = append(p.Notes, name+": "+err.Error())
			continue
		}
		p.Metrics[name] = iv
	}
	return p, nil
}

// ExpectedConfusion is a confusion matrix of expected (fractional) counts.
type ExpectedConfusion struct {
	TP float64 `json:"tp"`
	FP float64 `json:"fp"`
	TN float64 `json:"tn"`
	FN float64 `json:"fn"`
}

// CBPE is a performance estimate without labels.
type CBPE struct {
	N         int                     `json:"n"`
	Threshold float64                 `json:"threshold"`
	Expected  ExpectedConfusion       `json:"expected_confusion"`
	Metrics   map[string]evaluate.Num `json:"metrics"`
	Caveat    string                  `json:"caveat"`
}

// CBPECaveat is shown with every estimate.
const CBPECaveat = "Estimated from the model's own probabilities, assuming they are calibrated on the current patients and that the outcome given the inputs has not changed: it cannot see a change in the condition itself (concept drift) nor a loss of calibration."

// EstimateCBPE estimates the live metrics from the probabilities alone.
func EstimateCBPE(score []float64, threshold float64) (CBPE, error) {
	if len(score) == 0 {
		return CBPE{}, errors.New("monitor: no predictions to estimate from")
	}
	if threshold == 0 {
		threshold = 0.5
	}
	var e ExpectedConfusion
	for _, p := range score {
		if math.IsNaN(p) || p < 0 || p > 1 {
			return CBPE{}, errors.New("monitor: CBPE needs probabilities in [0, 1]")
		}
		if p >= threshold {
			e.TP += p
			e.FP += 1 - p
		} else {
			e.FN += p
			e.TN += 1 - p
		}
	}
	ratio := func(a, b float64) evaluate.Num {
		if b == 0 {
			return evaluate.Num(math.NaN())
		}
		return evaluate.Num(a / b)
	}
	return CBPE{N: len(score), Threshold: threshold, Expected: e, Caveat: CBPECaveat, Metrics: map[string]evaluate.Num{
		"sensitivity": ratio(e.TP, e.TP+e.FN),
		"specificity": ratio(e.TN, e.TN+e.FP),
		"ppv":         ratio(e.TP, e.TP+e.FP),
		"npv":         ratio(e.TN, e.TN+e.FN),
		"accuracy":    ratio(e.TP+e.TN, float64(len(score))),
		"roc_auc":     evaluate.Num(expectedAUC(score)),
	}}, nil
}

// expectedAUC is the ROC AUC when each prediction is a positive of weight
// p and a negative of weight 1−p (ties count ½), by one sort and a sweep.
func expectedAUC(score []float64) float64 {
	s := slices.Clone(score)
	slices.SortFunc(s, cmp.Compare[float64])
	var num, negBelow, pos float64
	for i := 0; i < len(s); {
		j := i
		var gp, gn float64
		for j < len(s) && s[j] == s[i] {
			gp += s[j]
			gn += 1 - s[j]
			j++
		}
		num += gp * (negBelow + gn/2)
		negBelow += gn
		pos += gp
		i = j
	}
	if pos == 0 || negBelow == 0 {
		return math.NaN()
	}
	return num / (pos * negBelow)
}
