package anon

import (
	"math"
	"testing"
)

// bruteForce checks every node of the lattice and returns the best by the
// same order as the search (metric, then level sum, then id), with its value.
func bruteForce(t testing.TB, e *engine) (best int, val float64) {
	t.Helper()
	dims := make([]int, len(e.qis))
	for j, q := range e.qis {
		dims[j] = q.levels
	}
	lat, _ := newLattice(dims)
	s := &searcher{lat: lat}
	best, val = -1, math.Inf(1)
	var g groups
	for id := 0; id < lat.size; id++ {
		lv := lat.levels(id, nil)
		e.group(lv, &g)
		if !g.anonymous(e.maxOut) {
			continue
		}
		v := e.metricValue(e.cfg.Metric, lv, &g)
		if best < 0 || v < val || (v == val && s.betterTie(id, best)) {
			best, val = id, v
		}
	}
	return best, val
}
