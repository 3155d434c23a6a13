package monitor

// Data drift: does a column's current distribution differ from its
// reference (training) distribution? The statistical tests, distances and
// the automatic choice between them follow Evidently's data drift preset,
// so that a hospital's data team finds the figures it knows:
//
//   - numeric columns with more than 5 distinct values (reference and
//     current pooled): two-sample Kolmogorov–Smirnov test (drift when
//     p < 0.05) when the reference has at most 1000 values, otherwise the
//     Wasserstein distance divided by the reference's standard deviation
//     (drift when ≥ 0.1);
//   - categorical columns, and numeric ones with at most 5 distinct values
//     (compared as categories): chi-square goodness-of-fit test of the
//     current counts against the reference proportions (drift when
//     p < 0.05) at most 1000 reference values, except for binary
//     categorical columns which use the two-proportion z-test (p < 0.05);
//     otherwise the Jensen–Shannon distance (natural logarithm, drift when
//     ≥ 0.1);
//   - the population stability index (PSI, drift when ≥ 0.1) on request;
//   - the dataset drifts when at least half of its columns drift.
//
// Missing values (NaN, "") are left out of every statistic and counted.
//
// Every statistic is linear in rows once the values are sorted, and values
// are sorted with a radix sort (linear in rows too): 1,000,000 rows × 20
// columns take well under a few seconds (see BenchmarkDriftDataset and
// docs/monitoring.md).

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/evaluate"
)

// Method is a drift statistic.
type Method string

// Drift methods.
const (
	KS            Method = "ks"            // two-sample Kolmogorov–Smirnov test, p-value
	Wasserstein   Method = "wasserstein"   // Wasserstein-1 distance / reference standard deviation
	ChiSquare     Method = "chisquare"     // chi-square goodness of fit, p-value
	JensenShannon Method = "jensenshannon" // Jensen–Shannon distance (natural log)
	PSI           Method = "psi"           // population stability index
	ZTest         Method = "ztest"         // two-proportion z-test, p-value (binary categories)
)

// Methods lists the methods one may ask for.
var Methods = []Method{KS, Wasserstein, ChiSquare, JensenShannon, PSI, ZTest}

// Defaults of Options.
const (
	DefaultSmallSample = 1000 // reference sizes up to this use the tests
	DefaultDriftShare  = 0.5  // share of drifting columns for dataset drift
	DefaultPThreshold  = 0.05 // tests: drift when p < this
	DefaultDistance    = 0.1  // distances and PSI: drift when ≥ this
	maxUniqueCat       = 5    // numeric columns with ≤ this many values are categorical
	minStd             = 0.001
	fillZero           = 0.0001 // empty bins' proportion in JS and PSI (Evidently's)
	maxHistCategories  = 20
)

// Column types.
const (
	TypeNumeric     = "numeric"
	TypeCategorical = "categorical"
)

// Column is one column of data: Num (NaN for missing) for a numeric column,
// Cat ("" for missing) for a categorical one.
type Column struct {
	Name string
	Num  []float64
	Cat  []string
}

// Len is the number of rows.
func (c Column) Len() int {
	if c.Num != nil {
		return len(c.Num)
	}
	return len(c.Cat)
}

// Options tune drift detection. The zero value is Evidently's defaults.
type Options struct {
	Method     Method             // for every column ("" = automatic choice)
	Methods    map[string]Method  // per column, over Method
	Threshold  float64            // for every column (0 = the method's default)
	Thresholds map[string]float64 // per column, over Threshold
	// SmallSample: reference sizes up to this use the statistical tests,
	// larger ones the distances (0 → 1000).
	SmallSample int
	// DriftShare: the dataset drifts when at least this share of its
	// columns drift (0 → 0.5).
	DriftShare float64
}

// Check validates the options.
func (o Options) Check() error {
	ok := func(m Method) bool { return m == "" || slices.Contains(Methods, m) }
	if !ok(o.Method) {
		return errs.Invalidf("drift method %q: want one of %v", o.Method, Methods)
	}
	for c, m := range o.Methods {
		if !ok(m) {
			return errs.Invalidf("drift method %q for %s: want one of %v", m, c, Methods)
		}
	}
	if o.Threshold < 0 || math.IsNaN(o.Threshold) || o.DriftShare < 0 || o.DriftShare > 1 || math.IsNaN(o.DriftShare) {
		return errs.Invalidf("drift threshold must be ≥ 0 and drift share in [0, 1]")
	}
	return nil
}

// DefaultThreshold is a method's threshold: a p-value for the tests, a
// distance otherwise.
func DefaultThreshold(m Method) float64 {
	if m.IsTest() {
		return DefaultPThreshold
	}
	return DefaultDistance
}

// IsTest reports whether the method's statistic is judged by its p-value.
func (m Method) IsTest() bool { return m == KS || m == ChiSquare || m == ZTest }

// Hist is a histogram of the reference and the current values on the same
// bins: Edges (numeric, len(Ref)+1) or Labels (categories); Ref and Cur are
// proportions of the non-missing values.
type Hist struct {
	Edges  []float64 `json:"edges,omitempty"`
	Labels []string  `json:"labels,omitempty"`
	Ref    []float64 `json:"ref"`
	Cur    []float64 `json:"cur"`
}

// ColumnDrift is the drift of one column.
type ColumnDrift struct {
	Name       string        `json:"name"`
	Type       string        `json:"type"` // numeric or categorical
	Method     Method        `json:"method"`
	Statistic  evaluate.Num  `json:"statistic"`           // distance, or the test's statistic
	PValue     *evaluate.Num `json:"p_value,omitempty"`   // tests only
	Threshold  float64       `json:"threshold"`           // p-value (tests) or distance
	Drift      bool          `json:"drift"`               // p < threshold, or distance ≥ threshold
	RefN       int           `json:"ref_n"`               // non-missing reference values
	CurN       int           `json:"cur_n"`               // non-missing current values
	RefMissing int           `json:"ref_missing"`         // missing reference values
	CurMissing int           `json:"cur_missing"`         // missing current values
	Error      string        `json:"error,omitempty"`     // why no statistic
	Hist       *Hist         `json:"histogram,omitempty"` // for the dashboard
}

// Score is the column's drift score on one scale: the distance, or 1 − p
// for the tests. Alert rules on drift:<column> compare it.
func (c ColumnDrift) Score() float64 {
	if c.PValue != nil {
		return 1 - float64(*c.PValue)
	}
	return float64(c.Statistic)
}

// Report is the drift of a dataset.
type Report struct {
	Columns      []ColumnDrift `json:"columns"`
	Drifted      int           `json:"drifted"`
	Share        float64       `json:"share"`       // drifted / columns with a statistic
	DriftShare   float64       `json:"drift_share"` // threshold on Share
	DatasetDrift bool          `json:"dataset_drift"`
}

// DriftDataset computes the drift of every column of cur against the
// column of ref with the same name (columns in ref's order), in parallel.
func DriftDataset(ref, cur []Column, opt Options) (Report, error) {
	if err := opt.Check(); err != nil {
		return Report{}, err
	}
	byName := map[string]Column{}
	for _, c := range cur {
		byName[c.Name] = c
	}
	out := Report{Columns: make([]ColumnDrift, len(ref)), DriftShare: opt.DriftShare}
	if out.DriftShare == 0 {
		out.DriftShare = DefaultDriftShare
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(1, len(ref))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c, ok := byName[ref[i].Name]
				if !ok {
					out.Columns[i] = ColumnDrift{Name: ref[i].Name, Error: "no current values (column absent)"}
					continue
				}
				out.Columns[i] = DriftColumn(ref[i], c, opt)
			}
		}()
	}
	for i := range ref {
		work <- i
	}
	close(work)
	wg.Wait()
	n := 0
	for _, c := range out.Columns {
		if c.Error != "" {
			continue
		}
		n++
		if c.Drift {
			out.Drifted++
		}
	}
	if n > 0 {
		out.Share = float64(out.Drifted) / float64(n)
		out.DatasetDrift = out.Share >= out.DriftShare
	}
	return out, nil
}

// DriftColumn computes the drift of one column. Errors (no values, types
// that differ, a method that does not apply) are reported in the result's
// Error, with Drift false.
func DriftColumn(ref, cur Column, opt Options) ColumnDrift {
	d := ColumnDrift{Name: ref.Name, Type: TypeCategorical}
	if ref.Num != nil {
		d.Type = TypeNumeric
	}
	method := opt.Method
	if m, ok := opt.Methods[ref.Name]; ok && m != "" {
		method = m
	}
	if (ref.Num != nil) != (cur.Num != nil) {
		d.Error = "the reference and current values are of different types"
		return d
	}
	small := opt.SmallSample
	if small == 0 {
		small = DefaultSmallSample
	}
	if d.Type == TypeNumeric {
		r, rm := present(ref.Num)
		c, cm := present(cur.Num)
		d.RefN, d.CurN, d.RefMissing, d.CurMissing = len(r), len(c), rm, cm
		if len(r) == 0 || len(c) == 0 {
			d.Error = "no values to compare"
			return d
		}
		if fewValues(r, c, maxUniqueCat) {
			// Few distinct numbers: compared as categories.
			d.Type = TypeCategorical
			numCats := func(x []float64) []string {
				s := make([]string, len(x))
				for i, v := range x {
					s[i] = strconv.FormatFloat(v, 'g', -1, 64)
				}
				return s
			}
			if method == "" {
				method = JensenShannon
				if len(r) <= small {
					method = ChiSquare
				}
			}
			if method == KS || method == Wasserstein {
				// Asked for explicitly: still meaningful on numbers.
				d.Type = TypeNumeric
				return numericDrift(d, r, c, method, opt)
			}
			return categoricalDrift(d, counts(numCats(r)), counts(numCats(c)), method, opt)
		}
		if method == "" {
			method = Wasserstein
			if len(r) <= small {
				method = KS
			}
		}
		return numericDrift(d, r, c, method, opt)
	}
	rc, rm := countsMissing(ref.Cat)
	cc, cm := countsMissing(cur.Cat)
	d.RefMissing, d.CurMissing = rm, cm
	d.RefN, d.CurN = len(ref.Cat)-rm, len(cur.Cat)-cm
	if d.RefN == 0 || d.CurN == 0 {
		d.Error = "no values to compare"
		return d
	}
	if method == "" {
		union := len(rc)
		for k := range cc {
			if _, ok := rc[k]; !ok {
				union++
			}
		}
		switch {
		case d.RefN > small:
			method = JensenShannon
		case union > 2:
			method = ChiSquare
		default:
			method = ZTest
		}
	}
	return categoricalDrift(d, rc, cc, method, opt)
}

func threshold(name string, m Method, opt Options) float64 {
	if t, ok := opt.Thresholds[name]; ok && t > 0 {
		return t
	}
	if opt.Threshold > 0 {
		return opt.Threshold
	}
	return DefaultThreshold(m)
}

func judge(d ColumnDrift, m Method, stat float64, p *float64, opt Options) ColumnDrift {
	d.Method, d.Statistic = m, evaluate.Num(stat)
	d.Threshold = threshold(d.Name, m, opt)
	if p != nil {
		pv := evaluate.Num(*p)
		d.PValue = &pv
		d.Drift = *p < d.Threshold
	} else {
		d.Drift = stat >= d.Threshold
	}
	return d
}

// numericDrift: r and c are the non-missing values (modified: sorted).
func numericDrift(d ColumnDrift, r, c []float64, m Method, opt Options) ColumnDrift {
	sortFloats(r)
	sortFloats(c)
	edges := sturgesEdges(r[0], r[len(r)-1], c[0], c[len(c)-1], len(r)+len(c))
	rp, cp := histSorted(r, edges), histSorted(c, edges)
	d.Hist = &Hist{Edges: edges, Ref: slices.Clone(rp), Cur: slices.Clone(cp)}
	switch m {
	case KS:
		stat := KSStatistic(r, c)
		p := KSPValue(stat, len(r), len(c))
		return judge(d, m, stat, &p, opt)
	case Wasserstein:
		return judge(d, m, WassersteinSorted(r, c)/math.Max(stdDev(r), minStd), nil, opt)
	case JensenShannon:
		return judge(d, m, JSDistance(fillZeros(rp), fillZeros(cp)), nil, opt)
	case PSI:
		return judge(d, m, PSIValue(fillZeros(rp), fillZeros(cp)), nil, opt)
	case ChiSquare, ZTest:
		// On numbers: as categories.
		toCat := func(x []float64) map[string]int {
			out := map[string]int{}
			for _, v := range x {
				out[strconv.FormatFloat(v, 'g', -1, 64)]++
			}
			return out
		}
		d.Hist = nil
		return categoricalDrift(d, toCat(r), toCat(c), m, opt)
	}
	d.Error = fmt.Sprintf("unknown method %q", m)
	return d
}

func categoricalDrift(d ColumnDrift, rc, cc map[string]int, m Method, opt Options) ColumnDrift {
	keys := make([]string, 0, len(rc)+len(cc))
	for k := range rc {
		keys = append(keys, k)
	}
	for k := range cc {
		if _, ok := rc[k]; !ok {
			keys = append(keys, k)
		}
	}
	// Most frequent reference categories first, then by name.
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(rc[b], rc[a]); c != 0 {
			return c
		}
		if c := cmp.Compare(cc[b], cc[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	rn, cn := float64(d.RefN), float64(d.CurN)
	rp, cp := make([]float64, len(keys)), make([]float64, len(keys))
	for i, k := range keys {
		rp[i], cp[i] = float64(rc[k])/rn, float64(cc[k])/cn
	}
	d.Hist = catHist(keys, rp, cp)
	switch m {
	case ChiSquare:
		obs, exp := make([]float64, len(keys)), make([]float64, len(keys))
		for i, k := range keys {
			obs[i], exp[i] = float64(cc[k]), float64(rc[k])*cn/rn
		}
		stat, p := ChiSquareGOF(obs, exp)
		return judge(d, m, stat, &p, opt)
	case ZTest:
		if len(keys) > 2 {
			d.Method, d.Error = m, fmt.Sprintf("the z-test compares two categories, this column has %d", len(keys))
			return d
		}
		var z, p float64
		if len(keys) == 1 {
			z, p = 0, 1
		} else {
			z, p = ProportionZTest(rc[keys[0]], d.RefN, cc[keys[0]], d.CurN)
		}
		return judge(d, m, z, &p, opt)
	case JensenShannon:
		return judge(d, m, JSDistance(fillZeros(rp), fillZeros(cp)), nil, opt)
	case PSI:
		return judge(d, m, PSIValue(fillZeros(rp), fillZeros(cp)), nil, opt)
	case KS, Wasserstein:
		d.Method, d.Error = m, fmt.Sprintf("%s needs a numeric column", m)
		return d
	}
	d.Error = fmt.Sprintf("unknown method %q", m)
	return d
}

// catHist keeps the most frequent categories and pools the rest.
func catHist(keys []string, rp, cp []float64) *Hist {
	if len(keys) <= maxHistCategories {
		return &Hist{Labels: slices.Clone(keys), Ref: slices.Clone(rp), Cur: slices.Clone(cp)}
	}
	h := &Hist{Labels: append(slices.Clone(keys[:maxHistCategories-1]), "(other)"),
		Ref: slices.Clone(rp[:maxHistCategories]), Cur: slices.Clone(cp[:maxHistCategories])}
	for i := maxHistCategories; i < len(keys); i++ {
		h.Ref[maxHistCategories-1] += rp[i]
		h.Cur[maxHistCategories-1] += cp[i]
	}
	return h
}

func present(x []float64) ([]float64, int) {
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, v)
		}
	}
	return out, len(x) - len(out)
}

func counts(x []string) map[string]int {
	m, _ := countsMissing(x)
	return m
}

func countsMissing(x []string) (map[string]int, int) {
	m := map[string]int{}
	missing := 0
	for _, v := range x {
		if v == "" {
			missing++
			continue
		}
		m[v]++
	}
	return m, missing
}

// fewValues reports whether a and b hold at most k distinct values together.
func fewValues(a, b []float64, k int) bool {
	seen := make([]float64, 0, k+1)
	for _, x := range [][]float64{a, b} {
		for _, v := range x {
			if !slices.Contains(seen, v) {
				if len(seen) == k {
					return false
				}
				seen = append(seen, v)
			}
		}
	}
	return true
}

// sturgesEdges are numpy's histogram_bin_edges(pooled, bins="sturges"):
// ceil(log2(n) + 1) equal bins over [min, max] of the pooled values (a
// constant column gets one bin [v−0.5, v+0.5]).
func sturgesEdges(rmin, rmax, cmin, cmax float64, n int) []float64 {
	lo, hi := math.Min(rmin, cmin), math.Max(rmax, cmax)
	if lo == hi {
		return []float64{lo - 0.5, hi + 0.5}
	}
	nb := int(math.Ceil(math.Log2(float64(n)) + 1))
	e := make([]float64, nb+1)
	for i := range e {
		e[i] = lo + (hi-lo)*float64(i)/float64(nb)
	}
	e[nb] = hi
	return e
}

// histSorted returns the proportion of the sorted x in each bin (bins
// [e_i, e_i+1), the last closed), linear in len(x).
func histSorted(x []float64, edges []float64) []float64 {
	nb := len(edges) - 1
	out := make([]float64, nb)
	lo, hi := edges[0], edges[nb]
	w := (hi - lo) / float64(nb)
	for _, v := range x {
		b := int((v - lo) / w)
		// numpy's correction for rounding at the edges.
		if b > 0 && b < nb && v < edges[b] {
			b--
		} else if b < nb-1 && v >= edges[b+1] {
			b++
		}
		b = min(max(b, 0), nb-1)
		out[b]++
	}
	for i := range out {
		out[i] /= float64(len(x))
	}
	return out
}

// fillZeros replaces empty bins' proportions by 0.0001, as Evidently does
// before the Jensen–Shannon distance and the PSI.
func fillZeros(p []float64) []float64 {
	out := slices.Clone(p)
	for i, v := range out {
		if v == 0 {
			out[i] = fillZero
		}
	}
	return out
}

func stdDev(x []float64) float64 {
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var s float64
	for _, v := range x {
		s += (v - mean) * (v - mean)
	}
	return math.Sqrt(s / float64(len(x)))
}

// KSStatistic is the two-sample Kolmogorov–Smirnov statistic
// D = sup |F_a − F_b| of two sorted samples, linear in their sizes (ties
// are stepped over together, as scipy.stats.ks_2samp does).
func KSStatistic(a, b []float64) float64 {
	n, m := float64(len(a)), float64(len(b))
	i, j, d := 0, 0, 0.0
	for i < len(a) && j < len(b) {
		v := math.Min(a[i], b[j])
		for i < len(a) && a[i] == v {
			i++
		}
		for j < len(b) && b[j] == v {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/n-float64(j)/m))
	}
	return d
}

// ExactKSMax bounds n·m for the exact two-sample K–S p-value; above it the
// asymptotic distribution is used.
const ExactKSMax = 10_000_000

// KSPValue is the two-sided p-value P(D ≥ d) of the two-sample K–S test.
// For n·m ≤ ExactKSMax it is exact (the lattice-path recursion of Hodges
// 1958, as R's psmirnov, O(n·m) time and O(min) memory; exact for
// continuous data, i.e. without ties), otherwise the asymptotic Kolmogorov
// distribution with Stephens' small-sample correction,
// Q((√e + 0.12 + 0.11/√e)·d) with e = nm/(n+m).
func KSPValue(d float64, n, m int) float64 {
	if d <= 0 {
		return 1
	}
	if d >= 1 && n > 0 && m > 0 {
		// Only the arrangements with one sample entirely below the other.
		return math.Min(1, 2*math.Exp(lnBinomInv(n, m)))
	}
	if float64(n)*float64(m) <= ExactKSMax {
		return math.Min(1, math.Max(0, 1-ksExactCDF(d, n, m)))
	}
	e := float64(n) * float64(m) / float64(n+m)
	se := math.Sqrt(e)
	return kolmogorovQ((se + 0.12 + 0.11/se) * d)
}

// lnBinomInv is −ln C(n+m, n).
func lnBinomInv(n, m int) float64 {
	a, _ := math.Lgamma(float64(n + m + 1))
	b, _ := math.Lgamma(float64(n + 1))
	c, _ := math.Lgamma(float64(m + 1))
	return b + c - a
}

// ksExactCDF is P(D < d) for samples of sizes n and m.
func ksExactCDF(d float64, n, m int) float64 {
	if m > n {
		n, m = m, n
	}
	md, nd := float64(m), float64(n)
	q := (0.5 + math.Floor(d*md*nd-1e-7)) / (md * nd)
	u := make([]float64, n+1)
	for j := range u {
		if float64(j)/nd > q {
			u[j] = 0
		} else {
			u[j] = 1
		}
	}
	for i := 1; i <= m; i++ {
		w := float64(i) / float64(i+n)
		if float64(i)/md > q {
			u[0] = 0
		} else {
			u[0] = w * u[0]
		}
		for j := 1; j <= n; j++ {
			if math.Abs(float64(i)/md-float64(j)/nd) > q {
				u[j] = 0
			} else {
				u[j] = w*u[j] + u[j-1]
			}
		}
	}
	return u[n]
}

// kolmogorovQ is the Kolmogorov distribution's survival function
// Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} exp(−2k²λ²).
func kolmogorovQ(l float64) float64 {
	if l < 0.2 {
		return 1
	}
	var s float64
	for k := 1; k <= 100; k++ {
		t := math.Exp(-2 * float64(k*k) * l * l)
		if k%2 == 1 {
			s += t
		} else {
			s -= t
		}
		if t < 1e-16 {
			break
		}
	}
	return math.Min(1, math.Max(0, 2*s))
}

// WassersteinSorted is the Wasserstein-1 (earth mover's) distance between
// the empirical distributions of two sorted samples, ∫|F_a − F_b|, as
// scipy.stats.wasserstein_distance; linear in their sizes.
func WassersteinSorted(a, b []float64) float64 {
	n, m := float64(len(a)), float64(len(b))
	i, j := 0, 0
	prev := math.Min(a[0], b[0])
	var w float64
	for i < len(a) || j < len(b) {
		var v float64
		switch {
		case i == len(a):
			v = b[j]
		case j == len(b) || a[i] < b[j]:
			v = a[i]
		default:
			v = b[j]
		}
		diff := float64(i)/n - float64(j)/m
		if diff < 0 {
			diff = -diff
		}
		w += diff * (v - prev)
		for i < len(a) && a[i] == v {
			i++
		}
		for j < len(b) && b[j] == v {
			j++
		}
		prev = v
	}
	return w
}

// ChiSquareGOF is the chi-square goodness-of-fit test of observed counts
// against expected ones (scipy.stats.chisquare): statistic Σ (o−e)²/e with
// k−1 degrees of freedom and its p-value. A category expected 0 times but
// observed is infinitely surprising: statistic +Inf, p 0.
func ChiSquareGOF(obs, exp []float64) (stat, p float64) {
	for i := range obs {
		if exp[i] == 0 {
			if obs[i] > 0 {
				return math.Inf(1), 0
			}
			continue
		}
		d := obs[i] - exp[i]
		stat += d * d / exp[i]
	}
	df := len(obs) - 1
	if df < 1 {
		return stat, 1
	}
	return stat, distuv.ChiSquared{K: float64(df)}.Survival(stat)
}

// ProportionZTest is the two-sided z-test of the difference between two
// proportions a/n and b/m with the pooled variance; z is NaN (p 1) when
// the pooled proportion is 0 or 1.
func ProportionZTest(a, n, b, m int) (z, p float64) {
	p1, p2 := float64(a)/float64(n), float64(b)/float64(m)
	pp := float64(a+b) / float64(n+m)
	se := math.Sqrt(pp * (1 - pp) * (1/float64(n) + 1/float64(m)))
	if se == 0 {
		return 0, 1
	}
	z = (p1 - p2) / se
	return z, 2 * distuv.UnitNormal.Survival(math.Abs(z))
}

// JSDistance is the Jensen–Shannon distance (the square root of the
// divergence, natural logarithm) between two distributions, each
// normalised to sum 1, as scipy.spatial.distance.jensenshannon.
func JSDistance(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	var js float64
	for i := range p {
		a, b := p[i]/sp, q[i]/sq
		mm := (a + b) / 2
		if a > 0 {
			js += a * math.Log(a/mm)
		}
		if b > 0 {
			js += b * math.Log(b/mm)
		}
	}
	return math.Sqrt(math.Max(js/2, 0))
}

// PSIValue is the population stability index Σ (r−c)·ln(r/c) of two
// binned distributions without empty bins.
func PSIValue(r, c []float64) float64 {
	var s float64
	for i := range r {
		s += (r[i] - c[i]) * math.Log(r[i]/c[i])
	}
	return s
}

// sortFloats sorts x (no NaN) in increasing order: a least-significant
// digit radix sort on the values' order-preserving bit patterns (linear in
// len(x)) for large slices, pdqsort for small ones.
func sortFloats(x []float64) {
	const radixMin = 4096
	if slices.IsSorted(x) { // a cached reference is sorted already
		return
	}
	if len(x) < radixMin {
		slices.Sort(x)
		return
	}
	const bits, passes = 11, 6 // 66 ≥ 64 bits
	const size = 1 << bits
	keys := make([]uint64, len(x))
	tmp := make([]uint64, len(x))
	var cnt [passes][size]int
	for i, v := range x {
		b := math.Float64bits(v)
		if b>>63 == 1 {
			b = ^b
		} else {
			b |= 1 << 63
		}
		keys[i] = b
		for p := range passes {
			cnt[p][(b>>(p*bits))&(size-1)]++
		}
	}
	for p := range passes {
		c := &cnt[p]
		skip := false
		for _, k := range c {
			if k == len(x) {
				skip = true // every key has this digit
				break
			}
			if k != 0 {
				break
			}
		}
		if skip {
			continue
		}
		sum := 0
		for d := range c {
			c[d], sum = sum, sum+c[d]
		}
		shift := p * bits
		for _, k := range keys {
			d := (k >> shift) & (size - 1)
			tmp[c[d]] = k
			c[d]++
		}
		keys, tmp = tmp, keys
	}
	for i, b := range keys {
		if b>>63 == 1 {
			b &^= 1 << 63
		} else {
			b = ^b
		}
		x[i] = math.Float64frombits(b)
	}
}
