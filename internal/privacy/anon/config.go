package anon

import (
	"fmt"
	"math"

	"github.com/hygie-health/hygie/internal/errs"
)

// Metric names a utility metric (lower is better for all of them).
type Metric string

// The metrics, defined as ARX defines them (see docs/anonymization.md).
const (
	// MetricEntropy is the monotonic non-uniform entropy: for each record and
	// quasi-identifier, -log2(frequency of its original value / frequency of
	// its generalised value), over all records; suppression is ignored.
	MetricEntropy Metric = "entropy"
	// MetricEntropyNM is the non-monotonic non-uniform entropy: the above plus,
	// per quasi-identifier, the entropy of the generalised values of the
	// suppressed records (count × log2(suppressed / count)).
	MetricEntropyNM Metric = "entropy-nonmonotonic"
	// MetricLoss is ARX's Loss: per quasi-identifier, the share of the domain
	// covered by each record's generalised value (1 when suppressed),
	// normalised to [0, 1], aggregated by a geometric mean.
	MetricLoss Metric = "loss"
	// MetricDiscernibility is DM: Σ |class|² over kept classes plus
	// rows × |class| for suppressed ones.
	MetricDiscernibility Metric = "discernibility"
	// MetricDiscernibilityMonotonic is DM*: Σ |class|², suppression ignored.
	MetricDiscernibilityMonotonic Metric = "discernibility-monotonic"
	// MetricPrecision is Sweeney's precision: per quasi-identifier,
	// (kept × level/height + suppressed) / rows, averaged.
	MetricPrecision Metric = "precision"
	// MetricAECS is the average equivalence class size, suppressed records
	// forming one class: rows / classes.
	MetricAECS Metric = "aecs"
)

// Metrics lists every metric, in report order.
var Metrics = []Metric{MetricEntropy, MetricEntropyNM, MetricLoss, MetricDiscernibility, MetricDiscernibilityMonotonic, MetricPrecision, MetricAECS}

// ParseMetric checks a metric name.
func ParseMetric(s string) (Metric, error) {
	for _, m := range Metrics {
		if string(m) == s {
			return m, nil
		}
	}
	return "", errs.Invalidf("unknown metric %q (want entropy, entropy-nonmonotonic, loss, discernibility, discernibility-monotonic, precision or aecs)", s)
}

// monotonic reports whether the metric never decreases when a transformation
// is generalised further, whatever is suppressed.
func (m Metric) monotonic() bool {
	return m == MetricEntropy || m == MetricDiscernibilityMonotonic
}

// independentBound reports whether a lower bound of the metric can be computed
// without grouping the records (from the levels alone).
func (m Metric) independentBound() bool {
	switch m {
	case MetricEntropy, MetricEntropyNM, MetricLoss, MetricPrecision:
		return true
	}
	return false
}

// QI is a quasi-identifier and its generalisation hierarchy.
type QI struct {
	Column    string
	Hierarchy *Hierarchy
}

// LDiversity is an l-diversity model on every sensitive attribute.
type LDiversity struct {
	L       float64
	Entropy bool // entropy l-diversity; distinct l-diversity otherwise
}

// TCloseness is a t-closeness model on every sensitive attribute: the earth
// mover's distance between each class's distribution of the attribute and
// the whole table's is at most T. With a Hierarchy (of the first sensitive
// attribute) the ground distance for that attribute is hierarchical;
// otherwise every pair of values is at distance 1.
type TCloseness struct {
	T         float64
	Hierarchy *Hierarchy
}

// Config is a privacy model, a suppression limit, a metric and the search.
type Config struct {
	QIs       []QI
	Sensitive []string
	K         int // k-anonymity when >= 2
	L         *LDiversity
	T         *TCloseness
	// MaxSuppression is the fraction of records that may be suppressed; the
	// limit is floor(MaxSuppression × rows), as in ARX.
	MaxSuppression float64
	Metric         Metric
	// Heuristic forces the greedy search; it is also used when the lattice
	// has more than MaxLattice nodes (default 1,000,000).
	Heuristic  bool
	MaxLattice int
	// HeuristicChecks bounds the heuristic's checks (default 5,000).
	HeuristicChecks int
	// Exhaustive checks every transformation instead of searching (for
	// verification: the optimum must be the same).
	Exhaustive bool
}

func (c *Config) validate() error {
	if len(c.QIs) == 0 {
		return errs.Invalidf("want at least one quasi-identifier")
	}
	if c.K < 0 {
		return errs.Invalidf("k must be at least 1")
	}
	if c.K < 2 && c.L == nil && c.T == nil {
		return errs.Invalidf("no privacy model: give k >= 2, l-diversity or t-closeness")
	}
	if (c.L != nil || c.T != nil) && len(c.Sensitive) == 0 {
		return errs.Invalidf("l-diversity and t-closeness need a sensitive attribute")
	}
	if c.L != nil && !(c.L.L >= 1) {
		return errs.Invalidf("l must be at least 1")
	}
	if c.T != nil && (!(c.T.T >= 0) || c.T.T > 1) {
		return errs.Invalidf("t must be in [0, 1]")
	}
	if !(c.MaxSuppression >= 0 && c.MaxSuppression <= 1) || math.IsNaN(c.MaxSuppression) {
		return errs.Invalidf("the suppression limit must be a fraction in [0, 1]")
	}
	if c.Metric == "" {
		c.Metric = MetricEntropy
	}
	if _, err := ParseMetric(string(c.Metric)); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, q := range c.QIs {
		if seen[q.Column] {
			return errs.Invalidf("column %q is given twice", q.Column)
		}
		seen[q.Column] = true
		if q.Hierarchy == nil || q.Hierarchy.Levels() == 0 {
			return errs.Invalidf("column %q has no hierarchy", q.Column)
		}
	}
	for _, s := range c.Sensitive {
		if seen[s] {
			return errs.Invalidf("column %q cannot be both a quasi-identifier and sensitive", s)
		}
		seen[s] = true
	}
	if c.MaxLattice <= 0 {
		c.MaxLattice = 1_000_000
	}
	if c.HeuristicChecks <= 0 {
		c.HeuristicChecks = 5000
	}
	return nil
}

// describe is the privacy model in words, for the report.
func (c *Config) describe() string {
	s := ""
	add := func(x string) {
		if s != "" {
			s += " + "
		}
		s += x
	}
	if c.K >= 2 {
		add(fmt.Sprintf("%d-anonymity", c.K))
	}
	if c.L != nil {
		v := "distinct"
		if c.L.Entropy {
			v = "entropy"
		}
		add(fmt.Sprintf("%s %g-diversity", v, c.L.L))
	}
	if c.T != nil {
		d := "equal distance"
		if c.T.Hierarchy != nil {
			d = "hierarchical distance"
		}
		add(fmt.Sprintf("%g-closeness (%s)", c.T.T, d))
	}
	return s
}
