package evaluate

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrOneClass is returned by ranking metrics (ROC AUC, average precision)
// when the labels contain only one class.
var ErrOneClass = errors.New("evaluate: metric undefined, labels contain a single class")

func checkBinary(y []int, score []float64) (npos, nneg int, err error) {
	if len(y) != len(score) {
		return 0, 0, fmt.Errorf("evaluate: %d labels but %d scores", len(y), len(score))
	}
	if len(y) == 0 {
		return 0, 0, errors.New("evaluate: empty input")
	}
	for i, v := range y {
		switch v {
		case 1:
			npos++
		case 0:
			nneg++
		default:
			return 0, 0, fmt.Errorf("evaluate: label %d at row %d, binary labels must be 0 or 1", v, i)
		}
		if math.IsNaN(score[i]) {
			return 0, 0, fmt.Errorf("evaluate: NaN score at row %d", i)
		}
	}
	return npos, nneg, nil
}

// Confusion is a binary confusion matrix.
type Confusion struct {
	TP int `json:"tp"`
	FP int `json:"fp"`
	TN int `json:"tn"`
	FN int `json:"fn"`
}

// ConfusionAt counts the confusion matrix predicting positive when
// score >= threshold.
func ConfusionAt(y []int, score []float64, threshold float64) (Confusion, error) {
	if _, _, err := checkBinary(y, score); err != nil {
		return Confusion{}, err
	}
	var c Confusion
	for i, v := range y {
		pred := score[i] >= threshold
		switch {
		case pred && v == 1:
			c.TP++
		case pred:
			c.FP++
		case v == 1:
			c.FN++
		default:
			c.TN++
		}
	}
	return c, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// N is the total count.
func (c Confusion) N() int { return c.TP + c.FP + c.TN + c.FN }

// Sensitivity (recall, TPR) = TP/(TP+FN); NaN without positives.
func (c Confusion) Sensitivity() float64 { return ratio(c.TP, c.TP+c.FN) }

// Specificity (TNR) = TN/(TN+FP); NaN without negatives.
func (c Confusion) Specificity() float64 { return ratio(c.TN, c.TN+c.FP) }

// PPV (precision) = TP/(TP+FP); NaN without predicted positives.
func (c Confusion) PPV() float64 { return ratio(c.TP, c.TP+c.FP) }

// NPV = TN/(TN+FN); NaN without predicted negatives.
func (c Confusion) NPV() float64 { return ratio(c.TN, c.TN+c.FN) }

// F1 = 2TP/(2TP+FP+FN).
func (c Confusion) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

// Accuracy = (TP+TN)/N.
func (c Confusion) Accuracy() float64 { return ratio(c.TP+c.TN, c.N()) }

// BalancedAccuracy = (sensitivity+specificity)/2.
func (c Confusion) BalancedAccuracy() float64 { return (c.Sensitivity() + c.Specificity()) / 2 }

// Jaccard = TP/(TP+FP+FN).
func (c Confusion) Jaccard() float64 { return ratio(c.TP, c.TP+c.FP+c.FN) }

// Prevalence = (TP+FN)/N, the prevalence in the evaluated sample.
func (c Confusion) Prevalence() float64 { return ratio(c.TP+c.FN, c.N()) }

// PPVAtPrevalence recomputes the PPV for a target prevalence p by Bayes:
// sens·p / (sens·p + (1−spec)·(1−p)). NaN when the denominator is 0 or p
// is outside [0,1].
func PPVAtPrevalence(sens, spec, p float64) float64 {
	if !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	num := sens * p
	den := num + (1-spec)*(1-p)
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

// NPVAtPrevalence recomputes the NPV for a target prevalence p by Bayes:
// spec·(1−p) / (spec·(1−p) + (1−sens)·p).
func NPVAtPrevalence(sens, spec, p float64) float64 {
	if !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	num := spec * (1 - p)
	den := num + (1-sens)*p
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

// ROCAUC is the exact area under the ROC curve, computed as the
// Mann–Whitney statistic with average ranks for tied scores (a tied
// positive/negative pair counts ½). Returns ErrOneClass if a class is absent.
func ROCAUC(y []int, score []float64) (float64, error) {
	npos, nneg, err := checkBinary(y, score)
	if err != nil {
		return math.NaN(), err
	}
	if npos == 0 || nneg == 0 {
		return math.NaN(), ErrOneClass
	}
	order := argsortAsc(score)
	var rankSumPos float64
	for i := 0; i < len(order); {
		j := i
		for j+1 < len(order) && score[order[j+1]] == score[order[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1 // ranks are 1-based
		for t := i; t <= j; t++ {
			if y[order[t]] == 1 {
				rankSumPos += avg
			}
		}
		i = j + 1
	}
	np, nn := float64(npos), float64(nneg)
	return (rankSumPos - np*(np+1)/2) / (np * nn), nil
}

func argsortAsc(s []float64) []int {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(s[a], s[b]) })
	return idx
}

// thresholdCounts returns, for each distinct score in decreasing order, the
// cumulative true and false positives when predicting positive at
// score >= that threshold.
func thresholdCounts(y []int, score []float64) (thr []float64, tps, fps []int) {
	order := argsortAsc(score)
	tp, fp := 0, 0
	for i := len(order) - 1; i >= 0; {
		j := i
		for j-1 >= 0 && score[order[j-1]] == score[order[i]] {
			j--
		}
		for t := j; t <= i; t++ {
			if y[order[t]] == 1 {
				tp++
			} else {
				fp++
			}
		}
		thr = append(thr, score[order[i]])
		tps = append(tps, tp)
		fps = append(fps, fp)
		i = j - 1
	}
	return thr, tps, fps
}

// AveragePrecision is the area under the precision–recall curve computed
// step-wise as scikit-learn's average_precision_score:
// AP = Σ_n (R_n − R_{n−1}) P_n over distinct thresholds (tied scores form
// one threshold), without interpolation. Requires at least one positive;
// returns ErrOneClass otherwise.
func AveragePrecision(y []int, score []float64) (float64, error) {
	npos, _, err := checkBinary(y, score)
	if err != nil {
		return math.NaN(), err
	}
	if npos == 0 {
		return math.NaN(), ErrOneClass
	}
	_, tps, fps := thresholdCounts(y, score)
	ap, prevR := 0.0, 0.0
	for i := range tps {
		r := float64(tps[i]) / float64(npos)
		p := float64(tps[i]) / float64(tps[i]+fps[i])
		ap += (r - prevR) * p
		prevR = r
	}
	return ap, nil
}

// CurvePoint is one point of a ROC or PR curve at a score threshold
// (predict positive when score >= Threshold).
type CurvePoint struct {
	Threshold Num `json:"threshold"`
	X         Num `json:"x"` // FPR for ROC, recall for PR
	Y         Num `json:"y"` // TPR for ROC, precision for PR
}

// ROCCurve returns the ROC curve, one point per distinct threshold in
// decreasing order, starting at (0,0) with threshold +Inf (null in JSON).
func ROCCurve(y []int, score []float64) ([]CurvePoint, error) {
	npos, nneg, err := checkBinary(y, score)
	if err != nil {
		return nil, err
	}
	if npos == 0 || nneg == 0 {
		return nil, ErrOneClass
	}
	thr, tps, fps := thresholdCounts(y, score)
	pts := []CurvePoint{{Threshold: Num(math.Inf(1)), X: 0, Y: 0}}
	for i := range thr {
		pts = append(pts, CurvePoint{Threshold: Num(thr[i]),
			X: Num(float64(fps[i]) / float64(nneg)), Y: Num(float64(tps[i]) / float64(npos))})
	}
	return pts, nil
}

// PRCurve returns the precision–recall curve, one point per distinct
// threshold in decreasing score order (recall non-decreasing). As in
// scikit-learn, a final point (recall 0, precision 1) is not added; the
// step-wise area of these points equals AveragePrecision.
func PRCurve(y []int, score []float64) ([]CurvePoint, error) {
	npos, _, err := checkBinary(y, score)
	if err != nil {
		return nil, err
	}
	if npos == 0 {
		return nil, ErrOneClass
	}
	thr, tps, fps := thresholdCounts(y, score)
	pts := make([]CurvePoint, 0, len(thr))
	for i := range thr {
		pts = append(pts, CurvePoint{Threshold: Num(thr[i]),
			X: Num(float64(tps[i]) / float64(npos)), Y: Num(float64(tps[i]) / float64(tps[i]+fps[i]))})
	}
	return pts, nil
}

// Brier is the mean squared difference between predicted probability and
// outcome.
func Brier(y []int, p []float64) (float64, error) {
	if _, _, err := checkBinary(y, p); err != nil {
		return math.NaN(), err
	}
	s := 0.0
	for i, v := range y {
		d := p[i] - float64(v)
		s += d * d
	}
	return s / float64(len(y)), nil
}

// logitClip is the smallest/largest probability accepted before the logit
// transform in calibration fitting.
const logitClip = 1e-12

func logit(p float64) float64 {
	p = math.Min(math.Max(p, logitClip), 1-logitClip)
	return math.Log(p / (1 - p))
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// Calibration is the logistic recalibration fit
// logit P(y=1) = Intercept + Slope · logit(p). A perfectly calibrated model
// has Slope 1 and Intercept 0; Slope < 1 means over-fitted (too extreme)
// predictions.
type Calibration struct {
	Slope      Num  `json:"slope"`
	Intercept  Num  `json:"intercept"`
	Iterations int  `json:"iterations"`
	Converged  bool `json:"converged"`
}

// CalibrationFit fits the logistic recalibration model by Newton–Raphson
// (maximum likelihood, at most 100 iterations, tolerance 1e-10 on the step).
// Probabilities are clipped to [1e-12, 1−1e-12] before the logit. Errors if
// a class is absent or the predictions are constant (slope unidentifiable);
// if the labels are perfectly separated by the predictions the estimates
// diverge and Converged is false.
func CalibrationFit(y []int, p []float64) (Calibration, error) {
	npos, nneg, err := checkBinary(y, p)
	if err != nil {
		return Calibration{}, err
	}
	if npos == 0 || nneg == 0 {
		return Calibration{}, ErrOneClass
	}
	x := make([]float64, len(p))
	same := true
	for i := range p {
		x[i] = logit(p[i])
		if x[i] != x[0] {
			same = false
		}
	}
	if same {
		return Calibration{}, errors.New("evaluate: constant predictions, calibration slope undefined")
	}
	// Start at the identity recalibration (a=0, b=1).
	a, b := 0.0, 1.0
	c := Calibration{Slope: Num(math.NaN()), Intercept: Num(math.NaN())}
	for it := 1; it <= 100; it++ {
		var g0, g1, h00, h01, h11 float64
		for i := range x {
			mu := sigmoid(a + b*x[i])
			r := float64(y[i]) - mu
			w := mu * (1 - mu)
			g0 += r
			g1 += r * x[i]
			h00 += w
			h01 += w * x[i]
			h11 += w * x[i] * x[i]
		}
		det := h00*h11 - h01*h01
		if det <= 0 || math.IsNaN(det) {
			c.Iterations = it
			break
		}
		da := (h11*g0 - h01*g1) / det
		db := (-h01*g0 + h00*g1) / det
		a += da
		b += db
		c.Iterations = it
		c.Intercept, c.Slope = Num(a), Num(b)
		if math.Abs(da)+math.Abs(db) < 1e-10 {
			c.Converged = true
			break
		}
	}
	return c, nil
}

// CalibrationBin is one bin of a calibration (reliability) curve.
type CalibrationBin struct {
	Lower         Num `json:"lower"`
	Upper         Num `json:"upper"`
	Count         int `json:"count"`
	MeanPredicted Num `json:"mean_predicted"`
	ObservedRate  Num `json:"observed_rate"`
}

// CalibrationCurve bins predictions into nbins equal-width bins on [0,1]
// (the last bin closed; out-of-range probabilities are clamped) and returns
// the mean prediction and observed event rate per non-empty bin.
func CalibrationCurve(y []int, p []float64, nbins int) ([]CalibrationBin, error) {
	if _, _, err := checkBinary(y, p); err != nil {
		return nil, err
	}
	if nbins < 1 {
		return nil, fmt.Errorf("evaluate: nbins=%d, need >= 1", nbins)
	}
	cnt := make([]int, nbins)
	sp := make([]float64, nbins)
	sy := make([]float64, nbins)
	for i, v := range p {
		b := int(math.Floor(v * float64(nbins)))
		b = min(max(b, 0), nbins-1)
		cnt[b]++
		sp[b] += v
		sy[b] += float64(y[i])
	}
	var out []CalibrationBin
	for b := range nbins {
		if cnt[b] == 0 {
			continue
		}
		out = append(out, CalibrationBin{
			Lower: Num(float64(b) / float64(nbins)), Upper: Num(float64(b+1) / float64(nbins)),
			Count: cnt[b], MeanPredicted: Num(sp[b] / float64(cnt[b])), ObservedRate: Num(sy[b] / float64(cnt[b])),
		})
	}
	return out, nil
}

// Regression holds regression metrics.
type Regression struct {
	N    int `json:"n"`
	MSE  Num `json:"mse"`
	RMSE Num `json:"rmse"`
	MAE  Num `json:"mae"`
	R2   Num `json:"r2"` // 1 − SSres/SStot; NaN when y is constant
}

// RegressionMetrics computes MSE, RMSE, MAE and R² of predictions against
// observed values.
func RegressionMetrics(y, pred []float64) (Regression, error) {
	if len(y) != len(pred) {
		return Regression{}, fmt.Errorf("evaluate: %d observations but %d predictions", len(y), len(pred))
	}
	if len(y) == 0 {
		return Regression{}, errors.New("evaluate: empty input")
	}
	n := float64(len(y))
	mean := 0.0
	for _, v := range y {
		mean += v
	}
	mean /= n
	var sse, sae, sst float64
	for i, v := range y {
		d := v - pred[i]
		sse += d * d
		sae += math.Abs(d)
		sst += (v - mean) * (v - mean)
	}
	r2 := math.NaN()
	if sst > 0 {
		r2 = 1 - sse/sst
	}
	return Regression{N: len(y), MSE: Num(sse / n), RMSE: Num(math.Sqrt(sse / n)), MAE: Num(sae / n), R2: Num(r2)}, nil
}
