package evaluate

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// CIMethod selects the bootstrap interval construction.
type CIMethod string

const (
	// Percentile uses the α/2 and 1−α/2 quantiles of the replicates.
	Percentile CIMethod = "percentile"
	// BCa is the bias-corrected and accelerated interval (Efron 1987), with
	// the acceleration estimated by the jackknife.
	BCa CIMethod = "bca"
)

// Defaults for BootstrapOptions.
const (
	DefaultResamples = 1000
	DefaultLevel     = 0.95
	// DefaultJackknifeMax is the largest n for which the BCa acceleration
	// uses the exact leave-one-out jackknife; above it a delete-a-block
	// jackknife over DefaultJackknifeMax random blocks is used.
	DefaultJackknifeMax = 1000
)

// BootstrapOptions configures Bootstrap. The zero value means 1000
// resamples, 95 % level, percentile method, seed 0, no stratification.
type BootstrapOptions struct {
	Resamples int      // number of valid replicates wanted (default 1000)
	Level     float64  // confidence level in (0,1) (default 0.95)
	Method    CIMethod // Percentile (default) or BCa
	Seed      uint64   // PCG seed; equal seeds give equal intervals
	// Strata, if non-nil (length n), resamples within each stratum keeping
	// its size (use the class labels for stratified classification
	// bootstrap: every resample then keeps both classes).
	Strata []int
	// MaxAttempts bounds the total number of resamples drawn, including
	// degenerate ones that are redrawn (default 10 × Resamples).
	MaxAttempts int
	// JackknifeMax: see DefaultJackknifeMax (0 → default).
	JackknifeMax int
}

// Interval is a bootstrap confidence interval.
type Interval struct {
	Estimate  Num      `json:"estimate"` // statistic on the full sample
	Lower     Num      `json:"lower"`
	Upper     Num      `json:"upper"`
	Level     float64  `json:"level"`
	Method    CIMethod `json:"method"`
	Resamples int      `json:"resamples"` // valid replicates used
	Seed      uint64   `json:"seed"`
	// Redrawn counts degenerate resamples (statistic error or NaN/Inf,
	// e.g. a single-class resample for AUC) that were discarded and
	// redrawn.
	Redrawn    int    `json:"redrawn"`
	Stratified bool   `json:"stratified"`
	Note       string `json:"note,omitempty"`
	// Bias0 and Acceleration are the BCa constants z0 and a (BCa only).
	Bias0        Num `json:"bias0,omitempty"`
	Acceleration Num `json:"acceleration,omitempty"`
}

// Statistic computes a statistic on the rows idx of the caller's data
// (idx may contain repeats). It returns an error or a non-finite value for
// a degenerate sample.
type Statistic func(idx []int) (float64, error)

func validValue(v float64, err error) bool {
	return err == nil && !math.IsNaN(v) && !math.IsInf(v, 0)
}

// Bootstrap computes a confidence interval for stat over n rows.
//
// Degenerate resamples (stat returns an error or NaN/±Inf) are redrawn:
// they are counted in Interval.Redrawn and do not count towards Resamples.
// If MaxAttempts is exhausted the interval uses the valid replicates so far
// (Resamples < requested, said in Note); fewer than 2 valid replicates is
// an error. For BCa, degenerate jackknife samples are skipped. If all
// replicates fall on one side of the estimate (z0 infinite), the BCa
// interval falls back to the percentile interval and says so in Note.
func Bootstrap(n int, stat Statistic, opt BootstrapOptions) (Interval, error) {
	if n < 1 {
		return Interval{}, errors.New("evaluate: bootstrap needs at least one row")
	}
	B := opt.Resamples
	if B == 0 {
		B = DefaultResamples
	}
	level := opt.Level
	if level == 0 {
		level = DefaultLevel
	}
	if B < 2 {
		return Interval{}, fmt.Errorf("evaluate: resamples=%d, need >= 2", B)
	}
	if !(level > 0 && level < 1) {
		return Interval{}, fmt.Errorf("evaluate: level=%v, need 0 < level < 1", level)
	}
	method := opt.Method
	if method == "" {
		method = Percentile
	}
	if method != Percentile && method != BCa {
		return Interval{}, fmt.Errorf("evaluate: unknown bootstrap method %q", method)
	}
	if opt.Strata != nil && len(opt.Strata) != n {
		return Interval{}, fmt.Errorf("evaluate: %d strata for %d rows", len(opt.Strata), n)
	}
	maxAttempts := opt.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = 10 * B
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	est, err := stat(all)
	if !validValue(est, err) {
		if err == nil {
			err = errors.New("non-finite value")
		}
		return Interval{}, fmt.Errorf("evaluate: statistic undefined on the full sample: %w", err)
	}
	out := Interval{Estimate: Num(est), Level: level, Method: method, Seed: opt.Seed, Stratified: opt.Strata != nil}

	// Strata → index lists (sorted stratum keys for determinism).
	var strata [][]int
	if opt.Strata != nil {
		m := map[int][]int{}
		for i, s := range opt.Strata {
			m[s] = append(m[s], i)
		}
		keys := make([]int, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		for _, k := range keys {
			strata = append(strata, m[k])
		}
	}

	r := newRand(opt.Seed)
	idx := make([]int, n)
	reps := make([]float64, 0, B)
	attempts := 0
	for len(reps) < B && attempts < maxAttempts {
		attempts++
		if strata == nil {
			for i := range idx {
				idx[i] = r.IntN(n)
			}
		} else {
			pos := 0
			for _, s := range strata {
				for range s {
					idx[pos] = s[r.IntN(len(s))]
					pos++
				}
			}
		}
		v, err := stat(idx)
		if !validValue(v, err) {
			out.Redrawn++
			continue
		}
		reps = append(reps, v)
	}
	if len(reps) < 2 {
		return Interval{}, fmt.Errorf("evaluate: only %d valid bootstrap replicate(s) in %d attempts", len(reps), attempts)
	}
	out.Resamples = len(reps)
	var notes []string
	if out.Redrawn > 0 {
		notes = append(notes, fmt.Sprintf("%d degenerate resample(s) redrawn", out.Redrawn))
	}
	if len(reps) < B {
		notes = append(notes, fmt.Sprintf("only %d of %d requested replicates valid after %d attempts", len(reps), B, attempts))
	}
	sort.Float64s(reps)
	alpha := 1 - level
	lo, hi := alpha/2, 1-alpha/2
	if method == BCa {
		z0, a, note, ok := bcaConstants(n, stat, est, reps, opt.JackknifeMax, r)
		if note != "" {
			notes = append(notes, note)
		}
		if ok {
			out.Bias0, out.Acceleration = Num(z0), Num(a)
			lo = bcaAdjust(z0, a, normQuantile(alpha/2))
			hi = bcaAdjust(z0, a, normQuantile(1-alpha/2))
		}
	}
	out.Lower = Num(quantileSorted(reps, lo))
	out.Upper = Num(quantileSorted(reps, hi))
	if len(notes) > 0 {
		out.Note = joinNotes(notes)
	}
	return out, nil
}

func joinNotes(n []string) string {
	s := n[0]
	for _, x := range n[1:] {
		s += "; " + x
	}
	return s
}

func bcaAdjust(z0, a, z float64) float64 {
	t := z0 + z
	d := 1 - a*t
	if d <= 0 { // extreme acceleration: the adjusted level saturates
		if t > 0 {
			return 1
		}
		return 0
	}
	return normCDF(z0 + t/d)
}

// bcaConstants returns z0 (bias correction) and a (acceleration).
func bcaConstants(n int, stat Statistic, est float64, sortedReps []float64, jackMax int, r interface{ IntN(int) int }) (z0, a float64, note string, ok bool) {
	below := sort.SearchFloat64s(sortedReps, est)                                                  // count < est
	equal := sort.Search(len(sortedReps), func(i int) bool { return sortedReps[i] > est }) - below // count == est
	prop := (float64(below) + 0.5*float64(equal)) / float64(len(sortedReps))
	if prop <= 0 || prop >= 1 {
		return 0, 0, "BCa bias correction infinite (all replicates on one side of the estimate): percentile interval used", false
	}
	z0 = normQuantile(prop)

	if jackMax <= 0 {
		jackMax = DefaultJackknifeMax
	}
	// Jackknife: leave-one-out, or delete-a-block for large n.
	var blocks [][]int
	if n <= jackMax {
		blocks = make([][]int, n)
		for i := range n {
			blocks[i] = []int{i}
		}
	} else {
		perm := make([]int, n)
		for i := range perm {
			perm[i] = i
		}
		for i := n - 1; i > 0; i-- {
			j := r.IntN(i + 1)
			perm[i], perm[j] = perm[j], perm[i]
		}
		blocks = make([][]int, jackMax)
		for i, p := range perm {
			blocks[i%jackMax] = append(blocks[i%jackMax], p)
		}
		note = fmt.Sprintf("BCa acceleration from a delete-a-block jackknife (%d blocks)", jackMax)
	}
	drop := make([]bool, n)
	idx := make([]int, 0, n)
	var jack []float64
	skipped := 0
	for _, b := range blocks {
		for _, i := range b {
			drop[i] = true
		}
		idx = idx[:0]
		for i := range n {
			if !drop[i] {
				idx = append(idx, i)
			}
		}
		for _, i := range b {
			drop[i] = false
		}
		v, err := stat(idx)
		if !validValue(v, err) {
			skipped++
			continue
		}
		jack = append(jack, v)
	}
	if skipped > 0 {
		s := fmt.Sprintf("%d degenerate jackknife sample(s) skipped", skipped)
		if note != "" {
			note += "; " + s
		} else {
			note = s
		}
	}
	if len(jack) >= 2 {
		mean := 0.0
		for _, v := range jack {
			mean += v
		}
		mean /= float64(len(jack))
		var s2, s3 float64
		for _, v := range jack {
			d := mean - v
			s2 += d * d
			s3 += d * d * d
		}
		if s2 > 0 {
			a = s3 / (6 * math.Pow(s2, 1.5))
		}
	}
	return z0, a, note, true
}

// quantileSorted is the linear-interpolation quantile (type 7) of sorted x.
func quantileSorted(x []float64, q float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	q = math.Min(math.Max(q, 0), 1)
	h := q * float64(len(x)-1)
	lo := int(math.Floor(h))
	if lo >= len(x)-1 {
		return x[len(x)-1]
	}
	return x[lo] + (h-float64(lo))*(x[lo+1]-x[lo])
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

func normQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// BinaryMetric is a metric of labels and scores (e.g. ROCAUC).
type BinaryMetric func(y []int, score []float64) (float64, error)

// BootstrapBinary bootstraps a binary-classification metric. If stratified
// is true the resampling is stratified on y (opt.Strata is overridden).
func BootstrapBinary(y []int, score []float64, metric BinaryMetric, stratified bool, opt BootstrapOptions) (Interval, error) {
	if _, _, err := checkBinary(y, score); err != nil {
		return Interval{}, err
	}
	if stratified {
		opt.Strata = y
	}
	by := make([]int, 0, len(y))
	bs := make([]float64, 0, len(y))
	stat := func(idx []int) (float64, error) {
		by, bs = by[:0], bs[:0]
		for _, i := range idx {
			by = append(by, y[i])
			bs = append(bs, score[i])
		}
		return metric(by, bs)
	}
	return Bootstrap(len(y), stat, opt)
}

// ThresholdMetric adapts a confusion-matrix metric at a threshold to a
// BinaryMetric, e.g. ThresholdMetric(0.5, Confusion.Sensitivity).
func ThresholdMetric(threshold float64, f func(Confusion) float64) BinaryMetric {
	return func(y []int, score []float64) (float64, error) {
		c, err := ConfusionAt(y, score, threshold)
		if err != nil {
			return math.NaN(), err
		}
		return f(c), nil
	}
}

// BootstrapAUC is BootstrapBinary(y, score, ROCAUC, stratified, opt) with a
// fast statistic: scores are sorted once and each resample is evaluated in
// O(n) from per-tie-group counts of positives and negatives, instead of
// re-sorting (same random stream, hence the same interval up to rounding).
func BootstrapAUC(y []int, score []float64, stratified bool, opt BootstrapOptions) (Interval, error) {
	if _, _, err := checkBinary(y, score); err != nil {
		return Interval{}, err
	}
	if stratified {
		opt.Strata = y
	}
	return Bootstrap(len(y), aucStatistic(y, score), opt)
}

// aucStatistic returns a Statistic computing the ROC AUC of the rows idx
// (ties ½) by a sweep over tie groups in increasing score order.
func aucStatistic(y []int, score []float64) Statistic {
	order := argsortAsc(score)
	groupOf := make([]int, len(y))
	ng := 0
	for k, i := range order {
		if k > 0 && score[i] != score[order[k-1]] {
			ng++
		}
		groupOf[i] = ng
	}
	ng++
	pos := make([]float64, ng)
	neg := make([]float64, ng)
	return func(idx []int) (float64, error) {
		clear(pos)
		clear(neg)
		for _, i := range idx {
			if y[i] == 1 {
				pos[groupOf[i]]++
			} else {
				neg[groupOf[i]]++
			}
		}
		var num, negBelow, npos float64
		for g := range ng {
			num += pos[g] * (negBelow + neg[g]/2)
			negBelow += neg[g]
			npos += pos[g]
		}
		if npos == 0 || negBelow == 0 {
			return math.NaN(), ErrOneClass
		}
		return num / (npos * negBelow), nil
	}
}
