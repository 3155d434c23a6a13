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
// regression. Its intervals (CBPEIntervals) are the sampling error of the
// metrics under that same assumption: labels drawn from the probabilities.

import (
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
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
	// Intervals hold, per metric, the range the metric of the window's
	// patients would have if the probabilities were calibrated: see
	// CBPEIntervals. A metric undefined in too many draws has none.
	Intervals map[string]evaluate.Interval `json:"intervals,omitempty"`
	Caveat    string                       `json:"caveat"`
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
	return weightedAUC(s, func(i int) float64 { return s[i] })
}

// weightedAUC is the ROC AUC of ascending scores s where prediction i is
// a positive of weight pos(i) and a negative of weight 1 − pos(i) (ties
// count ½), in one sweep; NaN without positive or negative weight.
func weightedAUC(s []float64, pos func(i int) float64) float64 {
	var num, negBelow, total float64
	for i := 0; i < len(s); {
		j := i
		var gp, gn float64
		for j < len(s) && s[j] == s[i] {
			w := pos(j)
			gp += w
			gn += 1 - w
			j++
		}
		num += gp * (negBelow + gn/2)
		negBelow += gn
		total += gp
		i = j
	}
	if total == 0 || negBelow == 0 {
		return math.NaN()
	}
	return num / (total * negBelow)
}

// CBPE interval settings.
const (
	// CBPEDraws is the number of label draws behind the intervals; fewer
	// for large windows, so that a check stays within about 2·10⁷ drawn
	// outcomes (at least 200 draws).
	CBPEDraws  = 1000
	cbpeBudget = 20_000_000
	// CBPEMaxRows bounds the predictions the draws use: a larger window
	// draws on a seeded random sample of CBPEMaxRows predictions and
	// scales the interval's half-widths by √(CBPEMaxRows/n), as the
	// sampling error of these sums shrinks (central limit regime).
	CBPEMaxRows = 100_000
)

// CBPEIntervals adds to e the intervals of its metrics at level (0 →
// 0.95): the outcome of each prediction is drawn as a positive with its
// probability p (a seeded source: the same window gives the same
// intervals), the metrics are computed on the drawn labels at e's
// threshold, and the interval is the central level share of the draws
// (percentiles). Under CBPE's assumption (calibrated probabilities) it is
// the range the metrics of these patients would have: the estimate's
// sampling error, as NannyML reports for CBPE. It says nothing about a loss
// of calibration. Draws where a metric is undefined (no drawn positive for
// the sensitivity…) are left out; a metric undefined in more than half of
// them gets no interval.
func CBPEIntervals(e *CBPE, score []float64, level float64, seed uint64) {
	if level == 0 {
		level = 0.95
	}
	n := len(score)
	if n == 0 {
		return
	}
	if n > CBPEMaxRows {
		sample := slices.Clone(score)
		r := rand.New(rand.NewPCG(seed, 0x73616d70)) // "samp"
		for i := range CBPEMaxRows {
			j := i + r.IntN(n-i)
			sample[i], sample[j] = sample[j], sample[i]
		}
		sample = sample[:CBPEMaxRows]
		sub, err := EstimateCBPE(sample, e.Threshold)
		if err != nil {
			return
		}
		CBPEIntervals(&sub, sample, level, seed)
		scale := math.Sqrt(float64(CBPEMaxRows) / float64(n))
		e.Intervals = map[string]evaluate.Interval{}
		for name, iv := range sub.Intervals {
			mid, at := float64(sub.Metrics[name]), float64(e.Metrics[name])
			iv.Estimate = e.Metrics[name]
			iv.Lower = evaluate.Num(math.Max(0, at+(float64(iv.Lower)-mid)*scale))
			iv.Upper = evaluate.Num(math.Min(1, at+(float64(iv.Upper)-mid)*scale))
			e.Intervals[name] = iv
		}
		return
	}
	draws := CBPEDraws
	if n*draws > cbpeBudget {
		draws = max(200, cbpeBudget/n)
	}
	s := slices.Clone(score)
	slices.SortFunc(s, cmp.Compare[float64])
	// Groups of tied scores, for the ROC AUC (ties count ½).
	starts := []int{0}
	for i := 1; i < n; i++ {
		if s[i] != s[i-1] {
			starts = append(starts, i)
		}
	}
	starts = append(starts, n)
	src := rand.NewPCG(seed, 0x63627065) // "cbpe"
	vals := map[string][]float64{}
	for _, m := range LiveMetrics {
		vals[m] = make([]float64, 0, draws)
	}
	add := func(name string, a, b float64) {
		if b > 0 {
			vals[name] = append(vals[name], a/b)
		}
	}
	for range draws {
		var tp, fp, tn, fn, num, negBelow, pos float64
		for g := 0; g+1 < len(starts); g++ {
			var gp, gn float64
			for i := starts[g]; i < starts[g+1]; i++ {
				if float64(src.Uint64()>>11)*(1.0/(1<<53)) < s[i] {
					gp++
				} else {
					gn++
				}
			}
			if s[starts[g]] >= e.Threshold {
				tp, fp = tp+gp, fp+gn
			} else {
				fn, tn = fn+gp, tn+gn
			}
			num += gp * (negBelow + gn/2)
			negBelow += gn
			pos += gp
		}
		add("sensitivity", tp, tp+fn)
		add("specificity", tn, tn+fp)
		add("ppv", tp, tp+fp)
		add("npv", tn, tn+fn)
		add("accuracy", tp+tn, float64(n))
		add("roc_auc", num, pos*negBelow)
	}
	e.Intervals = map[string]evaluate.Interval{}
	for name, v := range vals {
		if len(v)*2 < draws {
			continue
		}
		slices.Sort(v)
		e.Intervals[name] = evaluate.Interval{Estimate: e.Metrics[name], Lower: evaluate.Num(percentile(v, (1-level)/2)),
			Upper: evaluate.Num(percentile(v, 1-(1-level)/2)), Level: level, Method: evaluate.Percentile, Resamples: len(v), Seed: seed}
	}
}

// percentile is the q-quantile of sorted x, linearly interpolated (numpy's
// default).
func percentile(x []float64, q float64) float64 {
	h := q * float64(len(x)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(x) {
		return x[len(x)-1]
	}
	return x[lo] + (h-float64(lo))*(x[lo+1]-x[lo])
}
