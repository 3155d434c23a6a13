package evaluate

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// BinaryMetrics is the set of binary-classification metrics of one sample.
// Undefined values are NaN (null in JSON).
type BinaryMetrics struct {
	N                int       `json:"n"`
	Positives        int       `json:"positives"`
	Threshold        float64   `json:"threshold"`
	Confusion        Confusion `json:"confusion"`
	Prevalence       Num       `json:"prevalence"`
	Sensitivity      Num       `json:"sensitivity"`
	Specificity      Num       `json:"specificity"`
	PPV              Num       `json:"ppv"`
	NPV              Num       `json:"npv"`
	F1               Num       `json:"f1"`
	Accuracy         Num       `json:"accuracy"`
	BalancedAccuracy Num       `json:"balanced_accuracy"`
	Jaccard          Num       `json:"jaccard"`
	ROCAUC           Num       `json:"roc_auc"`
	AveragePrecision Num       `json:"average_precision"`
	Brier            Num       `json:"brier"`
	CalibrationSlope Num       `json:"calibration_slope"`
	CalibrationInt   Num       `json:"calibration_intercept"`
	// TargetPrevalence, when set, gives PPV/NPV recomputed by Bayes for it.
	TargetPrevalence Num `json:"target_prevalence,omitempty"`
	PPVAtTarget      Num `json:"ppv_at_target_prevalence,omitempty"`
	NPVAtTarget      Num `json:"npv_at_target_prevalence,omitempty"`
}

// ComputeBinary computes all BinaryMetrics at threshold. Metrics undefined
// on this sample (AUC with one class, calibration with constant scores…)
// are NaN rather than errors. targetPrev ≤ 0 or NaN disables the
// prevalence-adjusted PPV/NPV.
func ComputeBinary(y []int, score []float64, threshold, targetPrev float64) (BinaryMetrics, error) {
	npos, _, err := checkBinary(y, score)
	if err != nil {
		return BinaryMetrics{}, err
	}
	c, _ := ConfusionAt(y, score, threshold)
	nan := Num(math.NaN())
	m := BinaryMetrics{
		N: len(y), Positives: npos, Threshold: threshold, Confusion: c,
		Prevalence: Num(c.Prevalence()), Sensitivity: Num(c.Sensitivity()), Specificity: Num(c.Specificity()),
		PPV: Num(c.PPV()), NPV: Num(c.NPV()), F1: Num(c.F1()), Accuracy: Num(c.Accuracy()),
		BalancedAccuracy: Num(c.BalancedAccuracy()), Jaccard: Num(c.Jaccard()),
		ROCAUC: nan, AveragePrecision: nan, CalibrationSlope: nan, CalibrationInt: nan,
	}
	if v, err := ROCAUC(y, score); err == nil {
		m.ROCAUC = Num(v)
	}
	if v, err := AveragePrecision(y, score); err == nil {
		m.AveragePrecision = Num(v)
	}
	b, _ := Brier(y, score)
	m.Brier = Num(b)
	if cal, err := CalibrationFit(y, score); err == nil && cal.Converged {
		m.CalibrationSlope, m.CalibrationInt = cal.Slope, cal.Intercept
	}
	if targetPrev > 0 && targetPrev <= 1 {
		m.TargetPrevalence = Num(targetPrev)
		m.PPVAtTarget = Num(PPVAtPrevalence(c.Sensitivity(), c.Specificity(), targetPrev))
		m.NPVAtTarget = Num(NPVAtPrevalence(c.Sensitivity(), c.Specificity(), targetPrev))
	}
	return m, nil
}

// DefaultMinSubgroupSize is the default small-cell suppression threshold.
const DefaultMinSubgroupSize = 10

// Subgroup holds the metrics of one subgroup. A subgroup with fewer rows
// than the minimum size is suppressed: only its name and Suppressed=true
// are reported (not even its count, to avoid small-cell disclosure).
type Subgroup struct {
	Group      string         `json:"group"`
	Suppressed bool           `json:"suppressed"`
	Note       string         `json:"note,omitempty"`
	Metrics    *BinaryMetrics `json:"metrics,omitempty"`
}

// SubgroupReport is the result of SubgroupMetrics.
type SubgroupReport struct {
	MinSize    int        `json:"min_size"`
	Suppressed int        `json:"suppressed"` // number of suppressed subgroups
	Note       string     `json:"note"`
	Groups     []Subgroup `json:"groups"`
}

// SubgroupMetrics computes ComputeBinary per value of groups (one value per
// row), sorted by group name. Subgroups with fewer than minSize rows
// (minSize ≤ 0 → DefaultMinSubgroupSize) are suppressed.
func SubgroupMetrics(y []int, score []float64, groups []string, threshold, targetPrev float64, minSize int) (SubgroupReport, error) {
	if _, _, err := checkBinary(y, score); err != nil {
		return SubgroupReport{}, err
	}
	if len(groups) != len(y) {
		return SubgroupReport{}, fmt.Errorf("evaluate: %d group values for %d rows", len(groups), len(y))
	}
	if minSize <= 0 {
		minSize = DefaultMinSubgroupSize
	}
	rows := map[string][]int{}
	for i, g := range groups {
		rows[g] = append(rows[g], i)
	}
	names := make([]string, 0, len(rows))
	for g := range rows {
		names = append(names, g)
	}
	sort.Strings(names)
	rep := SubgroupReport{MinSize: minSize,
		Note: fmt.Sprintf("subgroups with fewer than %d rows are suppressed (no metrics or counts reported) to avoid small-cell disclosure", minSize)}
	for _, g := range names {
		idx := rows[g]
		if len(idx) < minSize {
			rep.Suppressed++
			rep.Groups = append(rep.Groups, Subgroup{Group: g, Suppressed: true, Note: fmt.Sprintf("n < %d", minSize)})
			continue
		}
		sy := make([]int, len(idx))
		ss := make([]float64, len(idx))
		for k, i := range idx {
			sy[k], ss[k] = y[i], score[i]
		}
		m, err := ComputeBinary(sy, ss, threshold, targetPrev)
		if err != nil {
			return SubgroupReport{}, err
		}
		rep.Groups = append(rep.Groups, Subgroup{Group: g, Metrics: &m})
	}
	return rep, nil
}

// ReportOptions configures Evaluate.
type ReportOptions struct {
	Threshold        float64 // decision threshold (score >= Threshold → positive); 0 → 0.5
	TargetPrevalence float64 // optional, for PPV/NPV at a stated prevalence
	CalibrationBins  int     // 0 → 10
	// Bootstrap, if non-nil, adds CIs for ROC AUC, average precision,
	// Brier, sensitivity and specificity (Stratified resampling on y).
	Bootstrap  *BootstrapOptions
	Stratified bool
	// Groups, if non-nil, adds subgroup metrics (MinSubgroupSize, 0 → 10).
	Groups          []string
	MinSubgroupSize int
}

// Report is a JSON-serialisable evaluation report of a binary classifier.
type Report struct {
	Metrics     BinaryMetrics       `json:"metrics"`
	Calibration *Calibration        `json:"calibration,omitempty"`
	ROC         []CurvePoint        `json:"roc,omitempty"`
	PR          []CurvePoint        `json:"pr,omitempty"`
	CalCurve    []CalibrationBin    `json:"calibration_curve,omitempty"`
	Intervals   map[string]Interval `json:"intervals,omitempty"`
	Subgroups   *SubgroupReport     `json:"subgroups,omitempty"`
	Notes       []string            `json:"notes,omitempty"`
}

// JSON returns the indented JSON encoding of the report.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Evaluate builds a full Report.
func Evaluate(y []int, score []float64, opt ReportOptions) (*Report, error) {
	if opt.Threshold == 0 {
		opt.Threshold = 0.5
	}
	if opt.CalibrationBins == 0 {
		opt.CalibrationBins = 10
	}
	m, err := ComputeBinary(y, score, opt.Threshold, opt.TargetPrevalence)
	if err != nil {
		return nil, err
	}
	r := &Report{Metrics: m}
	if cal, err := CalibrationFit(y, score); err == nil {
		r.Calibration = &cal
		if !cal.Converged {
			r.Notes = append(r.Notes, "calibration fit did not converge (separable data?)")
		}
	} else {
		r.Notes = append(r.Notes, "calibration: "+err.Error())
	}
	if pts, err := ROCCurve(y, score); err == nil {
		r.ROC = pts
	} else {
		r.Notes = append(r.Notes, "roc: "+err.Error())
	}
	if pts, err := PRCurve(y, score); err == nil {
		r.PR = pts
	}
	r.CalCurve, _ = CalibrationCurve(y, score, opt.CalibrationBins)
	if opt.Bootstrap != nil {
		r.Intervals = map[string]Interval{}
		metrics := []struct {
			name string
			f    BinaryMetric
		}{
			{"roc_auc", ROCAUC},
			{"average_precision", AveragePrecision},
			{"brier", Brier},
			{"sensitivity", ThresholdMetric(opt.Threshold, Confusion.Sensitivity)},
			{"specificity", ThresholdMetric(opt.Threshold, Confusion.Specificity)},
		}
		for _, mt := range metrics {
			var iv Interval
			var err error
			if mt.name == "roc_auc" {
				iv, err = BootstrapAUC(y, score, opt.Stratified, *opt.Bootstrap)
			} else {
				iv, err = BootstrapBinary(y, score, mt.f, opt.Stratified, *opt.Bootstrap)
			}
			if err != nil {
				r.Notes = append(r.Notes, mt.name+" interval: "+err.Error())
				continue
			}
			r.Intervals[mt.name] = iv
		}
	}
	if opt.Groups != nil {
		sg, err := SubgroupMetrics(y, score, opt.Groups, opt.Threshold, opt.TargetPrevalence, opt.MinSubgroupSize)
		if err != nil {
			return nil, err
		}
		r.Subgroups = &sg
	}
	return r, nil
}
