package anon

import "math"

// metricValue computes metric m for transformation lv grouped as g, exactly
// as ARX defines it (docs/anonymization.md gives the formulas).
func (e *engine) metricValue(m Metric, lv []int, g *groups) float64 {
	n := float64(e.n)
	sup := float64(g.suppressed)
	switch m {
	case MetricEntropy:
		return e.entropy(lv)
	case MetricEntropyNM:
		v := e.entropy(lv)
		if g.suppressed == 0 {
			return v
		}
		// Entropy of the generalised values of the suppressed records.
		for j, q := range e.qis {
			counts := make([]float64, len(q.labels[lv[j]]))
			gen := q.gen[lv[j]]
			for b, c := range g.classOf {
				if g.outlier[c] {
					counts[gen[e.bLeaf[j][b]]] += float64(e.bCount[b])
				}
			}
			for _, c := range counts {
				if c > 0 {
					v += c * math.Log2(sup/c)
				}
			}
		}
		return v
	case MetricLoss:
		vals := make([]float64, len(e.qis))
		for j, q := range e.qis {
			raw := q.lossG[lv[j]]
			if g.suppressed > 0 {
				share := q.share[lv[j]]
				gen := q.gen[lv[j]]
				for b, c := range g.classOf {
					if g.outlier[c] {
						raw -= float64(e.bCount[b]) * share[gen[e.bLeaf[j][b]]]
					}
				}
				raw += sup
			}
			vals[j] = q.normalizeLoss(raw, n)
		}
		return geometricMean(vals)
	case MetricDiscernibility:
		v := 0.0
		for c, s := range g.size {
			if g.outlier[c] {
				v += n * float64(s)
			} else {
				v += float64(s) * float64(s)
			}
		}
		return v
	case MetricDiscernibilityMonotonic:
		return dmStar(g)
	case MetricPrecision:
		v := 0.0
		for j, q := range e.qis {
			h := float64(q.levels - 1)
			x := 0.0
			if h > 0 {
				x = float64(lv[j]) / h
			}
			v += ((n-sup)*x + sup) / n
		}
		return v / float64(len(e.qis))
	case MetricAECS:
		kept := 0
		for c := range g.size {
			if !g.outlier[c] {
				kept++
			}
		}
		if g.suppressed > 0 {
			kept++
		}
		return n / float64(kept)
	}
	panic("unknown metric " + string(m))
}

// entropy is the monotonic non-uniform entropy of lv.
func (e *engine) entropy(lv []int) float64 {
	v := 0.0
	for j, q := range e.qis {
		v += q.nue[lv[j]]
	}
	return v
}

// normalizeLoss maps a column's raw loss to [0, 1] as ARX does: 0 for the
// original values (each covering 1/domain of the domain), 1 for "*".
func (q *qiCol) normalizeLoss(raw, n float64) float64 {
	lo := n / q.domain
	if n-lo <= 0 {
		return 0
	}
	return math.Max(0, (raw-lo)/(n-lo))
}

// geometricMean is ARX's aggregate for Loss: the geometric mean of (v+1), minus 1.
func geometricMean(vals []float64) float64 {
	r := 1.0
	for _, v := range vals {
		r *= math.Pow(v+1, 1/float64(len(vals)))
	}
	return r - 1
}

func dmStar(g *groups) float64 {
	v := 0.0
	for _, s := range g.size {
		v += float64(s) * float64(s)
	}
	return v
}

// lowerBound returns a lower bound of m for lv (and every generalisation of
// it) computed from the levels alone, when the metric has one.
func (e *engine) lowerBound(m Metric, lv []int) (float64, bool) {
	switch m {
	case MetricEntropy, MetricEntropyNM:
		return e.entropy(lv), true
	case MetricLoss:
		vals := make([]float64, len(e.qis))
		for j, q := range e.qis {
			vals[j] = q.normalizeLoss(q.lossG[lv[j]], float64(e.n))
		}
		return geometricMean(vals), true
	case MetricPrecision:
		v := 0.0
		for j, q := range e.qis {
			if h := float64(q.levels - 1); h > 0 {
				v += float64(lv[j]) / h
			}
		}
		return v / float64(len(e.qis)), true
	}
	return 0, false
}

// groupBound returns a lower bound of m for lv and every generalisation of
// it, from the grouping of lv: suppression ignored.
func (e *engine) groupBound(m Metric, lv []int, g *groups) float64 {
	switch m {
	case MetricDiscernibility, MetricDiscernibilityMonotonic:
		return dmStar(g)
	case MetricAECS:
		return float64(e.n) / float64(len(g.size))
	}
	v, _ := e.lowerBound(m, lv)
	return v
}
