package anon

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hygie-health/hygie/internal/errs"
)

// Result is an anonymised table and what was done to it.
type Result struct {
	Table  *Table
	Report Report
	// Levels is the chosen level per quasi-identifier, in Config.QIs order.
	Levels []int
	// Suppressed lists the (0-based) rows that were suppressed.
	Suppressed []int
}

// Report describes a run; it is what `hygie anonymize --report` writes.
type Report struct {
	Levels           map[string]int     `json:"levels"`
	Transformation   []int              `json:"transformation"`
	QuasiIdentifiers []string           `json:"quasi_identifiers"`
	Sensitive        []string           `json:"sensitive,omitempty"`
	PrivacyModel     string             `json:"privacy_model"`
	Rows             int                `json:"rows"`
	Suppressed       int                `json:"suppressed"`
	SuppressionLimit int                `json:"suppression_limit"`
	SuppressedRows   []int              `json:"suppressed_rows"`
	Metric           Metric             `json:"metric"`
	MetricValue      float64            `json:"metric_value"`
	Metrics          map[string]float64 `json:"metrics"`
	Classes          int                `json:"classes"`
	SmallestClass    int                `json:"smallest_class"`
	Search           string             `json:"search"`
	LatticeSize      float64            `json:"lattice_size"`
	NodesChecked     int                `json:"nodes_checked"`
	// NodesRuledOut counts transformations classified without grouping: some
	// value of one quasi-identifier is shared by fewer than k records, and
	// more records carry such values than may be suppressed.
	NodesRuledOut int     `json:"nodes_ruled_out"`
	Seconds       float64 `json:"seconds"`
}

// Anonymize finds the transformation that satisfies cfg's privacy model with
// at most floor(MaxSuppression × rows) suppressed records and minimises the
// metric, and applies it. Columns that are neither quasi-identifiers nor
// sensitive pass through unchanged, and so do sensitive columns; suppressed
// records keep their other columns but every quasi-identifier becomes "*".
// When no transformation qualifies the error says what would be achievable.
func Anonymize(ctx context.Context, t *Table, cfg Config) (*Result, error) {
	start := time.Now()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(t.Rows) == 0 {
		return nil, errs.Invalidf("%s: no rows to anonymise", t.Source)
	}
	e, err := newEngine(t, &cfg)
	if err != nil {
		return nil, err
	}
	dims := make([]int, len(e.qis))
	latSize := 1.0
	for j, q := range e.qis {
		dims[j] = q.levels
		latSize *= float64(q.levels)
	}
	var levels []int
	checks, ruled := 0, 0
	search := "optimal"
	lat, ok := newLattice(dims)
	if cfg.Heuristic || !ok || lat.size > cfg.MaxLattice {
		search = "heuristic"
		levels, checks = e.heuristic(ctx, dims)
	} else {
		s := newSearcher(ctx, e, lat)
		if cfg.Exhaustive {
			search = "exhaustive"
			for id := 0; id < lat.size && ctx.Err() == nil; id++ {
				s.check(id)
			}
		} else {
			s.run()
		}
		checks, ruled = s.checks, s.ruled
		if s.best >= 0 {
			levels = lat.levels(s.best, nil)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if levels == nil {
		return nil, e.noSolution(dims)
	}
	var g groups
	e.group(levels, &g)
	res := &Result{Levels: levels, Table: &Table{Header: append([]string(nil), t.Header...), Source: t.Source}}
	res.Table.Rows = make([][]string, len(t.Rows))
	for i, row := range t.Rows {
		out := append([]string(nil), row...)
		b := e.recB[i]
		sup := g.outlier[g.classOf[b]]
		if sup {
			res.Suppressed = append(res.Suppressed, i)
		}
		for j, q := range e.qis {
			if sup {
				out[q.col] = "*"
			} else {
				out[q.col] = q.labels[levels[j]][q.gen[levels[j]][e.bLeaf[j][b]]]
			}
		}
		res.Table.Rows[i] = out
	}
	rep := &res.Report
	rep.Levels = map[string]int{}
	for j, q := range e.qis {
		rep.Levels[q.name] = levels[j]
		rep.QuasiIdentifiers = append(rep.QuasiIdentifiers, q.name)
	}
	rep.Transformation = levels
	rep.Sensitive = cfg.Sensitive
	rep.PrivacyModel = cfg.describe()
	rep.Rows = e.n
	rep.Suppressed = g.suppressed
	rep.SuppressionLimit = e.maxOut
	rep.SuppressedRows = res.Suppressed
	if rep.SuppressedRows == nil {
		rep.SuppressedRows = []int{}
	}
	rep.Metric = cfg.Metric
	rep.Metrics = map[string]float64{}
	for _, m := range Metrics {
		rep.Metrics[string(m)] = e.metricValue(m, levels, &g)
	}
	rep.MetricValue = rep.Metrics[string(cfg.Metric)]
	rep.SmallestClass = math.MaxInt
	for c, s := range g.size {
		if !g.outlier[c] {
			rep.Classes++
			rep.SmallestClass = min(rep.SmallestClass, int(s))
		}
	}
	if rep.Classes == 0 {
		rep.SmallestClass = 0
	}
	rep.Search = search
	rep.LatticeSize = latSize
	rep.NodesChecked = checks
	rep.NodesRuledOut = ruled
	rep.Seconds = time.Since(start).Seconds()
	return res, nil
}

// noSolution explains why nothing qualifies, from the most generalised
// transformation: how many records it would have to suppress, and the
// largest k it reaches without suppression.
func (e *engine) noSolution(dims []int) error {
	top := make([]int, len(dims))
	for j, d := range dims {
		top[j] = d - 1
	}
	var g groups
	e.group(top, &g)
	smallest := math.MaxInt
	for _, s := range g.size {
		smallest = min(smallest, int(s))
	}
	msg := fmt.Sprintf("no transformation satisfies %s with at most %d suppressed records (%.4g of %d): even the most generalised one would suppress %d records (a suppression limit of at least %.4g)",
		e.cfg.describe(), e.maxOut, e.cfg.MaxSuppression, e.n, g.suppressed, float64(g.suppressed)/float64(e.n))
	if e.cfg.K >= 2 {
		msg += fmt.Sprintf("; without suppression the highest achievable k is %d", smallest)
	}
	return errs.Invalidf("%s", msg)
}

// heuristic is the best-effort search for lattices too large to search:
// from the bottom, climb greedily to the successor that leaves the fewest
// records to suppress (then the lowest metric) until the model is met, then
// walk down and sideways while that keeps the model and lowers the metric.
// It checks at most HeuristicChecks transformations and gives no guarantee
// of optimality.
func (e *engine) heuristic(ctx context.Context, dims []int) ([]int, int) {
	type eval struct {
		anon  bool
		sup   int
		value float64
	}
	seen := map[string]eval{}
	checks := 0
	var g groups
	key := func(lv []int) string { return fmt.Sprint(lv) }
	evalAt := func(lv []int) (eval, bool) {
		k := key(lv)
		if v, ok := seen[k]; ok {
			return v, true
		}
		if checks >= e.cfg.HeuristicChecks || ctx.Err() != nil {
			return eval{}, false
		}
		checks++
		e.group(lv, &g)
		v := eval{anon: g.anonymous(e.maxOut), sup: g.suppressed, value: e.metricValue(e.cfg.Metric, lv, &g)}
		seen[k] = v
		return v, true
	}
	cur := make([]int, len(dims))
	cv, ok := evalAt(cur)
	if !ok {
		return nil, checks
	}
	for !cv.anon {
		var next []int
		var nv eval
		for j := range dims {
			if cur[j]+1 >= dims[j] {
				continue
			}
			lv := append([]int(nil), cur...)
			lv[j]++
			v, ok := evalAt(lv)
			if !ok {
				break
			}
			if next == nil || v.sup < nv.sup || (v.sup == nv.sup && v.value < nv.value) {
				next, nv = lv, v
			}
		}
		if next == nil {
			return nil, checks
		}
		cur, cv = next, nv
	}
	for improved := true; improved; {
		improved = false
		for j := range dims {
			for k := -1; k < len(dims); k++ {
				if cur[j] == 0 || k == j {
					continue
				}
				lv := append([]int(nil), cur...)
				lv[j]--
				if k >= 0 {
					if lv[k]+1 >= dims[k] {
						continue
					}
					lv[k]++
				}
				v, ok := evalAt(lv)
				if !ok {
					return cur, checks
				}
				if v.anon && v.value < cv.value {
					cur, cv, improved = lv, v, true
				}
			}
		}
	}
	return cur, checks
}
